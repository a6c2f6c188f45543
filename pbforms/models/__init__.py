"""Units, accounts, reporting rounds, reports and their history, by area.

Each model carries the queries the views need (`Report.in_round(r)`,
`Round.open_rounds()`), so a view reads as a sentence and the SQL lives here.
The rest of the app imports them from here: `from pbforms.models import Report`.
"""
from .base import BaseModel, JSONField, new_report_data, now, report_meta
from .accounts import SESSION_USER, EndedSession, LoginFailure, Setting, Unit, User, stand_in_hash
from .types import (TypeInUse, TypeMove, TypeVersion, ReportTypeRecord, builtin_type, clear_type_cache,
                    load_builtin_types, type_of_version)
from .rounds import Round, RoundType
from .reports import LAST_YEAR, LATEST_REVISION, Conflict, NotEditable, PendingImport, Report, Revision
from .audit import AuditEvent, Notice, NoticeRead
from .exports import ExportChunk, ExportJob

MODELS = [Unit, User, ReportTypeRecord, TypeVersion, Round, RoundType, Report, Revision, AuditEvent, Notice, NoticeRead,
          ExportJob, ExportChunk, LoginFailure, EndedSession, Setting, PendingImport]

__all__ = ["BaseModel", "JSONField", "new_report_data", "now", "report_meta", "SESSION_USER", "EndedSession", "LoginFailure", "Setting",
           "Unit", "User", "stand_in_hash", "TypeInUse", "TypeMove", "TypeVersion", "ReportTypeRecord", "builtin_type",
           "clear_type_cache", "load_builtin_types", "type_of_version", "Round", "RoundType", "LAST_YEAR",
           "LATEST_REVISION", "Conflict", "NotEditable", "PendingImport", "Report", "Revision", "AuditEvent", "Notice",
           "NoticeRead", "ExportChunk", "ExportJob", "MODELS"]
