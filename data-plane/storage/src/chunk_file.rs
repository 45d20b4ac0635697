//! The chunk file format. One file per chunk, written once, fsynced, then named in the manifest.
//!
//! ```text
//! "OMDBCHK1" | Arrow IPC stream (one batch) | learned model | footer (56 bytes)
//! footer: table_id u64 | rows u64 | ipc_len u64 | model_len u64 | crc_ipc u32 | crc_model u32 | version u32
//!         | reserved u32 | crc_footer u32 (over the previous 48 bytes) | "OMCE"
//! ```

use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use arrow_array::RecordBatch;
use arrow_buffer::Buffer;
use arrow_ipc::reader::StreamDecoder;
use arrow_ipc::writer::StreamWriter;
use omendb_learned::PgmIndex;

use crate::chunk::ChunkData;
use crate::error::{Error, Result};
use crate::types::TableShape;

const MAGIC: &[u8; 8] = b"OMDBCHK1";
const END: &[u8; 4] = b"OMCE";
const FOOTER: usize = 56;
const VERSION: u32 = 1;

pub(crate) fn file_name(id: u64) -> String {
    format!("{id:016x}.chunk")
}

pub(crate) fn path_for(dir: &Path, id: u64) -> PathBuf {
    dir.join(file_name(id))
}

/// Parses a chunk file name back into its id.
pub(crate) fn id_from_name(name: &str) -> Option<u64> {
    let hex = name.strip_suffix(".chunk")?;
    (hex.len() == 16)
        .then(|| u64::from_str_radix(hex, 16).ok())
        .flatten()
}

/// Writes the chunk: data to a temporary name, fsync (unless the caller batches fsyncs), rename. The caller fsyncs the directory once for
/// all files of one operation, before the manifest names them.
/// With `sync == false` the caller must fsync the file before any manifest names it.
pub(crate) fn write(
    dir: &Path,
    id: u64,
    table_id: u64,
    data: &ChunkData,
    sync: bool,
) -> Result<u64> {
    let path = path_for(dir, id);
    let tmp = path.with_extension("tmp");
    let result = write_to(&tmp, table_id, data, sync);
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    let len = result?;
    std::fs::rename(&tmp, &path).map_err(|e| Error::io(&path, e))?;
    Ok(len)
}

/// Counts and checksums what passes through, so the IPC stream goes to the file without a copy in memory.
struct Checksummed<W> {
    inner: W,
    crc: u32,
    len: u64,
}

impl<W: Write> Write for Checksummed<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.crc = crc32c::crc32c_append(self.crc, &buf[..n]);
        self.len += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

fn write_to(tmp: &Path, table_id: u64, data: &ChunkData, sync: bool) -> Result<u64> {
    let io = |e| Error::io(tmp, e);
    let file = File::create(tmp).map_err(io)?;
    let mut out = std::io::BufWriter::with_capacity(1 << 20, file);
    out.write_all(MAGIC).map_err(io)?;
    let mut ipc = Checksummed {
        inner: out,
        crc: 0,
        len: 0,
    };
    {
        let encode = |e: arrow_schema::ArrowError| match e {
            arrow_schema::ArrowError::IoError(_, source) => Error::io(tmp, source),
            other => Error::Store(format!("encoding chunk {}: {other}", tmp.display())),
        };
        let mut w = StreamWriter::try_new(&mut ipc, &data.batch.schema()).map_err(encode)?;
        w.write(&data.batch).map_err(encode)?;
        w.finish().map_err(encode)?;
    }
    let (mut out, ipc_crc, ipc_len) = (ipc.inner, ipc.crc, ipc.len);
    let mut model = Vec::new();
    data.index.encode(&mut model);

    let mut footer = Vec::with_capacity(FOOTER);
    footer.extend_from_slice(&table_id.to_le_bytes());
    footer.extend_from_slice(&(data.len() as u64).to_le_bytes());
    footer.extend_from_slice(&ipc_len.to_le_bytes());
    footer.extend_from_slice(&(model.len() as u64).to_le_bytes());
    footer.extend_from_slice(&ipc_crc.to_le_bytes());
    footer.extend_from_slice(&crc32c::crc32c(&model).to_le_bytes());
    footer.extend_from_slice(&VERSION.to_le_bytes());
    footer.extend_from_slice(&0u32.to_le_bytes());
    let crc = crc32c::crc32c(&footer);
    footer.extend_from_slice(&crc.to_le_bytes());
    footer.extend_from_slice(END);
    out.write_all(&model).map_err(io)?;
    out.write_all(&footer).map_err(io)?;
    let file = out
        .into_inner()
        .map_err(|e| Error::io(tmp, e.into_error()))?;
    if sync {
        file.sync_all().map_err(io)?;
    }
    Ok(MAGIC.len() as u64 + ipc_len + model.len() as u64 + FOOTER as u64)
}

/// Fsyncs a directory so that renames and removals in it are durable.
pub(crate) fn sync_dir(dir: &Path) -> Result<()> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| Error::io(dir, e))
}

struct Footer {
    table_id: u64,
    rows: u64,
    ipc_len: u64,
    model_len: u64,
    crc_ipc: u32,
    crc_model: u32,
}

fn parse_footer(path: &Path, f: &[u8], file_len: u64) -> Result<Footer> {
    let bad = |why: &str| Err(Error::corrupt(path, why.to_string()));
    if f.len() != FOOTER || &f[52..56] != END {
        return bad("missing chunk footer (truncated file?)");
    }
    let u64_at = |o: usize| u64::from_le_bytes(f[o..o + 8].try_into().expect("8 bytes"));
    let u32_at = |o: usize| u32::from_le_bytes(f[o..o + 4].try_into().expect("4 bytes"));
    if crc32c::crc32c(&f[..48]) != u32_at(48) {
        return bad("chunk footer checksum mismatch");
    }
    if u32_at(40) != VERSION {
        return bad("unsupported chunk file version");
    }
    let footer = Footer {
        table_id: u64_at(0),
        rows: u64_at(8),
        ipc_len: u64_at(16),
        model_len: u64_at(24),
        crc_ipc: u32_at(32),
        crc_model: u32_at(36),
    };
    let expect = (MAGIC.len() + FOOTER) as u64 + footer.ipc_len + footer.model_len;
    if expect != file_len {
        return bad(&format!(
            "chunk file is {file_len} bytes, footer says {expect}"
        ));
    }
    Ok(footer)
}

/// Cheap check used at open: the file exists, has our header and an intact footer matching the manifest.
pub(crate) fn verify_footer(path: &Path, table_id: u64, rows: u64) -> Result<()> {
    let io = |e| Error::io(path, e);
    let mut f = File::open(path).map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            Error::corrupt(path, "chunk file named in the manifest is missing")
        } else {
            Error::io(path, e)
        }
    })?;
    let len = f.metadata().map_err(io)?.len();
    if len < (MAGIC.len() + FOOTER) as u64 {
        return Err(Error::corrupt(
            path,
            format!("chunk file is truncated ({len} bytes)"),
        ));
    }
    let mut head = [0u8; 8];
    f.read_exact(&mut head).map_err(io)?;
    if &head != MAGIC {
        return Err(Error::corrupt(path, "not a chunk file (bad magic)"));
    }
    let mut footer = [0u8; FOOTER];
    f.seek(SeekFrom::End(-(FOOTER as i64))).map_err(io)?;
    f.read_exact(&mut footer).map_err(io)?;
    let ft = parse_footer(path, &footer, len)?;
    if ft.table_id != table_id || ft.rows != rows {
        return Err(Error::corrupt(
            path,
            "chunk file does not match the manifest (table or row count)",
        ));
    }
    Ok(())
}

/// Reads and fully verifies a chunk file: checksums, schema, row count, model. No model is refitted.
pub(crate) fn read(path: &Path, shape: &TableShape, rows: u64) -> Result<ChunkData> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    let len = bytes.len();
    if len < MAGIC.len() + FOOTER || &bytes[..8] != MAGIC {
        return Err(Error::corrupt(path, "truncated chunk file or bad magic"));
    }
    let ft = parse_footer(path, &bytes[len - FOOTER..], len as u64)?;
    if ft.table_id != shape.id || ft.rows != rows {
        return Err(Error::corrupt(
            path,
            "chunk file does not match the manifest (table or row count)",
        ));
    }
    let ipc_end = MAGIC.len() + ft.ipc_len as usize;
    let model_end = ipc_end + ft.model_len as usize;
    if crc32c::crc32c(&bytes[MAGIC.len()..ipc_end]) != ft.crc_ipc {
        return Err(Error::corrupt(path, "row data checksum mismatch"));
    }
    if crc32c::crc32c(&bytes[ipc_end..model_end]) != ft.crc_model {
        return Err(Error::corrupt(path, "learned model checksum mismatch"));
    }
    let index = PgmIndex::decode(&bytes[ipc_end..model_end])
        .map_err(|e| Error::corrupt(path, format!("learned model: {e}")))?;
    let mut buf = Buffer::from_vec(bytes).slice_with_length(MAGIC.len(), ft.ipc_len as usize);
    let batch = decode_batch(path, &mut buf)?;
    if batch.num_rows() as u64 != rows || index.len() as u64 != rows {
        return Err(Error::corrupt(
            path,
            "row count differs between data, model and manifest",
        ));
    }
    // A file written before ALTER TABLE renamed, relaxed or added columns is read under today's definition.
    let batch = if batch.schema().fields() == shape.physical.fields() {
        batch
    } else {
        crate::chunk::widen_batch(&batch, shape).map_err(|e| {
            Error::corrupt(path, format!("chunk schema does not match the table: {e}"))
        })?
    };
    Ok(ChunkData::with_index(batch, index, shape))
}

fn decode_batch(path: &Path, buf: &mut Buffer) -> Result<RecordBatch> {
    let err = |e: arrow_schema::ArrowError| Error::corrupt(path, format!("row data: {e}"));
    let mut decoder = StreamDecoder::new();
    let mut batch = None;
    while !buf.is_empty() {
        if let Some(b) = decoder.decode(buf).map_err(err)?
            && batch.replace(b).is_some()
        {
            return Err(Error::corrupt(path, "more than one batch in chunk"));
        }
    }
    decoder.finish().map_err(err)?;
    batch.ok_or_else(|| Error::corrupt(path, "no rows in chunk file"))
}
