"""Django as an application uses it: `migrate` of contrib contenttypes, auth, sessions and admin plus a test
app (`django_project/shop`: foreign keys, unique fields, unique_together, an index, a CHECK from a positive
field), then a second migration that adds and renames a column, the ORM on the result (bulk_create, joins
through the foreign key, IntegrityError on a duplicate, cascading delete), `flush`, and `migrate shop zero`.
Each step runs `manage.py`-style in its own process, as a user does; the same steps on both servers (on
PostgreSQL in a database of its own). JSONField is not in the app yet: json/jsonb are issue 18."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import psycopg
import pytest

from conftest import conn_params, conninfo, target

pytest.importorskip("django", reason="scripts/test installs Django (pip install 'django>=5,<6')")

PROJECT = Path(__file__).resolve().parent / "django_project"

# Everything the migrations create, dropped before and after (the OmenDB database is shared by the suite).
TABLES = [
    "shop_product",
    "shop_category",
    "django_admin_log",
    "auth_user_user_permissions",
    "auth_user_groups",
    "auth_group_permissions",
    "auth_permission",
    "auth_user",
    "auth_group",
    "django_session",
    "django_content_type",
    "django_migrations",
]

ORM_SCRIPT = r"""
import django
django.setup()
from decimal import Decimal
from django.db import IntegrityError, transaction
from shop.models import Category, Product
from django.contrib.auth.models import User

books = Category.objects.create(name="books")
toys = Category.objects.create(name="toys")
Product.objects.bulk_create([
    Product(sku=f"B{i}", title=f"Book {i}", price=Decimal("9.99"), stock=i, category=books) for i in range(5)
] + [Product(sku="T1", title="Kite", price=Decimal("19.50"), category=toys, description="red")])
assert Product.objects.filter(category__name="books").count() == 5
assert list(Product.objects.filter(sku="T1").values_list("description", flat=True)) == ["red"]
assert sorted(c.name for c in Category.objects.filter(products__stock__gte=3).distinct()) == ["books"]
try:
    with transaction.atomic():
        Product.objects.create(sku="B1", title="dup", price=1, category=toys)
    raise SystemExit("duplicate sku accepted")
except IntegrityError:
    pass
try:
    with transaction.atomic():
        Product.objects.create(sku="X1", title="Kite", price=1, category=toys)
    raise SystemExit("duplicate (category, title) accepted")
except IntegrityError:
    pass
try:
    with transaction.atomic():
        Product.objects.create(sku="X2", title="Neg", price=1, stock=-1, category=toys)
    raise SystemExit("negative PositiveIntegerField accepted")
except IntegrityError:
    pass
# Inside an outer transaction the violation surfaces at the statement, so a savepoint recovers from it
# (get_or_create's pattern) and the rest of the transaction commits.
with transaction.atomic():
    try:
        with transaction.atomic():
            Category.objects.create(name="toys")
        raise SystemExit("duplicate category accepted inside a transaction")
    except IntegrityError:
        pass
    Category.objects.create(name="games")
assert Category.objects.filter(name="games").count() == 1
# Upserts on a UNIQUE (non-key) column: ON CONFLICT ("sku") DO UPDATE, and DO NOTHING.
Product.objects.bulk_create(
    [Product(sku="T1", title="Blue kite", price=Decimal("21.00"), category=toys),
     Product(sku="T2", title="Yo-yo", price=Decimal("3.00"), category=toys)],
    update_conflicts=True, unique_fields=["sku"], update_fields=["title", "price"],
)
assert Product.objects.get(sku="T1").title == "Blue kite"
assert Product.objects.filter(category=toys).count() == 2
Product.objects.bulk_create(
    [Product(sku="T2", title="ignored", price=1, category=toys)], ignore_conflicts=True)
assert Product.objects.get(sku="T2").title == "Yo-yo"
User.objects.create_user("ada", password="pw")
assert User.objects.get(username="ada").check_password("pw")
books.delete()
assert Product.objects.count() == 2
print("orm ok")
"""


def _django_db(dbname: str) -> dict:
    params = conn_params()
    db = {
        "NAME": dbname,
        "USER": params.pop("user"),
        "PASSWORD": params.pop("password", ""),
        "HOST": params.pop("host"),
        "PORT": params.pop("port"),
    }
    params.pop("dbname", None)
    db["OPTIONS"] = params
    return db


def _run(db: dict, *args: str, script: str | None = None) -> str:
    env = dict(os.environ, OMENDB_DJANGO_DB=json.dumps(db), DJANGO_SETTINGS_MODULE="settings",
               PYTHONPATH=str(PROJECT))
    cmd = [sys.executable, "-c", script] if script else [sys.executable, "-m", "django", *args]
    out = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=PROJECT, timeout=300)
    assert out.returncode == 0, f"{' '.join(args) or 'script'}:\n{out.stdout[-3000:]}\n{out.stderr[-5000:]}"
    return out.stdout


def _drop_all(conn: psycopg.Connection) -> None:
    for t in TABLES:
        conn.execute(f"DROP TABLE IF EXISTS {t} CASCADE")


@pytest.fixture
def database():
    """The database the project migrates: a fresh one on PostgreSQL, the shared one on OmenDB (cleaned)."""
    if target() == "postgres":
        name = f"cat_django_{uuid.uuid4().hex[:8]}"
        with psycopg.connect(conninfo(), autocommit=True) as c:
            c.execute(f"CREATE DATABASE {name}")
        yield name
        with psycopg.connect(conninfo(), autocommit=True) as c:
            c.execute(f"DROP DATABASE {name} WITH (FORCE)")
    else:
        name = conn_params()["dbname"]
        with psycopg.connect(conninfo(), autocommit=True) as c:
            _drop_all(c)
        yield name
        with psycopg.connect(conninfo(), autocommit=True) as c:
            _drop_all(c)


def test_django_migrate_orm_flush_and_unmigrate(database):
    db = _django_db(database)
    out = _run(db, "migrate", "--noinput")
    assert "Applying shop.0002_description... OK" in out
    assert "Applying admin.0001_initial... OK" in out
    with psycopg.connect(conninfo(dbname=database), autocommit=True) as c:
        columns = [r[0] for r in c.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_name = 'shop_product' "
            "ORDER BY ordinal_position").fetchall()]
        assert "description" in columns and "blurb" not in columns
        kinds = sorted(r[0] for r in c.execute(
            "SELECT contype::text FROM pg_constraint WHERE conrelid = 'shop_product'::regclass").fetchall())
        # Primary key, two unique constraints (sku, category+title), the foreign key, the CHECK on stock.
        assert kinds == ["c", "f", "p", "u", "u"], kinds
    assert "orm ok" in _run(db, script=ORM_SCRIPT)
    _run(db, "flush", "--noinput")
    with psycopg.connect(conninfo(dbname=database), autocommit=True) as c:
        assert c.execute("SELECT count(*) FROM shop_product").fetchone()[0] == 0
        assert c.execute("SELECT count(*) FROM auth_user").fetchone()[0] == 0
    out = _run(db, "migrate", "shop", "zero", "--noinput")
    assert "Unapplying shop.0001_initial... OK" in out
    with psycopg.connect(conninfo(dbname=database), autocommit=True) as c:
        left = c.execute("SELECT count(*) FROM information_schema.tables WHERE table_name LIKE 'shop_%'").fetchone()
        assert left[0] == 0
