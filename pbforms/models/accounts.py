"""Units, their accounts, and what guards logging in."""

import secrets
from functools import cache

from peewee import (JOIN, BooleanField, CharField, DateTimeField, ForeignKeyField, IntegerField, PostgresqlDatabase,
                    TextField, fn)
from werkzeug.security import check_password_hash, generate_password_hash

from ..db import db, writing
from ..prepared import Prepared
from .base import BaseModel, now


@cache
def stand_in_hash():
    """A hash of no one's password, made like real ones, for `User.authenticate`."""
    return generate_password_hash(secrets.token_hex(16))


class Unit(BaseModel):
    """A unit of the tree 县（区）→ 乡镇（街道）→ 村／社区. Every unit but the
    root has a parent; `path` lists the ids from the root down to the unit
    ("/1/4/9/"), so a subtree is one indexed prefix match on SQLite and
    PostgreSQL alike, however many units a county has."""
    # The kinds that fill reports; a county only collects its townships'.
    KINDS = {"township": "乡镇", "village": "村", "community": "社区"}
    TREE_KINDS = {"county": "县（区）", **KINDS}
    DEFAULT_SECRETARY = {"county": "", "township": "党委书记", "village": "党支部书记", "community": "党支部书记"}

    name = CharField(unique=True)
    kind = CharField(default="village")
    secretary_title = CharField()
    active = BooleanField(default=True)
    position = IntegerField(default=0)
    parent = ForeignKeyField("self", null=True, backref="children", on_delete="RESTRICT")
    path = CharField(default="", index=True)

    @classmethod
    def ordered(cls):
        return cls.select().order_by(cls.position, cls.id)

    @classmethod
    def active_units(cls):
        return cls.ordered().where(cls.active == True)  # noqa: E712 (peewee expression)

    @classmethod
    def root(cls):
        return cls.select().where(cls.parent.is_null()).order_by(cls.id).first()

    @classmethod
    def subtree(cls, unit):
        """`unit` and every unit below it."""
        return cls.ordered().where(cls.path.startswith(unit.path))

    @classmethod
    def add(cls, parent=None, **values):
        """Create a unit below `parent` (None: the root), its path set."""
        with writing():
            unit = cls.create(parent=parent, position=cls.next_position(), **values)
            unit.path = f"{parent.path if parent else '/'}{unit.id}/"
            unit.save(only=[cls.path])
            return unit

    def contains(self, other):
        """Whether `other` (a unit) is this unit or below it."""
        return other is not None and other.path.startswith(self.path)

    @property
    def ancestor_ids(self):
        """The ids of the units above this one, the root first."""
        return [int(part) for part in self.path.strip("/").split("/")[:-1]]

    @property
    def office_title(self):
        """What the unit's office is called (县委组织部, 镇党建办): the name
        its first active admin account goes by, else the unit's own name."""
        admin = (User.select(User.display_name)
                 .where((User.unit == self) & (User.role == "admin") & User.active & (User.display_name != ""))
                 .order_by(User.id).first())
        return admin.display_name if admin else self.name

    @property
    def kind_label(self):
        return self.TREE_KINDS.get(self.kind, self.kind)

    @classmethod
    def next_position(cls):
        """A new unit goes to the end of the list."""
        last = cls.select(cls.position).order_by(cls.position.desc()).first()
        return last.position + 1 if last else 0


class User(BaseModel):
    ROLES = {"admin": "管理员", "filler": "填报员"}

    username = CharField(unique=True)
    display_name = CharField(default="")
    password_hash = CharField()
    role = CharField(default="filler")
    unit = ForeignKeyField(Unit, null=True, backref="users", on_delete="RESTRICT")
    active = BooleanField(default=True)
    created_at = DateTimeField(default=now)
    must_change_password = BooleanField(default=False)
    # Kept in every session cookie; raising it ends every session issued
    # before (logging out, a new password), whichever process issued it.
    session_epoch = IntegerField(default=0)

    # No 0/O or 1/l/I: the office reads the password out over the phone.
    ONE_TIME_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"

    @property
    def is_admin(self):
        return self.role == "admin"

    @property
    def label(self):
        return self.display_name or self.username

    def set_password(self, password):
        self.password_hash = generate_password_hash(password)

    def check_password(self, password):
        return check_password_hash(self.password_hash, password)

    def set_one_time_password(self):
        """A new random password for the office to pass on, shown once; the
        user must choose their own at the next login. Returns it."""
        password = "".join(secrets.choice(self.ONE_TIME_ALPHABET) for _ in range(10))
        self.set_password(password)
        self.must_change_password = True
        return password

    @classmethod
    def accounts(cls):
        """Every account with its unit, admins first, then by unit."""
        return (cls.select(cls, Unit).join(Unit, JOIN.LEFT_OUTER)
                .order_by(cls.role, Unit.position, cls.username))

    @classmethod
    def by_username(cls, username):
        return cls.get_or_none(cls.username == username)

    @classmethod
    def authenticate(cls, username, password):
        """The active account of that name and password, or None. Exactly
        one password hash is checked whatever the outcome (a stand-in hash
        for an unknown name), so a wrong password takes as long for a name
        that exists as for one that does not."""
        user = cls.by_username(username)
        matches = check_password_hash(user.password_hash if user else stand_in_hash(), password)
        return user if matches and user and user.active else None

    @classmethod
    def of_session(cls, user_id, epoch, sid):
        """The session's user if the session still holds: the account is
        active, has had no new password since (`epoch`), and was not logged
        out of (EndedSession). One query: it runs before every request."""
        if not (isinstance(user_id, int) and isinstance(epoch, int) and isinstance(sid, str)):
            return None  # not what a login writes into the session: no user
        return SESSION_USER.first(user_id, epoch, sid)


class LoginFailure(BaseModel):
    """One failed login, under the account's key and under the client
    address's (`account:…`, `address:…`), so every app process throttles alike."""
    key = CharField(index=True)
    at = DateTimeField(index=True, default=now)

    @classmethod
    def record(cls, keys, window):
        """Count a failure under each key, dropping what is older than `window`;
        returns the new rows' ids."""
        with writing():
            cls.delete().where(cls.at < now() - window).execute()
            return [cls.create(key=key, at=now()).id for key in keys]

    @classmethod
    def lock(cls, keys):
        """Within a write transaction, make others counting under `keys` wait
        until it ends. SQLite's IMMEDIATE transaction already admits one
        writer at a time; PostgreSQL reads without locking, so there each
        key takes a transaction-scoped advisory lock (in sorted order, so
        two tries never wait for each other's)."""
        if isinstance(db.obj, PostgresqlDatabase):
            for key in sorted(keys):
                db.execute_sql("SELECT pg_advisory_xact_lock(hashtext(%s))", (key,))

    @classmethod
    def clear_where(cls, condition):
        with writing():
            return cls.delete().where(condition).execute()

    @classmethod
    def recent(cls, key, window):
        """(how many, the newest time) of `key`'s failures within `window`."""
        rows = cls.select(cls.at).where((cls.key == key) & (cls.at >= now() - window)).order_by(cls.at.desc())
        times = [row.at for row in rows]
        return len(times), (times[0] if times else None)

    @classmethod
    def clear(cls, key):
        with writing():
            cls.delete().where(cls.key == key).execute()

    @classmethod
    def keys_since(cls, window):
        """Every key with a failure within `window`, with its count and newest time."""
        return (cls.select(cls.key, fn.COUNT(cls.id).alias("count"), fn.MAX(cls.at).alias("last"))
                .where(cls.at >= now() - window).group_by(cls.key).order_by(fn.MAX(cls.at).desc()))


class EndedSession(BaseModel):
    """A session its user logged out of. The cookie is signed, not stored,
    so a copy of it would work until its idle time ran out; this row makes
    every app process refuse it. Rows older than the idle time are useless
    (Flask refuses such a cookie anyway) and are dropped."""
    sid = CharField(primary_key=True)
    ended_at = DateTimeField(index=True, default=now)

    @classmethod
    def end(cls, sid, idle_time):
        with writing():
            cls.delete().where(cls.ended_at < now() - idle_time).execute()
            cls.insert(sid=sid, ended_at=now()).on_conflict_ignore().execute()


class Setting(BaseModel):
    """Facts about this instance that every app process must agree on."""
    name = CharField(primary_key=True)
    value = TextField(default="")

    @classmethod
    def get_value(cls, name, default=""):
        row = cls.get_or_none(cls.name == name)
        return row.value if row else default

    @classmethod
    def put(cls, name, value):
        with writing():
            cls.insert(name=name, value=value).on_conflict(conflict_target=[cls.name],
                                                           update={cls.value: value}).execute()


# User.of_session: the account is active, has had no new password since the
# session began, and the session was not logged out of.
SESSION_USER = Prepared(lambda user_id, epoch, sid: User.select().where(
    (User.id == user_id) & (User.active == True) & (User.session_epoch == epoch)  # noqa: E712
    & ~fn.EXISTS(EndedSession.select().where(EndedSession.sid == sid))).limit(1))
