"""The PostgreSQL JDBC driver (Debian's libpostgresql-jdbc-java): the DatabaseMetaData calls a GUI tool (DBeaver,
DataGrip, Metabase) makes on connect, prepared statements with setObject for each supported type, batches and
savepoints. jdbc/JdbcProbe.java runs the driver; every assertion is here, and holds on PostgreSQL too."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import urllib.parse
from pathlib import Path

import pytest

from conftest import HERE, conn_params

JARS = ("/usr/share/java/postgresql.jar",)
PROBE = HERE / "jdbc" / "JdbcProbe.java"


@pytest.fixture(scope="session")
def probe_classes(tmp_path_factory) -> Path:
    javac = shutil.which("javac")
    jar = next((j for j in JARS if os.path.exists(j)), None)
    if javac is None or jar is None:
        pytest.fail("needs a JDK and the PostgreSQL JDBC driver: apt-get install default-jdk-headless "
                    "libpostgresql-jdbc-java (scripts/test installs them)")
    out = tmp_path_factory.mktemp("jdbc")
    subprocess.run([javac, "-d", str(out), str(PROBE)], check=True, capture_output=True, timeout=120)
    return out


def jdbc_url() -> str:
    params = conn_params()
    query = {"user": params["user"], "ApplicationName": params["application_name"]}
    if "password" in params:
        query["password"] = params["password"]
    if params.get("sslmode"):
        query["sslmode"] = params["sslmode"]  # `require`: encrypted, certificate not verified, as libpq
    host, port = params.get("host", "127.0.0.1"), params.get("port", "5432")
    return f"jdbc:postgresql://{host}:{port}/{params['dbname']}?{urllib.parse.urlencode(query)}"


@pytest.fixture
def jdbc(probe_classes):
    """Run probe commands (tuples of fields) through one JDBC connection; one parsed JSON result per command."""

    def run(*commands: tuple) -> list[dict]:
        script = "".join("\t".join("\\N" if f is None else str(f) for f in cmd) + "\n" for cmd in commands)
        classpath = os.pathsep.join([*JARS, str(probe_classes)])
        out = subprocess.run(
            ["java", "-Duser.timezone=UTC", "-cp", classpath, "JdbcProbe", jdbc_url()],
            input=script, capture_output=True, text=True, timeout=120,
        )
        lines = [json.loads(line) for line in out.stdout.splitlines() if line.strip()]
        assert out.returncode == 0, f"JdbcProbe exited {out.returncode}: {out.stderr or lines}"
        assert len(lines) == len(commands), out.stderr
        return lines

    return run


def rows(result: dict) -> list[dict]:
    assert "error" not in result, result["error"]
    return result["rows"]


def ok(result: dict) -> dict:
    assert "error" not in result, result["error"]
    return result


def test_jdbc_connect_and_database_info(jdbc):
    (info,) = jdbc(("info",))
    info = ok(info)["info"]
    assert info["product"] == "PostgreSQL"
    assert info["major"] >= 15
    assert info["catalog"] == conn_params()["dbname"]
    assert info["schema"] == "public"
    assert info["isolation"] == 2  # Connection.TRANSACTION_READ_COMMITTED
    assert info["readOnly"] is False


def test_jdbc_schemas_catalogs_and_table_types(jdbc):
    schemas, catalogs, types = jdbc(("meta", "getSchemas"), ("meta", "getCatalogs"), ("meta", "getTableTypes"))
    names = [r["table_schem"] for r in rows(schemas)]
    assert {"public", "pg_catalog", "information_schema"} <= set(names)
    assert names == sorted(names)
    assert [r["TABLE_CAT"] for r in rows(catalogs)] == [conn_params()["dbname"]]
    assert {"TABLE", "VIEW", "INDEX", "SEQUENCE", "SYSTEM TABLE"} <= {r["TABLE_TYPE"] for r in rows(types)}


def test_jdbc_get_tables(jdbc, db, items):
    other = db.create("other", "CREATE TABLE {name} (k integer PRIMARY KEY)")
    one, by_prefix, tables_only, indexes = jdbc(
        ("meta", "getTables", None, "public", items, None),
        ("meta", "getTables", None, "public", db.prefix + "%", None),
        ("meta", "getTables", None, None, db.prefix + "%", "TABLE"),
        ("meta", "getTables", None, "public", db.prefix + "%", "INDEX"),
    )
    (row,) = rows(one)
    assert (row["TABLE_SCHEM"], row["TABLE_NAME"], row["TABLE_TYPE"]) == ("public", items, "TABLE")
    # No type filter: indexes too, ordered by TABLE_TYPE then name, as PostgreSQL's answer.
    assert [(r["TABLE_TYPE"], r["TABLE_NAME"]) for r in rows(by_prefix)] == [
        ("INDEX", f"{items}_pkey"), ("INDEX", f"{other}_pkey"), ("TABLE", items), ("TABLE", other)
    ]
    assert [r["TABLE_NAME"] for r in rows(tables_only)] == sorted([items, other])
    assert sorted(r["TABLE_NAME"] for r in rows(indexes)) == sorted([f"{items}_pkey", f"{other}_pkey"])
    # A DBeaver-style listing of everything in public must include the user's tables and no system catalog.
    (everything,) = jdbc(("meta", "getTables", None, "public", "%", "TABLE"))
    listed = {r["TABLE_NAME"] for r in rows(everything)}
    assert {items, other} <= listed
    assert "pg_class" not in listed


def test_jdbc_get_columns(jdbc, items):
    (result,) = jdbc(("meta", "getColumns", None, "public", items, "%"))
    cols = rows(result)
    assert [c["COLUMN_NAME"] for c in cols] == ["id", "name", "qty", "price", "created", "flag", "data"]
    assert [c["ORDINAL_POSITION"] for c in cols] == list(range(1, 8))
    assert [c["TYPE_NAME"] for c in cols] == ["int8", "text", "int4", "numeric", "timestamp", "bool", "bytea"]
    # java.sql.Types: BIGINT, VARCHAR, INTEGER, NUMERIC, TIMESTAMP, BIT (pgjdbc maps bool to BIT), BINARY
    assert [c["DATA_TYPE"] for c in cols] == [-5, 12, 4, 2, 93, -7, -2]
    assert [c["NULLABLE"] for c in cols] == [0, 0, 1, 1, 1, 1, 1]
    assert [c["IS_NULLABLE"] for c in cols] == ["NO", "NO", "YES", "YES", "YES", "YES", "YES"]
    assert (cols[3]["COLUMN_SIZE"], cols[3]["DECIMAL_DIGITS"]) == (10, 2)
    assert cols[0]["COLUMN_SIZE"] == 19 and cols[2]["COLUMN_SIZE"] == 10
    assert cols[1]["COLUMN_DEF"] == "'x'::text"
    assert all(c["COLUMN_DEF"] is None for i, c in enumerate(cols) if i != 1)
    assert all(c["IS_AUTOINCREMENT"] == "NO" for c in cols)
    (one,) = jdbc(("meta", "getColumns", None, "public", items, "q%"))
    assert [c["COLUMN_NAME"] for c in rows(one)] == ["qty"]


def test_jdbc_primary_keys_and_index_info(jdbc, db):
    table = db.create("pk", "CREATE TABLE {name} (a integer, b text, c integer, PRIMARY KEY (b))")
    pk, indexes, unique_only = jdbc(
        ("meta", "getPrimaryKeys", None, "public", table),
        ("meta", "getIndexInfo", None, "public", table, "false"),
        ("meta", "getIndexInfo", None, "public", table, "true"),
    )
    assert [(r["column_name"], r["key_seq"], r["pk_name"]) for r in rows(pk)] == [("b", 1, f"{table}_pkey")]
    index_rows = rows(indexes)
    assert [(r["INDEX_NAME"], r["ORDINAL_POSITION"], r["COLUMN_NAME"]) for r in index_rows] == [
        (f"{table}_pkey", 1, "b"),
    ]
    assert all(r["NON_UNIQUE"] is False for r in index_rows)
    assert all(r["TYPE"] == 3 for r in index_rows)  # DatabaseMetaData.tableIndexOther
    # pgjdbc reports a direction for btree indexes only: OmenDB's learned indexes are btree in the catalog.
    assert all(r["ASC_OR_DESC"] == "A" for r in index_rows)
    assert rows(unique_only) == index_rows


def test_jdbc_foreign_keys_of_a_table_without_any(jdbc, items):
    imported, exported = jdbc(
        ("meta", "getImportedKeys", None, "public", items),
        ("meta", "getExportedKeys", None, "public", items),
    )
    assert rows(imported) == [] and rows(exported) == []


def test_jdbc_type_info(jdbc):
    (result,) = jdbc(("meta", "getTypeInfo",))
    by_name = {r["TYPE_NAME"]: r for r in rows(result)}
    expected = {"int2": 5, "int4": 4, "int8": -5, "float4": 7, "float8": 8, "numeric": 2, "text": 12,
                "varchar": 12, "bool": -7, "bytea": -2, "date": 91, "timestamp": 93, "timestamptz": 93}
    for name, jdbc_type in expected.items():
        assert name in by_name, name
        assert by_name[name]["DATA_TYPE"] == jdbc_type, name
    assert by_name["int4"]["NULLABLE"] == 1  # typeNullable
    assert by_name["text"]["CASE_SENSITIVE"] is True


def test_jdbc_routines_and_privileges_calls_plan(jdbc, items):
    # Tools call these while browsing; the answers may be empty, but they must not fail.
    procedures, functions, privileges, best_row = jdbc(
        ("meta", "getProcedures", None, "public", "%"),
        ("meta", "getFunctions", None, "public", "%"),
        ("meta", "getTablePrivileges", None, "public", items),
        ("meta", "getBestRowIdentifier", None, "public", items),
    )
    ok(procedures), ok(functions)
    assert {r["PRIVILEGE"] for r in rows(privileges)} >= {"SELECT", "INSERT", "UPDATE", "DELETE"}
    assert [r["COLUMN_NAME"] for r in rows(best_row)] == ["id"]


TYPED = (
    "CREATE TABLE {name} (id integer PRIMARY KEY, s smallint, i integer, b bigint, r real, d double precision, "
    "n numeric(12,3), t text, v varchar(20), f boolean, x bytea, dt date, ts timestamp, tz timestamptz)"
)


def test_jdbc_prepared_statements_set_object_every_type(jdbc, db):
    table = db.create("typed", TYPED)
    values = [
        ("short", "-7"), ("int", "123456"), ("long", "9007199254740993"), ("float", "1.5"),
        ("double", "2.25"), ("decimal", "1234.567"), ("string", "héllo"), ("string", "v'q"),
        ("bool", "true"), ("bytes", "00ff10"), ("localdate", "2024-02-29"),
        ("localdatetime", "2024-02-29T13:14:15.123456"), ("offsetdatetime", "2024-02-29T13:14:15Z"),
    ]
    placeholders = ", ".join("?" for _ in range(len(values) + 1))
    commands = [("prepare", f"INSERT INTO {table} VALUES ({placeholders})"), ("bind", 1, "int", 1)]
    commands += [("bind", i + 2, kind, value) for i, (kind, value) in enumerate(values)]
    commands += [("run",), ("bind", 1, "int", 2)]
    commands += [("bind", i + 2, "null:" + sql, None) for i, sql in enumerate(
        ["integer", "integer", "bigint", "double", "double", "numeric", "varchar", "varchar", "boolean",
         "binary", "timestamp", "timestamp", "timestamp"])]
    commands += [("run",), ("query", f"SELECT * FROM {table} ORDER BY id")]
    *steps, selected = jdbc(*commands)
    assert [s.get("count") for s in steps if "count" in s] == [1, 1]
    assert all("error" not in s for s in steps), [s for s in steps if "error" in s]
    first, second = rows(selected)
    assert first == {
        "id": 1, "s": -7, "i": 123456, "b": 9007199254740993, "r": "1.5", "d": "2.25", "n": "1234.567",
        "t": "héllo", "v": "v'q", "f": True, "x": "\\x00ff10", "dt": "2024-02-29",
        "ts": "2024-02-29 13:14:15.123456", "tz": "2024-02-29 13:14:15.0",
    }
    assert second == {"id": 2, **{k: None for k in first if k != "id"}}


def test_jdbc_prepared_statement_reused_past_the_server_prepare_threshold(jdbc, db):
    # pgjdbc switches from unnamed to named server-side statements after prepareThreshold (5) executions.
    table = db.create("reuse", "CREATE TABLE {name} (id integer PRIMARY KEY, v text)")
    commands = [("prepare", f"INSERT INTO {table} VALUES (?, ?)")]
    for i in range(1, 11):
        commands += [("bind", 1, "int", i), ("bind", 2, "string", f"v{i}"), ("run",)]
    commands += [("prepare", f"SELECT v FROM {table} WHERE id = ?")]
    for i in range(1, 11):
        commands += [("bind", 1, "int", i), ("run",)]
    results = jdbc(*commands)
    runs = [r for r in results if "count" in r or "rows" in r]
    assert [r["count"] for r in runs[:10]] == [1] * 10
    assert [rows(r) for r in runs[10:]] == [[{"v": f"v{i}"}] for i in range(1, 11)]


def test_jdbc_batch_insert(jdbc, db):
    table = db.create("batch", "CREATE TABLE {name} (id bigint PRIMARY KEY, v text)")
    commands = [("autocommit", "off"), ("prepare", f"INSERT INTO {table} VALUES (?, ?)")]
    for i in range(100):
        commands += [("bind", 1, "long", i), ("bind", 2, "string", f"row {i}"), ("add",)]
    commands += [("batch",), ("commit",), ("query", f"SELECT count(*) AS n, sum(id)::bigint AS s FROM {table}")]
    *_, batch, commit, total = jdbc(*commands)
    assert ok(batch)["counts"] == [1] * 100
    ok(commit)
    assert rows(total) == [{"n": 100, "s": 4950}]


def test_jdbc_batch_with_a_duplicate_key_fails_and_rolls_back(jdbc, db):
    table = db.create("dup", "CREATE TABLE {name} (id bigint PRIMARY KEY)")
    commands = [("autocommit", "off"), ("prepare", f"INSERT INTO {table} VALUES (?)")]
    for i in (1, 2, 2, 3):
        commands += [("bind", 1, "long", i), ("add",)]
    commands += [("batch",), ("rollback",), ("query", f"SELECT count(*) AS n FROM {table}")]
    *_, batch, rollback, count = jdbc(*commands)
    assert batch["error"]["sqlstate"] == "23505"
    ok(rollback)
    assert rows(count) == [{"n": 0}]


def test_jdbc_savepoints(jdbc, db):
    table = db.create("sp", "CREATE TABLE {name} (id integer PRIMARY KEY)")
    results = jdbc(
        ("autocommit", "off"),
        ("exec", f"INSERT INTO {table} VALUES (1)"),
        ("savepoint", "a"),
        ("exec", f"INSERT INTO {table} VALUES (2)"),
        ("rollback_to", "a"),
        ("savepoint", "b"),
        ("exec", f"INSERT INTO {table} VALUES (1)"),  # duplicate: the transaction is aborted ...
        ("rollback_to", "b"),  # ... and recovered by rolling back to the savepoint
        ("exec", f"INSERT INTO {table} VALUES (3)"),
        ("release", "b"),
        ("commit",),
        ("query", f"SELECT id FROM {table} ORDER BY id"),
    )
    assert results[6]["error"]["sqlstate"] == "23505"
    assert all("error" not in r for i, r in enumerate(results) if i != 6), results
    assert rows(results[-1]) == [{"id": 1}, {"id": 3}]


def test_jdbc_result_set_metadata_names_the_source_table(jdbc, db, items):
    # DBeaver-style tools make a result editable when ResultSetMetaData names each column's table (pgjdbc
    # reads the table OID and column number of RowDescription) and know numeric precision from its typmod.
    (result,) = jdbc(("rsmeta", f"SELECT id, name, price, price * 2 AS twice FROM {items} WHERE id > 0"))
    cols = {c["label"]: c for c in ok(result)["rows"]}
    assert (cols["id"]["table"], cols["id"]["nullable"]) == (items, 0)  # columnNoNulls
    assert (cols["name"]["table"], cols["name"]["nullable"]) == (items, 0)
    assert (cols["price"]["table"], cols["price"]["nullable"]) == (items, 1)  # columnNullable
    assert (cols["price"]["precision"], cols["price"]["scale"]) == (10, 2)
    assert cols["twice"]["table"] == ""  # an expression has no source column
    assert cols["twice"]["nullable"] == 2  # columnNullableUnknown
    other = db.create("other", "CREATE TABLE {name} (k integer PRIMARY KEY, label text)")
    joined, nested = jdbc(
        ("rsmeta", f"SELECT t.id AS ident, o.label, o.k FROM {items} t JOIN {other} o ON o.k = t.qty"),
        ("rsmeta", f"SELECT s.label FROM (SELECT label FROM {other} WHERE k > 1) s ORDER BY 1"),
    )
    assert [(c["label"], c["table"]) for c in ok(joined)["rows"]] == [("ident", items), ("label", other), ("k", other)]
    assert [(c["label"], c["table"], c["nullable"]) for c in ok(nested)["rows"]] == [("label", other, 1)]
