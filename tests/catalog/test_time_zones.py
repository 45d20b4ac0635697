"""The session time zone with a real driver (psycopg 3): TimeZone from the startup packet, extended-protocol
parameters and COPY read in the session's zone, results in it over text and binary, and ParameterStatus,
which psycopg follows for its own `conn.info.timezone`. Runs on OmenDB and on PostgreSQL alike."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import psycopg
import pytest
from psycopg import errors

from conftest import conninfo

UTC = dt.timezone.utc
NEW_YORK = ZoneInfo("America/New_York")


def test_session_time_zone(db):
    t = db.create("tz", "CREATE TABLE {name} (id integer PRIMARY KEY, at timestamptz, wall timestamp)")
    with psycopg.connect(conninfo(options="-c TimeZone=America/New_York"), autocommit=True) as conn:
        assert conn.info.timezone == NEW_YORK
        conn.execute(f"INSERT INTO {t} VALUES (1, '2024-07-01 12:00', '2024-07-01 12:00')")
        # A text parameter without an offset is a New York wall time; an aware datetime is an instant.
        conn.execute(f"INSERT INTO {t} (id, at) VALUES (%s, %s)", (2, "2024-01-01 12:00"), prepare=True)
        conn.execute(
            f"INSERT INTO {t} (id, at, wall) VALUES (%s, %s, %s)",
            (3, dt.datetime(2024, 7, 1, 16, 0, tzinfo=UTC), dt.datetime(2024, 7, 1, 12, 0)),
        )
        with conn.cursor().copy(f"COPY {t} FROM STDIN") as copy:
            copy.write("4\t2024-12-25 08:00:00\t2024-12-25 08:00:00\n")
        rows = conn.execute(
            f"SELECT id, at::text AS shown, at AT TIME ZONE 'UTC' AS utc_wall FROM {t} ORDER BY id"
        ).fetchall()
        assert rows == [
            (1, "2024-07-01 12:00:00-04", dt.datetime(2024, 7, 1, 16, 0)),
            (2, "2024-01-01 12:00:00-05", dt.datetime(2024, 1, 1, 17, 0)),
            (3, "2024-07-01 12:00:00-04", dt.datetime(2024, 7, 1, 16, 0)),
            (4, "2024-12-25 08:00:00-05", dt.datetime(2024, 12, 25, 13, 0)),
        ]
        for binary in (False, True):
            got = conn.cursor(binary=binary).execute(f"SELECT at FROM {t} WHERE id = 4").fetchone()[0]
            assert got == dt.datetime(2024, 12, 25, 8, 0, tzinfo=NEW_YORK)
            assert got.utcoffset() == dt.timedelta(hours=-5)
        conn.execute("SET TimeZone = 'Asia/Kolkata'")
        assert conn.info.timezone == ZoneInfo("Asia/Kolkata")
        assert conn.execute(f"SELECT at::text FROM {t} WHERE id = 1").fetchone() == ("2024-07-01 21:30:00+05:30",)
        with pytest.raises(errors.InvalidParameterValue):
            conn.execute("SET TimeZone = 'Mars/Olympus'")


def test_copy_out_prints_in_the_session_zone(db):
    t = db.create("tzc", "CREATE TABLE {name} (id integer PRIMARY KEY, at timestamptz)")
    with psycopg.connect(conninfo(options="-c TimeZone=Asia/Tokyo"), autocommit=True) as conn:
        conn.execute(f"INSERT INTO {t} VALUES (1, '2024-07-01 00:00+00')")
        with conn.cursor().copy(f"COPY {t} TO STDOUT") as copy:
            out = b"".join(bytes(b) for b in copy)
        assert out == b"1\t2024-07-01 09:00:00+09\n"
