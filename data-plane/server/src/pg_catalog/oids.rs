//! Object identifiers. PostgreSQL's built-in objects keep PostgreSQL's OIDs; ours are derived from the
//! engine's table id, which is assigned at CREATE and never reused, so an OID is the same in every session
//! and after a restart (tools cache them between queries).

use std::collections::HashMap;
use std::sync::LazyLock;

use omendb_storage::DataType;

pub const PG_CATALOG: i64 = 11;
pub const PUBLIC: i64 = 2200;
pub const INFORMATION_SCHEMA: i64 = 13207;
pub const PG_TOAST: i64 = 99;
/// The bootstrap role that owns the built-in objects, and the role `public` schemas belong to.
pub const SYSTEM_ROLE: i64 = 10;
pub const DATABASE_OWNER_ROLE: i64 = 6171;
pub const DATABASE: i64 = 16384;
/// The tenant's login role (every tenant connection logs in as the database's owner).
pub const TENANT_ROLE: i64 = 16385;
pub const HEAP_AM: i64 = 2;
/// Every index is a learned index with a btree's semantics (ordered, unique or not, range scans): the
/// catalog gives it PostgreSQL's btree access method, so that pg_dump writes `USING btree`, which
/// restores into PostgreSQL as into OmenDB, and drivers that ask `amname = 'btree'` (pgjdbc's
/// ASC_OR_DESC) answer as there.
pub const BTREE_AM: i64 = 403;
pub const DEFAULT_TABLESPACE: i64 = 1663;
pub const DEFAULT_COLLATION: i64 = 100;
/// The OIDs of pg_class and pg_namespace themselves (pg_description's `classoid`).
pub const PG_CLASS_CLASS: i64 = 1259;
pub const PG_NAMESPACE_CLASS: i64 = 2615;
pub const PG_TYPE_CLASS: i64 = 1247;

/// Every user table takes eight OIDs from here: the table, its primary-key index, its row type, the row
/// type's array type, the primary-key constraint, and three spare.
const USER_BASE: i64 = 16400;

/// The OID of a schema by name (the schemas that exist here are PostgreSQL's built-in ones and `public`).
pub fn namespace(name: &str) -> Option<i64> {
    Some(match name {
        "pg_catalog" => PG_CATALOG,
        "public" => PUBLIC,
        "information_schema" => INFORMATION_SCHEMA,
        "pg_toast" => PG_TOAST,
        _ => return None,
    })
}

pub fn table(id: u64) -> i64 {
    USER_BASE + 8 * id as i64
}
pub fn pk_index(id: u64) -> i64 {
    table(id) + 1
}
pub fn row_type(id: u64) -> i64 {
    table(id) + 2
}
pub fn row_array_type(id: u64) -> i64 {
    table(id) + 3
}
pub fn pk_constraint(id: u64) -> i64 {
    table(id) + 4
}
/// An enum label's `pg_enum` row: in a range of its own, 65536 labels per type.
pub fn enum_label(id: u64, number: u32) -> i64 {
    (2 << 32) + 65536 * id as i64 + i64::from(number)
}
/// A column's DEFAULT (`pg_attrdef`): in a range of its own, 2048 columns per table.
pub fn attrdef(id: u64, attnum: usize) -> i64 {
    (1 << 32) + 2048 * id as i64 + attnum as i64
}

/// PostgreSQL's system relations that are relations here, with PostgreSQL's OIDs and kinds.
pub const SYSTEM_RELATIONS: &[(&str, i64, char)] = &[
    ("pg_aggregate", 2600, 'r'),
    ("pg_am", 2601, 'r'),
    ("pg_attrdef", 2604, 'r'),
    ("pg_attribute", 1249, 'r'),
    ("pg_auth_members", 1261, 'r'),
    ("pg_authid", 1260, 'r'),
    ("pg_cast", 2605, 'r'),
    ("pg_class", 1259, 'r'),
    ("pg_collation", 3456, 'r'),
    ("pg_constraint", 2606, 'r'),
    ("pg_database", 1262, 'r'),
    ("pg_depend", 2608, 'r'),
    ("pg_description", 2609, 'r'),
    ("pg_enum", 3501, 'r'),
    ("pg_extension", 3079, 'r'),
    ("pg_foreign_table", 3118, 'r'),
    ("pg_index", 2610, 'r'),
    ("pg_indexes", 12043, 'v'),
    ("pg_inherits", 2611, 'r'),
    ("pg_locks", 12073, 'v'),
    ("pg_matviews", 12038, 'v'),
    ("pg_namespace", 2615, 'r'),
    ("pg_opclass", 2616, 'r'),
    ("pg_operator", 2617, 'r'),
    ("pg_partitioned_table", 3350, 'r'),
    ("pg_policy", 3256, 'r'),
    ("pg_proc", 1255, 'r'),
    ("pg_publication", 6104, 'r'),
    ("pg_publication_namespace", 6237, 'r'),
    ("pg_publication_rel", 6106, 'r'),
    ("pg_rewrite", 2618, 'r'),
    ("pg_roles", 12000, 'v'),
    ("pg_sequence", 2224, 'r'),
    ("pg_sequences", 12048, 'v'),
    ("pg_settings", 12104, 'v'),
    ("pg_stat_activity", 12222, 'v'),
    ("pg_stat_user_indexes", 12192, 'v'),
    ("pg_stat_user_tables", 12161, 'v'),
    ("pg_statistic_ext", 3381, 'r'),
    ("pg_tables", 12033, 'v'),
    ("pg_tablespace", 1213, 'r'),
    ("pg_trigger", 2620, 'r'),
    ("pg_type", 1247, 'r'),
    ("pg_user", 12014, 'v'),
    ("pg_views", 12028, 'v'),
];

/// How a column type appears in `pg_attribute` and `pg_type`.
pub struct TypeInfo {
    pub oid: i64,
    pub typmod: i32,
    pub len: i16,
    pub byval: bool,
    pub align: char,
    pub storage: char,
    pub collation: i64,
}

pub fn type_info(t: DataType) -> TypeInfo {
    if let DataType::Array(elem) = t {
        let e = type_info(elem.scalar());
        return TypeInfo {
            oid: array_of(e.oid).unwrap_or(0),
            typmod: e.typmod,
            len: -1,
            byval: false,
            align: if e.align == 'd' { 'd' } else { 'i' },
            storage: 'x',
            collation: e.collation,
        };
    }
    let (oid, len, byval, align, storage) = match t {
        DataType::SmallInt => (21, 2, true, 's', 'p'),
        DataType::Integer => (23, 4, true, 'i', 'p'),
        DataType::BigInt => (20, 8, true, 'd', 'p'),
        DataType::Real => (700, 4, true, 'i', 'p'),
        DataType::Double => (701, 8, true, 'd', 'p'),
        DataType::Boolean => (16, 1, true, 'c', 'p'),
        DataType::Text => (25, -1, false, 'i', 'x'),
        DataType::Bytea => (17, -1, false, 'i', 'x'),
        DataType::Timestamp => (1114, 8, true, 'd', 'p'),
        DataType::TimestampTz => (1184, 8, true, 'd', 'p'),
        DataType::Date => (1082, 4, true, 'i', 'p'),
        DataType::Time => (1083, 8, true, 'd', 'p'),
        DataType::Numeric { .. } => (1700, -1, false, 'i', 'm'),
        DataType::Varchar { .. } => (1043, -1, false, 'i', 'x'),
        DataType::Char { .. } => (1042, -1, false, 'i', 'x'),
        DataType::Uuid => (2950, 16, false, 'c', 'p'),
        DataType::Json => (114, -1, false, 'i', 'x'),
        DataType::Jsonb => (3802, -1, false, 'i', 'x'),
        DataType::Array(_) => unreachable!("arrays are answered above"),
        DataType::Interval => (1186, 16, false, 'd', 'p'),
        DataType::Enum { type_id } => (table(type_id), 4, true, 'i', 'p'),
    };
    let typmod = match t {
        DataType::Numeric { precision, scale } => {
            ((i32::from(precision) << 16) | i32::from(scale as u8)) + 4
        }
        // PostgreSQL's typmod of a length-bounded text type is the length plus the 4-byte header.
        DataType::Varchar { max: Some(n) } | DataType::Char { len: n } => n as i32 + 4,
        _ => -1,
    };
    TypeInfo {
        oid,
        typmod,
        len,
        byval,
        align,
        storage,
        collation: if matches!(
            t,
            DataType::Text | DataType::Varchar { .. } | DataType::Char { .. }
        ) {
            DEFAULT_COLLATION
        } else {
            0
        },
    }
}

/// The OID of the array type of the built-in type `elem`.
pub fn array_of(elem: i64) -> Option<i64> {
    TYPES
        .iter()
        .filter(|(_, (_, e))| *e == elem)
        .map(|(o, _)| *o)
        .min()
}

/// PostgreSQL's built-in types: OID to (name, element type of an array type).
pub static TYPES: LazyLock<HashMap<i64, (String, i64)>> = LazyLock::new(|| {
    let tsv = include_str!("data/pg_type.tsv");
    let mut lines = tsv.lines();
    let header: Vec<&str> = lines.next().unwrap_or_default().split('\t').collect();
    let col = |n: &str| header.iter().position(|h| *h == n).expect("pg_type column");
    let (o, n, e, c) = (
        col("oid"),
        col("typname"),
        col("typelem"),
        col("typcategory"),
    );
    lines
        .filter_map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            let elem = if f[c] == "A" { f[e].parse().ok()? } else { 0 };
            Some((f[o].parse().ok()?, (f[n].to_string(), elem)))
        })
        .collect()
});

/// The OID of a built-in function by name (the first of its overloads).
pub fn function_by_name(name: &str) -> Option<i64> {
    static BY_NAME: LazyLock<HashMap<String, i64>> = LazyLock::new(|| {
        let tsv = include_str!("data/pg_proc_names.tsv");
        let mut lines = tsv.lines();
        let header: Vec<&str> = lines.next().unwrap_or_default().split('\t').collect();
        let col = |n: &str| header.iter().position(|h| *h == n).expect("pg_proc column");
        let (o, n) = (col("oid"), col("proname"));
        let mut out = HashMap::new();
        for l in lines {
            let f: Vec<&str> = l.split('\t').collect();
            if let Ok(oid) = f[o].parse::<i64>() {
                out.entry(f[n].to_string()).or_insert(oid);
            }
        }
        out
    });
    BY_NAME.get(name.trim_start_matches("pg_catalog.")).copied()
}

/// A built-in function's result type and argument types as `pg_get_function_result` and
/// `pg_get_function_arguments` print them.
pub fn function_signature(oid: i64) -> Option<(String, String)> {
    static FUNCTIONS: LazyLock<HashMap<i64, (i64, String)>> = LazyLock::new(|| {
        let tsv = include_str!("data/pg_proc_names.tsv");
        let mut lines = tsv.lines();
        let header: Vec<&str> = lines.next().unwrap_or_default().split('\t').collect();
        let col = |n: &str| header.iter().position(|h| *h == n).expect("pg_proc column");
        let (o, r, a) = (col("oid"), col("prorettype"), col("proargtypes"));
        lines
            .filter_map(|l| {
                let f: Vec<&str> = l.split('\t').collect();
                Some((f[o].parse().ok()?, (f[r].parse().ok()?, f[a].to_string())))
            })
            .collect()
    });
    let (ret, args) = FUNCTIONS.get(&oid)?;
    let args = args
        .split_whitespace()
        .filter_map(|t| format_type(t.parse().ok()?, None))
        .collect::<Vec<_>>()
        .join(", ");
    Some((format_type(*ret, None)?, args))
}

/// `format_type(oid, typmod)`: PostgreSQL's SQL name of a type, with its modifier.
pub fn format_type(oid: i64, typmod: Option<i32>) -> Option<String> {
    let typmod = typmod.filter(|m| *m >= 0);
    let name = match oid {
        16 => "boolean".to_string(),
        18 => "\"char\"".to_string(),
        20 => "bigint".to_string(),
        21 => "smallint".to_string(),
        23 => "integer".to_string(),
        700 => "real".to_string(),
        701 => "double precision".to_string(),
        1043 => match typmod {
            Some(m) => format!("character varying({})", m - 4),
            None => "character varying".to_string(),
        },
        1042 => match typmod {
            Some(m) => format!("character({})", m - 4),
            None => "bpchar".to_string(),
        },
        1700 => match typmod {
            Some(m) => format!("numeric({},{})", ((m - 4) >> 16) & 0xffff, (m - 4) & 0xffff),
            None => "numeric".to_string(),
        },
        1114 => "timestamp without time zone".to_string(),
        1184 => "timestamp with time zone".to_string(),
        1083 => "time without time zone".to_string(),
        1266 => "time with time zone".to_string(),
        1560 => "bit".to_string(),
        1562 => "bit varying".to_string(),
        _ => {
            let (name, elem) = TYPES.get(&oid)?;
            if *elem != 0 {
                return Some(format!("{}[]", format_type(*elem, typmod)?));
            }
            name.clone()
        }
    };
    Some(name)
}

/// A built-in type's OID from a name as SQL writes it (`int4`, `integer`, `character varying`, `text[]`).
pub fn type_by_name(name: &str) -> Option<i64> {
    let n = name.trim().trim_start_matches("pg_catalog.").to_lowercase();
    if let Some(elem) = n.strip_suffix("[]") {
        let e = type_by_name(elem)?;
        return TYPES.iter().find(|(_, (_, el))| *el == e).map(|(o, _)| *o);
    }
    let alias = match n.as_str() {
        "boolean" => "bool",
        "smallint" => "int2",
        "integer" | "int" => "int4",
        "bigint" => "int8",
        "real" => "float4",
        "double precision" | "float" => "float8",
        "character varying" | "varchar" => "varchar",
        "character" | "char" => "bpchar",
        "timestamp" | "timestamp without time zone" => "timestamp",
        "timestamp with time zone" => "timestamptz",
        "time" | "time without time zone" => "time",
        "decimal" => "numeric",
        other => other,
    };
    TYPES.iter().find(|(_, (n, _))| n == alias).map(|(o, _)| *o)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn format_type_like_postgres() {
        let t = type_info(DataType::Numeric {
            precision: 10,
            scale: 2,
        });
        assert_eq!(
            format_type(t.oid, Some(t.typmod)).as_deref(),
            Some("numeric(10,2)")
        );
        assert_eq!(
            format_type(1184, None).as_deref(),
            Some("timestamp with time zone")
        );
        assert_eq!(format_type(1007, None).as_deref(), Some("integer[]"));
        assert_eq!(format_type(25, Some(-1)).as_deref(), Some("text"));
        assert_eq!(
            format_type(1043, Some(24)).as_deref(),
            Some("character varying(20)")
        );
        assert_eq!(type_by_name("integer"), Some(23));
        assert_eq!(type_by_name("pg_catalog.int8"), Some(20));
        assert_eq!(type_by_name("text[]"), Some(1009));
    }
}
