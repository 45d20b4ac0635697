"""pg_dump, the way a user takes their data out: a table's schema and rows in plain format, and a custom-format
dump restored by pg_restore into a fresh PostgreSQL database."""

from __future__ import annotations

import os
import shutil
import subprocess

import psycopg
import pytest

from conftest import conn_params


def test_pg_dump_plain_table(db, items):
    db.conn.execute(f"INSERT INTO {items} (id, name, qty, price) VALUES (1, 'a', 2, 3.50), (2, 'b', NULL, NULL)")
    exe = shutil.which("pg_dump")
    if exe is None:
        pytest.fail("pg_dump is not installed (scripts/test installs postgresql-client)")
    params = conn_params(require_auth=None)  # pg_dump 15's libpq predates require_auth
    args = [exe, "--no-owner", "--no-privileges", "-t", items]
    args += [f"--dbname={' '.join(f'{k}={v}' for k, v in params.items() if k != 'application_name')}"]
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    out = subprocess.run(args, capture_output=True, text=True, env=env, timeout=60)
    assert out.returncode == 0, out.stderr
    assert f"CREATE TABLE public.{items}" in out.stdout
    assert f"COPY public.{items} (id, name, qty, price, created, flag, data) FROM stdin;" in out.stdout
    assert "1\ta\t2\t3.50\t\\N\t\\N\t\\N" in out.stdout
    assert f"ADD CONSTRAINT {items}_pkey PRIMARY KEY (id)" in out.stdout


def _dump(items: str, *extra: str) -> subprocess.CompletedProcess:
    exe = shutil.which("pg_dump")
    if exe is None:
        pytest.fail("pg_dump is not installed (scripts/test installs postgresql-client)")
    params = conn_params(require_auth=None)  # pg_dump 15's libpq predates require_auth
    args = [exe, "--no-owner", "--no-privileges", "-t", items, *extra]
    args += [f"--dbname={' '.join(f'{k}={v}' for k, v in params.items() if k != 'application_name')}"]
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    return subprocess.run(args, capture_output=True, env=env, timeout=60)


def test_pg_dump_custom_format_restores_into_postgresql(db, items):
    """A custom-format dump (`-Fc`, what backups use) restores with pg_restore into a fresh PostgreSQL
    database with the same schema and rows: the dump is a real way out."""
    db.conn.execute(
        f"INSERT INTO {items} (id, name, qty, price, created, flag, data) VALUES "
        "(1, 'a', 2, 3.50, '2026-01-02 03:04:05', true, '\\x00ff'), (2, 'tab\there', NULL, NULL, NULL, NULL, NULL)"
    )
    restore = shutil.which("pg_restore")
    if restore is None:
        pytest.fail("pg_restore is not installed (scripts/test installs postgresql-client)")
    pg = os.environ.get("OMENDB_TEST_PG")
    if not pg:
        pytest.fail("restoring needs a PostgreSQL to restore into: set OMENDB_TEST_PG (scripts/test does)")
    dump = _dump(items, "-Fc")
    assert dump.returncode == 0, dump.stderr.decode()
    assert dump.stdout.startswith(b"PGDMP"), dump.stdout[:16]
    scratch = f"restore_{db.prefix}"
    # The PostgreSQL to restore into is reached by OMENDB_TEST_PG alone: the PG* variables name the server
    # under test.
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    pg_params = psycopg.conninfo.conninfo_to_dict(pg)
    pg_params.setdefault("sslmode", "prefer")
    admin = psycopg.connect(**{**pg_params, "dbname": "postgres"}, autocommit=True)
    try:
        admin.execute(f"CREATE DATABASE {scratch}")
        target = psycopg.conninfo.make_conninfo(**{**pg_params, "dbname": scratch})
        out = subprocess.run(
            [restore, "--no-owner", "--exit-on-error", f"--dbname={target}"],
            input=dump.stdout,
            capture_output=True,
            env=env,
            timeout=60,
        )
        assert out.returncode == 0, out.stderr.decode()
        with psycopg.connect(target) as restored:
            rows = restored.execute(
                f"SELECT id, name, qty, price::text, created::text, flag, data FROM {items} ORDER BY id"
            ).fetchall()
            key = restored.execute(
                "SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = %s::regclass AND contype = 'p'",
                (items,),
            ).fetchone()
        assert rows == [
            (1, "a", 2, "3.50", "2026-01-02 03:04:05", True, b"\x00\xff"),
            (2, "tab\there", None, None, None, None, None),
        ]
        assert key == ("PRIMARY KEY (id)",)
    finally:
        admin.execute(f"DROP DATABASE IF EXISTS {scratch}")
        admin.close()


def test_pg_dump_schema_with_an_enum_type_restores_into_postgresql(db):
    """A schema dump (`-n`) carries its enum type (pg_dump reads pg_type / pg_enum through its own SQL
    PREPARE / EXECUTE statements) before the table that uses it, and restores into PostgreSQL with the
    labels in their order and the rows."""
    schema = f"{db.prefix}_s"
    conn = db.conn
    conn.execute(f"CREATE SCHEMA {schema}")
    try:
        conn.execute(f"CREATE TYPE {schema}.mood AS ENUM ('sad', 'ok', 'happy')")
        conn.execute(f"ALTER TYPE {schema}.mood ADD VALUE 'meh' BEFORE 'ok'")
        conn.execute(f"CREATE TABLE {schema}.t (id integer PRIMARY KEY, m {schema}.mood DEFAULT 'ok')")
        conn.execute(f"INSERT INTO {schema}.t VALUES (1, 'happy'), (2, 'meh'), (3, NULL)")
        exe = shutil.which("pg_dump")
        if exe is None:
            pytest.fail("pg_dump is not installed (scripts/test installs postgresql-client)")
        params = conn_params(require_auth=None)
        args = [exe, "--no-owner", "--no-privileges", "-n", schema]
        args += [f"--dbname={' '.join(f'{k}={v}' for k, v in params.items() if k != 'application_name')}"]
        env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
        dump = subprocess.run(args, capture_output=True, text=True, env=env, timeout=60)
        assert dump.returncode == 0, dump.stderr
        text = dump.stdout
        assert f"CREATE TYPE {schema}.mood AS ENUM (\n    'sad',\n    'meh',\n    'ok',\n    'happy'\n);" in text
        assert text.index(f"CREATE TYPE {schema}.mood") < text.index(f"CREATE TABLE {schema}.t")
        pg = os.environ.get("OMENDB_TEST_PG")
        if not pg:
            pytest.fail("restoring needs a PostgreSQL to restore into: set OMENDB_TEST_PG (scripts/test does)")
        scratch = f"restore_{db.prefix}"
        pg_params = psycopg.conninfo.conninfo_to_dict(pg)
        pg_params.setdefault("sslmode", "prefer")
        admin = psycopg.connect(**{**pg_params, "dbname": "postgres"}, autocommit=True)
        try:
            admin.execute(f"CREATE DATABASE {scratch}")
            with psycopg.connect(**{**pg_params, "dbname": scratch}, autocommit=True) as restored:
                restored.execute(_without_psql_meta(text))
                rows = restored.execute(f"SELECT id, m::text AS label FROM {schema}.t ORDER BY m, id").fetchall()
                labels = restored.execute(
                    "SELECT enumlabel FROM pg_enum WHERE enumtypid = %s::regtype ORDER BY enumsortorder",
                    (f"{schema}.mood",),
                ).fetchall()
            assert rows == [(2, "meh"), (1, "happy"), (3, None)]
            assert [r[0] for r in labels] == ["sad", "meh", "ok", "happy"]
        finally:
            admin.execute(f"DROP DATABASE IF EXISTS {scratch}")
            admin.close()
    finally:
        conn.execute(f"DROP SCHEMA {schema} CASCADE")


def _without_psql_meta(dump: str) -> str:
    """A plain dump as one script psycopg can send: psql's meta-commands (`\\restrict`) dropped, and each
    COPY block's rows as INSERTs (COPY's inline data is psql's to send)."""
    out, rows, copy = [], [], None
    for line in dump.splitlines():
        if copy is not None:
            if line == "\\.":
                for r in rows:
                    values = ", ".join("NULL" if v == "\\N" else "'" + v.replace("'", "''") + "'" for v in r)
                    out.append(f"INSERT INTO {copy} VALUES ({values});")
                copy, rows = None, []
            else:
                rows.append(line.split("\t"))
            continue
        if line.startswith("\\"):
            continue
        if line.startswith("COPY ") and line.endswith("FROM stdin;"):
            copy = line[len("COPY "):line.index(" (")]
            continue
        out.append(line)
    return "\n".join(out)


def _client(tool: str, *args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess:
    """Runs pg_dump, pg_restore or psql against the server under test (its conninfo, no PG* variables)."""
    exe = shutil.which(tool)
    if exe is None:
        pytest.fail(f"{tool} is not installed (scripts/test installs postgresql-client)")
    params = conn_params(require_auth=None)  # libpq 15 predates require_auth
    target = " ".join(f"{k}={v}" for k, v in params.items() if k != "application_name")
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    return subprocess.run([exe, *args, f"--dbname={target}"], input=stdin, capture_output=True, env=env,
                          timeout=120)


def test_a_schema_backup_restores_into_the_same_server(db, conn):
    """A backup and restore on one server (OmenDB, and PostgreSQL where the suite also runs): a schema with
    an enum type, a SERIAL column, a foreign key, an index, an array column and a comment, dumped in the
    custom format, dropped, restored with pg_restore; then dumped plain, dropped and restored with psql.
    The rows, the comment and the sequence's position come back."""
    schema = db.name("bk")
    conn.execute(f"CREATE SCHEMA {schema}")
    try:
        conn.execute(f"CREATE TYPE {schema}.mood AS ENUM ('sad', 'ok', 'happy')")
        conn.execute(f"CREATE TABLE {schema}.customer (id serial PRIMARY KEY, name text NOT NULL, "
                     f"m {schema}.mood DEFAULT 'ok', note varchar(20))")
        conn.execute(f"CREATE TABLE {schema}.orders (id bigint PRIMARY KEY, customer_id integer REFERENCES "
                     f"{schema}.customer (id), total numeric(10,2), tags text[], placed timestamp)")
        conn.execute(f"CREATE INDEX ON {schema}.orders (customer_id)")
        conn.execute(f"COMMENT ON TABLE {schema}.customer IS 'people'")
        conn.execute(f"INSERT INTO {schema}.customer (name, m, note) VALUES ('ann', 'happy', 'x'), ('bob', NULL, NULL)")
        conn.execute(f"INSERT INTO {schema}.orders VALUES (1, 1, 12.50, '{{a,b}}', '2026-01-02 03:04:05'), "
                     "(2, 2, 3, NULL, NULL)")

        def state():
            return (
                conn.execute(f"SELECT id, name, m::text, note FROM {schema}.customer ORDER BY id").fetchall(),
                conn.execute(f"SELECT id, customer_id, total::text, tags, placed::text FROM {schema}.orders "
                             "ORDER BY id").fetchall(),
                conn.execute(f"SELECT obj_description('{schema}.customer'::regclass, 'pg_class')").fetchone(),
            )

        before = state()
        assert before[0] == [(1, "ann", "happy", "x"), (2, "bob", None, None)]
        custom = _client("pg_dump", "--no-owner", "--no-privileges", "-Fc", "-n", schema)
        assert custom.returncode == 0, custom.stderr.decode()
        plain = _client("pg_dump", "--no-owner", "--no-privileges", "-n", schema)
        assert plain.returncode == 0, plain.stderr.decode()

        conn.execute(f"DROP SCHEMA {schema} CASCADE")
        out = _client("pg_restore", "--no-owner", "--exit-on-error", stdin=custom.stdout)
        assert out.returncode == 0, out.stderr.decode()
        assert state() == before
        # The sequence carries on where it was, and the foreign key holds.
        assert conn.execute(f"SELECT nextval('{schema}.customer_id_seq')").fetchone() == (3,)
        with pytest.raises(psycopg.errors.ForeignKeyViolation):
            conn.execute(f"INSERT INTO {schema}.orders (id, customer_id) VALUES (3, 99)")

        conn.execute(f"DROP SCHEMA {schema} CASCADE")
        out = _client("psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-f", "-", stdin=plain.stdout)
        assert out.returncode == 0, out.stderr.decode()
        assert state() == before
    finally:
        conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
