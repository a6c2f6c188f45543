"""Findings of the proof-reader that the clerk has checked and found right
(核对无误): kept by report, outside the document data, so they stop counting
on the board and in `report check`, and the office sees who marked them.
"""
from peewee import TextField


def up(migrator, db):
    migrator.migrate(migrator.add_column('report', 'confirmed_findings', TextField(default='{}')))


def down(migrator, db):
    migrator.migrate(migrator.drop_column('report', 'confirmed_findings'))
