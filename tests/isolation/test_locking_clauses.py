"""Locking clauses beyond a plain SELECT ... FOR UPDATE: inside subqueries and CTEs (the job-queue shapes
`UPDATE ... WHERE id = (SELECT ... FOR UPDATE SKIP LOCKED)` and `WITH next AS (... SKIP LOCKED) UPDATE`),
over a subquery in FROM, OF lists, several clauses of different strength, the clause before LIMIT, FETCH
FIRST, and PostgreSQL's refusals."""

from __future__ import annotations

import threading

import pytest

LOCK_NOT_AVAILABLE = "55P03"
FEATURE_NOT_SUPPORTED = "0A000"
UNDEFINED_TABLE = "42P01"


@pytest.fixture
def jobs(db):
    return db.table(
        "jobs", "id int PRIMARY KEY, state text NOT NULL, worker int",
        "(1, 'queued', NULL), (2, 'queued', NULL), (3, 'queued', NULL), (4, 'done', NULL)",
    )


NEXT = "SELECT id FROM {j} WHERE state = 'queued' ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED"

TAKERS = {
    "update-subquery": f"UPDATE {{j}} SET state = 'running' WHERE id = ({NEXT}) RETURNING id",
    "update-in": f"UPDATE {{j}} SET state = 'running' WHERE id IN ({NEXT}) RETURNING id",
    "cte-update-from": f"WITH next AS ({NEXT}) UPDATE {{j}} SET state = 'running' FROM next "
                       "WHERE {j}.id = next.id RETURNING {j}.id",
    "delete-subquery": f"DELETE FROM {{j}} WHERE id = ({NEXT}) RETURNING id",
    "cte-delete-using": f"WITH next AS ({NEXT}) DELETE FROM {{j}} USING next WHERE {{j}}.id = next.id RETURNING {{j}}.id",
    "clause-before-limit": "SELECT id FROM {j} WHERE state = 'queued' ORDER BY id FOR UPDATE SKIP LOCKED LIMIT 1",
}


@pytest.mark.parametrize("taker", sorted(TAKERS))
def test_a_second_worker_skips_the_job_the_first_holds(db, jobs, taker):
    take = TAKERS[taker]
    s = db.sessions("T1", "T2", j=jobs)
    s.step("T1", "BEGIN")
    s.expect("T1", take, [(1,)])
    s.step("T2", "BEGIN")
    # Not blocked behind T1, and not job 1 again.
    s.expect("T2", take, [(2,)])
    s.step("T1", "COMMIT")
    s.step("T2", "ROLLBACK")
    s.step("T2", "BEGIN")
    s.expect("T2", take, [(2,)] if taker != "clause-before-limit" else [(1,)])
    s.step("T2", "ROLLBACK")


def test_a_locking_subquery_in_an_autocommit_statement_holds_its_rows_to_the_end(db, jobs):
    s = db.sessions("T1", "T2", j=jobs)
    s.expect("T1", TAKERS["update-subquery"], [(1,)])
    # The statement's transaction is over: its locks are gone.
    s.step("T2", "BEGIN")
    s.expect("T2", "SELECT id FROM {j} WHERE id = 1 FOR UPDATE NOWAIT", [(1,)])
    s.step("T2", "ROLLBACK")
    assert db.rows(f"SELECT id, state FROM {jobs} ORDER BY id")[:2] == [(1, "running"), (2, "queued")]


def test_locking_cte_and_in_subquery_lock_their_rows(db, jobs):
    s = db.sessions("T1", "T2", j=jobs)
    s.step("T1", "BEGIN")
    s.expect("T1", "WITH c AS (SELECT * FROM {j} WHERE id = 1 FOR UPDATE) SELECT id FROM c", [(1,)])
    s.expect("T1", "SELECT id FROM {j} WHERE id IN (SELECT id FROM {j} WHERE id = 2 FOR SHARE)", [(2,)])
    s.step("T2", "BEGIN")
    s.fails("T2", "SELECT id FROM {j} WHERE id = 1 FOR SHARE NOWAIT", LOCK_NOT_AVAILABLE)
    s.step("T2", "ROLLBACK")
    s.step("T2", "BEGIN")
    # FOR SHARE is shared: another share is granted, an update is not.
    s.expect("T2", "SELECT id FROM {j} WHERE id = 2 FOR SHARE NOWAIT", [(2,)])
    s.fails("T2", "SELECT id FROM {j} WHERE id = 2 FOR UPDATE NOWAIT", LOCK_NOT_AVAILABLE)
    s.step("T2", "ROLLBACK")
    s.expect("T2", "UPDATE {j} SET worker = 9 WHERE id = 3", 1)
    s.step("T1", "COMMIT")


def test_for_update_over_a_subquery_in_from_locks_only_the_rows_returned(db, jobs):
    s = db.sessions("T1", "T2", j=jobs)
    s.step("T1", "BEGIN")
    s.expect("T1", "SELECT * FROM (SELECT id, state FROM {j}) q WHERE id = 2 FOR UPDATE", [(2, "queued")])
    s.step("T2", "BEGIN")
    s.expect("T2", "SELECT id FROM {j} WHERE id = 1 FOR UPDATE NOWAIT", [(1,)])
    s.fails("T2", "SELECT id FROM {j} WHERE id = 2 FOR UPDATE NOWAIT", LOCK_NOT_AVAILABLE)
    s.step("T2", "ROLLBACK")
    s.step("T2", "BEGIN")
    # SKIP LOCKED through the subquery, under an outer LIMIT: only the row taken is locked.
    s.expect("T2", "SELECT q.id FROM (SELECT id FROM {j} WHERE state = 'queued') q ORDER BY q.id "
                   "LIMIT 1 FOR UPDATE OF q SKIP LOCKED", [(1,)])
    s.step("T1", "ROLLBACK")
    s.step("T1", "BEGIN")
    s.expect("T1", "SELECT id FROM {j} WHERE id = 3 FOR UPDATE NOWAIT", [(3,)])
    s.step("T1", "ROLLBACK")
    s.step("T2", "ROLLBACK")


def test_of_lists_and_clauses_of_different_strength(db, orders_customers):
    orders, customers = orders_customers
    s = db.sessions("T1", "T2", o=orders, c=customers)
    s.step("T1", "BEGIN")
    s.expect("T1", "SELECT o.id FROM {o} o, {c} c WHERE c.id = o.customer AND o.id = 1 FOR UPDATE OF o, c", [(1,)])
    s.step("T2", "BEGIN")
    s.fails("T2", "SELECT id FROM {c} WHERE id = 10 FOR KEY SHARE NOWAIT", LOCK_NOT_AVAILABLE)
    s.step("T2", "ROLLBACK")
    s.step("T1", "ROLLBACK")
    s.step("T1", "BEGIN")
    s.expect("T1", "SELECT o.id FROM {o} o JOIN {c} c ON c.id = o.customer WHERE o.id = 1 "
                   "FOR UPDATE OF o FOR SHARE OF c", [(1,)])
    s.step("T2", "BEGIN")
    s.expect("T2", "SELECT id FROM {c} WHERE id = 10 FOR SHARE NOWAIT", [(10,)])
    s.fails("T2", "SELECT id FROM {o} WHERE id = 1 FOR SHARE NOWAIT", LOCK_NOT_AVAILABLE)
    s.step("T2", "ROLLBACK")
    s.step("T1", "ROLLBACK")


def test_the_strongest_clause_and_nowait_win(db, orders_customers):
    orders, customers = orders_customers
    s = db.sessions("T1", "T2", o=orders, c=customers)
    s.step("T1", "BEGIN")
    s.expect("T1", "SELECT id FROM {o} WHERE id = 1 FOR SHARE", [(1,)])
    s.step("T2", "BEGIN")
    # FOR SHARE alone would be granted; with FOR UPDATE OF o too, the lock is FOR UPDATE, and NOWAIT
    # in either clause makes it fail at once.
    s.fails("T2", "SELECT id FROM {o} o WHERE id = 1 FOR SHARE FOR UPDATE OF o NOWAIT", LOCK_NOT_AVAILABLE)
    s.step("T2", "ROLLBACK")
    s.step("T1", "ROLLBACK")


def test_fetch_first_limits_the_rows_locked(db, jobs):
    s = db.sessions("T1", "T2", j=jobs)
    s.step("T1", "BEGIN")
    s.expect("T1", "SELECT id FROM {j} ORDER BY id FETCH FIRST 2 ROWS ONLY FOR UPDATE", [(1,), (2,)])
    s.step("T2", "BEGIN")
    s.expect("T2", "SELECT id FROM {j} WHERE id = 3 FOR UPDATE NOWAIT", [(3,)])
    s.step("T2", "ROLLBACK")
    s.step("T1", "ROLLBACK")


@pytest.mark.parametrize(
    "query, state",
    [
        ("SELECT count(*) FROM {j} FOR UPDATE", FEATURE_NOT_SUPPORTED),
        ("SELECT sum(id) OVER () FROM {j} FOR UPDATE", FEATURE_NOT_SUPPORTED),
        ("SELECT * FROM (SELECT state, count(*) FROM {j} GROUP BY state) s FOR UPDATE", FEATURE_NOT_SUPPORTED),
        ("SELECT * FROM (SELECT DISTINCT state FROM {j}) s FOR SHARE", FEATURE_NOT_SUPPORTED),
        ("SELECT id FROM {j} ORDER BY id FOR UPDATE OF {j}, nosuch", UNDEFINED_TABLE),
        ("SELECT * FROM generate_series(1, 2) g FOR UPDATE OF g", FEATURE_NOT_SUPPORTED),
    ],
)
def test_locking_clause_refusals(db, jobs, query, state):
    s = db.sessions("T1", j=jobs)
    s.step("T1", "BEGIN")
    s.fails("T1", query, state)
    s.step("T1", "ROLLBACK")


def test_a_function_in_from_is_passed_over(db, jobs):
    s = db.sessions("T1", "T2", j=jobs)
    s.step("T1", "BEGIN")
    s.expect("T1", "SELECT j.id, g FROM {j} j, generate_series(1, 2) g WHERE j.id = 1 ORDER BY g FOR UPDATE",
             [(1, 1), (1, 2)])
    s.step("T2", "BEGIN")
    s.fails("T2", "SELECT id FROM {j} WHERE id = 1 FOR UPDATE NOWAIT", LOCK_NOT_AVAILABLE)
    s.step("T2", "ROLLBACK")
    s.step("T1", "ROLLBACK")


def test_eight_workers_take_each_job_once_with_one_statement(db):
    jobs_count, workers = 120, 8
    jobs = db.table(
        "jobq", "id int PRIMARY KEY, done boolean NOT NULL, worker int",
        ", ".join(f"({i}, false, NULL)" for i in range(1, jobs_count + 1)),
    )
    taken: list[tuple[int, int]] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def work(worker: int) -> None:
        try:
            conn = db.connect(autocommit=True)
            while True:
                row = conn.execute(
                    f"WITH next AS (SELECT id FROM {jobs} WHERE NOT done ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED) "
                    f"UPDATE {jobs} SET done = true, worker = %s FROM next WHERE {jobs}.id = next.id "
                    f"RETURNING {jobs}.id",
                    (worker,),
                ).fetchone()
                if row is None:
                    return
                with lock:
                    taken.append((row[0], worker))
        except BaseException as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=work, args=(w,)) for w in range(workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors, errors
    assert sorted(i for i, _ in taken) == list(range(1, jobs_count + 1))
    recorded = dict(db.rows(f"SELECT id, worker FROM {jobs}"))
    assert all(recorded[i] == w for i, w in taken)
