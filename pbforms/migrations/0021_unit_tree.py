"""Units form a tree (县 → 乡镇 → 村／社区): each unit gets its parent and the
path of ids from the root down to it; an admin account belongs to a unit
(its office); a round to the office that opened it; a type to the office
that made it (NULL: built in, or the root's).

A database of one township becomes the tree it implies: the township is the
root, every other unit below it, its admins and rounds the township's, so
nothing changes for its users.
"""
from peewee import *


def up(migrator, db):
    class Unit(Model):
        name = CharField()
        kind = CharField()
        position = IntegerField()
        parent = ForeignKeyField('self', null=True, on_delete='RESTRICT')
        path = CharField(default='')

        class Meta:
            database = db
            table_name = 'unit'

    migrator.migrate(
        migrator.add_column('unit', 'parent_id', ForeignKeyField(Unit, null=True, field=Unit.id,
                                                                 on_delete='RESTRICT')),
        migrator.add_column('unit', 'path', CharField(default='')),
        migrator.add_index('unit', ('path',), False),
        migrator.add_column('round', 'office_id', ForeignKeyField(Unit, null=True, field=Unit.id,
                                                                  on_delete='RESTRICT')),
        migrator.add_column('report_type', 'office_id', ForeignKeyField(Unit, null=True, field=Unit.id,
                                                                               on_delete='RESTRICT')),
    )
    root = Unit.select().where(Unit.kind == 'township').order_by(Unit.position, Unit.id).first()
    for unit in Unit.select(Unit.id):
        below = root is not None and unit.id != root.id
        Unit.update(parent=root.id if below else None,
                    path=f"/{root.id}/{unit.id}/" if below else f"/{unit.id}/").where(Unit.id == unit.id).execute()
    if root is not None:
        db.execute_sql('UPDATE "user" SET unit_id = %s WHERE role = %s' % (db.param, db.param), (root.id, 'admin'))
        db.execute_sql('UPDATE round SET office_id = %s' % db.param, (root.id,))


def down(migrator, db):
    db.execute_sql('UPDATE "user" SET unit_id = NULL WHERE role = %s' % db.param, ('admin',))
    migrator.migrate(
        migrator.drop_index('report_type', 'report_type_office_id'),
        migrator.drop_column('report_type', 'office_id'),
        migrator.drop_index('round', 'round_office_id'),
        migrator.drop_column('round', 'office_id'),
        migrator.drop_index('unit', 'unit_path'),
        migrator.drop_column('unit', 'path'),
        migrator.drop_index('unit', 'unit_parent_id'),
        migrator.drop_column('unit', 'parent_id'),
    )
