"""Data-modifying statements in WITH through a driver: parameters in the sub-statements and the main one,
prepared and not, RETURNING values of uuid and array type typed as such, and one transaction for the whole
statement. Same assertions on both servers."""

from __future__ import annotations

import uuid

import psycopg
import pytest


@pytest.mark.parametrize("prepare", [False, True], ids=["unprepared", "prepared"])
def test_parameters_and_types_through_with(conn, db, prepare):
    t = db.create("t", "CREATE TABLE {name} (id uuid PRIMARY KEY DEFAULT gen_random_uuid(), n integer, tags text[])")
    log = db.create("log", "CREATE TABLE {name} (id uuid PRIMARY KEY, note text)")
    rows = conn.execute(
        f"WITH x AS (INSERT INTO {t} (n, tags) VALUES (%s, %s), (%s, %s) RETURNING id, n, tags) "
        f"SELECT id, n + 1, tags FROM x ORDER BY n",
        (1, ["a"], 2, ["b", "c"]),
        prepare=prepare,
    ).fetchall()
    assert [(r[1], r[2]) for r in rows] == [(2, ["a"]), (3, ["b", "c"])]
    assert all(isinstance(r[0], uuid.UUID) for r in rows)
    moved = conn.execute(
        f"WITH d AS (DELETE FROM {t} WHERE n = %s RETURNING id, tags) "
        f"INSERT INTO {log} SELECT id, array_to_string(tags, %s) FROM d RETURNING note",
        (2, "+"),
        prepare=prepare,
    ).fetchall()
    assert moved == [("b+c",)]
    with pytest.raises(psycopg.errors.UniqueViolation):
        conn.execute(
            f"WITH d AS (DELETE FROM {t} RETURNING id) INSERT INTO {log} SELECT %s::uuid, 'x' FROM d "
            f"UNION ALL SELECT %s::uuid, 'y'",
            (rows[1][0], rows[1][0]),
            prepare=prepare,
        )
    # The failed statement deleted nothing.
    assert conn.execute(f"SELECT count(*) FROM {t}").fetchone() == (1,)
