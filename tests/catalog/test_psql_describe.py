"""psql's describe commands, run by the real psql against the server under test: each must succeed and show
the test's table the way PostgreSQL shows it (names, types, nullability, defaults, primary key). Access
method names and sizes are the server's own and are not compared."""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest

from conftest import conninfo


def psql(*commands: str) -> str:
    exe = shutil.which("psql")
    if exe is None:
        pytest.fail("psql is not installed (scripts/test installs postgresql-client)")
    # psql 15's libpq predates require_auth.
    args = [exe, "-X", "-v", "ON_ERROR_STOP=1", "-P", "pager=off", conninfo(require_auth=None)]
    for c in commands:
        args += ["-c", c]
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    out = subprocess.run(args, capture_output=True, text=True, env=env, timeout=30)
    assert out.returncode == 0 and "ERROR" not in out.stderr, f"psql {commands}: {out.stderr}{out.stdout}"
    return out.stdout


def rows(out: str) -> list[list[str]]:
    """The cells of psql's aligned output, one list per row (header and rule lines included)."""
    return [[c.strip() for c in line.split("|")] for line in out.splitlines() if "|" in line]


def test_dt_lists_the_table(items):
    listed = [r for r in rows(psql(f"\\dt {items}")) if r[1] == items]
    assert listed and listed[0][:3] == ["public", items, "table"]


def test_d_table_columns_and_primary_key(items):
    out = psql(f"\\d {items}")
    assert f'Table "public.{items}"' in out
    cols = {r[0]: r[1:] for r in rows(out)}
    assert cols["id"][:3] == ["bigint", "", "not null"]
    assert cols["name"][:4] == ["text", "", "not null", "'x'::text"]
    assert cols["price"][:3] == ["numeric(10,2)", "", ""]
    assert cols["created"][0] == "timestamp without time zone"
    assert cols["flag"][0] == "boolean"
    assert cols["data"][0] == "bytea"
    assert "Indexes:" in out
    assert f'"{items}_pkey" PRIMARY KEY,' in out and "(id)" in out


def test_d_plus_table(items):
    out = psql(f"\\d+ {items}")
    assert f'Table "public.{items}"' in out
    cols = {r[0]: r[1:] for r in rows(out)}
    assert cols["id"][:3] == ["bigint", "", "not null"]
    assert "Storage" in out.splitlines()[1] or any("Storage" in line for line in out.splitlines()[:3])


def test_di_lists_the_primary_key_index(items):
    listed = [r for r in rows(psql(f"\\di {items}_pkey")) if r[1] == f"{items}_pkey"]
    assert listed and listed[0][2] == "index" and listed[0][4] == items


def test_dn_lists_public():
    assert any(r[0] == "public" for r in rows(psql("\\dn")))


def test_l_lists_the_database():
    dbname = conninfo().split("dbname=")[1].split()[0].strip("'")
    assert any(r[0] == dbname for r in rows(psql("\\l")))


@pytest.mark.parametrize("command", ["\\du", "\\dT", "\\df", "\\dx", "\\dv", "\\ds", "\\dt+", "\\conninfo"])
def test_describe_command_runs(command):
    psql(command)
