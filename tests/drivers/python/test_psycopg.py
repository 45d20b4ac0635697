"""Real-driver tests: psycopg 3 against `omendb server`.

Run through ``tests/drivers/run.sh python`` (it starts a server and exports the
connection settings).  To run against a server you started yourself, export
PGHOST, PGPORT, PGUSER, PGPASSWORD and PGDATABASE and run ``pytest`` here.

Every connection uses SCRAM-SHA-256 (``require_auth``) over TLS (``sslmode=require``).
Each run creates its own uniquely named tables (prefix ``py_<random>_``), so this
module can share a server with the node suite or with an earlier run.

Tests that assert correct PostgreSQL behaviour the server does not have yet are
marked ``xfail(strict=True)`` with the server bug in the reason.
"""

from __future__ import annotations

import datetime as dt
import os
import uuid
from decimal import Decimal

import psycopg
import pytest
from psycopg import errors, sql

RUN_ID = uuid.uuid4().hex[:10]
UTC = dt.timezone.utc


def tname(name: str) -> str:
    return f"py_{RUN_ID}_{name}"


def conninfo(**overrides: str) -> str:
    params = {
        "host": os.environ.get("PGHOST", "127.0.0.1"),
        "port": os.environ["PGPORT"],
        "user": os.environ.get("PGUSER", "owner"),
        "password": os.environ["PGPASSWORD"],
        "dbname": os.environ.get("PGDATABASE", "omendb"),
        "sslmode": "require",
        "require_auth": "scram-sha-256",
        "connect_timeout": "10",
        "application_name": "omendb-driver-tests-psycopg",
    }
    params.update(overrides)
    return psycopg.conninfo.make_conninfo(**params)


def connect(autocommit: bool = True, prepare_threshold: int | None = 5, **overrides) -> psycopg.Connection:
    conn = psycopg.connect(conninfo(**overrides), autocommit=autocommit)
    conn.prepare_threshold = prepare_threshold
    return conn


def test_plaintext_session_is_refused():
    """The server has TLS: a session that does not start it is refused with 28000 before any password."""
    with pytest.raises(psycopg.OperationalError, match="requires encryption"):
        psycopg.connect(conninfo(sslmode="disable"))


def test_verify_full_with_channel_binding_is_accepted():
    """The certificate is checked against the CA and SCRAM is bound to it (SCRAM-SHA-256-PLUS)."""
    ca = os.environ["OMENDB_TLS_CA"]  # set by tests/support/tls-server.sh
    with psycopg.connect(conninfo(sslmode="verify-full", sslrootcert=ca, channel_binding="require")) as c:
        assert c.pgconn.ssl_in_use
        assert c.execute("select 41 + 1").fetchone() == (42,)


@pytest.mark.parametrize("binary", [False, True])
def test_numeric_past_28_digits_and_scale_28(binary):
    """numeric(38, s) values the whole width of a Decimal128, text and binary, exact as Python's Decimal reads them."""
    with connect() as c:
        row = c.execute(
            "SELECT 1e-30, -0.000000000000000000000000000000123, 99999999999999999999999999999999999999::numeric(38,0),"
            " 0.00::numeric(10,2), 1e3, -1234567890123456789012345678.9012345678::numeric(38,10)",
            binary=binary,
        ).fetchone()
    assert list(row) == [
        Decimal("1e-30"),
        Decimal("-1.23e-31"),
        Decimal("99999999999999999999999999999999999999"),
        Decimal("0"),
        Decimal("1000"),
        Decimal("-1234567890123456789012345678.9012345678"),
    ]
    # The scale travels too (text: the digits after the point; binary: dscale).
    assert [v.as_tuple().exponent for v in row] == [-30, -33, 0, -2, 0, -10]


@pytest.fixture(scope="module")
def ddl():
    """Autocommit connection that never prepares statements: used for DDL.

    (Autocommit keeps each DDL statement its own transaction; no prepared statements means
    psycopg never needs to send DEALLOCATE ALL on this connection.)
    """
    conn = connect(autocommit=True, prepare_threshold=None)
    created: list[str] = []
    conn.created = created  # type: ignore[attr-defined]
    yield conn
    for table in created:
        try:
            conn.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(sql.Identifier(table)))
        except psycopg.Error:
            pass
    conn.close()


def create_table(ddl, name: str, body: str) -> str:
    table = tname(name)
    ddl.execute(sql.SQL("CREATE TABLE {} (" + body + ")").format(sql.Identifier(table)))
    ddl.created.append(table)
    return table


def q(template: str, table: str) -> sql.Composed:
    return sql.SQL(template).format(t=sql.Identifier(table))


# --------------------------------------------------------------------------------------------
# connection, TLS, SCRAM
# --------------------------------------------------------------------------------------------


def test_connect_tls_scram():
    with connect() as conn:
        assert conn.pgconn.ssl_in_use
        assert conn.info.transaction_status == psycopg.pq.TransactionStatus.IDLE
        assert conn.info.server_version >= 100000
        assert conn.info.parameter_status("server_encoding") == "UTF8"
        assert conn.info.parameter_status("client_encoding") == "UTF8"
        assert conn.info.parameter_status("integer_datetimes") == "on"
        assert conn.info.parameter_status("standard_conforming_strings") == "on"
        assert conn.execute("SELECT 1 + 1").fetchone() == (2,)


def test_wrong_password_rejected():
    with pytest.raises(psycopg.OperationalError) as ei:
        psycopg.connect(conninfo(password="definitely-not-the-password"))
    # libpq does not expose the SQLSTATE of a startup failure (psycopg's e.sqlstate is
    # None even against PostgreSQL): the code itself is checked by the raw-protocol test below
    assert 'password authentication failed for user "%s"' % os.environ.get("PGUSER", "owner") in str(ei.value)


def test_unknown_user_rejected():
    with pytest.raises(psycopg.OperationalError) as ei:
        psycopg.connect(conninfo(user="no_such_user_" + RUN_ID))
    assert "password authentication failed" in str(ei.value)


@pytest.mark.parametrize("case", ["wrong-password", "unknown-user"])
def test_auth_failure_sqlstate_28P01_raw_protocol(case):
    """Speak the startup + SCRAM-SHA-256 exchange over TLS by hand to read the ErrorResponse code."""
    user = os.environ.get("PGUSER", "owner") if case == "wrong-password" else "no_such_user_" + RUN_ID
    fields = raw_scram_login(user, "definitely-not-the-password")
    assert fields.get("S") == "FATAL", fields
    assert fields.get("C") == "28P01", fields


def raw_scram_login(user: str, password: str) -> dict[str, str]:
    """Return the fields of the ErrorResponse the server sends for a failed SCRAM login."""
    import base64
    import hashlib
    import hmac
    import secrets
    import socket
    import ssl
    import struct

    host = os.environ.get("PGHOST", "127.0.0.1")
    sock = socket.create_connection((host, int(os.environ["PGPORT"])), timeout=10)
    sock.sendall(struct.pack("!ii", 8, 80877103))  # SSLRequest
    assert sock.recv(1) == b"S", "server refused TLS"
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    s = ctx.wrap_socket(sock, server_hostname=host)

    def recv_exact(n: int) -> bytes:
        buf = b""
        while len(buf) < n:
            chunk = s.recv(n - len(buf))
            if not chunk:
                raise ConnectionError("server closed the connection")
            buf += chunk
        return buf

    def read_msg() -> tuple[bytes, bytes]:
        tag = recv_exact(1)
        (length,) = struct.unpack("!i", recv_exact(4))
        return tag, recv_exact(length - 4)

    def error_fields(body: bytes) -> dict[str, str]:
        out = {}
        for part in body.split(b"\0"):
            if part:
                out[chr(part[0])] = part[1:].decode()
        return out

    params = b"user\0" + user.encode() + b"\0database\0" + os.environ.get("PGDATABASE", "omendb").encode() + b"\0\0"
    s.sendall(struct.pack("!ii", 8 + len(params), 196608) + params)
    tag, body = read_msg()
    if tag == b"E":
        return error_fields(body)
    assert tag == b"R" and struct.unpack("!i", body[:4])[0] == 10, (tag, body)  # AuthenticationSASL
    mechanisms = body[4:].split(b"\0")
    assert b"SCRAM-SHA-256" in mechanisms, mechanisms

    nonce = base64.b64encode(secrets.token_bytes(18)).decode()
    client_first_bare = f"n=,r={nonce}"
    first = ("n,," + client_first_bare).encode()
    payload = b"SCRAM-SHA-256\0" + struct.pack("!i", len(first)) + first
    s.sendall(b"p" + struct.pack("!i", 4 + len(payload)) + payload)
    tag, body = read_msg()
    if tag == b"E":
        return error_fields(body)
    assert tag == b"R" and struct.unpack("!i", body[:4])[0] == 11, (tag, body)  # SASLContinue
    server_first = body[4:].decode()
    attrs = dict(kv.split("=", 1) for kv in server_first.split(","))
    assert attrs["r"].startswith(nonce)
    salted = hashlib.pbkdf2_hmac("sha256", password.encode(), base64.b64decode(attrs["s"]), int(attrs["i"]))
    client_key = hmac.new(salted, b"Client Key", hashlib.sha256).digest()
    stored_key = hashlib.sha256(client_key).digest()
    without_proof = f"c=biws,r={attrs['r']}"
    auth_message = f"{client_first_bare},{server_first},{without_proof}".encode()
    signature = hmac.new(stored_key, auth_message, hashlib.sha256).digest()
    proof = bytes(a ^ b for a, b in zip(client_key, signature))
    final = f"{without_proof},p={base64.b64encode(proof).decode()}".encode()
    s.sendall(b"p" + struct.pack("!i", 4 + len(final)) + final)
    tag, body = read_msg()
    s.close()
    assert tag == b"E", f"login with a wrong password was not refused: {tag!r} {body!r}"
    return error_fields(body)


def test_set_show():
    with connect() as conn:
        conn.execute("SET application_name = 'psycopg-set-show'")
        assert conn.execute("SHOW application_name").fetchone() == ("psycopg-set-show",)
        assert conn.execute("SHOW TimeZone").fetchone()[0] in ("UTC", "Etc/UTC")


def test_prepared_statements_are_planned_again_after_search_path_or_timezone_change(ddl):
    a, b = f"py_{RUN_ID}_sa", f"py_{RUN_ID}_sb"
    for schema, value, extra in ((a, "in a", ""), (b, "in b", ", more int")):
        ddl.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema)))
        ddl.execute(sql.SQL("CREATE TABLE {}.pt (id int PRIMARY KEY, v text" + extra + ")").format(
            sql.Identifier(schema)))
        ddl.execute(sql.SQL("INSERT INTO {}.pt (id, v) VALUES (1, %s)").format(sql.Identifier(schema)), (value,))
    try:
        with connect(prepare_threshold=0) as conn:
            conn.execute(sql.SQL("SET search_path = {}").format(sql.Identifier(a)))
            lookup = "SELECT v FROM pt WHERE id = %s"
            assert conn.execute(lookup, (1,), prepare=True).fetchone() == ("in a",)
            star = conn.execute("SELECT * FROM pt", prepare=True).fetchall()
            assert star == [(1, "in a")]
            zone = "SELECT CAST(%s::timestamptz AS text)"
            at = dt.datetime(2020, 1, 1, tzinfo=UTC)
            assert conn.execute(zone, (at,), prepare=True).fetchone() == ("2020-01-01 00:00:00+00",)
            conn.execute(sql.SQL("SET search_path = {}").format(sql.Identifier(b)))
            conn.execute("SET TimeZone = 'America/New_York'")
            # The same prepared statements, planned again: the other schema's table, the new zone.
            assert conn.execute(lookup, (1,), prepare=True).fetchone() == ("in b",)
            assert conn.execute(zone, (at,), prepare=True).fetchone() == ("2019-12-31 19:00:00-05",)
            # Its columns changed: PostgreSQL refuses to run it.
            with pytest.raises(errors.FeatureNotSupported, match="cached plan must not change result type"):
                conn.execute("SELECT * FROM pt", prepare=True)
            conn.execute(sql.SQL("SET search_path = {}").format(sql.Identifier(a)))
            assert conn.execute(lookup, (1,), prepare=True).fetchone() == ("in a",)
    finally:
        for schema in (a, b):
            ddl.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(schema)))


# --------------------------------------------------------------------------------------------
# every type, prepared statements, text and binary formats
# --------------------------------------------------------------------------------------------

TYPE_COLUMNS = [
    # (column, sql type, psycopg placeholder-compatible python values ...)
    ("c_smallint", "smallint"),
    ("c_int", "integer"),
    ("c_bigint", "bigint"),
    ("c_real", "real"),
    ("c_double", "double precision"),
    ("c_bool", "boolean"),
    ("c_text", "text"),
    ("c_varchar", "varchar(64)"),
    ("c_bytea", "bytea"),
    ("c_date", "date"),
    ("c_ts", "timestamp"),
    ("c_tstz", "timestamptz"),
    ("c_num", "numeric(12,3)"),
]
COLS = [c for c, _ in TYPE_COLUMNS]

ROW_POSITIVE = (
    12345,
    2_000_000_000,
    9_000_000_000_000_000_000 // 1000,
    1.5,
    1234.5678901234567,
    True,
    "hello, world",
    "plain varchar",
    b"\x01\x02\x03",
    dt.date(2024, 2, 29),
    dt.datetime(2024, 2, 29, 23, 59, 58, 123456),
    dt.datetime(2024, 2, 29, 12, 0, 1, 654321, tzinfo=UTC),
    Decimal("123456789.125"),
)
ROW_NEGATIVE = (
    -32768,
    -2147483648,
    -9223372036854775808,
    -3.25,
    -0.1,
    False,
    "héllo wörld ✓ 日本語 🚀 'quote' \"dq\" back\\slash\ttab\nnewline",
    "ünïcödé ✓",
    b"\x00\xff\x00\x00binary\x00\n\\x00",
    dt.date(1970, 1, 1),
    dt.datetime(1999, 12, 31, 23, 59, 59, 999999),
    dt.datetime(2000, 1, 1, 0, 0, 0, 1, tzinfo=UTC),
    Decimal("-98765.432"),
)
ROW_EXTREMES = (
    32767,
    2147483647,
    9223372036854775807,
    0.0,
    -1e300,
    True,
    "",
    "",
    b"",
    dt.date(1900, 3, 1),
    dt.datetime(1900, 3, 1, 0, 0, 0, 0),
    dt.datetime(2038, 1, 19, 3, 14, 8, 500000, tzinfo=UTC),
    Decimal("0.001"),
)
ROW_NULLS = (None,) * len(COLS)
ROW_ALL_BYTES = ROW_POSITIVE[:8] + (bytes(range(256)),) + ROW_POSITIVE[9:]

TYPE_ROWS = {
    1: ROW_POSITIVE,
    2: ROW_NEGATIVE,
    3: ROW_EXTREMES,
    4: ROW_NULLS,
    5: ROW_ALL_BYTES,
}


def assert_row_equal(got, expected):
    assert len(got) == len(expected)
    for col, g, e in zip(COLS, got, expected):
        if e is None:
            assert g is None, col
            continue
        assert type(g) is type(e), (col, g, e)
        assert g == e, (col, g, e)
        if isinstance(e, Decimal):
            # numeric(12,3): the scale is part of the value as PostgreSQL returns it
            assert g.as_tuple().exponent == -3, (col, g)
        if isinstance(e, dt.datetime):
            assert (g.tzinfo is None) == (e.tzinfo is None), (col, g, e)


@pytest.fixture(scope="module")
def types_table(ddl):
    return create_table(
        ddl,
        "types",
        "id integer PRIMARY KEY, " + ", ".join(f"{c} {t}" for c, t in TYPE_COLUMNS),
    )


def _insert_sql(table: str, placeholder: str) -> sql.Composed:
    return sql.SQL("INSERT INTO {} (id, {}) VALUES ({})").format(
        sql.Identifier(table),
        sql.SQL(", ").join(map(sql.Identifier, COLS)),
        sql.SQL(", ").join(sql.SQL(placeholder) for _ in range(len(COLS) + 1)),
    )


def _select_sql(table: str, placeholder: str = "%s") -> sql.Composed:
    return sql.SQL("SELECT {} FROM {} WHERE id = " + placeholder).format(
        sql.SQL(", ").join(map(sql.Identifier, COLS)), sql.Identifier(table)
    )


def _numeric_decimal(v):
    return v if not isinstance(v, Decimal) else v.quantize(Decimal("0.001"))


@pytest.mark.parametrize(
    "param_format,result_binary",
    [("%t", False), ("%t", True), ("%b", False), ("%b", True)],
    ids=["text-params/text-results", "text-params/binary-results", "binary-params/text-results", "binary-params/binary-results"],
)
def test_types_roundtrip_prepared(types_table, param_format, result_binary):
    """Insert every type with a server-side prepared statement and read it back."""
    offset = {("%t", False): 100, ("%t", True): 200, ("%b", False): 300, ("%b", True): 400}[(param_format, result_binary)]
    with connect() as conn:
        cur = conn.cursor(binary=result_binary)
        ins = _insert_sql(types_table, param_format)
        for rid, row in TYPE_ROWS.items():
            cur.execute(ins, (offset + rid, *row), prepare=True)
            assert cur.rowcount == 1
        # the statement really was prepared server-side (psycopg names it _pg3_N)
        assert conn._prepared._names, "psycopg did not prepare the INSERT"

        sel_param = _select_sql(types_table, param_format)
        for rid, row in TYPE_ROWS.items():
            cur.execute(sel_param, (offset + rid,), prepare=True)
            rows = cur.fetchall()
            assert len(rows) == 1, rid
            assert_row_equal(rows[0], tuple(_numeric_decimal(v) for v in row))


def test_types_column_metadata(types_table):
    with connect() as conn:
        cur = conn.execute(sql.SQL("SELECT id, {} FROM {} WHERE false").format(
            sql.SQL(", ").join(map(sql.Identifier, COLS)), sql.Identifier(types_table)))
        names = [d.name for d in cur.description]
        assert names == ["id", *COLS]
        type_names = [conn.adapters.types.get(d.type_code).name for d in cur.description]
        assert type_names == [
            "int4", "int2", "int4", "int8", "float4", "float8", "bool", "text", "varchar",
            "bytea", "date", "timestamp", "timestamptz", "numeric",
        ]


def test_types_readback_cross_format(types_table, ddl):
    """Rows written as text literals in plain SQL read back identically in both formats."""
    table = create_table(ddl, "literals", "id integer PRIMARY KEY, " + ", ".join(f"{c} {t}" for c, t in TYPE_COLUMNS))
    ddl.execute(q(
        "INSERT INTO {t} VALUES (1, -7, -70000, -7000000000, -2.5, -1.25e10, false, 'tëxt', 'vc', "
        "decode('00ff10', 'hex'), '2001-02-03', '2001-02-03 04:05:06.789012', "
        "'2001-02-03 04:05:06.5+00', -1.5)", table))
    expected = (-7, -70000, -7000000000, -2.5, -1.25e10, False, "tëxt", "vc", b"\x00\xff\x10",
                dt.date(2001, 2, 3), dt.datetime(2001, 2, 3, 4, 5, 6, 789012),
                dt.datetime(2001, 2, 3, 4, 5, 6, 500000, tzinfo=UTC), Decimal("-1.500"))
    with connect() as conn:
        for binary in (False, True):
            row = conn.cursor(binary=binary).execute(_select_sql(table), (1,)).fetchone()
            assert_row_equal(row, expected)


def test_bytea_hex_literal(ddl):
    """'\\x...' string literals are bytea hex input (standard_conforming_strings=on)."""
    with connect() as conn:
        assert conn.execute(r"SELECT '\x00ff41'::bytea").fetchone() == (b"\x00\xffA",)


def test_insert_fewer_values_than_columns(ddl):
    """INSERT ... VALUES with fewer values than columns fills the rest with defaults."""
    table = create_table(ddl, "shortvals", "id integer PRIMARY KEY, v text, d integer DEFAULT 7")
    with connect() as conn:
        conn.execute(q("INSERT INTO {t} VALUES (1, 'a')", table))
        assert conn.execute(q("SELECT id, v, d FROM {t}", table)).fetchall() == [(1, "a", 7)]


def test_parameter_types_inferred_from_context(ddl):
    """Untyped parameters compared with / assigned to columns get the column's type."""
    table = create_table(ddl, "infer", "id bigint PRIMARY KEY, ts timestamp, n numeric(10,2), s text")
    with connect() as conn:
        cur = conn.cursor()
        # strings sent with unknown type (oid 0) for non-text columns, as many apps do
        cur.execute(q("INSERT INTO {t} VALUES (%s, %s, %s, %s)", table),
                    ("1", "2020-05-06 07:08:09.5", "12.5", "x"), prepare=True)
        cur.execute(q("SELECT id, ts, n, s FROM {t} WHERE id = %s AND n > %s", table), (1, Decimal("1")), prepare=True)
        assert cur.fetchall() == [(1, dt.datetime(2020, 5, 6, 7, 8, 9, 500000), Decimal("12.50"), "x")]


def test_prepared_statement_reexecuted_many_times(ddl):
    table = create_table(ddl, "many", "id bigint PRIMARY KEY, v text")
    with connect() as conn:
        cur = conn.cursor()
        for i in range(50):
            cur.execute(q("INSERT INTO {t} (id, v) VALUES (%s, %s)", table), (i, f"v{i}"), prepare=True)
        cur.executemany(q("INSERT INTO {t} (id, v) VALUES (%s, %s)", table), [(i, f"w{i}") for i in range(50, 100)])
        for binary in (False, True):
            cur = conn.cursor(binary=binary)
            cur.execute(q("SELECT count(*), sum(id), min(v), max(v) FROM {t}", table), prepare=True)
            assert cur.fetchone() == (100, sum(range(100)), "v0", "w99")
            cur.execute(q("SELECT id, v FROM {t} WHERE id BETWEEN %s AND %s ORDER BY id", table), (48, 52), prepare=True)
            assert cur.fetchall() == [(48, "v48"), (49, "v49"), (50, "w50"), (51, "w51"), (52, "w52")]


def test_update_delete_with_params(ddl):
    table = create_table(ddl, "upd", "id integer PRIMARY KEY, v text NOT NULL, n integer DEFAULT 0")
    with connect() as conn:
        cur = conn.cursor()
        cur.executemany(q("INSERT INTO {t} (id, v) VALUES (%s, %s)", table), [(i, f"r{i}") for i in range(10)])
        cur.execute(q("UPDATE {t} SET v = %s, n = n + %s WHERE id < %s", table), ("upd", 5, 3), prepare=True)
        assert cur.rowcount == 3
        cur.execute(q("DELETE FROM {t} WHERE id >= %s", table), (8,), prepare=True)
        assert cur.rowcount == 2
        rows = conn.execute(q("SELECT id, v, n FROM {t} ORDER BY id", table)).fetchall()
        assert rows == [(0, "upd", 5), (1, "upd", 5), (2, "upd", 5)] + [(i, f"r{i}", 0) for i in range(3, 8)]


def test_deallocate_all_after_prepared(ddl):
    """psycopg sends DEALLOCATE ALL after ROLLBACK/DROP once it has prepared statements."""
    with connect() as conn:
        conn.execute("SELECT %s::integer", (1,), prepare=True)
        conn.execute("DEALLOCATE ALL")


def test_rollback_after_prepared_statement(ddl):
    """conn.rollback() on a connection that has prepared statements (psycopg then sends DEALLOCATE ALL)."""
    table = create_table(ddl, "rbprep", "id integer PRIMARY KEY")
    with connect(autocommit=False) as conn:
        conn.execute(q("INSERT INTO {t} VALUES (%s)", table), (1,), prepare=True)
        conn.rollback()
        assert conn.execute(q("SELECT count(*) FROM {t}", table)).fetchone() == (0,)


def test_large_result_roundtrip(ddl):
    """20k rows in through COPY, out through text and binary results (many DataRow messages)."""
    table = create_table(ddl, "large", "id bigint PRIMARY KEY, payload text, n double precision")
    rows = [(i, f"row-{i}-" + "x" * (i % 50), i / 7) for i in range(20_000)]
    with connect() as conn:
        with conn.cursor().copy(q("COPY {t} (id, payload, n) FROM STDIN", table)) as copy:
            for row in rows:
                copy.write_row(row)
        for binary in (False, True):
            got = conn.cursor(binary=binary).execute(q("SELECT id, payload, n FROM {t} ORDER BY id", table)).fetchall()
            assert got == rows


@pytest.mark.parametrize("fmt", ["%t", "%b"])
def test_bare_parameter_keeps_client_type(fmt):
    values = [1, 70000, 2**40, 1.5, Decimal("1.25"), True, dt.date(2020, 1, 2),
              dt.datetime(2020, 1, 2, 3, 4, 5, 6), dt.datetime(2020, 1, 2, 3, 4, 5, 6, tzinfo=UTC), b"\x00a", "s"]
    with connect() as conn:
        for v in values:
            got = conn.execute(f"SELECT {fmt}", (v,)).fetchone()[0]
            assert got == v and type(got) is type(v), (v, got)


def test_int8_parameter_against_int4_column(ddl):
    table = create_table(ddl, "int8param", "id integer PRIMARY KEY")
    with connect() as conn:
        conn.execute(q("INSERT INTO {t} VALUES (1), (2)", table))
        assert conn.execute(q("SELECT count(*) FROM {t} WHERE id < %s", table), (2**40,)).fetchone() == (2,)


def test_result_column_names(ddl):
    table = create_table(ddl, "colnames", "id integer PRIMARY KEY, v text")
    with connect() as conn:
        cur = conn.execute(q("SELECT count(*), sum(id), max(v), 1, id + 1, upper(v), v AS alias FROM {t} GROUP BY id, v", table))
        assert [d.name for d in cur.description] == ["count", "sum", "max", "?column?", "?column?", "upper", "alias"]


def test_timestamptz_expressions_are_timestamptz():
    with connect() as conn:
        for binary in (False, True):
            cur = conn.cursor(binary=binary)
            now, lit = cur.execute("SELECT now(), '2024-01-02 03:04:05.25+02'::timestamptz").fetchone()
            assert [d.type_code for d in cur.description] == [1184, 1184]
            assert now.tzinfo is not None
            assert lit == dt.datetime(2024, 1, 2, 1, 4, 5, 250000, tzinfo=UTC)


def slow_query(conn) -> str:
    """A query that runs for about a minute unless cancelled (1e10-row cross join)."""
    if "OmenDB" in (conn.info.parameter_status("server_version") or ""):
        return ("SELECT count(*) FROM (SELECT unnest(range(1, 100000)) AS x) a "
                "CROSS JOIN (SELECT unnest(range(1, 100000)) AS y) b")
    return "SELECT count(*) FROM generate_series(1, 100000) a CROSS JOIN generate_series(1, 100000) b"


def test_cancel_running_query():
    """conn.cancel(): CancelRequest on a new plain connection (libpq PQcancel)."""
    import threading
    import time

    with connect() as conn:
        def cancel_soon():
            time.sleep(0.5)
            conn.cancel()

        t = threading.Thread(target=cancel_soon)
        start = time.monotonic()
        t.start()
        try:
            with pytest.raises(errors.QueryCanceled) as ei:
                conn.execute(slow_query(conn))
        finally:
            t.join()
        assert ei.value.sqlstate == "57014"
        assert time.monotonic() - start < 30
        assert conn.execute("SELECT 1").fetchone() == (1,)


def test_cancel_safe_over_tls():
    """conn.cancel_safe(): libpq >= 17 (PQcancelCreate) sends the CancelRequest over TLS and waits for the
    server's close_notify."""
    import threading
    import time

    with connect() as conn:
        conn.cancel_safe(timeout=10)  # nothing running: PostgreSQL accepts it silently
        assert conn.execute("SELECT 1").fetchone() == (1,)
        failed = []

        def cancel_soon():
            time.sleep(0.5)
            try:
                conn.cancel_safe(timeout=10)
            except Exception as e:  # reported below: the main thread is waiting for the query
                failed.append(e)

        t = threading.Thread(target=cancel_soon)
        t.start()
        try:
            with pytest.raises(errors.QueryCanceled):
                conn.execute(slow_query(conn))
        finally:
            t.join()
        assert not failed, failed
        assert conn.execute("SELECT 1").fetchone() == (1,)


def test_named_server_side_cursor(ddl):
    table = create_table(ddl, "namedcur", "id integer PRIMARY KEY")
    ddl.execute(q("INSERT INTO {t} VALUES (1), (2), (3)", table))
    with connect(autocommit=False) as conn:
        with conn.cursor(name="omen_named") as cur:
            cur.itersize = 2
            cur.execute(q("SELECT id FROM {t} ORDER BY id", table))
            assert cur.fetchmany(2) == [(1,), (2,)]
            assert cur.fetchall() == [(3,)]


# --------------------------------------------------------------------------------------------
# transactions
# --------------------------------------------------------------------------------------------


@pytest.fixture()
def tx_table(ddl, request):
    return create_table(ddl, "tx_" + request.node.name.replace("test_", "")[:30],
                        "id integer PRIMARY KEY, v text NOT NULL")


def count(conn, table) -> int:
    return conn.execute(q("SELECT count(*) FROM {t}", table)).fetchone()[0]


def test_tx_commit(tx_table):
    with connect(autocommit=False, prepare_threshold=None) as conn, connect() as other:
        conn.execute(q("INSERT INTO {t} VALUES (1, 'a')", tx_table))
        conn.execute(q("INSERT INTO {t} VALUES (2, 'b')", tx_table))
        assert conn.info.transaction_status == psycopg.pq.TransactionStatus.INTRANS
        conn.commit()
        assert conn.info.transaction_status == psycopg.pq.TransactionStatus.IDLE
        assert count(other, tx_table) == 2


def test_tx_rollback(tx_table):
    with connect(autocommit=False, prepare_threshold=None) as conn:
        conn.execute(q("INSERT INTO {t} VALUES (1, 'a')", tx_table))
        conn.commit()
        conn.execute(q("INSERT INTO {t} VALUES (2, 'b')", tx_table))
        conn.execute(q("UPDATE {t} SET v = 'changed' WHERE id = 1", tx_table))
        conn.execute(q("DELETE FROM {t} WHERE id = 1", tx_table))
        conn.rollback()
        assert conn.execute(q("SELECT id, v FROM {t}", tx_table)).fetchall() == [(1, "a")]


def test_tx_read_your_own_writes_and_isolation(tx_table):
    with connect(autocommit=False, prepare_threshold=None) as conn, connect() as other:
        conn.execute(q("INSERT INTO {t} VALUES (1, 'mine')", tx_table))
        conn.execute(q("UPDATE {t} SET v = 'mine2' WHERE id = 1", tx_table))
        assert conn.execute(q("SELECT v FROM {t} WHERE id = 1", tx_table)).fetchall() == [("mine2",)]
        assert count(conn, tx_table) == 1
        # not visible to another session before commit
        assert count(other, tx_table) == 0
        conn.commit()
        assert other.execute(q("SELECT v FROM {t} WHERE id = 1", tx_table)).fetchall() == [("mine2",)]


def test_tx_transaction_block_context(tx_table):
    with connect(autocommit=True, prepare_threshold=None) as conn:
        with conn.transaction():
            conn.execute(q("INSERT INTO {t} VALUES (1, 'kept')", tx_table))
        with pytest.raises(RuntimeError):
            with conn.transaction():
                conn.execute(q("INSERT INTO {t} VALUES (2, 'dropped')", tx_table))
                raise RuntimeError("abort")
        assert conn.execute(q("SELECT id FROM {t}", tx_table)).fetchall() == [(1,)]


def test_tx_explicit_begin_commit_rollback_sql(tx_table):
    with connect(autocommit=True, prepare_threshold=None) as conn:
        conn.execute("BEGIN")
        conn.execute(q("INSERT INTO {t} VALUES (1, 'x')", tx_table))
        conn.execute("ROLLBACK")
        conn.execute("BEGIN")
        conn.execute(q("INSERT INTO {t} VALUES (2, 'y')", tx_table))
        conn.execute("COMMIT")
        assert conn.execute(q("SELECT id FROM {t}", tx_table)).fetchall() == [(2,)]


def test_tx_error_aborts_transaction_25P02(tx_table):
    with connect(autocommit=False, prepare_threshold=None) as conn:
        conn.execute(q("INSERT INTO {t} VALUES (1, 'committed')", tx_table))
        conn.commit()
        conn.execute(q("INSERT INTO {t} VALUES (2, 'in failed tx')", tx_table))
        with pytest.raises(errors.UniqueViolation) as ei:
            conn.execute(q("INSERT INTO {t} VALUES (1, 'dup')", tx_table))
        assert ei.value.sqlstate == "23505"
        assert conn.info.transaction_status == psycopg.pq.TransactionStatus.INERROR
        with pytest.raises(errors.InFailedSqlTransaction) as ei2:
            conn.execute("SELECT 1")
        assert ei2.value.sqlstate == "25P02"
        with pytest.raises(errors.InFailedSqlTransaction):
            conn.execute(q("INSERT INTO {t} VALUES (3, 'x')", tx_table))
        conn.rollback()
        assert conn.info.transaction_status == psycopg.pq.TransactionStatus.IDLE
        assert conn.execute(q("SELECT id, v FROM {t} ORDER BY id", tx_table)).fetchall() == [(1, "committed")]


def test_tx_commit_of_failed_transaction_rolls_back(tx_table):
    with connect(autocommit=True, prepare_threshold=None) as conn:
        conn.execute("BEGIN")
        conn.execute(q("INSERT INTO {t} VALUES (1, 'a')", tx_table))
        with pytest.raises(errors.UndefinedTable):
            conn.execute("SELECT * FROM no_such_table_" + RUN_ID)
        cur = conn.execute("COMMIT")
        assert cur.statusmessage == "ROLLBACK"
        assert count(conn, tx_table) == 0


def test_tx_ddl_is_transactional(tx_table):
    """DDL inside psycopg's implicit transaction commits or rolls back with it, as in PostgreSQL."""
    name = tname("txddl")
    with connect(autocommit=False, prepare_threshold=None) as conn:
        conn.execute(sql.SQL("CREATE TABLE {} (id integer PRIMARY KEY)").format(sql.Identifier(name)))
        conn.execute(sql.SQL("INSERT INTO {} VALUES (1)").format(sql.Identifier(name)))
        conn.rollback()
        with pytest.raises(errors.UndefinedTable):
            conn.execute(sql.SQL("SELECT * FROM {}").format(sql.Identifier(name)))
        conn.rollback()
        conn.execute(sql.SQL("CREATE TABLE {} (id integer PRIMARY KEY)").format(sql.Identifier(name)))
        conn.execute(sql.SQL("INSERT INTO {} VALUES (1)").format(sql.Identifier(name)))
        conn.commit()
        assert count(conn, name) == 1
        conn.execute(sql.SQL("DROP TABLE {}").format(sql.Identifier(name)))
        conn.commit()


# --------------------------------------------------------------------------------------------
# COPY FROM STDIN
# --------------------------------------------------------------------------------------------


@pytest.fixture()
def copy_table(ddl, request):
    return create_table(
        ddl, "copy_" + request.node.name.replace("test_copy_", "")[:30],
        "id integer PRIMARY KEY, name text, amount numeric(10,2), big bigint, flag boolean, "
        "data bytea, day date, at timestamp, score double precision",
    )


COPY_COLS = ["id", "name", "amount", "big", "flag", "data", "day", "at", "score"]
COPY_ROWS = [
    (1, "plain", Decimal("1.50"), 1, True, b"\x00\x01", dt.date(2020, 1, 1), dt.datetime(2020, 1, 1, 1, 2, 3, 456789), 1.25),
    (2, "tab\there\nnewline \\ backslash", Decimal("-2.25"), -9223372036854775808, False, b"\x00\x00\xff", dt.date(1999, 12, 31), dt.datetime(1999, 12, 31, 23, 59, 59, 1), -0.5),
    (3, "ünïcödé 日本 🚀", Decimal("0.00"), 9223372036854775807, None, b"", dt.date(2000, 2, 29), None, 1e-5),
    (4, None, None, None, None, None, None, None, None),
    (5, "", Decimal("99999999.99"), 0, True, bytes(range(256)), dt.date(2024, 12, 31), dt.datetime(2024, 12, 31, 0, 0), 3.5),
]


def read_copy_table(conn, table):
    return conn.execute(sql.SQL("SELECT {} FROM {} ORDER BY id").format(
        sql.SQL(", ").join(map(sql.Identifier, COPY_COLS)), sql.Identifier(table))).fetchall()


def test_copy_write_row(copy_table):
    with connect() as conn:
        cur = conn.cursor()
        with cur.copy(sql.SQL("COPY {} ({}) FROM STDIN").format(
                sql.Identifier(copy_table), sql.SQL(", ").join(map(sql.Identifier, COPY_COLS)))) as copy:
            for row in COPY_ROWS:
                copy.write_row(row)
        assert cur.rowcount == len(COPY_ROWS)
        assert read_copy_table(conn, copy_table) == COPY_ROWS


def test_copy_raw_text(copy_table):
    data = (
        "1\tplain\t1.5\t1\tt\t\\\\x0001\t2020-01-01\t2020-01-01 01:02:03.456789\t1.25\n"
        "2\ttab\\there\\nnewline \\\\ backslash\t-2.25\t-9223372036854775808\tf\t\\\\x0000ff\t1999-12-31\t1999-12-31 23:59:59.000001\t-0.5\n"
        "3\tünïcödé 日本 🚀\t0\t9223372036854775807\t\\N\t\\\\x\t2000-02-29\t\\N\t1e-05\n"
        "4\t\\N\t\\N\t\\N\t\\N\t\\N\t\\N\t\\N\t\\N\n"
        f"5\t\t99999999.99\t0\ttrue\t\\\\x{bytes(range(256)).hex()}\t2024-12-31\t2024-12-31 00:00:00\t3.5\n"
    )
    with connect() as conn:
        cur = conn.cursor()
        with cur.copy(q("COPY {t} FROM STDIN", copy_table)) as copy:
            # split the payload at an awkward place to exercise CopyData framing
            raw = data.encode()
            copy.write(raw[:37])
            copy.write(raw[37:])
        assert cur.rowcount == 5
        assert read_copy_table(conn, copy_table) == COPY_ROWS


def test_copy_raw_csv(copy_table):
    data = (
        '1,plain,1.5,1,t,\\x0001,2020-01-01,2020-01-01 01:02:03.456789,1.25\n'
        '2,"tab\there\nnewline \\ backslash",-2.25,-9223372036854775808,f,\\x0000ff,1999-12-31,1999-12-31 23:59:59.000001,-0.5\n'
        '3,ünïcödé 日本 🚀,0,9223372036854775807,,\\x,2000-02-29,,1e-05\n'
        '4,,,,,,,,\n'
        f'5,"",99999999.99,0,true,\\x{bytes(range(256)).hex()},2024-12-31,2024-12-31 00:00:00,3.5\n'
    )
    with connect() as conn:
        cur = conn.cursor()
        with cur.copy(q("COPY {t} FROM STDIN (FORMAT csv)", copy_table)) as copy:
            copy.write(data)
        assert cur.rowcount == 5
        assert read_copy_table(conn, copy_table) == COPY_ROWS


def test_copy_csv_header_and_quotes(ddl):
    table = create_table(ddl, "copy_csvq", "id integer PRIMARY KEY, a text, b text")
    data = 'id,a,b\n1,"with, comma","say ""hi"""\n2,"",\n3,"multi\nline",x\n'
    with connect() as conn:
        cur = conn.cursor()
        with cur.copy(q("COPY {t} (id, a, b) FROM STDIN WITH (FORMAT csv, HEADER true)", table)) as copy:
            copy.write(data)
        assert cur.rowcount == 3
        rows = conn.execute(q("SELECT id, a, b FROM {t} ORDER BY id", table)).fetchall()
        assert rows == [(1, "with, comma", 'say "hi"'), (2, "", None), (3, "multi\nline", "x")]


def test_copy_column_subset_uses_defaults(ddl):
    table = create_table(ddl, "copy_defaults", "id integer PRIMARY KEY, a text DEFAULT 'dflt', b integer")
    with connect() as conn:
        cur = conn.cursor()
        with cur.copy(q("COPY {t} (id, b) FROM STDIN", table)) as copy:
            copy.write_row((1, 10))
            copy.write_row((2, None))
        assert conn.execute(q("SELECT id, a, b FROM {t} ORDER BY id", table)).fetchall() == [(1, "dflt", 10), (2, "dflt", None)]


def test_copy_duplicate_key_fails_atomically(ddl):
    table = create_table(ddl, "copy_dup", "id integer PRIMARY KEY, v text")
    with connect() as conn:
        conn.execute(q("INSERT INTO {t} VALUES (1, 'existing')", table))
        cur = conn.cursor()
        with pytest.raises(errors.UniqueViolation) as ei:
            with cur.copy(q("COPY {t} FROM STDIN", table)) as copy:
                copy.write_row((2, "new"))
                copy.write_row((1, "dup"))
        assert ei.value.sqlstate == "23505"
        assert conn.execute(q("SELECT id, v FROM {t} ORDER BY id", table)).fetchall() == [(1, "existing")]


def test_copy_bad_data_is_22P02(ddl):
    table = create_table(ddl, "copy_bad", "id integer PRIMARY KEY, v integer")
    with connect() as conn:
        cur = conn.cursor()
        with pytest.raises(psycopg.Error) as ei:
            with cur.copy(q("COPY {t} FROM STDIN", table)) as copy:
                copy.write("1\t2\n2\tnot-a-number\n")
        assert ei.value.sqlstate == "22P02"
        assert count(conn, table) == 0
        # the connection is still usable
        assert conn.execute("SELECT 1").fetchone() == (1,)


def test_copy_inside_transaction(ddl):
    table = create_table(ddl, "copy_tx", "id integer PRIMARY KEY, v text")
    with connect(autocommit=False, prepare_threshold=None) as conn:
        with conn.cursor().copy(q("COPY {t} FROM STDIN", table)) as copy:
            copy.write_row((1, "a"))
        assert count(conn, table) == 1
        conn.rollback()
        assert count(conn, table) == 0
        with conn.cursor().copy(q("COPY {t} FROM STDIN", table)) as copy:
            copy.write_row((2, "b"))
        conn.commit()
        assert count(conn, table) == 1


# --------------------------------------------------------------------------------------------
# SQLSTATEs
# --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def err_table(ddl):
    table = create_table(ddl, "errs", "id integer PRIMARY KEY, v text NOT NULL, s smallint")
    ddl.execute(q("INSERT INTO {t} VALUES (1, 'one', 1)", table))
    return table


ERROR_CASES = [
    ("23505", errors.UniqueViolation, "INSERT INTO {t} VALUES (1, 'dup', 1)"),
    ("23502", errors.NotNullViolation, "INSERT INTO {t} (id) VALUES (2)"),
    ("23502", errors.NotNullViolation, "UPDATE {t} SET v = NULL WHERE id = 1"),
    ("42P01", errors.UndefinedTable, "SELECT * FROM no_such_table_xyz"),
    ("42601", errors.SyntaxError, "SELEC 1"),
    ("42601", errors.SyntaxError, "SELECT * FROM {t} WHERE"),
    ("42703", errors.UndefinedColumn, "SELECT no_such_column FROM {t}"),
    ("42P07", errors.DuplicateTable, "CREATE TABLE {t} (id integer PRIMARY KEY)"),
    ("22012", errors.DivisionByZero, "SELECT 1 / 0"),
    ("22P02", errors.InvalidTextRepresentation, "SELECT 'abc'::integer"),
    pytest.param("22003", errors.NumericValueOutOfRange, "INSERT INTO {t} VALUES (3, 'x', 40000)"),
    ("22003", errors.NumericValueOutOfRange, "SELECT 2147483647::integer + 1"),
    ("22003", errors.NumericValueOutOfRange, "SELECT 9223372036854775807::bigint + 1"),
    ("22012", errors.DivisionByZero, "SELECT 1.5::float8 / 0"),
    ("42883", errors.UndefinedFunction, "SELECT id FROM {t} WHERE v = 1"),
]


def _error_case_id(case) -> str:
    values = case.values if hasattr(case, "values") else case
    return f"{values[0]}:{values[2][:40]}"


@pytest.mark.parametrize("code,cls,template", ERROR_CASES, ids=[_error_case_id(c) for c in ERROR_CASES])
def test_error_sqlstate(err_table, code, cls, template):
    with connect(prepare_threshold=None) as conn:
        with pytest.raises(psycopg.Error) as ei:
            conn.execute(q(template, err_table))
        assert ei.value.sqlstate == code, f"{template}: got {ei.value.sqlstate} {ei.value}"
        assert isinstance(ei.value, cls)
        # the session survives the error
        assert conn.execute("SELECT 1").fetchone() == (1,)


def test_error_sqlstate_prepared_binary(err_table):
    """Errors raised while executing a prepared statement with binary params."""
    with connect() as conn:
        cur = conn.cursor(binary=True)
        with pytest.raises(errors.UniqueViolation) as ei:
            cur.execute(q("INSERT INTO {t} VALUES (%b, %b, %b)", err_table), (1, "dup", 1), prepare=True)
        assert ei.value.sqlstate == "23505"
        with pytest.raises(errors.NotNullViolation) as ei:
            cur.execute(q("INSERT INTO {t} VALUES (%b, %b, %b)", err_table), (5, None, 1), prepare=True)
        assert ei.value.sqlstate == "23502"
        assert cur.execute("SELECT 1").fetchone() == (1,)


def test_error_has_message_fields(err_table):
    with connect(prepare_threshold=None) as conn:
        with pytest.raises(errors.UniqueViolation) as ei:
            conn.execute(q("INSERT INTO {t} VALUES (1, 'dup', 1)", err_table))
        diag = ei.value.diag
        assert diag.severity == "ERROR"
        assert diag.sqlstate == "23505"
        assert diag.message_primary
