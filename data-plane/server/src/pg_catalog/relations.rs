//! The relations of `pg_catalog`, with PostgreSQL 15's column names and types: ours from the engine's
//! catalog, built-in rows from PostgreSQL's own (`data/`), and the live views (`pg_stat_activity`,
//! `pg_locks`) from `system_views`. Catalogs of objects OmenDB does not have yet (sequences, views, enums,
//! triggers, inheritance) are empty, as they are in a fresh PostgreSQL database.

use arrow_array::RecordBatch;
use datafusion::error::{DataFusionError, Result};
use datafusion::scalar::ScalarValue;
use omendb_storage::DataType as Col;

use super::build::*;
use super::oids::{self, type_info};
use super::{Source, Table};

pub const NAMES: &[&str] = &[
    "pg_am",
    "pg_attrdef",
    "pg_attribute",
    "pg_auth_members",
    "pg_authid",
    "pg_cast",
    "pg_class",
    "pg_collation",
    "pg_constraint",
    "pg_database",
    "pg_depend",
    "pg_description",
    "pg_enum",
    "pg_extension",
    "pg_foreign_table",
    "pg_index",
    "pg_indexes",
    "pg_inherits",
    "pg_locks",
    "pg_matviews",
    "pg_namespace",
    "pg_opclass",
    "pg_operator",
    "pg_partitioned_table",
    "pg_policy",
    "pg_proc",
    "pg_publication",
    "pg_publication_namespace",
    "pg_publication_rel",
    "pg_rewrite",
    "pg_roles",
    "pg_sequence",
    "pg_sequences",
    "pg_settings",
    "pg_stat_activity",
    "pg_stat_user_indexes",
    "pg_stat_user_tables",
    "pg_statistic_ext",
    "pg_tables",
    "pg_tablespace",
    "pg_trigger",
    "pg_type",
    "pg_user",
    "pg_views",
];

pub fn relation(src: &Source, name: &str) -> Result<Option<RecordBatch>> {
    Ok(Some(match name {
        "pg_namespace" => pg_namespace()?,
        "pg_class" => pg_class(&src.tables()?, &src.user())?,
        "pg_attribute" => pg_attribute(&src.tables()?)?,
        "pg_type" => pg_type(&src.tables()?)?,
        "pg_index" => pg_index(&src.tables()?)?,
        "pg_constraint" => pg_constraint(&src.tables()?)?,
        "pg_attrdef" => pg_attrdef(&src.tables()?)?,
        "pg_database" => pg_database(&src.engine.config.database)?,
        "pg_roles" => pg_roles(&src.user())?,
        "pg_user" => pg_user(&src.user())?,
        "pg_authid" => {
            return Err(DataFusionError::External(Box::new(
                crate::error::Error::sql("42501", "permission denied for table pg_authid"),
            )));
        }
        "pg_settings" => pg_settings(src)?,
        "pg_tables" => pg_tables(&src.tables()?, &src.user())?,
        "pg_indexes" => pg_indexes(&src.tables()?)?,
        "pg_stat_user_tables" => pg_stat_user_tables(&src.tables()?)?,
        "pg_stat_user_indexes" => pg_stat_user_indexes(&src.tables()?)?,
        "pg_proc" => pg_proc(src)?,
        "pg_am" => {
            let mut rows = tsv_rows(include_str!("data/pg_am.tsv"), PG_AM);
            rows.push(vec![
                oid(oids::LEARNED_AM),
                text("learned"),
                text("omendb_learned_handler"),
                text("i"),
            ]);
            batch(PG_AM, rows)?
        }
        "pg_collation" => static_table(include_str!("data/pg_collation.tsv"), PG_COLLATION)?,
        "pg_cast" => static_table(include_str!("data/pg_cast.tsv"), PG_CAST)?,
        "pg_operator" => static_table(include_str!("data/pg_operator.tsv"), PG_OPERATOR)?,
        "pg_tablespace" => batch(
            &[
                ("oid", OID),
                ("spcname", NAME),
                ("spcowner", OID),
                ("spcacl", text_list()),
                ("spcoptions", text_list()),
            ],
            vec![
                vec![
                    oid(1663),
                    text("pg_default"),
                    oid(oids::SYSTEM_ROLE),
                    null(),
                    null(),
                ],
                vec![
                    oid(1664),
                    text("pg_global"),
                    oid(oids::SYSTEM_ROLE),
                    null(),
                    null(),
                ],
            ],
        )?,
        "pg_stat_activity" => crate::system_views::pg_stat_activity(&src.engine)?,
        "pg_locks" => crate::system_views::pg_locks(&src.engine)?,
        "pg_description" => empty(&[
            ("objoid", OID),
            ("classoid", OID),
            ("objsubid", INT4),
            ("description", TEXT),
        ])?,
        "pg_depend" => empty(&[
            ("classid", OID),
            ("objid", OID),
            ("objsubid", INT4),
            ("refclassid", OID),
            ("refobjid", OID),
            ("refobjsubid", INT4),
            ("deptype", CHAR),
        ])?,
        "pg_enum" => empty(&[
            ("oid", OID),
            ("enumtypid", OID),
            ("enumsortorder", FLOAT4),
            ("enumlabel", NAME),
        ])?,
        "pg_extension" => empty(&[
            ("oid", OID),
            ("extname", NAME),
            ("extowner", OID),
            ("extnamespace", OID),
            ("extrelocatable", BOOL),
            ("extversion", TEXT),
            ("extconfig", oid_list()),
            ("extcondition", text_list()),
        ])?,
        "pg_inherits" => empty(&[
            ("inhrelid", OID),
            ("inhparent", OID),
            ("inhseqno", INT4),
            ("inhdetachpending", BOOL),
        ])?,
        "pg_opclass" => empty(&[
            ("oid", OID),
            ("opcmethod", OID),
            ("opcname", NAME),
            ("opcnamespace", OID),
            ("opcowner", OID),
            ("opcfamily", OID),
            ("opcintype", OID),
            ("opcdefault", BOOL),
            ("opckeytype", OID),
        ])?,
        "pg_sequence" => empty(&[
            ("seqrelid", OID),
            ("seqtypid", OID),
            ("seqstart", INT8),
            ("seqincrement", INT8),
            ("seqmax", INT8),
            ("seqmin", INT8),
            ("seqcache", INT8),
            ("seqcycle", BOOL),
        ])?,
        "pg_sequences" => empty(&[
            ("schemaname", NAME),
            ("sequencename", NAME),
            ("sequenceowner", NAME),
            ("data_type", TEXT),
            ("start_value", INT8),
            ("min_value", INT8),
            ("max_value", INT8),
            ("increment_by", INT8),
            ("cycle", BOOL),
            ("cache_size", INT8),
            ("last_value", INT8),
        ])?,
        "pg_views" => empty(&[
            ("schemaname", NAME),
            ("viewname", NAME),
            ("viewowner", NAME),
            ("definition", TEXT),
        ])?,
        "pg_matviews" => empty(&[
            ("schemaname", NAME),
            ("matviewname", NAME),
            ("matviewowner", NAME),
            ("tablespace", NAME),
            ("hasindexes", BOOL),
            ("ispopulated", BOOL),
            ("definition", TEXT),
        ])?,
        "pg_trigger" => empty(&[
            ("oid", OID),
            ("tgrelid", OID),
            ("tgparentid", OID),
            ("tgname", NAME),
            ("tgfoid", OID),
            ("tgtype", INT2),
            ("tgenabled", CHAR),
            ("tgisinternal", BOOL),
            ("tgconstrrelid", OID),
            ("tgconstrindid", OID),
            ("tgconstraint", OID),
            ("tgdeferrable", BOOL),
            ("tginitdeferred", BOOL),
            ("tgnargs", INT2),
            ("tgattr", int2_list()),
            ("tgargs", TEXT),
            ("tgqual", TEXT),
            ("tgoldtable", NAME),
            ("tgnewtable", NAME),
        ])?,
        // Row-level security, publications, rules, partitioning, foreign tables, role membership and
        // extended statistics: none exist here.
        "pg_auth_members" => empty(&[
            ("roleid", OID),
            ("member", OID),
            ("grantor", OID),
            ("admin_option", BOOL),
        ])?,
        "pg_foreign_table" => empty(&[
            ("ftrelid", OID),
            ("ftserver", OID),
            ("ftoptions", text_list()),
        ])?,
        "pg_partitioned_table" => empty(&[
            ("partrelid", OID),
            ("partstrat", CHAR),
            ("partnatts", INT2),
            ("partdefid", OID),
            ("partattrs", int2_list()),
            ("partclass", oid_list()),
            ("partcollation", oid_list()),
            ("partexprs", TEXT),
        ])?,
        "pg_policy" => empty(&[
            ("oid", OID),
            ("polname", NAME),
            ("polrelid", OID),
            ("polcmd", CHAR),
            ("polpermissive", BOOL),
            ("polroles", oid_list()),
            ("polqual", TEXT),
            ("polwithcheck", TEXT),
        ])?,
        "pg_publication" => empty(&[
            ("oid", OID),
            ("pubname", NAME),
            ("pubowner", OID),
            ("puballtables", BOOL),
            ("pubinsert", BOOL),
            ("pubupdate", BOOL),
            ("pubdelete", BOOL),
            ("pubtruncate", BOOL),
            ("pubviaroot", BOOL),
        ])?,
        "pg_publication_namespace" => empty(&[("oid", OID), ("pnpubid", OID), ("pnnspid", OID)])?,
        "pg_publication_rel" => empty(&[
            ("oid", OID),
            ("prpubid", OID),
            ("prrelid", OID),
            ("prqual", TEXT),
            ("prattrs", int2_list()),
        ])?,
        "pg_rewrite" => empty(&[
            ("oid", OID),
            ("rulename", NAME),
            ("ev_class", OID),
            ("ev_type", CHAR),
            ("ev_enabled", CHAR),
            ("is_instead", BOOL),
            ("ev_qual", TEXT),
            ("ev_action", TEXT),
        ])?,
        "pg_statistic_ext" => empty(&[
            ("oid", OID),
            ("stxrelid", OID),
            ("stxname", NAME),
            ("stxnamespace", OID),
            ("stxowner", OID),
            ("stxstattarget", INT4),
            ("stxkeys", int2_list()),
            ("stxkind", text_list()),
            ("stxexprs", TEXT),
        ])?,
        _ => return Ok(None),
    }))
}

fn empty(columns: &[(&str, arrow_schema::DataType)]) -> Result<RecordBatch> {
    batch(columns, vec![])
}

fn static_table(tsv: &str, columns: &[(&str, arrow_schema::DataType)]) -> Result<RecordBatch> {
    batch(columns, tsv_rows(tsv, columns))
}

const PG_AM: &[(&str, arrow_schema::DataType)] = &[
    ("oid", OID),
    ("amname", NAME),
    ("amhandler", TEXT),
    ("amtype", CHAR),
];

const PG_COLLATION: &[(&str, arrow_schema::DataType)] = &[
    ("oid", OID),
    ("collname", NAME),
    ("collnamespace", OID),
    ("collowner", OID),
    ("collprovider", CHAR),
    ("collisdeterministic", BOOL),
    ("collencoding", INT4),
    ("collcollate", TEXT),
    ("collctype", TEXT),
    ("colliculocale", TEXT),
    ("collversion", TEXT),
];

const PG_CAST: &[(&str, arrow_schema::DataType)] = &[
    ("oid", OID),
    ("castsource", OID),
    ("casttarget", OID),
    ("castfunc", OID),
    ("castcontext", CHAR),
    ("castmethod", CHAR),
];

const PG_OPERATOR: &[(&str, arrow_schema::DataType)] = &[
    ("oid", OID),
    ("oprname", NAME),
    ("oprnamespace", OID),
    ("oprkind", CHAR),
    ("oprleft", OID),
    ("oprright", OID),
    ("oprresult", OID),
    ("oprcode", TEXT),
];

fn pg_namespace() -> Result<RecordBatch> {
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
        .collect(),
    )
}

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

fn pg_class(tables: &[Table], _user: &str) -> Result<RecordBatch> {
    let mut rows = Vec::new();
    for t in tables {
        let natts = t.def.columns.len() as i16;
        rows.push(class_row(
            t.oid,
            &t.def.name,
            oids::PUBLIC,
            oids::row_type(t.id),
            oids::TENANT_ROLE,
            oids::HEAP_AM,
            t.rows as f32,
            t.def.primary_key.is_some(),
            'r',
            natts,
        ));
        if t.def.primary_key.is_some() {
            rows.push(class_row(
                oids::pk_index(t.id),
                &t.pk_name(),
                oids::PUBLIC,
                0,
                oids::TENANT_ROLE,
                oids::LEARNED_AM,
                t.rows as f32,
                false,
                'i',
                1,
            ));
        }
    }
    for (name, o, kind) in oids::SYSTEM_RELATIONS {
        rows.push(class_row(
            *o,
            name,
            oids::PG_CATALOG,
            0,
            oids::SYSTEM_ROLE,
            if *kind == 'v' { 0 } else { oids::HEAP_AM },
            -1.0,
            false,
            *kind,
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
) -> Vec<ScalarValue> {
    let t = type_info(ty);
    vec![
        oid(rel),
        text(name),
        oid(t.oid),
        int4(-1),
        int2(t.len),
        int2(num),
        int4(0),
        int4(-1),
        int4(t.typmod),
        bool(t.byval),
        text(t.align.to_string()),
        text(t.storage.to_string()),
        text(""),
        bool(not_null),
        bool(has_default),
        bool(false),
        text(""),
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

fn pg_attribute(tables: &[Table]) -> Result<RecordBatch> {
    let mut rows = Vec::new();
    for t in tables {
        for (i, c) in t.def.columns.iter().enumerate() {
            let pk = t.def.primary_key == Some(i);
            rows.push(attribute_row(
                t.oid,
                &c.name,
                c.data_type,
                i as i16 + 1,
                pk || !c.nullable,
                c.default.is_some(),
            ));
        }
        if let Some(pk) = t.def.primary_key {
            let c = &t.def.columns[pk];
            rows.push(attribute_row(
                oids::pk_index(t.id),
                &c.name,
                c.data_type,
                1,
                false,
                false,
            ));
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

fn pg_type(tables: &[Table]) -> Result<RecordBatch> {
    let mut rows = tsv_rows(include_str!("data/pg_type.tsv"), &pg_type_columns());
    for t in tables {
        // Every table has a composite row type, and an array type of it.
        for (o, name, kind, category, elem, array, relid) in [
            (
                oids::row_type(t.id),
                t.def.name.clone(),
                "c",
                "C",
                0,
                oids::row_array_type(t.id),
                t.oid,
            ),
            (
                oids::row_array_type(t.id),
                format!("_{}", t.def.name),
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
                oid(oids::PUBLIC),
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

fn pg_index(tables: &[Table]) -> Result<RecordBatch> {
    let rows = tables
        .iter()
        .filter_map(|t| {
            let pk = t.def.primary_key?;
            let collation = type_info(t.def.columns[pk].data_type).collation;
            Some(vec![
                oid(oids::pk_index(t.id)),
                oid(t.oid),
                int2(1),
                int2(1),
                bool(true),
                bool(false),
                bool(true),
                bool(false),
                bool(true),
                bool(false),
                bool(true),
                bool(false),
                bool(true),
                bool(true),
                bool(false),
                int2s(&[pk as i16 + 1]),
                oids(&[collation]),
                oids(&[0]),
                int2s(&[0]),
                null(),
                null(),
            ])
        })
        .collect();
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

fn pg_constraint(tables: &[Table]) -> Result<RecordBatch> {
    let rows = tables
        .iter()
        .filter_map(|t| {
            let pk = t.def.primary_key?;
            Some(vec![
                oid(oids::pk_constraint(t.id)),
                text(t.pk_name()),
                oid(oids::PUBLIC),
                text("p"),
                bool(false),
                bool(false),
                bool(true),
                oid(t.oid),
                oid(0),
                oid(oids::pk_index(t.id)),
                oid(0),
                oid(0),
                text(" "),
                text(" "),
                text(" "),
                bool(true),
                int4(0),
                bool(true),
                int2s(&[pk as i16 + 1]),
                null(),
                null(),
                null(),
                null(),
                null(),
                null(),
                null(),
            ])
        })
        .collect();
    batch(&pg_constraint_columns(), rows)
}

fn pg_attrdef(tables: &[Table]) -> Result<RecordBatch> {
    let mut rows = Vec::new();
    for t in tables {
        for (i, c) in t.def.columns.iter().enumerate() {
            if let Some(d) = &c.default {
                rows.push(vec![
                    oid(oids::attrdef(t.id, i + 1)),
                    oid(t.oid),
                    int2(i as i16 + 1),
                    text(super::functions::deparse_default(d, c.data_type)),
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

fn pg_database(name: &str) -> Result<RecordBatch> {
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

fn pg_roles(user: &str) -> Result<RecordBatch> {
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

fn pg_user(user: &str) -> Result<RecordBatch> {
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

fn pg_settings(src: &Source) -> Result<RecordBatch> {
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

fn pg_tables(tables: &[Table], user: &str) -> Result<RecordBatch> {
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
            .map(|t| {
                vec![
                    text("public"),
                    text(t.def.name.clone()),
                    text(user),
                    null(),
                    bool(t.def.primary_key.is_some()),
                    bool(false),
                    bool(false),
                    bool(false),
                ]
            })
            .collect(),
    )
}

fn pg_indexes(tables: &[Table]) -> Result<RecordBatch> {
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
            .filter(|t| t.def.primary_key.is_some())
            .map(|t| {
                vec![
                    text("public"),
                    text(t.def.name.clone()),
                    text(t.pk_name()),
                    null(),
                    text(super::functions::index_def(t)),
                ]
            })
            .collect(),
    )
}

/// Row counts are the engine's; the scan counters are not tracked per table yet and read 0.
fn pg_stat_user_tables(tables: &[Table]) -> Result<RecordBatch> {
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
            let mut r = vec![oid(t.oid), text("public"), text(t.def.name.clone())];
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

fn pg_stat_user_indexes(tables: &[Table]) -> Result<RecordBatch> {
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
            .filter(|t| t.def.primary_key.is_some())
            .map(|t| {
                vec![
                    oid(t.oid),
                    oid(oids::pk_index(t.id)),
                    text("public"),
                    text(t.def.name.clone()),
                    text(t.pk_name()),
                    ScalarValue::Int64(Some(0)),
                    ScalarValue::Int64(Some(0)),
                    ScalarValue::Int64(Some(0)),
                ]
            })
            .collect(),
    )
}

/// PostgreSQL's functions that this session can call: its built-in rows for the names we have.
fn pg_proc(src: &Source) -> Result<RecordBatch> {
    let columns: &[(&str, arrow_schema::DataType)] = &[
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
    let rows = tsv_rows(include_str!("data/pg_proc_names.tsv"), columns)
        .into_iter()
        .filter(|r| {
            matches!(&r[1], ScalarValue::Utf8(Some(n))
                if src.functions.get().is_some_and(|f| f.contains(n)))
        })
        .collect();
    batch(columns, rows)
}
