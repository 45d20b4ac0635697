"""SELECT ... FOR UPDATE / FOR SHARE over joins: every table of FROM is locked, or only those named in OF;
PostgreSQL's errors for the nullable side of an outer join and an OF name not in FROM."""

from __future__ import annotations

import pytest

LOCK_NOT_AVAILABLE = "55P03"
FEATURE_NOT_SUPPORTED = "0A000"
UNDEFINED_TABLE = "42P01"


def test_for_update_over_a_join_locks_the_rows_of_every_table(db, orders_customers):
    orders, customers = orders_customers
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


def test_for_share_of_one_table_locks_only_that_table(db, orders_customers):
    orders, customers = orders_customers
    s = db.sessions("T1", "T2", o=orders, c=customers)
    s.step("T1", "BEGIN")
    s.expect("T1", "SELECT o.id FROM {o} o JOIN {c} c ON c.id = o.customer ORDER BY o.id FOR SHARE OF c",
             [(1,), (2,)])
    s.expect("T2", "UPDATE {o} SET total = 6 WHERE id = 1", 1)  # orders are not locked
    s.step("T2", "BEGIN")
    s.fails("T2", "SELECT id FROM {c} WHERE id = 10 FOR UPDATE NOWAIT", LOCK_NOT_AVAILABLE)
    s.step("T2", "ROLLBACK")
    s.step("T1", "COMMIT")


def test_skip_locked_over_a_join_skips_rows_with_any_locked_part(db, orders_customers):
    orders, customers = orders_customers
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
def test_locking_clause_errors(db, orders_customers, query, state):
    orders, customers = orders_customers
    s = db.sessions("T1", o=orders, c=customers)
    s.step("T1", "BEGIN")
    s.fails("T1", query, state)
    s.step("T1", "ROLLBACK")


def test_for_update_of_the_outer_side_of_a_left_join(db, orders_customers):
    orders, customers = orders_customers
    s = db.sessions("T1", o=orders, c=customers)
    s.step("T1", "BEGIN")
    s.expect("T1", "SELECT o.id, c.name FROM {o} o LEFT JOIN {c} c ON c.id = o.customer ORDER BY o.id FOR UPDATE OF o",
             [(1, "ann"), (2, "bob")])
    s.step("T1", "COMMIT")


def test_tables_without_a_primary_key_are_locked_alone_in_joins_and_subqueries(db):
    """PostgreSQL locks a row by its place (ctid); OmenDB by the hidden row id such a table keeps."""
    items = db.table("item", "sku text, qty int", "('a', 1), ('b', 2), ('a', 3)")
    notes = db.table("note", "sku text, body text", "('a', 'x'), ('b', 'y')")
    s = db.sessions("T1", "T2", i=items, n=notes)
    s.step("T1", "BEGIN")
    # Alone: `*` shows the table's own columns only.
    s.expect("T1", "SELECT * FROM {i} WHERE qty = 1 FOR UPDATE", [("a", 1)])
    s.step("T2", "BEGIN")
    s.fails("T2", "SELECT qty FROM {i} WHERE qty = 1 FOR UPDATE NOWAIT", LOCK_NOT_AVAILABLE)
    s.step("T2", "ROLLBACK")
    # Its twin by value is another row, not locked.
    s.expect("T2", "UPDATE {i} SET qty = 30 WHERE qty = 3", 1)
    s.step("T1", "ROLLBACK")

    s.step("T1", "BEGIN")
    s.expect("T1", "SELECT * FROM {i} i JOIN {n} n USING (sku) WHERE i.qty = 2 FOR UPDATE",
             [("b", 2, "y")])
    s.step("T2", "BEGIN")
    s.fails("T2", "SELECT body FROM {n} WHERE sku = 'b' FOR SHARE NOWAIT", LOCK_NOT_AVAILABLE)
    s.step("T2", "ROLLBACK")
    s.step("T2", "BEGIN")
    s.expect("T2", "SELECT body FROM {n} WHERE sku = 'a' FOR UPDATE NOWAIT", [("x",)])
    s.step("T2", "ROLLBACK")
    s.step_blocking("T2", "UPDATE {i} SET qty = 20 WHERE qty = 2")
    s.step("T1", "COMMIT")
    assert s.join("T2") == 1

    s.step("T1", "BEGIN")
    s.expect("T1", "SELECT * FROM (SELECT sku, qty FROM {i} WHERE qty = 1) x FOR UPDATE", [("a", 1)])
    s.step("T2", "BEGIN")
    s.fails("T2", "SELECT qty FROM {i} WHERE qty = 1 FOR UPDATE NOWAIT", LOCK_NOT_AVAILABLE)
    s.step("T2", "ROLLBACK")
    s.step("T1", "ROLLBACK")
    # A locking subquery of a write.
    s.step("T1", "BEGIN")
    s.expect("T1", "UPDATE {n} SET body = 'z' WHERE sku IN (SELECT sku FROM {i} WHERE qty = 1 FOR SHARE)", 1)
    s.step("T2", "BEGIN")
    s.fails("T2", "SELECT qty FROM {i} WHERE qty = 1 FOR UPDATE NOWAIT", LOCK_NOT_AVAILABLE)
    s.step("T2", "ROLLBACK")
    s.step("T1", "COMMIT")
    assert db.rows(f"SELECT sku, qty FROM {items} ORDER BY qty") == [("a", 1), ("b", 20), ("a", 30)]
