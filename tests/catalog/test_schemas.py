"""Schemas and comments as tools see them: SQLAlchemy's Inspector and MetaData.reflect over a schema made by
CREATE SCHEMA, with COMMENT ON texts; psycopg resolving names through search_path. Same assertions on
OmenDB and PostgreSQL."""

from __future__ import annotations

import psycopg
import pytest
import sqlalchemy as sa


def test_sqlalchemy_reflects_a_schema_with_comments(db, conn, engine):
    schema = db.name("s")
    conn.execute(f"CREATE SCHEMA {schema}")
    try:
        conn.execute(f"CREATE TABLE {schema}.orders (id integer PRIMARY KEY, note text, qty integer NOT NULL)")
        conn.execute(f"COMMENT ON TABLE {schema}.orders IS 'customer orders'")
        conn.execute(f"COMMENT ON COLUMN {schema}.orders.note IS 'free text'")
        conn.execute(f"INSERT INTO {schema}.orders VALUES (1, 'first', 2)")
        inspector = sa.inspect(engine)
        assert schema in inspector.get_schema_names()
        assert inspector.get_table_names(schema=schema) == ["orders"]
        assert "orders" not in inspector.get_table_names()
        columns = {c["name"]: c for c in inspector.get_columns("orders", schema=schema)}
        assert list(columns) == ["id", "note", "qty"]
        assert columns["note"]["comment"] == "free text"
        assert columns["id"]["comment"] is None
        assert columns["qty"]["nullable"] is False
        assert inspector.get_table_comment("orders", schema=schema) == {"text": "customer orders"}
        assert inspector.get_pk_constraint("orders", schema=schema)["constrained_columns"] == ["id"]

        metadata = sa.MetaData()
        metadata.reflect(engine, schema=schema)
        orders = metadata.tables[f"{schema}.orders"]
        assert orders.comment == "customer orders"
        with engine.connect() as c:
            assert c.execute(sa.select(orders.c.note)).scalar_one() == "first"

        # A bare name follows search_path.
        conn.execute(f"SET search_path = {schema}, public")
        assert conn.execute("SELECT current_schema()").fetchone() == (schema,)
        assert conn.execute("SELECT qty FROM orders").fetchone() == (2,)
        conn.execute("SET search_path = public")
        assert conn.execute(f"SELECT count(*) FROM {schema}.orders").fetchone() == (1,)
    finally:
        conn.execute("RESET search_path")
        conn.execute(f"DROP SCHEMA {schema} CASCADE")


def test_drop_schema_cascade_takes_everything_in_it(db, conn):
    """DROP SCHEMA ... CASCADE drops the schema's sequences, types, tables (a SERIAL's sequence with its
    table) and views, so the same objects can be made again; without CASCADE it names them (2BP01)."""
    schema = db.name("s")
    ddl = [
        f"CREATE SCHEMA {schema}",
        f"CREATE SEQUENCE {schema}.q",
        f"CREATE TYPE {schema}.mood AS ENUM ('sad', 'ok')",
        f"CREATE TABLE {schema}.t (id serial PRIMARY KEY, m {schema}.mood, tags text[])",
        f"CREATE VIEW {schema}.v AS SELECT id, tags FROM {schema}.t",
        f"INSERT INTO {schema}.t (m, tags) VALUES ('ok', '{{a,b}}')",
    ]
    for statement in ddl:
        conn.execute(statement)
    try:
        with pytest.raises(psycopg.errors.DependentObjectsStillExist):
            conn.execute(f"DROP SCHEMA {schema}")
        conn.execute(f"DROP SCHEMA {schema} CASCADE")
        left = conn.execute(
            "SELECT (SELECT count(*) FROM pg_sequences WHERE schemaname = %(s)s), "
            "(SELECT count(*) FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace WHERE n.nspname = %(s)s), "
            "(SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = %(s)s), "
            "(SELECT count(*) FROM pg_namespace WHERE nspname = %(s)s)",
            {"s": schema},
        ).fetchone()
        assert left == (0, 0, 0, 0)
        for statement in ddl:
            conn.execute(statement)
        assert conn.execute(f"SELECT id, tags FROM {schema}.v").fetchall() == [(1, ["a", "b"])]
    finally:
        conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
