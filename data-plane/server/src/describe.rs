//! The four psql describe queries the real catalog cannot answer yet, all of `\d table`: its column list
//! (psql reads each column's collation with a correlated subquery whose filter compares an outer column
//! with an inner one by `<>`, `a.attcollation <> t.typcollation`), its properties (`reloptions` through
//! an unnest correlated with the outer row), its policies (`= ANY(outer array)` in an ARRAY(subquery)) and
//! its publications (a generate_series correlated with the outer row); DataFusion 55 decorrelates none. Every other describe query
//! plans against `pg_catalog` (see `crate::pg_catalog`); these, only when they failed to plan, are answered
//! from the same catalog: the same OIDs, type names and defaults `pg_attribute` and `pg_attrdef` give.

use std::sync::Arc;

use arrow_array::{ArrayRef, BooleanArray, Int32Array, RecordBatch, StringArray};
use arrow_schema::{Field, Schema};
use omendb_storage::{Database, TableDef};

use crate::pg_catalog::names::deparse_default;
use crate::pg_catalog::oids::{self, format_type, type_info};
use crate::session::Output;

fn text(v: Vec<Option<String>>) -> ArrayRef {
    Arc::new(StringArray::from(v))
}

fn batch(cols: Vec<(&str, ArrayRef)>) -> Output {
    let schema = Arc::new(Schema::new(
        cols.iter()
            .map(|(n, a)| Field::new(*n, a.data_type().clone(), true))
            .collect::<Vec<_>>(),
    ));
    let arrays = cols.into_iter().map(|(_, a)| a).collect();
    let b = RecordBatch::try_new(schema.clone(), arrays).expect("columns of equal length");
    Output::Rows(schema, vec![b])
}

/// The quoted OID in `... = '16384'`.
fn oid_in(sql: &str, marker: &str) -> Option<i64> {
    let rest = &sql[sql.find(marker)? + marker.len()..];
    let rest = rest
        .trim_start()
        .strip_prefix('=')?
        .trim_start()
        .strip_prefix('\'')?;
    rest[..rest.find('\'')?].parse().ok()
}

fn table(db: &Database, oid: i64) -> Option<TableDef> {
    db.table_names().into_iter().find_map(|n| {
        let r = db.table(&n).ok()?;
        (oids::table(r.id()) == oid).then(|| r.def().clone())
    })
}

/// psql's `\d` queries the catalog cannot plan yet, if `sql` is one of them.
pub fn answer(sql: &str, db: &Database) -> Option<Output> {
    if sql.contains("SELECT c.relchecks, c.relkind") {
        return properties(sql, db);
    }
    // The table's row-level security policies (role names from an ARRAY(subquery) correlated by
    // `= ANY(pol.polroles)`) and publications (columns from a generate_series correlated with the outer
    // row): pg_policy and pg_publication are empty here (no row-level security, no logical replication).
    for (marker, width) in [
        ("FROM pg_catalog.pg_policy pol", 6),
        ("FROM pg_catalog.pg_publication p", 3),
    ] {
        if sql.contains(marker) {
            let schema = Arc::new(Schema::new(
                (0..width)
                    .map(|i| Field::new(format!("?column{i}?"), arrow_schema::DataType::Utf8, true))
                    .collect::<Vec<_>>(),
            ));
            return Some(Output::Rows(schema, vec![]));
        }
    }
    if !(sql.contains("SELECT a.attname,")
        && sql.contains("FROM pg_catalog.pg_attribute a")
        && sql.contains("pg_catalog.pg_collation c"))
    {
        return None;
    }
    let plus = sql.contains("a.attstorage");
    let d = table(db, oid_in(sql, "WHERE a.attrelid")?)?;
    let n = d.columns.len();
    let info: Vec<_> = d.columns.iter().map(|c| type_info(c.data_type)).collect();
    let mut cols: Vec<(&str, ArrayRef)> = vec![
        (
            "attname",
            text(d.columns.iter().map(|c| Some(c.name.clone())).collect()),
        ),
        (
            "format_type",
            text(
                info.iter()
                    .map(|t| format_type(t.oid, Some(t.typmod)))
                    .collect(),
            ),
        ),
        (
            "pg_get_expr",
            text(
                d.columns
                    .iter()
                    .map(|c| c.default.as_ref().map(|x| deparse_default(x, c.data_type)))
                    .collect(),
            ),
        ),
        (
            "attnotnull",
            Arc::new(BooleanArray::from(
                d.columns
                    .iter()
                    .enumerate()
                    .map(|(i, c)| !c.nullable || d.primary_key == Some(i))
                    .collect::<Vec<_>>(),
            )),
        ),
        // Every column has its type's collation: psql shows none.
        ("attcollation", text(vec![None; n])),
        ("attidentity", text(vec![Some(String::new()); n])),
        ("attgenerated", text(vec![Some(String::new()); n])),
    ];
    if plus {
        cols.push((
            "attstorage",
            text(info.iter().map(|t| Some(t.storage.to_string())).collect()),
        ));
        cols.push(("attcompression", text(vec![Some(String::new()); n])));
        cols.push(("attstattarget", Arc::new(Int32Array::from(vec![None; n]))));
        cols.push(("col_description", text(vec![None; n])));
    }
    Some(batch(cols))
}

/// The table's properties: its `reloptions` are read through an unnest of the TOAST table's options
/// correlated with the outer row, which DataFusion cannot plan. The values are `pg_class`'s.
fn properties(sql: &str, db: &Database) -> Option<Output> {
    let d = table(db, oid_in(sql, "WHERE c.oid")?)?;
    let b = |v: bool| -> ArrayRef { Arc::new(BooleanArray::from(vec![v])) };
    let s = |v: &str| text(vec![Some(v.into())]);
    Some(batch(vec![
        ("relchecks", Arc::new(Int32Array::from(vec![0]))),
        ("relkind", s("r")),
        ("relhasindex", b(d.primary_key.is_some())),
        ("relhasrules", b(false)),
        ("relhastriggers", b(false)),
        ("relrowsecurity", b(false)),
        ("relforcerowsecurity", b(false)),
        ("relhasoids", b(false)),
        ("relispartition", b(false)),
        ("array_to_string", s("")),
        ("reltablespace", Arc::new(Int32Array::from(vec![0]))),
        ("reloftype", s("")),
        ("relpersistence", s("p")),
        ("relreplident", s("d")),
        ("amname", s("heap")),
    ]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn oids_are_read_from_psql_text() {
        assert_eq!(
            oid_in("WHERE a.attrelid = '16385';", "WHERE a.attrelid"),
            Some(16385)
        );
        assert_eq!(oid_in("WHERE pc.oid ='7'", "WHERE pc.oid"), Some(7));
    }
}
