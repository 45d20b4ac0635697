"""Django 5.2's PostgreSQL introspection (what `inspectdb`, `migrate` and the schema editor read), through the
real backend on psycopg 3: table list, column descriptions, primary key, constraints and indexes, and the
model `inspectdb` writes. Django is configured once per process, pointing at the server under test.
"""

from __future__ import annotations

import io

import pytest

from conftest import ITEMS_NULLABLE, conn_params

django = pytest.importorskip("django", reason="scripts/test installs Django (pip install 'django>=5,<6')")


@pytest.fixture(scope="module")
def connection():
    from django.conf import settings

    if not settings.configured:
        params = conn_params()
        database = {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": params.pop("dbname"),
            "USER": params.pop("user"),
            "PASSWORD": params.pop("password", ""),
            "HOST": params.pop("host"),
            "PORT": params.pop("port"),
            "OPTIONS": params,
        }
        settings.configure(DATABASES={"default": database}, INSTALLED_APPS=[], USE_TZ=True)
        django.setup()
    from django.db import connection as default

    yield default
    default.close()


def test_table_list(connection, items):
    with connection.cursor() as cursor:
        tables = {t.name: t.type for t in connection.introspection.get_table_list(cursor)}
    assert tables[items] == "t"
    assert items in connection.introspection.table_names()


def test_table_description(connection, items):
    with connection.cursor() as cursor:
        description = connection.introspection.get_table_description(cursor, items)
    by_name = {c.name: c for c in description}
    assert list(by_name) == ["id", "name", "qty", "price", "created", "flag", "data"]
    # PostgreSQL's type OIDs: int8, text, int4, numeric, timestamp, bool, bytea.
    assert {c.name: c.type_code for c in description} == {
        "id": 20,
        "name": 25,
        "qty": 23,
        "price": 1700,
        "created": 1114,
        "flag": 16,
        "data": 17,
    }
    assert {c.name: c.null_ok for c in description} == ITEMS_NULLABLE
    assert (by_name["price"].precision, by_name["price"].scale) == (10, 2)
    assert by_name["name"].default == "'x'::text"
    assert not any(c.is_autofield for c in description)


def test_primary_key_and_constraints(connection, items):
    with connection.cursor() as cursor:
        assert connection.introspection.get_primary_key_column(cursor, items) == "id"
        assert connection.introspection.get_primary_key_columns(cursor, items) == ["id"]
        constraints = connection.introspection.get_constraints(cursor, items)
    pkey = constraints[f"{items}_pkey"]
    assert pkey["columns"] == ["id"]
    assert pkey["primary_key"] is True
    assert pkey["unique"] is True
    assert pkey["foreign_key"] is None
    assert pkey["check"] is False
    assert len(constraints) == 1, constraints


def test_composite_order_of_key_columns(connection, db):
    """`get_constraints` orders a key's columns by their position in the key (unnest ... WITH ORDINALITY)."""
    table = db.create("pair", "CREATE TABLE {name} (b integer NOT NULL, a integer NOT NULL, v text, PRIMARY KEY (b))")
    with connection.cursor() as cursor:
        constraints = connection.introspection.get_constraints(cursor, table)
    assert constraints[f"{table}_pkey"]["columns"] == ["b"]


def test_inspectdb(connection, items):
    from django.core.management import call_command

    out = io.StringIO()
    call_command("inspectdb", items, stdout=out)
    model = out.getvalue()
    for line in [
        "id = models.BigIntegerField(primary_key=True)",
        "qty = models.IntegerField(blank=True, null=True)",
        "price = models.DecimalField(max_digits=10, decimal_places=2, blank=True, null=True)",
        "created = models.DateTimeField(blank=True, null=True)",
        "flag = models.BooleanField(blank=True, null=True)",
        "data = models.BinaryField(blank=True, null=True)",
        "managed = False",
        f"db_table = '{items}'",
    ]:
        assert line in model, model
