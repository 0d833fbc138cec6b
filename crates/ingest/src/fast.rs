//! The block reader for the two kinds that come by the hundred million rows: events and daily metrics.
//!
//! The file is read in 4 MiB blocks cut at line ends. Each block is one chunk: fingerprinted with xxHash3-128,
//! skipped when an earlier import stored it, and otherwise split into lines and fields with `memchr` (a block
//! containing a quote goes through the CSV parser instead). Rows go to a [`FastSink`]. When the sink holds
//! more than a set number of rows, its roll-up is handed to `flush` as a batch of its own, with the
//! fingerprints of the chunks it holds, so memory stays bounded however large the file and a file that stops
//! half way resumes where it stopped.

use crate::report::{FieldError, ImportReport};
use crate::{Chunker, ImportError};
use bellwether_core::AccountId;
use bellwether_store::{SeriesDelta, WriteBatch};
use std::collections::BTreeMap;
use std::io::Read;
use std::path::Path;
use xxhash_rust::xxh3::xxh3_128_with_seed;

/// Bytes per chunk.
pub(crate) const BLOCK_BYTES: usize = 4 << 20;

/// Where the rows of a fast-path file go.
pub(crate) trait FastSink {
    /// Reads one row from all its fields.
    fn row(&mut self, fields: &[&[u8]]) -> Result<(), FieldError>;
    /// Keeps or drops the rows read since the last call.
    fn end_chunk(&mut self, keep: bool);
    /// Rows held for the next batch.
    fn held(&self) -> usize;
    /// The roll-up of the rows held, releasing them.
    fn take(&mut self) -> BTreeMap<AccountId, SeriesDelta>;
    /// Rows kept in all.
    fn kept(&self) -> u64;
}

/// What the block reader needs to know about the file.
pub(crate) struct FastFile<'a> {
    pub(crate) path: &'a Path,
    pub(crate) seed: u64,
    pub(crate) width: usize,
    pub(crate) header_bytes: u64,
    /// Rows held before a batch is written mid-file.
    pub(crate) flush_rows: usize,
}

/// Reads every block of the file into `sink`, writing a batch through `flush` whenever the sink holds
/// `flush_rows`; returns the last batch.
pub(crate) fn read_blocks(
    file: &FastFile,
    reader: &mut impl Read,
    sink: &mut dyn FastSink,
    chunker: &mut Chunker,
    report: &mut ImportReport,
    progress: &dyn Fn(u64),
    flush: &mut dyn FnMut(WriteBatch) -> Result<(), ImportError>,
) -> Result<WriteBatch, ImportError> {
    let mut buf: Vec<u8> = Vec::with_capacity(BLOCK_BYTES + (64 << 10));
    let mut line = 2u64;
    let mut done = file.header_bytes;
    let mut eof = false;
    loop {
        while !eof && buf.len() < BLOCK_BYTES {
            let old = buf.len();
            buf.resize(BLOCK_BYTES.max(old + (64 << 10)), 0);
            let n = reader
                .read(&mut buf[old..])
                .map_err(|source| ImportError::Io {
                    path: file.path.to_path_buf(),
                    source,
                })?;
            buf.truncate(old + n);
            eof = n == 0;
        }
        if buf.is_empty() {
            break;
        }
        let cut = if eof {
            buf.len()
        } else {
            memchr::memrchr(b'\n', &buf).map_or(buf.len(), |i| i + 1)
        };
        let block = &buf[..cut];
        let fp = xxh3_128_with_seed(block, file.seed);
        let rejects = &mut chunker.pending_rejects;
        let (records, lines) = if memchr::memchr(b'"', block).is_some() {
            quoted_block(sink, file.width, block, line, rejects)
        } else {
            plain_block(sink, file.width, block, line, rejects)
        };
        report.records += records;
        line += lines;
        let keep = chunker.close(fp, report);
        sink.end_chunk(keep);
        done += cut as u64;
        progress(done);
        buf.drain(..cut);
        if sink.held() >= file.flush_rows {
            let chunks = std::mem::take(&mut chunker.new);
            flush(WriteBatch {
                series: sink.take(),
                chunks,
                ..Default::default()
            })?;
        }
    }
    report.imported = sink.kept();
    Ok(WriteBatch {
        series: sink.take(),
        ..Default::default()
    })
}

/// Splits a block without quotes into lines and fields. Returns (records, lines consumed).
fn plain_block(
    sink: &mut dyn FastSink,
    width: usize,
    block: &[u8],
    first_line: u64,
    rejects: &mut Vec<(u64, FieldError)>,
) -> (u64, u64) {
    let mut line_no = first_line;
    let mut records = 0;
    let mut fields: [&[u8]; 32] = [&[]; 32];
    let mut start = 0;
    for nl in memchr::memchr_iter(b'\n', block).chain(std::iter::once(block.len())) {
        if nl == block.len() && start >= block.len() {
            break;
        }
        let mut line = &block[start..nl];
        start = nl + 1;
        let this = line_no;
        line_no += 1;
        if let [rest @ .., b'\r'] = line {
            line = rest;
        }
        if line.is_empty() {
            continue;
        }
        records += 1;
        let mut n = 0;
        let mut fs = 0;
        for comma in memchr::memchr_iter(b',', line).chain(std::iter::once(line.len())) {
            if n < fields.len() {
                fields[n] = &line[fs..comma];
            }
            n += 1;
            fs = comma + 1;
        }
        if n != width {
            rejects.push((
                this,
                FieldError::record(format!(
                    "has {n} fields where the header has {width}; check for unquoted commas"
                )),
            ));
            continue;
        }
        if let Err(e) = sink.row(&fields[..n]) {
            rejects.push((this, e));
        }
    }
    (records, line_no - first_line)
}

/// A block with quotes: read with the CSV parser.
fn quoted_block(
    sink: &mut dyn FastSink,
    width: usize,
    block: &[u8],
    first_line: u64,
    rejects: &mut Vec<(u64, FieldError)>,
) -> (u64, u64) {
    let mut r = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(block);
    let mut rec = csv::ByteRecord::new();
    let mut records = 0;
    loop {
        match r.read_byte_record(&mut rec) {
            Ok(false) => break,
            Ok(true) => {}
            Err(e) => {
                rejects.push((
                    first_line + r.position().line().saturating_sub(1),
                    FieldError::record(e.to_string()),
                ));
                break;
            }
        }
        records += 1;
        let line = first_line + rec.position().map_or(0, |p| p.line().saturating_sub(1));
        if rec.len() != width {
            rejects.push((
                line,
                FieldError::record(format!(
                    "has {} fields where the header has {width}",
                    rec.len()
                )),
            ));
            continue;
        }
        let fields: Vec<&[u8]> = rec.iter().collect();
        if let Err(e) = sink.row(&fields) {
            rejects.push((line, e));
        }
    }
    (
        records,
        memchr::memchr_iter(b'\n', block).count() as u64
            + u64::from(!block.ends_with(b"\n") && !block.is_empty()),
    )
}
