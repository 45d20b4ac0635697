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

/// The user table and column behind output column `idx` of `plan`, if it is one as is.
fn trace(plan: &LogicalPlan, idx: usize) -> Option<(String, String)> {
    match plan {
        LogicalPlan::Projection(p) => {
            let mut e = p.expr.get(idx)?;
            while let Expr::Alias(a) = e {
                e = &a.expr;
            }
            let Expr::Column(c) = e else { return None };
            let j = p.input.schema().index_of_column(c).ok()?;
            trace(&p.input, j)
        }
        LogicalPlan::Filter(f) => trace(&f.input, idx),
        LogicalPlan::Sort(s) => trace(&s.input, idx),
        LogicalPlan::Limit(l) => trace(&l.input, idx),
        LogicalPlan::Repartition(r) => trace(&r.input, idx),
        LogicalPlan::SubqueryAlias(a) => trace(&a.input, idx),
        LogicalPlan::Window(w) if idx < w.input.schema().fields().len() => trace(&w.input, idx),
        LogicalPlan::Distinct(datafusion::logical_expr::Distinct::All(input)) => trace(input, idx),
        LogicalPlan::Aggregate(a) => match a.group_expr.get(idx)? {
            Expr::Column(c) => trace(&a.input, a.input.schema().index_of_column(c).ok()?),
            _ => None,
        },
        LogicalPlan::Join(j) => {
            let left = j.left.schema().fields().len();
            match j.join_type {
                JoinType::LeftSemi | JoinType::LeftAnti | JoinType::LeftMark => trace(&j.left, idx),
                JoinType::RightSemi | JoinType::RightAnti | JoinType::RightMark => {
                    trace(&j.right, idx)
                }
                _ if idx < left => trace(&j.left, idx),
                _ => trace(&j.right, idx - left),
            }
        }
        LogicalPlan::TableScan(scan) => {
            // pg_catalog and information_schema relations are views in PostgreSQL: no origin.
            let table = crate::catalog::storage_name_of(&scan.source)?;
            let column = scan
                .projection
                .as_ref()
                .map_or(Some(idx), |p| p.get(idx).copied())?;
            let field = scan.source.schema().fields().get(column)?.clone();
            Some((table, field.name().clone()))
        }
        _ => None,
    }
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
    if !matches!(info.oid, 1042 | 1043) {
        return field.clone();
    }
    let mut meta = field.metadata().clone();
    meta.insert(TYPE_OID.into(), info.oid.to_string());
    meta.insert(TYPMOD.into(), info.typmod.to_string());
    field.clone().with_metadata(meta)
}

/// The PostgreSQL type a field was marked with (`with_type`).
pub fn marked_type(field: &Field) -> Option<pgwire::api::Type> {
    match field.metadata().get(TYPE_OID)?.as_str() {
        "1043" => Some(pgwire::api::Type::VARCHAR),
        "1042" => Some(pgwire::api::Type::BPCHAR),
        _ => None,
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
