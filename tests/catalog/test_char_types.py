"""varchar(n) and char(n) as clients see them: described with PostgreSQL's OIDs and typmods (psycopg's
cursor.description, pg_attribute, format_type), enforced on COPY (text and binary) with 22001, padded for
char(n). Same assertions on both servers."""

from __future__ import annotations

import psycopg
import pytest

VARCHAR, BPCHAR = 1043, 1042


@pytest.fixture
def table(db):
    return db.create("chars", "CREATE TABLE {name} (id integer PRIMARY KEY, v varchar(5), c char(3), u varchar)")


def test_result_columns_are_described_as_varchar_and_bpchar(conn, table):
    cur = conn.execute(f"SELECT v, c, u, v || 'x' AS e FROM {table} WHERE false")
    assert [d.type_code for d in cur.description] == [VARCHAR, BPCHAR, VARCHAR, 25]
    # psycopg reads the length from the typmod.
    assert [d.display_size for d in cur.description][:2] == [5, 3]
    rows = conn.execute(
        "SELECT attname::text, atttypid::int, atttypmod, format_type(atttypid, atttypmod) FROM pg_attribute "
        f"WHERE attrelid = '{table}'::regclass AND attnum > 1 ORDER BY attnum").fetchall()
    assert rows == [("v", VARCHAR, 9, "character varying(5)"), ("c", BPCHAR, 7, "character(3)"),
                    ("u", VARCHAR, -1, "character varying")]


def test_copy_text_checks_lengths_and_pads(conn, table):
    with conn.cursor().copy(f"COPY {table} FROM STDIN") as copy:
        copy.write("1\tabc\tx\tlong text is fine\n2\tabcde  \tyz \t\\N\n")
    assert conn.execute(f"SELECT id, v, c, octet_length(c) FROM {table} ORDER BY id").fetchall() == [
        (1, "abc", "x  ", 3), (2, "abcde", "yz ", 3)]
    with pytest.raises(psycopg.errors.StringDataRightTruncation) as e:
        with conn.cursor().copy(f"COPY {table} FROM STDIN") as copy:
            copy.write("3\tabcdef\tx\t\\N\n")
    assert "character varying(5)" in str(e.value)
    assert conn.execute(f"SELECT count(*) FROM {table}").fetchone() == (2,)


def test_copy_binary_checks_lengths(conn, table):
    with pytest.raises(psycopg.errors.StringDataRightTruncation):
        with conn.cursor().copy(f"COPY {table} (id, c) FROM STDIN (FORMAT BINARY)") as copy:
            copy.set_types(["integer", "text"])
            copy.write_row((7, "abcd"))
    assert conn.execute(f"SELECT count(*) FROM {table}").fetchone() == (0,)


def test_prepared_insert_checks_lengths(conn, table):
    with pytest.raises(psycopg.errors.StringDataRightTruncation):
        conn.execute(f"INSERT INTO {table} (id, v) VALUES (%s, %s)", (1, "toolong"), prepare=True)
    conn.execute(f"INSERT INTO {table} (id, v, c) VALUES (%s, %s, %s)", (1, "ok", "a"), prepare=True)
    assert conn.execute(f"SELECT v, c FROM {table} WHERE id = %s", (1,)).fetchone() == ("ok", "a  ")
