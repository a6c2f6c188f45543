"""An uploaded JSON file waits here between its preview and its
confirmation, so the confirming form sends only a token: sent back whole
in the form, a 900 KB file grew to 2.7 MB URL-encoded and was refused as
too large. In the database, not in a folder, so any app process on any
machine can answer the confirmation.
"""
from peewee import *


def up(migrator, db):
    # Stand-ins naming the tables referred to; create_tables makes only pending_import.
    class User(Model):
        class Meta:
            database = db
            table_name = 'user'

    class Report(Model):
        class Meta:
            database = db
            table_name = 'report'

    class PendingImport(Model):
        token = CharField(unique=True)
        report = ForeignKeyField(Report, on_delete='CASCADE')
        user = ForeignKeyField(User, on_delete='CASCADE')
        content = TextField()
        created_at = DateTimeField(index=True)
        class Meta:
            database = db
            table_name = 'pending_import'
    db.create_tables([PendingImport])


def down(migrator, db):
    migrator.migrate(migrator.drop_table('pending_import'))
