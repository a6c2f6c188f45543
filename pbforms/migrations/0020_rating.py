"""述职评议: the rating of a round's secretaries at the 述职评议会, its
rater groups, rated units, one-time codes (hashes only) and ballots kept
as counts. See pbforms/rating/models.py for why the tables look as they do.
"""
from peewee import *


def up(migrator, db):
    # Stand-ins naming the tables referred to; create_tables makes only the rating's.
    class Round(Model):
        class Meta:
            database = db
            table_name = 'round'

    class Unit(Model):
        class Meta:
            database = db
            table_name = 'unit'

    class Report(Model):
        class Meta:
            database = db
            table_name = 'report'

    class Rating(Model):
        round = ForeignKeyField(Round, on_delete='CASCADE')
        office = ForeignKeyField(Unit, null=True, on_delete='SET NULL')
        title = CharField()
        rules = TextField()
        status = CharField(default='open')
        created_at = DateTimeField()
        class Meta:
            database = db
            table_name = 'rating'

    class RatingGroup(Model):
        rating = ForeignKeyField(Rating, on_delete='CASCADE')
        name = CharField()
        ballots = IntegerField()
        weight = IntegerField()
        position = IntegerField(default=0)
        class Meta:
            database = db
            table_name = 'rating_group'

    class RatedUnit(Model):
        rating = ForeignKeyField(Rating, on_delete='CASCADE')
        unit = ForeignKeyField(Unit, on_delete='CASCADE')
        report = ForeignKeyField(Report, null=True, on_delete='SET NULL')
        position = IntegerField(default=0)
        remark = TextField(default='')
        class Meta:
            database = db
            table_name = 'rated_unit'
            indexes = ((('rating', 'unit'), True),)

    class BallotCode(Model):
        digest = CharField(primary_key=True)
        rating = ForeignKeyField(Rating, on_delete='CASCADE')
        group = ForeignKeyField(RatingGroup, on_delete='CASCADE')
        used = BooleanField(default=False)
        class Meta:
            database = db
            table_name = 'ballot_code'

    class BallotCount(Model):
        group = ForeignKeyField(RatingGroup, on_delete='CASCADE', index=False)
        rated = ForeignKeyField(RatedUnit, on_delete='CASCADE')
        grade = IntegerField()
        cast = IntegerField(default=0)
        paper = IntegerField(default=0)
        class Meta:
            database = db
            table_name = 'ballot_count'
            indexes = ((('group', 'rated', 'grade'), True),)

    class Opinion(Model):
        key = CharField(primary_key=True)
        rated = ForeignKeyField(RatedUnit, on_delete='CASCADE')
        text = TextField()
        class Meta:
            database = db
            table_name = 'opinion'
            # No insertion order in the file (SQLite keeps a rowid otherwise).
            without_rowid = isinstance(db, SqliteDatabase)

    db.create_tables([Rating, RatingGroup, RatedUnit, BallotCode, BallotCount, Opinion])


def down(migrator, db):
    for table in ('opinion', 'ballot_count', 'ballot_code', 'rated_unit', 'rating_group', 'rating'):
        migrator.migrate(migrator.drop_table(table))
