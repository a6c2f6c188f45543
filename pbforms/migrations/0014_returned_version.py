"""A report keeps the version it had when the office last returned (or
reopened) it, so the review of its next submission shows what changed
since the return and whether each comment was acted on. NULL: never
returned since this column came.
"""
from peewee import IntegerField


def up(migrator, db):
    migrator.migrate(migrator.add_column('report', 'returned_version', IntegerField(null=True)))


def down(migrator, db):
    migrator.migrate(migrator.drop_column('report', 'returned_version'))
