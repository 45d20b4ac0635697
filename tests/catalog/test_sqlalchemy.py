"""SQLAlchemy 2 (postgresql+psycopg dialect): connecting, the Inspector, MetaData.reflect and Core DDL / DML.

The dialect learns about the server from `version()`, `current_schema()` and friends when it connects, and
the Inspector reflects tables through its own pg_catalog queries; these tests check the answers an
application sees, not the queries.
"""

from __future__ import annotations

import datetime
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy import types as sat
from sqlalchemy.dialects import postgresql as pgt

from conftest import ITEMS_NULLABLE, target

ITEMS_COLUMNS = ["id", "name", "qty", "price", "created", "flag", "data"]


def test_connect_select_1(engine):
    with engine.connect() as connection:
        assert connection.execute(sa.text("select 1")).scalar_one() == 1
        assert connection.execute(sa.text("select 1 + :n"), {"n": 41}).scalar_one() == 42
        # What the dialect detected on connect (from version(), current_schema() and SHOW).
        version = engine.dialect.server_version_info
        assert len(version) >= 2 and all(isinstance(part, int) for part in version), version
        if target() == "omendb":
            assert version >= (15,), version
        assert engine.dialect.default_schema_name == "public"
        assert connection.dialect.get_isolation_level(connection.connection.dbapi_connection) == "READ COMMITTED"


def test_inspector_table_names(engine, items):
    inspector = sa.inspect(engine)
    assert items in inspector.get_table_names()
    assert items in inspector.get_table_names(schema="public")


def test_inspector_columns(engine, items):
    columns = sa.inspect(engine).get_columns(items)
    assert [c["name"] for c in columns] == ITEMS_COLUMNS

    by_name = {c["name"]: c for c in columns}
    expected_types = {
        "id": sat.BIGINT,
        "name": sat.TEXT,
        "qty": sat.INTEGER,
        "price": sat.NUMERIC,
        "created": sat.TIMESTAMP,
        "flag": sat.BOOLEAN,
        "data": pgt.BYTEA,
    }
    for name, type_class in expected_types.items():
        assert isinstance(by_name[name]["type"], type_class), (name, by_name[name]["type"])
    assert (by_name["price"]["type"].precision, by_name["price"]["type"].scale) == (10, 2)
    assert by_name["created"]["type"].timezone is False
    assert str(by_name["price"]["type"].compile(dialect=engine.dialect)) == "NUMERIC(10, 2)"
    assert str(by_name["created"]["type"].compile(dialect=engine.dialect)) == "TIMESTAMP WITHOUT TIME ZONE"

    assert {c["name"]: c["nullable"] for c in columns} == ITEMS_NULLABLE
    assert {c["name"]: c["default"] for c in columns} == {
        "id": None,
        "name": "'x'::text",
        "qty": None,
        "price": None,
        "created": None,
        "flag": None,
        "data": None,
    }
    assert [c["autoincrement"] for c in columns] == [False] * len(ITEMS_COLUMNS)


def test_inspector_pk_constraint(engine, items):
    pk = sa.inspect(engine).get_pk_constraint(items)
    assert pk["constrained_columns"] == ["id"]
    assert pk["name"] == f"{items}_pkey"


def test_inspector_foreign_keys(engine, items):
    assert sa.inspect(engine).get_foreign_keys(items) == []


def test_inspector_indexes(engine, items):
    # The primary key's index is reported by get_pk_constraint, not here.
    assert sa.inspect(engine).get_indexes(items) == []


def test_inspector_unique_constraints(engine, items):
    assert sa.inspect(engine).get_unique_constraints(items) == []


def test_inspector_schema_names(engine):
    schemas = sa.inspect(engine).get_schema_names()
    assert "public" in schemas
    assert "pg_catalog" not in schemas  # the dialect leaves out pg_* schemas


def test_inspector_view_names(engine, items):
    views = sa.inspect(engine).get_view_names()
    assert isinstance(views, list)
    assert items not in views


def test_views_reflect_and_query(engine, items, db):
    view = db.name("cheap")
    db.conn.execute(f"CREATE VIEW {view} AS SELECT id, name, qty FROM {items} WHERE qty < 10")
    try:
        db.conn.execute(f"INSERT INTO {items} (id, name, qty) VALUES (1, 'a', 5), (2, 'b', 50)")
        inspector = sa.inspect(engine)
        assert view in inspector.get_view_names()
        assert view not in inspector.get_table_names()
        assert "qty < 10" in inspector.get_view_definition(view)
        assert [c["name"] for c in inspector.get_columns(view)] == ["id", "name", "qty"]
        table = sa.Table(view, sa.MetaData(), autoload_with=engine)
        with engine.connect() as connection:
            assert connection.execute(sa.select(table.c.id, table.c.name)).all() == [(1, "a")]
    finally:
        db.conn.execute(f"DROP VIEW IF EXISTS {view}")


def test_composite_primary_key_association_table(engine, db):
    """An association table with a two-column primary key, as SQLAlchemy declares many-to-many links."""
    metadata = sa.MetaData()
    link = sa.Table(
        db.adopt(db.name("link")),
        metadata,
        sa.Column("left_id", sa.Integer, primary_key=True),
        sa.Column("right_id", sa.Integer, primary_key=True),
        sa.Column("note", sa.Text),
    )
    metadata.create_all(engine)
    pk = sa.inspect(engine).get_pk_constraint(link.name)
    assert pk["constrained_columns"] == ["left_id", "right_id"]
    assert pk["name"] == f"{link.name}_pkey"
    with engine.begin() as connection:
        connection.execute(link.insert(), [{"left_id": 1, "right_id": 1}, {"left_id": 1, "right_id": 2}])
        stmt = pgt.insert(link).values(left_id=1, right_id=2, note="again")
        connection.execute(stmt.on_conflict_do_update(index_elements=["left_id", "right_id"],
                                                      set_={"note": stmt.excluded.note}))
        assert connection.execute(sa.select(link.c.note).where(link.c.right_id == 2)).scalar_one() == "again"
    try:
        with engine.begin() as connection:
            connection.execute(link.insert().values(left_id=1, right_id=1))
        raise AssertionError("duplicate composite key accepted")
    except sa.exc.IntegrityError as e:
        assert f"{link.name}_pkey" in str(e.orig)


def test_inspector_has_table(engine, items, db):
    inspector = sa.inspect(engine)
    assert inspector.has_table(items) is True
    assert inspector.has_table(db.name("missing")) is False
    assert inspector.has_table(items, schema="public") is True


def test_metadata_reflect(engine, items, db):
    metadata = sa.MetaData()
    metadata.reflect(engine, only=[items])
    assert list(metadata.tables) == [items]

    table = metadata.tables[items]
    assert [c.name for c in table.columns] == ITEMS_COLUMNS
    assert [c.name for c in table.primary_key.columns] == ["id"]
    assert table.primary_key.name == f"{items}_pkey"
    assert table.c.name.nullable is False
    assert table.c.qty.nullable is True
    assert table.c.name.server_default is not None
    assert str(table.c.name.server_default.arg) == "'x'::text"
    assert isinstance(table.c.price.type, sat.NUMERIC)
    assert (table.c.price.type.precision, table.c.price.type.scale) == (10, 2)

    # The reflected table is usable for DML: the server default fills `name`.
    with engine.begin() as connection:
        connection.execute(table.insert().values(id=1, qty=2))
        assert connection.execute(sa.select(table.c.id, table.c.name, table.c.qty)).all() == [(1, "x", 2)]


def test_core_create_all_roundtrip(engine, db):
    metadata = sa.MetaData()
    widgets = sa.Table(
        db.adopt(db.name("widgets")),
        metadata,
        sa.Column("id", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("name", sa.Text, nullable=False, server_default="x"),
        sa.Column("qty", sa.Integer),
        sa.Column("price", sa.Numeric(10, 2)),
        sa.Column("created", sa.DateTime),
        sa.Column("flag", sa.Boolean),
        sa.Column("data", sa.LargeBinary),
    )
    metadata.create_all(engine)
    assert sa.inspect(engine).has_table(widgets.name)

    created = datetime.datetime(2024, 2, 29, 12, 34, 56, 789000)
    rows = [
        {"id": 1, "name": "bolt", "qty": 10, "price": Decimal("0.25"), "created": created, "flag": True,
         "data": b"\x00\x01\xff"},
        {"id": 2, "name": "nut", "qty": None, "price": Decimal("12345678.90"), "created": None, "flag": False,
         "data": None},
    ]
    with engine.begin() as connection:
        connection.execute(widgets.insert(), rows)
        connection.execute(widgets.insert().values(id=3))

    with engine.connect() as connection:
        got = connection.execute(sa.select(widgets).order_by(widgets.c.id)).mappings().all()
        assert [dict(r) for r in got] == rows + [
            {"id": 3, "name": "x", "qty": None, "price": None, "created": None, "flag": None, "data": None}
        ]
        assert connection.execute(
            sa.select(widgets.c.name).where(widgets.c.price > Decimal("1")).order_by(widgets.c.id)
        ).scalars().all() == ["nut"]
        assert connection.execute(sa.select(sa.func.count()).select_from(widgets)).scalar_one() == 3

    with engine.begin() as connection:
        connection.execute(widgets.update().where(widgets.c.id == 1).values(qty=widgets.c.qty + 1))
        connection.execute(widgets.delete().where(widgets.c.id == 2))
    with engine.connect() as connection:
        assert connection.execute(sa.select(widgets.c.id, widgets.c.qty).order_by(widgets.c.id)).all() == [
            (1, 11),
            (3, None),
        ]

    metadata.drop_all(engine)
    assert not sa.inspect(engine).has_table(widgets.name)


def test_core_returning(engine, db):
    """insert / update / delete .returning(), single rows and SQLAlchemy's batched "insertmanyvalues"."""
    name = db.adopt(db.name("ret"))
    metadata = sa.MetaData()
    t = sa.Table(
        name,
        metadata,
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("label", sa.String(20), nullable=False),
        sa.Column("qty", sa.Integer, server_default=sa.text("7")),
    )
    metadata.create_all(engine)
    with engine.begin() as c:
        row = c.execute(t.insert().values(id=1, label="one").returning(t.c.id, t.c.qty)).one()
        assert tuple(row) == (1, 7)
        rows = c.execute(
            t.insert().returning(t.c.id, t.c.label, sort_by_parameter_order=True),
            [{"id": i, "label": f"n{i}"} for i in range(2, 40)],
        ).all()
        assert [tuple(r) for r in rows] == [(i, f"n{i}") for i in range(2, 40)]
        updated = c.execute(
            t.update().where(t.c.id < 3).values(qty=t.c.qty + 1).returning(t.c.id, t.c.qty)
        ).all()
        assert sorted(tuple(r) for r in updated) == [(1, 8), (2, 8)]
        deleted = c.execute(t.delete().where(t.c.id >= 30).returning(t.c.id)).scalars().all()
        assert sorted(deleted) == list(range(30, 40))
        assert c.execute(sa.select(sa.func.count()).select_from(t)).scalar_one() == 29


def test_postgresql_insert_on_conflict(engine, db):
    """`postgresql.insert().on_conflict_do_update / do_nothing`, with RETURNING."""
    name = db.adopt(db.name("upsert"))
    metadata = sa.MetaData()
    t = sa.Table(
        name,
        metadata,
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("label", sa.Text),
        sa.Column("hits", sa.Integer, nullable=False),
    )
    metadata.create_all(engine)
    with engine.begin() as c:
        c.execute(pgt.insert(t), [{"id": 1, "label": "a", "hits": 1}, {"id": 2, "label": "b", "hits": 1}])
        stmt = pgt.insert(t).values([{"id": 2, "label": "B", "hits": 1}, {"id": 3, "label": "c", "hits": 1}])
        stmt = stmt.on_conflict_do_update(
            index_elements=[t.c.id],
            set_={"label": stmt.excluded.label, "hits": t.c.hits + stmt.excluded.hits},
        ).returning(t.c.id, t.c.hits)
        assert [tuple(r) for r in c.execute(stmt)] == [(2, 2), (3, 1)]
        c.execute(pgt.insert(t).values(id=1, label="z", hits=9).on_conflict_do_nothing())
        rows = c.execute(sa.select(t).order_by(t.c.id)).all()
        assert [tuple(r) for r in rows] == [(1, "a", 1), (2, "B", 2), (3, "c", 1)]
