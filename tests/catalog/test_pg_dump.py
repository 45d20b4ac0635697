"""pg_dump, the way a user takes their data out: a table's schema and rows in plain format."""

from __future__ import annotations

import os
import shutil
import subprocess

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
