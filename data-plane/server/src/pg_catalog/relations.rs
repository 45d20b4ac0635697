//! The relations of `pg_catalog`, with PostgreSQL 15's column names and types: which module builds each.
//! Our own objects come from `tables`, server-wide ones (namespaces, roles, settings, functions) from
//! `server`, built-in rows from PostgreSQL's own (`data/`), the live views (`pg_stat_activity`,
//! `pg_locks`) from `system_views`, and catalogs of objects OmenDB does not have from `empty`.

use arrow_array::RecordBatch;
use datafusion::error::{DataFusionError, Result};
use datafusion::scalar::ScalarValue;

use super::build::*;
use super::oids;
use super::{Source, server, tables};

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
    "pg_cursors",
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
    match built(src, name)? {
        Some(b) => Ok(Some(super::empty::complete(name, b)?)),
        None => Ok(None),
    }
}

fn built(src: &Source, name: &str) -> Result<Option<RecordBatch>> {
    Ok(Some(match name {
        "pg_namespace" => server::pg_namespace(src)?,
        "pg_description" => batch(
            &[
                ("objoid", OID),
                ("classoid", OID),
                ("objsubid", INT4),
                ("description", TEXT),
            ],
            src.descriptions()
                .into_iter()
                .map(|(o, c, s, d)| vec![oid(o), oid(c), int4(s), text(d)])
                .collect(),
        )?,
        "pg_class" => tables::pg_class(&src.tables()?, &src.sequences()?)?,
        "pg_sequence" => batch(
            &[
                ("seqrelid", OID),
                ("seqtypid", OID),
                ("seqstart", INT8),
                ("seqincrement", INT8),
                ("seqmax", INT8),
                ("seqmin", INT8),
                ("seqcache", INT8),
                ("seqcycle", BOOL),
            ],
            src.sequences()?
                .iter()
                .map(|s| {
                    let d = &s.def;
                    vec![
                        oid(s.oid),
                        oid(oids::type_info(d.data_type).oid),
                        oid(d.start),
                        oid(d.increment),
                        oid(d.max),
                        oid(d.min),
                        oid(d.cache),
                        bool(d.cycle),
                    ]
                })
                .collect(),
        )?,
        "pg_sequences" => batch(
            &[
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
            ],
            src.sequences()?
                .iter()
                .map(|s| {
                    let d = &s.def;
                    vec![
                        text(s.schema.clone()),
                        text(s.relname.clone()),
                        text(src.user()),
                        text(d.data_type.name()),
                        oid(d.start),
                        oid(d.min),
                        oid(d.max),
                        oid(d.increment),
                        bool(d.cycle),
                        oid(d.cache),
                        ScalarValue::Int64(s.last),
                    ]
                })
                .collect(),
        )?,
        "pg_attribute" => tables::pg_attribute(&src.tables()?, &src.sequences()?)?,
        "pg_depend" => tables::pg_depend(&src.tables()?, &src.sequences()?)?,
        "pg_rewrite" => tables::pg_rewrite(&src.tables()?)?,
        "pg_type" => tables::pg_type(&src.tables()?, &src.enum_types())?,
        "pg_enum" => batch(
            &[
                ("oid", OID),
                ("enumtypid", OID),
                ("enumsortorder", FLOAT4),
                ("enumlabel", NAME),
            ],
            src.enum_types()
                .iter()
                .flat_map(|t| {
                    t.def.labels.iter().map(|l| {
                        vec![
                            oid(oids::enum_label(t.def.id, l.number)),
                            oid(t.oid),
                            float4(l.sort_order),
                            text(l.name.clone()),
                        ]
                    })
                })
                .collect(),
        )?,
        "pg_index" => tables::pg_index(&src.tables()?)?,
        "pg_constraint" => tables::pg_constraint(&src.tables()?)?,
        "pg_attrdef" => tables::pg_attrdef(
            &src.tables()?,
            &src.enum_types(),
            &src.sequences()?,
            src.names().path(),
        )?,
        "pg_database" => server::pg_database(&src.engine.config.database)?,
        "pg_roles" => server::pg_roles(&src.user())?,
        "pg_user" => server::pg_user(&src.user())?,
        "pg_authid" => {
            return Err(DataFusionError::External(Box::new(
                crate::error::Error::sql("42501", "permission denied for table pg_authid"),
            )));
        }
        "pg_settings" => server::pg_settings(src)?,
        "pg_tables" => tables::pg_tables(&src.tables()?, &src.user())?,
        "pg_views" => tables::pg_views(&src.tables()?, &src.user(), src.names().path())?,
        "pg_indexes" => tables::pg_indexes(&src.tables()?)?,
        "pg_stat_user_tables" => tables::pg_stat_user_tables(&src.tables()?)?,
        "pg_stat_user_indexes" => tables::pg_stat_user_indexes(&src.tables()?)?,
        "pg_proc" => server::pg_proc(src)?,
        "pg_am" => static_table(include_str!("data/pg_am.tsv"), PG_AM)?,
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
        "pg_cursors" => {
            let rows = src
                .cursors
                .lock()
                .rows()
                .into_iter()
                .map(|c| {
                    vec![
                        text(&c.name),
                        text(&c.statement),
                        ScalarValue::Boolean(Some(c.is_holdable)),
                        ScalarValue::Boolean(Some(c.is_binary)),
                        ScalarValue::Boolean(Some(c.is_scrollable)),
                        ScalarValue::TimestampMicrosecond(
                            Some(c.creation_time),
                            Some("UTC".into()),
                        ),
                    ]
                })
                .collect();
            batch(&pg_cursors_columns(), rows)?
        }
        "pg_locks" => crate::system_views::pg_locks(&src.engine)?,
        other => return super::empty::relation(other),
    }))
}

fn static_table(tsv: &str, columns: &[(&str, arrow_schema::DataType)]) -> Result<RecordBatch> {
    batch(columns, tsv_rows(tsv, columns))
}

fn pg_cursors_columns() -> Vec<(&'static str, arrow_schema::DataType)> {
    let stamp = arrow_schema::DataType::Timestamp(
        arrow_schema::TimeUnit::Microsecond,
        Some(std::sync::Arc::from("UTC")),
    );
    vec![
        ("name", TEXT),
        ("statement", TEXT),
        ("is_holdable", BOOL),
        ("is_binary", BOOL),
        ("is_scrollable", BOOL),
        ("creation_time", stamp),
    ]
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
