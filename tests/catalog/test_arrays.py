"""Array columns as applications use them: psycopg sends Python lists as parameters (text and binary, prepared
and not) and reads them back as lists, COPY moves arrays in text and binary, and SQLAlchemy's ORM keeps
`ARRAY` attributes: insert, `any()`, `contains()`, indexing, update, reflection. Same assertions on both
servers."""

from __future__ import annotations

import datetime
import decimal

import psycopg
import psycopg.types.string
import pytest
import sqlalchemy as sa
from sqlalchemy import orm
from sqlalchemy.dialects import postgresql as pgt

DDL = "CREATE TABLE {name} (id integer PRIMARY KEY, ints integer[], tags text[], amounts numeric(10,2)[], days date[])"


@pytest.mark.parametrize("binary", [False, True], ids=["text", "binary"])
def test_lists_as_parameters_and_results(conn, db, binary):
    table = db.create("t", DDL)
    cur = conn.cursor(binary=binary)
    rows = [
        (1, [1, 2, None], ["a", "b c", 'q"uote', "back\\slash", None, "NULL", ""], [decimal.Decimal("1.50")],
         [datetime.date(2024, 1, 31)]),
        (2, [], [], [], []),
        (3, None, None, None, None),
    ]
    for prepare in (False, True):
        cur.execute(f"DELETE FROM {table}")
        for r in rows:
            cur.execute(f"INSERT INTO {table} VALUES (%s, %s, %s, %s, %s)", r, prepare=prepare)
        cur.execute(f"SELECT id, ints, tags, amounts, days FROM {table} ORDER BY id", prepare=prepare)
        assert [d.type_code for d in cur.description] == [23, 1007, 1009, 1231, 1182]
        assert cur.fetchall() == rows
    cur.execute(f"SELECT id FROM {table} WHERE %s = ANY(ints)", (2,))
    assert cur.fetchall() == [(1,)]
    cur.execute(f"SELECT id FROM {table} WHERE tags @> %s", (["b c"],))
    assert cur.fetchall() == [(1,)]
    with pytest.raises(psycopg.errors.InvalidTextRepresentation):
        conn.execute(f"INSERT INTO {table} (id, ints) VALUES (9, '{{1,x}}')")


def test_array_text_is_array_out(conn, db):
    """The text of an array result is array_out's, element by element: floats in PostgreSQL's notation,
    timestamps quoted with their significant fraction digits (read raw, not parsed into lists)."""
    table = db.create("t", "CREATE TABLE {name} (id integer PRIMARY KEY, t timestamp[], f float8[], s text[])")
    conn.execute(f"INSERT INTO {table} VALUES (1, '{{2024-01-01 10:00:00.5}}', '{{1.5,1e30,0.1}}', "
                 "'{\"a b\",NULL,c}')")
    cur = conn.cursor()
    for oid in (1115, 1022, 1009):
        cur.adapters.register_loader(oid, psycopg.types.string.TextLoader)
    for prepare in (False, True):
        cur.execute(f"SELECT t, f, s FROM {table}", prepare=prepare)
        assert cur.fetchone() == ('{"2024-01-01 10:00:00.5"}', "{1.5,1e+30,0.1}", '{"a b",NULL,c}')


def test_copy_text_and_binary(conn, db):
    table = db.create("t", DDL)
    with conn.cursor().copy(f"COPY {table} (id, ints, tags) FROM STDIN") as copy:
        copy.write('1\t{1,2}\t{a,"b c",NULL}\n2\t{}\t\\N\n')
    with conn.cursor().copy(f"COPY {table} (id, ints, tags) FROM STDIN (FORMAT BINARY)") as copy:
        copy.set_types(["integer", "integer[]", "text[]"])
        copy.write_row((3, [7, None], ["x", "y z"]))
    assert conn.execute(f"SELECT id, ints, tags FROM {table} ORDER BY id").fetchall() == [
        (1, [1, 2], ["a", "b c", None]), (2, [], None), (3, [7, None], ["x", "y z"])]
    with conn.cursor().copy(f"COPY (SELECT id, ints, tags FROM {table} ORDER BY id) TO STDOUT") as copy:
        out = b"".join(bytes(b) for b in copy)
    assert out == b'1\t{1,2}\t{a,"b c",NULL}\n2\t{}\t\\N\n3\t{7,NULL}\t{x,"y z"}\n'
    with pytest.raises(psycopg.errors.InvalidTextRepresentation):
        with conn.cursor().copy(f"COPY {table} (id, ints) FROM STDIN") as copy:
            copy.write("4\t{1,oops}\n")


def test_sqlalchemy_orm_with_array_columns(engine, db):
    metadata = sa.MetaData()
    posts = sa.Table(
        db.adopt(db.name("posts")), metadata,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("tags", pgt.ARRAY(sa.Text), nullable=False),
        sa.Column("scores", pgt.ARRAY(sa.Integer)),
    )
    registry = orm.registry(metadata=metadata)

    class Post:
        pass

    registry.map_imperatively(Post, posts)
    metadata.create_all(engine)

    with orm.Session(engine) as session:
        for i, (tags, scores) in enumerate([(["a", "b"], [3, 1]), (["b"], []), (["c", "d e"], None)]):
            p = Post()
            p.id, p.tags, p.scores = i + 1, tags, scores
            session.add(p)
        session.commit()

    with orm.Session(engine) as session:
        assert session.scalars(sa.select(Post.id).where(sa.any_(Post.tags) == "b").order_by(Post.id)).all() == [1, 2]
        assert session.scalars(sa.select(Post.id).where(Post.tags.contains(["d e"]))).all() == [3]
        assert session.scalars(sa.select(Post.id).where(Post.scores[1] == 3)).all() == [1]
        assert session.scalars(sa.select(sa.func.array_length(Post.tags, 1)).order_by(Post.id)).all() == [2, 1, 2]
        p = session.get(Post, 2)
        assert p.tags == ["b"] and p.scores == []
        p.tags = p.tags + ["z"]
        session.commit()
    with orm.Session(engine) as session:
        assert session.get(Post, 2).tags == ["b", "z"]
        unnested = session.execute(
            sa.select(sa.func.unnest(Post.tags).label("t")).where(Post.id == 1)
        ).scalars().all()
        assert sorted(unnested) == ["a", "b"]

    columns = {c["name"]: c["type"] for c in sa.inspect(engine).get_columns(posts.name)}
    assert isinstance(columns["tags"], sa.ARRAY) and isinstance(columns["tags"].item_type, sa.Text)
    assert isinstance(columns["scores"], sa.ARRAY) and isinstance(columns["scores"].item_type, sa.Integer)
