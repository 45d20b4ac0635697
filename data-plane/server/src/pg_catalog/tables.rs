//! Our tables as PostgreSQL's catalogs describe them: `pg_class` (tables, their primary-key indexes and the
//! system relations), `pg_attribute`, `pg_type` (built-in types and each table's row type), `pg_index`,
//! `pg_constraint`, `pg_attrdef`, `pg_tables`, `pg_indexes` and the statistics views.

use arrow_array::RecordBatch;
use datafusion::error::Result;
use datafusion::scalar::ScalarValue;
use omendb_storage::DataType as Col;

use super::build::*;
use super::oids::{self, type_info};
use super::{Sequence, Table};

fn pg_class_columns() -> Vec<(&'static str, arrow_schema::DataType)> {
    vec![
        ("oid", OID),
        ("relname", NAME),
        ("relnamespace", OID),
        ("reltype", OID),
        ("reloftype", OID),
        ("relowner", OID),
        ("relam", OID),
        ("relfilenode", OID),
        ("reltablespace", OID),
        ("relpages", INT4),
        ("reltuples", FLOAT4),
        ("relallvisible", INT4),
        ("reltoastrelid", OID),
        ("relhasindex", BOOL),
        ("relisshared", BOOL),
        ("relpersistence", CHAR),
        ("relkind", CHAR),
        ("relnatts", INT2),
        ("relchecks", INT2),
        ("relhasrules", BOOL),
        ("relhastriggers", BOOL),
        ("relhassubclass", BOOL),
        ("relrowsecurity", BOOL),
        ("relforcerowsecurity", BOOL),
        ("relispopulated", BOOL),
        ("relreplident", CHAR),
        ("relispartition", BOOL),
        ("relrewrite", OID),
        ("relfrozenxid", INT8),
        ("relminmxid", INT8),
        ("relacl", text_list()),
        ("reloptions", text_list()),
        ("relpartbound", TEXT),
    ]
}

/// One `pg_class` row; `kind` 'r' table, 'i' index, 'v' view.
#[allow(clippy::too_many_arguments)]
fn class_row(
    o: i64,
    name: &str,
    namespace: i64,
    reltype: i64,
    owner: i64,
    am: i64,
    tuples: f32,
    has_index: bool,
    kind: char,
    natts: i16,
) -> Vec<ScalarValue> {
    vec![
        oid(o),
        text(name),
        oid(namespace),
        oid(reltype),
        oid(0),
        oid(owner),
        oid(am),
        oid(if kind == 'v' { 0 } else { o }),
        oid(0),
        int4(0),
        float4(tuples),
        int4(0),
        oid(0),
        bool(has_index),
        bool(false),
        text("p"),
        text(kind.to_string()),
        int2(natts),
        int2(0),
        bool(kind == 'v'),
        bool(false),
        bool(false),
        bool(false),
        bool(false),
        bool(true),
        text(if kind == 'r' { "d" } else { "n" }),
        bool(false),
        oid(0),
        oid(0),
        oid(0),
        null(),
        null(),
        null(),
    ]
}

pub(super) fn pg_class(tables: &[Table], sequences: &[super::Sequence]) -> Result<RecordBatch> {
    let mut rows = Vec::new();
    for s in sequences {
        rows.push(class_row(
            s.oid,
            &s.relname,
            s.nsp,
            0,
            oids::TENANT_ROLE,
            0,
            1.0,
            false,
            'S',
            3,
        ));
    }
    // Foreign keys are triggers in PostgreSQL: both of their tables have relhastriggers (what makes psql's
    // `\d` list them).
    let with_triggers: std::collections::HashSet<u64> = tables
        .iter()
        .flat_map(|t| {
            t.foreign_keys
                .iter()
                .flat_map(|f| [f.table_id, f.ref_table])
        })
        .collect();
    for t in tables {
        let natts = t.def.columns.len() as i16;
        let indexes = t.indexes();
        let view = t.view.is_some();
        let mut row = class_row(
            t.oid,
            &t.relname,
            t.nsp,
            oids::row_type(t.id),
            oids::TENANT_ROLE,
            if view { 0 } else { oids::HEAP_AM },
            if view { -1.0 } else { t.rows as f32 },
            !indexes.is_empty(),
            if view { 'v' } else { 'r' },
            natts,
        );
        row[18] = int2(t.checks.len() as i16);
        row[20] = bool(with_triggers.contains(&t.id));
        rows.push(row);
        for ix in indexes {
            rows.push(class_row(
                ix.oid,
                &ix.name,
                t.nsp,
                0,
                oids::TENANT_ROLE,
                oids::BTREE_AM,
                t.rows as f32,
                false,
                'i',
                ix.columns.len() as i16,
            ));
        }
    }
    for (name, o, kind) in super::system_relations() {
        rows.push(class_row(
            o,
            name,
            oids::PG_CATALOG,
            0,
            oids::SYSTEM_ROLE,
            if kind == 'v' { 0 } else { oids::HEAP_AM },
            -1.0,
            false,
            kind,
            0,
        ));
    }
    batch(&pg_class_columns(), rows)
}

fn pg_attribute_columns() -> Vec<(&'static str, arrow_schema::DataType)> {
    vec![
        ("attrelid", OID),
        ("attname", NAME),
        ("atttypid", OID),
        ("attstattarget", INT4),
        ("attlen", INT2),
        ("attnum", INT2),
        ("attndims", INT4),
        ("attcacheoff", INT4),
        ("atttypmod", INT4),
        ("attbyval", BOOL),
        ("attalign", CHAR),
        ("attstorage", CHAR),
        ("attcompression", CHAR),
        ("attnotnull", BOOL),
        ("atthasdef", BOOL),
        ("atthasmissing", BOOL),
        ("attidentity", CHAR),
        ("attgenerated", CHAR),
        ("attisdropped", BOOL),
        ("attislocal", BOOL),
        ("attinhcount", INT4),
        ("attcollation", OID),
        ("attacl", text_list()),
        ("attoptions", text_list()),
        ("attfdwoptions", text_list()),
        ("attmissingval", TEXT),
    ]
}

fn attribute_row(
    rel: i64,
    name: &str,
    ty: Col,
    num: i16,
    not_null: bool,
    has_default: bool,
    identity: &str,
) -> Vec<ScalarValue> {
    let t = type_info(ty);
    vec![
        oid(rel),
        text(name),
        oid(t.oid),
        int4(-1),
        int2(t.len),
        int2(num),
        int4(i32::from(matches!(ty, Col::Array(_)))),
        int4(-1),
        int4(t.typmod),
        bool(t.byval),
        text(t.align.to_string()),
        text(t.storage.to_string()),
        text(""),
        bool(not_null),
        bool(has_default),
        bool(false),
        text(identity),
        text(""),
        bool(false),
        bool(true),
        int4(0),
        oid(t.collation),
        null(),
        null(),
        null(),
        null(),
    ]
}

/// `Some(true)` if column `column` of table `table` is GENERATED ALWAYS AS IDENTITY, `Some(false)` if BY
/// DEFAULT, `None` if it is no identity column. (Its `nextval` default is how OmenDB fills it; PostgreSQL
/// shows an identity column without one.)
fn identity(sequences: &[Sequence], table: u64, column: &str) -> Option<bool> {
    sequences.iter().find_map(|s| match &s.def.owned_by {
        Some((t, c)) if *t == table && c == column => s.def.identity,
        _ => None,
    })
}

pub(super) fn pg_attribute(tables: &[Table], sequences: &[Sequence]) -> Result<RecordBatch> {
    let mut rows = Vec::new();
    for t in tables {
        for (i, c) in t.def.columns.iter().enumerate() {
            let pk = t.def.primary_key == Some(i);
            let identity = identity(sequences, t.id, &c.name);
            rows.push(attribute_row(
                t.oid,
                &c.name,
                c.data_type,
                i as i16 + 1,
                pk || !c.nullable,
                c.default.is_some() && identity.is_none(),
                match identity {
                    Some(true) => "a",
                    Some(false) => "d",
                    None => "",
                },
            ));
        }
        for ix in t.indexes() {
            for (n, &col) in ix.columns.iter().enumerate() {
                let c = &t.def.columns[col];
                rows.push(attribute_row(
                    ix.oid,
                    &c.name,
                    c.data_type,
                    n as i16 + 1,
                    false,
                    false,
                    "",
                ));
            }
        }
    }
    batch(&pg_attribute_columns(), rows)
}

fn pg_type_columns() -> Vec<(&'static str, arrow_schema::DataType)> {
    vec![
        ("oid", OID),
        ("typname", NAME),
        ("typnamespace", OID),
        ("typowner", OID),
        ("typlen", INT2),
        ("typbyval", BOOL),
        ("typtype", CHAR),
        ("typcategory", CHAR),
        ("typispreferred", BOOL),
        ("typisdefined", BOOL),
        ("typdelim", CHAR),
        ("typrelid", OID),
        ("typsubscript", TEXT),
        ("typelem", OID),
        ("typarray", OID),
        ("typinput", TEXT),
        ("typoutput", TEXT),
        ("typreceive", TEXT),
        ("typsend", TEXT),
        ("typmodin", TEXT),
        ("typmodout", TEXT),
        ("typanalyze", TEXT),
        ("typalign", CHAR),
        ("typstorage", CHAR),
        ("typnotnull", BOOL),
        ("typbasetype", OID),
        ("typtypmod", INT4),
        ("typndims", INT4),
        ("typcollation", OID),
        ("typdefaultbin", TEXT),
        ("typdefault", TEXT),
        ("typacl", text_list()),
    ]
}

pub(super) fn pg_type(tables: &[Table], enums: &[super::EnumType]) -> Result<RecordBatch> {
    let mut rows = tsv_rows(include_str!("data/pg_type.tsv"), &pg_type_columns());
    for e in enums {
        // The type, and its array type (`_mood`), as PostgreSQL makes them.
        for array in [false, true] {
            rows.push(vec![
                oid(e.oid + i64::from(array)),
                text(if array {
                    format!("_{}", e.typname)
                } else {
                    e.typname.clone()
                }),
                oid(e.nsp),
                oid(oids::TENANT_ROLE),
                int2(if array { -1 } else { 4 }),
                bool(!array),
                text(if array { "b" } else { "e" }),
                text(if array { "A" } else { "E" }),
                bool(false),
                bool(true),
                text(","),
                oid(0),
                text(if array {
                    "array_subscript_handler"
                } else {
                    "-"
                }),
                oid(if array { e.oid } else { 0 }),
                oid(if array { 0 } else { e.oid + 1 }),
                text(if array { "array_in" } else { "enum_in" }),
                text(if array { "array_out" } else { "enum_out" }),
                text(if array { "array_recv" } else { "enum_recv" }),
                text(if array { "array_send" } else { "enum_send" }),
                text("-"),
                text("-"),
                text(if array { "array_typanalyze" } else { "-" }),
                text(if array { "d" } else { "i" }),
                text(if array { "x" } else { "p" }),
                bool(false),
                oid(0),
                int4(-1),
                int4(0),
                oid(0),
                null(),
                null(),
                null(),
            ]);
        }
    }
    for t in tables {
        // Every table has a composite row type, and an array type of it.
        for (o, name, kind, category, elem, array, relid) in [
            (
                oids::row_type(t.id),
                t.relname.clone(),
                "c",
                "C",
                0,
                oids::row_array_type(t.id),
                t.oid,
            ),
            (
                oids::row_array_type(t.id),
                format!("_{}", t.relname),
                "b",
                "A",
                oids::row_type(t.id),
                0,
                0,
            ),
        ] {
            rows.push(vec![
                oid(o),
                text(name),
                oid(t.nsp),
                oid(oids::TENANT_ROLE),
                int2(-1),
                bool(false),
                text(kind),
                text(category),
                bool(false),
                bool(true),
                text(","),
                oid(relid),
                text(if kind == "b" {
                    "array_subscript_handler"
                } else {
                    "-"
                }),
                oid(elem),
                oid(array),
                text(if kind == "c" { "record_in" } else { "array_in" }),
                text(if kind == "c" {
                    "record_out"
                } else {
                    "array_out"
                }),
                text(if kind == "c" {
                    "record_recv"
                } else {
                    "array_recv"
                }),
                text(if kind == "c" {
                    "record_send"
                } else {
                    "array_send"
                }),
                text("-"),
                text("-"),
                text(if kind == "c" { "-" } else { "array_typanalyze" }),
                text("d"),
                text("x"),
                bool(false),
                oid(0),
                int4(-1),
                int4(0),
                oid(0),
                null(),
                null(),
                null(),
            ]);
        }
    }
    batch(&pg_type_columns(), rows)
}

fn pg_index_columns() -> Vec<(&'static str, arrow_schema::DataType)> {
    vec![
        ("indexrelid", OID),
        ("indrelid", OID),
        ("indnatts", INT2),
        ("indnkeyatts", INT2),
        ("indisunique", BOOL),
        ("indnullsnotdistinct", BOOL),
        ("indisprimary", BOOL),
        ("indisexclusion", BOOL),
        ("indimmediate", BOOL),
        ("indisclustered", BOOL),
        ("indisvalid", BOOL),
        ("indcheckxmin", BOOL),
        ("indisready", BOOL),
        ("indislive", BOOL),
        ("indisreplident", BOOL),
        ("indkey", int2_list()),
        ("indcollation", oid_list()),
        ("indclass", oid_list()),
        ("indoption", int2_list()),
        ("indexprs", TEXT),
        ("indpred", TEXT),
    ]
}

pub(super) fn pg_index(tables: &[Table]) -> Result<RecordBatch> {
    let mut rows = Vec::new();
    for t in tables {
        for ix in t.indexes() {
            let n = ix.columns.len();
            // An expression's position is 0 in indkey, its text in indexprs.
            let expression = |i: usize| ix.expressions.get(i).and_then(|e| e.as_deref());
            let keys: Vec<i16> = ix
                .columns
                .iter()
                .enumerate()
                .map(|(i, &c)| {
                    if expression(i).is_some() {
                        0
                    } else {
                        c as i16 + 1
                    }
                })
                .collect();
            let exprs: Vec<&str> = (0..n).filter_map(expression).collect();
            let collations: Vec<i64> = ix
                .columns
                .iter()
                .map(|&c| type_info(t.def.columns[c].data_type).collation)
                .collect();
            rows.push(vec![
                oid(ix.oid),
                oid(t.oid),
                int2(n as i16),
                int2(n as i16),
                bool(ix.unique),
                bool(false),
                bool(ix.primary),
                bool(false),
                bool(true),
                bool(false),
                bool(true),
                bool(false),
                bool(true),
                bool(true),
                bool(false),
                int2s(&keys),
                oids(&collations),
                oids(&vec![0; n]),
                int2s(&ix.options),
                if exprs.is_empty() {
                    null()
                } else {
                    text(exprs.join(", "))
                },
                // pg_get_expr reads it back as is.
                match &ix.predicate {
                    Some(p) => text(super::expression_text(p)),
                    None => null(),
                },
            ]);
        }
    }
    batch(&pg_index_columns(), rows)
}

fn pg_constraint_columns() -> Vec<(&'static str, arrow_schema::DataType)> {
    vec![
        ("oid", OID),
        ("conname", NAME),
        ("connamespace", OID),
        ("contype", CHAR),
        ("condeferrable", BOOL),
        ("condeferred", BOOL),
        ("convalidated", BOOL),
        ("conrelid", OID),
        ("contypid", OID),
        ("conindid", OID),
        ("conparentid", OID),
        ("confrelid", OID),
        ("confupdtype", CHAR),
        ("confdeltype", CHAR),
        ("confmatchtype", CHAR),
        ("conislocal", BOOL),
        ("coninhcount", INT4),
        ("connoinherit", BOOL),
        ("conkey", int2_list()),
        ("confkey", int2_list()),
        ("conpfeqop", oid_list()),
        ("conppeqop", oid_list()),
        ("conffeqop", oid_list()),
        ("confdelsetcols", int2_list()),
        ("conexclop", oid_list()),
        ("conbin", TEXT),
    ]
}

/// What tells one pg_constraint row from another (the other columns are the same for every row here).
struct Constraint<'a> {
    oid: i64,
    name: &'a str,
    table: &'a Table,
    kind: &'static str,
    deferrable: bool,
    deferred: bool,
    index: i64,
    foreign_table: i64,
    /// confupdtype, confdeltype, confmatchtype (" " unless a foreign key).
    actions: [&'static str; 3],
    no_inherit: bool,
    keys: Option<&'a [usize]>,
    foreign_keys: Option<&'a [usize]>,
    bin: Option<&'a str>,
}

fn constraint_row(c: Constraint) -> Vec<ScalarValue> {
    let attnums = |cols: &[usize]| int2s(&cols.iter().map(|&i| i as i16 + 1).collect::<Vec<_>>());
    vec![
        oid(c.oid),
        text(c.name),
        oid(c.table.nsp),
        text(c.kind),
        bool(c.deferrable),
        bool(c.deferred),
        bool(true),
        oid(c.table.oid),
        oid(0),
        oid(c.index),
        oid(0),
        oid(c.foreign_table),
        text(c.actions[0]),
        text(c.actions[1]),
        text(c.actions[2]),
        bool(true),
        int4(0),
        bool(c.no_inherit),
        c.keys.map_or(null(), attnums),
        c.foreign_keys.map_or(null(), attnums),
        null(),
        null(),
        null(),
        null(),
        null(),
        c.bin.map_or(null(), text),
    ]
}

pub(super) fn pg_constraint(tables: &[Table]) -> Result<RecordBatch> {
    let mut rows = Vec::new();
    for t in tables {
        for ix in t.indexes() {
            let Some((con_oid, con_name)) = &ix.constraint else {
                continue;
            };
            rows.push(constraint_row(Constraint {
                oid: *con_oid,
                name: con_name,
                table: t,
                kind: if ix.primary { "p" } else { "u" },
                deferrable: false,
                deferred: false,
                index: ix.oid,
                foreign_table: 0,
                actions: [" "; 3],
                no_inherit: true,
                keys: Some(&ix.columns),
                foreign_keys: None,
                bin: None,
            }));
        }
        for c in &t.checks {
            rows.push(constraint_row(Constraint {
                oid: oids::table(c.id),
                name: &c.name,
                table: t,
                kind: "c",
                deferrable: false,
                deferred: false,
                index: 0,
                foreign_table: 0,
                actions: [" "; 3],
                no_inherit: false,
                keys: None,
                foreign_keys: None,
                bin: Some(&c.sql),
            }));
        }
        for f in t.foreign_keys(tables) {
            rows.push(constraint_row(Constraint {
                oid: f.oid,
                name: &f.fk.name,
                table: t,
                kind: "f",
                deferrable: f.fk.deferrable,
                deferred: f.fk.initially_deferred,
                index: f.index.as_ref().map_or(0, |i| i.oid),
                foreign_table: f.parent.oid,
                actions: [
                    super::ForeignKeyInfo::code(f.fk.on_update),
                    super::ForeignKeyInfo::code(f.fk.on_delete),
                    "s",
                ],
                no_inherit: true,
                keys: Some(&f.fk.columns),
                foreign_keys: Some(&f.fk.ref_columns),
                bin: None,
            }));
        }
    }
    batch(&pg_constraint_columns(), rows)
}

pub(super) fn pg_attrdef(
    tables: &[Table],
    enums: &[super::EnumType],
    sequences: &[Sequence],
    path: &[String],
) -> Result<RecordBatch> {
    let mut rows = Vec::new();
    for t in tables {
        for (i, c) in t.def.columns.iter().enumerate() {
            if let Some(d) = &c.default
                && identity(sequences, t.id, &c.name).is_none()
            {
                rows.push(vec![
                    oid(oids::attrdef(t.id, i + 1)),
                    oid(t.oid),
                    int2(i as i16 + 1),
                    text(super::names::deparse_default(d, c.data_type, enums, path)),
                ]);
            }
        }
    }
    batch(
        &[
            ("oid", OID),
            ("adrelid", OID),
            ("adnum", INT2),
            ("adbin", TEXT),
        ],
        rows,
    )
}

pub(super) fn pg_tables(tables: &[Table], user: &str) -> Result<RecordBatch> {
    batch(
        &[
            ("schemaname", NAME),
            ("tablename", NAME),
            ("tableowner", NAME),
            ("tablespace", NAME),
            ("hasindexes", BOOL),
            ("hasrules", BOOL),
            ("hastriggers", BOOL),
            ("rowsecurity", BOOL),
        ],
        tables
            .iter()
            .filter(|t| t.view.is_none())
            .map(|t| {
                vec![
                    text(t.schema.clone()),
                    text(t.relname.clone()),
                    text(user),
                    null(),
                    bool(!t.indexes().is_empty()),
                    bool(false),
                    bool(false),
                    bool(false),
                ]
            })
            .collect(),
    )
}

pub(super) fn pg_views(tables: &[Table], user: &str, path: &[String]) -> Result<RecordBatch> {
    batch(
        &[
            ("schemaname", NAME),
            ("viewname", NAME),
            ("viewowner", NAME),
            ("definition", TEXT),
        ],
        tables
            .iter()
            .filter_map(|t| {
                let v = t.view.as_ref()?;
                Some(vec![
                    text(t.schema.clone()),
                    text(t.relname.clone()),
                    text(user),
                    text(super::view_definition(v, path)),
                ])
            })
            .collect(),
    )
}

pub(super) fn pg_indexes(tables: &[Table]) -> Result<RecordBatch> {
    batch(
        &[
            ("schemaname", NAME),
            ("tablename", NAME),
            ("indexname", NAME),
            ("tablespace", NAME),
            ("indexdef", TEXT),
        ],
        tables
            .iter()
            .flat_map(|t| {
                t.indexes().into_iter().map(move |ix| {
                    vec![
                        text(t.schema.clone()),
                        text(t.relname.clone()),
                        text(ix.name.clone()),
                        null(),
                        text(super::names::index_def(t, &ix)),
                    ]
                })
            })
            .collect(),
    )
}

/// Row counts are the engine's; the scan counters are not tracked per table yet and read 0.
pub(super) fn pg_stat_user_tables(tables: &[Table]) -> Result<RecordBatch> {
    let counters = [
        "seq_scan",
        "seq_tup_read",
        "idx_scan",
        "idx_tup_fetch",
        "n_tup_ins",
        "n_tup_upd",
        "n_tup_del",
        "n_tup_hot_upd",
        "n_live_tup",
        "n_dead_tup",
        "n_mod_since_analyze",
        "n_ins_since_vacuum",
    ];
    let stamp =
        arrow_schema::DataType::Timestamp(arrow_schema::TimeUnit::Microsecond, Some("UTC".into()));
    let mut columns: Vec<(&str, arrow_schema::DataType)> =
        vec![("relid", OID), ("schemaname", NAME), ("relname", NAME)];
    columns.extend(counters.iter().map(|c| (*c, INT8)));
    for c in [
        "last_vacuum",
        "last_autovacuum",
        "last_analyze",
        "last_autoanalyze",
    ] {
        columns.push((c, stamp.clone()));
    }
    for c in [
        "vacuum_count",
        "autovacuum_count",
        "analyze_count",
        "autoanalyze_count",
    ] {
        columns.push((c, INT8));
    }
    let rows = tables
        .iter()
        .map(|t| {
            let mut r = vec![oid(t.oid), text(t.schema.clone()), text(t.relname.clone())];
            r.extend(counters.iter().map(|c| {
                ScalarValue::Int64(Some(if *c == "n_live_tup" { t.rows as i64 } else { 0 }))
            }));
            r.extend((0..4).map(|_| null()));
            r.extend((0..4).map(|_| ScalarValue::Int64(Some(0))));
            r
        })
        .collect();
    batch(&columns, rows)
}

pub(super) fn pg_stat_user_indexes(tables: &[Table]) -> Result<RecordBatch> {
    batch(
        &[
            ("relid", OID),
            ("indexrelid", OID),
            ("schemaname", NAME),
            ("relname", NAME),
            ("indexrelname", NAME),
            ("idx_scan", INT8),
            ("idx_tup_read", INT8),
            ("idx_tup_fetch", INT8),
        ],
        tables
            .iter()
            .flat_map(|t| t.indexes().into_iter().map(move |ix| (t, ix)))
            .map(|(t, ix)| {
                vec![
                    oid(t.oid),
                    oid(ix.oid),
                    text(t.schema.clone()),
                    text(t.relname.clone()),
                    text(ix.name.clone()),
                    ScalarValue::Int64(Some(0)),
                    ScalarValue::Int64(Some(0)),
                    ScalarValue::Int64(Some(0)),
                ]
            })
            .collect(),
    )
}

/// pg_depend's rows pg_dump orders a restore by: a SERIAL column's sequence belongs to the column ('a'),
/// an identity column's to it internally ('i'); a DEFAULT that calls `nextval` needs its sequence ('n');
/// a view's rule needs the relations it reads ('n').
pub(super) fn pg_depend(tables: &[Table], sequences: &[Sequence]) -> Result<RecordBatch> {
    const PG_ATTRDEF: i64 = 2604;
    const PG_REWRITE: i64 = 2618;
    let class = oids::PG_CLASS_CLASS;
    let row = |classid: i64, objid: i64, refobjid: i64, refsub: i32, deptype: &str| {
        vec![
            oid(classid),
            oid(objid),
            int4(0),
            oid(class),
            oid(refobjid),
            int4(refsub),
            text(deptype),
        ]
    };
    let mut rows = Vec::new();
    for s in sequences {
        let Some((table, column)) = &s.def.owned_by else {
            continue;
        };
        let Some(t) = tables.iter().find(|t| t.id == *table && t.view.is_none()) else {
            continue;
        };
        if let Some(i) = t.def.columns.iter().position(|c| c.name == *column) {
            let kind = if s.def.identity.is_some() { "i" } else { "a" };
            rows.push(row(class, s.oid, t.oid, i as i32 + 1, kind));
        }
    }
    for t in tables {
        if let Some(v) = &t.view {
            for dep in &v.depends {
                rows.push(row(
                    PG_REWRITE,
                    rewrite_oid(t.id),
                    oids::table(*dep),
                    0,
                    "n",
                ));
            }
            continue;
        }
        for (i, c) in t.def.columns.iter().enumerate() {
            let Some((schema, name)) = c
                .default
                .as_deref()
                .and_then(super::names::default_sequence)
            else {
                continue;
            };
            if identity(sequences, t.id, &c.name).is_some() {
                continue;
            }
            if let Some(s) = sequences
                .iter()
                .find(|s| s.schema == schema && s.relname == name)
            {
                rows.push(row(PG_ATTRDEF, oids::attrdef(t.id, i + 1), s.oid, 0, "n"));
            }
        }
    }
    batch(
        &[
            ("classid", OID),
            ("objid", OID),
            ("objsubid", INT4),
            ("refclassid", OID),
            ("refobjid", OID),
            ("refobjsubid", INT4),
            ("deptype", CHAR),
        ],
        rows,
    )
}

/// The OID of a view's `_RETURN` rule (the OID a view has no primary-key index for).
fn rewrite_oid(view: u64) -> i64 {
    oids::pk_index(view)
}

/// pg_rewrite: each view's `_RETURN` rule (its query is the view's definition), which pg_dump reads to
/// place a view after the relations it reads.
pub(super) fn pg_rewrite(tables: &[Table]) -> Result<RecordBatch> {
    let rows = tables
        .iter()
        .filter(|t| t.view.is_some())
        .map(|t| {
            vec![
                oid(rewrite_oid(t.id)),
                text("_RETURN"),
                oid(t.oid),
                text("1"),
                text("O"),
                bool(true),
            ]
        })
        .collect();
    // ev_qual and ev_action (NULL) are appended by `empty::complete`.
    batch(
        &[
            ("oid", OID),
            ("rulename", NAME),
            ("ev_class", OID),
            ("ev_type", CHAR),
            ("ev_enabled", CHAR),
            ("is_instead", BOOL),
        ],
        rows,
    )
}
