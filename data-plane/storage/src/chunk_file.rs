//! The chunk file format. One file per chunk, written once, fsynced, then named in the manifest.
//!
//! ```text
//! version 2: "OMDBCHK2" | column pages | directory | learned model | footer (56 bytes)
//!   column pages: for each column, for each page of `page_rows` rows, one Arrow IPC stream (one batch,
//!                 one column), column after column, so a scan of one column reads one contiguous run
//!   directory:    columns u32 | pages u32 | then per page, column-major: offset u64 | len u32 | crc u32
//! version 1: "OMDBCHK1" | Arrow IPC stream (one batch, every column) | learned model | footer
//! footer: table_id u64 | rows u64 | body_len u64 | model_len u64 | crc_body u32 | crc_model u32
//!         | version u32 | page_rows u32 (v2; 0 in v1) | crc_footer u32 (over the previous 48 bytes) | "OMCE"
//! ```
//!
//! In version 2 the body is the directory (the pages are checked one by one through their own checksums),
//! so a point lookup reads one page of each column it needs, and the model, directory and footer are all a
//! chunk keeps in memory. Version 1 files (written before pages) are still read, whole.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};
use std::ops::Range;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use arrow_array::RecordBatch;
use arrow_buffer::Buffer;
use arrow_ipc::reader::StreamDecoder;
use arrow_ipc::writer::StreamWriter;
use omendb_learned::PgmIndex;

use crate::chunk::ChunkData;
use crate::error::{Error, Result};

const MAGIC_V1: &[u8; 8] = b"OMDBCHK1";
const MAGIC: &[u8; 8] = b"OMDBCHK2";
const END: &[u8; 4] = b"OMCE";
const FOOTER: usize = 56;
/// Rows per column page: the unit a chunk file is read, checked and cached in.
pub(crate) const PAGE_ROWS: usize = 4096;
const DIR_ENTRY: usize = 16;

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

/// Where one column page lies in a version 2 file.
#[derive(Clone, Copy, Debug)]
pub(crate) struct PageEntry {
    offset: u64,
    len: u32,
    crc: u32,
}

/// What a chunk keeps in memory about its file to read any page of it: the page directory.
#[derive(Debug)]
pub(crate) enum Layout {
    Pages {
        page_rows: usize,
        columns: usize,
        pages: usize,
        /// Column-major: column c's page p is entry `c * pages + p`.
        entries: Vec<PageEntry>,
    },
    /// A version 1 file: one batch, read whole.
    Whole { body_len: u64 },
}

impl Layout {
    pub fn page_rows(&self, rows: usize) -> usize {
        match self {
            Layout::Pages { page_rows, .. } => *page_rows,
            Layout::Whole { .. } => PAGE_ROWS.min(rows.max(1)),
        }
    }
}

/// Writes the chunk: data to a temporary name, fsync (unless the caller batches fsyncs), rename. The caller
/// fsyncs the directory once for all files of one operation, before the manifest names them. With
/// `sync == false` the caller must fsync the file before any manifest names it. Returns the file's length
/// and its page directory.
pub(crate) fn write(
    dir: &Path,
    id: u64,
    table_id: u64,
    data: &ChunkData,
    page_rows: usize,
    sync: bool,
) -> Result<(u64, Layout)> {
    let path = path_for(dir, id);
    let tmp = path.with_extension("tmp");
    let result = write_to(&tmp, table_id, data, page_rows.max(1), sync);
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    let out = result?;
    std::fs::rename(&tmp, &path).map_err(|e| Error::io(&path, e))?;
    Ok(out)
}

/// Counts and checksums what passes through, so each page goes to the file without a copy in memory.
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

fn write_to(
    tmp: &Path,
    table_id: u64,
    data: &ChunkData,
    page_rows: usize,
    sync: bool,
) -> Result<(u64, Layout)> {
    let io = |e| Error::io(tmp, e);
    let encode = |e: arrow_schema::ArrowError| match e {
        arrow_schema::ArrowError::IoError(_, source) => Error::io(tmp, source),
        other => Error::Store(format!("encoding chunk {}: {other}", tmp.display())),
    };
    let file = File::create(tmp).map_err(io)?;
    let mut out = std::io::BufWriter::with_capacity(1 << 20, file);
    out.write_all(MAGIC).map_err(io)?;
    let batch = &data.batch;
    let rows = batch.num_rows();
    let pages = rows.div_ceil(page_rows);
    let columns = batch.num_columns();
    let mut entries = Vec::with_capacity(columns * pages);
    let mut offset = MAGIC.len() as u64;
    for c in 0..columns {
        let one = batch.project(&[c]).map_err(encode)?;
        for p in 0..pages {
            let page = one.slice(p * page_rows, page_rows.min(rows - p * page_rows));
            let mut sink = Checksummed {
                inner: &mut out,
                crc: 0,
                len: 0,
            };
            {
                let mut w = StreamWriter::try_new(&mut sink, &page.schema()).map_err(encode)?;
                w.write(&page).map_err(encode)?;
                w.finish().map_err(encode)?;
            }
            let len = u32::try_from(sink.len)
                .map_err(|_| Error::Store("a column page over 4 GiB".into()))?;
            entries.push(PageEntry {
                offset,
                len,
                crc: sink.crc,
            });
            offset += sink.len;
        }
    }
    let mut directory = Vec::with_capacity(8 + DIR_ENTRY * entries.len());
    directory.extend_from_slice(&(columns as u32).to_le_bytes());
    directory.extend_from_slice(&(pages as u32).to_le_bytes());
    for e in &entries {
        directory.extend_from_slice(&e.offset.to_le_bytes());
        directory.extend_from_slice(&e.len.to_le_bytes());
        directory.extend_from_slice(&e.crc.to_le_bytes());
    }
    let mut model = Vec::new();
    data.index.encode(&mut model);

    let mut footer = Vec::with_capacity(FOOTER);
    footer.extend_from_slice(&table_id.to_le_bytes());
    footer.extend_from_slice(&(rows as u64).to_le_bytes());
    footer.extend_from_slice(&(directory.len() as u64).to_le_bytes());
    footer.extend_from_slice(&(model.len() as u64).to_le_bytes());
    footer.extend_from_slice(&crc32c::crc32c(&directory).to_le_bytes());
    footer.extend_from_slice(&crc32c::crc32c(&model).to_le_bytes());
    footer.extend_from_slice(&2u32.to_le_bytes());
    footer.extend_from_slice(&(page_rows as u32).to_le_bytes());
    let crc = crc32c::crc32c(&footer);
    footer.extend_from_slice(&crc.to_le_bytes());
    footer.extend_from_slice(END);
    out.write_all(&directory).map_err(io)?;
    out.write_all(&model).map_err(io)?;
    out.write_all(&footer).map_err(io)?;
    let file = out
        .into_inner()
        .map_err(|e| Error::io(tmp, e.into_error()))?;
    if sync {
        file.sync_all().map_err(io)?;
    }
    let len = offset + directory.len() as u64 + model.len() as u64 + FOOTER as u64;
    Ok((
        len,
        Layout::Pages {
            page_rows,
            columns,
            pages,
            entries,
        },
    ))
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
    body_len: u64,
    model_len: u64,
    crc_body: u32,
    crc_model: u32,
    version: u32,
    page_rows: u32,
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
    let footer = Footer {
        table_id: u64_at(0),
        rows: u64_at(8),
        body_len: u64_at(16),
        model_len: u64_at(24),
        crc_body: u32_at(32),
        crc_model: u32_at(36),
        version: u32_at(40),
        page_rows: u32_at(44),
    };
    if !matches!(footer.version, 1 | 2) || (footer.version == 2 && footer.page_rows == 0) {
        return bad("unsupported chunk file version");
    }
    // Version 2's pages come before the directory; the directory says where each is.
    if footer.version == 1 {
        let expect = (MAGIC.len() + FOOTER) as u64 + footer.body_len + footer.model_len;
        if expect != file_len {
            return bad(&format!(
                "chunk file is {file_len} bytes, footer says {expect}"
            ));
        }
    } else if (MAGIC.len() + FOOTER) as u64 + footer.body_len + footer.model_len > file_len {
        return bad("chunk file is shorter than its footer says");
    }
    Ok(footer)
}

fn open(path: &Path) -> Result<File> {
    File::open(path).map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            Error::corrupt(path, "chunk file named in the manifest is missing")
        } else {
            Error::io(path, e)
        }
    })
}

/// Reads the header and footer and checks them against the manifest.
fn head_and_footer(path: &Path, f: &mut File, table_id: u64, rows: u64) -> Result<(Footer, u64)> {
    let io = |e| Error::io(path, e);
    let len = f.metadata().map_err(io)?.len();
    if len < (MAGIC.len() + FOOTER) as u64 {
        return Err(Error::corrupt(
            path,
            format!("chunk file is truncated ({len} bytes)"),
        ));
    }
    let mut head = [0u8; 8];
    f.read_exact(&mut head).map_err(io)?;
    let mut footer = [0u8; FOOTER];
    f.seek(SeekFrom::End(-(FOOTER as i64))).map_err(io)?;
    f.read_exact(&mut footer).map_err(io)?;
    let ft = parse_footer(path, &footer, len)?;
    let magic = if ft.version == 1 { MAGIC_V1 } else { MAGIC };
    if &head != magic {
        return Err(Error::corrupt(path, "not a chunk file (bad magic)"));
    }
    if ft.table_id != table_id || ft.rows != rows {
        return Err(Error::corrupt(
            path,
            "chunk file does not match the manifest (table or row count)",
        ));
    }
    Ok((ft, len))
}

/// Cheap check used at open: the file exists, has our header and an intact footer matching the manifest.
pub(crate) fn verify_footer(path: &Path, table_id: u64, rows: u64) -> Result<()> {
    let mut f = open(path)?;
    head_and_footer(path, &mut f, table_id, rows).map(|_| ())
}

fn read_at(path: &Path, f: &File, offset: u64, len: usize) -> Result<Vec<u8>> {
    let mut buf = vec![0u8; len];
    f.read_exact_at(&mut buf, offset).map_err(|e| {
        if e.kind() == std::io::ErrorKind::UnexpectedEof {
            Error::corrupt(path, "chunk file is shorter than its directory says")
        } else {
            Error::io(path, e)
        }
    })?;
    Ok(buf)
}

/// Reads what a chunk keeps in memory: its learned model and its page directory, both checked.
pub(crate) fn read_layout(path: &Path, table_id: u64, rows: u64) -> Result<(PgmIndex, Layout)> {
    let mut f = open(path)?;
    let (ft, len) = head_and_footer(path, &mut f, table_id, rows)?;
    let model_at = len - FOOTER as u64 - ft.model_len;
    let model = read_at(path, &f, model_at, ft.model_len as usize)?;
    if crc32c::crc32c(&model) != ft.crc_model {
        return Err(Error::corrupt(path, "learned model checksum mismatch"));
    }
    let index = PgmIndex::decode(&model)
        .map_err(|e| Error::corrupt(path, format!("learned model: {e}")))?;
    if index.len() as u64 != rows {
        return Err(Error::corrupt(
            path,
            "row count differs between model and manifest",
        ));
    }
    if ft.version == 1 {
        return Ok((
            index,
            Layout::Whole {
                body_len: ft.body_len,
            },
        ));
    }
    let dir_at = model_at - ft.body_len;
    let dir = read_at(path, &f, dir_at, ft.body_len as usize)?;
    if crc32c::crc32c(&dir) != ft.crc_body {
        return Err(Error::corrupt(path, "page directory checksum mismatch"));
    }
    let bad = |why: &str| Error::corrupt(path, why.to_string());
    if dir.len() < 8 {
        return Err(bad("page directory is truncated"));
    }
    let u32_at = |o: usize| u32::from_le_bytes(dir[o..o + 4].try_into().expect("4 bytes"));
    let (columns, pages) = (u32_at(0) as usize, u32_at(4) as usize);
    let page_rows = ft.page_rows as usize;
    if dir.len() != 8 + DIR_ENTRY * columns * pages || pages != (rows as usize).div_ceil(page_rows)
    {
        return Err(bad("page directory does not match the row count"));
    }
    let mut entries = Vec::with_capacity(columns * pages);
    let mut expect = MAGIC.len() as u64;
    for i in 0..columns * pages {
        let o = 8 + DIR_ENTRY * i;
        let e = PageEntry {
            offset: u64::from_le_bytes(dir[o..o + 8].try_into().expect("8 bytes")),
            len: u32_at(o + 8),
            crc: u32_at(o + 12),
        };
        // Pages are back to back: every byte of the file is covered by some checksum.
        if e.offset != expect {
            return Err(bad("page directory has a gap or an overlap"));
        }
        expect += u64::from(e.len);
        entries.push(e);
    }
    if expect != dir_at {
        return Err(bad("page directory does not reach the directory"));
    }
    Ok((
        index,
        Layout::Pages {
            page_rows,
            columns,
            pages,
            entries,
        },
    ))
}

/// Reads and checks pages `pages` of column `column` (one read for the run), decoded to arrays, each with
/// the bytes it holds. Each page gets its own copy of its bytes, so evicting one frees it.
pub(crate) fn read_pages(
    path: &Path,
    layout: &Layout,
    column: usize,
    pages: Range<usize>,
    rows: usize,
    read_bytes: &std::sync::atomic::AtomicU64,
) -> Result<Vec<(arrow_array::ArrayRef, usize)>> {
    let Layout::Pages {
        page_rows,
        pages: count,
        entries,
        ..
    } = layout
    else {
        unreachable!("version 1 files are read whole");
    };
    let run = &entries[column * count + pages.start..column * count + pages.end];
    let (Some(first), Some(last)) = (run.first(), run.last()) else {
        return Ok(vec![]);
    };
    let start = first.offset;
    let len = (last.offset + u64::from(last.len) - start) as usize;
    let f = open(path)?;
    let bytes = read_at(path, &f, start, len)?;
    read_bytes.fetch_add(len as u64, std::sync::atomic::Ordering::Relaxed);
    let mut out = Vec::with_capacity(run.len());
    for (p, e) in pages.zip(run) {
        let at = (e.offset - start) as usize;
        let slice = &bytes[at..at + e.len as usize];
        if crc32c::crc32c(slice) != e.crc {
            return Err(Error::corrupt(
                path,
                format!("column {column} page {p} checksum mismatch"),
            ));
        }
        let mut buf = Buffer::from_vec(slice.to_vec());
        let batch = decode_batch(path, &mut buf)?;
        let expect = (*page_rows).min(rows - p * page_rows);
        if batch.num_rows() != expect || batch.num_columns() != 1 {
            return Err(Error::corrupt(
                path,
                format!("column {column} page {p} holds the wrong rows"),
            ));
        }
        out.push((batch.column(0).clone(), e.len as usize));
    }
    Ok(out)
}

/// Reads and fully checks a version 1 file's batch (as stored: the caller maps it to today's table).
pub(crate) fn read_whole(path: &Path, body_len: u64, rows: u64) -> Result<RecordBatch> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    let len = bytes.len();
    if len < MAGIC.len() + FOOTER || &bytes[..8] != MAGIC_V1 {
        return Err(Error::corrupt(path, "truncated chunk file or bad magic"));
    }
    let ft = parse_footer(path, &bytes[len - FOOTER..], len as u64)?;
    if ft.body_len != body_len || ft.rows != rows {
        return Err(Error::corrupt(path, "chunk file changed under us"));
    }
    let ipc_end = MAGIC.len() + ft.body_len as usize;
    if crc32c::crc32c(&bytes[MAGIC.len()..ipc_end]) != ft.crc_body {
        return Err(Error::corrupt(path, "row data checksum mismatch"));
    }
    let mut buf = Buffer::from_vec(bytes).slice_with_length(MAGIC.len(), ft.body_len as usize);
    let batch = decode_batch(path, &mut buf)?;
    if batch.num_rows() as u64 != rows {
        return Err(Error::corrupt(
            path,
            "row count differs between data and manifest",
        ));
    }
    Ok(batch)
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
