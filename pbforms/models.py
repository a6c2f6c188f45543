"""Units, accounts, reporting rounds, reports and their history.

Each model carries the queries the views need (`Report.in_round(r)`,
`Round.open_rounds()`), so a view reads as a sentence and the SQL lives here.
"""
import datetime
import json
import secrets
from functools import cache, cached_property

from peewee import (
    JOIN,
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
from .forms import get_report_type


def now():
    return datetime.datetime.now().replace(microsecond=0)


def report_meta(year, unit):
    """What a definition's title and default text may mention about a report."""
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
        ended = EndedSession.select().where(EndedSession.sid == sid)
        return cls.get_or_none((cls.id == user_id) & (cls.active == True)  # noqa: E712
                               & (cls.session_epoch == epoch) & ~fn.EXISTS(ended))


class Round(BaseModel):
    title = CharField()
    year = IntegerField()
    report_type = CharField()
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
    def start(cls, title, year, report_type, deadline=None):
        """Open a round: every active unit gets a report with the type's default text."""
        with writing():
            new_round = cls.create(title=title, year=year, report_type=report_type.id, deadline=deadline)
            for unit in Unit.active_units():
                Report.create(round=new_round, unit=unit,
                              data=report_type.initial_data(report_meta(year, unit)))
            return new_round

    def include(self, unit, report_type):
        """Give `unit` a report in this round unless it has one: a village
        added or re-activated while the round runs belongs on its board."""
        with writing():
            # One statement, not a check and an insert: on PostgreSQL two
            # requests including the unit at once would both pass a check.
            (Report.insert(round=self, unit=unit, data=report_type.initial_data(report_meta(self.year, unit)))
             .on_conflict_ignore().execute())

    def set_open(self, is_open, user):
        """Close (read-only for fillers) or reopen the round, with an audit event."""
        with writing():
            self.status = "open" if is_open else "closed"
            self.save(only=[Round.status])
            AuditEvent.record("round_reopen" if is_open else "round_close", user, detail=self.title)

    @property
    def is_past_deadline(self):
        return self.deadline is not None and datetime.date.today() > self.deadline

    @property
    def days_left(self):
        """Days to the deadline (0 on the day, negative once past), or None without one."""
        return None if self.deadline is None else (self.deadline - datetime.date.today()).days


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
    def on_board(cls, round_, report_type):
        """The round's reports as the progress board shows them, one query:
        the unit's name, kind and state, the last editor's name, and
        `missing_figures` (required counts left empty) counted by the
        database. Only the columns the board shows are read, into flat
        reports (`.objects()`, no Unit or User objects): at a thousand
        units, reading every report's text, and then building three
        objects a row, each took a good part of the page's time."""
        editor = User.alias()
        missing = sum((Case(None, [(cls.data.value_at(f.key).is_null(), 1)], 0)
                       for f in report_type.counts if f.required), Value(0))
        query = (cls.select(cls.id, cls.unit, cls.version, cls.status, cls.updated_at, missing.alias("missing_figures"),
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
        """The type this report is filled in: every page, export and check asks here."""
        return get_report_type(self.round.report_type)

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
        """The unit's report of the newest earlier year's round of the same
        type, or None. One query, kept on this object, so a page showing
        last year's figure beside every count asks only once."""
        return (Report.select(Report, Round).join(Round)
                .where((Report.unit == self.unit_id)
                       & (Round.report_type == self.round.report_type)
                       & (Round.year < self.round.year))
                .order_by(Round.year.desc(), Round.id.desc())
                .first())

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
        with writing():
            saved_at = now()
            # The UPDATE itself is the version check: on PostgreSQL, of two
            # saves of the same version the second waits for the first's
            # row lock, then finds the version changed and updates nothing.
            # The status is part of the condition too: an autosave that
            # passed the edit check just before a submit committed must not
            # change the report the submit handed in.
            changed = (Report.update(data=data, version=expected_version + 1, updated_at=saved_at,
                                     updated_by=user)
                       .where((Report.id == self.id) & (Report.version == expected_version)
                              & Report.status.in_(Report.EDITABLE)).execute())
            if not changed:
                stored = Report.get_by_id(self.id)
                if stored.status not in Report.EDITABLE:
                    raise NotEditable(stored.version, stored.status)
                raise Conflict(stored.version)
            self.data = data
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
            changed = (Report.update(status=status, submitted_at=submitted_at, opened_at=opened_at,
                                     review_comment=self.review_comment, field_comments=self.field_comments)
                       .where((Report.id == self.id) & (Report.version == self.version)
                              & Report.status.in_(self.STARTS_FROM[status])).execute())
            if not changed:
                stored = Report.get_by_id(self.id)
                raise NotEditable(stored.version, stored.status) if stored.status != self.status \
                    else Conflict(stored.version)
            self.status, self.submitted_at, self.opened_at = status, submitted_at, opened_at
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
        return (cls.select(cls.id, cls.report, cls.version, cls.user, cls.created_at, cls.note)
                .where(cls.report == report).order_by(cls.version.desc()).first())

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
        "import": "导入 JSON",
        "prefill": "沿用上一年度内容",
        "restore_revision": "恢复历史版本",
        "restore_database": "从备份恢复数据库",
        "backup": "下载备份",
        "reopen": "重新打开",
        "round_open": "开启填报轮次",
        "round_close": "结束填报轮次",
        "round_reopen": "重新开启填报轮次",
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
    """A zip of a round's reports being written to a file in instance/exports.

    Its progress lives here, not in the process that writes it, so the page
    polling it may be answered by any app process. A job whose writer died
    stops being updated; `is_stalled` tells the page so.
    """
    STALL_AFTER = datetime.timedelta(minutes=2)

    round = ForeignKeyField(Round, on_delete="CASCADE")
    statuses = CharField(default="")  # comma-separated; empty = every report
    state = CharField(default="running")  # running | done | failed
    done = IntegerField(default=0)
    total = IntegerField(default=0)
    path = CharField(default="")
    filename = CharField(default="")
    error = TextField(default="")
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


MODELS = [Unit, User, Round, Report, Revision, AuditEvent, Notice, NoticeRead, ExportJob, LoginFailure, EndedSession,
          Setting, PendingImport]
