//! Where each result column comes from, for RowDescription: the table OID and column number of a column
//! that is a table's column as is (through projections, filters, joins, aliases, grouping), and the type
//! modifier of `numeric(p, s)`. JDBC's ResultSetMetaData (table name, nullability) and the tools that edit a
//! result in place (DBeaver, DataGrip) read them; an expression has neither, as in PostgreSQL.

use std::collections::HashMap;
use std::sync::Arc;

use arrow_schema::{DataType, Field, Schema, SchemaRef};
use datafusion::logical_expr::{Expr, JoinType, LogicalPlan};

/// Field metadata keys carrying a column's origin from planning to the wire.
pub const TABLE_OID: &str = "omendb.table_oid";
pub const ATTNUM: &str = "omendb.attnum";
/// The PostgreSQL type OID and typmod of a column whose Arrow type does not say it (varchar(n), char(n)).
pub const TYPE_OID: &str = "omendb.type_oid";
pub const TYPMOD: &str = "omendb.typmod";

/// The scanned relation and column behind output column `idx` of `plan`, if it is that column as is.
fn scan_column(
    plan: &LogicalPlan,
    idx: usize,
) -> Option<(&Arc<dyn datafusion::logical_expr::TableSource>, usize)> {
    match plan {
        LogicalPlan::Projection(p) => {
            let mut e = p.expr.get(idx)?;
            while let Expr::Alias(a) = e {
                e = &a.expr;
            }
            let Expr::Column(c) = e else { return None };
            let j = p.input.schema().index_of_column(c).ok()?;
            scan_column(&p.input, j)
        }
        LogicalPlan::Filter(f) => scan_column(&f.input, idx),
        LogicalPlan::Sort(s) => scan_column(&s.input, idx),
        LogicalPlan::Limit(l) => scan_column(&l.input, idx),
        LogicalPlan::Repartition(r) => scan_column(&r.input, idx),
        LogicalPlan::SubqueryAlias(a) => scan_column(&a.input, idx),
        LogicalPlan::Window(w) if idx < w.input.schema().fields().len() => {
            scan_column(&w.input, idx)
        }
        LogicalPlan::Distinct(datafusion::logical_expr::Distinct::All(input)) => {
            scan_column(input, idx)
        }
        LogicalPlan::Aggregate(a) => match a.group_expr.get(idx)? {
            Expr::Column(c) => scan_column(&a.input, a.input.schema().index_of_column(c).ok()?),
            _ => None,
        },
        LogicalPlan::Join(j) => {
            let left = j.left.schema().fields().len();
            match j.join_type {
                JoinType::LeftSemi | JoinType::LeftAnti | JoinType::LeftMark => {
                    scan_column(&j.left, idx)
                }
                JoinType::RightSemi | JoinType::RightAnti | JoinType::RightMark => {
                    scan_column(&j.right, idx)
                }
                _ if idx < left => scan_column(&j.left, idx),
                _ => scan_column(&j.right, idx - left),
            }
        }
        LogicalPlan::TableScan(scan) => {
            let column = scan
                .projection
                .as_ref()
                .map_or(Some(idx), |p| p.get(idx).copied())?;
            Some((&scan.source, column))
        }
        _ => None,
    }
}

/// The user table and column behind output column `idx` of `plan`, if it is one as is.
fn trace(plan: &LogicalPlan, idx: usize) -> Option<(String, String)> {
    let (source, column) = scan_column(plan, idx)?;
    // pg_catalog and information_schema relations are views in PostgreSQL: no origin.
    let table = crate::catalog::storage_name_of(source)?;
    let field = source.schema().fields().get(column)?.clone();
    Some((table, field.name().clone()))
}

/// `schema` (the result of `plan`, possibly renamed) with each column's origin in its field metadata.
/// `table` gives a user table's OID and column names, in order.
pub fn annotate(
    schema: SchemaRef,
    plan: &LogicalPlan,
    table: impl Fn(&str) -> Option<(i64, Vec<(String, omendb_storage::DataType)>)>,
) -> SchemaRef {
    let mut tables = HashMap::new();
    let fields: Vec<Field> = schema
        .fields()
        .iter()
        .enumerate()
        .map(|(i, f)| {
            let origin = trace(plan, i).and_then(|(t, c)| {
                let (oid, columns) = tables
                    .entry(t.clone())
                    .or_insert_with(|| table(&t))
                    .as_ref()?;
                let at = columns.iter().position(|(n, _)| *n == c)?;
                Some((*oid, at + 1, columns[at].1))
            });
            match origin {
                Some((oid, attnum, ty)) => with_type(&with_origin(f, oid, attnum), ty),
                None if name_array(plan, i) => with_type_oid(f, 1003),
                // A catalog's `name` column is `name` only as is: DataFusion carries the marker through
                // casts and functions too (`upper(relname)` is text).
                None if marked_type(f).is_some() && scan_column(plan, i).is_none() => {
                    let mut f = f.as_ref().clone();
                    f.metadata_mut().remove(TYPE_OID);
                    f
                }
                None => f.as_ref().clone(),
            }
        })
        .collect();
    Arc::new(Schema::new_with_metadata(fields, schema.metadata().clone()))
}

/// `field` marked as column `attnum` (from 1) of the table with OID `oid`.
pub fn with_origin(field: &Field, oid: i64, attnum: usize) -> Field {
    let mut meta = field.metadata().clone();
    meta.insert(TABLE_OID.into(), oid.to_string());
    meta.insert(ATTNUM.into(), attnum.to_string());
    field.clone().with_metadata(meta)
}

/// `field` marked with its column's PostgreSQL type where Arrow's (Utf8) would describe it as text.
pub fn with_type(field: &Field, ty: omendb_storage::DataType) -> Field {
    let info = crate::pg_catalog::oids::type_info(ty);
    if !matches!(info.oid, 1042 | 1043 | 2950) {
        return field.clone();
    }
    let mut meta = field.metadata().clone();
    meta.insert(TYPE_OID.into(), info.oid.to_string());
    meta.insert(TYPMOD.into(), info.typmod.to_string());
    field.clone().with_metadata(meta)
}

/// `field` marked as PostgreSQL type `oid` (catalog columns of type `name`, 19, and `name[]`, 1003).
pub fn with_type_oid(field: &Field, oid: u32) -> Field {
    let mut meta = field.metadata().clone();
    meta.insert(TYPE_OID.into(), oid.to_string());
    field.clone().with_metadata(meta)
}

/// The PostgreSQL type a field was marked with (`with_type`, `with_type_oid`).
pub fn marked_type(field: &Field) -> Option<pgwire::api::Type> {
    // json and jsonb values carry their type as an Arrow extension name, which casts drop (see storage).
    match field
        .metadata()
        .get(omendb_storage::EXTENSION_KEY)
        .map(String::as_str)
    {
        Some(omendb_storage::JSON_EXTENSION) => return Some(pgwire::api::Type::JSON),
        Some(omendb_storage::JSONB_EXTENSION) => return Some(pgwire::api::Type::JSONB),
        Some(omendb_storage::UUID_EXTENSION) => return Some(pgwire::api::Type::UUID),
        Some(omendb_storage::BPCHAR_EXTENSION) => return Some(pgwire::api::Type::BPCHAR),
        Some(omendb_storage::ENUM_EXTENSION) => {
            let id = crate::enums::type_of(field)?;
            let oid = crate::pg_catalog::oids::table(id) as u32;
            return Some(pgwire::api::Type::new(
                format!("enum{oid}"),
                oid,
                postgres_types::Kind::Enum(vec![]),
                "public".into(),
            ));
        }
        _ => {}
    }
    match field.metadata().get(TYPE_OID)?.as_str() {
        "1043" => Some(pgwire::api::Type::VARCHAR),
        "1042" => Some(pgwire::api::Type::BPCHAR),
        "2950" => Some(pgwire::api::Type::UUID),
        "19" => Some(pgwire::api::Type::NAME),
        "1003" => Some(pgwire::api::Type::NAME_ARRAY),
        _ => None,
    }
}

/// Whether output column `idx` of `plan` is `array_agg` over a column of type `name` (through projections,
/// sorts, filters and aliases): PostgreSQL's result is `name[]` then.
fn name_array(plan: &LogicalPlan, idx: usize) -> bool {
    match plan {
        LogicalPlan::Projection(p) => {
            let mut e = match p.expr.get(idx) {
                Some(e) => e,
                None => return false,
            };
            while let Expr::Alias(a) = e {
                e = &a.expr;
            }
            let Expr::Column(c) = e else { return false };
            match p.input.schema().index_of_column(c) {
                Ok(j) => name_array(&p.input, j),
                Err(_) => false,
            }
        }
        LogicalPlan::Filter(f) => name_array(&f.input, idx),
        LogicalPlan::Sort(s) => name_array(&s.input, idx),
        LogicalPlan::Limit(l) => name_array(&l.input, idx),
        LogicalPlan::SubqueryAlias(a) => name_array(&a.input, idx),
        LogicalPlan::Aggregate(a) if idx >= a.group_expr.len() => {
            let mut e = match a.aggr_expr.get(idx - a.group_expr.len()) {
                Some(e) => e,
                None => return false,
            };
            while let Expr::Alias(al) = e {
                e = &al.expr;
            }
            let Expr::AggregateFunction(f) = e else {
                return false;
            };
            let Some(Expr::Column(c)) = f.params.args.first() else {
                return false;
            };
            f.func.name() == "array_agg"
                && a.input
                    .schema()
                    .qualified_field_from_column(c)
                    .is_ok_and(|(_, field)| {
                        field.metadata().get(TYPE_OID).map(String::as_str) == Some("19")
                    })
        }
        _ => false,
    }
}

/// RowDescription's table OID and column number of `field`, if it has an origin.
pub fn of(field: &Field) -> Option<(i32, i16)> {
    let m = field.metadata();
    Some((
        m.get(TABLE_OID)?.parse().ok()?,
        m.get(ATTNUM)?.parse().ok()?,
    ))
}

/// RowDescription's type modifier of a table's column: `numeric(p, s)` packs precision and scale as PostgreSQL does
/// (an expression's is -1, as PostgreSQL's).
pub fn type_modifier(field: &Field) -> i32 {
    if let Some(m) = field.metadata().get(TYPMOD).and_then(|m| m.parse().ok()) {
        return m;
    }
    match field.data_type() {
        DataType::Decimal128(p, s) | DataType::Decimal256(p, s) if *s >= 0 => {
            ((i32::from(*p) << 16) | i32::from(*s as u8)) + 4
        }
        _ => -1,
    }
}
