"""Sequences as applications use them: SERIAL keys filled by concurrent sessions (prepared, as ORMs send
`INSERT ... RETURNING id`), every id distinct, each session's currval its own last id; psycopg sees the
serial column's default and pg_get_serial_sequence. Same assertions on both servers."""

from __future__ import annotations

import threading

import psycopg

from conftest import conninfo

SESSIONS, EACH = 4, 100


def test_concurrent_serial_inserts_get_distinct_ids(db, conn):
    table = db.create("serial", "CREATE TABLE {name} (id serial PRIMARY KEY, who integer NOT NULL)")
    ids: dict[int, list[int]] = {}
    errors: list[BaseException] = []

    def worker(w: int) -> None:
        try:
            with psycopg.connect(conninfo(), autocommit=True) as c:
                got = []
                for _ in range(EACH):
                    got.append(c.execute(f"INSERT INTO {table} (who) VALUES (%s) RETURNING id", (w,),
                                         prepare=True).fetchone()[0])
                assert c.execute(f"SELECT currval('{table}_id_seq')").fetchone()[0] == got[-1]
                assert c.execute("SELECT lastval()").fetchone()[0] == got[-1]
                ids[w] = got
        except BaseException as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=worker, args=(w,)) for w in range(SESSIONS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    every = [i for got in ids.values() for i in got]
    assert len(set(every)) == SESSIONS * EACH
    # Each session's ids rise.
    assert all(got == sorted(got) for got in ids.values())
    rows = conn.execute(f"SELECT id, who FROM {table} ORDER BY id").fetchall()
    assert sorted(every) == [r[0] for r in rows]
    assert all(r[0] in ids[r[1]] for r in rows)


def test_serial_column_in_the_catalog(db, conn):
    table = db.create("sercat", "CREATE TABLE {name} (id bigserial PRIMARY KEY, v text)")
    assert conn.execute("SELECT pg_get_serial_sequence(%s, 'id'), pg_get_serial_sequence(%s, 'v')",
                        (table, table)).fetchone() == (f"public.{table}_id_seq", None)
    row = conn.execute("SELECT data_type, start_value, increment_by, max_value FROM pg_sequences "
                       "WHERE sequencename = %s", (f"{table}_id_seq",)).fetchone()
    assert row == ("bigint", 1, 1, 9223372036854775807)
    default = conn.execute("SELECT column_default FROM information_schema.columns WHERE table_name = %s "
                           "AND column_name = 'id'", (table,)).fetchone()[0]
    assert default.startswith(f"nextval('{table}_id_seq'")
    assert conn.execute(f"INSERT INTO {table} (v) VALUES ('a') RETURNING id").fetchone() == (1,)
