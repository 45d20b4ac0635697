"""Transactional DDL: schema changes inside a transaction block commit or roll back with it.

Existence is checked by querying the table (42P01 when absent) rather than through the catalog, so the test
asks only what an application would.
"""

from __future__ import annotations

import psycopg
import pytest

from harness import sqlstate

UNDEFINED_TABLE = "42P01"


def exists(db, table: str) -> bool:
    try:
        db.admin.execute(f"SELECT count(*) FROM {table}")
    except psycopg.Error as exc:
        assert sqlstate(exc) == UNDEFINED_TABLE, exc
        return False
    return True


@pytest.fixture
def conn(db):
    return db.connect(autocommit=True)


def test_create_table_rolled_back(db, conn):
    table = db.name("ddl_new")
    db.adopt_table(table)
    conn.execute("BEGIN")
    conn.execute(f"CREATE TABLE {table} (id int PRIMARY KEY, v int)")
    conn.execute(f"INSERT INTO {table} VALUES (1, 1)")
    assert conn.execute(f"SELECT id, v FROM {table}").fetchall() == [(1, 1)]
    conn.execute("ROLLBACK")
    assert not exists(db, table)
    # The name is free again.
    db.admin.execute(f"CREATE TABLE {table} (other text)")
    assert db.rows(f"SELECT count(*) FROM {table}") == [(0,)]


def test_create_table_insert_commit(db, conn):
    table = db.name("ddl_new")
    db.adopt_table(table)
    conn.execute("BEGIN")
    conn.execute(f"CREATE TABLE {table} (id int PRIMARY KEY, v int)")
    conn.execute(f"INSERT INTO {table} VALUES (1, 1), (2, 2)")
    conn.execute(f"UPDATE {table} SET v = 20 WHERE id = 2")
    conn.execute("COMMIT")
    assert db.rows(f"SELECT id, v FROM {table} ORDER BY id") == [(1, 1), (2, 20)]


def test_create_table_invisible_to_others_until_commit(db, conn):
    table = db.name("ddl_new")
    db.adopt_table(table)
    conn.execute("BEGIN")
    conn.execute(f"CREATE TABLE {table} (id int)")
    # The catalog entry is an uncommitted write like any other: other sessions do not see it yet.
    assert not exists(db, table)
    conn.execute("COMMIT")
    assert exists(db, table)


def test_drop_table_rolled_back(db, conn):
    table = db.table("ddl_old", "id int PRIMARY KEY, v int", "(1, 1), (2, 2)")
    conn.execute("BEGIN")
    conn.execute(f"DROP TABLE {table}")
    with pytest.raises(psycopg.Error) as info:
        conn.execute(f"SELECT * FROM {table}")
    assert sqlstate(info.value) == UNDEFINED_TABLE
    conn.execute("ROLLBACK")
    assert db.rows(f"SELECT id, v FROM {table} ORDER BY id") == [(1, 1), (2, 2)]


def test_drop_table_committed(db, conn):
    table = db.table("ddl_old", "id int PRIMARY KEY, v int", "(1, 1)")
    conn.execute("BEGIN")
    conn.execute(f"INSERT INTO {table} VALUES (2, 2)")
    conn.execute(f"DROP TABLE {table}")
    conn.execute("COMMIT")
    assert not exists(db, table)


def test_truncate_rolled_back(db, conn):
    table = db.table("ddl_old", "id int PRIMARY KEY, v int", "(1, 1), (2, 2)")
    conn.execute("BEGIN")
    conn.execute(f"TRUNCATE {table}")
    assert conn.execute(f"SELECT count(*) FROM {table}").fetchall() == [(0,)]
    conn.execute(f"INSERT INTO {table} VALUES (3, 3)")
    conn.execute("ROLLBACK")
    assert db.rows(f"SELECT id, v FROM {table} ORDER BY id") == [(1, 1), (2, 2)]


def test_truncate_committed(db, conn):
    table = db.table("ddl_old", "id int PRIMARY KEY, v int", "(1, 1), (2, 2)")
    conn.execute("BEGIN")
    conn.execute(f"TRUNCATE {table}")
    conn.execute(f"INSERT INTO {table} VALUES (1, 10)")  # the old key 1 is gone, so no conflict
    conn.execute("COMMIT")
    assert db.rows(f"SELECT id, v FROM {table} ORDER BY id") == [(1, 10)]


def test_ddl_inside_savepoint_rolled_back(db, conn):
    kept, dropped = db.name("ddl_kept"), db.name("ddl_gone")
    db.adopt_table(kept)
    db.adopt_table(dropped)
    conn.execute("BEGIN")
    conn.execute(f"CREATE TABLE {kept} (id int)")
    conn.execute("SAVEPOINT a")
    conn.execute(f"CREATE TABLE {dropped} (id int)")
    conn.execute("ROLLBACK TO SAVEPOINT a")
    conn.execute("COMMIT")
    assert exists(db, kept)
    assert not exists(db, dropped)


def test_psycopg_default_connection_create_table_then_commit(db):
    # psycopg's default (non-autocommit) connection sends BEGIN implicitly before the first statement.
    table = db.name("ddl_py")
    db.adopt_table(table)
    conn = db.connect(autocommit=False)
    conn.execute(f"CREATE TABLE {table} (id int PRIMARY KEY, v text)")
    conn.execute(f"INSERT INTO {table} VALUES (%s, %s)", (1, "one"))
    conn.commit()
    assert db.rows(f"SELECT id, v FROM {table}") == [(1, "one")]
    conn.execute(f"DROP TABLE {table}")
    conn.rollback()
    assert exists(db, table)


def test_lock_table_outside_a_transaction_block_fails(db, conn):
    table = db.table("ddl_lock", "id int PRIMARY KEY")
    with pytest.raises(psycopg.Error) as info:
        conn.execute(f"LOCK TABLE {table} IN ACCESS SHARE MODE")
    assert sqlstate(info.value) == "25P01"


def test_lock_table_access_share_blocks_truncate_until_commit(db):
    # pg_dump takes ACCESS SHARE on every table it dumps: writers go on, DROP / TRUNCATE wait.
    table = db.table("ddl_lock", "id int PRIMARY KEY, v int", "(1, 1)")
    s = db.sessions("T1", "T2", t=table)
    s.step("T1", "BEGIN")
    s.step("T1", "LOCK TABLE {t} IN ACCESS SHARE MODE")
    s.step("T2", "INSERT INTO {t} VALUES (2, 2)")
    s.step_blocking("T2", "TRUNCATE {t}")
    s.step("T1", "COMMIT")
    s.join("T2")
    assert db.rows(f"SELECT count(*) FROM {table}") == [(0,)]


def test_lock_table_exclusive_nowait_fails_while_a_writer_holds_the_table(db):
    table = db.table("ddl_lock", "id int PRIMARY KEY, v int", "(1, 1)")
    s = db.sessions("T1", "T2", t=table)
    s.step("T1", "BEGIN")
    s.step("T1", "UPDATE {t} SET v = 2 WHERE id = 1")
    s.step("T2", "BEGIN")
    s.fails("T2", "LOCK TABLE {t} IN ACCESS EXCLUSIVE MODE NOWAIT", "55P03")
    s.step("T2", "ROLLBACK")
    s.step("T1", "COMMIT")
