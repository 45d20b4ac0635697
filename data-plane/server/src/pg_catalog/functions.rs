//! The functions tools call on connect and during introspection (`current_setting`, `format_type`,
//! `pg_get_indexdef`, `to_regclass`, `has_table_privilege`, ...), answered from the same catalog the
//! relations show, plus the targets of the `::regclass` / `::regtype` casts (`syntax.rs`).

use std::sync::Arc;

use arrow_schema::{DataType, Field};
use datafusion::error::DataFusionError;
use datafusion::logical_expr::{Signature, Volatility};
use datafusion::prelude::SessionContext;
use datafusion::scalar::ScalarValue;

use super::Source;
use super::formats::{like_escape, quote_literal, size_pretty};
use super::names::{index_def, quote_ident, regclass, relation_name};
use super::oids;
use super::udf::*;

/// Registers the catalog functions of one session.
pub fn register(ctx: &SessionContext, src: &Source) {
    super::pg_typeof::register(ctx);
    let add = |name, signature, ret, body| register_row_fn(ctx, name, signature, ret, body);

    let s = src.clone();
    add(
        "current_setting",
        exact(&[&[TEXT], &[TEXT, BOOL]], Volatility::Stable),
        TEXT,
        Arc::new(move |a| {
            let Some(name) = str_arg(&a[0]) else {
                return Ok(ScalarValue::Null);
            };
            let missing_ok = a.get(1).and_then(bool_arg).unwrap_or(false);
            match s.setting(&name) {
                Ok(v) => Ok(ScalarValue::Utf8(Some(v))),
                Err(_) if missing_ok => Ok(ScalarValue::Null),
                Err(e) => Err(DataFusionError::External(Box::new(e))),
            }
        }),
    );
    let s = src.settings.clone();
    add(
        "set_config",
        exact(&[&[TEXT, TEXT, BOOL]], Volatility::Volatile),
        TEXT,
        Arc::new(move |a| {
            let (Some(name), value) = (str_arg(&a[0]), str_arg(&a[1])) else {
                return Err(sql_error(
                    "22004",
                    "SET requires parameter name".to_string(),
                ));
            };
            let local = bool_arg(&a[2]).unwrap_or(false);
            let value = value.unwrap_or_default();
            s.set_scoped(&name, &value, local)
                .map_err(|e| DataFusionError::External(Box::new(e)))?;
            Ok(ScalarValue::Utf8(s.get(&name).ok()))
        }),
    );
    let c = src.clone();
    add(
        "format_type",
        exact(&[&[OID, OID]], Volatility::Stable),
        TEXT,
        Arc::new(move |a| {
            let Some(o) = int_arg(&a[0]) else {
                return Ok(ScalarValue::Null);
            };
            let typmod = int_arg(&a[1]).map(|m| m as i32);
            let name = oids::format_type(o, typmod)
                .or_else(|| {
                    let tables = c.tables().ok()?;
                    tables
                        .iter()
                        .find(|t| oids::row_type(t.id) == o)
                        .map(|t| quote_ident(&t.relname))
                })
                .or_else(|| {
                    c.enum_types().iter().find_map(|t| {
                        let name = t.shown.clone();
                        (t.oid == o)
                            .then(|| name.clone())
                            .or_else(|| (t.oid + 1 == o).then(|| format!("{name}[]")))
                    })
                });
            Ok(ScalarValue::Utf8(Some(
                name.unwrap_or_else(|| "???".into()),
            )))
        }),
    );
    add(
        "pg_get_expr",
        exact(&[&[TEXT, OID], &[TEXT, OID, BOOL]], Volatility::Stable),
        TEXT,
        Arc::new(|a| Ok(ScalarValue::Utf8(str_arg(&a[0])))),
    );
    let c = src.clone();
    add(
        "pg_get_indexdef",
        exact(&[&[OID], &[OID, OID, BOOL]], Volatility::Stable),
        TEXT,
        Arc::new(move |a| {
            let Some(o) = int_arg(&a[0]) else {
                return Ok(ScalarValue::Null);
            };
            let column = a.get(1).and_then(int_arg).unwrap_or(0);
            let tables = c.tables()?;
            let Some((t, ix)) = tables
                .iter()
                .find_map(|t| t.indexes().into_iter().find(|i| i.oid == o).map(|i| (t, i)))
            else {
                return Ok(ScalarValue::Null);
            };
            Ok(ScalarValue::Utf8(Some(match column {
                0 => index_def(t, &ix),
                n => ix
                    .columns
                    .get(n as usize - 1)
                    .map(|&c| quote_ident(&t.def.columns[c].name))
                    .unwrap_or_default(),
            })))
        }),
    );
    let c = src.clone();
    add(
        "pg_get_constraintdef",
        exact(&[&[OID], &[OID, BOOL]], Volatility::Stable),
        TEXT,
        Arc::new(move |a| {
            let Some(o) = int_arg(&a[0]) else {
                return Ok(ScalarValue::Null);
            };
            let tables = c.tables()?;
            if let Some(c) = tables
                .iter()
                .flat_map(|t| t.checks.iter())
                .find(|c| oids::table(c.id) == o)
            {
                return Ok(ScalarValue::Utf8(Some(super::check_definition(c))));
            }
            if let Some((t, f)) = tables.iter().find_map(|t| {
                t.foreign_keys(&tables)
                    .into_iter()
                    .find(|f| f.oid == o)
                    .map(|f| (t, f))
            }) {
                let qualified = !super::names::visible(&c, f.parent.oid)?;
                return Ok(ScalarValue::Utf8(Some(f.definition(t, qualified))));
            }
            Ok(ScalarValue::Utf8(tables.iter().find_map(|t| {
                let ix = t
                    .indexes()
                    .into_iter()
                    .find(|i| i.constraint.as_ref().is_some_and(|(c, _)| *c == o))?;
                let columns: Vec<String> = ix
                    .columns
                    .iter()
                    .map(|&c| quote_ident(&t.def.columns[c].name))
                    .collect();
                Some(format!(
                    "{} ({})",
                    if ix.primary { "PRIMARY KEY" } else { "UNIQUE" },
                    columns.join(", ")
                ))
            })))
        }),
    );
    // pg_rewrite holds only views' `_RETURN` rules, which are their views (`pg_get_viewdef`), not rules
    // of their own.
    add(
        "pg_get_ruledef",
        exact(&[&[OID], &[OID, BOOL]], Volatility::Stable),
        TEXT,
        Arc::new(|_| Ok(ScalarValue::Utf8(None))),
    );
    let v = src.clone();
    add(
        "pg_get_viewdef",
        exact(
            &[&[OID], &[OID, BOOL], &[TEXT], &[TEXT, BOOL]],
            Volatility::Stable,
        ),
        TEXT,
        Arc::new(move |a| {
            let tables = v.tables()?;
            // By OID, or by (possibly qualified) name.
            let view = match &a[0] {
                ScalarValue::Utf8(Some(name)) => {
                    let name = name.trim_matches('"');
                    tables.iter().find(|t| {
                        t.relname == name || format!("{}.{}", t.schema, t.relname) == name
                    })
                }
                other => int_arg(other).and_then(|o| tables.iter().find(|t| t.oid == o)),
            };
            let names = v.names();
            Ok(ScalarValue::Utf8(
                view.and_then(|t| t.view.as_deref())
                    .map(|d| super::view_definition(d, names.path())),
            ))
        }),
    );
    // No table is partitioned: a relation's only ancestor is itself (psql's `\d` asks for foreign keys
    // referencing any of them).
    let s = src.clone();
    add(
        "pg_partition_ancestors",
        exact(&[&[OID], &[TEXT]], Volatility::Stable),
        OID,
        Arc::new(move |a| {
            Ok(ScalarValue::Int64(match &a[0] {
                ScalarValue::Utf8(Some(t)) => match t.parse::<i64>() {
                    Ok(o) => Some(o),
                    Err(_) => super::names::regclass(&s, t)?,
                },
                v => int_arg(v),
            }))
        }),
    );
    let s = src.clone();
    add(
        "pg_table_is_visible",
        exact(&[&[OID]], Volatility::Stable),
        BOOL,
        Arc::new(move |a| {
            Ok(ScalarValue::Boolean(match int_arg(&a[0]) {
                Some(o) => Some(super::names::visible(&s, o)?),
                None => None,
            }))
        }),
    );
    for name in [
        "pg_type_is_visible",
        "pg_function_is_visible",
        "pg_collation_is_visible",
    ] {
        // Types, functions and collations live in pg_catalog, always on the search path (a table's row type
        // is taken as visible wherever its table is).
        add(
            name,
            exact(&[&[OID]], Volatility::Stable),
            BOOL,
            Arc::new(|a| Ok(ScalarValue::Boolean(int_arg(&a[0]).map(|_| true)))),
        );
    }
    for name in [
        "has_table_privilege",
        "has_schema_privilege",
        "has_database_privilege",
        "has_column_privilege",
        "has_any_column_privilege",
        "has_sequence_privilege",
        "has_function_privilege",
    ] {
        // The tenant's role owns its database and everything in it.
        add(
            name,
            Signature::variadic_any(Volatility::Stable),
            BOOL,
            Arc::new(|a| {
                Ok(ScalarValue::Boolean(
                    (!a.iter().any(ScalarValue::is_null)).then_some(true),
                ))
            }),
        );
    }
    // obj_description(oid [, catalog]) and col_description(table oid, attnum): COMMENT ON's texts.
    let s = src.clone();
    add(
        "obj_description",
        exact(&[&[OID], &[OID, TEXT]], Volatility::Stable),
        TEXT,
        Arc::new(move |a| {
            let Some(o) = int_arg(&a[0]) else {
                return Ok(ScalarValue::Utf8(None));
            };
            let class = match a.get(1).map(str_arg) {
                None => None,
                Some(Some(c)) => match c.trim_start_matches("pg_catalog.") {
                    "pg_class" => Some(oids::PG_CLASS_CLASS),
                    "pg_namespace" => Some(oids::PG_NAMESPACE_CLASS),
                    "pg_type" => Some(oids::PG_TYPE_CLASS),
                    _ => return Ok(ScalarValue::Utf8(None)),
                },
                Some(None) => return Ok(ScalarValue::Utf8(None)),
            };
            Ok(ScalarValue::Utf8(s.descriptions().into_iter().find_map(
                |(obj, c, sub, d)| {
                    (obj == o && sub == 0 && class.is_none_or(|k| k == c)).then_some(d)
                },
            )))
        }),
    );
    let s = src.clone();
    add(
        "col_description",
        exact(&[&[OID, OID]], Volatility::Stable),
        TEXT,
        Arc::new(move |a| {
            let (Some(o), Some(n)) = (int_arg(&a[0]), int_arg(&a[1])) else {
                return Ok(ScalarValue::Utf8(None));
            };
            Ok(ScalarValue::Utf8(s.descriptions().into_iter().find_map(
                |(obj, c, sub, d)| {
                    (obj == o && c == oids::PG_CLASS_CLASS && i64::from(sub) == n).then_some(d)
                },
            )))
        }),
    );
    // Shared objects (databases, roles) take no comments here.
    add(
        "shobj_description",
        exact(&[&[OID, TEXT]], Volatility::Stable),
        TEXT,
        Arc::new(|_| Ok(ScalarValue::Utf8(None))),
    );
    add(
        "pg_encoding_to_char",
        exact(&[&[OID]], Volatility::Stable),
        TEXT,
        Arc::new(|a| {
            Ok(ScalarValue::Utf8(
                int_arg(&a[0]).map(|e| if e == 6 { "UTF8" } else { "" }.to_string()),
            ))
        }),
    );
    let started = src.engine.started_us;
    add(
        "pg_postmaster_start_time",
        exact(&[&[]], Volatility::Stable),
        DataType::Timestamp(arrow_schema::TimeUnit::Microsecond, Some("UTC".into())),
        Arc::new(move |_| {
            Ok(ScalarValue::TimestampMicrosecond(
                Some(started),
                Some("UTC".into()),
            ))
        }),
    );
    add(
        "pg_is_in_recovery",
        exact(&[&[]], Volatility::Stable),
        BOOL,
        Arc::new(|_| Ok(ScalarValue::Boolean(Some(false)))),
    );
    let c = src.clone();
    add(
        "to_regclass",
        exact(&[&[TEXT]], Volatility::Stable),
        OID,
        Arc::new(move |a| {
            Ok(ScalarValue::Int64(match str_arg(&a[0]) {
                Some(n) => regclass(&c, &n)?,
                None => None,
            }))
        }),
    );
    let c = src.clone();
    add(
        "omendb_regclass",
        exact(&[&[TEXT], &[OID]], Volatility::Stable),
        OID,
        reg_cast(move |n| regclass(&c, n), "42P01", "relation"),
    );
    let c = src.clone();
    add(
        "omendb_regclass_name",
        exact(&[&[OID]], Volatility::Stable),
        TEXT,
        Arc::new(move |a| {
            let Some(o) = int_arg(&a[0]) else {
                return Ok(ScalarValue::Null);
            };
            Ok(ScalarValue::Utf8(Some(
                relation_name(&c, o)?.unwrap_or_else(|| o.to_string()),
            )))
        }),
    );
    let c = src.clone();
    add(
        "omendb_regtype",
        exact(&[&[TEXT], &[OID]], Volatility::Stable),
        OID,
        reg_cast(
            move |n| Ok(oids::type_by_name(n).or_else(|| enum_oid(&c, n))),
            "42704",
            "type",
        ),
    );
    add(
        "omendb_oid",
        Signature::any(1, Volatility::Stable),
        OID,
        // `x::oid` (and ::regproc, ::regnamespace, ...): OIDs are bigint here; a function's name (how the
        // regproc columns of the built-in catalogs hold it) is looked up in pg_proc.
        Arc::new(|a| {
            if let Some(o) = int_arg(&a[0]) {
                return Ok(ScalarValue::Int64(Some(o)));
            }
            let Some(s) = str_arg(&a[0]) else {
                return Ok(ScalarValue::Null);
            };
            if let Ok(o) = s.trim().parse::<i64>() {
                return Ok(ScalarValue::Int64(Some(o)));
            }
            if s == "-" {
                return Ok(ScalarValue::Int64(Some(0)));
            }
            match oids::function_by_name(&s) {
                Some(o) => Ok(ScalarValue::Int64(Some(o))),
                None => Err(sql_error(
                    "22P02",
                    format!("invalid input syntax for type oid: \"{s}\""),
                )),
            }
        }),
    );
    let c = src.clone();
    add(
        "to_regtype",
        exact(&[&[TEXT]], Volatility::Stable),
        OID,
        Arc::new(move |a| {
            Ok(ScalarValue::Int64(str_arg(&a[0]).and_then(|n| {
                oids::type_by_name(&n).or_else(|| enum_oid(&c, &n))
            })))
        }),
    );
    let c = src.clone();
    add(
        "omendb_regtype_name",
        exact(&[&[OID]], Volatility::Stable),
        TEXT,
        Arc::new(move |a| {
            Ok(ScalarValue::Utf8(int_arg(&a[0]).map(|o| {
                oids::format_type(o, None)
                    .or_else(|| {
                        c.enum_types()
                            .iter()
                            .find(|t| t.oid == o)
                            .map(|t| t.shown.clone())
                    })
                    .unwrap_or_else(|| o.to_string())
            })))
        }),
    );
    // No triggers exist here (pg_trigger is empty): PostgreSQL answers NULL for an OID that is not one.
    add(
        "pg_get_triggerdef",
        exact(&[&[OID], &[OID, BOOL]], Volatility::Stable),
        TEXT,
        Arc::new(|_| Ok(ScalarValue::Utf8(None))),
    );
    add(
        "quote_literal",
        exact(&[&[TEXT]], Volatility::Immutable),
        TEXT,
        Arc::new(|a| Ok(ScalarValue::Utf8(str_arg(&a[0]).map(|s| quote_literal(&s))))),
    );
    add(
        "omendb_regnamespace",
        exact(&[&[TEXT], &[OID]], Volatility::Stable),
        OID,
        {
            let s = src.clone();
            // The text is an identifier: `"My S"` as written, `Public` folded to `public`.
            reg_cast(
                move |n| match super::names::split_name(n).as_slice() {
                    [one] => Ok(s.namespace(one)),
                    _ => Ok(None),
                },
                "3F000",
                "schema",
            )
        },
    );
    let s = src.clone();
    add(
        "omendb_regnamespace_name",
        exact(&[&[OID]], Volatility::Stable),
        TEXT,
        Arc::new(move |a| {
            Ok(ScalarValue::Utf8(int_arg(&a[0]).map(|o| {
                ["pg_catalog", "public", "information_schema", "pg_toast"]
                    .into_iter()
                    .map(|n| (n.to_string(), oids::namespace(n)))
                    .find(|(_, oid)| *oid == Some(o))
                    .map(|(n, _)| n)
                    .or_else(|| {
                        s.schemas()
                            .into_iter()
                            .find(|(_, oid)| *oid == o)
                            .map(|(n, _)| quote_ident(&n))
                    })
                    .unwrap_or_else(|| o.to_string())
            })))
        }),
    );
    add(
        "quote_ident",
        exact(&[&[TEXT]], Volatility::Immutable),
        TEXT,
        Arc::new(|a| Ok(ScalarValue::Utf8(str_arg(&a[0]).map(|s| quote_ident(&s))))),
    );
    let list = DataType::List(Arc::new(Field::new_list_field(TEXT, true)));
    let s = src.clone();
    add(
        "current_schemas",
        exact(&[&[BOOL]], Volatility::Stable),
        list,
        Arc::new(move |a| {
            let Some(implicit) = bool_arg(&a[0]) else {
                return Ok(ScalarValue::Null);
            };
            let mut names: Vec<ScalarValue> = vec![];
            if implicit {
                names.push(ScalarValue::Utf8(Some("pg_catalog".into())));
            }
            names.extend(
                s.names()
                    .path()
                    .iter()
                    .map(|n| ScalarValue::Utf8(Some(n.clone()))),
            );
            Ok(ScalarValue::List(ScalarValue::new_list_nullable(
                &names, &TEXT,
            )))
        }),
    );
    let c = src.clone();
    add(
        "pg_get_userbyid",
        exact(&[&[OID]], Volatility::Stable),
        TEXT,
        Arc::new(move |a| {
            Ok(ScalarValue::Utf8(
                int_arg(&a[0]).map(|o| super::server::role_name(o, &c.user())),
            ))
        }),
    );
    let c = src.clone();
    add(
        "pg_get_serial_sequence",
        exact(&[&[TEXT, TEXT]], Volatility::Stable),
        TEXT,
        // The sequence a SERIAL or identity column owns, schema-qualified; NULL for any other column.
        Arc::new(move |a| {
            let (Some(table), Some(column)) = (str_arg(&a[0]), str_arg(&a[1])) else {
                return Ok(ScalarValue::Null);
            };
            let Some(rel) = regclass(&c, &table)? else {
                return Err(sql_error(
                    "42P01",
                    format!("relation \"{table}\" does not exist"),
                ));
            };
            let column = column.trim_matches('"').to_string();
            Ok(ScalarValue::Utf8(c.sequences()?.into_iter().find_map(
                |s| {
                    let (t, col) = s.def.owned_by.as_ref()?;
                    (oids::table(*t) == rel && *col == column)
                        .then(|| format!("{}.{}", s.schema, s.relname))
                },
            )))
        }),
    );
    add(
        "omendb_like_escape",
        exact(&[&[TEXT, TEXT]], Volatility::Immutable),
        TEXT,
        Arc::new(|a| {
            let (Some(p), Some(esc)) = (str_arg(&a[0]), str_arg(&a[1])) else {
                return Ok(ScalarValue::Null);
            };
            Ok(ScalarValue::Utf8(Some(like_escape(&p, esc.chars().next()))))
        }),
    );
    add(
        "pg_relation_is_publishable",
        exact(&[&[OID], &[TEXT]], Volatility::Stable),
        BOOL,
        // No publications (logical replication) here.
        Arc::new(|a| Ok(ScalarValue::Boolean((!a[0].is_null()).then_some(false)))),
    );
    add(
        "pg_get_statisticsobjdef_columns",
        exact(&[&[OID]], Volatility::Stable),
        TEXT,
        Arc::new(|_| Ok(ScalarValue::Null)),
    );
    for (name, result) in [
        ("pg_get_function_result", true),
        ("pg_get_function_arguments", false),
    ] {
        add(
            name,
            exact(&[&[OID]], Volatility::Stable),
            TEXT,
            Arc::new(move |a| {
                let Some(o) = int_arg(&a[0]) else {
                    return Ok(ScalarValue::Null);
                };
                Ok(ScalarValue::Utf8(oids::function_signature(o).map(
                    |(ret, args)| {
                        if result { ret } else { args }
                    },
                )))
            }),
        );
    }
    // Sizes are the table's chunk files (and learned models): rows only in the commit log so far count 0.
    for (name, part) in [
        ("pg_relation_size", Size::Data),
        ("pg_table_size", Size::Data),
        ("pg_indexes_size", Size::Index),
        ("pg_total_relation_size", Size::Total),
    ] {
        let c = src.clone();
        add(
            name,
            exact(&[&[OID]], Volatility::Volatile),
            DataType::Int64,
            Arc::new(move |a| {
                let Some(o) = int_arg(&a[0]) else {
                    return Ok(ScalarValue::Null);
                };
                let tables = c.tables()?;
                let Some(t) = tables.iter().find(|t| t.oid == o) else {
                    return Ok(ScalarValue::Null);
                };
                Ok(ScalarValue::Int64(Some(size(&c, &t.def.name, part))))
            }),
        );
    }
    let c = src.clone();
    add(
        "pg_database_size",
        exact(&[&[TEXT], &[OID]], Volatility::Volatile),
        DataType::Int64,
        Arc::new(move |a| {
            if a[0].is_null() {
                return Ok(ScalarValue::Null);
            }
            let tables = c.tables()?;
            Ok(ScalarValue::Int64(Some(
                tables
                    .iter()
                    .map(|t| size(&c, &t.def.name, Size::Total))
                    .sum(),
            )))
        }),
    );
    for (name, upper) in [("array_upper", true), ("array_lower", false)] {
        add(
            name,
            Signature::any(2, Volatility::Immutable),
            DataType::Int32,
            Arc::new(move |a| {
                // One-dimensional arrays, subscripts from 1; NULL for an empty array or another dimension.
                let n = match &a[0] {
                    ScalarValue::List(l) if !arrow_array::Array::is_null(l.as_ref(), 0) => {
                        arrow_array::Array::len(l.value(0).as_ref())
                    }
                    _ => return Ok(ScalarValue::Null),
                };
                let dim = int_arg(&a[1]);
                Ok(ScalarValue::Int32(
                    (dim == Some(1) && n > 0).then_some(if upper { n as i32 } else { 1 }),
                ))
            }),
        );
    }
    let acl = DataType::List(Arc::new(Field::new_list_field(TEXT, true)));
    add(
        "acldefault",
        Signature::any(2, Volatility::Immutable),
        acl,
        // No privileges are granted or revoked here: every object has its owner's default, shown as NULL.
        Arc::new(|_| Ok(ScalarValue::Null)),
    );
    add(
        "pg_size_pretty",
        exact(&[&[DataType::Int64]], Volatility::Immutable),
        TEXT,
        Arc::new(|a| Ok(ScalarValue::Utf8(int_arg(&a[0]).map(size_pretty)))),
    );
}

#[derive(Clone, Copy)]
enum Size {
    Data,
    Index,
    Total,
}

fn size(src: &Source, table: &str, part: Size) -> i64 {
    let Ok(s) = src.db.stats(table) else { return 0 };
    let (data, index) = (s.file_bytes as i64, s.index_bytes as i64);
    match part {
        Size::Data => data,
        Size::Index => index,
        Size::Total => data + index,
    }
}

/// The body of a `::regclass`-style cast: an OID passes through, a name is looked up, and a name that names
/// nothing is PostgreSQL's error (`relation "x" does not exist`, with its SQLSTATE).
fn reg_cast(
    lookup: impl Fn(&str) -> datafusion::error::Result<Option<i64>> + Send + Sync + 'static,
    missing: &'static str,
    kind: &'static str,
) -> Arc<Body> {
    Arc::new(move |a| {
        if let Some(o) = int_arg(&a[0]) {
            return Ok(ScalarValue::Int64(Some(o)));
        }
        let Some(n) = str_arg(&a[0]) else {
            return Ok(ScalarValue::Null);
        };
        // A number is taken as the OID itself, as PostgreSQL's reg* input functions do.
        if let Ok(o) = n.trim().parse::<i64>() {
            return Ok(ScalarValue::Int64(Some(o)));
        }
        match lookup(&n)? {
            Some(o) => Ok(ScalarValue::Int64(Some(o))),
            None => Err(sql_error(missing, format!("{kind} \"{n}\" does not exist"))),
        }
    })
}

/// The OID of the enum type `name` (`t` through the search path, or `s.t`).
fn enum_oid(src: &Source, name: &str) -> Option<i64> {
    let parts = super::names::split_name(name);
    let types = src.enum_types();
    let candidates: Vec<String> = match parts.as_slice() {
        [t] => src
            .names()
            .path()
            .iter()
            .map(|s| crate::search_path::storage_name(s, t))
            .collect(),
        [s, t] => vec![crate::search_path::storage_name(s, t)],
        _ => return None,
    };
    candidates
        .iter()
        .find_map(|c| types.iter().find(|t| t.def.name == *c).map(|t| t.oid))
}
