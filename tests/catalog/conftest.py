"""Target selection, connection parameters, per-test tables and the expected-failure list for the catalog suite.

CATALOG_TARGET=omendb   connect with PGHOST/PGPORT/PGUSER/PGPASSWORD/PGDATABASE over TLS + SCRAM (run.sh
                        exports them); tests listed in expected_failures.txt are xfail(strict=True).
CATALOG_TARGET=postgres connect with the libpq conninfo in OMENDB_TEST_PG, database `postgres`, schema `public`;
                        nothing is xfailed: PostgreSQL defines the expected behaviour, so every test must pass.

The PostgreSQL database is shared between tests and between runs, so every test creates its own tables under
a random `cat_<hex>` prefix (the `db` fixture) and drops them when it ends.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import psycopg
import pytest
import sqlalchemy
from psycopg.pq import TransactionStatus

HERE = Path(__file__).resolve().parent
EXPECTED_FAILURES = HERE / "expected_failures.txt"
TARGETS = ("omendb", "postgres")
APPLICATION_NAME = "omendb-catalog-tests"

# The table most tests look at, created by the `items` fixture as `<prefix>_items`.
ITEMS_DDL = (
    "CREATE TABLE {name} (id bigint PRIMARY KEY, name text NOT NULL DEFAULT 'x', qty integer, "
    "price numeric(10,2), created timestamp, flag boolean, data bytea)"
)


# Which of ITEMS_DDL's columns may be NULL, in column order.
ITEMS_NULLABLE = {
    "id": False,
    "name": False,
    "qty": True,
    "price": True,
    "created": True,
    "flag": True,
    "data": True,
}


def target() -> str:
    return os.environ.get("CATALOG_TARGET", "")


def conn_params(**overrides) -> dict[str, str]:
    """The one place that knows how to reach the server under test (libpq keywords, for psycopg and SQLAlchemy)."""
    if target() == "postgres":
        params = psycopg.conninfo.conninfo_to_dict(os.environ["OMENDB_TEST_PG"])
        params.update({"dbname": "postgres", "connect_timeout": "10"})
    else:
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
    params["application_name"] = APPLICATION_NAME
    params.update(overrides)
    return {key: str(value) for key, value in params.items() if value is not None}


def conninfo(**overrides) -> str:
    return psycopg.conninfo.make_conninfo("", **conn_params(**overrides))


def sqlalchemy_url(**overrides) -> sqlalchemy.URL:
    """`postgresql+psycopg://user:password@host:port/dbname?sslmode=...` from the same parameters as `conninfo`."""
    params = conn_params(**overrides)
    host = params.pop("host", None)
    if host is not None and (host.startswith("/") or "," in host):
        params["host"] = host  # a Unix socket directory or a host list: leave it to libpq
        host = None
    port = params.pop("port", None)
    if port is not None and "," in port:
        params["port"] = port
        port = None
    return sqlalchemy.URL.create(
        "postgresql+psycopg",
        username=params.pop("user", None),
        password=params.pop("password", None),
        host=host,
        port=int(port) if port is not None else None,
        database=params.pop("dbname", None),
        query=params,
    )


def pytest_configure(config: pytest.Config) -> None:
    if target() not in TARGETS:
        raise pytest.UsageError(
            "set CATALOG_TARGET=omendb (with PGHOST/PGPORT/PGUSER/PGPASSWORD) or CATALOG_TARGET=postgres "
            "(with OMENDB_TEST_PG); tests/catalog/run.sh does both"
        )
    if target() == "postgres" and not os.environ.get("OMENDB_TEST_PG"):
        raise pytest.UsageError("CATALOG_TARGET=postgres needs OMENDB_TEST_PG (a libpq conninfo)")
    if target() == "omendb" and not (os.environ.get("PGPORT") and os.environ.get("PGPASSWORD")):
        raise pytest.UsageError("CATALOG_TARGET=omendb needs PGPORT and PGPASSWORD (run.sh exports them)")


def pytest_report_header(config: pytest.Config) -> str:
    return f"catalog target: {target()} (SQLAlchemy {sqlalchemy.__version__}, psycopg {psycopg.__version__})"


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


class Db:
    """Per-test resources: one autocommit psycopg connection and uniquely named tables, dropped by `close`."""

    def __init__(self) -> None:
        self.prefix = f"cat_{uuid.uuid4().hex[:8]}"
        self.dbname = conn_params()["dbname"]
        self._tables: list[str] = []
        self._conn: psycopg.Connection | None = None

    @property
    def conn(self) -> psycopg.Connection:
        if self._conn is None:
            self._conn = psycopg.connect(conninfo(), autocommit=True)
        return self._conn

    def name(self, suffix: str) -> str:
        """`<prefix>_<suffix>`: lower case, so it needs no quoting and the catalogs store it as written."""
        return f"{self.prefix}_{suffix}"

    def adopt(self, name: str) -> str:
        """Drop `name` at the end of the test (for tables created by other means, e.g. SQLAlchemy)."""
        self._tables.append(name)
        return name

    def create(self, suffix: str, ddl: str) -> str:
        """Run `ddl` with `{name}` replaced by `<prefix>_<suffix>`; the table is dropped at the end of the test."""
        name = self.adopt(self.name(suffix))
        self.conn.execute(ddl.format(name=name))
        return name

    def close(self) -> None:
        try:
            if self._tables:
                conn = self.conn
                if conn.closed or conn.info.transaction_status != TransactionStatus.IDLE:
                    if not conn.closed:
                        conn.close()
                    self._conn = None
                    conn = self.conn
                for table in reversed(self._tables):
                    try:
                        conn.execute(f"DROP TABLE IF EXISTS {table}")
                    except psycopg.Error:
                        pass
        except psycopg.Error:
            pass
        finally:
            if self._conn is not None:
                try:
                    self._conn.close()
                except Exception:  # noqa: BLE001 - teardown must not mask the test's own failure
                    pass


@pytest.fixture
def db():
    resources = Db()
    yield resources
    resources.close()


@pytest.fixture
def conn(db) -> psycopg.Connection:
    """An autocommit psycopg connection to the server under test."""
    return db.conn


@pytest.fixture
def sa_url() -> sqlalchemy.URL:
    """SQLAlchemy URL (`postgresql+psycopg://`) of the server under test, from the same parameters as `conn`."""
    return sqlalchemy_url()


@pytest.fixture
def engine(db, sa_url):
    """A SQLAlchemy engine; disposed before `db` drops the test's tables (so no pooled session holds a lock)."""
    eng = sqlalchemy.create_engine(sa_url, poolclass=sqlalchemy.pool.NullPool)
    yield eng
    eng.dispose()


@pytest.fixture
def items(db) -> str:
    """Name of this test's `<prefix>_items` table (ITEMS_DDL)."""
    return db.create("items", ITEMS_DDL)
