"""Result column names as clients read them from RowDescription: PostgreSQL's names for unaliased
expressions, and duplicates kept as written (ORMs and report tools select the same column twice)."""

from __future__ import annotations


def test_duplicate_and_unaliased_names(conn, items):
    conn.execute(f"INSERT INTO {items} (id, name, qty, created) VALUES (1, 'a', 2, '2024-01-02 03:04:05')")
    for prepare in (False, True):
        cur = conn.execute(
            f"SELECT id, id, 1, 1, count(*) OVER (), name AS x, qty AS x, created::date FROM {items} WHERE id = 1",
            prepare=prepare,
        )
        assert [d.name for d in cur.description] == ["id", "id", "?column?", "?column?", "count", "x", "x", "created"]
        row = cur.fetchone()
        assert row[0] == row[1] == 1 and row[2] == row[3] == 1
