"""Enum types as applications use them: psycopg reads labels from text and binary results with the type's
OID and sends them as parameters, COPY moves them, and SQLAlchemy creates the type with its table
(`sa.Enum` with a Python enum), keeps ORM objects whose attribute is that enum, filters and orders by
declaration, upserts, reflects the type (`get_enums`, the column's `ENUM`) and drops it with `drop_all`.
Same assertions on both servers."""

from __future__ import annotations

import enum

import psycopg
import pytest
import sqlalchemy as sa
from sqlalchemy import orm
from psycopg.types.enum import EnumInfo, register_enum
from sqlalchemy.dialects import postgresql as pgt


class Mood(enum.Enum):
    sad = "sad"
    ok = "ok"
    happy = "happy"


@pytest.fixture
def mood_type(db):
    """A `<prefix>_mood` enum type, dropped (with its columns) at the end of the test."""
    name = db.name("mood")
    db.conn.execute(f"CREATE TYPE {name} AS ENUM ('sad', 'ok', 'happy')")
    yield name
    try:
        with psycopg.connect(db.conn.info.dsn, autocommit=True) as c:
            c.execute(f"DROP TYPE IF EXISTS {name} CASCADE")
    except psycopg.Error:
        pass


@pytest.mark.parametrize("binary", [False, True], ids=["text", "binary"])
def test_results_and_parameters(conn, db, mood_type, binary):
    table = db.create("t", f"CREATE TABLE {{name}} (id integer PRIMARY KEY, m {mood_type})")
    oid = conn.execute("SELECT %s::regtype::oid", (mood_type,)).fetchone()[0]
    # psycopg's own catalog query (pg_type, pg_enum) finds the type and its labels in order.
    info = EnumInfo.fetch(conn, mood_type)
    assert info is not None and info.oid == oid and info.labels == ["sad", "ok", "happy"]
    register_enum(info, conn, Mood)
    cur = conn.cursor(binary=binary)
    cur.execute(f"INSERT INTO {table} VALUES (1, %s), (2, %s), (3, NULL)", (Mood.happy, "sad"))
    cur.execute(f"SELECT id, m FROM {table} ORDER BY m NULLS FIRST")
    assert cur.description[1].type_code == oid
    assert cur.fetchall() == [(3, None), (2, Mood.sad), (1, Mood.happy)]
    for prepare in (False, True):
        cur.execute(f"SELECT id FROM {table} WHERE m = %s", (Mood.sad,), prepare=prepare)
        assert cur.fetchall() == [(2,)]
        cur.execute(f"SELECT id FROM {table} WHERE m > %s ORDER BY id", (Mood.sad,), prepare=prepare)
        assert cur.fetchall() == [(1,)]
    with pytest.raises(psycopg.errors.InvalidTextRepresentation):
        cur.execute(f"INSERT INTO {table} VALUES (4, %s)", ("meh",))


def test_copy_text_and_binary(conn, db, mood_type):
    table = db.create("t", f"CREATE TABLE {{name}} (id integer PRIMARY KEY, m {mood_type})")
    with conn.cursor().copy(f"COPY {table} FROM STDIN") as copy:
        copy.write("1\tok\n2\t\\N\n")
    with pytest.raises(psycopg.errors.InvalidTextRepresentation):
        with conn.cursor().copy(f"COPY {table} FROM STDIN") as copy:
            copy.write("3\tmeh\n")
    with conn.cursor().copy(f"COPY (SELECT id, m FROM {table} ORDER BY id) TO STDOUT") as copy:
        out = b"".join(bytes(b) for b in copy)
    assert out == b"1\tok\n2\t\\N\n"
    with conn.cursor().copy(f"COPY {table} FROM STDIN (FORMAT BINARY)") as copy:
        copy.set_types(["integer", "text"])
        copy.write_row((5, "happy"))
    assert conn.execute(f"SELECT m::text FROM {table} WHERE id = 5").fetchone() == ("happy",)


def test_sqlalchemy_orm_with_an_enum_column(engine, db):
    type_name = db.name("mood")
    metadata = sa.MetaData()
    people = sa.Table(
        db.adopt(db.name("people")), metadata,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("mood", sa.Enum(Mood, name=type_name), nullable=True),
    )
    registry = orm.registry(metadata=metadata)

    class Person:
        pass

    registry.map_imperatively(Person, people)
    # create_all creates the type (it looks for it in pg_type first), then the table.
    metadata.create_all(engine)
    try:
        with orm.Session(engine) as session:
            for i, (name, mood) in enumerate([("a", Mood.happy), ("b", Mood.sad), ("c", Mood.ok), ("d", None)]):
                p = Person()
                p.id, p.name, p.mood = i + 1, name, mood
                session.add(p)
            session.commit()

        with orm.Session(engine) as session:
            ordered = session.scalars(sa.select(Person).where(Person.mood.is_not(None)).order_by(Person.mood)).all()
            assert [(p.name, p.mood) for p in ordered] == [("b", Mood.sad), ("c", Mood.ok), ("a", Mood.happy)]
            assert session.scalars(sa.select(Person.name).where(Person.mood > Mood.sad).order_by(Person.id)).all() == [
                "a", "c"]
            assert session.execute(sa.select(sa.func.max(Person.mood), sa.func.min(Person.mood))).one() == (
                Mood.happy, Mood.sad)
            b = session.get(Person, 2)
            b.mood = Mood.happy
            session.commit()

        with engine.begin() as connection:
            stmt = pgt.insert(people).values(id=3, name="c", mood=Mood.sad)
            connection.execute(stmt.on_conflict_do_update(index_elements=[people.c.id], set_={"mood": stmt.excluded.mood}))
            assert connection.execute(sa.select(people.c.mood).where(people.c.id == 3)).scalar_one() == Mood.sad
            with pytest.raises(sa.exc.DataError):
                with connection.begin_nested():
                    connection.execute(sa.text(f"UPDATE {people.name} SET mood = 'meh' WHERE id = 1"))

        inspector = sa.inspect(engine)
        enums = {e["name"]: e for e in inspector.get_enums()}
        assert enums[type_name]["labels"] == ["sad", "ok", "happy"]
        assert enums[type_name]["schema"] is None or enums[type_name]["schema"] == "public"
        columns = {c["name"]: c["type"] for c in inspector.get_columns(people.name)}
        assert isinstance(columns["mood"], pgt.ENUM) and columns["mood"].enums == ["sad", "ok", "happy"]
    finally:
        # drop_all drops the table, then the type.
        metadata.drop_all(engine)
    assert type_name not in {e["name"] for e in sa.inspect(engine).get_enums()}


def test_alter_type_add_value_is_seen_by_the_next_statements(conn, db, mood_type):
    table = db.create("t", f"CREATE TABLE {{name}} (id integer PRIMARY KEY, m {mood_type})")
    conn.execute(f"ALTER TYPE {mood_type} ADD VALUE 'meh' AFTER 'sad'")
    conn.execute(f"INSERT INTO {table} VALUES (1, 'ok'), (2, 'meh'), (3, 'sad')")
    assert conn.execute(f"SELECT id FROM {table} ORDER BY m").fetchall() == [(3,), (2,), (1,)]
    labels = conn.execute(
        "SELECT enumlabel FROM pg_enum WHERE enumtypid = %s::regtype ORDER BY enumsortorder", (mood_type,)
    ).fetchall()
    assert [l[0] for l in labels] == ["sad", "meh", "ok", "happy"]
