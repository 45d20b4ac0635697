"""LISTEN / NOTIFY / UNLISTEN and pg_notify() between two psycopg sessions: delivered at COMMIT, in order,
dropped by ROLLBACK and by ROLLBACK TO SAVEPOINT, duplicates in one transaction folded, PostgreSQL's payload
limit, a pg_notify() inside an autocommit SELECT ... FOR UPDATE."""

from __future__ import annotations

import psycopg
import pytest


def connect(db) -> psycopg.Connection:
    return psycopg.connect(db.conn.info.dsn, password=db.conn.info.password, autocommit=True)


def received(conn: psycopg.Connection, timeout: float = 2.0) -> list[tuple[str, str]]:
    return [(n.channel, n.payload) for n in conn.notifies(timeout=timeout, stop_after=None)]


def test_notify_reaches_listeners_at_commit_in_order(db):
    channel = db.name("chan")
    with connect(db) as listener, connect(db) as sender:
        listener.execute(f"LISTEN {channel}")
        sender.execute(f"NOTIFY {channel}, 'one'")
        sender.execute("SELECT pg_notify(%s, 'two')", (channel,))
        with sender.transaction():
            sender.execute(f"NOTIFY {channel}, 'three'")
            sender.execute(f"NOTIFY {channel}, 'three'")  # the same one twice in a transaction: sent once
            sender.execute(f"NOTIFY {channel}, 'four'")
        with pytest.raises(psycopg.errors.DivisionByZero):
            with sender.transaction():
                sender.execute(f"NOTIFY {channel}, 'rolled back'")
                sender.execute("SELECT 1 / 0")
        sender.execute(f"NOTIFY {channel}")
        got = received(listener)
        assert got == [(channel, "one"), (channel, "two"), (channel, "three"), (channel, "four"), (channel, "")]


def test_unlisten_and_own_notifications(db):
    channel = db.name("self")
    with connect(db) as conn:
        conn.execute(f"LISTEN {channel}")
        conn.execute(f"NOTIFY {channel}, 'mine'")
        notes = list(conn.notifies(timeout=2.0, stop_after=1))
        assert [(n.channel, n.payload) for n in notes] == [(channel, "mine")]
        assert notes[0].pid == conn.info.backend_pid
        conn.execute(f"UNLISTEN {channel}")
        conn.execute(f"NOTIFY {channel}, 'unheard'")
        conn.execute(f"LISTEN {channel}")
        conn.execute("UNLISTEN *")
        conn.execute(f"NOTIFY {channel}, 'unheard either'")
        assert received(conn, timeout=0.5) == []


def test_notify_errors(conn):
    with pytest.raises(psycopg.errors.InvalidParameterValue):
        conn.execute("NOTIFY big, '" + "x" * 8000 + "'")
    with pytest.raises(psycopg.errors.InvalidParameterValue):
        conn.execute("SELECT pg_notify('', 'x')")


def test_pg_listening_channels(db):
    a, b = db.name("a"), db.name("b")
    with connect(db) as conn:
        conn.execute(f"LISTEN {a}")
        with conn.transaction():
            conn.execute(f"LISTEN {b}")
        assert conn.execute("SELECT * FROM pg_listening_channels() ORDER BY 1").fetchall() == [(a,), (b,)]
        conn.execute(f"UNLISTEN {a}")
        assert conn.execute("SELECT pg_listening_channels FROM pg_listening_channels()").fetchall() == [(b,)]
        conn.execute("UNLISTEN *")
        assert conn.execute("SELECT count(*) FROM pg_listening_channels()").fetchone() == (0,)


def test_savepoints_undo_notifications_and_listens(db):
    """ROLLBACK TO SAVEPOINT discards the NOTIFYs and LISTENs after the savepoint; RELEASE keeps them."""
    channel, other = db.name("sp"), db.name("sp_other")
    with connect(db) as listener, connect(db) as sender:
        listener.execute(f"LISTEN {channel}")
        with sender.transaction():
            sender.execute(f"NOTIFY {channel}, 'kept'")
            sender.execute("SAVEPOINT a")
            sender.execute(f"NOTIFY {channel}, 'undone'")
            sender.execute(f"LISTEN {other}")
            sender.execute("SAVEPOINT b")
            sender.execute(f"NOTIFY {channel}, 'undone too'")
            sender.execute("ROLLBACK TO SAVEPOINT a")
            sender.execute("SAVEPOINT c")
            sender.execute(f"NOTIFY {channel}, 'released'")
            sender.execute("RELEASE SAVEPOINT c")
        assert received(listener) == [(channel, "kept"), (channel, "released")]
        channels = [r[0] for r in sender.execute("SELECT * FROM pg_listening_channels()").fetchall()]
        assert other not in channels


def test_notify_inside_a_locking_select_is_delivered(db):
    """An autocommit SELECT ... FOR UPDATE is its own transaction, which commits: a pg_notify() it calls is sent."""
    channel = db.name("lock")
    table = db.create("locked", "CREATE TABLE {name} (id integer PRIMARY KEY)")
    with connect(db) as listener, connect(db) as sender:
        sender.execute(f"INSERT INTO {table} VALUES (1)")
        listener.execute(f"LISTEN {channel}")
        sender.execute(f"SELECT id, pg_notify(%s, id::text) FROM {table} FOR UPDATE", (channel,))
        assert received(listener) == [(channel, "1")]
