"""Result column names as clients read them from RowDescription: PostgreSQL's names for unaliased
expressions, and duplicates kept as written (ORMs and report tools select the same column twice)."""

from __future__ import annotations


def test_duplicate_and_unaliased_names(conn, items):
    conn.execute(f"INSERT INTO {items} (id, name, qty, created) VALUES (1, 'a', 2, '2024-01-02 03:04:05')")
    for prepare in (False, True):
        cur = conn.execute(
            f"SELECT id, id, 1, 1, count(*) OVER (), name AS x, qty AS x, created::date FROM {items} WHERE id = 1",
            prepare=prepare,
        )
        assert [d.name for d in cur.description] == ["id", "id", "?column?", "?column?", "count", "x", "x", "created"]
        row = cur.fetchone()
        assert row[0] == row[1] == 1 and row[2] == row[3] == 1


def test_names_of_casts_follow_postgresql_figure_colname(conn):
    """A cast keeps a column's or function's name through any number of casts, and is named after its type
    otherwise (`'t'::regclass::oid` is `oid`, `(1 + 2)::int` is `int4`); reg* values print as names
    (regnamespace too)."""
    for prepare in (False, True):
        cur = conn.execute(
            "SELECT oid::regclass::text, relnamespace::regnamespace::text, relnamespace::regnamespace, "
            "'pg_class'::regclass::oid, (1 + 2)::int, CASE WHEN true THEN 1 END::text, "
            "'public'::regnamespace::oid, upper(relname)::varchar "
            "FROM pg_class WHERE relname = 'pg_class'",
            prepare=prepare,
        )
        assert [d.name for d in cur.description] == [
            "oid", "relnamespace", "relnamespace", "oid", "int4", "text", "oid", "upper",
        ]
        assert cur.fetchone() == ("pg_class", "pg_catalog", "pg_catalog", 1259, 3, "1", 2200, "PG_CLASS")


def test_regnamespace_reads_an_identifier(conn, db):
    """`::regnamespace` reads its text as an identifier: quoted as written, unquoted folded to lower case."""
    schema = f"{db.prefix}_Quoted S"
    conn.execute(f'CREATE SCHEMA "{schema}"')
    try:
        oid = conn.execute("SELECT oid FROM pg_namespace WHERE nspname = %s", (schema,)).fetchone()[0]
        assert conn.execute(f"""SELECT '"{schema}"'::regnamespace::oid, 'PUBLIC'::regnamespace::oid""").fetchone() \
            == (oid, 2200)
    finally:
        conn.execute(f'DROP SCHEMA "{schema}"')
