"""Each report keeps how many findings the proof-reader had on its last
save, so the progress board shows a count per report without reading every
report's text (its one query stays one query). NULL: not checked since
this column came, shown as 未检查 until the report is next saved.
"""
from peewee import IntegerField


def up(migrator, db):
    migrator.migrate(migrator.add_column('report', 'findings', IntegerField(null=True)))


def down(migrator, db):
    migrator.migrate(migrator.drop_column('report', 'findings'))
