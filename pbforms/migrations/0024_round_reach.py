"""A round reaches either every unit below the office that opened it
("all", as every round did before) or only the units directly below it
("children": a county's round for its township secretaries alone, each
township then opening its own round for its villages).
"""
from peewee import CharField


def up(migrator, db):
    migrator.migrate(migrator.add_column('round', 'reach', CharField(default='all')))


def down(migrator, db):
    migrator.migrate(migrator.drop_column('round', 'reach'))
