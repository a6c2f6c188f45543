"""The audit log and the notices an office sends to units."""



from peewee import JOIN, CharField, DateTimeField, ForeignKeyField, TextField, fn

from ..db import writing
from .base import BaseModel, now
from .accounts import Unit, User
from .rounds import Round
from .reports import Report


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
    def filtered(cls, unit_id=None, user_id=None, action=None, under=None):
        """Newest first, with user and unit, narrowed by whichever filters are
        given; `under`: only what a unit of its subtree, or an account of
        one, did or had done to it."""
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
        if under is not None:
            accounts = User.select(User.id).join(Unit).where(Unit.path.startswith(under.path))
            query = query.where(Unit.path.startswith(under.path) | cls.user.in_(accounts))
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
    # None: every unit of the round; a unit: it and the units below it.
    unit = ForeignKeyField(Unit, null=True, on_delete="CASCADE")
    kind = CharField()
    text = TextField()
    created_at = DateTimeField(default=now)
    user = ForeignKeyField(User, null=True, on_delete="SET NULL")

    @property
    def kind_label(self):
        return self.KINDS.get(self.kind, self.kind)

    @property
    def sender(self):
        """What the office that sent it is called (a county's notice reaches villages too)."""
        return self.user.unit.office_title if self.user_id and self.user.unit_id else "党建办"

    @classmethod
    def for_user(cls, user):
        """Notices meant for the user's unit (or a unit above it) in open rounds where it has a report."""
        if user.unit_id is None:
            return cls.select().where(False)
        meant = cls.unit.is_null() | cls.unit.in_(user.unit.ancestor_ids + [user.unit_id])
        has_report = Report.select().where((Report.round == cls.round) & (Report.unit == user.unit_id))
        return (cls.select(cls, Round).join(Round)
                .where((Round.status == "open") & meant
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
    def announce(cls, round_, text, user, office):
        """A notice to the units of the round below `office` (all of them for the round's own office)."""
        with writing():
            notice = cls.create(round=round_, kind="notice", text=text, user=user,
                                unit=None if office.id == round_.office_id else office)
            AuditEvent.record("notice", user, detail=f"{round_.title}：{text}")
            return notice


class NoticeRead(BaseModel):
    notice = ForeignKeyField(Notice, on_delete="CASCADE")
    user = ForeignKeyField(User, on_delete="CASCADE")
    read_at = DateTimeField(default=now)

    class Meta:
        indexes = ((("notice", "user"), True),)
