"""SAVEPOINT / ROLLBACK TO SAVEPOINT / RELEASE SAVEPOINT, including the row locks a savepoint scope owns and
the savepoints psycopg itself issues for nested `conn.transaction()` blocks."""

from __future__ import annotations

import psycopg
import pytest

from harness import sqlstate

IN_FAILED_TRANSACTION = "25P02"
NO_ACTIVE_SQL_TRANSACTION = "25P01"
INVALID_SAVEPOINT = "3B001"
LOCK_NOT_AVAILABLE = "55P03"


@pytest.fixture
def table(db):
    return db.table("sp", "id int PRIMARY KEY, v int")


@pytest.fixture
def conn(db):
    return db.connect(autocommit=True)


def ids(db, table) -> list[int]:
    return [i for (i,) in db.rows(f"SELECT id FROM {table} ORDER BY id")]


def fails(conn, query, state):
    with pytest.raises(psycopg.Error) as info:
        conn.execute(query)
    assert sqlstate(info.value) == state, f"{query!r}: {info.value}"
    return info.value


def test_rollback_to_undoes_only_later_writes(db, conn, table):
    conn.execute("BEGIN")
    conn.execute(f"INSERT INTO {table} VALUES (1, 1)")
    conn.execute("SAVEPOINT a")
    conn.execute(f"INSERT INTO {table} VALUES (2, 2)")
    conn.execute(f"UPDATE {table} SET v = 10 WHERE id = 1")
    assert conn.execute(f"SELECT id, v FROM {table} ORDER BY id").fetchall() == [(1, 10), (2, 2)]
    conn.execute("ROLLBACK TO SAVEPOINT a")
    assert conn.execute(f"SELECT id, v FROM {table} ORDER BY id").fetchall() == [(1, 1)]
    # The savepoint survives ROLLBACK TO and can be used again.
    conn.execute(f"INSERT INTO {table} VALUES (3, 3)")
    conn.execute("ROLLBACK TO a")
    conn.execute(f"INSERT INTO {table} VALUES (4, 4)")
    conn.execute("COMMIT")
    assert db.rows(f"SELECT id, v FROM {table} ORDER BY id") == [(1, 1), (4, 4)]


def test_release_keeps_writes(db, conn, table):
    conn.execute("BEGIN")
    conn.execute("SAVEPOINT a")
    conn.execute(f"INSERT INTO {table} VALUES (1, 1)")
    conn.execute("RELEASE SAVEPOINT a")
    conn.execute(f"INSERT INTO {table} VALUES (2, 2)")
    conn.execute("COMMIT")
    assert ids(db, table) == [1, 2]


def test_rollback_of_transaction_discards_released_savepoint(db, conn, table):
    conn.execute("BEGIN")
    conn.execute("SAVEPOINT a")
    conn.execute(f"INSERT INTO {table} VALUES (1, 1)")
    conn.execute("RELEASE a")
    conn.execute("ROLLBACK")
    assert ids(db, table) == []


def test_nested_savepoints_with_the_same_name(db, conn, table):
    conn.execute("BEGIN")
    conn.execute("SAVEPOINT a")
    conn.execute(f"INSERT INTO {table} VALUES (1, 1)")
    conn.execute("SAVEPOINT a")
    conn.execute(f"INSERT INTO {table} VALUES (2, 2)")
    conn.execute("ROLLBACK TO a")  # the newest `a`
    assert [i for (i,) in conn.execute(f"SELECT id FROM {table} ORDER BY id")] == [1]
    conn.execute("RELEASE a")  # releases the newest `a`, uncovering the older one
    conn.execute(f"INSERT INTO {table} VALUES (3, 3)")
    conn.execute("ROLLBACK TO a")  # the older `a`: undoes 1 and 3
    assert conn.execute(f"SELECT id FROM {table}").fetchall() == []
    conn.execute(f"INSERT INTO {table} VALUES (4, 4)")
    conn.execute("COMMIT")
    assert ids(db, table) == [4]


def test_release_releases_later_savepoints_too(db, conn, table):
    conn.execute("BEGIN")
    conn.execute("SAVEPOINT a")
    conn.execute(f"INSERT INTO {table} VALUES (1, 1)")
    conn.execute("SAVEPOINT b")
    conn.execute(f"INSERT INTO {table} VALUES (2, 2)")
    conn.execute("RELEASE a")
    fails(conn, "ROLLBACK TO b", INVALID_SAVEPOINT)
    conn.execute("ROLLBACK")
    assert ids(db, table) == []


def test_rollback_to_recovers_failed_transaction(db, conn, table):
    conn.execute("BEGIN")
    conn.execute(f"INSERT INTO {table} VALUES (1, 1)")
    conn.execute("SAVEPOINT a")
    fails(conn, f"INSERT INTO {table} VALUES (1, 2)", "23505")
    fails(conn, "SELECT 1", IN_FAILED_TRANSACTION)
    conn.execute("ROLLBACK TO SAVEPOINT a")
    assert conn.execute("SELECT 1").fetchall() == [(1,)]
    conn.execute(f"INSERT INTO {table} VALUES (2, 2)")
    cur = conn.execute("COMMIT")
    assert cur.statusmessage == "COMMIT"
    assert ids(db, table) == [1, 2]


def test_release_in_failed_transaction_is_rejected(db, conn, table):
    conn.execute("BEGIN")
    conn.execute("SAVEPOINT a")
    fails(conn, "SELECT 1/0", "22012")
    fails(conn, "RELEASE a", IN_FAILED_TRANSACTION)
    conn.execute("ROLLBACK TO a")  # still allowed, and recovers
    assert conn.execute("SELECT 2").fetchall() == [(2,)]
    conn.execute("COMMIT")


def test_unknown_savepoint(conn):
    conn.execute("BEGIN")
    err = fails(conn, "RELEASE SAVEPOINT nope", INVALID_SAVEPOINT)
    assert 'savepoint "nope" does not exist' in str(err)
    conn.execute("ROLLBACK")
    conn.execute("BEGIN")
    fails(conn, "ROLLBACK TO SAVEPOINT nope", INVALID_SAVEPOINT)
    conn.execute("ROLLBACK")


@pytest.mark.parametrize(
    "statement, message",
    [
        ("SAVEPOINT a", "SAVEPOINT can only be used in transaction blocks"),
        ("RELEASE SAVEPOINT a", "RELEASE SAVEPOINT can only be used in transaction blocks"),
        ("ROLLBACK TO SAVEPOINT a", "ROLLBACK TO SAVEPOINT can only be used in transaction blocks"),
    ],
)
def test_savepoint_outside_transaction_block(conn, statement, message):
    err = fails(conn, statement, NO_ACTIVE_SQL_TRANSACTION)
    assert err.diag.message_primary == message


def test_rollback_to_releases_row_locks_taken_after_savepoint(db):
    table = db.table("sp", "id int PRIMARY KEY, v int", "(1, 0), (2, 0)")
    s = db.sessions("T1", "T2", t=table)
    s.step("T1", "BEGIN")
    s.expect("T1", "SELECT id FROM {t} WHERE id = 1 FOR UPDATE", [(1,)])
    s.step("T1", "SAVEPOINT a")
    s.expect("T1", "SELECT id FROM {t} WHERE id = 2 FOR UPDATE", [(2,)])
    s.step("T2", "BEGIN")
    s.fails("T2", "SELECT id FROM {t} WHERE id = 2 FOR UPDATE NOWAIT", LOCK_NOT_AVAILABLE)
    s.step("T2", "ROLLBACK")
    s.step("T1", "ROLLBACK TO SAVEPOINT a")
    # The lock taken inside the savepoint is gone; the one taken before it is still held.
    s.step("T2", "BEGIN")
    s.expect("T2", "SELECT id FROM {t} WHERE id = 2 FOR UPDATE NOWAIT", [(2,)])
    s.fails("T2", "SELECT id FROM {t} WHERE id = 1 FOR UPDATE NOWAIT", LOCK_NOT_AVAILABLE)
    s.step("T2", "ROLLBACK")
    s.step("T1", "COMMIT")


def test_rollback_to_releases_update_lock_but_keeps_earlier_lock(db):
    table = db.table("sp", "id int PRIMARY KEY, v int", "(1, 0), (2, 0)")
    s = db.sessions("T1", "T2", t=table)
    s.step("T1", "BEGIN")
    s.expect("T1", "SELECT id FROM {t} WHERE id = 1 FOR UPDATE", [(1,)])
    s.step("T1", "SAVEPOINT a")
    s.expect("T1", "UPDATE {t} SET v = 1 WHERE id = 1", 1)  # row already locked before the savepoint
    s.expect("T1", "UPDATE {t} SET v = 1 WHERE id = 2", 1)
    s.step("T1", "ROLLBACK TO a")
    # Row 2 was only locked inside the savepoint: free again. Row 1's FOR UPDATE from before it survives
    # the rolled-back update of the same row.
    s.expect("T2", "UPDATE {t} SET v = 2 WHERE id = 2", 1)
    s.step("T2", "BEGIN")
    s.fails("T2", "SELECT id FROM {t} WHERE id = 1 FOR UPDATE NOWAIT", LOCK_NOT_AVAILABLE)
    s.step("T2", "ROLLBACK")
    s.step("T1", "COMMIT")
    assert db.rows(f"SELECT id, v FROM {table} ORDER BY id") == [(1, 0), (2, 2)]


@pytest.mark.parametrize("autocommit", [True, False], ids=["autocommit", "implicit_transaction"])
def test_psycopg_nested_transaction_blocks(db, table, autocommit):
    conn = db.connect(autocommit=autocommit)
    with conn.transaction():
        conn.execute(f"INSERT INTO {table} VALUES (1, 1)")
        with conn.transaction():
            conn.execute(f"INSERT INTO {table} VALUES (2, 2)")
            raise psycopg.Rollback()  # rolls back to this block's savepoint only
        with pytest.raises(psycopg.errors.UniqueViolation):
            with conn.transaction():
                conn.execute(f"INSERT INTO {table} VALUES (3, 3)")
                conn.execute(f"INSERT INTO {table} VALUES (1, 1)")
        with conn.transaction():
            conn.execute(f"INSERT INTO {table} VALUES (4, 4)")
            with conn.transaction():
                conn.execute(f"UPDATE {table} SET v = 40 WHERE id = 4")
    if not autocommit:
        conn.commit()
    assert db.rows(f"SELECT id, v FROM {table} ORDER BY id") == [(1, 1), (4, 40)]
