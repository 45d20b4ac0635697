"""pgbench as its users run it: `pgbench -i` (CREATE TABLE, TRUNCATE + COPY ... FREEZE in one transaction,
VACUUM, ALTER TABLE ... ADD PRIMARY KEY), then the built-in TPC-B-like script from several clients, then the
invariants TPC-B keeps: every balance table sums to the history's deltas, one history row per transaction.
Same assertions on both servers. pgbench's tables have fixed names: the test drops them when it ends."""

from __future__ import annotations

import os
import re
import shutil
import subprocess

import psycopg
import pytest

from conftest import conn_params, conninfo

TABLES = ("pgbench_accounts", "pgbench_branches", "pgbench_history", "pgbench_tellers")


def _pgbench(*args: str) -> subprocess.CompletedProcess:
    exe = shutil.which("pgbench")
    if exe is None:
        pytest.fail("pgbench is not installed (scripts/test installs postgresql-client)")
    params = conn_params(require_auth=None)  # pgbench 15's libpq predates require_auth
    dsn = " ".join(f"{k}={v}" for k, v in params.items() if k != "application_name")
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    out = subprocess.run([exe, *args, dsn], capture_output=True, text=True, env=env, timeout=300)
    assert out.returncode == 0, out.stderr
    return out


@pytest.fixture
def pgbench_tables():
    yield
    with psycopg.connect(conninfo(), autocommit=True) as c:
        c.execute(f"DROP TABLE IF EXISTS {', '.join(TABLES)}")


def test_pgbench_initialize_and_run_tpcb(pgbench_tables):
    init = _pgbench("-i", "-s", "1")
    assert "creating primary keys" in init.stderr
    with psycopg.connect(conninfo(), autocommit=True) as c:
        counts = [c.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in TABLES]
        assert counts == [100_000, 1, 0, 10]
        # The primary keys pgbench added with ALTER TABLE are enforced.
        with pytest.raises(psycopg.errors.UniqueViolation):
            c.execute("INSERT INTO pgbench_branches (bid, bbalance) VALUES (1, 0)")
    run = _pgbench("-c", "3", "-t", "100", "--no-vacuum")
    processed = int(re.search(r"number of transactions actually processed: (\d+)", run.stdout).group(1))
    assert processed == 300
    with psycopg.connect(conninfo(), autocommit=True) as c:
        sums = c.execute(
            "SELECT (SELECT sum(abalance) FROM pgbench_accounts), (SELECT sum(bbalance) FROM pgbench_branches),"
            " (SELECT sum(tbalance) FROM pgbench_tellers), (SELECT sum(delta) FROM pgbench_history),"
            " (SELECT count(*) FROM pgbench_history)").fetchone()
        assert sums[0] == sums[1] == sums[2] == sums[3]
        assert sums[4] == 300


def test_alter_table_errors_read_as_postgres(db):
    t = db.create("alt", "CREATE TABLE {name} (id integer, v text)")
    db.conn.execute(f"INSERT INTO {t} VALUES (1, 'a'), (1, 'b'), (2, NULL)")
    with pytest.raises(psycopg.errors.UniqueViolation) as e:
        db.conn.execute(f"ALTER TABLE {t} ADD PRIMARY KEY (id)")
    assert e.value.diag.message_primary == f'could not create unique index "{t}_pkey"'
    assert e.value.diag.message_detail == "Key (id)=(1) is duplicated."
    with pytest.raises(psycopg.errors.NotNullViolation) as e:
        db.conn.execute(f"ALTER TABLE {t} ALTER COLUMN v SET NOT NULL")
    assert e.value.diag.message_primary == f'column "v" of relation "{t}" contains null values'
    with pytest.raises(psycopg.errors.DatatypeMismatch) as e:
        db.conn.execute(f"ALTER TABLE {t} ALTER COLUMN v TYPE integer")
    assert e.value.diag.message_primary == 'column "v" cannot be cast automatically to type integer'
    assert e.value.diag.message_hint == 'You might need to specify "USING v::integer".'
    with pytest.raises(psycopg.errors.InvalidTextRepresentation) as e:
        db.conn.execute(f"ALTER TABLE {t} ALTER COLUMN v TYPE integer USING v::integer")
    assert e.value.diag.message_primary == 'invalid input syntax for type integer: "a"'
    with pytest.raises(psycopg.errors.DuplicateColumn) as e:
        db.conn.execute(f"ALTER TABLE {t} ADD COLUMN v text")
    assert e.value.diag.message_primary == f'column "v" of relation "{t}" already exists'
    # Nothing of the failed statements stayed.
    rows = db.conn.execute(f"SELECT id, v FROM {t} ORDER BY id, v").fetchall()
    assert rows == [(1, "a"), (1, "b"), (2, None)]
