'use strict'
// Real-driver tests: node-postgres (pg) and pg-copy-streams against `omendb server`.
//
// Run through `tests/drivers/run.sh node` (it starts a server and exports the connection settings).
// To run against a server you started yourself, export PGHOST, PGPORT, PGUSER, PGPASSWORD and
// PGDATABASE and run `node --test` in tests/drivers/node.
//
// Every connection uses SCRAM-SHA-256 over TLS (ssl: { rejectUnauthorized: false }). Each run creates
// its own uniquely named tables (prefix js_<random>_), so runs can share a server with each other and
// with the python suite.
//
// Tests that assert PostgreSQL behaviour the server does not have yet are marked
// { todo: 'server bug: ...' }. They are strict: a todo test that passes fails the run (root `after`
// hook below), so fixed bugs get their todo removed.
//
// DRIVER_TESTS_PLAINTEXT=1 connects without TLS and skips the TLS/SCRAM checks: only for checking the
// expectations of this file against a stock PostgreSQL (trust auth, no TLS).

const { describe, it, before, after } = require('node:test')
const assert = require('node:assert/strict')
const crypto = require('node:crypto')
const { Readable } = require('node:stream')
const { pipeline } = require('node:stream/promises')
const pg = require('pg')
const { from: copyFrom } = require('pg-copy-streams')

for (const v of ['PGPORT', 'PGPASSWORD']) {
  if (!process.env[v]) throw new Error(`${v} is not set: run these tests through tests/drivers/run.sh node`)
}

const PLAINTEXT = process.env.DRIVER_TESTS_PLAINTEXT === '1'
const RUN_ID = crypto.randomBytes(5).toString('hex')
const USER = process.env.PGUSER || 'owner'
const tname = (name) => `js_${RUN_ID}_${name}`
const ident = (name) => '"' + name.replace(/"/g, '""') + '"'

// Result parsers that hand back exactly what the server sent: strings for text format, Buffers for binary.
const RAW = { getTypeParser: (_oid, format) => (format === 'binary' ? (b) => b : (s) => s) }

function clientConfig (extra = {}) {
  return {
    ssl: PLAINTEXT ? false : { rejectUnauthorized: false },
    application_name: 'omendb-driver-tests-node',
    connectionTimeoutMillis: 10000,
    ...extra
  }
}

async function connect (extra = {}) {
  const client = new pg.Client(clientConfig(extra))
  // an 'error' event without a listener would crash the test process instead of failing one test
  client.on('error', (e) => { client.lastError = e })
  await client.connect()
  return client
}

async function withClient (fn, extra = {}) {
  const client = await connect(extra)
  try {
    return await fn(client)
  } finally {
    await client.end()
  }
}

// Strict "expected to fail": the test is reported as TODO while it fails; if it passes, the run fails.
const nowPassing = []
function bugIt (name, reason, fn, options = {}) {
  it(name, { todo: 'server bug: ' + reason, ...options }, async (t) => {
    await fn(t)
    nowPassing.push(name)
  })
}
after(() => {
  if (nowPassing.length && !PLAINTEXT) {
    // Not a throw: a failing root hook would leave the DDL connection open and node waiting on it.
    console.error('todo (server bug) tests now pass, remove their todo: ' + nowPassing.join('; '))
    process.exitCode = 1
  }
})

// One autocommit connection for DDL (OmenDB refuses DDL inside transaction blocks); every table created
// through it is dropped at the end.
let ddlClient
const created = []
before(async () => { ddlClient = await connect() })
after(async () => {
  if (!ddlClient) return
  for (const table of created) {
    try { await ddlClient.query(`DROP TABLE IF EXISTS ${ident(table)}`) } catch (_) {}
  }
  await ddlClient.end()
})

async function createTable (name, body) {
  const table = tname(name)
  await ddlClient.query(`CREATE TABLE ${ident(table)} (${body})`)
  created.push(table)
  return table
}

async function expectPgError (promise, code) {
  let err
  try {
    await promise
  } catch (e) {
    err = e
  }
  assert.ok(err, `expected an error with SQLSTATE ${code}, the statement succeeded`)
  assert.ok(err instanceof pg.DatabaseError, `expected a DatabaseError ${code}, got ${err && err.stack}`)
  assert.equal(err.code, code, `expected SQLSTATE ${code}, got ${err.code}: ${err.message}`)
  return err
}

async function assertAlive (client) {
  const r = await client.query("SELECT 'alive'::text AS s")
  assert.deepEqual(r.rows, [{ s: 'alive' }])
  assert.equal(client.lastError, undefined, `the client emitted an error: ${client.lastError}`)
}

// -------------------------------------------------------------------------------------------------
// connection, TLS, SCRAM
// -------------------------------------------------------------------------------------------------

describe('connection', () => {
  it('connects with SCRAM-SHA-256 over TLS', { skip: PLAINTEXT && 'plaintext mode' }, async () => {
    const client = new pg.Client(clientConfig())
    const auth = []
    client.connection.on('authenticationSASL', (m) => auth.push(['SASL', m.mechanisms]))
    client.connection.on('authenticationSASLFinal', () => auth.push(['SASLFinal']))
    client.connection.on('authenticationCleartextPassword', () => auth.push(['cleartext']))
    client.connection.on('authenticationMD5Password', () => auth.push(['md5']))
    await client.connect()
    try {
      const stream = client.connection.stream
      assert.equal(stream.encrypted, true, 'the connection is not TLS')
      assert.match(stream.getProtocol(), /^TLSv1\.[23]$/)
      assert.equal(auth.length, 2, JSON.stringify(auth))
      assert.equal(auth[0][0], 'SASL')
      assert.ok(auth[0][1].includes('SCRAM-SHA-256'), JSON.stringify(auth))
      assert.deepEqual(auth[1], ['SASLFinal'])
      const r = await client.query("SELECT 'ok'::text AS s")
      assert.deepEqual(r.rows, [{ s: 'ok' }])
    } finally {
      await client.end()
    }
  })

  it('offers SCRAM-SHA-256-PLUS over TLS and pg binds to the certificate', { skip: PLAINTEXT && 'plaintext mode' }, async () => {
    const client = new pg.Client(clientConfig({ enableChannelBinding: true }))
    let mechanisms = []
    client.connection.on('authenticationSASL', (m) => { mechanisms = m.mechanisms })
    await client.connect()
    try {
      assert.deepEqual((await client.query('SELECT 1 AS one')).rows, [{ one: 1 }])
    } finally {
      await client.end()
    }
    assert.deepEqual(mechanisms, ['SCRAM-SHA-256-PLUS', 'SCRAM-SHA-256'])
  })

  it('wrong password is refused with 28P01', { skip: PLAINTEXT && 'plaintext mode' }, async () => {
    const client = new pg.Client(clientConfig({ password: 'definitely-not-the-password' }))
    const err = await expectPgError(client.connect(), '28P01')
    assert.equal(err.severity, 'FATAL')
    assert.equal(err.message, `password authentication failed for user "${USER}"`)
  })

  it('unknown user is refused with 28P01', { skip: PLAINTEXT && 'plaintext mode' }, async () => {
    const client = new pg.Client(clientConfig({ user: 'no_such_user_' + RUN_ID, password: 'x' }))
    const err = await expectPgError(client.connect(), '28P01')
    assert.equal(err.severity, 'FATAL')
  })

  it('simple and extended queries, SET/SHOW', async () => {
    await withClient(async (client) => {
      assert.deepEqual((await client.query("SELECT 'x'::text AS a")).rows, [{ a: 'x' }])
      assert.deepEqual((await client.query('SELECT $1::text AS a, $2::integer AS b', ['y', 41])).rows, [{ a: 'y', b: 41 }])
      await client.query("SET application_name = 'pg-set-show'")
      assert.deepEqual((await client.query('SHOW application_name')).rows, [{ application_name: 'pg-set-show' }])
    })
  })

  it('integer and decimal literals have PostgreSQL types', async () => {
    await withClient(async (client) => {
      const r = await client.query('SELECT 1 AS a, 1.5 AS b, 2147483648 AS c')
      assert.deepEqual(r.fields.map((f) => f.dataTypeID), [23, 1700, 20])
      assert.deepEqual(r.rows, [{ a: 1, b: '1.5', c: '2147483648' }])
      const p = await client.query('SELECT $1::integer + 1 AS n', [41])
      assert.deepEqual(p.fields.map((f) => f.dataTypeID), [23])
      assert.deepEqual(p.rows, [{ n: 42 }])
    })
  })

  it('session information functions', async () => {
    await withClient(async (client) => {
      const r = await client.query('SELECT current_user AS u, session_user AS s, current_database() AS d')
      assert.deepEqual(r.rows, [{ u: USER, s: USER, d: process.env.PGDATABASE || 'omendb' }])
    })
  })

  it('float4/float8 text output', async () => {
    await withClient(async (client) => {
      const r = await client.query({
        text: "SELECT '-1e300'::float8 AS a, '1e-5'::float8 AS b, '1e15'::float8 AS c, '1e14'::float8 AS d, " +
          "'Infinity'::float8 AS e, '-Infinity'::float8 AS f, '-0'::float8 AS g, 'NaN'::float8 AS h, '1.5e20'::real AS i, " +
          "'1e-5'::real AS j, $1::float8 AS k",
        values: [Infinity],
        rowMode: 'array',
        types: RAW
      })
      assert.deepEqual(r.rows[0], ['-1e+300', '1e-05', '1e+15', '100000000000000', 'Infinity', '-Infinity', '-0', 'NaN',
        '1.5e+20', '1e-05', 'Infinity'])
      const js = await client.query({ text: "SELECT 'Infinity'::float8 AS a, $1::float8 AS b", values: [-Infinity] })
      assert.deepEqual(js.rows, [{ a: Infinity, b: -Infinity }])
    })
  })
})

// -------------------------------------------------------------------------------------------------
// types through prepared statements
// -------------------------------------------------------------------------------------------------

const TYPE_COLUMNS = [
  ['c_smallint', 'smallint'],
  ['c_int', 'integer'],
  ['c_bigint', 'bigint'],
  ['c_real', 'real'],
  ['c_double', 'double precision'],
  ['c_num', 'numeric(12,3)'],
  ['c_bool', 'boolean'],
  ['c_text', 'text'],
  ['c_varchar', 'varchar(64)'],
  ['c_date', 'date'],
  ['c_ts', 'timestamp'],
  ['c_tstz', 'timestamptz'],
  ['c_bytea', 'bytea']
]
const COLS = TYPE_COLUMNS.map(([c]) => c)
const TYPE_OIDS = [21, 23, 20, 700, 701, 1700, 16, 25, 1043, 1082, 1114, 1184, 17]
const ALL_BYTES = Buffer.from(Array.from({ length: 256 }, (_, i) => i))
const UNICODE = 'héllo wörld ✓ 日本語 🚀 \'quote\' "dq" back\\slash\ttab\nnewline'

// [parameter values as an application passes them, the server's text output for them (TimeZone UTC)]
const TYPE_ROWS = {
  1: [
    [12345, 2000000000, 9000000000000000n, 1.5, 1234.5678901234567, '123456789.125', true, 'hello, world',
      'plain varchar', '2024-02-29', '2024-02-29 23:59:58.123456', '2024-02-29 12:00:01.654321+00', Buffer.from([1, 2, 3])],
    ['12345', '2000000000', '9000000000000000', '1.5', '1234.5678901234567', '123456789.125', 't', 'hello, world',
      'plain varchar', '2024-02-29', '2024-02-29 23:59:58.123456', '2024-02-29 12:00:01.654321+00', '\\x010203']
  ],
  2: [
    [-32768, -2147483648, '-9223372036854775808', -3.25, -0.1, '-98765.432', false, UNICODE, 'ünïcödé ✓',
      '1970-01-01', '1999-12-31 23:59:59.999999', '2000-01-01 00:00:00.000001+00', Buffer.from('\x00\xff\x00\x00binary\x00\n\\x00', 'latin1')],
    ['-32768', '-2147483648', '-9223372036854775808', '-3.25', '-0.1', '-98765.432', 'f', UNICODE, 'ünïcödé ✓',
      '1970-01-01', '1999-12-31 23:59:59.999999', '2000-01-01 00:00:00.000001+00', '\\x00ff000062696e617279000a5c783030']
  ],
  3: [
    [32767, 2147483647, 9223372036854775807n, 0, -1e300, '0.001', true, '', '', '1900-03-01', '1900-03-01 00:00:00',
      '2038-01-19 05:14:08.5+02', Buffer.alloc(0)],
    ['32767', '2147483647', '9223372036854775807', '0', '-1e+300', '0.001', 't', '', '', '1900-03-01', '1900-03-01 00:00:00',
      '2038-01-19 03:14:08.5+00', '\\x']
  ],
  4: [Array(COLS.length).fill(null), Array(COLS.length).fill(null)],
  5: [
    ['7', '-7', '7', '0.5', '2.5', 7, 'false', 'x', 'y', '2000-01-01', '2000-01-01 00:00:00', '2000-01-01 00:00:00+00', ALL_BYTES],
    ['7', '-7', '7', '0.5', '2.5', '7.000', 'f', 'x', 'y', '2000-01-01', '2000-01-01 00:00:00', '2000-01-01 00:00:00+00',
      '\\x' + ALL_BYTES.toString('hex')]
  ]
}

// Float columns are compared as numbers in the round-trip tests: the float text format has its own test.
const sameFloat = (v) => (v === null ? null : String(Number(v)))
function normalizeFloats (row, indexes) {
  return row.map((v, i) => (indexes.includes(i) ? sameFloat(v) : v))
}
const TYPE_FLOATS = [3, 4]

const insertTypesSql = (table) =>
  `INSERT INTO ${ident(table)} (id, ${COLS.join(', ')}) VALUES (${COLS.concat(['id']).map((_, i) => '$' + (i + 1)).join(', ')})`
const selectTypesSql = (table) => `SELECT ${COLS.join(', ')} FROM ${ident(table)} WHERE id = $1`

describe('types through prepared statements', () => {
  let table
  before(async () => {
    table = await createTable('types', 'id integer PRIMARY KEY, ' + TYPE_COLUMNS.map(([c, t]) => `${c} ${t}`).join(', '))
  })

  it('named INSERT and SELECT round-trip every type as text', async () => {
    await withClient(async (client) => {
      for (const [id, [values]] of Object.entries(TYPE_ROWS)) {
        const r = await client.query({ name: 'ins_types', text: insertTypesSql(table), values: [Number(id), ...values] })
        assert.equal(r.rowCount, 1)
        assert.equal(r.command, 'INSERT')
      }
      // node-postgres really prepared the named statements on this connection
      assert.ok(client.connection.parsedStatements.ins_types, 'ins_types was not prepared')
      for (const [id, [, expected]] of Object.entries(TYPE_ROWS)) {
        const r = await client.query({ name: 'sel_types', text: selectTypesSql(table), values: [Number(id)], rowMode: 'array' })
        assert.equal(r.rows.length, 1, `row ${id}`)
        assert.deepEqual(normalizeFloats(r.rows[0], TYPE_FLOATS), normalizeFloats(expected, TYPE_FLOATS), `row ${id}`)
      }
      assert.ok(client.connection.parsedStatements.sel_types, 'sel_types was not prepared')
    }, { types: RAW })
  })

  it('unnamed extended-protocol INSERT round-trips every type', async () => {
    await withClient(async (client) => {
      for (const [id, [values]] of Object.entries(TYPE_ROWS)) {
        await client.query(insertTypesSql(table), [100 + Number(id), ...values])
      }
      for (const [id, [, expected]] of Object.entries(TYPE_ROWS)) {
        const r = await client.query({ text: selectTypesSql(table), values: [100 + Number(id)], rowMode: 'array' })
        assert.equal(r.rows.length, 1, `row ${id}`)
        assert.deepEqual(normalizeFloats(r.rows[0], TYPE_FLOATS), normalizeFloats(expected, TYPE_FLOATS), `row ${id}`)
      }
    }, { types: RAW })
  })

  it('duplicate result column names', async () => {
    await withClient(async (client) => {
      const r1 = await client.query({ text: 'SELECT 1, 1', rowMode: 'array', types: RAW })
      assert.deepEqual(r1.fields.map((f) => f.name), ['?column?', '?column?'])
      assert.deepEqual(r1.rows, [['1', '1']])
      const r2 = await client.query({ text: 'SELECT 1 AS a, 2 AS a', rowMode: 'array', types: RAW })
      assert.deepEqual(r2.rows, [['1', '2']])
      const r3 = await client.query({
        text: `SELECT x.id, y.id, x.c_text FROM ${ident(table)} x JOIN ${ident(table)} y ON y.id = x.id + 100 WHERE x.id = $1`,
        values: [1],
        rowMode: 'array'
      })
      assert.deepEqual(r3.fields.map((f) => f.name), ['id', 'id', 'c_text'])
      assert.deepEqual(r3.rows, [[1, 101, 'hello, world']])
    })
  })

  it('RowDescription carries each column type', async () => {
    await withClient(async (client) => {
      const r = await client.query({ name: 'sel_types_desc', text: selectTypesSql(table), values: [1] })
      assert.deepEqual(r.fields.map((f) => f.name), COLS)
      assert.deepEqual(r.fields.map((f) => f.dataTypeID), TYPE_OIDS)
    })
  })

  it('node-postgres default parsers see the expected JS values', async () => {
    await withClient(async (client) => {
      const r = await client.query({ name: 'sel_types_js', text: selectTypesSql(table), values: [1] })
      const row = r.rows[0]
      assert.equal(row.c_smallint, 12345)
      assert.equal(row.c_int, 2000000000)
      assert.equal(row.c_bigint, '9000000000000000')
      assert.equal(row.c_real, 1.5)
      assert.equal(row.c_double, 1234.5678901234567)
      assert.equal(row.c_num, '123456789.125')
      assert.equal(row.c_bool, true)
      assert.equal(row.c_text, 'hello, world')
      assert.equal(row.c_varchar, 'plain varchar')
      assert.ok(row.c_date instanceof Date)
      assert.equal(row.c_date.getTime(), new Date(2024, 1, 29).getTime())
      assert.equal(row.c_ts.getTime(), new Date(2024, 1, 29, 23, 59, 58, 123).getTime())
      assert.equal(row.c_tstz.toISOString(), '2024-02-29T12:00:01.654Z')
      assert.ok(Buffer.isBuffer(row.c_bytea))
      assert.deepEqual(row.c_bytea, Buffer.from([1, 2, 3]))

      const nulls = (await client.query({ name: 'sel_types_js', text: selectTypesSql(table), values: [4] })).rows[0]
      assert.deepEqual(nulls, Object.fromEntries(COLS.map((c) => [c, null])))
    })
  })

  it('JS Date parameters into timestamp and timestamptz', async () => {
    const t = await createTable('dates', 'id integer PRIMARY KEY, ts timestamp, tstz timestamptz, d date')
    await withClient(async (client) => {
      const instant = new Date(Date.UTC(2021, 6, 4, 12, 30, 45, 678))
      const local = new Date(2021, 6, 4, 12, 30, 45, 678)
      await client.query({ name: 'ins_dates', text: `INSERT INTO ${ident(t)} VALUES ($1, $2, $3, $4)`, values: [1, local, instant, '2021-07-04'] })
      const row = (await client.query({ name: 'sel_dates', text: `SELECT ts, tstz, d FROM ${ident(t)} WHERE id = $1`, values: [1] })).rows[0]
      assert.equal(row.ts.getTime(), local.getTime())
      assert.equal(row.tstz.getTime(), instant.getTime())
      assert.equal(row.d.getTime(), new Date(2021, 6, 4).getTime())
      const r = await client.query({ text: `SELECT count(*) AS n FROM ${ident(t)} WHERE tstz = $1 AND ts < $2`, values: [instant, new Date(2030, 0, 1)] })
      assert.deepEqual(r.rows, [{ n: '1' }])
    })
  })

  it('NULL parameters and IS NULL', async () => {
    await withClient(async (client) => {
      const r = await client.query({ name: 'null_param', text: 'SELECT $1::integer IS NULL AS a, $2::text IS NULL AS b, $3::bytea AS c', values: [null, undefined, null] })
      assert.deepEqual(r.rows, [{ a: true, b: true, c: null }])
      const n = await client.query({ name: 'null_count', text: `SELECT count(*) AS n FROM ${ident(table)} WHERE c_text IS NULL AND c_int IS NULL` })
      assert.deepEqual(n.rows, [{ n: '2' }]) // rows 4 and 104
      const upd = await client.query({ name: 'null_upd', text: `UPDATE ${ident(table)} SET c_text = $1 WHERE id = $2`, values: [null, 1] })
      assert.equal(upd.rowCount, 1)
      const back = await client.query({ name: 'null_sel', text: `SELECT c_text FROM ${ident(table)} WHERE id = $1`, values: [1] })
      assert.deepEqual(back.rows, [{ c_text: null }])
      await client.query({ name: 'null_upd', text: `UPDATE ${ident(table)} SET c_text = $1 WHERE id = $2`, values: ['hello, world', 1] })
    })
  })

  it('a named statement is re-executed with different parameters', async () => {
    const t = await createTable('many', 'id bigint PRIMARY KEY, v text')
    await withClient(async (client) => {
      for (let i = 0; i < 40; i++) {
        await client.query({ name: 'many_ins', text: `INSERT INTO ${ident(t)} (id, v) VALUES ($1, $2)`, values: [i, `v${i}`] })
      }
      const sel = (lo, hi) => client.query({ name: 'many_sel', text: `SELECT id, v FROM ${ident(t)} WHERE id BETWEEN $1 AND $2 ORDER BY id`, values: [lo, hi], rowMode: 'array' })
      assert.deepEqual((await sel(3, 5)).rows, [['3', 'v3'], ['4', 'v4'], ['5', 'v5']])
      assert.deepEqual((await sel(39, 100)).rows, [['39', 'v39']])
      assert.deepEqual((await sel(50, 60)).rows, [])
      const upd = await client.query({ name: 'many_upd', text: `UPDATE ${ident(t)} SET v = $1 WHERE id < $2`, values: ['low', 10] })
      assert.equal(upd.rowCount, 10)
      assert.equal(upd.command, 'UPDATE')
      const del = await client.query({ name: 'many_del', text: `DELETE FROM ${ident(t)} WHERE id >= $1`, values: [30] })
      assert.equal(del.rowCount, 10)
      assert.equal(del.command, 'DELETE')
      const agg = await client.query({ name: 'many_agg', text: `SELECT count(*) AS n, min(v) AS lo, max(v) AS hi FROM ${ident(t)}` })
      assert.deepEqual(agg.rows, [{ n: '30', lo: 'low', hi: 'v29' }])
    })
  })
})

// -------------------------------------------------------------------------------------------------
// transactions
// -------------------------------------------------------------------------------------------------

describe('transactions', () => {
  let seq = 0
  const txTable = () => createTable(`tx${++seq}`, 'id integer PRIMARY KEY, v text NOT NULL')
  const ids = async (client, t) => (await client.query({ text: `SELECT id FROM ${ident(t)} ORDER BY id`, rowMode: 'array' })).rows.map((r) => r[0])

  it('BEGIN / COMMIT makes writes visible to other sessions', async () => {
    const t = await txTable()
    await withClient(async (client) => {
      await withClient(async (other) => {
        assert.equal((await client.query('BEGIN')).command, 'BEGIN')
        await client.query(`INSERT INTO ${ident(t)} VALUES (1, 'a')`)
        await client.query({ name: 'tx_ins', text: `INSERT INTO ${ident(t)} VALUES ($1, $2)`, values: [2, 'b'] })
        assert.deepEqual(await ids(other, t), [])
        assert.equal((await client.query('COMMIT')).command, 'COMMIT')
        assert.deepEqual(await ids(other, t), [1, 2])
      })
    })
  })

  it('ROLLBACK discards inserts, updates and deletes', async () => {
    const t = await txTable()
    await withClient(async (client) => {
      await client.query(`INSERT INTO ${ident(t)} VALUES (1, 'a')`)
      await client.query('BEGIN')
      await client.query({ name: 'rb_ins', text: `INSERT INTO ${ident(t)} VALUES ($1, $2)`, values: [2, 'b'] })
      await client.query(`UPDATE ${ident(t)} SET v = 'changed' WHERE id = 1`)
      await client.query({ name: 'rb_del', text: `DELETE FROM ${ident(t)} WHERE id = $1`, values: [1] })
      assert.deepEqual(await ids(client, t), [2])
      assert.equal((await client.query('ROLLBACK')).command, 'ROLLBACK')
      assert.deepEqual((await client.query(`SELECT id, v FROM ${ident(t)}`)).rows, [{ id: 1, v: 'a' }])
    })
  })

  it('reads its own writes; others do not see them before COMMIT', async () => {
    const t = await txTable()
    await withClient(async (client) => {
      await withClient(async (other) => {
        await client.query('BEGIN')
        await client.query({ name: 'own_ins', text: `INSERT INTO ${ident(t)} VALUES ($1, $2)`, values: [1, 'mine'] })
        await client.query({ name: 'own_upd', text: `UPDATE ${ident(t)} SET v = $1 WHERE id = $2`, values: ['mine2', 1] })
        const own = await client.query({ name: 'own_sel', text: `SELECT v FROM ${ident(t)} WHERE id = $1`, values: [1] })
        assert.deepEqual(own.rows, [{ v: 'mine2' }])
        assert.deepEqual((await client.query(`SELECT count(*) AS n FROM ${ident(t)}`)).rows, [{ n: '1' }])
        assert.deepEqual(await ids(other, t), [])
        await client.query('COMMIT')
        assert.deepEqual((await other.query(`SELECT v FROM ${ident(t)} WHERE id = 1`)).rows, [{ v: 'mine2' }])
      })
    })
  })

  it('an error aborts the transaction: 25P02 until ROLLBACK', async () => {
    const t = await txTable()
    await withClient(async (client) => {
      await client.query(`INSERT INTO ${ident(t)} VALUES (1, 'committed')`)
      await client.query('BEGIN')
      await client.query(`INSERT INTO ${ident(t)} VALUES (2, 'in failed tx')`)
      await expectPgError(client.query(`INSERT INTO ${ident(t)} VALUES (1, 'dup')`), '23505')
      const e1 = await expectPgError(client.query('SELECT 1'), '25P02')
      assert.match(e1.message, /current transaction is aborted, commands ignored until end of transaction block/)
      await expectPgError(client.query({ name: 'failed_tx_ins', text: `INSERT INTO ${ident(t)} VALUES ($1, $2)`, values: [3, 'x'] }), '25P02')
      await expectPgError(client.query(`SELECT id FROM ${ident(t)}`), '25P02')
      assert.equal((await client.query('ROLLBACK')).command, 'ROLLBACK')
      assert.deepEqual((await client.query(`SELECT id, v FROM ${ident(t)} ORDER BY id`)).rows, [{ id: 1, v: 'committed' }])
      await assertAlive(client)
    })
  })

  it('COMMIT of a failed transaction rolls back', async () => {
    const t = await txTable()
    await withClient(async (client) => {
      await client.query('BEGIN')
      await client.query(`INSERT INTO ${ident(t)} VALUES (1, 'a')`)
      await expectPgError(client.query(`SELECT * FROM ${ident(tname('no_such_table'))}`), '42P01')
      assert.equal((await client.query('COMMIT')).command, 'ROLLBACK')
      assert.deepEqual(await ids(client, t), [])
      await assertAlive(client)
    })
  })
})

// -------------------------------------------------------------------------------------------------
// COPY FROM STDIN (pg-copy-streams)
// -------------------------------------------------------------------------------------------------

const COPY_COLS = ['id', 'name', 'amount', 'big', 'flag', 'data', 'day', 'at', 'score']
const COPY_BODY = 'id integer PRIMARY KEY, name text, amount numeric(10,2), big bigint, flag boolean, data bytea, ' +
  'day date, at timestamp, score double precision'
// what SELECT returns (text format, raw) after loading the COPY payloads below
const COPY_EXPECTED = [
  ['1', 'plain', '1.50', '1', 't', '\\x0001', '2020-01-01', '2020-01-01 01:02:03.456789', '1.25'],
  ['2', 'tab\there\nnewline \\ backslash', '-2.25', '-9223372036854775808', 'f', '\\x0000ff', '1999-12-31', '1999-12-31 23:59:59.000001', '-0.5'],
  ['3', 'ünïcödé 日本 🚀', '0.00', '9223372036854775807', null, '\\x', '2000-02-29', null, '1e-05'],
  ['4', null, null, null, null, null, null, null, null],
  ['5', '', '99999999.99', '0', 't', '\\x' + ALL_BYTES.toString('hex'), '2024-12-31', '2024-12-31 00:00:00', '3.5']
]
const COPY_TEXT =
  '1\tplain\t1.5\t1\tt\t\\\\x0001\t2020-01-01\t2020-01-01 01:02:03.456789\t1.25\n' +
  '2\ttab\\there\\nnewline \\\\ backslash\t-2.25\t-9223372036854775808\tf\t\\\\x0000ff\t1999-12-31\t1999-12-31 23:59:59.000001\t-0.5\n' +
  '3\tünïcödé 日本 🚀\t0\t9223372036854775807\t\\N\t\\\\x\t2000-02-29\t\\N\t1e-05\n' +
  '4\t\\N\t\\N\t\\N\t\\N\t\\N\t\\N\t\\N\t\\N\n' +
  `5\t\t99999999.99\t0\ttrue\t\\\\x${ALL_BYTES.toString('hex')}\t2024-12-31\t2024-12-31 00:00:00\t3.5\n`
const COPY_CSV =
  '1,plain,1.5,1,t,\\x0001,2020-01-01,2020-01-01 01:02:03.456789,1.25\n' +
  '2,"tab\there\nnewline \\ backslash",-2.25,-9223372036854775808,f,\\x0000ff,1999-12-31,1999-12-31 23:59:59.000001,-0.5\n' +
  '3,ünïcödé 日本 🚀,0,9223372036854775807,,\\x,2000-02-29,,1e-05\n' +
  '4,,,,,,,,\n' +
  `5,"",99999999.99,0,true,\\x${ALL_BYTES.toString('hex')},2024-12-31,2024-12-31 00:00:00,3.5\n`

// Split a payload into several CopyData messages at awkward places (inside multi-byte characters too).
function chunks (text, sizes = [1, 7, 37, 3]) {
  const buf = Buffer.from(text, 'utf8')
  const out = []
  for (let i = 0, k = 0; i < buf.length; k++) {
    const n = sizes[k % sizes.length]
    out.push(buf.subarray(i, i + n))
    i += n
  }
  return out
}

async function copyIn (client, sql, payload) {
  const stream = client.query(copyFrom(sql))
  await pipeline(Readable.from(payload), stream)
  return stream
}

const readCopyTable = async (client, t) =>
  (await client.query({ text: `SELECT ${COPY_COLS.join(', ')} FROM ${ident(t)} ORDER BY id`, rowMode: 'array' })).rows
    .map((row) => normalizeFloats(row, [8]))
const COPY_EXPECTED_NORMALIZED = COPY_EXPECTED.map((row) => normalizeFloats(row, [8]))

describe('LISTEN / NOTIFY', () => {
  it('delivers notifications at commit, in order, to a listening client', async () => {
    const channel = `js_${RUN_ID}_chan`
    await withClient(async (listener) => {
      const got = []
      const done = new Promise((resolve) => {
        listener.on('notification', (n) => {
          got.push([n.channel, n.payload])
          if (got.length === 4) resolve()
        })
      })
      await listener.query(`LISTEN ${ident(channel)}`)
      await withClient(async (sender) => {
        await sender.query(`NOTIFY ${ident(channel)}, 'one'`)
        await sender.query('BEGIN')
        await sender.query('SELECT pg_notify($1, $2)', [channel, 'two'])
        await sender.query(`NOTIFY ${ident(channel)}, 'three'`)
        await sender.query('COMMIT')
        await sender.query('BEGIN')
        await sender.query(`NOTIFY ${ident(channel)}, 'rolled back'`)
        await sender.query('ROLLBACK')
        await sender.query(`NOTIFY ${ident(channel)}, 'four'`)
      })
      await Promise.race([done, new Promise((resolve, reject) => setTimeout(() => reject(new Error('timed out: ' + JSON.stringify(got))), 5000))])
      assert.deepEqual(got, [[channel, 'one'], [channel, 'two'], [channel, 'three'], [channel, 'four']])
      await assertAlive(listener)
    })
  })
})

describe('COPY FROM STDIN', () => {
  it('text format', async () => {
    const t = await createTable('copy_text', COPY_BODY)
    await withClient(async (client) => {
      const stream = await copyIn(client, `COPY ${ident(t)} FROM STDIN`, chunks(COPY_TEXT))
      assert.equal(stream.rowCount, 5)
      assert.deepEqual(await readCopyTable(client, t), COPY_EXPECTED_NORMALIZED)
      await assertAlive(client)
    }, { types: RAW })
  })

  it('CSV format', async () => {
    const t = await createTable('copy_csv', COPY_BODY)
    await withClient(async (client) => {
      const stream = await copyIn(client, `COPY ${ident(t)} (${COPY_COLS.join(', ')}) FROM STDIN WITH (FORMAT csv)`, chunks(COPY_CSV))
      assert.equal(stream.rowCount, 5)
      assert.deepEqual(await readCopyTable(client, t), COPY_EXPECTED_NORMALIZED)
    }, { types: RAW })
  })

  it('CSV with HEADER, quotes, delimiters and NULL vs empty string', async () => {
    const t = await createTable('copy_csvq', 'id integer PRIMARY KEY, a text, b text')
    await withClient(async (client) => {
      const data = 'id,a,b\n1,"with, comma","say ""hi"""\n2,"",\n3,"multi\nline",x\n'
      const stream = await copyIn(client, `COPY ${ident(t)} (id, a, b) FROM STDIN WITH (FORMAT csv, HEADER true)`, [data])
      assert.equal(stream.rowCount, 3)
      const rows = (await client.query(`SELECT id, a, b FROM ${ident(t)} ORDER BY id`)).rows
      assert.deepEqual(rows, [{ id: 1, a: 'with, comma', b: 'say "hi"' }, { id: 2, a: '', b: null }, { id: 3, a: 'multi\nline', b: 'x' }])
    })
  })

  it('many rows in one COPY', async () => {
    const t = await createTable('copy_many', 'id bigint PRIMARY KEY, payload text, n double precision')
    await withClient(async (client) => {
      const lines = []
      for (let i = 0; i < 20000; i++) lines.push(`${i}\trow-${i}-${'x'.repeat(i % 50)}\t${i / 8}\n`)
      const stream = await copyIn(client, `COPY ${ident(t)} FROM STDIN`, [lines.slice(0, 7000).join(''), lines.slice(7000).join('')])
      assert.equal(stream.rowCount, 20000)
      const r = await client.query(`SELECT count(*) AS n, sum(n) AS s, max(payload) AS m FROM ${ident(t)}`)
      assert.deepEqual(r.rows, [{ n: '20000', s: 19999 * 20000 / 2 / 8, m: 'row-9999-' + 'x'.repeat(49) }])
    })
  })

  it('a duplicate key fails the whole COPY with 23505; the connection keeps working', async () => {
    const t = await createTable('copy_dup', 'id integer PRIMARY KEY, v text')
    await withClient(async (client) => {
      await client.query(`INSERT INTO ${ident(t)} VALUES (1, 'existing')`)
      await expectPgError(copyIn(client, `COPY ${ident(t)} FROM STDIN`, ['2\tnew\n', '1\tdup\n']), '23505')
      assert.deepEqual((await client.query(`SELECT id, v FROM ${ident(t)} ORDER BY id`)).rows, [{ id: 1, v: 'existing' }])
      await assertAlive(client)
    })
  })

  it('COPY inside a transaction is rolled back with it', async () => {
    const t = await createTable('copy_tx', 'id integer PRIMARY KEY, v text')
    await withClient(async (client) => {
      await client.query('BEGIN')
      await copyIn(client, `COPY ${ident(t)} FROM STDIN WITH (FORMAT csv)`, ['1,a\n2,b\n'])
      assert.deepEqual((await client.query(`SELECT count(*) AS n FROM ${ident(t)}`)).rows, [{ n: '2' }])
      await client.query('ROLLBACK')
      assert.deepEqual((await client.query(`SELECT count(*) AS n FROM ${ident(t)}`)).rows, [{ n: '0' }])
      await client.query('BEGIN')
      await copyIn(client, `COPY ${ident(t)} FROM STDIN`, ['3\tc\n'])
      await client.query('COMMIT')
      assert.deepEqual((await client.query(`SELECT id, v FROM ${ident(t)}`)).rows, [{ id: 3, v: 'c' }])
    })
  })
})

// -------------------------------------------------------------------------------------------------
// errors
// -------------------------------------------------------------------------------------------------

describe('error SQLSTATEs', () => {
  let t
  before(async () => {
    t = await createTable('errs', 'id integer PRIMARY KEY, v text NOT NULL, s smallint')
    await ddlClient.query(`INSERT INTO ${ident(t)} VALUES (1, 'one', 1)`)
  })

  // [SQLSTATE, statement, parameters (null: simple query protocol)]
  const cases = () => [
    ['23505', `INSERT INTO ${ident(t)} VALUES (1, 'dup', 1)`, null],
    ['23505', `INSERT INTO ${ident(t)} VALUES ($1, $2, $3)`, [1, 'dup', 1]],
    ['23505', `UPDATE ${ident(t)} SET id = 1 WHERE id = 2`, null],
    ['23502', `INSERT INTO ${ident(t)} (id) VALUES (3)`, null],
    ['23502', `INSERT INTO ${ident(t)} VALUES ($1, $2, $3)`, [3, null, 1]],
    ['42P01', `SELECT * FROM ${ident(tname('no_such_table'))}`, null],
    ['42P01', `SELECT * FROM ${ident(tname('no_such_table'))} WHERE id = $1`, [1]],
    ['42P01', `INSERT INTO ${ident(tname('no_such_table'))} VALUES (1)`, null],
    ['42601', 'SELEC 1', null],
    ['42601', `SELECT * FROM ${ident(t)} WHERE`, null],
    ['42601', `SELECT * FROM ${ident(t)} WHERE id = $1 AND`, [1]],
    ['42703', `SELECT no_such_column FROM ${ident(t)}`, null],
    ['22012', 'SELECT 1 / 0', null],
    ['22012', 'SELECT $1::integer / $2::integer', [1, 0]],
    ['22012', `SELECT id / (s - 1) FROM ${ident(t)}`, null],
    ['22P02', "SELECT 'abc'::integer", null]
  ]

  it('each error has the PostgreSQL SQLSTATE, and the connection keeps working', async () => {
    await ddlClient.query(`INSERT INTO ${ident(t)} VALUES (2, 'two', 2)`)
    await withClient(async (client) => {
      for (const [code, text, values] of cases()) {
        const err = await expectPgError(values ? client.query(text, values) : client.query(text), code)
        assert.equal(err.severity, 'ERROR', text)
        assert.ok(err.message, text)
        await assertAlive(client)
      }
      assert.deepEqual((await client.query(`SELECT id, v, s FROM ${ident(t)} ORDER BY id`)).rows,
        [{ id: 1, v: 'one', s: 1 }, { id: 2, v: 'two', s: 2 }])
    })
  })

  it('errors from named prepared statements', async () => {
    await withClient(async (client) => {
      const ins = (values) => client.query({ name: 'err_ins', text: `INSERT INTO ${ident(t)} VALUES ($1, $2, $3)`, values })
      await expectPgError(ins([1, 'dup', 1]), '23505')
      await expectPgError(ins([9, null, 1]), '23502')
      // the statement stays prepared and usable after the errors
      assert.equal((await ins([10, 'ten', 10])).rowCount, 1)
      await expectPgError(client.query({ name: 'err_missing', text: `SELECT * FROM ${ident(tname('nope'))} WHERE id = $1`, values: [1] }), '42P01')
      await expectPgError(client.query({ name: 'err_syntax', text: 'SELEC $1', values: [1] }), '42601')
      await expectPgError(client.query({ name: 'err_div', text: 'SELECT 10 / $1::integer AS q', values: [0] }), '22012')
      const ok = await client.query({ name: 'err_div', text: 'SELECT 10 / $1::integer AS q', values: [5] })
      assert.equal(Number(ok.rows[0].q), 2)
      await client.query(`DELETE FROM ${ident(t)} WHERE id = 10`)
      await assertAlive(client)
    })
  })

  it('numeric and float division by zero is 22012', async () => {
    await withClient(async (client) => {
      await expectPgError(client.query('SELECT 7.0 / 0'), '22012')
      await expectPgError(client.query('SELECT 1.0::float8 / 0'), '22012')
      await expectPgError(client.query('SELECT $1::numeric / $2::numeric', ['1', '0']), '22012')
      await assertAlive(client)
    })
  })

  it('smallint out of range is 22003', async () => {
    await withClient(async (client) => {
      await expectPgError(client.query(`INSERT INTO ${ident(t)} VALUES (3, 'x', 40000)`), '22003')
      await expectPgError(client.query(`INSERT INTO ${ident(t)} VALUES ($1, $2, $3)`, [3, 'x', 40000]), '22003')
    })
  })
})
