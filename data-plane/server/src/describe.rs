//! psql's describe commands (`\l`, `\dt`, `\d`, `\d name`, `\d+ name`). psql reads PostgreSQL's system
//! catalogs with queries DataFusion cannot plan (`OPERATOR(pg_catalog.~)`, `COLLATE pg_catalog.default`,
//! regclass casts), so each one psql 15 sends is recognised by shape and answered from our own catalog with
//! the columns psql expects. Other catalog footers psql asks about (policies, publications, inheritance,
//! statistics objects) have no counterpart here and get empty results of the right width.

use std::sync::Arc;

use arrow_array::{ArrayRef, BooleanArray, Int32Array, Int64Array, RecordBatch, StringArray};
use arrow_schema::{DataType as Arrow, Field, Schema};
use omendb_storage::{DataType, Database, TableDef};

use crate::session::Output;

/// Tables get OIDs by name order, from PostgreSQL's first user OID. Stable while no table is created or
/// dropped, which is all a describe command's sequence of queries needs.
const FIRST_OID: i64 = 16384;

fn tables(db: &Database) -> Vec<(i64, TableDef)> {
    let mut names = db.table_names();
    names.sort();
    names
        .into_iter()
        .enumerate()
        .filter_map(|(i, n)| Some((FIRST_OID + i as i64, db.table(&n).ok()?.def().clone())))
        .collect()
}

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

fn empty(width: usize) -> Output {
    let schema = Arc::new(Schema::new(
        (0..width)
            .map(|i| Field::new(format!("?column{i}?"), Arrow::Utf8, true))
            .collect::<Vec<_>>(),
    ));
    Output::Rows(schema, vec![])
}

/// PostgreSQL's `format_type` for our column types.
pub fn format_type(t: &DataType) -> String {
    match t {
        DataType::Timestamp => "timestamp without time zone".into(),
        DataType::TimestampTz => "timestamp with time zone".into(),
        other => other.name(),
    }
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

/// psql's name pattern (`OPERATOR(pg_catalog.~) '^(t.*)$'`) as a regex.
fn pattern(sql: &str) -> Option<regex::Regex> {
    let at = sql.find("OPERATOR(pg_catalog.~) '")? + "OPERATOR(pg_catalog.~) '".len();
    let rest = &sql[at..];
    let p = rest[..rest.find('\'')?].to_string();
    regex::Regex::new(&p).ok()
}

/// The answer to a psql describe query, if `sql` is one.
pub fn answer(sql: &str, db: &Database, database: &str, user: &str) -> Option<Output> {
    if !sql.contains("pg_catalog.") {
        return None;
    }
    let all = tables(db);
    // \dt, \d, \dt pattern: Schema, Name, Type, Owner.
    if sql.contains("as \"Schema\"") && sql.contains("FROM pg_catalog.pg_class c") {
        let re = pattern(sql);
        let rows: Vec<_> = all
            .iter()
            .filter(|(_, d)| re.as_ref().is_none_or(|r| r.is_match(&d.name)))
            .collect();
        return Some(batch(vec![
            (
                "Schema",
                text(rows.iter().map(|_| Some("public".into())).collect()),
            ),
            (
                "Name",
                text(rows.iter().map(|(_, d)| Some(d.name.clone())).collect()),
            ),
            (
                "Type",
                text(rows.iter().map(|_| Some("table".into())).collect()),
            ),
            (
                "Owner",
                text(rows.iter().map(|_| Some(user.to_string())).collect()),
            ),
        ]));
    }
    // \l
    if sql.contains("FROM pg_catalog.pg_database d") && sql.contains("as \"Name\"") {
        return Some(batch(vec![
            ("Name", text(vec![Some(database.into())])),
            ("Owner", text(vec![Some(user.into())])),
            ("Encoding", text(vec![Some("UTF8".into())])),
            ("Collate", text(vec![Some("C".into())])),
            ("Ctype", text(vec![Some("C".into())])),
            ("ICU Locale", text(vec![None])),
            ("Locale Provider", text(vec![Some("libc".into())])),
            ("Access privileges", text(vec![None])),
        ]));
    }
    // \d name, step 1: which relations match.
    if sql.contains("SELECT c.oid,")
        && sql.contains("c.relname")
        && sql.contains("OPERATOR(pg_catalog.~)")
    {
        let re = pattern(sql)?;
        let rows: Vec<_> = all.iter().filter(|(_, d)| re.is_match(&d.name)).collect();
        return Some(batch(vec![
            (
                "oid",
                Arc::new(Int64Array::from(
                    rows.iter().map(|(o, _)| *o).collect::<Vec<_>>(),
                )),
            ),
            (
                "nspname",
                text(rows.iter().map(|_| Some("public".into())).collect()),
            ),
            (
                "relname",
                text(rows.iter().map(|(_, d)| Some(d.name.clone())).collect()),
            ),
        ]));
    }
    let find = |marker: &str| {
        let oid = oid_in(sql, marker)?;
        all.iter().find(|(o, _)| *o == oid).map(|(_, d)| d.clone())
    };
    // \d name, step 2: the relation's properties.
    if sql.contains("SELECT c.relchecks, c.relkind") {
        let Some(d) = find("WHERE c.oid") else {
            return Some(empty(15));
        };
        let b = |v: bool| -> ArrayRef { Arc::new(BooleanArray::from(vec![v])) };
        let s = |v: &str| text(vec![Some(v.into())]);
        return Some(batch(vec![
            ("relchecks", Arc::new(Int32Array::from(vec![0]))),
            ("relkind", s("r")),
            ("relhasindex", b(d.primary_key.is_some())),
            ("relhasrules", b(false)),
            ("relhastriggers", b(false)),
            ("relrowsecurity", b(false)),
            ("relforcerowsecurity", b(false)),
            ("relhasoids", b(false)),
            ("relispartition", b(false)),
            ("reloptions", s("")),
            ("reltablespace", Arc::new(Int32Array::from(vec![0]))),
            ("reloftype", s("")),
            ("relpersistence", s("p")),
            ("relreplident", s("d")),
            ("amname", s("learned")),
        ]));
    }
    // \d name, step 3: columns.
    if sql.contains("SELECT a.attname,") && sql.contains("FROM pg_catalog.pg_attribute a") {
        let plus = sql.contains("a.attstorage");
        let Some(d) = find("WHERE a.attrelid") else {
            return Some(empty(if plus { 11 } else { 7 }));
        };
        let n = d.columns.len();
        let mut cols: Vec<(&str, ArrayRef)> = vec![
            (
                "attname",
                text(d.columns.iter().map(|c| Some(c.name.clone())).collect()),
            ),
            (
                "format_type",
                text(
                    d.columns
                        .iter()
                        .map(|c| Some(format_type(&c.data_type)))
                        .collect(),
                ),
            ),
            (
                "default",
                text(d.columns.iter().map(|c| c.default.clone()).collect()),
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
            ("attcollation", text(vec![None; n])),
            ("attidentity", text(vec![Some(String::new()); n])),
            ("attgenerated", text(vec![Some(String::new()); n])),
        ];
        if plus {
            let storage = |t: &DataType| match t {
                DataType::Text | DataType::Bytea | DataType::Numeric { .. } => "x",
                _ => "p",
            };
            cols.push((
                "attstorage",
                text(
                    d.columns
                        .iter()
                        .map(|c| Some(storage(&c.data_type).into()))
                        .collect(),
                ),
            ));
            cols.push(("attcompression", text(vec![Some(String::new()); n])));
            cols.push(("attstattarget", Arc::new(Int32Array::from(vec![None; n]))));
            cols.push(("col_description", text(vec![None; n])));
        }
        return Some(batch(cols));
    }
    // \d name, step 4: indexes. The primary key is the learned index.
    if sql.contains("FROM pg_catalog.pg_class c, pg_catalog.pg_class c2, pg_catalog.pg_index i") {
        let d = find("WHERE c.oid");
        let pk = d.as_ref().and_then(|d| Some((d, d.primary_key?)));
        let rows = usize::from(pk.is_some());
        let (name, def, con) = match pk {
            Some((d, i)) => {
                let col = &d.columns[i].name;
                (
                    Some(format!("{}_pkey", d.name)),
                    Some(format!(
                        "CREATE UNIQUE INDEX {}_pkey ON public.{} USING learned ({col})",
                        d.name, d.name
                    )),
                    Some(format!("PRIMARY KEY ({col})")),
                )
            }
            None => (None, None, None),
        };
        let b = |v: bool| -> ArrayRef { Arc::new(BooleanArray::from(vec![v; rows])) };
        let take = |v: Option<String>| text(v.into_iter().map(Some).collect());
        return Some(batch(vec![
            ("relname", take(name)),
            ("indisprimary", b(true)),
            ("indisunique", b(true)),
            ("indisclustered", b(false)),
            ("indisvalid", b(true)),
            ("pg_get_indexdef", take(def)),
            ("pg_get_constraintdef", take(con)),
            ("contype", text(vec![Some("p".into()); rows])),
            ("condeferrable", b(false)),
            ("condeferred", b(false)),
            ("indisreplident", b(false)),
            ("reltablespace", Arc::new(Int32Array::from(vec![0; rows]))),
        ]));
    }
    // Footers with nothing to show here.
    for (marker, width) in [
        ("FROM pg_catalog.pg_policy pol", 6),
        ("FROM pg_catalog.pg_statistic_ext", 9),
        ("FROM pg_catalog.pg_publication p", 3),
        (
            "SELECT c.oid::pg_catalog.regclass, c.relkind, inhdetachpending",
            4,
        ),
        ("FROM pg_catalog.pg_class c, pg_catalog.pg_inherits i", 1),
        ("pg_catalog.pg_trigger", 5),
        ("pg_catalog.pg_rewrite", 2),
    ] {
        if sql.contains(marker) {
            return Some(empty(width));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn oids_and_patterns_are_read_from_psql_text() {
        assert_eq!(oid_in("WHERE c.oid = '16385';", "WHERE c.oid"), Some(16385));
        assert_eq!(oid_in("WHERE pc.oid ='7'", "WHERE pc.oid"), Some(7));
        let re = pattern("c.relname OPERATOR(pg_catalog.~) '^(t.*)$' COLLATE").unwrap();
        assert!(re.is_match("tab") && !re.is_match("xt"));
    }
}
