"""The dialer's batch rows, and what differs between the two engines, side by side.

A tick writes hundreds of rows at once (attempts closed, contacts settled and
claimed). Each batch is one statement written once with peewee, the same on
SQLite and PostgreSQL: ``WITH v AS MATERIALIZED (<rows>) UPDATE ... FROM v
WHERE ...`` or ``INSERT ... SELECT ... FROM v``. The rows travel as ONE
parameter, a JSON array that the database unpacks: a VALUES list costs peewee
about a microsecond per value to render, more than the database work at a
tick's hundreds of rows (and psycopg2's executemany is a round trip per row).
Materialized, so that SQLite joins from the rows to the target's unique index
(it would otherwise flatten the rows into the join and may scan the target).

Unpacking the JSON is where the engines differ (``json_each`` and
``json_extract`` on SQLite; ``json_array_elements``, ``->>`` and casts to the
column types on PostgreSQL); so does the lock around the global budget.
"""

from __future__ import annotations

import contextlib
import json
from types import SimpleNamespace

from peewee import (
    SQL,
    AutoField,
    Cast,
    DateTimeField,
    Entity,
    Expression,
    ForeignKeyField,
    IntegerField,
    Select,
    fn,
)

from app.db import database, is_postgres

# rows per statement: one JSON parameter each, kept to a modest size
BATCH_ROWS = 1000


def batches(rows, size: int = BATCH_ROWS):
    """``rows`` in slices of at most ``size``."""
    for start in range(0, len(rows), size):
        yield rows[start:start + size]


def rows_doc(fields, rows) -> str:
    """``rows`` as the one JSON parameter of a batch (datetimes through their field)."""
    # a datetime as the text sqlite3 stores for it (isoformat(" ")), which
    # PostgreSQL reads as a timestamp too
    times = [i for i, f in enumerate(fields) if isinstance(f, DateTimeField)]
    if times:
        rows = [list(row) for row in rows]
        for row in rows:
            for i in times:
                if row[i] is not None:
                    row[i] = fields[i].db_value(row[i]).isoformat(" ")
    return json.dumps(rows, separators=(",", ":"))


def rows_source(fields, doc, alias: str = "v"):
    """(the JSON ``doc`` as a materialized CTE ``alias``, its columns by field name).

    The statement names it in ``with_cte`` and ``from_`` (or a SELECT's from list).
    ``fields``: the model fields the rows' values are for, in order; each column is
    named and typed after its field.
    """
    element = Entity("e", "value")
    names = [f.column_name for f in fields]
    if is_postgres():
        source = fn.json_array_elements(Cast(doc, "json"))
        columns = [Cast(Expression(element, "->>", SQL(str(i))), _pg_type(f)).alias(n)
                   for i, (f, n) in enumerate(zip(fields, names))]
    else:
        source = fn.json_each(doc)
        columns = [fn.json_extract(element, f"$[{i}]").alias(n) for i, n in enumerate(names)]
    table = Select([source.alias("e")], columns).cte(alias, materialized=True)
    return table, SimpleNamespace(**{f.name: getattr(table.c, n) for f, n in zip(fields, names)})


def rows_table(fields, rows, alias: str = "v"):
    """(``rows`` as a materialized CTE ``alias``, its columns by field name): a batch's source."""
    return rows_source(fields, rows_doc(fields, rows), alias)


class Statement:
    """A batch statement built with peewee once, rendered once per engine, then only bound.

    ``build(**markers)`` returns the query with a marker wherever a named value
    goes; the rendered SQL and where each marker landed among its parameters are
    kept, so a tick pays for one execute, not for building and rendering the
    query again (peewee spends more CPU on that than SQLite on a tick's rows).
    Values are bound as given: a datetime must come as its field's ``db_value``.
    """

    def __init__(self, build):
        self._build = build
        self._rendered = {}

    def run(self, **values):
        """Execute with ``values`` (one per marker); return the cursor."""
        engine = "postgresql" if is_postgres() else "sqlite"
        rendered = self._rendered.get(engine)
        if rendered is None:
            rendered = self._rendered[engine] = self._render(values)
        sql, slots = rendered
        params = [values[name] if name is not None else constant for name, constant in slots]
        return database.execute_sql(sql, params)

    def _render(self, values):
        markers = {name: f"\x00callcast-marker:{name}\x00" for name in values}
        sql, params = self._build(**markers).sql()
        names = {marker: name for name, marker in markers.items()}
        slots = [(names.get(p) if isinstance(p, str) else None, p) for p in params]
        missing = set(values) - {name for name, _ in slots if name}
        if missing:  # a value went into the SQL text, or was converted: bind it instead
            raise ValueError(f"statement markers not bound as parameters: {sorted(missing)}")
        return sql, slots


def _pg_type(field) -> str:
    if isinstance(field, DateTimeField):
        return "TIMESTAMP"
    if isinstance(field, (IntegerField, AutoField, ForeignKeyField)):
        return "INTEGER"
    return "TEXT"


GLOBAL_LOCK_KEY = 0x43414C4C  # "CALL": the PostgreSQL advisory lock of the global budget


@contextlib.contextmanager
def serialized():
    """A transaction that no other ``serialized()`` transaction runs beside.

    SQLite: a write transaction from the start (BEGIN IMMEDIATE); PostgreSQL:
    a transaction-scoped advisory lock.
    """
    if is_postgres():
        with database.atomic():
            database.execute_sql("SELECT pg_advisory_xact_lock(%s)", (GLOBAL_LOCK_KEY,))
            yield
    else:
        with database.atomic(lock_type="IMMEDIATE"):
            yield
