"""COPY FROM STDIN in binary format, as psycopg sends it (`write_row` with `set_types`): every column type,
NULLs, many rows across CopyData messages; read back and compared. Same assertions on both servers."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import psycopg
import pytest

UTC = dt.timezone.utc

COLUMNS = [
    ("id", "integer"),
    ("s", "smallint"),
    ("b", "bigint"),
    ("r", "real"),
    ("d", "double precision"),
    ("f", "boolean"),
    ("t", "text"),
    ("raw", "bytea"),
    ("day", "date"),
    ("at", "timestamp"),
    ("atz", "timestamptz"),
    ("n", "numeric(12,3)"),
]


def rows(count: int):
    for i in range(count):
        yield (
            i,
            -i % 30000,
            i * 10_000_000_000,
            i / 4,
            i / 3,
            i % 2 == 0,
            f"row {i} ünïcode",
            bytes([i % 256, 0, 255]),
            dt.date(2000, 1, 1) + dt.timedelta(days=i - 500),
            dt.datetime(1999, 12, 31, 23, 59, 59, 123456) + dt.timedelta(minutes=i),
            dt.datetime(2024, 7, 1, 12, 0, tzinfo=UTC) + dt.timedelta(seconds=i),
            Decimal(f"{i}.{i % 1000:03d}") * (-1 if i % 3 else 1),
        )


def test_binary_copy_in_round_trips_every_type(db, conn):
    ddl = ", ".join(f"{n} {t}" + (" PRIMARY KEY" if n == "id" else "") for n, t in COLUMNS)
    table = db.create("bin", f"CREATE TABLE {{name}} ({ddl})")
    expected = list(rows(2000))
    expected.append((5000,) + (None,) * (len(COLUMNS) - 1))
    with conn.cursor() as cur:
        with cur.copy(f"COPY {table} FROM STDIN (FORMAT BINARY)") as copy:
            copy.set_types([t.split("(")[0] for _, t in COLUMNS])
            for r in expected:
                copy.write_row(r)
        assert cur.rowcount == len(expected)
    got = conn.execute(f"SELECT * FROM {table} ORDER BY id").fetchall()
    assert len(got) == len(expected)
    for g, e in zip(got, expected):
        assert g[0] == e[0]
        if e[1] is None:
            assert all(v is None for v in g[1:])
            continue
        assert g[1:5] == (e[1], e[2], pytest.approx(e[3]), pytest.approx(e[4]))
        assert g[5:10] == e[5:10]
        assert g[10] == e[10] and g[11] == e[11]


def test_binary_copy_refuses_what_postgresql_refuses(db, conn):
    table = db.create("binbad", "CREATE TABLE {name} (id integer PRIMARY KEY, t text)")
    with pytest.raises(psycopg.errors.BadCopyFileFormat):
        with conn.cursor().copy(f"COPY {table} FROM STDIN (FORMAT BINARY)") as copy:
            copy.write(b"not a binary copy header at all")
    # A listed subset of the columns, in another order.
    with conn.cursor().copy(f"COPY {table} (t, id) FROM STDIN (FORMAT BINARY)") as copy:
        copy.set_types(["text", "integer"])
        copy.write_row(("one", 1))
    assert conn.execute(f"SELECT id, t FROM {table}").fetchall() == [(1, "one")]
