"""SELECT ... FOR UPDATE / FOR SHARE over joins: every table of FROM is locked, or only those named in OF;
PostgreSQL's errors for the nullable side of an outer join and an OF name not in FROM."""

from __future__ import annotations

import pytest

LOCK_NOT_AVAILABLE = "55P03"
FEATURE_NOT_SUPPORTED = "0A000"
UNDEFINED_TABLE = "42P01"


@pytest.fixture
def tables(db):
    orders = db.table("ord", "id int PRIMARY KEY, customer int, total int", "(1, 10, 5), (2, 20, 7)")
    customers = db.table("cust", "id int PRIMARY KEY, name text", "(10, 'ann'), (20, 'bob')")
    return orders, customers


def test_for_update_over_a_join_locks_the_rows_of_every_table(db, tables):
    orders, customers = tables
    s = db.sessions("T1", "T2", o=orders, c=customers)
    s.step("T1", "BEGIN")
    s.expect("T1", "SELECT o.id, c.name FROM {o} o JOIN {c} c ON c.id = o.customer WHERE o.id = 1 FOR UPDATE",
             [(1, "ann")])
    s.step("T2", "BEGIN")
    s.fails("T2", "SELECT id FROM {o} WHERE id = 1 FOR UPDATE NOWAIT", LOCK_NOT_AVAILABLE)
    s.step("T2", "ROLLBACK")
    s.step("T2", "BEGIN")
    s.fails("T2", "SELECT id FROM {c} WHERE id = 10 FOR UPDATE NOWAIT", LOCK_NOT_AVAILABLE)
    s.step("T2", "ROLLBACK")
    # Rows the join did not return are not locked.
    s.expect("T2", "UPDATE {c} SET name = 'bo' WHERE id = 20", 1)
    # A writer of a locked row waits for T1 and then applies.
    s.step_blocking("T2", "UPDATE {c} SET name = 'anne' WHERE id = 10")
    s.step("T1", "COMMIT")
    assert s.join("T2") == 1
    assert db.rows(f"SELECT name FROM {customers} ORDER BY id") == [("anne",), ("bo",)]


def test_for_share_of_one_table_locks_only_that_table(db, tables):
    orders, customers = tables
    s = db.sessions("T1", "T2", o=orders, c=customers)
    s.step("T1", "BEGIN")
    s.expect("T1", "SELECT o.id FROM {o} o JOIN {c} c ON c.id = o.customer ORDER BY o.id FOR SHARE OF c",
             [(1,), (2,)])
    s.expect("T2", "UPDATE {o} SET total = 6 WHERE id = 1", 1)  # orders are not locked
    s.step("T2", "BEGIN")
    s.fails("T2", "SELECT id FROM {c} WHERE id = 10 FOR UPDATE NOWAIT", LOCK_NOT_AVAILABLE)
    s.step("T2", "ROLLBACK")
    s.step("T1", "COMMIT")


def test_skip_locked_over_a_join_skips_rows_with_any_locked_part(db, tables):
    orders, customers = tables
    s = db.sessions("T1", "T2", o=orders, c=customers)
    s.step("T1", "BEGIN")
    s.expect("T1", "SELECT id FROM {c} WHERE id = 20 FOR UPDATE", [(20,)])
    s.step("T2", "BEGIN")
    s.expect("T2", "SELECT o.id FROM {o} o JOIN {c} c ON c.id = o.customer ORDER BY o.id FOR UPDATE SKIP LOCKED",
             [(1,)])
    s.step("T2", "ROLLBACK")
    s.step("T1", "ROLLBACK")


@pytest.mark.parametrize(
    "query, state",
    [
        ("SELECT o.id FROM {o} o LEFT JOIN {c} c ON c.id = o.customer FOR UPDATE", FEATURE_NOT_SUPPORTED),
        ("SELECT o.id FROM {o} o LEFT JOIN {c} c ON c.id = o.customer FOR UPDATE OF c", FEATURE_NOT_SUPPORTED),
        ("SELECT o.id FROM {o} o FOR UPDATE OF nosuch", UNDEFINED_TABLE),
    ],
)
def test_locking_clause_errors(db, tables, query, state):
    orders, customers = tables
    s = db.sessions("T1", o=orders, c=customers)
    s.step("T1", "BEGIN")
    s.fails("T1", query, state)
    s.step("T1", "ROLLBACK")


def test_for_update_of_the_outer_side_of_a_left_join(db, tables):
    orders, customers = tables
    s = db.sessions("T1", o=orders, c=customers)
    s.step("T1", "BEGIN")
    s.expect("T1", "SELECT o.id, c.name FROM {o} o LEFT JOIN {c} c ON c.id = o.customer ORDER BY o.id FOR UPDATE OF o",
             [(1, "ann"), (2, "bob")])
    s.step("T1", "COMMIT")
