"""An export job may end with something the office must know about its
file: a 汇编 made without LibreOffice has a 目录 whose page numbers Word
fills in when the file is opened. The note says so beside the download.
"""
from peewee import TextField


def up(migrator, db):
    migrator.migrate(migrator.add_column('export_job', 'note', TextField(default='')))


def down(migrator, db):
    migrator.migrate(migrator.drop_column('export_job', 'note'))
