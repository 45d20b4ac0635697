"""Concurrent upserts of the same keys (`INSERT ... ON CONFLICT (id) DO UPDATE SET n = t.n + 1`) from 8
sessions at READ COMMITTED: never a 23505, never a lost increment. Same assertions on both servers."""

from __future__ import annotations

import threading

import psycopg

from conftest import conninfo

SESSIONS, EACH, KEYS = 8, 60, 4


def test_concurrent_upserts_never_fail_or_lose_an_increment(db, conn):
    table = db.create("ups", "CREATE TABLE {name} (id integer PRIMARY KEY, n integer NOT NULL)")
    errors: list[BaseException] = []

    def worker(w: int) -> None:
        try:
            with psycopg.connect(conninfo(), autocommit=True) as c:
                for i in range(EACH):
                    c.execute(
                        f"INSERT INTO {table} AS t VALUES (%s, 1) ON CONFLICT (id) DO UPDATE SET n = t.n + 1",
                        ((w + i) % KEYS,),
                    )
        except BaseException as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=worker, args=(w,)) for w in range(SESSIONS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    rows = conn.execute(f"SELECT count(*), sum(n) FROM {table}").fetchone()
    assert rows == (KEYS, SESSIONS * EACH)
