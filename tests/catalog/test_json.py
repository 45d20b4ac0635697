"""json and jsonb as applications use them: psycopg reads documents as Python objects from text and binary
results (the columns are described as json / jsonb) and sends them as Json / Jsonb parameters in both formats,
COPY moves them in text and binary, a bad document is 22P02 with PostgreSQL's DETAIL, and SQLAlchemy's ORM keeps
JSONB columns (indexing with [] and .astext, contains, has_key, server defaults, reflection, upserts on them).
Same assertions on both servers."""

from __future__ import annotations

import psycopg
import pytest
import sqlalchemy as sa
from psycopg.types.json import Json, Jsonb
from sqlalchemy import orm
from sqlalchemy.dialects import postgresql as pgt

JSON_OID = 114
JSONB_OID = 3802
DOC = {"name": "kite", "tags": ["red", "big"], "dims": {"w": 2, "h": 1.5}, "ok": True, "none": None}


@pytest.fixture
def table(db):
    return db.create("js", "CREATE TABLE {name} (id integer PRIMARY KEY, j json, b jsonb)")


@pytest.mark.parametrize("binary", [False, True], ids=["text", "binary"])
def test_results_and_parameters_are_documents(conn, table, binary):
    cur = conn.cursor(binary=binary)
    cur.execute(f"INSERT INTO {table} VALUES (1, %s, %s), (2, NULL, %s)", (Json(DOC), Jsonb(DOC), Jsonb([1, "x"])))
    cur.execute(f"SELECT j, b FROM {table} ORDER BY id")
    assert [d.type_code for d in cur.description] == [JSON_OID, JSONB_OID]
    assert cur.fetchall() == [(DOC, DOC), (None, [1, "x"])]
    # Operators keep the type: -> is jsonb on jsonb, json on json; ->> is text.
    cur.execute(f"SELECT b -> 'dims', j -> 'dims', b ->> 'name', b #> '{{dims,w}}' FROM {table} WHERE id = 1")
    assert [d.type_code for d in cur.description] == [JSONB_OID, JSON_OID, 25, JSONB_OID]
    assert cur.fetchone() == ({"w": 2, "h": 1.5}, {"w": 2, "h": 1.5}, "kite", 2)
    # Containment and key lookups with parameters, prepared and not.
    for prepare in (False, True):
        cur.execute(f"SELECT id FROM {table} WHERE b @> %s", (Jsonb({"tags": ["big"]}),), prepare=prepare)
        assert cur.fetchall() == [(1,)]
        cur.execute(f"SELECT id FROM {table} WHERE b ->> %s = %s", ("name", "kite"), prepare=prepare)
        assert cur.fetchall() == [(1,)]
        cur.execute(f"SELECT id FROM {table} WHERE b = %s", (Jsonb([1, "x"]),), prepare=prepare)
        assert cur.fetchall() == [(2,)]
    with pytest.raises(psycopg.errors.InvalidTextRepresentation) as e:
        cur.execute(f"INSERT INTO {table} (id, b) VALUES (3, %s::jsonb)", ("{nope",))
    assert e.value.diag.message_detail, "PostgreSQL's DETAIL names the bad token"


def test_functions_keep_their_types(conn):
    cur = conn.execute(
        "SELECT jsonb_build_object('a', 1, 'b', ARRAY[1, 2]), json_build_object('a', 1), to_jsonb('x'::text),"
        " jsonb_typeof('[1]'), jsonb_set('{\"a\": 1}', '{b}', '2')")
    assert [d.type_code for d in cur.description] == [JSONB_OID, JSON_OID, JSONB_OID, 25, JSONB_OID]
    assert cur.fetchone() == ({"a": 1, "b": [1, 2]}, {"a": 1}, "x", "array", {"a": 1, "b": 2})
    cur = conn.execute("SELECT jsonb_agg(x ORDER BY x DESC), json_object_agg(x, x * 2)"
                       " FROM (VALUES (1), (2)) v(x)")
    assert [d.type_code for d in cur.description] == [JSONB_OID, JSON_OID]
    assert cur.fetchone() == ([2, 1], {"1": 2, "2": 4})


def test_copy_text_and_binary(conn, table):
    with conn.cursor().copy(f"COPY {table} FROM STDIN") as copy:
        copy.write('1\t{"a": 1,  "a": 2}\t{"b": 1, "a": [1, 2.50]}\n')
    with conn.cursor().copy(f"COPY {table} (id, j, b) FROM STDIN (FORMAT BINARY)") as copy:
        copy.set_types(["integer", "json", "jsonb"])
        copy.write_row((2, Json({"x": None}), Jsonb({"y": "z"})))
    # json keeps its text; jsonb is canonical.
    assert conn.execute(f"SELECT j::text, b::text FROM {table} ORDER BY id").fetchall() == [
        ('{"a": 1,  "a": 2}', '{"a": [1, 2.50], "b": 1}'), ('{"x": null}', '{"y": "z"}')]
    with pytest.raises(psycopg.errors.InvalidTextRepresentation):
        with conn.cursor().copy(f"COPY {table} (id, b) FROM STDIN") as copy:
            copy.write("3\t[1,\n")
    with conn.cursor().copy(f"COPY (SELECT j, b FROM {table} ORDER BY id) TO STDOUT (FORMAT BINARY)") as copy:
        copy.set_types(["json", "jsonb"])
        rows = list(copy.rows())
    assert rows == [({"a": 2}, {"a": [1, 2.5], "b": 1}), ({"x": None}, {"y": "z"})]


def test_sqlalchemy_orm_with_jsonb(engine, db):
    metadata = sa.MetaData()
    docs = sa.Table(
        db.adopt(db.name("docs")), metadata,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("data", pgt.JSONB, nullable=False, server_default=sa.text("'{}'::jsonb")),
        sa.Column("raw", sa.JSON),
    )
    registry = orm.registry(metadata=metadata)

    class D:
        pass

    registry.map_imperatively(D, docs)
    metadata.create_all(engine)

    with orm.Session(engine) as session:
        for i in range(3):
            d = D()
            d.id = i
            d.data = {"n": i, "tags": ["even"] if i % 2 == 0 else ["odd"], "meta": {"k": f"v{i}"}}
            d.raw = [i, str(i)]
            session.add(d)
        empty = D()
        empty.id = 9
        session.add(empty)
        session.commit()

    with orm.Session(engine) as session:
        assert session.get(D, 1).data == {"n": 1, "tags": ["odd"], "meta": {"k": "v1"}}
        assert session.get(D, 1).raw == [1, "1"]
        assert session.get(D, 9).data == {}
        q = sa.select(docs.c.id).where(docs.c.data["meta"]["k"].astext == "v2")
        assert session.execute(q).scalars().all() == [2]
        q = sa.select(docs.c.id).where(docs.c.data.contains({"tags": ["even"]})).order_by(docs.c.id)
        assert session.execute(q).scalars().all() == [0, 2]
        q = sa.select(docs.c.id).where(docs.c.data.has_key("meta")).order_by(docs.c.id)
        assert session.execute(q).scalars().all() == [0, 1, 2]
        q = sa.select(docs.c.data["n"].as_integer()).where(docs.c.id == 2)
        assert session.execute(q).scalar_one() == 2
        q = sa.select(docs.c.id).order_by(docs.c.data["n"].desc()).where(docs.c.data.has_key("n"))
        assert session.execute(q).scalars().all() == [2, 1, 0]
        q = sa.select(sa.func.jsonb_agg(docs.c.data["n"]).label("ns")).where(docs.c.id < 2)
        assert sorted(session.execute(q).scalar_one()) == [0, 1]
        d = session.get(D, 0)
        d.data = {**d.data, "n": 10}
        session.commit()
        assert session.execute(sa.select(docs.c.data["n"].as_integer()).where(docs.c.id == 0)).scalar_one() == 10

    with engine.begin() as connection:
        stmt = pgt.insert(docs).values(id=1, data={"replaced": True})
        connection.execute(stmt.on_conflict_do_update(index_elements=[docs.c.id],
                                                      set_={"data": stmt.excluded.data}))
        got = connection.execute(sa.select(docs.c.data).where(docs.c.id == 1)).scalar_one()
        assert got == {"replaced": True}

    columns = {c["name"]: c["type"] for c in sa.inspect(engine).get_columns(docs.name)}
    assert isinstance(columns["data"], pgt.JSONB), columns
    assert isinstance(columns["raw"], sa.JSON), columns
