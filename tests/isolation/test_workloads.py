"""Concurrent workloads whose end state proves an invariant, plus the row-lock behaviours they rely on:
counters, bank transfers, a SKIP LOCKED job queue, deadlock detection, NOWAIT / lock_timeout /
statement_timeout, row-lock modes and duplicate-key inserts.
"""

from __future__ import annotations

import random
import threading
import time

import psycopg
import pytest

from harness import DEADLOCK_DETECTED, SERIALIZATION_FAILURE, describe, sqlstate

LOCK_NOT_AVAILABLE = "55P03"
QUERY_CANCELED = "57014"
UNIQUE_VIOLATION = "23505"


def run_threads(db, count: int, target) -> list[BaseException]:
    """Runs target(index, conn) on `count` threads, each with its own autocommit connection, released together
    once every connection is open (so a slow TLS handshake cannot serialise the workers); returns what they
    raised."""
    errors: list[BaseException] = []
    conns = [db.connect(autocommit=True) for _ in range(count)]
    barrier = threading.Barrier(count)

    def body(index: int) -> None:
        try:
            barrier.wait(timeout=30)
            target(index, conns[index])
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            errors.append(exc)

    # Daemon threads: a worker stuck on a server that never answers must not keep pytest from exiting (its
    # connection is closed at teardown).
    threads = [threading.Thread(target=body, args=(i,), name=f"worker-{i}", daemon=True) for i in range(count)]
    deadline = time.monotonic() + 60
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=max(0.0, deadline - time.monotonic()))
    assert not any(thread.is_alive() for thread in threads), "a worker was still running after 60 s"
    return errors


def assert_no_errors(errors: list[BaseException]) -> None:
    assert not errors, f"{len(errors)} worker errors, first: {describe(errors[0])}"


# --- counters ---------------------------------------------------------------------------------------------


def test_counter_autocommit_increments(db):
    table = db.table("c", "id int PRIMARY KEY, n int", "(1, 0)")
    sessions, per_session = 8, 100

    def work(index: int, conn: psycopg.Connection) -> None:
        # Half the sessions use server-side prepared statements, half the simple protocol.
        prepare = index % 2 == 0
        for _ in range(per_session):
            cur = conn.execute(f"UPDATE {table} SET n = n + 1 WHERE id = 1", prepare=prepare)
            assert cur.rowcount == 1

    assert_no_errors(run_threads(db, sessions, work))
    assert db.rows(f"SELECT n FROM {table}") == [(sessions * per_session,)]


def test_counter_read_committed_transactions(db):
    table = db.table("c", "id int PRIMARY KEY, n int", "(1, 0), (2, 0)")
    sessions, per_session = 8, 60

    def work(index: int, conn: psycopg.Connection) -> None:
        for _ in range(per_session):
            conn.execute("BEGIN ISOLATION LEVEL READ COMMITTED")
            # Same row order in every transaction, so they queue on row 1 and never deadlock.
            conn.execute(f"UPDATE {table} SET n = n + 1 WHERE id = 1", prepare=True)
            conn.execute(f"UPDATE {table} SET n = n + 1 WHERE id = 2", prepare=True)
            conn.execute("COMMIT")

    assert_no_errors(run_threads(db, sessions, work))
    total = sessions * per_session
    assert db.rows(f"SELECT id, n FROM {table} ORDER BY id") == [(1, total), (2, total)]


# --- bank transfers ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("level", ["repeatable read", "serializable"])
def test_bank_transfers_keep_total(db, level, capsys):
    accounts, initial = 10, 100
    table = db.table(
        "bank", "id int PRIMARY KEY, bal int", ", ".join(f"({i}, {initial})" for i in range(accounts))
    )
    threads, transfers = 6, 60
    attempts = [0] * threads
    retries = {SERIALIZATION_FAILURE: 0, DEADLOCK_DETECTED: 0}
    lock = threading.Lock()

    def transfer(conn: psycopg.Connection, rng: random.Random) -> None:
        src, dst = rng.sample(range(accounts), 2)
        amount = rng.randint(1, 60)
        conn.execute(f"BEGIN ISOLATION LEVEL {level}")
        try:
            (src_bal,) = conn.execute(f"SELECT bal FROM {table} WHERE id = %s", (src,)).fetchone()
            (dst_bal,) = conn.execute(f"SELECT bal FROM {table} WHERE id = %s", (dst,)).fetchone()
            if src_bal < amount:  # refused: would go negative
                conn.execute("COMMIT")
                return
            # Absolute values computed from the reads: only the isolation level keeps this from losing money.
            # Lower id first: opposite orders would deadlock, and each deadlock costs deadlock_timeout (1 s).
            for account, bal in sorted([(src, src_bal - amount), (dst, dst_bal + amount)]):
                conn.execute(f"UPDATE {table} SET bal = %s WHERE id = %s", (bal, account))
            conn.execute("COMMIT")
        except BaseException:
            if conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
                conn.execute("ROLLBACK")
            raise

    def work(index: int, conn: psycopg.Connection) -> None:
        rng = random.Random(index)
        for _ in range(transfers):
            while True:
                with lock:
                    attempts[index] += 1
                try:
                    transfer(conn, rng)
                    break
                except psycopg.Error as exc:
                    if sqlstate(exc) not in retries:
                        raise
                    with lock:
                        retries[sqlstate(exc)] += 1

    assert_no_errors(run_threads(db, threads, work))
    balances = [bal for (bal,) in db.rows(f"SELECT bal FROM {table} ORDER BY id")]
    assert sum(balances) == accounts * initial, balances
    assert min(balances) >= 0, balances
    total_attempts = sum(attempts)
    with capsys.disabled():
        print(
            f"\n    bank transfers at {level}: {threads * transfers} transfers, {total_attempts} attempts, "
            f"40001 retries {retries[SERIALIZATION_FAILURE]} "
            f"({100 * retries[SERIALIZATION_FAILURE] / total_attempts:.1f}% of attempts), "
            f"40P01 retries {retries[DEADLOCK_DETECTED]}"
        )


# --- SKIP LOCKED job queue --------------------------------------------------------------------------------


def test_skip_locked_job_queue_takes_each_job_once(db):
    jobs_count, workers = 200, 8
    jobs = db.table(
        "jobs", "id int PRIMARY KEY, done boolean NOT NULL, worker int",
        ", ".join(f"({i}, false, NULL)" for i in range(1, jobs_count + 1)),
    )
    # No key on purpose: a job taken twice shows up as a duplicate row instead of an error.
    taken = db.table("taken", "id int, worker int")

    def work(worker: int, conn: psycopg.Connection) -> None:
        while True:
            conn.execute("BEGIN")
            row = conn.execute(
                f"SELECT id FROM {jobs} WHERE done = false ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED"
            ).fetchone()
            if row is None:
                conn.execute("COMMIT")
                return
            conn.execute(f"UPDATE {jobs} SET done = true, worker = %s WHERE id = %s", (worker, row[0]))
            conn.execute(f"INSERT INTO {taken} VALUES (%s, %s)", (row[0], worker))
            conn.execute("COMMIT")

    assert_no_errors(run_threads(db, workers, work))
    assert db.rows(f"SELECT count(*), count(DISTINCT id) FROM {taken}") == [(jobs_count, jobs_count)]
    assert db.rows(f"SELECT count(*) FROM {jobs} WHERE NOT done") == [(0,)]
    # Each job's recorded worker is the one that logged it, so no job was overwritten by a second taker.
    assert db.rows(
        f"SELECT count(*) FROM {jobs} j JOIN {taken} t ON t.id = j.id WHERE t.worker = j.worker"
    ) == [(jobs_count,)]


def test_skip_locked_skips_locked_rows(db):
    table = db.table("q", "id int PRIMARY KEY, v int", "(1, 0), (2, 0), (3, 0)")
    s = db.sessions("T1", "T2", t=table)
    s.step("T1", "BEGIN")
    s.expect("T1", "SELECT id FROM {t} ORDER BY id LIMIT 1 FOR UPDATE", [(1,)])
    s.step("T2", "BEGIN")
    s.expect("T2", "SELECT id FROM {t} ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED", [(2,)])
    s.expect("T2", "SELECT id FROM {t} ORDER BY id FOR UPDATE SKIP LOCKED", [(2,), (3,)])
    s.step("T1", "COMMIT")
    s.expect("T2", "SELECT id FROM {t} ORDER BY id FOR UPDATE SKIP LOCKED", [(1,), (2,), (3,)])
    s.step("T2", "COMMIT")


# --- deadlock ---------------------------------------------------------------------------------------------


def test_deadlock_one_victim(db):
    table = db.table("dl", "id int PRIMARY KEY, v int", "(1, 0), (2, 0)")
    s = db.sessions("T1", "T2", t=table)
    s.step("T1", "BEGIN")
    s.step("T2", "BEGIN")
    s.expect("T1", "UPDATE {t} SET v = 1 WHERE id = 1", 1)
    s.expect("T2", "UPDATE {t} SET v = 2 WHERE id = 2", 1)
    s.step_blocking("T1", "UPDATE {t} SET v = 1 WHERE id = 2")
    # Either session may be the one the detector picks, so both statements run in the background.
    s.start("T2", "UPDATE {t} SET v = 2 WHERE id = 1")
    cycle_formed = time.monotonic()
    outcomes = {}
    for name in ("T1", "T2"):
        try:
            outcomes[name] = s.join(name, timeout=5)
        except psycopg.Error as exc:
            outcomes[name] = exc
    victims = [n for n, o in outcomes.items() if isinstance(o, psycopg.Error)]
    assert len(victims) == 1, f"expected exactly one deadlock victim: {outcomes}"
    victim = victims[0]
    winner = "T2" if victim == "T1" else "T1"
    assert sqlstate(outcomes[victim]) == DEADLOCK_DETECTED, describe(outcomes[victim])
    assert outcomes[winner] == 1
    # deadlock_timeout is 1 s: the cycle must be broken well within 2.5 s of forming.
    detected_after = time.monotonic() - cycle_formed
    assert detected_after < 2.5, f"deadlock broken after {detected_after:.2f} s"
    s.step(victim, "ROLLBACK")
    s.step(winner, "COMMIT")
    expected = [(1, 1), (2, 1)] if winner == "T1" else [(1, 2), (2, 2)]
    assert db.rows(f"SELECT id, v FROM {table} ORDER BY id") == expected


# --- NOWAIT, lock_timeout, statement_timeout --------------------------------------------------------------


@pytest.fixture
def locked_row(db):
    """T1 holds FOR UPDATE on row 1 of a fresh table; T2 is idle. Returns (sessions, table)."""
    table = db.table("lk", "id int PRIMARY KEY, v int", "(1, 0), (2, 0)")
    s = db.sessions("T1", "T2", t=table)
    s.step("T1", "BEGIN")
    s.expect("T1", "SELECT id FROM {t} WHERE id = 1 FOR UPDATE", [(1,)])
    return s, table


def test_for_update_nowait_fails_at_once(locked_row):
    s, _ = locked_row
    s.step("T2", "BEGIN")
    started = time.monotonic()
    exc = s.fails("T2", "SELECT id FROM {t} WHERE id = 1 FOR UPDATE NOWAIT", LOCK_NOT_AVAILABLE)
    assert time.monotonic() - started < 1.0  # no waiting at all; the bound only absorbs a busy machine
    assert "could not obtain lock on row" in str(exc)
    s.step("T2", "ROLLBACK")
    # An unlocked row is taken normally with NOWAIT.
    s.step("T2", "BEGIN")
    s.expect("T2", "SELECT id FROM {t} WHERE id = 2 FOR UPDATE NOWAIT", [(2,)])
    s.step("T2", "COMMIT")


def test_lock_timeout_on_update_of_locked_row(locked_row):
    s, table = locked_row
    s.step("T2", "SET lock_timeout = '200ms'")
    started = time.monotonic()
    exc = s.fails("T2", "UPDATE {t} SET v = 5 WHERE id = 1", LOCK_NOT_AVAILABLE)
    waited = time.monotonic() - started
    assert 0.15 <= waited < 2.0, f"lock_timeout 200ms fired after {waited:.2f} s"
    assert "lock timeout" in str(exc)
    s.step("T1", "COMMIT")
    s.expect("T2", "UPDATE {t} SET v = 5 WHERE id = 1", 1)  # autocommit, lock now free


def test_statement_timeout_while_waiting_for_row_lock(locked_row):
    s, _ = locked_row
    s.step("T2", "SET statement_timeout = '300ms'")
    started = time.monotonic()
    exc = s.fails("T2", "UPDATE {t} SET v = 5 WHERE id = 1", QUERY_CANCELED)
    waited = time.monotonic() - started
    assert 0.25 <= waited < 2.0, f"statement_timeout 300ms fired after {waited:.2f} s"
    assert "statement timeout" in str(exc)
    s.step("T1", "ROLLBACK")


# --- row lock modes ---------------------------------------------------------------------------------------


@pytest.fixture
def two_sessions(db):
    table = db.table("lm", "id int PRIMARY KEY, v int", "(1, 0)")
    s = db.sessions("T1", "T2", t=table)
    s.step("T1", "BEGIN")
    s.step("T2", "BEGIN")
    return s


def test_key_share_does_not_block_no_key_update(two_sessions):
    s = two_sessions
    s.expect("T1", "SELECT id FROM {t} WHERE id = 1 FOR KEY SHARE", [(1,)])
    s.expect("T2", "SELECT id FROM {t} WHERE id = 1 FOR NO KEY UPDATE", [(1,)])
    # A plain UPDATE that leaves the key alone only needs FOR NO KEY UPDATE.
    s.expect("T2", "UPDATE {t} SET v = 7 WHERE id = 1", 1)
    s.step("T2", "COMMIT")
    s.step("T1", "COMMIT")


def test_share_blocks_update(two_sessions):
    s = two_sessions
    s.expect("T1", "SELECT id FROM {t} WHERE id = 1 FOR SHARE", [(1,)])
    s.step_blocking("T2", "UPDATE {t} SET v = 7 WHERE id = 1")
    s.step("T1", "COMMIT")
    assert s.join("T2") == 1
    s.step("T2", "COMMIT")


def test_two_shares_do_not_block(two_sessions):
    s = two_sessions
    s.expect("T1", "SELECT id FROM {t} WHERE id = 1 FOR SHARE", [(1,)])
    s.expect("T2", "SELECT id FROM {t} WHERE id = 1 FOR SHARE", [(1,)])
    s.step("T1", "COMMIT")
    s.step("T2", "COMMIT")


def test_for_update_blocks_key_share(two_sessions):
    s = two_sessions
    s.expect("T1", "SELECT id FROM {t} WHERE id = 1 FOR UPDATE", [(1,)])
    s.step_blocking("T2", "SELECT id FROM {t} WHERE id = 1 FOR KEY SHARE")
    s.step("T1", "ROLLBACK")
    assert s.join("T2") == [(1,)]
    s.step("T2", "COMMIT")


# --- duplicate-key inserts --------------------------------------------------------------------------------


@pytest.mark.parametrize("first_ends_with", ["COMMIT", "ROLLBACK"])
def test_concurrent_insert_same_key(db, first_ends_with):
    table = db.table("ins", "id int PRIMARY KEY, who text")
    s = db.sessions("T1", "T2", t=table)
    s.step("T1", "BEGIN")
    s.step("T2", "BEGIN")
    s.expect("T1", "INSERT INTO {t} VALUES (3, 'T1')", 1)
    # The second insert cannot decide uniqueness until the first transaction ends.
    s.step_blocking("T2", "INSERT INTO {t} VALUES (3, 'T2')")
    s.step("T1", first_ends_with)
    if first_ends_with == "COMMIT":
        s.join_fails("T2", UNIQUE_VIOLATION)
        s.step("T2", "ROLLBACK")
        assert db.rows(f"SELECT id, who FROM {table}") == [(3, "T1")]
    else:
        assert s.join("T2") == 1
        s.step("T2", "COMMIT")
        assert db.rows(f"SELECT id, who FROM {table}") == [(3, "T2")]


def test_idle_in_transaction_timeout_ends_the_session_and_frees_its_locks(locked_row):
    s, _ = locked_row
    # T1 holds row 1 in an open transaction; with the timeout set it is cut off once idle that long.
    s.step("T1", "SET idle_in_transaction_session_timeout = '300ms'")
    time.sleep(1.0)
    with pytest.raises(psycopg.Error) as exc:
        s.step("T1", "SELECT 1")
    assert sqlstate(exc.value) == "25P03", describe(exc.value)
    # Its lock went with it: T2 updates the row at once.
    s.expect("T2", "UPDATE {t} SET v = 7 WHERE id = 1", 1)
