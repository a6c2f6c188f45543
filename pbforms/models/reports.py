"""Reports, their saved revisions, and Word files waiting to be imported."""

import datetime
import secrets
from functools import cached_property

from peewee import JOIN, Case, CharField, DateTimeField, ForeignKeyField, IntegerField, TextField, Value, fn

from ..db import writing
from ..prepared import Prepared
from ..text import proofread
from .base import BaseModel, JSONField, now, report_meta
from .accounts import Unit, User
from .types import TypeVersion, type_of_version
from .rounds import Round


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
    def in_round(cls, round_, under=None):
        """The round's reports in unit order (those of `under`'s subtree when
        given), with unit and last editor: one query."""
        editor = User.alias()
        query = (cls.select(cls, Round, Unit, editor).join(Round).switch(cls).join(Unit).switch(cls)
                 .join(editor, JOIN.LEFT_OUTER, on=(cls.updated_by == editor.id), attr="updated_by")
                 .where(cls.round == round_).order_by(Unit.position, Unit.id))
        return query.where(Unit.path.startswith(under.path)) if under else query

    @classmethod
    def progress_column(cls):
        """`progress` computed by the database, to count or filter reports by it."""
        return Case(None, [((cls.status == "draft") & (cls.version == 0), "not_started")], cls.status)

    @classmethod
    def showing(cls, round_, progress):
        """The condition on a report of `round_` to have `progress` (a key of
        PROGRESS_LABELS, or "overdue": what `is_overdue` tells of one report)."""
        if progress == "overdue":
            return cls.status.in_(cls.EDITABLE) if round_.is_past_deadline else Value(False)
        return cls.progress_column() == progress

    @classmethod
    def on_board(cls, round_, under, progress=None):
        """The round's reports as the progress board shows them, one query:
        the unit's name, kind and state, the last editor's name, and
        `missing_figures` (required figures left empty, by the report's own
        type version) counted by the database. Only the columns the board
        shows are read, into flat reports (`.objects()`, no Unit or User
        objects): at a thousand units, reading every report's text, and then
        building three objects a row, each took a good part of the page's time.
        Only the reports of `under`'s subtree: an office sees its own part;
        with `progress`, only those `showing` it (the board's filter)."""
        editor = User.alias()

        def missing_of(report_type):
            return sum((Case(None, [(cls.data.value_at(f.key).is_null(), 1)], 0)
                        for f in report_type.counts if f.required), Value(0))

        types = round_.types
        if len(types) == 1:
            missing = missing_of(types[0])
        else:
            missing = Case(cls.type_version, [(t.version_id, missing_of(t)) for t in types], 0)
        shown = (cls.round == round_) & Unit.path.startswith(under.path)
        if progress:
            shown &= cls.showing(round_, progress)
        query = (cls.select(cls.id, cls.unit, cls.version, cls.status, cls.updated_at, cls.findings, cls.type_version,
                            missing.alias("missing_figures"),
                            Unit.name.alias("unit_name"), Unit.kind.alias("unit_kind"),
                            Unit.active.alias("unit_active"),
                            fn.COALESCE(fn.NULLIF(editor.display_name, ""), editor.username).alias("editor_label"))
                 .join(Unit).switch(cls)
                 .join(editor, JOIN.LEFT_OUTER, on=(cls.updated_by == editor.id))
                 .where(shown).order_by(Unit.position, Unit.id).objects())
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
        return self.round.is_past_deadline and self.status in self.EDITABLE

    @property
    def is_editable_status(self):
        return self.status in self.EDITABLE

    @cached_property
    def reviewer(self):
        """What the office that reviews (returns, approves) the report is
        called: that of its unit's parent (a village's township's, a
        township's county's), the root's own for the root (auth.may_review)."""
        return (self.unit.parent if self.unit.parent_id else self.unit).office_title

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
        the same minute in place (`ABSORB_INTO_REVISION`), keeping the newest
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
        # The statements are prepared (pbforms/prepared.py) and the report's
        # JSON written once serialised: a plain autosave runs these two alone.
        text, confirmed_text = Report.data.db_value(data), Report.confirmed_findings.db_value(confirmed)
        user_id = user.id if user else None
        with writing():
            saved_at = now()
            # The UPDATE itself is the version check: on PostgreSQL, of two
            # saves of the same version the second waits for the first's
            # row lock, then finds the version changed and updates nothing.
            # The status is part of the condition too: an autosave that
            # passed the edit check just before a submit committed must not
            # change the report the submit handed in.
            if not SAVE_DATA.changed(text, expected_version + 1, str(saved_at), user_id, findings, confirmed_text,
                                     self.id, expected_version):
                stored = Report.get_by_id(self.id)
                if stored.status not in Report.EDITABLE:
                    raise NotEditable(stored.version, stored.status)
                raise Conflict(stored.version)
            self.data = data
            self.findings, self.confirmed_findings = findings, confirmed
            self.version = expected_version + 1
            self.updated_at = saved_at
            self.updated_by = user
            # A plain save by the same user within the same clock minute
            # updates the newest revision (the version just replaced) in
            # place, unless that one has a note.
            minute = saved_at.replace(second=0)
            absorbed = not (note or own_revision) and user_id is not None and ABSORB_INTO_REVISION.changed(
                self.version, text, str(saved_at), self.id, expected_version, user_id, str(minute),
                str(minute + datetime.timedelta(minutes=1)))
            if not absorbed:
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


# Report.last_year: the unit's report of the newest earlier year, of any
# type, one of the same type (any version) first within that year.
LAST_YEAR = Prepared(lambda unit_id, type_id, year: (
    Report.select(Report, Round).join(Round).switch(Report).join(TypeVersion)
    .where((Report.unit == unit_id) & (Round.year < year))
    .order_by(Round.year.desc(), Case(None, [(TypeVersion.report_type == type_id, 0)], 1), Round.id.desc())
    .limit(1)))


# Report.save_data: the next version, only from the version the page had
# and while the report is editable.
SAVE_DATA = Prepared(lambda data, version, updated_at, updated_by, findings, confirmed_findings, report_id,
                     expected_version: (
    Report.update({Report.data: Value(data, converter=False), Report.version: version,
                   Report.updated_at: updated_at, Report.updated_by: updated_by, Report.findings: findings,
                   Report.confirmed_findings: Value(confirmed_findings, converter=False)})
    .where((Report.id == report_id) & (Report.version == expected_version) & Report.status.in_(Report.EDITABLE))))


# Report.save_data: the revision of the version replaced takes the new
# content, when it is that user's of the same minute without a note.
ABSORB_INTO_REVISION = Prepared(lambda version, data, created_at, report_id, replaced, user_id, minute, next_minute: (
    Revision.update({Revision.version: version, Revision.data: Value(data, converter=False),
                     Revision.created_at: created_at})
    .where((Revision.report == report_id) & (Revision.version == replaced) & (Revision.note == "")
           & (Revision.user == user_id) & (Revision.created_at >= minute) & (Revision.created_at < next_minute))))


# Revision.latest_of, without the data.
LATEST_REVISION = Prepared(lambda report_id: (
    Revision.select(Revision.id, Revision.report, Revision.version, Revision.user, Revision.created_at,
                    Revision.note)
    .where(Revision.report == report_id).order_by(Revision.version.desc()).limit(1)))


# Used only inside methods, and these modules need this one first.
from .audit import AuditEvent  # noqa: E402
