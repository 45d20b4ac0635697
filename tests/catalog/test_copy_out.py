"""COPY ... TO STDOUT, the way psql's \\copy, pg_dump and data tools take rows out: text, CSV (HEADER, DELIMITER,
QUOTE, ESCAPE, NULL, FORCE_QUOTE) and binary, of a table, some of its columns, or a query; and PostgreSQL's
errors for what COPY TO refuses."""

from __future__ import annotations

import datetime
import decimal

import psycopg
import pytest

ROWS = "INSERT INTO {t} VALUES (1, E'a\\tb\\\\c\\nd', 1.5, '\\x0102', '2024-01-02 03:04:05', true), " \
    "(2, NULL, NULL, NULL, NULL, NULL), (3, 'x,\"y\"', -2, NULL, NULL, false), (4, '', 0, NULL, NULL, NULL)"
DDL = "CREATE TABLE {name} (id integer PRIMARY KEY, v text, n numeric(6,2), b bytea, t timestamp, f boolean)"


@pytest.fixture
def table(db):
    t = db.create("copy", DDL)
    db.conn.execute(ROWS.format(t=t))
    return t


def copy_out(conn, sql: str, rows: int | None = None) -> bytes:
    """The bytes COPY wrote; `rows`: the count its command tag must give (`COPY n`)."""
    with conn.cursor() as cur:
        with cur.copy(sql) as copy:
            data = b"".join(bytes(chunk) for chunk in copy)
        if rows is not None:
            assert cur.rowcount == rows
    return data


def test_copy_table_to_stdout_text(conn, table):
    assert copy_out(conn, f"COPY {table} TO STDOUT", rows=4) == (
        b"1\ta\\tb\\\\c\\nd\t1.50\t\\\\x0102\t2024-01-02 03:04:05\tt\n"
        b"2\t\\N\t\\N\t\\N\t\\N\t\\N\n"
        b"3\tx,\"y\"\t-2.00\t\\N\t\\N\tf\n"
        b"4\t\t0.00\t\\N\t\\N\t\\N\n"
    )


def test_copy_columns_and_query_to_stdout(conn, table):
    assert copy_out(conn, f"COPY {table} (v, id) TO STDOUT WITH (DELIMITER '|', NULL 'nil')") == (
        b"a\\tb\\\\c\\nd|1\nnil|2\nx,\"y\"|3\n|4\n"
    )
    assert copy_out(conn, f"COPY (SELECT id * 10 AS x, upper(v) FROM {table} WHERE id > 2 ORDER BY id DESC) "
                          "TO STDOUT", rows=2) == b"40\t\n30\tX,\"Y\"\n"


def test_copy_to_stdout_csv(conn, table):
    assert copy_out(conn, f"COPY {table} (id, v, f) TO STDOUT WITH (FORMAT csv, HEADER)", rows=4) == (
        b'id,v,f\n1,"a\tb\\c\nd",t\n2,,\n3,"x,""y""",f\n4,"",\n'
    )
    assert copy_out(conn, f"COPY (SELECT id, v FROM {table} ORDER BY id) TO STDOUT "
                          "WITH (FORMAT csv, QUOTE '''', ESCAPE '\\', FORCE_QUOTE (id), NULL 'N/A')") == (
        b"'1','a\tb\\\\c\nd'\n'2',N/A\n'3','x,\"y\"'\n'4',\n"
    )


def test_copy_to_stdout_binary(conn, table):
    with conn.cursor() as cur:
        with cur.copy(f"COPY {table} (id, v, n, b, t, f) TO STDOUT (FORMAT binary)") as copy:
            copy.set_types(["int4", "text", "numeric", "bytea", "timestamp", "bool"])
            rows = list(copy.rows())
    assert rows == [
        (1, "a\tb\\c\nd", decimal.Decimal("1.50"), b"\x01\x02", datetime.datetime(2024, 1, 2, 3, 4, 5), True),
        (2, None, None, None, None, None),
        (3, 'x,"y"', decimal.Decimal("-2.00"), None, None, False),
        (4, "", decimal.Decimal("0.00"), None, None, None),
    ]


def test_copy_of_an_empty_result(conn, table):
    assert copy_out(conn, f"COPY (SELECT * FROM {table} WHERE id < 0) TO STDOUT", rows=0) == b""


@pytest.mark.parametrize(
    "options, sqlstate",
    [
        ("(FORMAT text, QUOTE '\"')", "0A000"),
        ("(FORCE_QUOTE (v))", "0A000"),
        ("(FORMAT binary, DELIMITER ',')", "42601"),
        ("(FORMAT binary, HEADER)", "0A000"),
        ("(FORMAT csv, FORCE_NULL (v))", "0A000"),
        ("(FORMAT xml)", "22023"),
        ("(FORMAT csv, QUOTE ',')", "22023"),
    ],
)
def test_copy_to_options_postgres_refuses(conn, table, options, sqlstate):
    with pytest.raises(psycopg.Error) as err:
        copy_out(conn, f"COPY {table} TO STDOUT {options}")
    assert err.value.sqlstate == sqlstate


def test_copy_to_a_server_file_needs_privileges(db, table):
    # The tenant is no superuser: like any such PostgreSQL role, it may not write the server's files.
    conn = db.conn
    superuser = conn.execute("SELECT rolsuper FROM pg_roles WHERE rolname = current_user").fetchone()[0]
    if superuser:  # the PostgreSQL reference runs as postgres: take an ordinary role for this test
        if not conn.execute("SELECT 1 FROM pg_roles WHERE rolname = 'omendb_copy_probe'").fetchone():
            conn.execute("CREATE ROLE omendb_copy_probe LOGIN")
        conn.execute("SET ROLE omendb_copy_probe")
    try:
        with pytest.raises(psycopg.Error) as err:
            conn.execute("COPY (SELECT 1) TO '/tmp/omendb-copy-probe'")
        assert err.value.sqlstate == "42501"
    finally:
        if superuser:
            conn.execute("RESET ROLE")
