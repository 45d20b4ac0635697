"""Target selection, connection parameters and the expected-failure list for the isolation suite.

ISOLATION_TARGET=omendb   connect with PGHOST/PGPORT/PGUSER/PGPASSWORD/PGDATABASE over TLS + SCRAM (run.sh
                          exports them); tests listed in expected_failures.txt are xfail(strict=True).
ISOLATION_TARGET=postgres connect with the libpq conninfo in OMENDB_TEST_PG, database `postgres`; nothing is
                          xfailed: PostgreSQL defines the expected behaviour, so every test must pass there.
"""

from __future__ import annotations

import os
from pathlib import Path

import psycopg
import pytest

from harness import Db

HERE = Path(__file__).resolve().parent
EXPECTED_FAILURES = HERE / "expected_failures.txt"
TARGETS = ("omendb", "postgres")


def target() -> str:
    return os.environ.get("ISOLATION_TARGET", "")


def conninfo(**overrides) -> str:
    """The one place that knows how to reach the server under test."""
    if target() == "postgres":
        base = os.environ["OMENDB_TEST_PG"]
        params = {"dbname": "postgres", "connect_timeout": "10"}
    else:
        base = ""
        params = {
            "host": os.environ.get("PGHOST", "127.0.0.1"),
            "port": os.environ["PGPORT"],
            "user": os.environ.get("PGUSER", "owner"),
            "password": os.environ["PGPASSWORD"],
            "dbname": os.environ.get("PGDATABASE", "omendb"),
            "sslmode": "require",
            "require_auth": "scram-sha-256",
            "connect_timeout": "10",
        }
    params["application_name"] = "omendb-isolation-tests"
    params.update(overrides)
    return psycopg.conninfo.make_conninfo(base, **params)


def pytest_configure(config: pytest.Config) -> None:
    if target() not in TARGETS:
        raise pytest.UsageError(
            "set ISOLATION_TARGET=omendb (with PGHOST/PGPORT/PGUSER/PGPASSWORD) or ISOLATION_TARGET=postgres "
            "(with OMENDB_TEST_PG); tests/isolation/run.sh does both"
        )
    if target() == "postgres" and not os.environ.get("OMENDB_TEST_PG"):
        raise pytest.UsageError("ISOLATION_TARGET=postgres needs OMENDB_TEST_PG (a libpq conninfo)")
    if target() == "omendb" and not (os.environ.get("PGPORT") and os.environ.get("PGPASSWORD")):
        raise pytest.UsageError("ISOLATION_TARGET=omendb needs PGPORT and PGPASSWORD (run.sh exports them)")


def pytest_report_header(config: pytest.Config) -> str:
    return f"isolation target: {target()}"


def read_expected_failures() -> dict[str, str]:
    """`entry  # reason` per line; an entry is a node id, a test name with parameters, or a bare function name."""
    entries: dict[str, str] = {}
    for number, raw in enumerate(EXPECTED_FAILURES.read_text().splitlines(), 1):
        entry, _, reason = raw.partition("#")
        entry = entry.strip()
        if not entry:
            continue
        if not reason.strip():
            raise pytest.UsageError(f"{EXPECTED_FAILURES.name}:{number}: {entry} has no '# reason'")
        entries[entry] = reason.strip()
    return entries


def _matches(item: pytest.Item, entry: str) -> bool:
    function = getattr(item, "originalname", item.name)
    return entry in (item.nodeid, item.name, function)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    entries = read_expected_failures()
    if target() != "omendb":
        return
    used: set[str] = set()
    for item in items:
        for entry, reason in entries.items():
            if _matches(item, entry):
                item.add_marker(pytest.mark.xfail(strict=True, reason=f"omendb: {reason}"))
                used.add(entry)
                break
    # A stale entry would silently stop protecting anything; only checkable when the whole suite is collected.
    whole_suite = not config.option.keyword and not config.option.markexpr and all(
        Path(arg).resolve() == HERE for arg in config.args
    )
    stale = sorted(set(entries) - used)
    if whole_suite and stale:
        raise pytest.UsageError(f"{EXPECTED_FAILURES.name} names tests that do not exist: {', '.join(stale)}")


@pytest.fixture
def db():
    resources = Db(conninfo, exact=target() == "postgres")
    yield resources
    resources.close()


@pytest.fixture
def orders_customers(db):
    """Two orders of two customers: the tables the locking-over-joins tests lock parts of."""
    orders = db.table("ord", "id int PRIMARY KEY, customer int, total int", "(1, 10, 5), (2, 20, 7)")
    customers = db.table("cust", "id int PRIMARY KEY, name text", "(10, 'ann'), (20, 'bob')")
    return orders, customers
