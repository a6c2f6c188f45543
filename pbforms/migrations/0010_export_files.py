"""An export job's file is kept in the database, in chunks, instead of in
instance/exports: app processes on several machines then share nothing but
the database, and any of them can hand out a file another one made. A job
records the size of its file; the path of a file on one machine's disk
goes. Files already in instance/exports are not carried over: they were
kept for a day only, and the office can export again.
"""
from peewee import *


def up(migrator, db):
    class ExportJob(Model):
        class Meta:
            database = db
            table_name = 'export_job'

    class ExportChunk(Model):
        job = ForeignKeyField(ExportJob, on_delete='CASCADE', index=False)
        number = IntegerField()
        data = BlobField()
        class Meta:
            database = db
            table_name = 'export_chunk'
            indexes = ((('job', 'number'), True),)

    # Jobs made before have their file on one machine's disk: they are of no use now.
    db.execute_sql("DELETE FROM export_job")
    migrator.migrate(
        migrator.drop_column('export_job', 'path'),
        migrator.add_column('export_job', 'size', BigIntegerField(default=0)),
    )
    db.create_tables([ExportChunk])


def down(migrator, db):
    migrator.migrate(
        migrator.drop_table('export_chunk'),
        migrator.drop_column('export_job', 'size'),
        migrator.add_column('export_job', 'path', CharField(default='')),
    )
