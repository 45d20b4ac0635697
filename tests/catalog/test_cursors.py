"""SQL cursors: psycopg's named (server-side) cursors, which SQLAlchemy's stream_results uses, and DECLARE /
FETCH / MOVE / CLOSE as psql users write them, with PostgreSQL's errors."""

from __future__ import annotations

import psycopg
import pytest
import sqlalchemy


@pytest.fixture
def numbers(db):
    t = db.create("nums", "CREATE TABLE {name} (id integer PRIMARY KEY, label text)")
    db.conn.execute(f"INSERT INTO {t} SELECT i, 'n' || i FROM generate_series(1, 250) AS g(i)")
    return t


def test_psycopg_named_cursor_streams_in_batches(db, numbers):
    with psycopg.connect(db.conn.info.dsn, password=db.conn.info.password) as conn:
        with conn.cursor(name="stream") as cur:
            cur.itersize = 100
            cur.execute(f"SELECT id, label FROM {numbers} WHERE id > %s ORDER BY id", (10,))
            assert [d.name for d in cur.description] == ["id", "label"]
            first = cur.fetchone()
            some = cur.fetchmany(5)
            rest = cur.fetchall()
        assert first == (11, "n11")
        assert [r[0] for r in some] == [12, 13, 14, 15, 16]
        assert [r[0] for r in rest] == list(range(17, 251))


def test_psycopg_scrollable_cursor(db, numbers):
    with psycopg.connect(db.conn.info.dsn, password=db.conn.info.password) as conn:
        with conn.cursor(name="scroll", scrollable=True) as cur:
            cur.execute(f"SELECT id FROM {numbers} ORDER BY id")
            cur.scroll(100, mode="absolute")
            assert cur.fetchone() == (101,)
            cur.scroll(-11)
            assert cur.fetchone() == (91,)


def test_sqlalchemy_stream_results(engine, numbers):
    with engine.connect() as c:
        result = c.execution_options(stream_results=True, max_row_buffer=50).execute(
            sqlalchemy.text(f"SELECT id FROM {numbers} ORDER BY id")
        )
        assert sum(1 for _ in result) == 250


def test_declare_fetch_move_close(conn, numbers):
    conn.execute("BEGIN")
    try:
        assert conn.execute(f"DECLARE c SCROLL CURSOR FOR SELECT id FROM {numbers} ORDER BY id").statusmessage \
            == "DECLARE CURSOR"
        cur = conn.execute("FETCH 3 FROM c")
        assert (cur.fetchall(), cur.statusmessage) == ([(1,), (2,), (3,)], "FETCH 3")
        assert conn.execute("FETCH c").fetchall() == [(4,)]
        assert conn.execute("FETCH PRIOR FROM c").fetchall() == [(3,)]
        assert conn.execute("MOVE FORWARD 10 IN c").statusmessage == "MOVE 10"
        assert conn.execute("FETCH NEXT FROM c").fetchall() == [(14,)]
        assert conn.execute("FETCH BACKWARD 2 FROM c").fetchall() == [(13,), (12,)]
        assert conn.execute("FETCH ABSOLUTE -1 FROM c").fetchall() == [(250,)]
        assert conn.execute("FETCH RELATIVE -249 FROM c").fetchall() == [(1,)]
        assert conn.execute("FETCH LAST FROM c").fetchall() == [(250,)]
        cur = conn.execute("FETCH FORWARD 5 FROM c")
        assert (cur.fetchall(), cur.statusmessage) == ([], "FETCH 0")
        assert conn.execute("FETCH FIRST FROM c").fetchall() == [(1,)]
        assert conn.execute("MOVE ALL FROM c").statusmessage == "MOVE 249"
        assert conn.execute("CLOSE c").statusmessage == "CLOSE CURSOR"
        with pytest.raises(psycopg.errors.InvalidCursorName):
            conn.execute("FETCH c")
    finally:
        conn.execute("ROLLBACK")


def test_cursor_errors_and_lifetimes(conn, numbers):
    with pytest.raises(psycopg.errors.NoActiveSqlTransaction):
        conn.execute(f"DECLARE c CURSOR FOR SELECT id FROM {numbers}")
    conn.execute("BEGIN")
    conn.execute(f"DECLARE c NO SCROLL CURSOR FOR SELECT id FROM {numbers} ORDER BY id")
    with pytest.raises(psycopg.errors.DuplicateCursor):
        conn.execute(f"DECLARE c CURSOR FOR SELECT 1")
    conn.execute("ROLLBACK")
    conn.execute("BEGIN")
    conn.execute(f"DECLARE c NO SCROLL CURSOR FOR SELECT id FROM {numbers} ORDER BY id")
    conn.execute("FETCH 2 FROM c")
    with pytest.raises(psycopg.errors.ObjectNotInPrerequisiteState):
        conn.execute("FETCH PRIOR FROM c")
    conn.execute("ROLLBACK")
    # WITH HOLD outlives its transaction's COMMIT; without HOLD the cursor ends with it.
    conn.execute("BEGIN")
    conn.execute(f"DECLARE held CURSOR WITH HOLD FOR SELECT id FROM {numbers} ORDER BY id")
    conn.execute(f"DECLARE gone CURSOR FOR SELECT id FROM {numbers} ORDER BY id")
    conn.execute("COMMIT")
    assert conn.execute("FETCH 2 FROM held").fetchall() == [(1,), (2,)]
    with pytest.raises(psycopg.errors.InvalidCursorName):
        conn.execute("FETCH gone")
    conn.execute("CLOSE held")
    with pytest.raises(psycopg.errors.InvalidCursorName):
        conn.execute("CLOSE held")


def test_rollback_to_savepoint_closes_the_cursors_declared_after_it(conn, numbers):
    conn.execute("BEGIN")
    conn.execute(f"DECLARE before CURSOR FOR SELECT id FROM {numbers} ORDER BY id")
    conn.execute("SAVEPOINT a")
    conn.execute(f"DECLARE inner_a CURSOR FOR SELECT id FROM {numbers} ORDER BY id")
    conn.execute("SAVEPOINT b")
    conn.execute(f"DECLARE inner_b CURSOR FOR SELECT id FROM {numbers} ORDER BY id")
    conn.execute("RELEASE SAVEPOINT b")  # inner_b now belongs to savepoint a
    conn.execute("FETCH 1 FROM before")
    conn.execute("ROLLBACK TO SAVEPOINT a")
    for gone in ("inner_a", "inner_b"):
        conn.execute("SAVEPOINT probe")
        with pytest.raises(psycopg.errors.InvalidCursorName):
            conn.execute(f"FETCH 1 FROM {gone}")
        conn.execute("ROLLBACK TO SAVEPOINT probe")
    # The cursor from before the savepoint stays open, its position kept.
    assert conn.execute("FETCH 1 FROM before").fetchall() == [(2,)]
    names = [r[0] for r in conn.execute("SELECT name FROM pg_cursors ORDER BY name").fetchall()]
    assert names == ["before"]
    conn.execute("ROLLBACK")


def test_pg_cursors_lists_open_cursors(conn, numbers):
    conn.execute("BEGIN")
    try:
        conn.execute(f"DECLARE listed SCROLL CURSOR WITH HOLD FOR SELECT id FROM {numbers}")
        conn.execute(f"DECLARE plain BINARY CURSOR FOR SELECT id FROM {numbers}")
        rows = conn.execute(
            "SELECT name, is_holdable, is_binary, is_scrollable, statement LIKE 'DECLARE%%', "
            "creation_time <= now() + interval '1 minute' FROM pg_catalog.pg_cursors ORDER BY name"
        ).fetchall()
        assert rows == [("listed", True, False, True, True, True), ("plain", False, True, True, True, True)]
    finally:
        conn.execute("ROLLBACK")
    assert conn.execute("SELECT count(*) FROM pg_cursors").fetchone() == (0,)
