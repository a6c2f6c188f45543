"""The township side: a password reset forces a new password at next login;
a returned report keeps the office's comments (overall and per field); and a
zip export runs as a job whose progress lives in the database, so any app
process can answer the page that polls it.
"""
from peewee import *


def up(migrator, db):
    migrator.migrate(
        migrator.add_column('user', 'must_change_password', BooleanField(default=False)),
        migrator.add_column('report', 'review_comment', TextField(default='')),
        migrator.add_column('report', 'field_comments', TextField(default='{}')),
    )

    class User(Model):
        class Meta:
            database = db
            table_name = 'user'

    class Round(Model):
        class Meta:
            database = db
            table_name = 'round'

    class ExportJob(Model):
        round = ForeignKeyField(Round, on_delete='CASCADE')
        statuses = CharField(default='')
        state = CharField(default='running')
        done = IntegerField(default=0)
        total = IntegerField(default=0)
        path = CharField(default='')
        filename = CharField(default='')
        error = TextField(default='')
        user = ForeignKeyField(User, null=True, on_delete='SET NULL')
        created_at = DateTimeField()
        updated_at = DateTimeField()
        class Meta:
            database = db
            table_name = 'export_job'
    db.create_tables([ExportJob])


def down(migrator, db):
    migrator.migrate(
        migrator.drop_table('export_job'),
        migrator.drop_column('report', 'field_comments'),
        migrator.drop_column('report', 'review_comment'),
        migrator.drop_column('user', 'must_change_password'),
    )
