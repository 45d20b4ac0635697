"""Transaction characteristics: how the isolation level and read-only mode are chosen and reported.

The strings are exactly what PostgreSQL returns (SHOW and current_setting agree), because drivers and ORMs
compare them verbatim.
"""

from __future__ import annotations

import psycopg
import pytest

from harness import sqlstate

READ_ONLY_TRANSACTION = "25006"
ACTIVE_SQL_TRANSACTION = "25001"
NO_ACTIVE_SQL_TRANSACTION = "25P01"


@pytest.fixture
def conn(db):
    return db.connect(autocommit=True)


def show(conn: psycopg.Connection, setting: str) -> str:
    return conn.execute(f"SHOW {setting}").fetchone()[0]


def characteristics(conn: psycopg.Connection) -> tuple[str, str]:
    return show(conn, "transaction_isolation"), show(conn, "transaction_read_only")


def test_defaults(conn):
    assert characteristics(conn) == ("read committed", "off")
    assert show(conn, "default_transaction_isolation") == "read committed"
    assert show(conn, "default_transaction_read_only") == "off"
    conn.execute("BEGIN")
    assert characteristics(conn) == ("read committed", "off")
    conn.execute("COMMIT")


def test_begin_isolation_level_read_only(conn):
    conn.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
    assert characteristics(conn) == ("repeatable read", "on")
    assert conn.execute("SELECT current_setting('transaction_isolation')").fetchone() == ("repeatable read",)
    conn.execute("COMMIT")
    assert characteristics(conn) == ("read committed", "off")  # only that transaction


def test_start_transaction_serializable_read_write(conn):
    cur = conn.execute("START TRANSACTION ISOLATION LEVEL SERIALIZABLE, READ WRITE")
    assert cur.statusmessage == "START TRANSACTION"
    assert characteristics(conn) == ("serializable", "off")
    conn.execute("COMMIT")


@pytest.mark.parametrize("level", ["read committed", "repeatable read", "serializable"])
def test_set_transaction_first_statement(conn, level):
    conn.execute("BEGIN")
    conn.execute(f"SET TRANSACTION ISOLATION LEVEL {level}")
    assert show(conn, "transaction_isolation") == level
    assert conn.execute("SELECT current_setting('transaction_isolation')").fetchone() == (level,)
    conn.execute("COMMIT")


def test_set_transaction_may_be_repeated_before_first_query(conn):
    conn.execute("BEGIN ISOLATION LEVEL SERIALIZABLE")
    conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
    conn.execute("SET TRANSACTION ISOLATION LEVEL READ COMMITTED")
    assert show(conn, "transaction_isolation") == "read committed"
    conn.execute("ROLLBACK")


def test_set_transaction_after_query_fails(conn):
    conn.execute("BEGIN")
    conn.execute("SELECT 1")
    with pytest.raises(psycopg.Error) as info:
        conn.execute("SET TRANSACTION ISOLATION LEVEL SERIALIZABLE")
    assert sqlstate(info.value) == ACTIVE_SQL_TRANSACTION
    assert "must be called before any query" in str(info.value)
    conn.execute("ROLLBACK")


def test_set_transaction_outside_block_has_no_effect(conn):
    conn.execute("SET TRANSACTION ISOLATION LEVEL SERIALIZABLE")
    assert show(conn, "transaction_isolation") == "read committed"
    conn.execute("BEGIN")
    assert show(conn, "transaction_isolation") == "read committed"
    conn.execute("COMMIT")
    conn.execute("SET TRANSACTION READ ONLY")
    assert show(conn, "transaction_read_only") == "off"


def test_set_transaction_outside_block_warns(conn):
    notices = []
    # A notice's fields are only readable inside the handler.
    conn.add_notice_handler(lambda n: notices.append((n.severity, n.sqlstate, n.message_primary)))
    conn.execute("SET TRANSACTION ISOLATION LEVEL SERIALIZABLE")
    assert notices == [
        ("WARNING", NO_ACTIVE_SQL_TRANSACTION, "SET TRANSACTION can only be used in transaction blocks")
    ]


def test_set_session_characteristics(conn):
    conn.execute("SET SESSION CHARACTERISTICS AS TRANSACTION ISOLATION LEVEL SERIALIZABLE")
    assert show(conn, "default_transaction_isolation") == "serializable"
    # Outside a block, transaction_isolation describes the implicit transaction of the SHOW itself.
    assert show(conn, "transaction_isolation") == "serializable"
    conn.execute("BEGIN")
    assert show(conn, "transaction_isolation") == "serializable"
    conn.execute("COMMIT")
    conn.execute("BEGIN ISOLATION LEVEL READ COMMITTED")  # an explicit level still wins
    assert show(conn, "transaction_isolation") == "read committed"
    conn.execute("COMMIT")


def test_set_default_transaction_isolation(conn):
    conn.execute("SET default_transaction_isolation = 'repeatable read'")
    assert show(conn, "default_transaction_isolation") == "repeatable read"
    conn.execute("BEGIN")
    assert show(conn, "transaction_isolation") == "repeatable read"
    assert conn.execute("SELECT current_setting('transaction_isolation')").fetchone() == ("repeatable read",)
    conn.execute("COMMIT")
    conn.execute("RESET default_transaction_isolation")
    assert show(conn, "default_transaction_isolation") == "read committed"


def test_default_transaction_isolation_rejects_unknown_level(conn):
    with pytest.raises(psycopg.Error) as info:
        conn.execute("SET default_transaction_isolation = 'bogus'")
    assert sqlstate(info.value) == "22023"


@pytest.mark.parametrize(
    "statement, verb",
    [("INSERT INTO {t} VALUES (2)", "INSERT"), ("UPDATE {t} SET a = 5", "UPDATE"), ("DELETE FROM {t}", "DELETE")],
)
def test_read_only_transaction_rejects_writes(db, conn, statement, verb):
    table = db.table("ro", "a int", "(1)")
    conn.execute("BEGIN READ ONLY")
    with pytest.raises(psycopg.Error) as info:
        conn.execute(statement.format(t=table))
    assert sqlstate(info.value) == READ_ONLY_TRANSACTION
    assert f"cannot execute {verb} in a read-only transaction" in str(info.value)
    conn.execute("ROLLBACK")
    assert db.rows(f"SELECT a FROM {table}") == [(1,)]


def test_set_transaction_read_only_inside_block(db, conn):
    table = db.table("ro", "a int")
    conn.execute("BEGIN")
    conn.execute("SET TRANSACTION READ ONLY")
    assert show(conn, "transaction_read_only") == "on"
    with pytest.raises(psycopg.Error) as info:
        conn.execute(f"INSERT INTO {table} VALUES (1)")
    assert sqlstate(info.value) == READ_ONLY_TRANSACTION
    conn.execute("ROLLBACK")


def test_default_transaction_read_only(db, conn):
    table = db.table("ro", "a int")
    conn.execute("SET default_transaction_read_only = on")
    assert show(conn, "default_transaction_read_only") == "on"
    assert show(conn, "transaction_read_only") == "on"
    # Autocommit statements and explicit blocks alike.
    with pytest.raises(psycopg.Error) as info:
        conn.execute(f"INSERT INTO {table} VALUES (1)")
    assert sqlstate(info.value) == READ_ONLY_TRANSACTION
    conn.execute("BEGIN")
    with pytest.raises(psycopg.Error) as info:
        conn.execute(f"INSERT INTO {table} VALUES (1)")
    assert sqlstate(info.value) == READ_ONLY_TRANSACTION
    conn.execute("ROLLBACK")
    conn.execute("BEGIN READ WRITE")  # an explicit mode overrides the default
    conn.execute(f"INSERT INTO {table} VALUES (2)")
    conn.execute("COMMIT")
    conn.execute("RESET default_transaction_read_only")
    conn.execute(f"INSERT INTO {table} VALUES (3)")
    assert db.rows(f"SELECT a FROM {table} ORDER BY a") == [(2,), (3,)]
