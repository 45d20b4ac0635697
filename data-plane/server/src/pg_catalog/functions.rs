//! The functions tools call on connect and during introspection (`current_setting`, `format_type`,
//! `pg_get_indexdef`, `to_regclass`, `has_table_privilege`, ...), answered from the same catalog the
//! relations show, plus the targets of the `::regclass` / `::regtype` casts (`rewrite::catalog_casts`).

use std::hash::{Hash, Hasher};
use std::sync::Arc;

use arrow_schema::{DataType, Field};
use datafusion::error::{DataFusionError, Result};
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, TypeSignature,
    Volatility,
};
use datafusion::prelude::SessionContext;
use datafusion::scalar::ScalarValue;
use datafusion::sql::sqlparser::ast::{Expr, UnaryOperator, Value};
use datafusion::sql::sqlparser::dialect::PostgreSqlDialect;
use datafusion::sql::sqlparser::parser::Parser;
use omendb_storage::DataType as Col;

use super::oids;
use super::{Source, Table};

type Body = dyn Fn(&[ScalarValue]) -> Result<ScalarValue> + Send + Sync;

/// A function evaluated row by row over scalars: catalog functions see few rows, and this keeps each one a
/// plain closure.
struct RowFn {
    name: &'static str,
    signature: Signature,
    ret: DataType,
    body: Arc<Body>,
}

impl std::fmt::Debug for RowFn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name)
    }
}

impl PartialEq for RowFn {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name && Arc::ptr_eq(&self.body, &other.body)
    }
}

impl Eq for RowFn {}

impl Hash for RowFn {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.name.hash(state);
    }
}

impl ScalarUDFImpl for RowFn {
    fn name(&self) -> &str {
        self.name
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _: &[DataType]) -> Result<DataType> {
        Ok(self.ret.clone())
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let scalar = args
            .args
            .iter()
            .all(|a| matches!(a, ColumnarValue::Scalar(_)));
        let n = if scalar { 1 } else { args.number_rows };
        let arrays = ColumnarValue::values_to_arrays(&args.args)?;
        let typed_null = ScalarValue::try_from(&self.ret)?;
        let mut out = Vec::with_capacity(n);
        for i in 0..n {
            let row: Vec<ScalarValue> = arrays
                .iter()
                .map(|a| ScalarValue::try_from_array(a, if scalar { 0 } else { i }))
                .collect::<Result<_>>()?;
            let v = (self.body)(&row)?;
            out.push(if v.is_null() { typed_null.clone() } else { v });
        }
        if scalar {
            return Ok(ColumnarValue::Scalar(out.pop().unwrap_or(typed_null)));
        }
        if out.is_empty() {
            return Ok(ColumnarValue::Array(arrow_array::new_empty_array(
                &self.ret,
            )));
        }
        Ok(ColumnarValue::Array(ScalarValue::iter_to_array(out)?))
    }
}

fn exact(sigs: &[&[DataType]], volatility: Volatility) -> Signature {
    Signature::one_of(
        sigs.iter()
            .map(|s| {
                if s.is_empty() {
                    TypeSignature::Nullary
                } else {
                    TypeSignature::Exact(s.to_vec())
                }
            })
            .collect(),
        volatility,
    )
}

fn sql_error(code: &'static str, message: String) -> DataFusionError {
    DataFusionError::External(Box::new(crate::error::Error::sql(code, message)))
}

fn str_arg(v: &ScalarValue) -> Option<String> {
    match v {
        ScalarValue::Utf8(s) | ScalarValue::LargeUtf8(s) | ScalarValue::Utf8View(s) => s.clone(),
        _ => None,
    }
}

fn int_arg(v: &ScalarValue) -> Option<i64> {
    match v {
        ScalarValue::Int64(x) => *x,
        ScalarValue::Int32(x) => x.map(i64::from),
        ScalarValue::Int16(x) => x.map(i64::from),
        ScalarValue::UInt32(x) => x.map(i64::from),
        _ => None,
    }
}

fn bool_arg(v: &ScalarValue) -> Option<bool> {
    match v {
        ScalarValue::Boolean(b) => *b,
        _ => None,
    }
}

const TEXT: DataType = DataType::Utf8;
const OID: DataType = DataType::Int64;
const BOOL: DataType = DataType::Boolean;

/// Registers the catalog functions of one session.
pub fn register(ctx: &SessionContext, src: &Source) {
    let add = |name: &'static str, signature: Signature, ret: DataType, body: Arc<Body>| {
        ctx.register_udf(ScalarUDF::from(RowFn {
            name,
            signature,
            ret,
            body,
        }));
    };

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
            let name = oids::format_type(o, typmod).or_else(|| {
                let tables = c.tables().ok()?;
                tables
                    .iter()
                    .find(|t| oids::row_type(t.id) == o)
                    .map(|t| quote_ident(&t.def.name))
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
            let Some(t) = tables.iter().find(|t| oids::pk_index(t.id) == o) else {
                return Ok(ScalarValue::Null);
            };
            let pk = t.def.primary_key.expect("an index is a primary key's");
            Ok(ScalarValue::Utf8(Some(match column {
                0 => index_def(t),
                1 => quote_ident(&t.def.columns[pk].name),
                _ => String::new(),
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
            Ok(ScalarValue::Utf8(
                tables
                    .iter()
                    .find(|t| oids::pk_constraint(t.id) == o)
                    .and_then(|t| {
                        let pk = t.def.primary_key?;
                        Some(format!(
                            "PRIMARY KEY ({})",
                            quote_ident(&t.def.columns[pk].name)
                        ))
                    }),
            ))
        }),
    );
    add(
        "pg_get_viewdef",
        exact(
            &[&[OID], &[OID, BOOL], &[TEXT], &[TEXT, BOOL]],
            Volatility::Stable,
        ),
        TEXT,
        Arc::new(|_| Ok(ScalarValue::Null)),
    );
    for name in [
        "pg_table_is_visible",
        "pg_type_is_visible",
        "pg_function_is_visible",
        "pg_collation_is_visible",
    ] {
        // Every object lives in pg_catalog or public, both always on the search path.
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
    for name in ["obj_description", "col_description", "shobj_description"] {
        // COMMENT ON is not supported yet: no object has a description.
        add(
            name,
            Signature::variadic_any(Volatility::Stable),
            TEXT,
            Arc::new(|_| Ok(ScalarValue::Null)),
        );
    }
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
        Arc::new(move |a| {
            if let Some(o) = int_arg(&a[0]) {
                return Ok(ScalarValue::Int64(Some(o)));
            }
            let Some(n) = str_arg(&a[0]) else {
                return Ok(ScalarValue::Null);
            };
            match regclass(&c, &n)? {
                Some(o) => Ok(ScalarValue::Int64(Some(o))),
                None => Err(sql_error(
                    "42P01",
                    format!("relation \"{n}\" does not exist"),
                )),
            }
        }),
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
    add(
        "omendb_regtype",
        exact(&[&[TEXT], &[OID]], Volatility::Stable),
        OID,
        Arc::new(|a| {
            if let Some(o) = int_arg(&a[0]) {
                return Ok(ScalarValue::Int64(Some(o)));
            }
            let Some(n) = str_arg(&a[0]) else {
                return Ok(ScalarValue::Null);
            };
            match oids::type_by_name(&n) {
                Some(o) => Ok(ScalarValue::Int64(Some(o))),
                None => Err(sql_error("42704", format!("type \"{n}\" does not exist"))),
            }
        }),
    );
    add(
        "to_regtype",
        exact(&[&[TEXT]], Volatility::Stable),
        OID,
        Arc::new(|a| {
            Ok(ScalarValue::Int64(
                str_arg(&a[0]).and_then(|n| oids::type_by_name(&n)),
            ))
        }),
    );
    add(
        "omendb_regtype_name",
        exact(&[&[OID]], Volatility::Stable),
        TEXT,
        Arc::new(|a| {
            Ok(ScalarValue::Utf8(int_arg(&a[0]).map(|o| {
                oids::format_type(o, None).unwrap_or_else(|| o.to_string())
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
    let s = src.settings.clone();
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
                s.search_path()
                    .into_iter()
                    .filter(|n| n == "public" || n == "pg_catalog")
                    .filter(|n| !(implicit && n == "pg_catalog"))
                    .map(|n| ScalarValue::Utf8(Some(n))),
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
                int_arg(&a[0]).map(|o| super::relations::role_name(o, &c.user())),
            ))
        }),
    );
    add(
        "pg_get_serial_sequence",
        exact(&[&[TEXT, TEXT]], Volatility::Stable),
        TEXT,
        // No column owns a sequence yet (serial columns come with sequences).
        Arc::new(|_| Ok(ScalarValue::Null)),
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
        "json_build_object",
        Signature::variadic_any(Volatility::Stable),
        TEXT,
        Arc::new(|a| {
            if a.len() % 2 != 0 {
                return Err(sql_error(
                    "22023",
                    "argument list must have even number of elements".to_string(),
                ));
            }
            let mut out = String::from("{");
            for (i, pair) in a.chunks(2).enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                if pair[0].is_null() {
                    return Err(sql_error(
                        "22004",
                        "null value not allowed for object key".to_string(),
                    ));
                }
                out.push_str(&json_string(&pair[0].to_string()));
                out.push_str(" : ");
                out.push_str(&json_value(&pair[1]));
            }
            out.push('}');
            Ok(ScalarValue::Utf8(Some(out)))
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

/// The OID of relation `name` (`t`, `public.t`, `"T"`, `pg_catalog.pg_class`, an index name), if any.
pub fn regclass(src: &Source, name: &str) -> Result<Option<i64>> {
    let parts = split_name(name);
    let (schema, rel) = match parts.as_slice() {
        [r] => (None, r.clone()),
        [s, r] => (Some(s.as_str()), r.clone()),
        [_, s, r] => (Some(s.as_str()), r.clone()),
        _ => return Ok(None),
    };
    if schema.is_none_or(|s| s == "pg_catalog")
        && let Some((_, o, _)) = oids::SYSTEM_RELATIONS.iter().find(|(n, ..)| *n == rel)
    {
        return Ok(Some(*o));
    }
    if schema.is_some_and(|s| s != "public") {
        return Ok(None);
    }
    let tables = src.tables()?;
    Ok(tables.iter().find_map(|t| {
        if t.def.name == rel {
            Some(t.oid)
        } else if t.def.primary_key.is_some() && t.pk_name() == rel {
            Some(oids::pk_index(t.id))
        } else {
            None
        }
    }))
}

/// The name `::regclass` prints for OID `o`: qualified only when not on the search path.
fn relation_name(src: &Source, o: i64) -> Result<Option<String>> {
    if let Some((n, ..)) = oids::SYSTEM_RELATIONS.iter().find(|(_, r, _)| *r == o) {
        return Ok(Some(n.to_string()));
    }
    let tables = src.tables()?;
    Ok(tables.iter().find_map(|t| {
        if t.oid == o {
            Some(quote_ident(&t.def.name))
        } else if oids::pk_index(t.id) == o {
            Some(quote_ident(&t.pk_name()))
        } else {
            None
        }
    }))
}

/// A possibly qualified, possibly quoted name split into its parts, folded as PostgreSQL folds them.
fn split_name(name: &str) -> Vec<String> {
    let mut parts = vec![];
    let mut cur = String::new();
    let mut quoted = false;
    let mut chars = name.trim().chars().peekable();
    let mut was_quoted = false;
    while let Some(ch) = chars.next() {
        match ch {
            '"' if quoted && chars.peek() == Some(&'"') => {
                cur.push('"');
                chars.next();
            }
            '"' => {
                quoted = !quoted;
                was_quoted = true;
            }
            '.' if !quoted => {
                parts.push(if was_quoted {
                    cur.clone()
                } else {
                    cur.to_lowercase()
                });
                cur.clear();
                was_quoted = false;
            }
            c => cur.push(c),
        }
    }
    parts.push(if was_quoted { cur } else { cur.to_lowercase() });
    parts
}

/// `quote_ident`: double quotes unless the name is a lower-case identifier that is not a keyword.
pub fn quote_ident(s: &str) -> String {
    let plain = !s.is_empty()
        && s.chars()
            .next()
            .is_some_and(|c| c.is_ascii_lowercase() || c == '_')
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    let keyword = datafusion::sql::sqlparser::keywords::ALL_KEYWORDS
        .binary_search(&s.to_uppercase().as_str())
        .is_ok()
        && RESERVED.contains(&s);
    if plain && !keyword {
        s.to_string()
    } else {
        format!("\"{}\"", s.replace('"', "\"\""))
    }
}

/// PostgreSQL's reserved keywords that plain identifiers collide with (quote_ident quotes them).
const RESERVED: &[&str] = &[
    "all",
    "analyse",
    "analyze",
    "and",
    "any",
    "array",
    "as",
    "asc",
    "asymmetric",
    "both",
    "case",
    "cast",
    "check",
    "collate",
    "column",
    "constraint",
    "create",
    "current_catalog",
    "current_date",
    "current_role",
    "current_time",
    "current_timestamp",
    "current_user",
    "default",
    "deferrable",
    "desc",
    "distinct",
    "do",
    "else",
    "end",
    "except",
    "false",
    "fetch",
    "for",
    "foreign",
    "from",
    "grant",
    "group",
    "having",
    "in",
    "initially",
    "intersect",
    "into",
    "lateral",
    "leading",
    "limit",
    "localtime",
    "localtimestamp",
    "not",
    "null",
    "offset",
    "on",
    "only",
    "or",
    "order",
    "placing",
    "primary",
    "references",
    "returning",
    "select",
    "session_user",
    "some",
    "symmetric",
    "table",
    "then",
    "to",
    "trailing",
    "true",
    "union",
    "unique",
    "user",
    "using",
    "variadic",
    "when",
    "where",
    "window",
    "with",
];

/// A LIKE pattern with escape character `esc` (none when `None`) rewritten to escape with a backslash.
fn like_escape(p: &str, esc: Option<char>) -> String {
    let mut out = String::with_capacity(p.len());
    let mut chars = p.chars();
    while let Some(c) = chars.next() {
        if Some(c) == esc {
            if let Some(next) = chars.next() {
                out.push('\\');
                out.push(next);
            }
        } else if c == '\\' {
            out.push_str("\\\\");
        } else {
            out.push(c);
        }
    }
    out
}

fn json_string(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A value in PostgreSQL's `json` text form: numbers and booleans bare, NULL as `null`, text quoted.
fn json_value(v: &ScalarValue) -> String {
    if v.is_null() {
        return "null".to_string();
    }
    match v {
        ScalarValue::Boolean(Some(b)) => b.to_string(),
        ScalarValue::Int8(_)
        | ScalarValue::Int16(_)
        | ScalarValue::Int32(_)
        | ScalarValue::Int64(_)
        | ScalarValue::UInt32(_)
        | ScalarValue::UInt64(_)
        | ScalarValue::Float32(_)
        | ScalarValue::Float64(_)
        | ScalarValue::Decimal128(..) => v.to_string(),
        _ => json_string(&v.to_string()),
    }
}

/// `pg_get_indexdef` of a table's primary-key index.
pub fn index_def(t: &Table) -> String {
    let pk = t.def.primary_key.expect("a primary key");
    format!(
        "CREATE UNIQUE INDEX {} ON public.{} USING learned ({})",
        quote_ident(&t.pk_name()),
        quote_ident(&t.def.name),
        quote_ident(&t.def.columns[pk].name)
    )
}

/// A column DEFAULT as PostgreSQL prints it back (`pg_get_expr`, `information_schema.columns`): a string
/// literal carries its cast (`'x'::text`), as does a negative number; anything else prints as written.
pub fn deparse_default(sql: &str, ty: Col) -> String {
    let Ok(expr) = Parser::new(&PostgreSqlDialect {})
        .try_with_sql(sql)
        .and_then(|mut p| p.parse_expr())
    else {
        return sql.to_string();
    };
    let type_name = || {
        let t = oids::type_info(ty);
        oids::format_type(t.oid, Some(t.typmod)).unwrap_or_else(|| ty.name())
    };
    match &expr {
        Expr::Value(v) => match &v.value {
            Value::SingleQuotedString(s) => {
                format!("'{}'::{}", s.replace('\'', "''"), type_name())
            }
            Value::Boolean(b) => b.to_string(),
            _ => expr.to_string(),
        },
        Expr::UnaryOp {
            op: UnaryOperator::Minus,
            expr: inner,
        } if matches!(inner.as_ref(), Expr::Value(_)) => {
            format!("'-{inner}'::{}", type_name())
        }
        Expr::Function(f) if f.name.to_string().eq_ignore_ascii_case("current_timestamp") => {
            "CURRENT_TIMESTAMP".to_string()
        }
        _ => expr.to_string(),
    }
}

/// `pg_size_pretty(bigint)`, PostgreSQL's algorithm: the size is kept in half-units past bytes, so that
/// the last step rounds half away from zero.
fn size_pretty(bytes: i64) -> String {
    // (name, limit, rounds, unit bits)
    const UNITS: [(&str, i64, bool, u32); 6] = [
        ("bytes", 10 * 1024, false, 0),
        ("kB", 20 * 1024 - 1, true, 10),
        ("MB", 20 * 1024 - 1, true, 20),
        ("GB", 20 * 1024 - 1, true, 30),
        ("TB", 20 * 1024 - 1, true, 40),
        ("PB", 20 * 1024 - 1, true, 50),
    ];
    let mut size = bytes;
    for (i, (name, limit, round, bits)) in UNITS.iter().enumerate() {
        if i + 1 == UNITS.len() || size.abs() < *limit {
            if *round {
                size = (size + if size < 0 { -1 } else { 1 }) / 2;
            }
            return format!("{size} {name}");
        }
        let next = UNITS[i + 1];
        let shift = next.3 - bits - u32::from(next.2) + u32::from(*round);
        size /= 1i64 << shift;
    }
    unreachable!("the last unit always answers")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_print_like_postgres() {
        assert_eq!(deparse_default("'x'", Col::Text), "'x'::text");
        assert_eq!(deparse_default("10", Col::Integer), "10");
        assert_eq!(deparse_default("-1", Col::Integer), "'-1'::integer");
        assert_eq!(deparse_default("now()", Col::TimestampTz), "now()");
        assert_eq!(deparse_default("true", Col::Boolean), "true");
        assert_eq!(
            deparse_default("'2020-01-01'", Col::Timestamp),
            "'2020-01-01'::timestamp without time zone"
        );
    }

    #[test]
    fn names_and_quoting() {
        assert_eq!(split_name("public.\"My T\""), vec!["public", "My T"]);
        assert_eq!(split_name("T"), vec!["t"]);
        assert_eq!(quote_ident("items"), "items");
        assert_eq!(quote_ident("My T"), "\"My T\"");
        assert_eq!(quote_ident("select"), "\"select\"");
        assert_eq!(like_escape("a/_b%\\", Some('/')), "a\\_b%\\\\");
        assert_eq!(
            json_value(&ScalarValue::Utf8(Some("say \"hi\"".into()))),
            "\"say \\\"hi\\\"\""
        );
        assert_eq!(size_pretty(100), "100 bytes");
        assert_eq!(size_pretty(10 * 1024), "10 kB");
        assert_eq!(size_pretty(8 * 1024 * 1024), "8192 kB");
        assert_eq!(size_pretty(20 * 1024 * 1024), "20 MB");
    }
}
