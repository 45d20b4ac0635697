//! Server-wide catalogs: namespaces, the database, roles, run-time parameters (`pg_settings`) and the
//! functions this session can call (`pg_proc`).

use arrow_array::RecordBatch;
use datafusion::error::Result;
use datafusion::scalar::ScalarValue;

use super::Source;
use super::build::*;
use super::oids;

pub(super) fn pg_namespace(src: &Source) -> Result<RecordBatch> {
    batch(
        &[
            ("oid", OID),
            ("nspname", NAME),
            ("nspowner", OID),
            ("nspacl", text_list()),
        ],
        [
            (oids::PG_TOAST, "pg_toast", oids::SYSTEM_ROLE),
            (oids::PG_CATALOG, "pg_catalog", oids::SYSTEM_ROLE),
            (oids::PUBLIC, "public", oids::DATABASE_OWNER_ROLE),
            (
                oids::INFORMATION_SCHEMA,
                "information_schema",
                oids::SYSTEM_ROLE,
            ),
        ]
        .into_iter()
        .map(|(o, n, owner)| vec![oid(o), text(n), oid(owner), null()])
        .chain(
            src.schemas()
                .into_iter()
                .map(|(n, o)| vec![oid(o), text(n), oid(oids::TENANT_ROLE), null()]),
        )
        .collect(),
    )
}

pub(super) fn pg_database(name: &str) -> Result<RecordBatch> {
    batch(
        &[
            ("oid", OID),
            ("datname", NAME),
            ("datdba", OID),
            ("encoding", INT4),
            ("datlocprovider", CHAR),
            ("datistemplate", BOOL),
            ("datallowconn", BOOL),
            ("datconnlimit", INT4),
            ("datfrozenxid", INT8),
            ("datminmxid", INT8),
            ("dattablespace", OID),
            ("datcollate", TEXT),
            ("datctype", TEXT),
            ("daticulocale", TEXT),
            ("datcollversion", TEXT),
            ("datacl", text_list()),
        ],
        vec![vec![
            oid(oids::DATABASE),
            text(name),
            oid(oids::TENANT_ROLE),
            int4(6),
            text("c"),
            bool(false),
            bool(true),
            int4(-1),
            oid(0),
            oid(1),
            oid(oids::DEFAULT_TABLESPACE),
            text("C"),
            text("C"),
            null(),
            null(),
            null(),
        ]],
    )
}

/// The roles a tenant sees: its own login role, and the system role that owns the built-in objects.
fn roles(user: &str) -> Vec<(i64, String, bool, bool)> {
    vec![
        (oids::SYSTEM_ROLE, "omendb".to_string(), true, false),
        (
            oids::DATABASE_OWNER_ROLE,
            "pg_database_owner".to_string(),
            false,
            false,
        ),
        (oids::TENANT_ROLE, user.to_string(), false, true),
    ]
}

pub(super) fn pg_roles(user: &str) -> Result<RecordBatch> {
    batch(
        &[
            ("rolname", NAME),
            ("rolsuper", BOOL),
            ("rolinherit", BOOL),
            ("rolcreaterole", BOOL),
            ("rolcreatedb", BOOL),
            ("rolcanlogin", BOOL),
            ("rolreplication", BOOL),
            ("rolconnlimit", INT4),
            ("rolpassword", TEXT),
            (
                "rolvaliduntil",
                arrow_schema::DataType::Timestamp(
                    arrow_schema::TimeUnit::Microsecond,
                    Some("UTC".into()),
                ),
            ),
            ("rolbypassrls", BOOL),
            ("rolconfig", text_list()),
            ("oid", OID),
        ],
        roles(user)
            .into_iter()
            .map(|(o, name, superuser, login)| {
                vec![
                    text(name),
                    bool(superuser),
                    bool(true),
                    bool(superuser),
                    bool(superuser),
                    bool(login),
                    bool(superuser),
                    int4(-1),
                    text("********"),
                    null(),
                    bool(superuser),
                    null(),
                    oid(o),
                ]
            })
            .collect(),
    )
}

pub(super) fn pg_user(user: &str) -> Result<RecordBatch> {
    batch(
        &[
            ("usename", NAME),
            ("usesysid", OID),
            ("usecreatedb", BOOL),
            ("usesuper", BOOL),
            ("userepl", BOOL),
            ("usebypassrls", BOOL),
            ("passwd", TEXT),
            (
                "valuntil",
                arrow_schema::DataType::Timestamp(
                    arrow_schema::TimeUnit::Microsecond,
                    Some("UTC".into()),
                ),
            ),
            ("useconfig", text_list()),
        ],
        roles(user)
            .into_iter()
            .filter(|(_, _, _, login)| *login)
            .map(|(o, name, superuser, _)| {
                vec![
                    text(name),
                    oid(o),
                    bool(superuser),
                    bool(superuser),
                    bool(superuser),
                    bool(superuser),
                    text("********"),
                    null(),
                    null(),
                ]
            })
            .collect(),
    )
}

/// The name of role `oid`, as `pg_get_userbyid` answers it.
pub fn role_name(o: i64, user: &str) -> String {
    roles(user)
        .into_iter()
        .find(|(r, ..)| *r == o)
        .map_or_else(|| format!("unknown (OID={o})"), |(_, n, ..)| n)
}

pub(super) fn pg_settings(src: &Source) -> Result<RecordBatch> {
    let rows = src
        .settings
        .all()
        .into_iter()
        .map(|(p, value)| {
            let enumvals =
                (!p.enumvals.is_empty()).then(|| format!("{{{}}}", p.enumvals.join(",")));
            let source = if value == p.boot {
                "default"
            } else {
                "session"
            };
            vec![
                text(p.name.clone()),
                text(value),
                opt_text(p.unit.clone()),
                text(p.category.clone()),
                text(p.short_desc.clone()),
                opt_text(p.extra_desc.clone()),
                text(p.context.clone()),
                text(p.vartype.clone()),
                text(source),
                opt_text(p.min.clone()),
                opt_text(p.max.clone()),
                opt_text(enumvals),
                text(p.boot.clone()),
                text(p.boot.clone()),
                null(),
                null(),
                bool(false),
            ]
        })
        .collect();
    batch(
        &[
            ("name", TEXT),
            ("setting", TEXT),
            ("unit", TEXT),
            ("category", TEXT),
            ("short_desc", TEXT),
            ("extra_desc", TEXT),
            ("context", TEXT),
            ("vartype", TEXT),
            ("source", TEXT),
            ("min_val", TEXT),
            ("max_val", TEXT),
            ("enumvals", TEXT),
            ("boot_val", TEXT),
            ("reset_val", TEXT),
            ("sourcefile", TEXT),
            ("sourceline", INT4),
            ("pending_restart", BOOL),
        ],
        rows,
    )
}

/// PostgreSQL's functions that this session can call: its built-in rows for the names we have.
pub(super) fn pg_proc(src: &Source) -> Result<RecordBatch> {
    let from_tsv: &[(&str, arrow_schema::DataType)] = &[
        ("oid", OID),
        ("proname", NAME),
        ("pronamespace", OID),
        ("prokind", CHAR),
        ("prorettype", OID),
        ("pronargs", INT2),
        ("proargtypes", TEXT),
        ("proretset", BOOL),
        ("provolatile", CHAR),
        ("prolang", OID),
    ];
    // The rest of PostgreSQL 15's columns, the same for every built-in function here: owned by the system
    // role, default cost, no special arguments, no privileges granted or revoked.
    let rest: Vec<(&str, arrow_schema::DataType, ScalarValue)> = vec![
        ("proowner", OID, oid(oids::SYSTEM_ROLE)),
        ("procost", FLOAT4, float4(1.0)),
        ("prorows", FLOAT4, float4(0.0)),
        ("provariadic", OID, oid(0)),
        ("prosupport", TEXT, text("-")),
        ("prosecdef", BOOL, bool(false)),
        ("proleakproof", BOOL, bool(false)),
        ("proisstrict", BOOL, bool(true)),
        ("proparallel", CHAR, text("s")),
        ("proallargtypes", oid_list(), null()),
        ("proargmodes", text_list(), null()),
        ("proargnames", text_list(), null()),
        ("proargdefaults", TEXT, null()),
        ("protrftypes", oid_list(), null()),
        ("prosrc", TEXT, null()),
        ("probin", TEXT, null()),
        ("prosqlbody", TEXT, null()),
        ("proconfig", text_list(), null()),
        ("proacl", text_list(), null()),
    ];
    let mut columns: Vec<(&str, arrow_schema::DataType)> = from_tsv.to_vec();
    columns.extend(rest.iter().map(|(n, t, _)| (*n, t.clone())));
    let rows = tsv_rows(include_str!("data/pg_proc_names.tsv"), from_tsv)
        .into_iter()
        .filter(|r| {
            matches!(&r[1], ScalarValue::Utf8(Some(n))
                if src.functions.get().is_some_and(|f| f.contains(n)))
        })
        .map(|mut r| {
            r.extend(rest.iter().map(|(_, _, v)| v.clone()));
            r
        })
        .collect();
    batch(&columns, rows)
}
