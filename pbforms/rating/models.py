"""The tables of a 述职评议 (democratic rating): the rating and its settings,
its rater groups, the rated units, the one-time codes, and the ballots.

Anonymity is in the tables' shape, not in a setting. A ballot is never a
row: it adds one to a count per (group, unit, grade), rows made all at once
when the rating opens, so no row's id or place tells when it was added. A
code is kept only as a hash with used or not, and no time. An 意见 is a row
keyed by a random token, ordered by that token when read; on SQLite its
table has no rowid, so the file keeps 意见 in the token's (random) order,
not the order they came in (PostgreSQL's heap keeps rows where they were
written: only its system columns, which no query here reads, could tell).
Nothing here names a code next to a grade, and peewee's statement log is
off while a code is handled (`unlogged`).
"""
import functools
import hashlib
import logging
import secrets
import threading

from peewee import JOIN, BooleanField, CharField, DateTimeField, ForeignKeyField, IntegerField, PostgresqlDatabase, \
    TextField, Tuple, fn

from ..db import db, writing
from ..models import BaseModel, JSONField, Report, Round, Unit, now
from . import logic


class QuietSql(logging.Filter):
    """Drops what peewee logs (each statement with its values, at DEBUG)
    while this thread works with codes: that log would show a code's hash
    next to the grades of its ballot."""

    state = threading.local()

    def filter(self, record):
        return not getattr(self.state, "quiet", False)


logging.getLogger("peewee").addFilter(QuietSql())


def unlogged(work):
    """`work` with peewee's statement log off on this thread."""
    @functools.wraps(work)
    def quietly(*args, **kwargs):
        QuietSql.state.quiet = True
        try:
            return work(*args, **kwargs)
        finally:
            QuietSql.state.quiet = False
    return quietly


class Rating(BaseModel):
    STATUSES = {"open": "进行中", "closed": "已结束", "published": "已公布"}

    round = ForeignKeyField(Round, on_delete="CASCADE")
    office = ForeignKeyField(Unit, null=True, on_delete="SET NULL")  # the office holding the meeting
    title = CharField()
    rules = JSONField()  # logic.DEFAULT_RULES' shape: grades, levels, poor share, quorum
    status = CharField(default="open")
    created_at = DateTimeField(default=now)

    @property
    def status_label(self):
        return self.STATUSES[self.status]

    @property
    def is_open(self):
        return self.status == "open"

    @property
    def grades(self):
        return [g["name"] for g in self.rules["grades"]]

    def groups(self):
        return list(RatingGroup.select().where(RatingGroup.rating == self).order_by(RatingGroup.position))

    def rated_units(self, with_reports=False):
        """The rated units in order; `with_reports` reads their reports in
        the same query (for the secretaries' names)."""
        query = RatedUnit.select(RatedUnit, Unit).join(Unit)
        if with_reports:
            query = (RatedUnit.select(RatedUnit, Unit, Report).join(Unit).switch(RatedUnit)
                     .join(Report, JOIN.LEFT_OUTER))
        return list(query.where(RatedUnit.rating == self).order_by(RatedUnit.position))

    def has_ballots(self):
        """Whether any ballot is in (online or on paper): the settings are locked from then on."""
        used = BallotCode.select().where((BallotCode.rating == self) & BallotCode.used).exists()
        return used or BallotCount.select().join(RatingGroup).where(
            (RatingGroup.rating == self) & (BallotCount.paper > 0)).exists()

    @classmethod
    def start(cls, round_, office, title, groups, units, rules):
        """Open a rating: `groups` is [(name, ballots, weight)], `units` the Units rated, in order.
        Every count row is made now, all zero, so a ballot only ever updates rows."""
        with writing():
            rating = cls.create(round=round_, office=office, title=title, rules=rules)
            rating._add_groups_and_units(groups, units)
            return rating

    def _add_groups_and_units(self, groups, units):
        made = [RatingGroup.create(rating=self, name=name, ballots=ballots, weight=weight, position=i)
                for i, (name, ballots, weight) in enumerate(groups)]
        rated = []
        for i, unit in enumerate(units):
            report = Report.get_or_none((Report.round == self.round_id) & (Report.unit == unit))
            rated.append(RatedUnit.create(rating=self, unit=unit, report=report, position=i))
        rows = [{"group": g, "rated": r, "grade": grade} for g in made for r in rated
                for grade in range(len(self.rules["grades"]))]
        for start in range(0, len(rows), 200):
            BallotCount.insert_many(rows[start:start + 200]).execute()

    def change(self, title, groups, units, rules):
        """New settings, while no ballot is in; the codes issued go with the old groups."""
        with writing():
            if self.has_ballots():
                return False
            BallotCode.delete().where(BallotCode.rating == self).execute()
            RatingGroup.delete().where(RatingGroup.rating == self).execute()
            RatedUnit.delete().where(RatedUnit.rating == self).execute()
            self.title, self.rules = title, rules
            self.save(only=[Rating.title, Rating.rules])
            self._add_groups_and_units(groups, units)
            return True

    @unlogged
    def issue_codes(self):
        """New codes for every ballot of every group, replacing those issued
        before (refused once a ballot is in: those slips are in use).
        Returns [(group, code)] in slip order, or None when refused."""
        with writing():
            if self.has_ballots():
                return None
            BallotCode.delete().where(BallotCode.rating == self).execute()
            issued = [(group, logic.new_code()) for group in self.groups() for _ in range(group.ballots)]
            rows = [{"digest": code_digest(code), "rating": self, "group": group} for group, code in issued]
            for start in range(0, len(rows), 200):
                BallotCode.insert_many(rows[start:start + 200]).execute()
            return issued

    def turnout(self):
        """{group id: (ballots returned, ballots issued as codes)}: codes used
        plus the largest paper count of any unit (each paper ballot rates
        every unit)."""
        used = dict(BallotCode.select(BallotCode.group, fn.COUNT(BallotCode.digest))
                    .where((BallotCode.rating == self) & BallotCode.used).group_by(BallotCode.group).tuples())
        issued = dict(BallotCode.select(BallotCode.group, fn.COUNT(BallotCode.digest))
                      .where(BallotCode.rating == self).group_by(BallotCode.group).tuples())
        paper = {}
        per_unit = (BallotCount.select(BallotCount.group, BallotCount.rated, fn.SUM(BallotCount.paper))
                    .join(RatingGroup).where(RatingGroup.rating == self)
                    .group_by(BallotCount.group, BallotCount.rated).tuples())
        for group_id, _, total in per_unit:
            paper[group_id] = max(paper.get(group_id, 0), total or 0)
        return {g.id: (used.get(g.id, 0) + paper.get(g.id, 0), issued.get(g.id, 0)) for g in self.groups()}

    def counts(self):
        """{(group id, rated unit id, grade index): ballots}, online and paper together."""
        rows = (BallotCount.select(BallotCount.group, BallotCount.rated, BallotCount.grade,
                                   BallotCount.cast + BallotCount.paper)
                .join(RatingGroup).where(RatingGroup.rating == self).tuples())
        return {(g, r, grade): n for g, r, grade, n in rows}

    def result(self):
        """The tally by the rating's rules (logic.tally)."""
        groups = [logic.Group(g.id, g.name, g.ballots, g.weight, returned)
                  for g, (returned, _) in zip(self.groups(), self.turnout().values())]
        units = [(r.id, r.unit.name) for r in self.rated_units()]
        return logic.tally(groups, units, self.counts(), self.rules)

    def set_status(self, status):
        with writing():
            Rating.update(status=status).where(Rating.id == self.id).execute()
        self.status = status

    def opinions_about(self, rated):
        return [o.text for o in Opinion.select(Opinion.text).where(Opinion.rated == rated).order_by(Opinion.key)]


class RatingGroup(BaseModel):
    """Raters of one kind (党员代表): how many ballots, what weight (percent)."""
    rating = ForeignKeyField(Rating, on_delete="CASCADE")
    name = CharField()
    ballots = IntegerField()
    weight = IntegerField()
    position = IntegerField(default=0)


class RatedUnit(BaseModel):
    """A unit whose secretary the meeting rates, with the office's 点评."""
    rating = ForeignKeyField(Rating, on_delete="CASCADE")
    unit = ForeignKeyField(Unit, on_delete="CASCADE")
    report = ForeignKeyField(Report, null=True, on_delete="SET NULL")
    position = IntegerField(default=0)
    remark = TextField(default="")

    class Meta:
        indexes = ((("rating", "unit"), True),)

    @property
    def secretary(self):
        return logic.secretary_name(self.report) if self.report_id else ""


class BallotCode(BaseModel):
    """A one-time code, as its hash: used or not, and no time."""
    digest = CharField(primary_key=True)
    rating = ForeignKeyField(Rating, on_delete="CASCADE")
    group = ForeignKeyField(RatingGroup, on_delete="CASCADE")
    used = BooleanField(default=False)


class BallotCount(BaseModel):
    """Ballots giving `grade` to `rated` from `group`: cast online, and entered from paper."""
    group = ForeignKeyField(RatingGroup, on_delete="CASCADE", index=False)  # the unique index serves
    rated = ForeignKeyField(RatedUnit, on_delete="CASCADE")
    grade = IntegerField()  # index into the rating's grades
    cast = IntegerField(default=0)
    paper = IntegerField(default=0)

    class Meta:
        indexes = ((("group", "rated", "grade"), True),)


class Opinion(BaseModel):
    """An 意见 about a rated unit: a random key, the text, nothing else."""
    key = CharField(primary_key=True)
    rated = ForeignKeyField(RatedUnit, on_delete="CASCADE")
    text = TextField()


def code_digest(code):
    return hashlib.sha256(f"pbforms-ballot:{code}".encode()).hexdigest()


@unlogged
def find_code(code):
    """(the code's row, its rating) when `code` was issued, else (None, None)."""
    row = BallotCode.get_or_none(BallotCode.digest == code_digest(code))
    return (row, Rating.get_by_id(row.rating_id)) if row else (None, None)


@unlogged
def cast_ballot(code, grades, opinions):
    """Spend `code` on one ballot: `grades` {rated id: grade index} for
    every rated unit, `opinions` {rated id: text}. One transaction marks the
    code used (only if it was not: of simultaneous posts of one code, one
    wins) and adds the ballot to the counts. Returns "ok", "used", "closed" or "unknown"."""
    digest = code_digest(code)
    with writing():
        row = BallotCode.get_or_none(BallotCode.digest == digest)
        if row is None:
            return "unknown"
        if isinstance(db.obj, PostgresqlDatabase):
            # Closing waits for ballots being cast, and a ballot cast after it sees it closed.
            db.execute_sql("SELECT 1 FROM rating WHERE id = %s FOR SHARE", (row.rating_id,))
        if Rating.select(Rating.status).where(Rating.id == row.rating_id).scalar() != "open":
            return "closed"
        taken = BallotCode.update(used=True).where((BallotCode.digest == digest) & ~BallotCode.used).execute()
        if not taken:
            return "used"
        # One statement for the whole ballot: (unit, grade) pairs, a row each.
        BallotCount.update(cast=BallotCount.cast + 1).where(
            (BallotCount.group == row.group_id)
            & Tuple(BallotCount.rated, BallotCount.grade).in_([Tuple(*pair) for pair in grades.items()])).execute()
        texts = [{"key": secrets.token_hex(16), "rated": rated_id, "text": text}
                 for rated_id, text in opinions.items() if text]
        if texts:
            Opinion.insert_many(texts).execute()
        return "ok"


def close_rating(rating):
    """Close the rating: on PostgreSQL this waits for ballots being cast (FOR SHARE above)."""
    with writing():
        Rating.update(status="closed").where((Rating.id == rating.id) & (Rating.status == "open")).execute()
    rating.status = Rating.get_by_id(rating.id).status


def enter_paper(rating, group, rated, counts):
    """The paper ballots of `group` for `rated`: {grade index: n}, replacing
    what was entered before. Returns an error message, or None when saved."""
    with writing():
        if Rating.get_by_id(rating.id).status != "open":
            return "评议已结束，不能再录入计票。"
        used = BallotCode.select().where((BallotCode.group == group) & BallotCode.used).count()
        if used + sum(counts.values()) > group.ballots:
            return (f"{group.name}共发出 {group.ballots} 张选票，已在手机上投 {used} 张，"
                    f"本次录入 {sum(counts.values())} 张，超过了发出的票数。")
        for grade, n in counts.items():
            BallotCount.update(paper=n).where((BallotCount.group == group) & (BallotCount.rated == rated)
                                              & (BallotCount.grade == grade)).execute()
    return None


MODELS = [Rating, RatingGroup, RatedUnit, BallotCode, BallotCount, Opinion]
