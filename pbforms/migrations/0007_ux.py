"""What keeps a clerk's work and attention: a refused value kept as typed
(`report.pending`, outside the document data), the moment the office first
opened a submitted report (a filler may withdraw until then), and the
office's reminders and notices with who has read them.
"""
from peewee import *


def up(migrator, db):
    migrator.migrate(
        migrator.add_column('report', 'pending', TextField(default='{}')),
        migrator.add_column('report', 'opened_at', DateTimeField(null=True)),
    )

    class Round(Model):
        class Meta:
            database = db
            table_name = 'round'

    class Unit(Model):
        class Meta:
            database = db
            table_name = 'unit'

    class User(Model):
        class Meta:
            database = db
            table_name = 'user'

    class Notice(Model):
        round = ForeignKeyField(Round, on_delete='CASCADE')
        unit = ForeignKeyField(Unit, null=True, on_delete='CASCADE')
        kind = CharField()
        text = TextField()
        created_at = DateTimeField()
        user = ForeignKeyField(User, null=True, on_delete='SET NULL')

        class Meta:
            database = db
            table_name = 'notice'

    class NoticeRead(Model):
        notice = ForeignKeyField(Notice, on_delete='CASCADE')
        user = ForeignKeyField(User, on_delete='CASCADE')
        read_at = DateTimeField()

        class Meta:
            database = db
            table_name = 'notice_read'
            indexes = ((('notice', 'user'), True),)

    db.create_tables([Notice, NoticeRead])


def down(migrator, db):
    migrator.migrate(
        migrator.drop_table('notice_read'),
        migrator.drop_table('notice'),
        migrator.drop_column('report', 'opened_at'),
        migrator.drop_column('report', 'pending'),
    )
