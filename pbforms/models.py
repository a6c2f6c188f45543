"""Units, accounts, reporting rounds, reports and their history.

Each model carries the queries the views need (`Report.in_round(r)`,
`Round.open_rounds()`), so a view reads as a sentence and the SQL lives here.
"""
import contextlib
import datetime
import json
import secrets
from collections import namedtuple
from functools import cache, cached_property

from peewee import (
    JOIN,
    BigIntegerField,
    BlobField,
    BooleanField,
    Case,
    CharField,
    DateField,
    DateTimeField,
    ForeignKeyField,
    IntegerField,
    Model,
    PostgresqlDatabase,
    TextField,
    Value,
    fn,
)
from werkzeug.security import check_password_hash, generate_password_hash

from .db import db, writing
from .prepared import Prepared
from .forms import BUILTIN, ReportType, builtin_definition
from .text import proofread


def now():
    return datetime.datetime.now().replace(microsecond=0)


def new_report_data(report_type, year, unit):
    """What a unit's new report of `year` starts with: its type's defaults,
    and last year's 整改台账 entries where the type has a place for them."""
    from .ledger.models import new_report_data as with_ledger

    return with_ledger(report_type, year, unit, report_type.initial_data(report_meta(year, unit)))


def report_meta(year, unit):
    """What a definition's 【年度】【单位】【职务】 stand for in a report."""
    return {"year": year, "unit_name": unit.name, "secretary_title": unit.secretary_title}


@cache
def stand_in_hash():
    """A hash of no one's password, made like real ones, for `User.authenticate`."""
    return generate_password_hash(secrets.token_hex(16))


class JSONField(TextField):
    """Stores a JSON document as text, so it works on SQLite and PostgreSQL alike."""

    def db_value(self, value):
        return None if value is None else json.dumps(value, ensure_ascii=False)

    def python_value(self, value):
        return None if value is None else json.loads(value)

    def value_at(self, key):
        """SQL for the value at the document's top-level `key`, NULL when it
        is absent or null: lets a query look at one figure of many reports
        without reading their whole text into Python."""
        if isinstance(db.obj, PostgresqlDatabase):
            return fn.json_extract_path_text(self.cast("json"), key).coerce(False)
        return fn.json_extract(self, f"$.{key}").coerce(False)


class BaseModel(Model):
    class Meta:
        database = db
        legacy_table_names = False


class Unit(BaseModel):
    KINDS = {"township": "乡镇", "village": "村", "community": "社区"}
    DEFAULT_SECRETARY = {"township": "党委书记", "village": "党支部书记", "community": "党支部书记"}

    name = CharField(unique=True)
    kind = CharField(default="village")
    secretary_title = CharField()
    active = BooleanField(default=True)
    position = IntegerField(default=0)

    @classmethod
    def ordered(cls):
        return cls.select().order_by(cls.position, cls.id)

    @classmethod
    def active_units(cls):
        return cls.ordered().where(cls.active == True)  # noqa: E712 (peewee expression)

    @property
    def kind_label(self):
        return self.KINDS.get(self.kind, self.kind)

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


class ReportTypeRecord(BaseModel):
    """A report type the office owns: its versions are TypeVersion rows.

    `builtin` names the definition file (pbforms/forms/<builtin>.json) of a
    type that ships with the app. A type some round uses is never deleted,
    only retired: a retired type is not offered for new rounds.
    """
    name = CharField(unique=True)
    builtin = CharField(null=True, unique=True)
    retired = BooleanField(default=False)
    created_at = DateTimeField(default=now)

    class Meta:
        table_name = "report_type"

    @classmethod
    def ordered(cls):
        return cls.select().order_by(cls.id)

    @classmethod
    def offered(cls):
        """The types a new round may use."""
        return cls.ordered().where(cls.retired == False)  # noqa: E712

    @classmethod
    def by_builtin(cls, stem):
        return cls.get(cls.builtin == stem)

    @classmethod
    def by_name(cls, name):
        return cls.get_or_none(cls.name == name)

    @classmethod
    def add(cls, definition, user=None, builtin=None, name=None):
        """A new type with `definition` as its version 1; returns the record.
        Raises ValueError for a definition no ReportType can be built from."""
        ReportType(definition)
        with writing():
            record = cls.create(name=name or definition["name"], builtin=builtin)
            TypeVersion.create(report_type=record, number=1, definition=definition, created_by=user)
            return record

    def newest_version(self):
        return (TypeVersion.select().where(TypeVersion.report_type == self)
                .order_by(TypeVersion.number.desc()).first())

    def newest(self):
        """The newest version as a ReportType."""
        return type_of_version(self.newest_version().id)

    def save_version(self, definition, user=None, template=None):
        """Store `definition` (and an uploaded Word template) as this type's
        next version, unless it equals the newest: returns (TypeVersion,
        whether it is new). Versions never change once stored, so a round
        keeps the shape its reports were opened with."""
        ReportType(definition)
        with writing():
            newest = self.newest_version()
            if newest.definition == json.loads(json.dumps(definition)) and (template is None
                                                                           or template == newest.template):
                return newest, False
            template = newest.template if template is None else template
            version = TypeVersion.create(report_type=self, number=newest.number + 1, definition=definition,
                                         template=template, created_by=user)
            return version, True

    def keys_ever_used(self):
        """Every field key any version of this type had: a field added later
        never takes one, so old reports' data never lands in a new field."""
        return {f["key"] for v in TypeVersion.select(TypeVersion.definition).where(TypeVersion.report_type == self)
                for s in v.definition.get("sections", []) for f in s.get("fields", [])}

    def rounds_using(self):
        """The rounds one of whose kinds follows a version of this type."""
        used = (RoundType.select(RoundType.round).join(TypeVersion)
                .where(TypeVersion.report_type == self))
        return Round.newest_first().where(Round.id.in_(used))

    def is_used(self):
        versions = TypeVersion.select(TypeVersion.id).where(TypeVersion.report_type == self)
        return (RoundType.select().where(RoundType.type_version.in_(versions)).exists()
                or Report.select().where(Report.type_version.in_(versions)).exists())

    def set_retired(self, retired):
        with writing():
            self.retired = retired
            self.save(only=[ReportTypeRecord.retired])

    def delete_unused(self):
        """Delete a type no round uses; raises TypeInUse otherwise (retire it instead)."""
        with writing():
            if self.is_used():
                raise TypeInUse(self)
            TypeVersion.delete().where(TypeVersion.report_type == self).execute()
            self.delete_instance()


class TypeInUse(Exception):
    """A type some round uses: it may be retired, not deleted."""

    def __init__(self, record):
        super().__init__(f"「{record.name}」已被填报轮次使用，不能删除，只能停用。")


# A round's move from one version of a type to its newest: the unit kinds
# and number of reports it concerns, and the fields added, removed and
# renamed (old field, new field) on the way.
TypeMove = namedtuple("TypeMove", "old new kinds reports added removed changed")


class TypeVersion(BaseModel):
    """One immutable version of a type: its definition, and an optional Word template."""
    report_type = ForeignKeyField(ReportTypeRecord, backref="versions", on_delete="RESTRICT")
    number = IntegerField()
    definition = JSONField()
    template = BlobField(null=True)
    created_at = DateTimeField(default=now)
    created_by = ForeignKeyField(User, null=True, on_delete="SET NULL")

    class Meta:
        table_name = "type_version"
        indexes = ((("report_type", "number"), True),)

    def as_report_type(self):
        return ReportType(self.definition, type_id=self.report_type_id, version_id=self.id, version=self.number)


# Version id -> ReportType. Versions never change, so each is built once per
# process; cleared when the process binds another database (or restores one).
_TYPES = {}


def type_of_version(version_id):
    found = _TYPES.get(version_id)
    if found is None:
        found = _TYPES[version_id] = TypeVersion.get_by_id(version_id).as_report_type()
    return found


def clear_type_cache():
    _TYPES.clear()


def load_builtin_types():
    """Store each built-in definition file whose type the database lacks
    (migration 0006 stores those of its day; a later release may add more).
    A built-in type the database has is left alone: its versions are the
    office's now, so a release that changes a built-in file stores it with
    `save_version` in a migration of its own."""
    have = {r.builtin for r in ReportTypeRecord.select(ReportTypeRecord.builtin)}
    for stem in BUILTIN:
        if stem not in have:
            ReportTypeRecord.add(builtin_definition(stem), builtin=stem)


def builtin_type(stem):
    """The newest stored version of a built-in type (the demo's and tests' way to name one)."""
    return ReportTypeRecord.by_builtin(stem).newest()


class Round(BaseModel):
    title = CharField()
    year = IntegerField()
    deadline = DateField(null=True)
    status = CharField(default="open")  # open | closed
    created_at = DateTimeField(default=now)

    @classmethod
    def newest_first(cls):
        return cls.select().order_by(cls.year.desc(), cls.id.desc())

    @classmethod
    def open_rounds(cls):
        return cls.newest_first().where(cls.status == "open")

    @property
    def is_open(self):
        return self.status == "open"

    @classmethod
    def start(cls, title, year, types, deadline=None):
        """Open a round: every active unit gets a report of its kind's type.

        `types` is {unit kind: ReportType} for every kind in Unit.KINDS, or
        one ReportType for them all. The round keeps these versions: a type
        changed later changes no report of it (see `move_to_newest`).
        """
        if isinstance(types, ReportType):
            types = dict.fromkeys(Unit.KINDS, types)
        if set(types) != set(Unit.KINDS) or any(t.version_id is None for t in types.values()):
            raise ValueError("a round needs a stored type version for every unit kind")
        with writing():
            new_round = cls.create(title=title, year=year, deadline=deadline)
            RoundType.insert_many([{"round": new_round, "kind": kind, "type_version": t.version_id}
                                   for kind, t in types.items()]).execute()
            rows = [{"round": new_round, "unit": unit, "type_version": types[unit.kind].version_id,
                     "data": new_report_data(types[unit.kind], year, unit)}
                    for unit in Unit.active_units()]
            for start in range(0, len(rows), 100):
                Report.insert_many(rows[start:start + 100]).execute()
            return new_round

    @cached_property
    def kind_types(self):
        """{unit kind: ReportType} as the round keeps them: one query, then the cache."""
        rows = RoundType.select(RoundType.kind, RoundType.type_version).where(RoundType.round == self)
        return {row.kind: type_of_version(row.type_version_id) for row in rows}

    def type_for(self, kind):
        return self.kind_types[kind]

    @property
    def type_ids(self):
        """{unit kind: type id}: which types the round gives, whatever their versions."""
        return {kind: t.type_id for kind, t in self.kind_types.items()}

    @classmethod
    def open_alike(cls, year, type_ids, besides=None):
        """An open round of `year` giving the same types to every kind, or
        None: opening or reopening one more would give units two reports."""
        for other in cls.open_rounds().where(cls.year == year):
            if other.id != (besides.id if besides else None) and other.type_ids == type_ids:
                return other
        return None

    @property
    def types(self):
        """The round's types, each once, in the order of unit kinds."""
        found = {}
        for kind in Unit.KINDS:
            t = self.kind_types.get(kind)
            if t is not None:
                found.setdefault(t.version_id, t)
        return list(found.values())

    def kinds_label(self, report_type):
        """The kinds of unit that fill `report_type` in this round: 村、社区."""
        return "、".join(label for kind, label in Unit.KINDS.items()
                        if kind in self.kind_types and self.kind_types[kind].version_id == report_type.version_id)

    def include(self, unit):
        """Give `unit` a report in this round unless it has one: a village
        added or re-activated while the round runs belongs on its board."""
        report_type = self.type_for(unit.kind)
        with writing():
            # One statement, not a check and an insert: on PostgreSQL two
            # requests including the unit at once would both pass a check.
            (Report.insert(round=self, unit=unit, type_version=report_type.version_id,
                           data=new_report_data(report_type, self.year, unit))
             .on_conflict_ignore().execute())

    def pending_moves(self):
        """What moving this round to its types' newest versions would do:
        one TypeMove per version the round uses that has a newer one."""
        moves = []
        for old in self.types:
            newest = ReportTypeRecord.get_by_id(old.type_id).newest()
            if newest.version_id == old.version_id:
                continue
            kinds = [kind for kind, t in self.kind_types.items() if t.version_id == old.version_id]
            reports = Report.select().where((Report.round == self) & (Report.type_version == old.version_id)).count()
            moves.append(TypeMove(old, newest, kinds, reports,
                                  [f for f in newest.fields if f.key not in old.by_key],
                                  [f for f in old.fields if f.key not in newest.by_key],
                                  [(old.by_key[f.key], f) for f in newest.fields
                                   if f.key in old.by_key and (old.by_key[f.key].label, old.by_key[f.key].kind)
                                   != (f.label, f.kind)]))
        return moves

    def move_to_newest(self, user):
        """Move every kind of this round to its type's newest version.

        Each report keeps its data under the keys the new version still has;
        new fields get their initial value. A report someone has saved gets
        a revision with a note, so what a dropped field held stays in the
        one before it. Returns the moves made."""
        moves = self.pending_moves()
        with writing():
            for move in moves:
                RoundType.update(type_version=move.new.version_id).where(
                    (RoundType.round == self) & (RoundType.kind.in_(move.kinds))).execute()
                note = f"报告类型改用「{move.new.name}」第 {move.new.version} 版"
                if move.removed:
                    note += "，不再填写：" + "、".join(f.label for f in move.removed)
                for report in (Report.select(Report, Unit).join(Unit)
                               .where((Report.round == self) & (Report.type_version == move.old.version_id))):
                    report.round = self
                    report.move_to(move.new, user, note[:250])
            AuditEvent.record("round_types", user, detail=f"{self.title}：" + "；".join(
                f"{m.old.name} 第 {m.old.version} 版 → 第 {m.new.version} 版" for m in moves))
        self.__dict__.pop("kind_types", None)
        return moves

    def set_open(self, is_open, user):
        """Close (read-only for fillers) or reopen the round, with an audit event."""
        with writing():
            self.status = "open" if is_open else "closed"
            self.save(only=[Round.status])
            AuditEvent.record("round_reopen" if is_open else "round_close", user, detail=self.title)

    def set_deadline(self, deadline, user):
        """Set or move the deadline, with an audit event."""
        with writing():
            self.deadline = deadline
            self.save(only=[Round.deadline])
            AuditEvent.record("round_deadline", user, detail=f"{self.title}：{deadline.isoformat()}")

    @property
    def is_past_deadline(self):
        return self.deadline is not None and datetime.date.today() > self.deadline

    @property
    def days_left(self):
        """Days to the deadline (0 on the day, negative once past), or None without one."""
        return None if self.deadline is None else (self.deadline - datetime.date.today()).days


class RoundType(BaseModel):
    """The type version a round gives one kind of unit (township, village, community)."""
    round = ForeignKeyField(Round, backref="round_types", on_delete="CASCADE")
    kind = CharField()
    type_version = ForeignKeyField(TypeVersion, on_delete="RESTRICT")

    class Meta:
        table_name = "round_type"
        indexes = ((("round", "kind"), True),)


class Report(BaseModel):
    STATUS_LABELS = {
        "draft": "草稿",
        "submitted": "已提交",
        "returned": "已退回",
        "approved": "已通过",
    }

    # The statuses in which the unit may still change the report.
    EDITABLE = ("draft", "returned")

    round = ForeignKeyField(Round, backref="reports", on_delete="CASCADE")
    unit = ForeignKeyField(Unit, backref="reports", on_delete="RESTRICT")
    # The type version this report follows (its round's for its unit's kind).
    # Nullable only because a column added by migration needs it; always set.
    type_version = ForeignKeyField(TypeVersion, null=True, on_delete="RESTRICT")
    data = JSONField()
    version = IntegerField(default=0)
    status = CharField(default="draft")
    updated_at = DateTimeField(null=True)
    updated_by = ForeignKeyField(User, null=True, on_delete="SET NULL")
    submitted_at = DateTimeField(null=True)
    # The township office's comments of the last return: overall, and by field key.
    review_comment = TextField(default="")
    field_comments = JSONField(default=dict)
    # Values the server refused (or that clashed with another's change),
    # kept as typed so nothing typed disappears: {key: {"value", "message"}}.
    # Not part of the document: no export, sum or history reads it.
    pending = JSONField(default=dict)
    # When someone of the office first opened the submitted report: until
    # then the filler may withdraw it.
    opened_at = DateTimeField(null=True)
    # The proof-reader's findings on the last save (None: not checked yet),
    # for the board; the findings themselves are worked out from the text.
    # Those the clerk marked 核对无误 are not counted: {mark: {"by", "at"}}.
    findings = IntegerField(null=True)
    confirmed_findings = JSONField(default=dict)
    # The version the report had when the office last returned (or
    # reopened) it: the next review shows what changed since.
    returned_version = IntegerField(null=True)

    # The board's statuses, in the order its totals line names them.
    PROGRESS_LABELS = {"approved": "已通过", "submitted": "已提交", "returned": "已退回",
                       "draft": "草稿", "not_started": "未开始"}

    class Meta:
        indexes = ((("round", "unit"), True),)

    @classmethod
    def with_round_and_unit(cls):
        return cls.select(cls, Round, Unit).join(Round).switch(cls).join(Unit)

    @classmethod
    def in_round(cls, round_):
        """The round's reports in unit order, with unit and last editor: one query."""
        editor = User.alias()
        return (cls.select(cls, Round, Unit, editor).join(Round).switch(cls).join(Unit).switch(cls)
                .join(editor, JOIN.LEFT_OUTER, on=(cls.updated_by == editor.id), attr="updated_by")
                .where(cls.round == round_).order_by(Unit.position, Unit.id))

    @classmethod
    def on_board(cls, round_):
        """The round's reports as the progress board shows them, one query:
        the unit's name, kind and state, the last editor's name, and
        `missing_figures` (required figures left empty, by the report's own
        type version) counted by the database. Only the columns the board
        shows are read, into flat reports (`.objects()`, no Unit or User
        objects): at a thousand units, reading every report's text, and then
        building three objects a row, each took a good part of the page's time."""
        editor = User.alias()

        def missing_of(report_type):
            return sum((Case(None, [(cls.data.value_at(f.key).is_null(), 1)], 0)
                        for f in report_type.counts if f.required), Value(0))

        types = round_.types
        if len(types) == 1:
            missing = missing_of(types[0])
        else:
            missing = Case(cls.type_version, [(t.version_id, missing_of(t)) for t in types], 0)
        query = (cls.select(cls.id, cls.unit, cls.version, cls.status, cls.updated_at, cls.findings, cls.type_version,
                            missing.alias("missing_figures"),
                            Unit.name.alias("unit_name"), Unit.kind.alias("unit_kind"),
                            Unit.active.alias("unit_active"),
                            fn.COALESCE(fn.NULLIF(editor.display_name, ""), editor.username).alias("editor_label"))
                 .join(Unit).switch(cls)
                 .join(editor, JOIN.LEFT_OUTER, on=(cls.updated_by == editor.id))
                 .where(cls.round == round_).order_by(Unit.position, Unit.id)
                 .objects())
        for report in query:
            report.round = round_
            yield report

    @property
    def meta(self):
        return report_meta(self.round.year, self.unit)

    @property
    def report_type(self):
        """The type version this report is filled in: every page, export and
        check asks here. Built once per version and process (versions never change)."""
        return type_of_version(self.type_version_id)

    @property
    def progress(self):
        """The status as the board counts it: a draft nobody saved is 未开始."""
        return "not_started" if self.status == "draft" and self.version == 0 else self.status

    @property
    def status_label(self):
        return self.PROGRESS_LABELS[self.progress]

    @property
    def is_overdue(self):
        """Past the round's deadline and not yet handed in."""
        return self.round.is_past_deadline and self.status in ("draft", "returned")

    @property
    def is_editable_status(self):
        return self.status in self.EDITABLE

    @cached_property
    def last_year(self):
        """The unit's report of the newest earlier year's round, or None:
        of this report's type (any version of it) where that year has one,
        else of whatever type the unit filled. One query, kept on this
        object, so a page showing last year's figure beside every count asks only once."""
        return LAST_YEAR.first(self.unit_id, self.report_type.type_id, self.round.year)

    @cached_property
    def last_year_data(self):
        """Last year's values by this report's field keys (fields matched by
        项目名称 where the types' keys differ), or None without a last year."""
        last = self.last_year
        return None if last is None else self.report_type.values_from(last.report_type, last.data)

    def move_to(self, new_type, user, note):
        """Follow `new_type` (a newer version of this report's type), keeping
        the data of every key it still has. Part of Round.move_to_newest."""
        with writing():
            for _ in range(5):
                data = new_type.carried_into(self.data, self.meta)
                if self.version == 0:  # nobody has saved it: no revision, still 未开始
                    changed = (Report.update(data=data, type_version=new_type.version_id)
                               .where((Report.id == self.id) & (Report.version == 0)).execute())
                else:
                    changed = (Report.update(data=data, type_version=new_type.version_id, version=self.version + 1)
                               .where((Report.id == self.id) & (Report.version == self.version)).execute())
                    if changed:
                        Revision.create(report=self, version=self.version + 1, data=data, user=user, note=note)
                if changed:
                    self.data, self.type_version_id = data, new_type.version_id
                    self.version += 1 if self.version else 0
                    return
                fresh = Report.get_by_id(self.id)
                self.data, self.version = fresh.data, fresh.version
            raise Conflict(self.version)

    def save_data(self, data, user, expected_version, note="", own_revision=False):
        """Store `data` as the next version, or raise Conflict.

        The version check is the UPDATE's own condition, so two tabs saving
        at once can never both win. The revision is written in the same
        transaction: autosaves come every few seconds
        while someone types, so a plain save updates that user's revision of
        the same minute in place (`Revision.absorbs`), keeping the newest
        content. A save with a `note` (a restore, an import) always gets a
        revision of its own, and so does one with `own_revision` (adding,
        moving or removing an item: each such step can be restored).
        """
        # A version no page can have had (none sent, not a number, beyond
        # the column) is outdated as well, not an error for the database.
        if expected_version is None or not 0 <= expected_version < 2**31 - 1:
            raise Conflict(self.version)
        # Worked out before the write lock is taken: it reads last year's report.
        findings, confirmed = self.count_findings(data)
        with writing():
            saved_at = now()
            # The UPDATE itself is the version check: on PostgreSQL, of two
            # saves of the same version the second waits for the first's
            # row lock, then finds the version changed and updates nothing.
            # The status is part of the condition too: an autosave that
            # passed the edit check just before a submit committed must not
            # change the report the submit handed in.
            changed = (Report.update(data=data, version=expected_version + 1, updated_at=saved_at,
                                     updated_by=user, findings=findings, confirmed_findings=confirmed)
                       .where((Report.id == self.id) & (Report.version == expected_version)
                              & Report.status.in_(Report.EDITABLE)).execute())
            if not changed:
                stored = Report.get_by_id(self.id)
                if stored.status not in Report.EDITABLE:
                    raise NotEditable(stored.version, stored.status)
                raise Conflict(stored.version)
            self.data = data
            self.findings, self.confirmed_findings = findings, confirmed
            self.version = expected_version + 1
            self.updated_at = saved_at
            self.updated_by = user
            latest = Revision.latest_of(self)
            if not (note or own_revision) and latest is not None and latest.absorbs(user, self.updated_at):
                (Revision.update(version=self.version, data=data, created_at=self.updated_at)
                 .where(Revision.id == latest.id).execute())
            else:
                Revision.create(report=self, version=self.version, data=data, user=user,
                                created_at=self.updated_at, note=note)

    def keep_pending(self, pending):
        """Store the refused values as typed; written alone, without a new
        version: they are not part of the document."""
        if pending != (self.pending or {}):
            with writing():
                Report.update(pending=pending).where(Report.id == self.id).execute()
            self.pending = pending

    def findings_in(self, data):
        """The proof-reader's findings on `data` of this report, by field key
        (pbforms/text/proofread.py), those marked 核对无误 marked so."""
        return proofread.check(self.report_type, data, self.last_year_data, year=self.round.year,
                               confirmed=self.confirmed_findings)

    def count_findings(self, data):
        """How many findings on `data` the clerk has not marked 核对无误, and
        the marks of those still found: a mark goes with its finding, so a
        finding that comes back after the text changed is checked again."""
        found = self.findings_in(data)
        # The page answering this save shows the same findings: kept for it.
        self.checked = (data, found)
        every = proofread.all_findings(found, self.report_type)
        return len(proofread.unconfirmed(found)), {x.mark: x.confirmed for x in every if x.confirmed}

    def confirm_finding(self, mark, user, confirmed=True):
        """Mark the finding `mark` (one of the current data's) as checked
        and right, or take the mark back; the board's count follows. Marks
        of findings the text no longer has are dropped. Not a new version:
        the document does not change."""
        found = self.findings_in(self.data)
        every = proofread.all_findings(found, self.report_type)
        current = {x.mark for x in every if x.rule.confirmable}
        marks = {x.mark: x.confirmed for x in every if x.confirmed and x.mark != mark}
        if confirmed and mark in current:
            marks[mark] = {"by": user.label if user else "", "at": now().isoformat(sep=" ")}
        for x in every:
            x.confirmed = marks.get(x.mark)
        count = len(proofread.unconfirmed(found))
        with writing():
            Report.update(confirmed_findings=marks, findings=count).where(Report.id == self.id).execute()
        self.confirmed_findings, self.findings = marks, count
        self.checked = (self.data, found)  # what the page answering this shows
        return mark in marks

    # Which status each change starts from: the UPDATE's own condition, so
    # of a submit and an approval, or two clicks of the same button, racing
    # each other, only the first changes the report.
    STARTS_FROM = {"submitted": EDITABLE, "approved": ("submitted",), "returned": ("submitted", "approved")}

    def change_status(self, status, user, action, detail=""):
        """Move to `status` with an audit event, or raise Conflict when the
        report is no longer what this object says (status or version): a
        submit is checked for missing figures on the version it read, so an
        autosave of another tab landing in between must not be handed in
        unseen. Only the status columns are written: a whole-row save would
        put this object's copy of the data back over an autosave."""
        with writing():
            submitted_at = now() if status == "submitted" else self.submitted_at
            # A new submission is unopened: the filler may withdraw it until the office opens it.
            opened_at = None if status == "submitted" else self.opened_at
            # A return remembers the version it returned: the next review compares with it.
            returned_version = self.version if status == "returned" else self.returned_version
            changed = (Report.update(status=status, submitted_at=submitted_at, opened_at=opened_at,
                                     review_comment=self.review_comment, field_comments=self.field_comments,
                                     returned_version=returned_version)
                       .where((Report.id == self.id) & (Report.version == self.version)
                              & Report.status.in_(self.STARTS_FROM[status])).execute())
            if not changed:
                stored = Report.get_by_id(self.id)
                raise NotEditable(stored.version, stored.status) if stored.status != self.status \
                    else Conflict(stored.version)
            self.status, self.submitted_at, self.opened_at = status, submitted_at, opened_at
            self.returned_version = returned_version
            Revision.keep_latest(self, f"{AuditEvent.ACTION_LABELS.get(action, self.status_label)}时的版本")
            AuditEvent.record(action, user, report=self, detail=detail)

    def mark_opened(self):
        """The office opened the submitted report: from now on it cannot be withdrawn.
        One statement, first opening only, so two admins opening it agree."""
        if self.status == "submitted" and self.opened_at is None:
            with writing():
                Report.update(opened_at=now()).where((Report.id == self.id) & (Report.status == "submitted")
                                                     & Report.opened_at.is_null()).execute()
            self.opened_at = Report.get_by_id(self.id).opened_at

    def withdraw(self, user):
        """Back to draft, only while the office has not opened it (checked in the UPDATE)."""
        with writing():
            taken = (Report.update(status="draft")
                     .where((Report.id == self.id) & (Report.status == "submitted") & Report.opened_at.is_null())
                     .execute())
            if not taken:
                return False
            self.status = "draft"
            AuditEvent.record("withdraw", user, report=self)
            return True

    def approve(self, user, comment="", field_comments=None, detail=""):
        """Approve; comments the office typed stay as a note the filler sees."""
        self.review_comment, self.field_comments = comment, field_comments or {}
        self.change_status("approved", user, "approve", detail)

    def send_back(self, user, comment, field_comments, action="return", detail=""):
        """Return the report for correction (or reopen an approved one) with
        the office's comments, which the filler sees beside the fields."""
        self.review_comment, self.field_comments = comment, field_comments
        self.change_status("returned", user, action, detail)


class Conflict(Exception):
    """A save based on an outdated version; `current` is the stored version."""

    def __init__(self, current):
        super().__init__(current)
        self.current = current


class NotEditable(Conflict):
    """The report's status changed meanwhile (submitted, returned, approved
    by another request); `status` is the stored one."""

    def __init__(self, current, status):
        super().__init__(current)
        self.status = status


class Revision(BaseModel):
    report = ForeignKeyField(Report, backref="revisions", on_delete="CASCADE")
    version = IntegerField()
    data = JSONField()
    user = ForeignKeyField(User, null=True, on_delete="SET NULL")
    created_at = DateTimeField(default=now)
    note = CharField(default="")  # why this version matters: 恢复自第 3 版, 提交时的版本 …

    @classmethod
    def latest_of(cls, report):
        """The newest revision without its data (its callers look at who
        saved it, when, and its note; the data is the report's own)."""
        return LATEST_REVISION.first(report.id)

    @classmethod
    def history_of(cls, report):
        """Newest first, with who saved each."""
        return (cls.select(cls, User).join(User, JOIN.LEFT_OUTER)
                .where(cls.report == report).order_by(cls.version.desc()))

    @classmethod
    def of(cls, report, version):
        """The report's revision holding `version`, or None."""
        return cls.get_or_none((cls.report == report) & (cls.version == version))

    def previous(self):
        """The revision before this one, or None for the report's first."""
        return (Revision.select().where((Revision.report == self.report_id) & (Revision.version < self.version))
                .order_by(Revision.version.desc()).first())

    @classmethod
    def keep_latest(cls, report, note):
        """Give the newest revision a note unless it has one, so later
        autosaves add a revision instead of overwriting this one."""
        latest = cls.latest_of(report)
        if latest is not None and not latest.note:
            cls.update(note=note).where(cls.id == latest.id).execute()

    def absorbs(self, user, at):
        """Whether a plain save by `user` at `at` updates this revision in
        place: same user, same clock minute, and no note."""
        return (not self.note and self.user_id == (user.id if user else None)
                and self.created_at.replace(second=0) == at.replace(second=0))


class AuditEvent(BaseModel):
    ACTION_LABELS = {
        "login": "登录",
        "submit": "提交",
        "return": "退回",
        "approve": "审核通过",
        "withdraw": "撤回提交",
        "remind": "催报",
        "notice": "发布通知",
        "export": "导出",
        "import": "导入数据文件",
        "import_docx": "从 Word 导入",
        "prefill": "沿用上一年度内容",
        "restore_revision": "恢复历史版本",
        "restore_database": "从备份恢复数据库",
        "backup": "下载备份",
        "reopen": "重新打开",
        "round_open": "开启填报轮次",
        "round_close": "结束填报轮次",
        "round_reopen": "重新开启填报轮次",
        "round_types": "更新轮次的报告类型版本",
        "round_deadline": "设置截止日期",
        "unit_add": "新增单位",
        "unit_change": "修改单位",
        "unit_deactivate": "停用单位",
        "unit_activate": "启用单位",
        "user_create": "新建账号",
        "password_reset": "重置密码",
        "password_change": "修改密码",
        "user_deactivate": "停用账号",
        "user_activate": "启用账号",
        "throttle_clear": "解除登录限制",
        "type_add": "新建报告类型",
        "type_version": "保存报告类型新版本",
        "type_retire": "停用报告类型",
        "type_unretire": "启用报告类型",
        "rating_open": "开启述职评议",
        "rating_change": "修改述职评议设置",
        "rating_slips": "生成评议选票",
        "rating_tally": "录入评议计票",
        "rating_close": "结束述职评议",
        "rating_remarks": "填写评议点评",
        "rating_publish": "公布评议结果",
    }
    # Status changes of a report: the history shown on the report itself.
    TRANSITIONS = ("submit", "withdraw", "return", "reopen", "approve")

    at = DateTimeField(default=now)
    user = ForeignKeyField(User, null=True, on_delete="SET NULL")
    action = CharField()
    report = ForeignKeyField(Report, null=True, on_delete="SET NULL")
    unit = ForeignKeyField(Unit, null=True, on_delete="SET NULL")
    detail = TextField(default="")

    @classmethod
    def record(cls, action, user, report=None, unit=None, detail=""):
        with writing():
            return cls.create(action=action, user=user, report=report,
                              unit=unit or (report.unit if report else None), detail=detail)

    @property
    def action_label(self):
        return self.ACTION_LABELS.get(self.action, self.action)

    @classmethod
    def filtered(cls, unit_id=None, user_id=None, action=None):
        """Newest first, with user and unit, narrowed by whichever filters are given."""
        query = (cls.select(cls, User, Unit)
                 .join(User, JOIN.LEFT_OUTER, on=(cls.user == User.id)).switch(cls)
                 .join(Unit, JOIN.LEFT_OUTER, on=(cls.unit == Unit.id))
                 .order_by(cls.at.desc(), cls.id.desc()))
        if unit_id is not None:
            query = query.where(cls.unit == unit_id)
        if user_id is not None:
            query = query.where(cls.user == user_id)
        if action:
            query = query.where(cls.action == action)
        return query

    @classmethod
    def actions(cls):
        """Every action recorded so far, for the filter."""
        return sorted(e.action for e in cls.select(cls.action).distinct())

    @classmethod
    def transitions_of(cls, report):
        """The report's status changes, oldest first, with who made them."""
        return (cls.select(cls, User).join(User, JOIN.LEFT_OUTER)
                .where((cls.report == report) & (cls.action.in_(cls.TRANSITIONS)))
                .order_by(cls.at, cls.id))


class Notice(BaseModel):
    """A reminder (催报, to one unit) or a notice (通知, to every unit of a
    round) from the office, shown on the filler's home until they read it."""
    KINDS = {"remind": "催报", "notice": "通知"}
    TEXT_MAX = 500

    round = ForeignKeyField(Round, backref="notices", on_delete="CASCADE")
    unit = ForeignKeyField(Unit, null=True, on_delete="CASCADE")  # None: every unit of the round
    kind = CharField()
    text = TextField()
    created_at = DateTimeField(default=now)
    user = ForeignKeyField(User, null=True, on_delete="SET NULL")

    @property
    def kind_label(self):
        return self.KINDS.get(self.kind, self.kind)

    @classmethod
    def for_user(cls, user):
        """Notices meant for the user's unit in open rounds where it has a report."""
        if user.unit_id is None:
            return cls.select().where(False)
        has_report = Report.select().where((Report.round == cls.round) & (Report.unit == user.unit_id))
        return (cls.select(cls, Round).join(Round)
                .where((Round.status == "open") & (cls.unit.is_null() | (cls.unit == user.unit_id))
                       & fn.EXISTS(has_report))
                .order_by(cls.created_at.desc(), cls.id.desc()))

    @classmethod
    def unread_for(cls, user):
        read = NoticeRead.select().where((NoticeRead.notice == cls.id) & (NoticeRead.user == user.id))
        return cls.for_user(user).where(~fn.EXISTS(read))

    def mark_read(self, user):
        with writing():
            NoticeRead.insert(notice=self, user=user, read_at=now()).on_conflict_ignore().execute()

    @classmethod
    def remind(cls, round_, units, text, user):
        """One reminder per unit, and one audit event naming them."""
        with writing():
            cls.insert_many([{"round": round_.id, "unit": u.id, "kind": "remind", "text": text, "user": user.id,
                              "created_at": now()} for u in units]).execute()
            AuditEvent.record("remind", user, detail=f"{round_.title}：{'、'.join(u.name for u in units)}：{text}")

    @classmethod
    def announce(cls, round_, text, user):
        with writing():
            notice = cls.create(round=round_, kind="notice", text=text, user=user)
            AuditEvent.record("notice", user, detail=f"{round_.title}：{text}")
            return notice


class NoticeRead(BaseModel):
    notice = ForeignKeyField(Notice, on_delete="CASCADE")
    user = ForeignKeyField(User, on_delete="CASCADE")
    read_at = DateTimeField(default=now)

    class Meta:
        indexes = ((("notice", "user"), True),)


class ExportJob(BaseModel):
    """A file made from a round's reports in the background (a zip of its
    Word documents, a 汇编, or any other kind), for the office to download.

    Its progress and, once done, the file itself (in `ExportChunk` rows)
    live here, not in the process that made it, so the page polling it and
    the download may be answered by any app process on any machine. A job
    whose writer died stops being updated; `is_stalled` tells the page so.
    """
    STALL_AFTER = datetime.timedelta(minutes=2)

    round = ForeignKeyField(Round, on_delete="CASCADE")
    statuses = CharField(default="")  # comma-separated; empty = every report
    state = CharField(default="running")  # running | done | failed
    done = IntegerField(default=0)
    total = IntegerField(default=0)
    filename = CharField(default="")
    size = BigIntegerField(default=0)  # bytes of the finished file
    error = TextField(default="")
    note = TextField(default="")  # what the office must know about a finished file (a 目录 left to Word)
    user = ForeignKeyField(User, null=True, on_delete="SET NULL")
    created_at = DateTimeField(default=now)
    updated_at = DateTimeField(default=now)

    @property
    def status_list(self):
        return [s for s in self.statuses.split(",") if s]

    @property
    def is_stalled(self):
        return self.state == "running" and now() - self.updated_at > self.STALL_AFTER

    def advance(self, **columns):
        """Record progress (done=…, state=…) for whoever polls."""
        columns["updated_at"] = now()
        with writing():
            ExportJob.update(**columns).where(ExportJob.id == self.id).execute()
        for name, value in columns.items():
            setattr(self, name, value)

    def store_file(self, path):
        """Copy the finished file at `path` into the database, a chunk per
        transaction (SQLite's other writers wait for one chunk at most, and
        only a chunk is in memory); returns its size in bytes."""
        size = 0
        with open(path, "rb") as f:
            for number, data in enumerate(iter(lambda: f.read(ExportChunk.SIZE), b"")):
                with writing():
                    ExportChunk.create(job=self.id, number=number, data=data)
                size += len(data)
        return size

    def has_file(self):
        return self.state == "done" and ExportChunk.select().where(ExportChunk.job == self.id).exists()

    def file_chunks(self):
        """The stored file's bytes, a chunk at a time, each read by a query
        (and a pooled connection) of its own: a download streams while the
        request that started it has already given its connection back."""
        for number in range(-(-self.size // ExportChunk.SIZE)):
            with db.connection_context() if db.is_closed() else contextlib.nullcontext():
                data = ExportChunk.select(ExportChunk.data).where(
                    (ExportChunk.job == self.id) & (ExportChunk.number == number)).scalar()
            if data is None:  # removed as too old while being downloaded
                return
            yield bytes(data)

    @classmethod
    def remove_older_than(cls, age):
        """Jobs started more than `age` ago, with their files."""
        old = cls.select(cls.id).where(cls.created_at < now() - age)
        with writing():
            ExportChunk.delete().where(ExportChunk.job.in_(old)).execute()
            cls.delete().where(cls.id.in_(old)).execute()


class ExportChunk(BaseModel):
    """A piece of an export job's file, so that a file of any size is
    written and read a piece at a time."""
    SIZE = 1024 * 1024

    job = ForeignKeyField(ExportJob, on_delete="CASCADE", index=False)  # the unique index below serves
    number = IntegerField()  # 0, 1, 2, … in the file's order
    data = BlobField()

    class Meta:
        indexes = ((("job", "number"), True),)


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


class PendingImport(BaseModel):
    """An uploaded JSON file between its preview and its confirmation,
    found again by a random token only its uploader may use for that
    report. Kept a day at most; the confirmation removes it."""
    KEEP = datetime.timedelta(days=1)

    token = CharField(unique=True)
    report = ForeignKeyField(Report, on_delete="CASCADE")
    user = ForeignKeyField(User, on_delete="CASCADE")
    content = TextField()
    created_at = DateTimeField(index=True, default=now)

    @classmethod
    def keep(cls, report, user, content):
        """Store `content` for the confirmation; returns its token."""
        token = secrets.token_urlsafe(24)
        with writing():
            cls.delete().where(cls.created_at < now() - cls.KEEP).execute()
            cls.create(token=token, report=report, user=user, content=content)
        return token

    @classmethod
    def find(cls, token, report, user):
        """The stored upload, or None when the token is unknown, old, or another's."""
        return cls.get_or_none((cls.token == (token or "")[:100]) & (cls.report == report) & (cls.user == user)
                               & (cls.created_at >= now() - cls.KEEP))

    def drop(self):
        with writing():
            PendingImport.delete().where(PendingImport.id == self.id).execute()


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


# The selects of nearly every request, their SQL built once (pbforms/prepared.py).

# User.of_session: the account is active, has had no new password since the
# session began, and the session was not logged out of.
SESSION_USER = Prepared(lambda user_id, epoch, sid: User.select().where(
    (User.id == user_id) & (User.active == True) & (User.session_epoch == epoch)  # noqa: E712
    & ~fn.EXISTS(EndedSession.select().where(EndedSession.sid == sid))).limit(1))

# Report.last_year: the unit's report of the newest earlier year, of any
# type, one of the same type (any version) first within that year.
LAST_YEAR = Prepared(lambda unit_id, type_id, year: (
    Report.select(Report, Round).join(Round).switch(Report).join(TypeVersion)
    .where((Report.unit == unit_id) & (Round.year < year))
    .order_by(Round.year.desc(), Case(None, [(TypeVersion.report_type == type_id, 0)], 1), Round.id.desc())
    .limit(1)))

# Revision.latest_of, without the data.
LATEST_REVISION = Prepared(lambda report_id: (
    Revision.select(Revision.id, Revision.report, Revision.version, Revision.user, Revision.created_at,
                    Revision.note)
    .where(Revision.report == report_id).order_by(Revision.version.desc()).limit(1)))

MODELS = [Unit, User, ReportTypeRecord, TypeVersion, Round, RoundType, Report, Revision, AuditEvent, Notice, NoticeRead,
          ExportJob, ExportChunk, LoginFailure, EndedSession, Setting, PendingImport]
