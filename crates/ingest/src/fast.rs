//! The block reader for the two kinds that come by the hundred million rows: events and daily metrics.
//!
//! The file is read in 4 MiB blocks cut at record ends (never inside a quoted field). Each block is one chunk:
//! fingerprinted with xxHash3-128, skipped when an earlier import stored it, and otherwise split into lines and
//! fields with `memchr` (a block containing a quote goes through the CSV parser instead). Rows go to a [`FastSink`]. When the sink holds
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
    /// Bytes per block: [`BLOCK_BYTES`], smaller in tests.
    pub(crate) block: usize,
    /// Rows held before a batch is written mid-file.
    pub(crate) flush_rows: usize,
}

/// Reads every block of the file into `sink`, writing a batch through `flush` whenever the sink holds
/// `flush_rows`; returns the last batch.
///
/// A block is the file's next `file.block` bytes (fewer at the end), cut after its last complete record. In a
/// block without quotes that is its last newline; in a block with quotes the CSV parser finds where its records
/// end, so a cut never falls inside a quoted field, whatever that field holds. A record longer than a block
/// (a long quoted text) widens the block, doubling it until the record fits, so a file is read in linear time.
/// Blocks depend only on the file's bytes, so importing the same file again gives the same fingerprints.
pub(crate) fn read_blocks(
    file: &FastFile,
    reader: &mut impl Read,
    sink: &mut dyn FastSink,
    chunker: &mut Chunker,
    report: &mut ImportReport,
    progress: &dyn Fn(u64),
    flush: &mut dyn FnMut(WriteBatch) -> Result<(), ImportError>,
) -> Result<WriteBatch, ImportError> {
    let mut buf: Vec<u8> = Vec::with_capacity(file.block + (64 << 10));
    let mut line = 2u64;
    let mut done = file.header_bytes;
    let mut eof = false;
    let mut want = file.block;
    loop {
        while !eof && buf.len() < want {
            let old = buf.len();
            buf.resize(want.max(old + (64 << 10)), 0);
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
        let window = &buf[..buf.len().min(want)];
        // The window holds the rest of the file: its last record needs no terminator.
        let last = eof && buf.len() <= want;
        let rejects = &mut chunker.pending_rejects;
        let step = if memchr::memchr(b'"', window).is_some() {
            quoted_block(sink, file.width, window, last, line, rejects).map(|(records, cut)| {
                let lines = memchr::memchr_iter(b'\n', &window[..cut]).count() as u64;
                (records, cut, lines)
            })
        } else {
            let cut = if last {
                Some(window.len())
            } else {
                memchr::memrchr(b'\n', window).map(|i| i + 1)
            };
            cut.map(|cut| {
                let (records, lines) = plain_block(sink, file.width, &window[..cut], line, rejects);
                (records, cut, lines)
            })
        };
        let Some((records, cut, lines)) = step else {
            // No record ends inside the window: nothing was read from it; widen it.
            want = want.saturating_mul(2);
            continue;
        };
        want = file.block;
        let block = &buf[..cut];
        let fp = xxh3_128_with_seed(block, file.seed);
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

/// The line (from 1) on which `rec`, read from `input`, begins. The parser dates a record from where it began
/// to read it, which is before the line ends (`\r\n`, blank lines) it skips ahead of the record's first byte.
fn record_line(rec: &csv::ByteRecord, input: &[u8]) -> u64 {
    let Some(p) = rec.position() else { return 1 };
    let start = (p.byte() as usize).min(input.len());
    let skipped = input[start..]
        .iter()
        .take_while(|b| matches!(b, b'\r' | b'\n'))
        .filter(|b| **b == b'\n')
        .count();
    p.line() + skipped as u64
}

/// A window with quotes, read with the CSV parser up to the end of its last complete record: unless the window
/// is the `last` of the file, the record that reaches the window's end is left for the next block (it may go on
/// past it). Returns (records, bytes consumed), or `None` when no record ends inside the window; then nothing
/// was handed to the sink.
fn quoted_block(
    sink: &mut dyn FastSink,
    width: usize,
    window: &[u8],
    last: bool,
    first_line: u64,
    rejects: &mut Vec<(u64, FieldError)>,
) -> Option<(u64, usize)> {
    let mut r = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(window);
    let mut rec = csv::ByteRecord::new();
    let mut records = 0;
    let mut cut = 0;
    loop {
        match r.read_byte_record(&mut rec) {
            Ok(false) => {
                cut = window.len();
                break;
            }
            Ok(true) => {}
            Err(e) => {
                rejects.push((
                    first_line + r.position().line().saturating_sub(1),
                    FieldError::record(e.to_string()),
                ));
                cut = window.len();
                break;
            }
        }
        let end = r.position().byte() as usize;
        if end >= window.len() && !last {
            break;
        }
        cut = end;
        records += 1;
        let line = first_line + record_line(&rec, window) - 1;
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
    (cut > 0).then_some((records, cut))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use rustc_hash::FxHashSet;

    /// Keeps every row's fields; each row is also "rejected" so that its line number shows in the report.
    #[derive(Default)]
    struct Rows {
        open: Vec<Vec<Vec<u8>>>,
        kept: Vec<Vec<Vec<u8>>>,
    }

    impl FastSink for Rows {
        fn row(&mut self, fields: &[&[u8]]) -> Result<(), FieldError> {
            self.open.push(fields.iter().map(|f| f.to_vec()).collect());
            Err(FieldError::record("seen"))
        }
        fn end_chunk(&mut self, keep: bool) {
            let open = std::mem::take(&mut self.open);
            if keep {
                self.kept.extend(open);
            }
        }
        fn held(&self) -> usize {
            0
        }
        fn take(&mut self) -> BTreeMap<AccountId, SeriesDelta> {
            BTreeMap::new()
        }
        fn kept(&self) -> u64 {
            self.kept.len() as u64
        }
    }

    /// (line, fields) of every record of `body` (the lines after a header) as the block reader sees them.
    fn fast_rows(body: &[u8], width: usize, block: usize) -> Vec<(u64, Vec<Vec<u8>>)> {
        let known = FxHashSet::default();
        let mut chunker = Chunker {
            known: &known,
            seen: FxHashSet::default(),
            new: Vec::new(),
            kept: 0,
            skipped: 0,
            pending_rejects: Vec::new(),
        };
        let file = FastFile {
            path: Path::new("test.csv"),
            seed: 0,
            width,
            header_bytes: 0,
            block,
            flush_rows: usize::MAX,
        };
        let mut sink = Rows::default();
        let mut report = ImportReport::default();
        read_blocks(
            &file,
            &mut &body[..],
            &mut sink,
            &mut chunker,
            &mut report,
            &|_| {},
            &mut |_| Ok(()),
        )
        .unwrap();
        assert_eq!(report.records as usize, report.rejected.len());
        assert_eq!(report.records as usize, sink.kept.len());
        report
            .rejected
            .iter()
            .map(|r| r.line)
            .zip(sink.kept)
            .collect()
    }

    /// The same as read by the `csv` crate in one go.
    fn csv_rows(body: &[u8]) -> Vec<(u64, Vec<Vec<u8>>)> {
        let mut r = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .from_reader(body);
        r.byte_records()
            .map(|rec| {
                let rec = rec.unwrap();
                // Lines from 2 (after a header): one more than the line breaks before the record's first byte.
                let mut start = rec.position().unwrap().byte() as usize;
                while matches!(body.get(start), Some(b'\r' | b'\n')) {
                    start += 1;
                }
                let line = 2 + memchr::memchr_iter(b'\n', &body[..start]).count() as u64;
                (line, rec.iter().map(<[u8]>::to_vec).collect())
            })
            .collect()
    }

    /// A field as written: plain text, quoted text with commas, quotes and line breaks, a stray quote inside
    /// an unquoted field, or a long quoted text that spans several blocks.
    fn field() -> impl Strategy<Value = String> {
        let quoted = |s: String| format!("\"{}\"", s.replace('"', "\"\""));
        prop_oneof![
            4 => "[a-z0-9 .:-]{0,8}",
            3 => "[a-z,\"\n ]{0,12}".prop_map(quoted),
            1 => "[a-z]{1,3}\"[a-z]{0,3}",
            1 => ("[a-z0-9,\"\n]{0,6}", 40usize..400).prop_map(move |(s, n)| quoted(s.repeat(n / s.len().max(1)))),
            1 => "x,y\r\nacme-2,2024-03-01T00:00:00Z,login\n[a-z]{0,4}".prop_map(quoted),
        ]
    }

    fn file() -> impl Strategy<Value = (Vec<u8>, usize)> {
        (2usize..5).prop_flat_map(|width| {
            (
                prop::collection::vec(prop::collection::vec(field(), width - 1), 0..40),
                prop::bool::ANY,
                prop::bool::ANY,
            )
                .prop_map(move |(rows, crlf, trailing)| {
                    let end = if crlf { "\r\n" } else { "\n" };
                    let mut out = String::new();
                    for (i, row) in rows.iter().enumerate() {
                        if i > 0 {
                            out.push_str(end);
                        }
                        // A row number first keeps every block distinct (a repeated block is skipped).
                        out.push_str(&format!("r{i},{}", row.join(",")));
                    }
                    if trailing && !rows.is_empty() {
                        out.push_str(end);
                    }
                    (out.into_bytes(), width)
                })
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(400))]
        #[test]
        fn blocks_read_as_the_csv_crate_reads_the_whole_file(
            (body, width) in file(),
            block in 8usize..200,
        ) {
            prop_assert_eq!(fast_rows(&body, width, block), csv_rows(&body));
        }
    }

    #[test]
    fn a_quoted_field_longer_than_several_blocks_stays_one_field() {
        let long = "line,with,commas\n".repeat(100);
        let body = format!("a,\"{long}\"\nb,plain\n\"c\",\"x\"\"y\"\n");
        let rows = fast_rows(body.as_bytes(), 2, 64);
        assert_eq!(rows, csv_rows(body.as_bytes()));
        assert_eq!(rows.len(), 3);
        assert_eq!(rows[1].0, 2 + 101);
    }
}
