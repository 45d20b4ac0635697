"""Raw pg_catalog and information_schema queries, the kind ORMs, drivers and GUI tools send.

Every query is restricted to the test's own `<prefix>_items` table (ITEMS_DDL in conftest.py) and ordered, so
its answer is the same on OmenDB and PostgreSQL for the same DDL. OIDs are only ever compared with each other,
never with numbers. One query per test, so expected failures stay fine-grained.
"""

from __future__ import annotations

import psycopg
import pytest

from conftest import target

INVALID_PARAMETER_VALUE = "22023"

# (attname, attnum, attnotnull, atthasdef, format_type) of ITEMS_DDL.
ITEMS_ATTRIBUTES = [
    ("id", 1, True, False, "bigint"),
    ("name", 2, True, True, "text"),
    ("qty", 3, False, False, "integer"),
    ("price", 4, False, False, "numeric(10,2)"),
    ("created", 5, False, False, "timestamp without time zone"),
    ("flag", 6, False, False, "boolean"),
    ("data", 7, False, False, "bytea"),
]


def one(conn: psycopg.Connection, query: str, params=None):
    rows = conn.execute(query, params).fetchall()
    assert len(rows) == 1 and len(rows[0]) == 1, rows
    return rows[0][0]


# --- pg_catalog ---------------------------------------------------------------------------------------------


def test_pg_class(conn, items):
    rows = conn.execute(
        """SELECT relname, relkind, relnatts, relhasindex, relpersistence
             FROM pg_catalog.pg_class
            WHERE relname IN (%s, %s)
            ORDER BY relname""",
        (items, f"{items}_pkey"),
    ).fetchall()
    assert rows == [
        (items, "r", 7, True, "p"),
        (f"{items}_pkey", "i", 1, False, "p"),
    ]


def test_pg_class_namespace(conn, items):
    rows = conn.execute(
        """SELECT c.relname, n.nspname
             FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
            WHERE c.relname LIKE %s
            ORDER BY c.relname""",
        (f"{items}%",),
    ).fetchall()
    assert rows == [(items, "public"), (f"{items}_pkey", "public")]


def test_pg_attribute(conn, items):
    rows = conn.execute(
        """SELECT a.attname, a.attnum, a.attnotnull, a.atthasdef, pg_catalog.format_type(a.atttypid, a.atttypmod)
             FROM pg_catalog.pg_attribute a JOIN pg_catalog.pg_class c ON c.oid = a.attrelid
            WHERE c.relname = %s AND a.attnum > 0 AND NOT a.attisdropped
            ORDER BY a.attnum""",
        (items,),
    ).fetchall()
    assert rows == ITEMS_ATTRIBUTES


def test_pg_index(conn, items):
    rows = conn.execute(
        """SELECT ic.relname, i.indisprimary, i.indisunique, i.indnatts
             FROM pg_catalog.pg_index i
             JOIN pg_catalog.pg_class c ON c.oid = i.indrelid
             JOIN pg_catalog.pg_class ic ON ic.oid = i.indexrelid
            WHERE c.relname = %s
            ORDER BY ic.relname""",
        (items,),
    ).fetchall()
    assert rows == [(f"{items}_pkey", True, True, 1)]


def test_pg_constraint(conn, items):
    # contype 'n' (NOT NULL constraints) only exists from PostgreSQL 18 on; the reference is 15.
    rows = conn.execute(
        """SELECT co.conname, co.contype
             FROM pg_catalog.pg_constraint co JOIN pg_catalog.pg_class c ON c.oid = co.conrelid
            WHERE c.relname = %s AND co.contype <> 'n'
            ORDER BY co.conname""",
        (items,),
    ).fetchall()
    assert rows == [(f"{items}_pkey", "p")]


def test_pg_attrdef(conn, items):
    rows = conn.execute(
        """SELECT a.attname, pg_catalog.pg_get_expr(d.adbin, d.adrelid)
             FROM pg_catalog.pg_attrdef d
             JOIN pg_catalog.pg_class c ON c.oid = d.adrelid
             JOIN pg_catalog.pg_attribute a ON a.attrelid = d.adrelid AND a.attnum = d.adnum
            WHERE c.relname = %s
            ORDER BY d.adnum""",
        (items,),
    ).fetchall()
    assert rows == [("name", "'x'::text")]


def test_pg_namespace(conn):
    names = {row[0] for row in conn.execute("SELECT nspname FROM pg_catalog.pg_namespace").fetchall()}
    assert {"public", "pg_catalog"} <= names


def test_pg_type_int4(conn):
    rows = conn.execute(
        "SELECT typname, typlen, typtype, typcategory FROM pg_catalog.pg_type WHERE typname = 'int4'"
    ).fetchall()
    assert rows == [("int4", 4, "b", "N")]


def test_pg_settings_work_mem(conn):
    rows = conn.execute(
        "SELECT name, setting, unit, vartype, context FROM pg_catalog.pg_settings WHERE name = 'work_mem'"
    ).fetchall()
    assert rows == [("work_mem", "4096", "kB", "integer", "user")]


# --- functions ----------------------------------------------------------------------------------------------


def test_version(conn):
    version = one(conn, "SELECT pg_catalog.version()")
    assert isinstance(version, str) and version.startswith("PostgreSQL "), version


def test_server_version_num(conn):
    value = one(conn, "SELECT current_setting('server_version_num')")
    assert isinstance(value, str) and value.isdigit(), value
    if target() == "omendb":
        assert int(value) >= 150000, value


def test_current_schema(conn):
    assert one(conn, "SELECT current_schema()") == "public"


def test_current_database(conn, db):
    assert one(conn, "SELECT current_database()") == db.dbname


def test_pg_table_is_visible(conn, items):
    assert one(conn, "SELECT pg_catalog.pg_table_is_visible(%s::regclass)", (items,)) is True


def test_regclass_oid_join(conn, items):
    rows = conn.execute(
        f"""SELECT c.relname, c.relkind
              FROM pg_catalog.pg_class c
             WHERE '{items}'::regclass::oid = c.oid"""
    ).fetchall()
    assert rows == [(items, "r")]


def test_reg_casts_print_names_and_bound_parameters_cast(conn, items):
    # A regclass or regtype a query returns prints as its name; a bound parameter casts like a literal.
    row = conn.execute(
        "SELECT %s::regclass, %s::regtype, 'int8'::regtype, %s::regclass::oid = c.oid "
        "FROM pg_catalog.pg_class c WHERE c.relname = %s",
        (items, "int4", items, items),
    ).fetchone()
    assert row == (items, "integer", "bigint", True)
    names = [d.name for d in conn.execute("SELECT 'int4'::regtype, %s::regclass", (items,)).description]
    assert names == ["regtype", "regclass"]
    with pytest.raises(psycopg.errors.UndefinedTable):
        conn.execute("SELECT %s::regclass", ("no_such_relation",))
    with pytest.raises(psycopg.errors.UndefinedObject):
        conn.execute("SELECT %s::regtype", ("no_such_type",))


def test_set_config(conn):
    assert one(conn, "SELECT set_config('application_name', 'x', false)") == "x"
    assert one(conn, "SHOW application_name") == "x"
    assert one(conn, "SELECT current_setting('application_name')") == "x"


# --- SET / SHOW ---------------------------------------------------------------------------------------------


def test_show_work_mem_default(conn):
    assert one(conn, "SHOW work_mem") == "4MB"


def test_set_work_mem(conn):
    conn.execute("SET work_mem = '64MB'")
    assert one(conn, "SHOW work_mem") == "64MB"


def test_set_work_mem_invalid(conn):
    with pytest.raises(psycopg.Error) as caught:
        conn.execute("SET work_mem = 'lots'")
    assert caught.value.sqlstate == INVALID_PARAMETER_VALUE, caught.value
    assert one(conn, "SHOW work_mem") == "4MB"  # unchanged, and the session still works


# --- information_schema -------------------------------------------------------------------------------------


def test_information_schema_tables(conn, items):
    rows = conn.execute(
        """SELECT table_schema, table_name, table_type
             FROM information_schema.tables
            WHERE table_name = %s""",
        (items,),
    ).fetchall()
    assert rows == [("public", items, "BASE TABLE")]


def test_information_schema_columns(conn, items):
    rows = conn.execute(
        """SELECT column_name, ordinal_position, data_type, is_nullable, column_default,
                  numeric_precision, numeric_scale, character_maximum_length
             FROM information_schema.columns
            WHERE table_schema = 'public' AND table_name = %s
            ORDER BY ordinal_position""",
        (items,),
    ).fetchall()
    assert rows == [
        ("id", 1, "bigint", "NO", None, 64, 0, None),
        ("name", 2, "text", "NO", "'x'::text", None, None, None),
        ("qty", 3, "integer", "YES", None, 32, 0, None),
        ("price", 4, "numeric", "YES", None, 10, 2, None),
        ("created", 5, "timestamp without time zone", "YES", None, None, None, None),
        ("flag", 6, "boolean", "YES", None, None, None, None),
        ("data", 7, "bytea", "YES", None, None, None, None),
    ]


def test_information_schema_table_constraints(conn, items):
    # PostgreSQL also lists each NOT NULL column as a CHECK constraint named after OIDs; those are left out.
    rows = conn.execute(
        """SELECT constraint_schema, constraint_name, table_schema, table_name, constraint_type
             FROM information_schema.table_constraints
            WHERE table_name = %s AND constraint_type <> 'CHECK'
            ORDER BY constraint_name""",
        (items,),
    ).fetchall()
    assert rows == [("public", f"{items}_pkey", "public", items, "PRIMARY KEY")]


def test_information_schema_key_column_usage(conn, items):
    rows = conn.execute(
        """SELECT constraint_name, table_schema, table_name, column_name, ordinal_position
             FROM information_schema.key_column_usage
            WHERE table_name = %s
            ORDER BY constraint_name, ordinal_position""",
        (items,),
    ).fetchall()
    assert rows == [(f"{items}_pkey", "public", items, "id", 1)]


def test_information_schema_schemata(conn):
    names = {row[0] for row in conn.execute("SELECT schema_name FROM information_schema.schemata").fetchall()}
    assert "public" in names


def test_notices_for_if_exists_and_if_not_exists(conn, db):
    notices = []
    conn.add_notice_handler(lambda d: notices.append((d.sqlstate, d.message_primary)))
    name = db.name("noticed")
    conn.execute(f"DROP TABLE IF EXISTS {name}")
    db.create("noticed", "CREATE TABLE IF NOT EXISTS {name} (id integer PRIMARY KEY)")
    conn.execute(f"CREATE TABLE IF NOT EXISTS {name} (id integer PRIMARY KEY)")
    assert notices == [
        ("00000", f'table "{name}" does not exist, skipping'),
        ("42P07", f'relation "{name}" already exists, skipping'),
    ]


def test_array_subqueries_over_an_outer_array_and_catalog_casts(conn):
    # pg_dump's shapes: ARRAY(SELECT ... FROM unnest(outer.a) ...) and pg_options_to_table(outer.options).
    row = conn.execute(
        "SELECT ARRAY(SELECT upper(x) FROM unnest(a) AS t(x) ORDER BY x DESC), "
        "array_to_string(ARRAY(SELECT quote_ident(option_name) || ' ' || quote_literal(option_value) "
        "FROM pg_catalog.pg_options_to_table(o) ORDER BY option_name), ', ') "
        "FROM (SELECT ARRAY['b', 'a', 'c'] AS a, ARRAY['size=10', 'mode=it''s'] AS o) s"
    ).fetchone()
    assert row == (["C", "B", "A"], "mode 'it''s', size '10'")
    row = conn.execute(
        "SELECT '{11,2200}'::pg_catalog.oid[] = ARRAY['pg_catalog'::regnamespace, 'public'::regnamespace]::oid[], "
        "quote_literal(E'a\\\\b'), 'x' <> ALL ('{a,\"x\",NULL}'::text[]), 'y' <> ALL ('{a,NULL}')"
    ).fetchone()
    assert row == (True, "E'a\\\\b'", False, None)


def test_name_columns_are_type_name(conn, items):
    """Catalog `name` columns go out as `name` (19), `array_agg` of one as `name[]` (1003), and a cast or an
    expression of one as what it is: drivers parse them differently (node-postgres leaves `name[]` as text,
    which Sequelize's showIndex parses)."""
    cur = conn.execute(
        "SELECT c.relname, c.relname::text, upper(c.relname), array_agg(a.attname) AS names, "
        "array_agg(a.attname || '') AS texts "
        "FROM pg_class c JOIN pg_attribute a ON a.attrelid = c.oid "
        "WHERE c.relname = %s AND a.attnum > 0 GROUP BY c.relname",
        (items,),
    )
    assert [d.type_code for d in cur.description] == [19, 25, 25, 1003, 1009]
    row = cur.fetchone()
    assert row[0] == items and row[3] == row[4] and "id" in row[3]


def test_index_column_options(conn, db):
    """DESC / NULLS FIRST / NULLS LAST of CREATE INDEX: pg_index.indoption (1 DESC, 2 NULLS FIRST) and
    pg_get_indexdef, as PostgreSQL keeps them."""
    t = db.create("opts", "CREATE TABLE {name} (id int PRIMARY KEY, created int, tag text)")
    conn.execute(f"CREATE INDEX {t}_a ON {t} (created DESC, tag NULLS FIRST)")
    conn.execute(f"CREATE INDEX {t}_b ON {t} (tag DESC NULLS LAST, id)")
    rows = conn.execute(
        "SELECT c.relname, i.indoption, pg_get_indexdef(i.indexrelid) FROM pg_index i "
        "JOIN pg_class c ON c.oid = i.indexrelid WHERE i.indrelid = %s::regclass AND NOT i.indisprimary "
        "ORDER BY c.relname",
        (t,),
    ).fetchall()
    assert [(r[0], r[1]) for r in rows] == [(f"{t}_a", "3 2"), (f"{t}_b", "1 0")]
    assert rows[0][2].endswith("(created DESC, tag NULLS FIRST)"), rows[0][2]
    assert rows[1][2].endswith("(tag DESC NULLS LAST, id)"), rows[1][2]
