"""UPDATE ... FROM and DELETE ... USING under concurrent writers at READ COMMITTED: the join is re-checked
for a target row a concurrent commit changed (PostgreSQL's EvalPlanQual), so no increment is lost and a
row that no longer matches is skipped; at REPEATABLE READ the later writer fails with 40001."""

from __future__ import annotations

import pytest

SERIALIZATION_FAILURE = "40001"


@pytest.fixture
def tables(db):
    acc = db.table("jacc", "id int PRIMARY KEY, balance int", "(1, 100), (2, 200)")
    tx = db.table("jtx", "id int PRIMARY KEY, acc int, amount int", "(10, 1, 5), (11, 2, 7)")
    return acc, tx


def test_update_from_waits_and_applies_to_the_newest_row(db, tables):
    acc, tx = tables
    s = db.sessions("T1", "T2", a=acc, t=tx)
    s.step("T1", "BEGIN")
    s.expect("T1", "UPDATE {a} SET balance = balance + 1000 WHERE id = 1", 1)
    s.step_blocking("T2", "UPDATE {a} SET balance = balance + {t}.amount FROM {t} WHERE {a}.id = {t}.acc")
    s.step("T1", "COMMIT")
    assert s.join("T2") == 2
    assert db.rows(f"SELECT balance FROM {acc} ORDER BY id") == [(1105,), (207,)]


def test_update_from_skips_a_row_that_no_longer_matches(db, tables):
    acc, tx = tables
    s = db.sessions("T1", "T2", a=acc, t=tx)
    s.step("T1", "BEGIN")
    s.expect("T1", "UPDATE {a} SET balance = 0 WHERE id = 1", 1)
    s.step_blocking("T2", "UPDATE {a} SET balance = balance + {t}.amount FROM {t} "
                          "WHERE {a}.id = {t}.acc AND {a}.balance >= 100")
    s.step("T1", "COMMIT")
    assert s.join("T2") == 1
    assert db.rows(f"SELECT balance FROM {acc} ORDER BY id") == [(0,), (207,)]


def test_delete_using_waits_and_rechecks(db, tables):
    acc, tx = tables
    s = db.sessions("T1", "T2", a=acc, t=tx)
    s.step("T1", "BEGIN")
    s.expect("T1", "UPDATE {a} SET balance = 50 WHERE id = 2", 1)
    s.step_blocking("T2", "DELETE FROM {a} USING {t} WHERE {a}.id = {t}.acc AND {a}.balance > 60")
    s.step("T1", "COMMIT")
    assert s.join("T2") == 1
    assert db.rows(f"SELECT id, balance FROM {acc} ORDER BY id") == [(2, 50)]


def test_update_from_at_repeatable_read_fails_on_a_concurrent_update(db, tables):
    acc, tx = tables
    s = db.sessions("T1", "T2", a=acc, t=tx)
    s.step("T2", "BEGIN ISOLATION LEVEL REPEATABLE READ")
    s.expect("T2", "SELECT count(*) FROM {a}", [(2,)])
    s.expect("T1", "UPDATE {a} SET balance = 1 WHERE id = 1", 1)
    s.fails("T2", "UPDATE {a} SET balance = balance + {t}.amount FROM {t} WHERE {a}.id = {t}.acc",
            SERIALIZATION_FAILURE)
    s.step("T2", "ROLLBACK")
