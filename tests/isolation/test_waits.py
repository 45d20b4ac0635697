"""A session waiting for a lock is visible the way monitoring queries (and people) look for it:
pg_stat_activity, pg_locks and pg_blocking_pids()."""

from __future__ import annotations

import random

import pytest


@pytest.fixture
def row_wait(db):
    """T1 holds an updated row; T2 waits to update it. Returns (sessions, observer connection, t1 pid, t2 pid)."""
    table = db.table("w", "id int PRIMARY KEY, v int", "(1, 0)")
    s = db.sessions("T1", "T2", t=table)
    t1, t2 = s.pid("T1"), s.pid("T2")
    s.step("T1", "BEGIN")
    s.expect("T1", "UPDATE {t} SET v = 1 WHERE id = 1", 1)
    s.step_blocking("T2", "UPDATE {t} SET v = 2 WHERE id = 1")
    yield s, db.admin, t1, t2
    s.step("T1", "COMMIT")
    assert s.join("T2") == 1


def test_pg_stat_activity_shows_lock_wait(row_wait):
    s, observer, t1, t2 = row_wait
    rows = observer.execute(
        "SELECT pid, wait_event_type, state FROM pg_stat_activity WHERE pid IN (%s, %s) ORDER BY pid",
        (t1, t2),
    ).fetchall()
    by_pid = {pid: (wait_event_type, state) for pid, wait_event_type, state in rows}
    assert by_pid.get(t2) == ("Lock", "active"), rows
    # PostgreSQL reports an idle session as waiting for its client (Client / ClientRead); no wait is fine too.
    assert t1 in by_pid and by_pid[t1][1] == "idle in transaction", rows
    assert by_pid[t1][0] in (None, "Client"), rows


def test_pg_stat_activity_names_the_wait(row_wait):
    s, observer, t1, t2 = row_wait
    # A row-lock wait is a wait for the holder's transaction to end.
    assert observer.execute(
        "SELECT wait_event FROM pg_stat_activity WHERE pid = %s", (t2,)
    ).fetchall() == [("transactionid",)]


def test_pg_locks_shows_ungranted_lock(row_wait):
    s, observer, t1, t2 = row_wait
    rows = observer.execute("SELECT locktype, granted, pid FROM pg_locks WHERE NOT granted").fetchall()
    assert any(pid == t2 for _, _, pid in rows), rows
    assert all(granted is False for _, granted, _ in rows)


def test_pg_blocking_pids_names_the_blocker(row_wait):
    s, observer, t1, t2 = row_wait
    assert observer.execute("SELECT pg_blocking_pids(%s)", (t2,)).fetchone()[0] == [t1]
    assert observer.execute("SELECT pg_blocking_pids(%s)", (t1,)).fetchone()[0] == []


def test_advisory_lock_wait_is_visible(db):
    key = random.getrandbits(62)
    s = db.sessions("A", "B")
    a, b = s.pid("A"), s.pid("B")
    s.step("A", f"SELECT pg_advisory_lock({key})")
    s.step_blocking("B", f"SELECT pg_advisory_lock({key})")
    observer = db.admin
    assert observer.execute(
        "SELECT wait_event_type, wait_event FROM pg_stat_activity WHERE pid = %s", (b,)
    ).fetchall() == [("Lock", "advisory")]
    assert observer.execute(
        "SELECT locktype, mode, granted FROM pg_locks WHERE pid = %s AND locktype = 'advisory'", (b,)
    ).fetchall() == [("advisory", "ExclusiveLock", False)]
    assert observer.execute("SELECT pg_blocking_pids(%s)", (b,)).fetchone()[0] == [a]
    s.step("A", f"SELECT pg_advisory_unlock({key})")
    s.join("B")
    s.step("B", f"SELECT pg_advisory_unlock({key})")
