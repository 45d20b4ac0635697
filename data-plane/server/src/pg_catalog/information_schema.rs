//! `information_schema` with PostgreSQL's content: SQL-standard names and PostgreSQL's type names (`integer`,
//! `timestamp without time zone`), not Arrow's. Catalog objects OmenDB does not have yet (foreign keys, views,
//! sequences) give empty relations.

use arrow_array::RecordBatch;
use arrow_schema::DataType;
use datafusion::error::Result;
use datafusion::scalar::ScalarValue;
use omendb_storage::DataType as Col;

use super::build::*;
use super::{Source, Table};

pub const NAMES: &[&str] = &[
    "character_sets",
    "check_constraints",
    "columns",
    "constraint_column_usage",
    "key_column_usage",
    "referential_constraints",
    "routines",
    "schemata",
    "sequences",
    "table_constraints",
    "tables",
    "views",
];

pub fn relation(src: &Source, name: &str) -> Result<Option<RecordBatch>> {
    let db = src.engine.config.database.clone();
    Ok(Some(match name {
        "schemata" => schemata(&db, &src.user(), &src.schemas())?,
        "tables" => tables(&db, &src.tables()?)?,
        "columns" => columns(
            &db,
            &src.tables()?,
            &src.enum_types(),
            &src.sequences()?,
            src.names().path(),
        )?,
        "table_constraints" => table_constraints(&db, &src.tables()?)?,
        "check_constraints" => check_constraints(&db, &src.tables()?)?,
        "key_column_usage" => key_column_usage(&db, &src.tables()?)?,
        "constraint_column_usage" => constraint_column_usage(&db, &src.tables()?)?,
        "character_sets" => batch(
            &[
                ("character_set_catalog", TEXT),
                ("character_set_schema", TEXT),
                ("character_set_name", TEXT),
                ("character_repertoire", TEXT),
                ("form_of_use", TEXT),
                ("default_collate_catalog", TEXT),
                ("default_collate_schema", TEXT),
                ("default_collate_name", TEXT),
            ],
            vec![vec![
                null(),
                null(),
                text("UTF8"),
                text("UCS"),
                text("UTF8"),
                text(db),
                text("pg_catalog"),
                text("C"),
            ]],
        )?,
        "referential_constraints" => referential_constraints(&db, &src.tables()?)?,
        "views" => batch(
            &[
                ("table_catalog", TEXT),
                ("table_schema", TEXT),
                ("table_name", TEXT),
                ("view_definition", TEXT),
                ("check_option", TEXT),
                ("is_updatable", TEXT),
                ("is_insertable_into", TEXT),
                ("is_trigger_updatable", TEXT),
                ("is_trigger_deletable", TEXT),
                ("is_trigger_insertable_into", TEXT),
            ],
            src.tables()?
                .iter()
                .filter_map(|t| {
                    let v = t.view.as_ref()?;
                    Some(vec![
                        text(&db),
                        text(t.schema.clone()),
                        text(t.relname.clone()),
                        text(super::view_definition(v, src.names().path())),
                        text("NONE"),
                        yes(false),
                        yes(false),
                        yes(false),
                        yes(false),
                        yes(false),
                    ])
                })
                .collect(),
        )?,
        "sequences" => batch(
            &[
                ("sequence_catalog", TEXT),
                ("sequence_schema", TEXT),
                ("sequence_name", TEXT),
                ("data_type", TEXT),
                ("numeric_precision", INT4),
                ("numeric_precision_radix", INT4),
                ("numeric_scale", INT4),
                ("start_value", TEXT),
                ("minimum_value", TEXT),
                ("maximum_value", TEXT),
                ("increment", TEXT),
                ("cycle_option", TEXT),
            ],
            src.sequences()?
                .iter()
                .map(|s| {
                    let d = &s.def;
                    let bits = match d.data_type {
                        Col::SmallInt => 16,
                        Col::Integer => 32,
                        _ => 64,
                    };
                    vec![
                        text(db.clone()),
                        text(s.schema.clone()),
                        text(s.relname.clone()),
                        text(d.data_type.name()),
                        int4(bits),
                        int4(2),
                        int4(0),
                        text(d.start.to_string()),
                        text(d.min.to_string()),
                        text(d.max.to_string()),
                        text(d.increment.to_string()),
                        text(if d.cycle { "YES" } else { "NO" }),
                    ]
                })
                .collect(),
        )?,
        "routines" => batch(
            &[
                ("specific_catalog", TEXT),
                ("specific_schema", TEXT),
                ("specific_name", TEXT),
                ("routine_catalog", TEXT),
                ("routine_schema", TEXT),
                ("routine_name", TEXT),
                ("routine_type", TEXT),
                ("data_type", TEXT),
                ("type_udt_name", TEXT),
                ("routine_body", TEXT),
                ("routine_definition", TEXT),
                ("external_language", TEXT),
                ("is_deterministic", TEXT),
            ],
            vec![],
        )?,
        _ => return Ok(None),
    }))
}

fn yes(b: bool) -> ScalarValue {
    text(if b { "YES" } else { "NO" })
}

fn schemata(db: &str, user: &str, schemas: &[(String, i64)]) -> Result<RecordBatch> {
    let builtin = [
        ("pg_toast", "omendb"),
        ("pg_catalog", "omendb"),
        ("public", "pg_database_owner"),
        ("information_schema", "omendb"),
    ]
    .map(|(s, owner)| (s.to_string(), owner.to_string()));
    let own = schemas.iter().map(|(s, _)| (s.clone(), user.to_string()));
    let rows = builtin
        .into_iter()
        .chain(own)
        .map(|(s, owner)| {
            vec![
                text(db),
                text(s),
                text(owner),
                null(),
                null(),
                null(),
                null(),
            ]
        })
        .collect();
    batch(
        &[
            ("catalog_name", TEXT),
            ("schema_name", TEXT),
            ("schema_owner", TEXT),
            ("default_character_set_catalog", TEXT),
            ("default_character_set_schema", TEXT),
            ("default_character_set_name", TEXT),
            ("sql_path", TEXT),
        ],
        rows,
    )
}

fn tables(db: &str, tables: &[Table]) -> Result<RecordBatch> {
    let mut rows: Vec<Vec<ScalarValue>> = tables
        .iter()
        .map(|t| {
            let kind = if t.view.is_some() {
                "VIEW"
            } else {
                "BASE TABLE"
            };
            table_row(db, &t.schema, &t.relname, kind)
        })
        .collect();
    for (name, _, kind) in super::system_relations() {
        let kind = if kind == 'v' { "VIEW" } else { "BASE TABLE" };
        rows.push(table_row(db, "pg_catalog", name, kind));
    }
    for name in NAMES {
        rows.push(table_row(db, "information_schema", name, "VIEW"));
    }
    batch(
        &[
            ("table_catalog", TEXT),
            ("table_schema", TEXT),
            ("table_name", TEXT),
            ("table_type", TEXT),
            ("self_referencing_column_name", TEXT),
            ("reference_generation", TEXT),
            ("user_defined_type_catalog", TEXT),
            ("user_defined_type_schema", TEXT),
            ("user_defined_type_name", TEXT),
            ("is_insertable_into", TEXT),
            ("is_typed", TEXT),
            ("commit_action", TEXT),
        ],
        rows,
    )
}

fn table_row(db: &str, schema: &str, name: &str, kind: &str) -> Vec<ScalarValue> {
    vec![
        text(db),
        text(schema),
        text(name),
        text(kind),
        null(),
        null(),
        null(),
        null(),
        null(),
        yes(kind == "BASE TABLE"),
        yes(false),
        null(),
    ]
}

/// PostgreSQL's `data_type`, `udt_name`, and numeric precision / radix / scale and datetime precision.
type SqlType = (
    &'static str,
    &'static str,
    Option<i32>,
    Option<i32>,
    Option<i32>,
    Option<i32>,
);

fn sql_type(t: Col) -> SqlType {
    match t {
        Col::SmallInt => ("smallint", "int2", Some(16), Some(2), Some(0), None),
        Col::Integer => ("integer", "int4", Some(32), Some(2), Some(0), None),
        Col::BigInt => ("bigint", "int8", Some(64), Some(2), Some(0), None),
        Col::Real => ("real", "float4", Some(24), Some(2), None, None),
        Col::Double => ("double precision", "float8", Some(53), Some(2), None, None),
        Col::Boolean => ("boolean", "bool", None, None, None, None),
        Col::Text => ("text", "text", None, None, None, None),
        Col::Varchar { .. } => ("character varying", "varchar", None, None, None, None),
        Col::Char { .. } => ("character", "bpchar", None, None, None, None),
        Col::Bytea => ("bytea", "bytea", None, None, None, None),
        Col::Uuid => ("uuid", "uuid", None, None, None, None),
        Col::Json => ("json", "json", None, None, None, None),
        Col::Jsonb => ("jsonb", "jsonb", None, None, None, None),
        // `columns` names the type (udt_schema, udt_name).
        Col::Enum { .. } => ("USER-DEFINED", "", None, None, None, None),
        Col::Array(_) => ("ARRAY", "", None, None, None, None),
        Col::Interval => ("interval", "interval", None, None, None, Some(6)),
        Col::Timestamp => (
            "timestamp without time zone",
            "timestamp",
            None,
            None,
            None,
            Some(6),
        ),
        Col::TimestampTz => (
            "timestamp with time zone",
            "timestamptz",
            None,
            None,
            None,
            Some(6),
        ),
        Col::Date => ("date", "date", None, None, None, Some(0)),
        Col::Time => ("time without time zone", "time", None, None, None, Some(6)),
        Col::Numeric { precision, scale } => (
            "numeric",
            "numeric",
            Some(i32::from(precision)),
            Some(10),
            Some(i32::from(scale)),
            None,
        ),
    }
}

fn columns(
    db: &str,
    tables: &[Table],
    enums: &[super::EnumType],
    sequences: &[super::Sequence],
    path: &[String],
) -> Result<RecordBatch> {
    let names: &[(&str, DataType)] = &[
        ("table_catalog", TEXT),
        ("table_schema", TEXT),
        ("table_name", TEXT),
        ("column_name", TEXT),
        ("ordinal_position", INT4),
        ("column_default", TEXT),
        ("is_nullable", TEXT),
        ("data_type", TEXT),
        ("character_maximum_length", INT4),
        ("character_octet_length", INT4),
        ("numeric_precision", INT4),
        ("numeric_precision_radix", INT4),
        ("numeric_scale", INT4),
        ("datetime_precision", INT4),
        ("interval_type", TEXT),
        ("interval_precision", INT4),
        ("character_set_catalog", TEXT),
        ("character_set_schema", TEXT),
        ("character_set_name", TEXT),
        ("collation_catalog", TEXT),
        ("collation_schema", TEXT),
        ("collation_name", TEXT),
        ("domain_catalog", TEXT),
        ("domain_schema", TEXT),
        ("domain_name", TEXT),
        ("udt_catalog", TEXT),
        ("udt_schema", TEXT),
        ("udt_name", TEXT),
        ("scope_catalog", TEXT),
        ("scope_schema", TEXT),
        ("scope_name", TEXT),
        ("maximum_cardinality", INT4),
        ("dtd_identifier", TEXT),
        ("is_self_referencing", TEXT),
        ("is_identity", TEXT),
        ("identity_generation", TEXT),
        ("identity_start", TEXT),
        ("identity_increment", TEXT),
        ("identity_maximum", TEXT),
        ("identity_minimum", TEXT),
        ("identity_cycle", TEXT),
        ("is_generated", TEXT),
        ("generation_expression", TEXT),
        ("is_updatable", TEXT),
    ];
    let opt = |v: Option<i32>| ScalarValue::Int32(v);
    let mut rows = Vec::new();
    for t in tables {
        for (i, c) in t.def.columns.iter().enumerate() {
            let (data_type, udt, precision, radix, scale, dt_precision) = sql_type(c.data_type);
            let (udt_schema, udt) = match c.data_type {
                Col::Enum { type_id } => enums
                    .iter()
                    .find(|e| e.def.id == type_id)
                    .map(|e| (e.schema.clone(), e.typname.clone()))
                    .unwrap_or_default(),
                Col::Array(_) => {
                    let oid = super::oids::type_info(c.data_type).oid;
                    let name = super::oids::TYPES
                        .get(&oid)
                        .map(|(n, _)| n.clone())
                        .unwrap_or_default();
                    ("pg_catalog".to_string(), name)
                }
                _ => ("pg_catalog".to_string(), udt.to_string()),
            };
            let not_null = t.def.primary_key == Some(i) || !c.nullable;
            // PostgreSQL's: the most bytes a value can have (4 per character in UTF-8), 1 GB unbounded.
            let max_chars = c.data_type.max_chars().map(|n| n as i32);
            let octets = match c.data_type {
                Col::Text | Col::Varchar { max: None } => Some(1_073_741_824),
                Col::Varchar { .. } | Col::Char { .. } => max_chars.map(|n| n.saturating_mul(4)),
                _ => None,
            };
            // An identity column's sequence: PostgreSQL shows its parameters, not a DEFAULT.
            let identity = sequences
                .iter()
                .map(|s| &s.def)
                .find(|s| s.identity.is_some() && s.owned_by == Some((t.id, c.name.clone())));
            let shown = |v: i64| text(v.to_string());
            let identity_columns = match identity {
                Some(s) => vec![
                    yes(true),
                    text(if s.identity == Some(true) {
                        "ALWAYS"
                    } else {
                        "BY DEFAULT"
                    }),
                    shown(s.start),
                    shown(s.increment),
                    shown(s.max),
                    shown(s.min),
                    yes(s.cycle),
                ],
                None => vec![
                    yes(false),
                    null(),
                    null(),
                    null(),
                    null(),
                    null(),
                    yes(false),
                ],
            };
            let mut row = vec![
                text(db),
                text(t.schema.clone()),
                text(t.relname.clone()),
                text(c.name.clone()),
                int4(i as i32 + 1),
                opt_text(
                    c.default
                        .as_ref()
                        .filter(|_| identity.is_none())
                        .map(|d| super::names::deparse_default(d, c.data_type, enums, path)),
                ),
                yes(!not_null),
                text(data_type),
                opt(max_chars),
                opt(octets),
                opt(precision),
                opt(radix),
                opt(scale),
                opt(dt_precision),
                null(),
                null(),
                null(),
                null(),
                null(),
                null(),
                null(),
                null(),
                null(),
                null(),
                null(),
                text(db),
                text(udt_schema),
                text(udt),
                null(),
                null(),
                null(),
                null(),
                text((i + 1).to_string()),
                yes(false),
            ];
            row.extend(identity_columns);
            row.extend([text("NEVER"), null(), yes(true)]);
            rows.push(row);
        }
    }
    batch(names, rows)
}

/// The primary key, and the NOT NULL checks PostgreSQL 15 lists here (named `nsp_rel_attnum_not_null`).
fn table_constraints(db: &str, tables: &[Table]) -> Result<RecordBatch> {
    let mut rows = Vec::new();
    for t in tables {
        let row = |name: String, kind: &str| {
            vec![
                text(db),
                text(t.schema.clone()),
                text(name),
                text(db),
                text(t.schema.clone()),
                text(t.relname.clone()),
                text(kind),
                yes(false),
                yes(false),
                yes(true),
                if kind == "PRIMARY KEY" {
                    yes(true)
                } else {
                    null()
                },
            ]
        };
        for c in &t.checks {
            rows.push(row(c.name.clone(), "CHECK"));
        }
        for f in t.foreign_keys(tables) {
            let mut r = row(f.fk.name.clone(), "FOREIGN KEY");
            r[7] = yes(f.fk.deferrable);
            r[8] = yes(f.fk.initially_deferred);
            rows.push(r);
        }
        for ix in t.indexes() {
            if let Some((_, name)) = ix.constraint {
                rows.push(row(name, if ix.primary { "PRIMARY KEY" } else { "UNIQUE" }));
            }
        }
        for (i, c) in t.def.columns.iter().enumerate() {
            if t.def.primary_key == Some(i) || !c.nullable {
                rows.push(row(
                    format!("{}_{}_{}_not_null", t.nsp, t.oid, i + 1),
                    "CHECK",
                ));
            }
        }
    }
    batch(
        &[
            ("constraint_catalog", TEXT),
            ("constraint_schema", TEXT),
            ("constraint_name", TEXT),
            ("table_catalog", TEXT),
            ("table_schema", TEXT),
            ("table_name", TEXT),
            ("constraint_type", TEXT),
            ("is_deferrable", TEXT),
            ("initially_deferred", TEXT),
            ("enforced", TEXT),
            ("nulls_distinct", TEXT),
        ],
        rows,
    )
}

fn key_column_usage(db: &str, tables: &[Table]) -> Result<RecordBatch> {
    let mut rows = vec![];
    for t in tables {
        for f in t.foreign_keys(tables) {
            for (n, &c) in f.fk.columns.iter().enumerate() {
                // Where the referenced column sits in the referenced constraint.
                let position = f
                    .index
                    .as_ref()
                    .and_then(|i| i.columns.iter().position(|&x| x == f.fk.ref_columns[n]))
                    .map_or(null(), |p| int4(p as i32 + 1));
                rows.push(vec![
                    text(db),
                    text(t.schema.clone()),
                    text(f.fk.name.clone()),
                    text(db),
                    text(t.schema.clone()),
                    text(t.relname.clone()),
                    text(t.def.columns[c].name.clone()),
                    int4(n as i32 + 1),
                    position,
                ]);
            }
        }
        for ix in t.indexes() {
            let Some((_, name)) = &ix.constraint else {
                continue;
            };
            for (n, &c) in ix.columns.iter().enumerate() {
                rows.push(vec![
                    text(db),
                    text(t.schema.clone()),
                    text(name.clone()),
                    text(db),
                    text(t.schema.clone()),
                    text(t.relname.clone()),
                    text(t.def.columns[c].name.clone()),
                    int4(n as i32 + 1),
                    null(),
                ]);
            }
        }
    }
    batch(
        &[
            ("constraint_catalog", TEXT),
            ("constraint_schema", TEXT),
            ("constraint_name", TEXT),
            ("table_catalog", TEXT),
            ("table_schema", TEXT),
            ("table_name", TEXT),
            ("column_name", TEXT),
            ("ordinal_position", INT4),
            ("position_in_unique_constraint", INT4),
        ],
        rows,
    )
}

/// CHECK constraints and the NOT NULL checks PostgreSQL 15 lists with them.
fn check_constraints(db: &str, tables: &[Table]) -> Result<RecordBatch> {
    let mut rows = vec![];
    for t in tables {
        for c in &t.checks {
            rows.push(vec![
                text(db),
                text(t.schema.clone()),
                text(c.name.clone()),
                text(format!("({})", c.sql)),
            ]);
        }
        for (i, c) in t.def.columns.iter().enumerate() {
            if t.def.primary_key == Some(i) || !c.nullable {
                rows.push(vec![
                    text(db),
                    text(t.schema.clone()),
                    text(format!("{}_{}_{}_not_null", t.nsp, t.oid, i + 1)),
                    text(format!("{} IS NOT NULL", c.name)),
                ]);
            }
        }
    }
    batch(
        &[
            ("constraint_catalog", TEXT),
            ("constraint_schema", TEXT),
            ("constraint_name", TEXT),
            ("check_clause", TEXT),
        ],
        rows,
    )
}

/// One row per FOREIGN KEY: the unique constraint it references and its rules.
fn referential_constraints(db: &str, tables: &[Table]) -> Result<RecordBatch> {
    let mut rows = vec![];
    for t in tables {
        for f in t.foreign_keys(tables) {
            let unique = f.index.as_ref().and_then(|i| i.constraint.clone());
            rows.push(vec![
                text(db),
                text(t.schema.clone()),
                text(f.fk.name.clone()),
                text(db),
                text(f.parent.schema.clone()),
                unique.map_or(null(), |(_, n)| text(n)),
                text("NONE"),
                text(super::ForeignKeyInfo::rule(f.fk.on_update)),
                text(super::ForeignKeyInfo::rule(f.fk.on_delete)),
            ]);
        }
    }
    batch(
        &[
            ("constraint_catalog", TEXT),
            ("constraint_schema", TEXT),
            ("constraint_name", TEXT),
            ("unique_constraint_catalog", TEXT),
            ("unique_constraint_schema", TEXT),
            ("unique_constraint_name", TEXT),
            ("match_option", TEXT),
            ("update_rule", TEXT),
            ("delete_rule", TEXT),
        ],
        rows,
    )
}

fn constraint_column_usage(db: &str, tables: &[Table]) -> Result<RecordBatch> {
    let mut rows = vec![];
    for t in tables {
        // A foreign key uses the referenced table's columns.
        for f in t.foreign_keys(tables) {
            for &c in &f.fk.ref_columns {
                rows.push(vec![
                    text(db),
                    text(f.parent.schema.clone()),
                    text(f.parent.relname.clone()),
                    text(f.parent.def.columns[c].name.clone()),
                    text(db),
                    text(t.schema.clone()),
                    text(f.fk.name.clone()),
                ]);
            }
        }
        for ix in t.indexes() {
            let Some((_, name)) = &ix.constraint else {
                continue;
            };
            for &c in &ix.columns {
                rows.push(vec![
                    text(db),
                    text(t.schema.clone()),
                    text(t.relname.clone()),
                    text(t.def.columns[c].name.clone()),
                    text(db),
                    text(t.schema.clone()),
                    text(name.clone()),
                ]);
            }
        }
    }
    batch(
        &[
            ("table_catalog", TEXT),
            ("table_schema", TEXT),
            ("table_name", TEXT),
            ("column_name", TEXT),
            ("constraint_catalog", TEXT),
            ("constraint_schema", TEXT),
            ("constraint_name", TEXT),
        ],
        rows,
    )
}
