"""interval columns as applications use them: psycopg sends and reads datetime.timedelta in text and binary,
prepared and not, COPY moves intervals both ways, and SQLAlchemy's Interval type round-trips and reflects.
Same assertions on both servers."""

from __future__ import annotations

import datetime

import psycopg
import pytest
import sqlalchemy as sa
from sqlalchemy import orm
from sqlalchemy.dialects import postgresql as pgt

td = datetime.timedelta


@pytest.mark.parametrize("binary", [False, True], ids=["text", "binary"])
def test_timedeltas_as_parameters_and_results(conn, db, binary):
    table = db.create("t", "CREATE TABLE {name} (id integer PRIMARY KEY, d interval)")
    cur = conn.cursor(binary=binary)
    values = [td(days=1, hours=2), td(seconds=-5400), td(microseconds=1), td(days=400, seconds=1.5), None]
    for prepare in (False, True):
        cur.execute(f"DELETE FROM {table}")
        for i, v in enumerate(values):
            cur.execute(f"INSERT INTO {table} VALUES (%s, %s)", (i, v), prepare=prepare)
        cur.execute(f"SELECT d FROM {table} ORDER BY id", prepare=prepare)
        assert cur.description[0].type_code == 1186
        assert [r[0] for r in cur.fetchall()] == values
    cur.execute(f"SELECT id FROM {table} WHERE d > %s ORDER BY id", (td(hours=1),))
    assert cur.fetchall() == [(0,), (3,)]
    with pytest.raises(psycopg.errors.InvalidDatetimeFormat):
        conn.execute(f"INSERT INTO {table} VALUES (9, 'soon')")


def test_copy_text_and_binary(conn, db):
    table = db.create("t", "CREATE TABLE {name} (id integer PRIMARY KEY, d interval)")
    with conn.cursor().copy(f"COPY {table} FROM STDIN") as copy:
        copy.write("1\t1 day 02:00:00\n2\t-00:01:00\n3\t\\N\n")
    with conn.cursor().copy(f"COPY {table} FROM STDIN (FORMAT BINARY)") as copy:
        copy.set_types(["integer", "interval"])
        copy.write_row((4, td(days=2, microseconds=7)))
    assert [r[0] for r in conn.execute(f"SELECT d FROM {table} ORDER BY id").fetchall()] == [
        td(days=1, hours=2), td(minutes=-1), None, td(days=2, microseconds=7)]
    with conn.cursor().copy(f"COPY (SELECT id, d FROM {table} ORDER BY id) TO STDOUT") as copy:
        out = b"".join(bytes(b) for b in copy)
    assert out == b"1\t1 day 02:00:00\n2\t-00:01:00\n3\t\\N\n4\t2 days 00:00:00.000007\n"


def test_sqlalchemy_interval(engine, db):
    metadata = sa.MetaData()
    jobs = sa.Table(
        db.adopt(db.name("jobs")), metadata,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("timeout", sa.Interval, nullable=False),
    )
    metadata.create_all(engine)
    with orm.Session(engine) as session:
        session.execute(jobs.insert(), [{"id": 1, "timeout": td(minutes=5)}, {"id": 2, "timeout": td(hours=2)}])
        session.commit()
        assert session.scalars(sa.select(jobs.c.id).where(jobs.c.timeout > td(minutes=30))).all() == [2]
        assert session.scalars(sa.select(jobs.c.timeout).order_by(jobs.c.id)).all() == [td(minutes=5), td(hours=2)]
    columns = {c["name"]: c["type"] for c in sa.inspect(engine).get_columns(jobs.name)}
    assert isinstance(columns["timeout"], pgt.INTERVAL), columns
