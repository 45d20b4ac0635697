"""Drives several sessions step by step, the way the Hermitage scripts are run by hand in two psql windows.

Every session owns one connection and one worker thread; each step runs on that thread, so a step that blocks
on a lock never blocks the test. `step` expects the statement to finish (within STEP_TIMEOUT), `step_blocking`
expects it to stay blocked for BLOCK_PROBE seconds and leaves it running until `join`. Connections are in
autocommit mode: transactions are opened and closed with explicit SQL, exactly as the scripts do.
"""

from __future__ import annotations

import concurrent.futures as cf
import uuid
from typing import Any, Callable

import psycopg

# Long enough that a statement which should block but only waits for a slow server still counts as blocked;
# short enough to keep the Hermitage matrix fast.
BLOCK_PROBE = 0.3
# A step that should not block is declared blocked after this long (instead of hanging the suite).
STEP_TIMEOUT = 5.0

SERIALIZATION_FAILURE = "40001"
DEADLOCK_DETECTED = "40P01"


class _Aborted:
    """What a step of a session returns once the server has failed that session with an accepted early 40001."""

    def __repr__(self) -> str:
        return "ABORTED"


ABORTED = _Aborted()


def sqlstate(exc: BaseException) -> str | None:
    return getattr(exc, "sqlstate", None)


def describe(exc: BaseException) -> str:
    return f"{type(exc).__name__} [{sqlstate(exc)}] {exc}".strip()


class Db:
    """Per-test resources: uniquely named tables and every connection opened, all cleaned up by `close`."""

    def __init__(self, conninfo: Callable[..., str], exact: bool):
        self._conninfo = conninfo
        # True on PostgreSQL: it defines the expected outcome, so no alternative outcome is accepted there.
        self.exact = exact
        self.prefix = f"iso_{uuid.uuid4().hex[:8]}_"
        self._conns: list[psycopg.Connection] = []
        self._sessions: list[Sessions] = []
        self._tables: list[str] = []
        self._admin: psycopg.Connection | None = None

    def connect(self, autocommit: bool = True, prepare_threshold: int | None = 5, **overrides) -> psycopg.Connection:
        conn = psycopg.connect(self._conninfo(**overrides), autocommit=autocommit)
        conn.prepare_threshold = prepare_threshold
        self._conns.append(conn)
        return conn

    @property
    def admin(self) -> psycopg.Connection:
        """Autocommit connection for setup and inspection; never prepares, so it never needs DEALLOCATE."""
        if self._admin is None:
            self._admin = self.connect(autocommit=True, prepare_threshold=None)
        return self._admin

    def name(self, suffix: str) -> str:
        return self.prefix + suffix

    def table(self, suffix: str, body: str, rows: str | None = None) -> str:
        """CREATE TABLE <prefix><suffix> (<body>) [and INSERT VALUES <rows>] in autocommit; dropped at close."""
        name = self.name(suffix)
        self.admin.execute(f"CREATE TABLE {name} ({body})")
        self._tables.append(name)
        if rows:
            self.admin.execute(f"INSERT INTO {name} VALUES {rows}")
        return name

    def adopt_table(self, name: str) -> None:
        """Register a table the test creates itself (e.g. inside a transaction) so it is dropped at close."""
        self._tables.append(name)

    def rows(self, query: str) -> list[tuple]:
        return self.admin.execute(query).fetchall()

    def sessions(self, *names: str, **fmt: str) -> "Sessions":
        sessions = Sessions(self, names, fmt, self.exact)
        self._sessions.append(sessions)
        return sessions

    def close(self) -> None:
        # Open transactions first: a DROP would otherwise wait for their locks.
        for sessions in self._sessions:
            sessions.close()
        for conn in self._conns:
            if conn is not self._admin:
                _close_quietly(conn)
        if self._tables:
            try:
                cleaner = self.connect(autocommit=True, prepare_threshold=None)
                for table in reversed(self._tables):
                    try:
                        cleaner.execute(f"DROP TABLE IF EXISTS {table}")
                    except psycopg.Error:
                        pass
            except psycopg.Error:
                pass
        for conn in self._conns:
            _close_quietly(conn)


def _close_quietly(conn: psycopg.Connection) -> None:
    try:
        conn.close()
    except Exception:  # noqa: BLE001 - teardown must not mask the test's own failure
        pass


class Session:
    def __init__(self, name: str, conn: psycopg.Connection):
        self.name = name
        self.conn = conn
        self.worker = cf.ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"session-{name}")
        self.pending: cf.Future | None = None
        self.pending_sql = ""

    def submit(self, query: str, params: Any) -> cf.Future:
        assert self.pending is None or self.pending.done(), (
            f"{self.name} is still running {self.pending_sql!r}; join it first"
        )
        self.pending_sql = query
        self.pending = self.worker.submit(self._execute, query, params)
        return self.pending

    def _execute(self, query: str, params: Any) -> Any:
        cur = self.conn.execute(query, params)
        if cur.description is not None:
            return cur.fetchall()
        return cur.rowcount

    def close(self) -> None:
        if self.pending is not None and not self.pending.done():
            try:
                self.conn.cancel_safe(timeout=3)
            except Exception:  # noqa: BLE001
                pass
            try:
                self.pending.exception(timeout=STEP_TIMEOUT)
            except cf.TimeoutError:
                pass
        _close_quietly(self.conn)
        self.worker.shutdown(wait=False, cancel_futures=True)


class Sessions:
    """Named sessions (T1, T2, ...). SQL may name the test's tables as {t} etc. (str.format with `fmt`)."""

    def __init__(self, db: Db, names: tuple[str, ...], fmt: dict[str, str], exact: bool):
        self.fmt = fmt
        self.exact = exact
        self.s = {name: Session(name, db.connect(autocommit=True)) for name in names}
        self.early_40001_ok: set[str] = set()
        self.aborted: set[str] = set()

    def accept_earlier_40001(self, name: str) -> None:
        """`name` is the transaction PostgreSQL fails with 40001 later in this schedule; on other targets a 40001
        at any earlier step of it is accepted too. The session is then rolled back at once, its remaining steps
        return ABORTED without running, and the expected final failure counts as met. Never on PostgreSQL."""
        if not self.exact:
            self.early_40001_ok.add(name)

    def _sql(self, query: str) -> str:
        return query.format(**self.fmt) if self.fmt else query

    def pid(self, name: str) -> int:
        return self.step(name, "SELECT pg_backend_pid()")[0][0]

    def step(self, name: str, query: str, params: Any = None, timeout: float = STEP_TIMEOUT) -> Any:
        """Runs one statement to completion: rows for a query, the row count otherwise; raises its error."""
        if name in self.aborted:
            return ABORTED
        future = self.s[name].submit(self._sql(query), params)
        try:
            return future.result(timeout=timeout)
        except cf.TimeoutError:
            raise AssertionError(f"{name}: {query!r} did not finish within {timeout} s (blocked?)") from None
        except psycopg.Error as exc:
            if name in self.early_40001_ok and sqlstate(exc) == SERIALIZATION_FAILURE:
                self.aborted.add(name)
                self.s[name].conn.execute("ROLLBACK")
                return ABORTED
            raise

    def expect(self, name: str, query: str, expected: Any, params: Any = None) -> None:
        """Runs one statement and compares its rows (a list of tuples) or its row count (an int)."""
        result = self.step(name, query, params)
        if result is ABORTED:
            return
        assert result == expected, f"{name}: {query!r} returned {result!r}, expected {expected!r}"

    def fails(self, name: str, query: str, state: str, params: Any = None, timeout: float = STEP_TIMEOUT):
        """Runs one statement that must fail with SQLSTATE `state`; returns the error."""
        try:
            result = self.step(name, query, params, timeout)
        except psycopg.Error as exc:
            assert sqlstate(exc) == state, f"{name}: {query!r}: expected SQLSTATE {state}, got {describe(exc)}"
            return exc
        if result is ABORTED and state == SERIALIZATION_FAILURE:
            return None
        raise AssertionError(f"{name}: {query!r}: expected SQLSTATE {state}, but it succeeded: {result!r}")

    def step_blocking(self, name: str, query: str, params: Any = None, probe: float = BLOCK_PROBE) -> None:
        """Starts a statement that must block (on a lock); it keeps running until `join`."""
        future = self.s[name].submit(self._sql(query), params)
        try:
            result = future.result(timeout=probe)
        except cf.TimeoutError:
            return
        except psycopg.Error as exc:
            raise AssertionError(f"{name}: {query!r} should block but failed at once: {describe(exc)}") from None
        raise AssertionError(f"{name}: {query!r} should block but finished at once: {result!r}")

    def start(self, name: str, query: str, params: Any = None) -> None:
        """Starts a statement in the background without any expectation yet; `join` it later."""
        self.s[name].submit(self._sql(query), params)

    def assert_blocked(self, name: str, probe: float = BLOCK_PROBE) -> None:
        session = self.s[name]
        assert session.pending is not None, f"{name} has nothing running"
        done, _ = cf.wait([session.pending], timeout=probe)
        assert not done, f"{name}: {session.pending_sql!r} should still be blocked but finished"

    def join(self, name: str, timeout: float = STEP_TIMEOUT) -> Any:
        """Waits for the blocked statement of `name` and returns its result (or raises its error)."""
        session = self.s[name]
        assert session.pending is not None, f"{name} has nothing to join"
        try:
            return session.pending.result(timeout=timeout)
        except cf.TimeoutError:
            raise AssertionError(
                f"{name}: {session.pending_sql!r} still blocked {timeout} s after join (should have been released)"
            ) from None

    def join_fails(self, name: str, state: str, timeout: float = STEP_TIMEOUT):
        try:
            result = self.join(name, timeout)
        except psycopg.Error as exc:
            assert sqlstate(exc) == state, (
                f"{name}: {self.s[name].pending_sql!r}: expected SQLSTATE {state}, got {describe(exc)}"
            )
            return exc
        raise AssertionError(
            f"{name}: {self.s[name].pending_sql!r}: expected SQLSTATE {state}, but it succeeded: {result!r}"
        )

    def close(self) -> None:
        for session in self.s.values():
            session.close()
