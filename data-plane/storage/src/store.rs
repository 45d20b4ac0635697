//! The redb metadata store: catalog, manifest, the WAL records of commits that change those, and counters,
//! byte is reported as corruption naming the file, not decoded into nonsense.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use redb::{Database, Durability, ReadableDatabase, ReadableTable, TableDefinition};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::chunk::ChunkMeta;
use crate::error::{Error, Result, store_err};
use crate::types::{Key, Row, TableDef};

const CATALOG: TableDefinition<u64, &[u8]> = TableDefinition::new("catalog");
const MANIFEST: TableDefinition<u64, &[u8]> = TableDefinition::new("manifest");
const WAL: TableDefinition<u64, &[u8]> = TableDefinition::new("wal");
const META: TableDefinition<&str, u64> = TableDefinition::new("meta");
/// Schemas other than `public`: name to id.
const SCHEMAS: TableDefinition<&str, u64> = TableDefinition::new("schemas");
/// COMMENT ON: (object id, sub-id) to text.
const COMMENTS: TableDefinition<(u64, u32), &str> = TableDefinition::new("comments");
/// Sequence definitions: storage name to encoded `SequenceDef`.
const SEQUENCES: TableDefinition<&str, &[u8]> = TableDefinition::new("sequences");
const VIEWS: TableDefinition<&str, &[u8]> = TableDefinition::new("views");
const TYPES: TableDefinition<u64, &[u8]> = TableDefinition::new("types");
/// Secondary index definitions: table id to its encoded `Vec<IndexDef>`.
const INDEXES: TableDefinition<u64, &[u8]> = TableDefinition::new("indexes");
/// Foreign keys: referencing table id to its encoded `Vec<ForeignKey>`.
const FOREIGN_KEYS: TableDefinition<u64, &[u8]> = TableDefinition::new("foreign_keys");
/// CHECK constraints: table id to its encoded `Vec<CheckDef>`.
const CHECKS: TableDefinition<u64, &[u8]> = TableDefinition::new("checks");
/// Sequence values as last logged: id to (value, is_called); written outside transactions.
const SEQUENCE_VALUES: TableDefinition<u64, (i64, bool)> = TableDefinition::new("sequence_values");

pub(crate) const META_NEXT_LSN: &str = "next_lsn";
pub(crate) const META_NEXT_FILE: &str = "next_file_id";
pub(crate) const META_NEXT_TABLE: &str = "next_table_id";

#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct CatalogEntry {
    pub id: u64,
    pub def: TableDef,
}

/// Catalog entries are written in layout 2, whose columns carry `missing`; a store from before holds the first.
const CATALOG_LAYOUT: u8 = 2;

#[derive(Serialize, Deserialize)]
struct CatalogEntryV1 {
    id: u64,
    name: String,
    columns: Vec<ColumnDefV1>,
    primary_key: Option<usize>,
}

#[derive(Serialize, Deserialize)]
struct ColumnDefV1 {
    name: String,
    data_type: crate::types::DataType,
    nullable: bool,
    default: Option<String>,
}

impl From<CatalogEntryV1> for CatalogEntry {
    fn from(v: CatalogEntryV1) -> CatalogEntry {
        let columns = v
            .columns
            .into_iter()
            .map(|c| crate::types::ColumnDef {
                name: c.name,
                data_type: c.data_type,
                nullable: c.nullable,
                default: c.default,
                missing: None,
            })
            .collect();
        CatalogEntry {
            id: v.id,
            def: TableDef {
                name: v.name,
                columns,
                primary_key: v.primary_key,
            },
        }
    }
}

/// Which chunk files make up a table, and up to which LSN they hold its commits.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub(crate) struct Manifest {
    pub checkpoint_lsn: u64,
    pub chunks: Vec<ChunkMeta>,
}

impl Manifest {
    /// The manifest of a table version: its file-backed chunks and checkpoint.
    pub fn of(tv: &crate::version::TableVersion) -> Manifest {
        Manifest {
            checkpoint_lsn: tv.checkpoint_lsn,
            chunks: tv
                .chunks
                .iter()
                .filter(|c| c.is_persisted())
                .map(|c| c.meta.clone())
                .collect(),
        }
    }
}

/// One commit's changes: full row images and deletions, replayed blindly (in LSN order) on recovery.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct WalRecord {
    pub tables: Vec<WalTable>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct WalTable {
    pub table_id: u64,
    pub ops: Vec<WalOp>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) enum WalOp {
    Put(Row),
    Delete(Key),
}

pub(crate) fn encode<T: Serialize>(v: &T) -> Vec<u8> {
    // The body goes straight after the 4 bytes the CRC takes: one buffer, no copy.
    let mut out = postcard::to_extend(v, vec![0u8; 4]).expect("in-memory encoding cannot fail");
    let crc = crc32c::crc32c(&out[4..]);
    out[..4].copy_from_slice(&crc.to_le_bytes());
    out
}

/// The start of a record body in a layout after the first: these two bytes, then the layout's number. Postcard
/// never starts a record with them (0xFF 0x00 would be a non-canonical length), so a body without them is the
/// first layout, as a store written before the layout changed holds it.
const LAYOUT: [u8; 2] = [0xFF, 0x00];

/// `encode` in layout `layout` (> 1).
pub(crate) fn encode_layout<T: Serialize>(layout: u8, v: &T) -> Vec<u8> {
    let mut head = vec![0u8; 4];
    head.extend_from_slice(&LAYOUT);
    head.push(layout);
    let mut out = postcard::to_extend(v, head).expect("in-memory encoding cannot fail");
    let crc = crc32c::crc32c(&out[4..]);
    out[..4].copy_from_slice(&crc.to_le_bytes());
    out
}

/// `decode` of a record written by `encode_layout(layout, ..)`, or by `encode` in the first layout `L`
/// (upgraded by `first`).
pub(crate) fn decode_layout<T: DeserializeOwned, L: DeserializeOwned>(
    path: &Path,
    what: &str,
    bytes: &[u8],
    layout: u8,
    first: impl FnOnce(L) -> T,
) -> Result<T> {
    if bytes.len() >= 7 && bytes[4..6] == LAYOUT {
        if bytes[6] != layout {
            return Err(Error::corrupt(
                path,
                format!("{what}: layout {} is not {layout}", bytes[6]),
            ));
        }
        let crc = u32::from_le_bytes(bytes[..4].try_into().expect("4 bytes"));
        if crc32c::crc32c(&bytes[4..]) != crc {
            return Err(Error::corrupt(path, format!("{what}: checksum mismatch")));
        }
        return postcard::from_bytes(&bytes[7..])
            .map_err(|e| Error::corrupt(path, format!("{what}: {e}")));
    }
    decode::<L>(path, what, bytes).map(first)
}

pub(crate) fn decode<T: DeserializeOwned>(path: &Path, what: &str, bytes: &[u8]) -> Result<T> {
    if bytes.len() < 4 {
        return Err(Error::corrupt(path, format!("{what}: record too short")));
    }
    let crc = u32::from_le_bytes(bytes[..4].try_into().expect("4 bytes"));
    if crc32c::crc32c(&bytes[4..]) != crc {
        return Err(Error::corrupt(path, format!("{what}: checksum mismatch")));
    }
    postcard::from_bytes(&bytes[4..]).map_err(|e| Error::corrupt(path, format!("{what}: {e}")))
}

/// Everything recovery needs from the store.
pub(crate) struct Loaded {
    pub catalog: Vec<CatalogEntry>,
    pub manifests: HashMap<u64, Manifest>,
    pub wal: Vec<(u64, WalRecord)>,
    pub meta: HashMap<String, u64>,
    pub schemas: Vec<(String, u64)>,
    pub comments: Vec<((u64, u32), String)>,
    pub sequences: Vec<crate::sequence::SequenceDef>,
    pub views: Vec<crate::view::ViewDef>,
    pub types: Vec<crate::enum_type::EnumDef>,
    pub indexes: Vec<(u64, Vec<crate::index::IndexDef>)>,
    pub foreign_keys: Vec<(u64, Vec<crate::foreign_key::ForeignKey>)>,
    pub checks: Vec<(u64, Vec<crate::check::CheckDef>)>,
}

/// The writes of one store transaction.
#[derive(Default)]
pub(crate) struct StoreBatch {
    pub wal: Vec<(u64, Vec<u8>)>,
    pub manifests: Vec<(u64, Option<Manifest>)>,
    pub catalog: Vec<(u64, Option<CatalogEntry>)>,
    pub schemas: Vec<(String, Option<u64>)>,
    pub comments: Vec<((u64, u32), Option<String>)>,
    pub sequences: Vec<(String, Option<crate::sequence::SequenceDef>)>,
    pub views: Vec<(String, Option<crate::view::ViewDef>)>,
    /// Enum types by id (`None`: dropped).
    pub types: Vec<(u64, Option<crate::enum_type::EnumDef>)>,
    /// A table's index definitions, all of them (`None`: the table is gone).
    pub indexes: Vec<(u64, Option<Vec<crate::index::IndexDef>>)>,
    /// A table's foreign keys, all of them (`None`: the table is gone).
    pub foreign_keys: Vec<(u64, Option<Vec<crate::foreign_key::ForeignKey>>)>,
    /// A table's CHECK constraints, all of them (`None`: the table is gone).
    pub checks: Vec<(u64, Option<Vec<crate::check::CheckDef>>)>,
    /// Remove WAL records with LSN <= this.
    pub truncate_wal_upto: Option<u64>,
    pub meta: Vec<(&'static str, u64)>,
}

/// The rows of a table of per-table lists (indexes, foreign keys, checks): table id and its list.
fn read_lists<T: DeserializeOwned>(
    tx: &redb::ReadTransaction,
    def: TableDefinition<u64, &[u8]>,
    p: &Path,
    what: &str,
) -> Result<Vec<(u64, Vec<T>)>> {
    let e = |x: redb::Error| store_err(p, x);
    let mut out = Vec::new();
    for item in tx
        .open_table(def)
        .map_err(|x| e(x.into()))?
        .iter()
        .map_err(|x| e(x.into()))?
    {
        let (k, v) = item.map_err(|x| e(x.into()))?;
        out.push((k.value(), decode(p, what, v.value())?));
    }
    Ok(out)
}

/// A table's index definitions in layout 3 (with `predicate`), 2 (with `primary` and `options`) or the
/// first.
fn decode_index_list(p: &Path, bytes: &[u8]) -> Result<Vec<crate::index::IndexDef>> {
    use crate::index::{INDEX_LAYOUT, IndexDefV1, IndexDefV2};
    let first = |v: Vec<IndexDefV1>| v.into_iter().map(Into::into).collect();
    if bytes.len() >= 7 && bytes[4..6] == LAYOUT && bytes[6] == 2 {
        let second: Vec<IndexDefV2> =
            decode_layout(p, "indexes", bytes, 2, |_: Vec<IndexDefV1>| {
                unreachable!("a layout header was read")
            })?;
        return Ok(second.into_iter().map(Into::into).collect());
    }
    decode_layout(p, "indexes", bytes, INDEX_LAYOUT, first)
}

/// Each table's index definitions, in any layout.
fn read_index_lists(
    tx: &redb::ReadTransaction,
    p: &Path,
) -> Result<Vec<(u64, Vec<crate::index::IndexDef>)>> {
    let e = |x: redb::Error| store_err(p, x);
    let mut out = Vec::new();
    for item in tx
        .open_table(INDEXES)
        .map_err(|x| e(x.into()))?
        .iter()
        .map_err(|x| e(x.into()))?
    {
        let (k, v) = item.map_err(|x| e(x.into()))?;
        out.push((k.value(), decode_index_list(p, v.value())?));
    }
    Ok(out)
}

/// Writes each table's whole list (an empty list or `None` removes the row), in layout `layout` when given.
fn write_lists<T: Serialize>(
    tx: &redb::WriteTransaction,
    def: TableDefinition<u64, &[u8]>,
    rows: &[(u64, Option<Vec<T>>)],
    p: &Path,
    layout: Option<u8>,
) -> Result<()> {
    let e = |x: redb::Error| store_err(p, x);
    let mut table = tx.open_table(def).map_err(|x| e(x.into()))?;
    for (id, list) in rows {
        let bytes = |l: &Vec<T>| match layout {
            Some(n) => encode_layout(n, l),
            None => encode(l),
        };
        match list {
            Some(l) if !l.is_empty() => table.insert(*id, bytes(l).as_slice()).map(drop),
            _ => table.remove(*id).map(drop),
        }
        .map_err(|x| e(x.into()))?;
    }
    Ok(())
}

pub(crate) struct Store {
    db: Database,
    path: PathBuf,
}

impl Store {
    pub fn open(path: &Path) -> Result<Store> {
        let db = std::panic::catch_unwind(|| Database::builder().create(path))
            .map_err(|_| Error::corrupt(path, "metadata store could not be read"))?
            .map_err(|e| store_err(path, e))?;
        let store = Store {
            db,
            path: path.to_path_buf(),
        };
        // Create the tables on first use so readers can always open them.
        store.commit(StoreBatch::default())?;
        Ok(store)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn load(&self) -> Result<Loaded> {
        let p = &self.path;
        let e = |x: redb::Error| store_err(p, x);
        let tx = self.db.begin_read().map_err(|x| e(x.into()))?;
        let mut catalog = Vec::new();
        for item in tx
            .open_table(CATALOG)
            .map_err(|x| e(x.into()))?
            .iter()
            .map_err(|x| e(x.into()))?
        {
            let (_, v) = item.map_err(|x| e(x.into()))?;
            catalog.push(decode_layout(
                p,
                "catalog entry",
                v.value(),
                CATALOG_LAYOUT,
                |first: CatalogEntryV1| first.into(),
            )?);
        }
        let mut manifests = HashMap::new();
        for item in tx
            .open_table(MANIFEST)
            .map_err(|x| e(x.into()))?
            .iter()
            .map_err(|x| e(x.into()))?
        {
            let (k, v) = item.map_err(|x| e(x.into()))?;
            manifests.insert(k.value(), decode::<Manifest>(p, "manifest", v.value())?);
        }
        let mut wal = Vec::new();
        for item in tx
            .open_table(WAL)
            .map_err(|x| e(x.into()))?
            .iter()
            .map_err(|x| e(x.into()))?
        {
            let (k, v) = item.map_err(|x| e(x.into()))?;
            let lsn = k.value();
            wal.push((
                lsn,
                decode::<WalRecord>(p, &format!("WAL record {lsn}"), v.value())?,
            ));
        }
        let mut meta = HashMap::new();
        for item in tx
            .open_table(META)
            .map_err(|x| e(x.into()))?
            .iter()
            .map_err(|x| e(x.into()))?
        {
            let (k, v) = item.map_err(|x| e(x.into()))?;
            meta.insert(k.value().to_string(), v.value());
        }
        let mut schemas = Vec::new();
        for item in tx
            .open_table(SCHEMAS)
            .map_err(|x| e(x.into()))?
            .iter()
            .map_err(|x| e(x.into()))?
        {
            let (k, v) = item.map_err(|x| e(x.into()))?;
            schemas.push((k.value().to_string(), v.value()));
        }
        let mut comments = Vec::new();
        for item in tx
            .open_table(COMMENTS)
            .map_err(|x| e(x.into()))?
            .iter()
            .map_err(|x| e(x.into()))?
        {
            let (k, v) = item.map_err(|x| e(x.into()))?;
            comments.push((k.value(), v.value().to_string()));
        }
        let mut sequences = Vec::new();
        for item in tx
            .open_table(SEQUENCES)
            .map_err(|x| e(x.into()))?
            .iter()
            .map_err(|x| e(x.into()))?
        {
            let (_, v) = item.map_err(|x| e(x.into()))?;
            sequences.push(decode(p, "sequence", v.value())?);
        }
        let mut views = Vec::new();
        // A store written before views existed has no such table.
        if let Ok(table) = tx.open_table(VIEWS) {
            for item in table.iter().map_err(|x| e(x.into()))? {
                let (_, v) = item.map_err(|x| e(x.into()))?;
                views.push(decode(p, "view", v.value())?);
            }
        }
        let mut types = Vec::new();
        // A store written before enum types existed has no such table.
        if let Ok(table) = tx.open_table(TYPES) {
            for item in table.iter().map_err(|x| e(x.into()))? {
                let (_, v) = item.map_err(|x| e(x.into()))?;
                types.push(decode(p, "type", v.value())?);
            }
        }
        let indexes = read_index_lists(&tx, p)?;
        let foreign_keys = read_lists(&tx, FOREIGN_KEYS, p, "foreign keys")?;
        let checks = read_lists(&tx, CHECKS, p, "checks")?;
        Ok(Loaded {
            checks,
            indexes,
            foreign_keys,
            catalog,
            manifests,
            wal,
            meta,
            schemas,
            comments,
            sequences,
            views,
            types,
        })
    }

    /// A sequence's logged (value, is_called), if it was ever logged.
    pub fn sequence_value(&self, id: u64) -> Result<Option<(i64, bool)>> {
        let p = &self.path;
        let e = |x: redb::Error| store_err(p, x);
        let tx = self.db.begin_read().map_err(|x| e(x.into()))?;
        let table = match tx.open_table(SEQUENCE_VALUES) {
            Ok(t) => t,
            Err(redb::TableError::TableDoesNotExist(_)) => return Ok(None),
            Err(x) => return Err(e(x.into())),
        };
        Ok(table.get(id).map_err(|x| e(x.into()))?.map(|v| v.value()))
    }

    /// Logs a sequence's (value, is_called) durably (fsync'd when this returns).
    pub fn log_sequence_value(&self, id: u64, value: i64, called: bool) -> Result<()> {
        let p = &self.path;
        let e = |x: redb::Error| store_err(p, x);
        let mut tx = self.db.begin_write().map_err(|x| e(x.into()))?;
        tx.set_durability(Durability::Immediate)
            .map_err(|x| Error::Store(x.to_string()))?;
        {
            let mut t = tx.open_table(SEQUENCE_VALUES).map_err(|x| e(x.into()))?;
            t.insert(id, (value, called)).map_err(|x| e(x.into()))?;
        }
        tx.commit().map_err(|x| e(x.into()))
    }

    /// One redb transaction with Immediate durability: when this returns Ok, the batch is on disk.
    pub fn commit(&self, b: StoreBatch) -> Result<()> {
        let p = &self.path;
        let e = |x: redb::Error| store_err(p, x);
        let mut tx = self.db.begin_write().map_err(|x| e(x.into()))?;
        tx.set_durability(Durability::Immediate)
            .map_err(|x| Error::Store(x.to_string()))?;
        {
            let mut wal = tx.open_table(WAL).map_err(|x| e(x.into()))?;
            if let Some(upto) = b.truncate_wal_upto {
                wal.retain_in(..=upto, |_, _| false)
                    .map_err(|x| e(x.into()))?;
            }
            for (lsn, bytes) in &b.wal {
                wal.insert(*lsn, bytes.as_slice())
                    .map_err(|x| e(x.into()))?;
            }
            let mut man = tx.open_table(MANIFEST).map_err(|x| e(x.into()))?;
            for (id, m) in &b.manifests {
                match m {
                    Some(m) => man.insert(*id, encode(m).as_slice()).map(drop),
                    None => man.remove(*id).map(drop),
                }
                .map_err(|x| e(x.into()))?;
            }
            let mut cat = tx.open_table(CATALOG).map_err(|x| e(x.into()))?;
            for (id, c) in &b.catalog {
                match c {
                    Some(c) => cat
                        .insert(*id, encode_layout(CATALOG_LAYOUT, c).as_slice())
                        .map(drop),
                    None => cat.remove(*id).map(drop),
                }
                .map_err(|x| e(x.into()))?;
            }
            let mut schemas = tx.open_table(SCHEMAS).map_err(|x| e(x.into()))?;
            for (name, id) in &b.schemas {
                match id {
                    Some(id) => schemas.insert(name.as_str(), *id).map(drop),
                    None => schemas.remove(name.as_str()).map(drop),
                }
                .map_err(|x| e(x.into()))?;
            }
            let mut comments = tx.open_table(COMMENTS).map_err(|x| e(x.into()))?;
            for (key, text) in &b.comments {
                match text {
                    Some(t) => comments.insert(*key, t.as_str()).map(drop),
                    None => comments.remove(*key).map(drop),
                }
                .map_err(|x| e(x.into()))?;
            }
            let mut sequences = tx.open_table(SEQUENCES).map_err(|x| e(x.into()))?;
            for (name, def) in &b.sequences {
                match def {
                    Some(d) => sequences
                        .insert(name.as_str(), encode(d).as_slice())
                        .map(drop),
                    None => sequences.remove(name.as_str()).map(drop),
                }
                .map_err(|x| e(x.into()))?;
            }
            if !b.views.is_empty() {
                let mut views = tx.open_table(VIEWS).map_err(|x| e(x.into()))?;
                for (name, def) in &b.views {
                    match def {
                        Some(d) => views.insert(name.as_str(), encode(d).as_slice()).map(drop),
                        None => views.remove(name.as_str()).map(drop),
                    }
                    .map_err(|x| e(x.into()))?;
                }
            }
            if !b.types.is_empty() {
                let mut types = tx.open_table(TYPES).map_err(|x| e(x.into()))?;
                for (id, def) in &b.types {
                    match def {
                        Some(d) => types.insert(*id, encode(d).as_slice()).map(drop),
                        None => types.remove(*id).map(drop),
                    }
                    .map_err(|x| e(x.into()))?;
                }
            }
            write_lists(
                &tx,
                INDEXES,
                &b.indexes,
                p,
                Some(crate::index::INDEX_LAYOUT),
            )?;
            write_lists(&tx, FOREIGN_KEYS, &b.foreign_keys, p, None)?;
            write_lists(&tx, CHECKS, &b.checks, p, None)?;
            let mut meta = tx.open_table(META).map_err(|x| e(x.into()))?;
            for (k, v) in &b.meta {
                meta.insert(*k, *v).map_err(|x| e(x.into()))?;
            }
        }
        tx.commit().map_err(|x| e(x.into()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::index::{INDEX_LAYOUT, IndexDef, IndexDefV1, IndexDefV2};

    #[test]
    fn catalog_entries_of_the_first_layout_still_read() {
        let p = Path::new("meta.redb");
        let first = encode(&CatalogEntryV1 {
            id: 4,
            name: "t".into(),
            columns: vec![ColumnDefV1 {
                name: "a".into(),
                data_type: crate::types::DataType::BigInt,
                nullable: false,
                default: Some("7".into()),
            }],
            primary_key: Some(0),
        });
        let read: CatalogEntry = decode_layout(
            p,
            "catalog entry",
            &first,
            CATALOG_LAYOUT,
            |v: CatalogEntryV1| v.into(),
        )
        .unwrap();
        let mut column = crate::types::ColumnDef::new("a", crate::types::DataType::BigInt)
            .not_null()
            .with_default("7");
        assert_eq!(read.id, 4);
        assert_eq!(read.def.columns, vec![column.clone()]);
        assert_eq!(read.def.primary_key, Some(0));

        column.missing = Some(crate::types::Value::Int64(7));
        let now = CatalogEntry {
            id: 4,
            def: TableDef {
                name: "t".into(),
                columns: vec![column],
                primary_key: Some(0),
            },
        };
        let bytes = encode_layout(CATALOG_LAYOUT, &now);
        let again: CatalogEntry = decode_layout(
            p,
            "catalog entry",
            &bytes,
            CATALOG_LAYOUT,
            |v: CatalogEntryV1| v.into(),
        )
        .unwrap();
        assert_eq!(again.def, now.def);
    }

    #[test]
    fn index_definitions_of_the_first_layout_still_read() {
        let p = Path::new("meta.redb");
        let first = encode(&vec![IndexDefV1 {
            id: 7,
            name: "t_a_key".into(),
            table_id: 3,
            columns: vec![0, 2],
            unique: true,
            constraint: Some("t_a_key".into()),
        }]);
        let read: Vec<IndexDef> =
            decode_layout(p, "indexes", &first, INDEX_LAYOUT, |v: Vec<IndexDefV1>| {
                v.into_iter().map(Into::into).collect()
            })
            .unwrap();
        assert_eq!(read.len(), 1);
        assert_eq!(
            (read[0].id, read[0].columns.clone(), read[0].unique),
            (7, vec![0, 2], true)
        );
        assert!(!read[0].primary && read[0].options.is_empty());

        let mut now = read.clone();
        now[0].primary = true;
        now[0].options = vec![3, 0];
        let bytes = encode_layout(INDEX_LAYOUT, &now);
        let again: Vec<IndexDef> =
            decode_layout(p, "indexes", &bytes, INDEX_LAYOUT, |v: Vec<IndexDefV1>| {
                v.into_iter().map(Into::into).collect()
            })
            .unwrap();
        assert_eq!(again, now);
        assert_eq!(decode_index_list(p, &bytes).unwrap(), now);
        // Layout 2 (before partial indexes) reads with no predicate.
        let second = encode_layout(
            2,
            &vec![IndexDefV2 {
                id: 7,
                name: "t_a_key".into(),
                table_id: 3,
                columns: vec![0, 2],
                unique: true,
                constraint: Some("t_a_key".into()),
                primary: true,
                options: vec![3, 0],
            }],
        );
        assert_eq!(decode_index_list(p, &second).unwrap(), now);
        assert_eq!(decode_index_list(p, &first).unwrap(), read);
        let mut partial = now.clone();
        partial[0].predicate = Some("a > 0".into());
        partial[0].expressions = vec![Some("lower(a)".into()), None];
        let third = encode_layout(INDEX_LAYOUT, &partial);
        assert_eq!(decode_index_list(p, &third).unwrap(), partial);
        // A flipped byte is caught in either layout.
        let mut bad = bytes.clone();
        *bad.last_mut().unwrap() ^= 1;
        assert!(
            decode_layout(p, "indexes", &bad, INDEX_LAYOUT, |v: Vec<IndexDefV1>| {
                v.into_iter().map(Into::into).collect::<Vec<IndexDef>>()
            })
            .is_err()
        );
    }
}
