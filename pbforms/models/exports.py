"""Export jobs run in the background and their finished files."""

import contextlib
import datetime

from peewee import BigIntegerField, BlobField, CharField, DateTimeField, ForeignKeyField, IntegerField, TextField

from ..db import db, writing
from .base import BaseModel, now
from .accounts import User
from .rounds import Round


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
