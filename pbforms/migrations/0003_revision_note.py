"""Revisions get a note saying why a save is a landmark: a restore, a JSON
import, last year's content, the version that was submitted. Autosaves
never fold into a revision with a note, so such a version always keeps its
own place in the history.
"""
from peewee import CharField


def up(migrator, db):
    migrator.migrate(migrator.add_column('revision', 'note', CharField(default='')))


def down(migrator, db):
    migrator.migrate(migrator.drop_column('revision', 'note'))
