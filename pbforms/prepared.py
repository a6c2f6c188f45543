"""Selects asked on nearly every request, their SQL built once.

Peewee builds a query's SQL anew each time it runs, walking the tree of
its columns, joins and conditions. For the selects of every autosave (the
session's user, the report with its round and unit, last year's report)
that walk took ten times longer than SQLite took to answer: about 0.25 ms
each, a fifth of a save (5.2 -> 4.1 ms in process; bench/RESULTS.md). A `Prepared`
select is built once per kind of database with stand-ins for its values;
each run puts the values in their places and reads the rows as the query
itself would (model objects, joined ones included). How the rows' columns
map onto models is worked out on the first run too: peewee does that anew
for every query, half of reading the report of an autosave.

Values are whole numbers and strings only: those reach the database as
they are, where other types would need the column's own conversion. The
UPDATEs of every autosave are prepared the same way (`changed`); there
None is taken too, as NULL for a column set (compared, it would match nothing).
"""
import threading

from .db import db


class _StandIn(str):
    """A value peewee passes through unconverted (a string, and no number),
    to be found again among the built query's parameters."""


class Prepared:
    """`Prepared(lambda a, b: Model.select()…where(… a … b …))`; called
    with the values of a and b, the query's rows. Thread-safe: the query
    object is only read once built (a new cursor wrapper every run)."""

    def __init__(self, build):
        self.build = build
        self.names = build.__code__.co_varnames[:build.__code__.co_argcount]
        self.built = {}  # kind of database -> (query, sql, [position of a value, or the fixed parameter])
        self.columns = {}  # kind of database -> what reading the rows needs of the columns (the cursor wrapper's)
        self.lock = threading.Lock()

    def _built(self):
        kind = type(db.obj)
        with self.lock:
            if kind not in self.built:
                stand_ins = [_StandIn(f"\0{name}\0") for name in self.names]
                query = self.build(*stand_ins)
                sql, params = query.sql()
                slots = [next((("value", i) for i, s in enumerate(stand_ins) if p is s), ("fixed", p))
                         for p in params]
                if sorted(i for what, i in slots if what == "value") != list(range(len(stand_ins))):
                    raise ValueError(f"each of {self.names} must stand once in the query, compared with a column")
                self.built[kind] = (query, sql, slots)
            return self.built[kind]

    def _run(self, values, null=False):
        """The built query and its cursor, run with `values`."""
        for value in values:
            if not (isinstance(value, (int, str)) and not isinstance(value, bool) or null and value is None):
                raise TypeError(f"Prepared takes whole numbers and strings, not {value!r}")
        query, sql, slots = self._built()
        params = [values[x] if what == "value" else x for what, x in slots]
        return query, db.execute_sql(sql, params)

    def __call__(self, *values):
        """The rows, as a list."""
        query, cursor = self._run(values)
        rows = query._get_cursor_wrapper(cursor)
        known = self.columns.get(type(db.obj))
        if known is None:
            fresh = set(vars(rows))
            rows.initialize()
            self.columns[type(db.obj)] = {k: v for k, v in vars(rows).items() if k not in fresh}
        else:
            vars(rows).update(known)
        rows.initialized = True
        return list(rows)

    def changed(self, *values):
        """For an UPDATE: how many rows it changed."""
        return self._run(values, null=True)[1].rowcount

    def first(self, *values):
        """The first row, or None."""
        rows = self(*values)
        return rows[0] if rows else None
