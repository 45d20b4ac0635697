"""Advisory locks: session and transaction scope, exclusive and shared, bigint and (int4, int4) keys.

Advisory locks are shared by the whole database, so every test draws random keys: two runs (or two targets
on one server) never contend.
"""

from __future__ import annotations

import random
import time

import pytest


@pytest.fixture
def key():
    return random.getrandbits(62)


@pytest.fixture
def s(db):
    return db.sessions("A", "B", "C")


def one(s, name, query):
    return s.step(name, query)[0][0]


def test_session_lock_blocks_and_is_reentrant(s, key):
    s.step("A", f"SELECT pg_advisory_lock({key})")
    s.step("A", f"SELECT pg_advisory_lock({key})")  # same session: counts up, never waits
    assert one(s, "B", f"SELECT pg_try_advisory_lock({key})") is False
    s.step_blocking("B", f"SELECT pg_advisory_lock({key})")
    assert one(s, "A", f"SELECT pg_advisory_unlock({key})") is True
    s.assert_blocked("B")  # A still holds it once
    assert one(s, "A", f"SELECT pg_advisory_unlock({key})") is True
    s.join("B")
    assert one(s, "A", f"SELECT pg_try_advisory_lock({key})") is False
    assert one(s, "B", f"SELECT pg_advisory_unlock({key})") is True


def test_session_lock_survives_commit_and_rollback(s, key):
    s.step("A", "BEGIN")
    s.step("A", f"SELECT pg_advisory_lock({key})")
    s.step("A", "ROLLBACK")
    # Session-level locks ignore transaction boundaries, even the one that took them.
    assert one(s, "B", f"SELECT pg_try_advisory_lock({key})") is False
    assert one(s, "A", f"SELECT pg_advisory_unlock({key})") is True
    assert one(s, "B", f"SELECT pg_try_advisory_lock({key})") is True


def test_try_lock_returns_false_while_held(s, key):
    assert one(s, "A", f"SELECT pg_try_advisory_lock({key})") is True
    assert one(s, "B", f"SELECT pg_try_advisory_lock({key})") is False
    assert one(s, "B", f"SELECT pg_try_advisory_lock({key + 1})") is True  # other keys are independent
    assert one(s, "A", f"SELECT pg_advisory_unlock({key})") is True
    assert one(s, "B", f"SELECT pg_try_advisory_lock({key})") is True


def test_xact_lock_released_at_commit(s, key):
    s.step("A", "BEGIN")
    s.step("A", f"SELECT pg_advisory_xact_lock({key})")
    assert one(s, "B", f"SELECT pg_try_advisory_lock({key})") is False
    s.step_blocking("B", f"SELECT pg_advisory_xact_lock({key})")  # B is in autocommit: its own transaction
    s.step("A", "COMMIT")
    s.join("B")
    assert one(s, "C", f"SELECT pg_try_advisory_xact_lock({key})") is True  # B's autocommit transaction ended


def test_xact_lock_released_at_rollback(s, key):
    s.step("A", "BEGIN")
    assert one(s, "A", f"SELECT pg_try_advisory_xact_lock({key})") is True
    assert one(s, "B", f"SELECT pg_try_advisory_lock({key})") is False
    s.step("A", "ROLLBACK")
    assert one(s, "B", f"SELECT pg_try_advisory_lock({key})") is True


def test_shared_locks_compatible_with_each_other_not_with_exclusive(s, key):
    s.step("A", f"SELECT pg_advisory_lock_shared({key})")
    assert one(s, "B", f"SELECT pg_try_advisory_lock_shared({key})") is True
    assert one(s, "C", f"SELECT pg_try_advisory_lock({key})") is False
    s.step_blocking("C", f"SELECT pg_advisory_lock({key})")
    assert one(s, "A", f"SELECT pg_advisory_unlock_shared({key})") is True
    s.assert_blocked("C")  # B still shares it
    assert one(s, "B", f"SELECT pg_advisory_unlock_shared({key})") is True
    s.join("C")
    assert one(s, "A", f"SELECT pg_try_advisory_lock_shared({key})") is False
    assert one(s, "C", f"SELECT pg_advisory_unlock({key})") is True
    assert one(s, "A", f"SELECT pg_try_advisory_lock_shared({key})") is True


def test_shared_and_exclusive_unlock_are_separate(s, key):
    s.step("A", f"SELECT pg_advisory_lock_shared({key})")
    # Unlocking the exclusive mode of a key held shared does not release it.
    assert one(s, "A", f"SELECT pg_advisory_unlock({key})") is False
    assert one(s, "B", f"SELECT pg_try_advisory_lock({key})") is False
    assert one(s, "A", f"SELECT pg_advisory_unlock_shared({key})") is True


def test_two_int4_key_form(s):
    high, low = random.getrandbits(31), random.getrandbits(31)
    s.step("A", f"SELECT pg_advisory_lock({high}, {low})")
    assert one(s, "B", f"SELECT pg_try_advisory_lock({high}, {low})") is False
    assert one(s, "B", f"SELECT pg_try_advisory_lock({high}, {low + 1})") is True
    assert one(s, "B", f"SELECT pg_try_advisory_lock_shared({low}, {high})") is True
    assert one(s, "A", f"SELECT pg_advisory_unlock({high}, {low})") is True
    assert one(s, "B", f"SELECT pg_try_advisory_lock({high}, {low})") is True


def test_unlock_all(s, key):
    s.step("A", f"SELECT pg_advisory_lock({key})")
    s.step("A", f"SELECT pg_advisory_lock({key})")
    s.step("A", f"SELECT pg_advisory_lock_shared({key + 1})")
    high, low = random.getrandbits(31), random.getrandbits(31)
    s.step("A", f"SELECT pg_advisory_lock({high}, {low})")
    s.step("A", "SELECT pg_advisory_unlock_all()")
    assert one(s, "B", f"SELECT pg_try_advisory_lock({key})") is True
    assert one(s, "B", f"SELECT pg_try_advisory_lock({key + 1})") is True
    assert one(s, "B", f"SELECT pg_try_advisory_lock({high}, {low})") is True


def test_session_locks_released_at_disconnect(db, key):
    holder = db.connect(autocommit=True)
    holder.execute(f"SELECT pg_advisory_lock({key})")
    other = db.connect(autocommit=True)
    assert other.execute(f"SELECT pg_try_advisory_lock({key})").fetchone()[0] is False
    holder.close()
    # The server notices the disconnect asynchronously; give it a moment.
    for _ in range(50):
        if other.execute(f"SELECT pg_try_advisory_lock({key})").fetchone()[0]:
            return
        time.sleep(0.05)
    pytest.fail("advisory lock still held 2.5 s after its session disconnected")


def test_unlock_not_held_returns_false_with_warning(db, key):
    conn = db.connect(autocommit=True)
    notices = []
    # A notice's fields are only readable inside the handler.
    conn.add_notice_handler(lambda n: notices.append((n.severity, n.message_primary)))
    assert conn.execute(f"SELECT pg_advisory_unlock({key})").fetchone()[0] is False
    assert conn.execute(f"SELECT pg_advisory_unlock_shared({key})").fetchone()[0] is False
    assert notices == [
        ("WARNING", "you don't own a lock of type ExclusiveLock"),
        ("WARNING", "you don't own a lock of type ShareLock"),
    ]
