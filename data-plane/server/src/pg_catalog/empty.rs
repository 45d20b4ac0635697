//! Catalogs of objects OmenDB does not have yet (views, enums, triggers, inheritance, policies,
//! publications, rules, partitions, foreign tables, extended statistics, role membership, descriptions):
//! empty, with PostgreSQL 15's columns, as they are in a fresh PostgreSQL database without such objects.

use std::collections::BTreeMap;
use std::sync::LazyLock;

use arrow_array::RecordBatch;
use arrow_schema::{DataType, TimeUnit};
use datafusion::error::Result;

use super::build::*;

/// The rest of PostgreSQL 15's catalogs and views (`data/catalog_columns.tsv`): name to (OID, kind,
/// columns with their PostgreSQL type names).
/// A catalog's OID, kind, and columns with their PostgreSQL type names.
type Catalog = (i64, char, Vec<(String, String)>);

static OTHERS: LazyLock<BTreeMap<String, Catalog>> = LazyLock::new(|| {
    include_str!("data/catalog_columns.tsv")
        .lines()
        .skip(1)
        .filter_map(|l| {
            let mut f = l.splitn(4, '\t');
            let (name, oid, kind, cols) = (f.next()?, f.next()?, f.next()?, f.next()?);
            let cols = cols
                .split(',')
                .filter_map(|c| c.split_once(':'))
                .map(|(n, t)| (n.to_string(), t.to_string()))
                .collect();
            Some((
                name.to_string(),
                (oid.parse().ok()?, kind.chars().next()?, cols),
            ))
        })
        .collect()
});

/// The Arrow type a catalog column of PostgreSQL type `t` has here.
fn arrow_type(t: &str) -> DataType {
    match t {
        "oid" | "xid" | "bigint" | "regclass" => OID,
        "integer" => INT4,
        "smallint" => INT2,
        "boolean" => BOOL,
        "real" => FLOAT4,
        "double precision" | "numeric" => DataType::Float64,
        "bytea" => DataType::Binary,
        "timestamp with time zone" => {
            DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()))
        }
        "oid[]" | "regtype[]" => oid_list(),
        "smallint[]" | "int2vector" => int2_list(),
        t if t.ends_with("[]") => text_list(),
        _ => TEXT,
    }
}

/// The catalogs `relations.rs` does not build: names, OIDs and kinds ('r' table, 'v' view).
pub fn others() -> impl Iterator<Item = (&'static str, i64, char)> {
    OTHERS
        .iter()
        .filter(|(n, _)| !super::relations::NAMES.contains(&n.as_str()))
        .map(|(n, (o, k, _))| (n.as_str(), *o, *k))
}

/// `batch` of catalog `name` with PostgreSQL's columns it lacks appended, in PostgreSQL's column order after
/// its own: owners are the system role (tools look every owner up), other OIDs 0, flags false, the rest
/// NULL.
pub fn complete(name: &str, batch: RecordBatch) -> Result<RecordBatch> {
    let Some((_, _, cols)) = OTHERS.get(name) else {
        return Ok(batch);
    };
    let schema = batch.schema();
    let missing: Vec<&(String, String)> = cols
        .iter()
        .filter(|(n, _)| schema.index_of(n).is_err())
        .collect();
    let pg_type = |n: &str| cols.iter().find(|(c, _)| c == n).map(|(_, t)| t.as_str());
    let tagged = |f: &arrow_schema::Field| tag(f, pg_type(f.name()));
    if missing.is_empty() && schema.fields().iter().all(|f| tagged(f) == **f) {
        return Ok(batch);
    }
    let rows = batch.num_rows();
    let mut fields: Vec<arrow_schema::Field> = schema.fields().iter().map(|f| tagged(f)).collect();
    let mut arrays = batch.columns().to_vec();
    for (n, t) in missing {
        let ty = arrow_type(t);
        let value = match (t.as_str(), n.ends_with("owner")) {
            ("oid", true) => datafusion::scalar::ScalarValue::Int64(Some(super::oids::SYSTEM_ROLE)),
            ("oid" | "regproc" | "xid", _) => datafusion::scalar::ScalarValue::Int64(Some(0)),
            ("boolean", _) => datafusion::scalar::ScalarValue::Boolean(Some(false)),
            _ => datafusion::scalar::ScalarValue::try_from(&ty)?,
        };
        let value = if value.data_type() == ty {
            value
        } else {
            datafusion::scalar::ScalarValue::try_from(&ty)?
        };
        arrays.push(value.to_array_of_size(rows)?);
        fields.push(tag(&arrow_schema::Field::new(n, ty, true), Some(t)));
    }
    Ok(RecordBatch::try_new(
        std::sync::Arc::new(arrow_schema::Schema::new(fields)),
        arrays,
    )?)
}

/// `field` marked with its PostgreSQL type where Arrow's does not say it: the vector types, and `name` /
/// `name[]` (text in Arrow; drivers parse them differently: node-postgres leaves a `name[]` as its text).
fn tag(field: &arrow_schema::Field, pg_type: Option<&str>) -> arrow_schema::Field {
    match pg_type {
        Some("name") => crate::origins::with_type_oid(field, 19),
        Some("name[]") => crate::origins::with_type_oid(field, 1003),
        Some(t) => match crate::rows::Vector::named(t) {
            Some(v) => v.tag(field),
            None => field.clone(),
        },
        None => field.clone(),
    }
}

/// The empty catalog `name`, or `Ok(None)` if it is not one of them.
pub fn relation(name: &str) -> Result<Option<RecordBatch>> {
    let columns: Vec<(&str, arrow_schema::DataType)> = match name {
        "pg_description" => vec![
            ("objoid", OID),
            ("classoid", OID),
            ("objsubid", INT4),
            ("description", TEXT),
        ],
        "pg_enum" => vec![
            ("oid", OID),
            ("enumtypid", OID),
            ("enumsortorder", FLOAT4),
            ("enumlabel", NAME),
        ],
        "pg_extension" => vec![
            ("oid", OID),
            ("extname", NAME),
            ("extowner", OID),
            ("extnamespace", OID),
            ("extrelocatable", BOOL),
            ("extversion", TEXT),
            ("extconfig", oid_list()),
            ("extcondition", text_list()),
        ],
        "pg_inherits" => vec![
            ("inhrelid", OID),
            ("inhparent", OID),
            ("inhseqno", INT4),
            ("inhdetachpending", BOOL),
        ],
        "pg_opclass" => vec![
            ("oid", OID),
            ("opcmethod", OID),
            ("opcname", NAME),
            ("opcnamespace", OID),
            ("opcowner", OID),
            ("opcfamily", OID),
            ("opcintype", OID),
            ("opcdefault", BOOL),
            ("opckeytype", OID),
        ],
        "pg_views" => vec![
            ("schemaname", NAME),
            ("viewname", NAME),
            ("viewowner", NAME),
            ("definition", TEXT),
        ],
        "pg_matviews" => vec![
            ("schemaname", NAME),
            ("matviewname", NAME),
            ("matviewowner", NAME),
            ("tablespace", NAME),
            ("hasindexes", BOOL),
            ("ispopulated", BOOL),
            ("definition", TEXT),
        ],
        "pg_trigger" => vec![
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
        ],
        "pg_auth_members" => vec![
            ("roleid", OID),
            ("member", OID),
            ("grantor", OID),
            ("admin_option", BOOL),
        ],
        "pg_foreign_table" => vec![
            ("ftrelid", OID),
            ("ftserver", OID),
            ("ftoptions", text_list()),
        ],
        "pg_partitioned_table" => vec![
            ("partrelid", OID),
            ("partstrat", CHAR),
            ("partnatts", INT2),
            ("partdefid", OID),
            ("partattrs", int2_list()),
            ("partclass", oid_list()),
            ("partcollation", oid_list()),
            ("partexprs", TEXT),
        ],
        "pg_policy" => vec![
            ("oid", OID),
            ("polname", NAME),
            ("polrelid", OID),
            ("polcmd", CHAR),
            ("polpermissive", BOOL),
            ("polroles", oid_list()),
            ("polqual", TEXT),
            ("polwithcheck", TEXT),
        ],
        "pg_publication" => vec![
            ("oid", OID),
            ("pubname", NAME),
            ("pubowner", OID),
            ("puballtables", BOOL),
            ("pubinsert", BOOL),
            ("pubupdate", BOOL),
            ("pubdelete", BOOL),
            ("pubtruncate", BOOL),
            ("pubviaroot", BOOL),
        ],
        "pg_publication_namespace" => vec![("oid", OID), ("pnpubid", OID), ("pnnspid", OID)],
        "pg_publication_rel" => vec![
            ("oid", OID),
            ("prpubid", OID),
            ("prrelid", OID),
            ("prqual", TEXT),
            ("prattrs", int2_list()),
        ],
        "pg_statistic_ext" => vec![
            ("oid", OID),
            ("stxrelid", OID),
            ("stxname", NAME),
            ("stxnamespace", OID),
            ("stxowner", OID),
            ("stxstattarget", INT4),
            ("stxkeys", int2_list()),
            ("stxkind", text_list()),
            ("stxexprs", TEXT),
        ],
        other => {
            let Some((_, _, cols)) = OTHERS.get(other) else {
                return Ok(None);
            };
            let columns: Vec<(&str, DataType)> = cols
                .iter()
                .map(|(n, t)| (n.as_str(), arrow_type(t)))
                .collect();
            return Ok(Some(batch(&columns, vec![])?));
        }
    };
    Ok(Some(batch(&columns, vec![])?))
}
