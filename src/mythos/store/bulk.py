"""Many rows in one statement: the write-behind's batches (``Store.save_progress``).

Python's ``sqlite3`` lets go of the GIL around every step of a statement, and an
``executemany`` of 250 rows is 250 steps. While the loop is idle that costs nothing; on a
server whose loop is never idle, the writer thread waits for the GIL again after each step
(up to a switch interval, ``app.tune_threads``), so a batch took 150 ms and a flush of 5,000
characters 3.2 s instead of 0.2 s (``bench/flush.py --busy 0.001``), while the item moves,
which share the writer, queued behind it. On SQLite the rows therefore go as one JSON array
bound to one parameter, which SQLite's ``json_each`` unrolls: one step per statement
(``UPDATE ... FROM`` needs SQLite 3.33; older builds, and PostgreSQL, whose asyncpg sends an
``executemany`` in one round trip, get the ``executemany``).

Values are converted by the columns' own SQLAlchemy types first (a ``UTCDateTime`` is stored as
it would be by any other statement). Rows are tuples in the order of ``columns``.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.engine import Connection

Row = Sequence[Any]

#: ``UPDATE ... FROM`` arrived in SQLite 3.33 (2020); the JSON functions are built in since
#: 3.38 and in Debian's and Python's own builds long before.
ONE_STATEMENT_SINCE = (3, 33, 0)


def one_statement(conn: Connection) -> bool:
    """Whether ``conn`` takes a batch as one statement over a JSON array: SQLite, new enough
    (the version SQLAlchemy read from the library when it connected)."""
    dialect = conn.dialect
    return dialect.name == "sqlite" and (dialect.server_version_info or ()) >= ONE_STATEMENT_SINCE


def insert(conn: Connection, table: sa.Table, columns: Sequence[str], rows: Sequence[Row],
           *, replace_on: Sequence[str] = ()) -> None:
    """Insert ``rows``. With ``replace_on`` (the primary key's columns), a row that is there
    already is replaced (on SQLite ``INSERT OR REPLACE``; elsewhere a delete, then the
    insert)."""
    if not rows:
        return
    if one_statement(conn):
        sql = _insert_sql(table, tuple(columns), bool(replace_on))
        conn.exec_driver_sql(sql, (_json(conn, table, columns, rows),))
        return
    if replace_on:
        at = [columns.index(c) for c in replace_on]
        conn.execute(_delete(table, tuple(replace_on)),
                     [{f"b_{c}": row[i] for c, i in zip(replace_on, at, strict=True)}
                      for row in rows])
    conn.execute(sa.insert(table), [dict(zip(columns, row, strict=True)) for row in rows])


def update(conn: Connection, table: sa.Table, key: str, columns: Sequence[str],
           rows: Sequence[Row], *, keep_when_null: Sequence[str] = ()) -> None:
    """Set ``columns`` of the rows whose ``key`` is each row's first value (``columns[0]`` is
    ``key``); a column of ``keep_when_null`` keeps what it holds when the new value is None.
    Rows whose key is not there are ignored."""
    if not rows:
        return
    cols, keep = tuple(columns), tuple(keep_when_null)
    if cols[0] != key:
        raise ValueError(f"the first column must be the key {key!r}")
    if one_statement(conn):
        conn.exec_driver_sql(_update_sql(table, cols, keep), (_json(conn, table, cols, rows),))
        return
    conn.execute(_update(table, cols, keep),
                 [{f"b_{c}": v for c, v in zip(cols, row, strict=True)} for row in rows])


# -- SQLite: one statement over json_each ----------------------------------------------------

def _json(conn: Connection, table: sa.Table, columns: Sequence[str], rows: Sequence[Row]) -> str:
    procs = _processors(conn.dialect, table, tuple(columns))
    if any(procs):
        rows = [[v if p is None else p(v) for v, p in zip(row, procs, strict=True)]
                for row in rows]
    return orjson.dumps(rows).decode()


@cache
def _processors(dialect: sa.Dialect, table: sa.Table,
                columns: tuple[str, ...]) -> tuple[Any, ...]:
    return tuple(table.c[c].type.bind_processor(dialect) for c in columns)


def _unrolled(columns: tuple[str, ...]) -> str:
    return ", ".join(f"json_extract(value, '$[{i}]') AS c{i}" for i in range(len(columns)))


@cache
def _insert_sql(table: sa.Table, columns: tuple[str, ...], replace: bool) -> str:
    verb = "INSERT OR REPLACE" if replace else "INSERT"
    names = ", ".join(f'"{c}"' for c in columns)
    return f'{verb} INTO "{table.name}" ({names}) SELECT {_unrolled(columns)} FROM json_each(?)'


@cache
def _update_sql(table: sa.Table, columns: tuple[str, ...], keep: tuple[str, ...]) -> str:
    t = table.name
    sets = ", ".join(
        f'"{c}" = coalesce(p.c{i}, "{t}"."{c}")' if c in keep else f'"{c}" = p.c{i}'
        for i, c in enumerate(columns) if i)
    return (f'UPDATE "{t}" SET {sets} FROM (SELECT {_unrolled(columns)} FROM json_each(?)) '
            f'AS p WHERE "{t}"."{columns[0]}" = p.c0')


# -- elsewhere: executemany of statements built once ----------------------------------------

@cache
def _delete(table: sa.Table, keys: tuple[str, ...]) -> sa.Delete:
    return sa.delete(table).where(*(table.c[c] == sa.bindparam(f"b_{c}") for c in keys))


@cache
def _update(table: sa.Table, columns: tuple[str, ...], keep: tuple[str, ...]) -> sa.Update:
    # Bind names differ from column names, which SQLAlchemy keeps for the SET clause.
    values: dict[str, Any] = {}
    for c in columns[1:]:
        new = sa.bindparam(f"b_{c}", type_=table.c[c].type)
        values[c] = sa.func.coalesce(new, table.c[c]) if c in keep else new
    return sa.update(table).where(table.c[columns[0]] == sa.bindparam(f"b_{columns[0]}")) \
        .values(values)
