"""uuid as applications use it: psycopg reads uuid.UUID objects from text and binary results and sends them as
parameters in both formats, COPY moves them in text and binary, and SQLAlchemy's ORM keeps objects with uuid
primary keys (client-side uuid4 and server-side gen_random_uuid()), reflects the type and upserts on it.
Same assertions on both servers."""

from __future__ import annotations

import uuid

import psycopg
import pytest
import sqlalchemy as sa
from sqlalchemy import orm
from sqlalchemy.dialects import postgresql as pgt

UUID_OID = 2950
A = uuid.UUID("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11")
B = uuid.UUID("b0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11")


@pytest.fixture
def table(db):
    return db.create("uu", "CREATE TABLE {name} (id uuid PRIMARY KEY, v integer, r uuid)")


@pytest.mark.parametrize("binary", [False, True], ids=["text", "binary"])
def test_results_and_parameters_are_uuids(conn, table, binary):
    cur = conn.cursor(binary=binary)
    cur.execute(f"INSERT INTO {table} VALUES (%s, 1, NULL), (%s, 2, %s)", (A, B, A))
    cur.execute(f"SELECT id, v, r FROM {table} ORDER BY id")
    assert [d.type_code for d in cur.description] == [UUID_OID, 23, UUID_OID]
    assert cur.fetchall() == [(A, 1, None), (B, 2, A)]
    # The key lookup with a uuid parameter, prepared (the fast path) and not.
    for prepare in (False, True):
        cur.execute(f"SELECT v FROM {table} WHERE id = %s", (B,), prepare=prepare)
        assert cur.fetchone() == (2,)
        cur.execute(f"SELECT v FROM {table} WHERE r = %s", (A,), prepare=prepare)
        assert cur.fetchone() == (2,)
    # A uuid sent as text in another spelling is the same uuid.
    cur.execute(f"SELECT v FROM {table} WHERE id = %s::uuid", (str(A).upper(),))
    assert cur.fetchone() == (1,)
    with pytest.raises(psycopg.errors.InvalidTextRepresentation):
        cur.execute(f"INSERT INTO {table} (id, v) VALUES (%s::uuid, 3)", ("not-a-uuid",))


def test_copy_text_and_binary(conn, table):
    with conn.cursor().copy(f"COPY {table} FROM STDIN") as copy:
        copy.write(f"{str(A).upper()}\t1\t\\N\n{{{B}}}\t2\t{A.hex}\n")
    with conn.cursor().copy(f"COPY {table} (id, v) FROM STDIN (FORMAT BINARY)") as copy:
        copy.set_types(["uuid", "integer"])
        copy.write_row((uuid.UUID(int=7), 3))
    assert conn.execute(f"SELECT id, v, r FROM {table} ORDER BY id").fetchall() == [
        (uuid.UUID(int=7), 3, None), (A, 1, None), (B, 2, A)]
    with pytest.raises(psycopg.errors.InvalidTextRepresentation):
        with conn.cursor().copy(f"COPY {table} (id, v) FROM STDIN") as copy:
            copy.write("zz\t4\n")
    out = []
    with conn.cursor().copy(f"COPY (SELECT id, r FROM {table} ORDER BY id) TO STDOUT (FORMAT BINARY)") as copy:
        copy.set_types(["uuid", "uuid"])
        out = list(copy.rows())
    assert out == [(uuid.UUID(int=7), None), (A, None), (B, A)]
    with conn.cursor().copy(f"COPY {table} (id) TO STDOUT") as copy:
        text = b"".join(bytes(b) for b in copy)
    assert sorted(text.decode().split()) == sorted([str(uuid.UUID(int=7)), str(A), str(B)])


def test_gen_random_uuid_default(conn, db):
    name = db.create("gen", "CREATE TABLE {name} (id uuid PRIMARY KEY DEFAULT gen_random_uuid(), n integer)")
    rows = conn.execute(f"INSERT INTO {name} (n) SELECT g FROM generate_series(1, 20) g RETURNING id").fetchall()
    ids = [r[0] for r in rows]
    assert len(set(ids)) == 20 and all(isinstance(i, uuid.UUID) and i.version == 4 for i in ids)
    assert conn.execute(f"SELECT count(*) FROM {name} WHERE id = %s", (ids[0],)).fetchone() == (1,)


def test_sqlalchemy_orm_with_uuid_keys(engine, db):
    metadata = sa.MetaData()
    parents = sa.Table(
        db.adopt(db.name("parent")), metadata,
        sa.Column("id", sa.Uuid, primary_key=True, default=uuid.uuid4),
        sa.Column("name", sa.Text, nullable=False),
    )
    children = sa.Table(
        db.adopt(db.name("child")), metadata,
        sa.Column("id", sa.Uuid, primary_key=True, server_default=sa.text("gen_random_uuid()")),
        sa.Column("parent_id", sa.Uuid, sa.ForeignKey(parents.c.id), nullable=False),
    )
    registry = orm.registry(metadata=metadata)

    class P:
        pass

    class C:
        pass

    registry.map_imperatively(P, parents, properties={"children": orm.relationship(C)})
    registry.map_imperatively(C, children)
    metadata.create_all(engine)

    with orm.Session(engine) as session:
        p = P()
        p.name = "p"
        for _ in range(3):
            p.children.append(C())
        session.add(p)
        session.commit()
        pid = p.id
        assert isinstance(pid, uuid.UUID)
        kids = [c.id for c in p.children]
        assert len(set(kids)) == 3 and all(isinstance(k, uuid.UUID) for k in kids)

    with orm.Session(engine) as session:
        p = session.get(P, pid)
        assert p.name == "p" and sorted(c.id for c in p.children) == sorted(kids)
        got = session.execute(sa.select(children.c.parent_id).where(children.c.id == kids[0])).scalar_one()
        assert got == pid

    # An upsert on the uuid key.
    with engine.begin() as connection:
        stmt = pgt.insert(parents).values(id=pid, name="q")
        connection.execute(stmt.on_conflict_do_update(index_elements=[parents.c.id], set_={"name": "q"}))
        assert connection.execute(sa.select(parents.c.name).where(parents.c.id == pid)).scalar_one() == "q"

    columns = {c["name"]: c["type"] for c in sa.inspect(engine).get_columns(parents.name)}
    assert isinstance(columns["id"], sa.UUID), columns
