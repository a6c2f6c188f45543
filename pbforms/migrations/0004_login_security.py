"""Login protection whose state every app process must share: failed
logins (to throttle guessing), sessions ended by logging out (so a copy of
the cookie no longer works), a per-user session epoch (a new password ends
every session issued before), and instance settings (whether this database
is the demo township, so the demo passwords work nowhere else).
"""
from peewee import *


def up(migrator, db):
    migrator.migrate(migrator.add_column('user', 'session_epoch', IntegerField(default=0)))

    class LoginFailure(Model):
        key = CharField(index=True)
        at = DateTimeField(index=True)
        class Meta:
            database = db
            table_name = 'login_failure'

    class EndedSession(Model):
        sid = CharField(primary_key=True)
        ended_at = DateTimeField(index=True)
        class Meta:
            database = db
            table_name = 'ended_session'

    class Setting(Model):
        name = CharField(primary_key=True)
        value = TextField(default='')
        class Meta:
            database = db
            table_name = 'setting'
    db.create_tables([LoginFailure, EndedSession, Setting])


def down(migrator, db):
    migrator.migrate(
        migrator.drop_table('setting'),
        migrator.drop_table('ended_session'),
        migrator.drop_table('login_failure'),
        migrator.drop_column('user', 'session_epoch'),
    )
