//! Import: files in the canonical formats (docs/formats.md) into validated records and roll-ups.
//!
//! The first stage of the flow. A file is read in chunks; each chunk is fingerprinted, and a chunk the store
//! has seen before is skipped, so re-importing a file changes nothing. Each record is validated field by field:
//! a bad one is reported with file, line, field and value and skipped, and the good ones around it are kept.
//! Everything new from one file is written in one transaction together with its chunk fingerprints.
//!
//! - [`kind`]: the kinds, their columns, recognition by file name or header;
//! - `fields`: reading one field (times, money, numbers, enumerations) with helpful errors;
//! - `entities`: rows of every kind except events into canonical records;
//! - `events`: the event roll-up, the import's hot path;
//! - [`report`]: what an import tells its user.
#![deny(missing_docs)]

pub mod crm;
mod entities;
mod events;
mod fast;
mod fields;
mod intern;
pub mod kind;
mod metrics;
pub mod records;
pub mod report;

pub use kind::Kind;
pub use report::{ImportError, ImportReport, Rejected};

use bellwether_core::time::{EventTimeWindow, TimeReading};
use bellwether_core::Timestamp;
use bellwether_store::{Fingerprint, Store, WriteBatch};
use entities::EntitySink;
use events::{EventAgg, EventColumns, EventRows};
use fast::{read_blocks, FastFile};
use fields::Fields;
use metrics::{MetricColumns, MetricRows};
use report::FieldError;
use rustc_hash::FxHashSet;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;
use xxhash_rust::xxh3::{xxh3_64, Xxh3};

/// Events held before a batch is written mid-file (16 bytes each: about 1 GiB).
const EVENTS_PER_BATCH: usize = 64 << 20;
/// Daily-metric rows held before a batch is written mid-file.
const METRICS_PER_BATCH: usize = 16 << 20;
/// Records per chunk on the general readers.
const CHUNK_RECORDS: u64 = 10_000;

/// Called with (bytes read, total bytes) as a file is read.
pub type ProgressFn = Arc<dyn Fn(u64, u64) + Send + Sync>;

/// How to import.
#[derive(Clone, Default)]
pub struct ImportOptions {
    /// The kind, when the caller names it; otherwise recognised from the file name, then the header.
    pub kind: Option<Kind>,
    /// The receipt time to record (default: now).
    pub received_at: Option<Timestamp>,
    /// The event times accepted; a record whose event time lies outside is rejected with
    /// `event_time_out_of_range` and the rest of the file kept.
    pub event_times: EventTimeWindow,
    /// How dates that leave something open are read (`[import]`: the day order of slash dates, the time zone
    /// of times without an offset).
    pub time_reading: TimeReading,
    /// Progress callback.
    pub progress: Option<ProgressFn>,
    /// For events and daily metrics: rows held before a batch is written mid-file (default about 64 million
    /// events or 16 million metric rows). Lower bounds memory further; each batch is written with the
    /// fingerprints of its chunks, so a file that stops half way resumes where it stopped.
    pub batch_rows: Option<usize>,
}

/// Imports one file. Rejected records are in the report; an `Err` means nothing of the file was stored.
pub async fn import_file<S: Store + ?Sized>(
    store: &S,
    path: &Path,
    opts: &ImportOptions,
) -> Result<ImportReport, ImportError> {
    let report = import_one(store, path, opts).await?;
    settle(store, path).await?;
    Ok(report)
}

/// Reads one file exactly as [`import_file`] would and writes nothing: the report says what an import would
/// take and reject (every chunk counts as new). `import --check` runs it, and the fuzz targets feed it.
pub fn check_file(path: &Path, opts: &ImportOptions) -> Result<ImportReport, ImportError> {
    let started = Instant::now();
    let mut touched: FxHashSet<bellwether_core::AccountId> = FxHashSet::default();
    let (batch, mut report) = read_file(path, opts, &FxHashSet::default(), &mut |b| {
        touched.extend(b.accounts());
        Ok(())
    })?;
    touched.extend(batch.accounts());
    report.set_touched(touched);
    report.read_seconds = started.elapsed().as_secs_f64();
    report.seconds = report.read_seconds;
    Ok(report)
}

/// Lets the store bring its derived data up to date once an import is written.
async fn settle<S: Store + ?Sized>(store: &S, path: &Path) -> Result<(), ImportError> {
    store.settle().await.map_err(|source| ImportError::Store {
        path: path.to_path_buf(),
        source,
    })
}

async fn import_one<S: Store + ?Sized>(
    store: &S,
    path: &Path,
    opts: &ImportOptions,
) -> Result<ImportReport, ImportError> {
    let known = Arc::new(
        store
            .known_chunks()
            .await
            .map_err(|source| ImportError::Store {
                path: path.to_path_buf(),
                source,
            })?,
    );
    import_with_known(store, path, opts, known).await
}

/// Imports every recognised file of a folder (not its sub-folders), accounts first, then the other kinds in
/// the order of [`Kind::ALL`]. Returns one result per file; files that are not import files are listed apart.
pub async fn import_dir<S: Store + ?Sized>(
    store: &S,
    dir: &Path,
    opts: &ImportOptions,
) -> Result<DirReport, ImportError> {
    let (files, skipped) = import_files(dir, opts)?;
    let mut results = Vec::new();
    for (kind, path) in files {
        let o = ImportOptions {
            kind: Some(kind),
            ..opts.clone()
        };
        let r = import_one(store, &path, &o).await;
        results.push((path, r));
    }
    settle(store, dir).await?;
    Ok(DirReport {
        files: results,
        skipped,
    })
}

/// Reads every import file of a folder as [`import_dir`] would, in the same order, and writes nothing (see
/// [`check_file`]).
pub fn check_dir(dir: &Path, opts: &ImportOptions) -> Result<DirReport, ImportError> {
    let (files, skipped) = import_files(dir, opts)?;
    let files = files
        .into_iter()
        .map(|(kind, path)| {
            let o = ImportOptions {
                kind: Some(kind),
                ..opts.clone()
            };
            let r = check_file(&path, &o);
            (path, r)
        })
        .collect();
    Ok(DirReport { files, skipped })
}

/// The import files of a folder (not its sub-folders) with their kinds, accounts first, then the other kinds
/// in the order of [`Kind::ALL`]; and the files that are not import files.
#[allow(clippy::type_complexity)]
fn import_files(
    dir: &Path,
    opts: &ImportOptions,
) -> Result<(Vec<(Kind, PathBuf)>, Vec<PathBuf>), ImportError> {
    let io = |source| ImportError::Io {
        path: dir.to_path_buf(),
        source,
    };
    let mut files = Vec::new();
    let mut skipped = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(io)? {
        let path = entry.map_err(io)?.path();
        if !path.is_file() {
            continue;
        }
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        let ext = path
            .extension()
            .and_then(|e| e.to_str())
            .unwrap_or("")
            .to_ascii_lowercase();
        if !matches!(ext.as_str(), "csv" | "jsonl" | "ndjson" | "json") || name.starts_with('.') {
            skipped.push(path);
            continue;
        }
        let kind = match opts.kind.or_else(|| Kind::from_file_name(name)) {
            Some(k) => Some(k),
            None => sniff_kind(&path)?,
        };
        match kind {
            Some(k) => files.push((k, path)),
            None => skipped.push(path),
        }
    }
    files.sort_by_key(|(k, p)| (Kind::ALL.iter().position(|x| x == k), p.clone()));
    Ok((files, skipped))
}

/// The outcome of a folder import.
pub struct DirReport {
    /// Each imported file with its result.
    pub files: Vec<(PathBuf, Result<ImportReport, ImportError>)>,
    /// Files that were not recognised as import files.
    pub skipped: Vec<PathBuf>,
}

async fn import_with_known<S: Store + ?Sized>(
    store: &S,
    path: &Path,
    opts: &ImportOptions,
    known: Arc<FxHashSet<Fingerprint>>,
) -> Result<ImportReport, ImportError> {
    let started = Instant::now();
    let p = path.to_path_buf();
    let o = opts.clone();
    // Large files hand batches over while they are still being read; they are written here, in order.
    let (tx, mut rx) = tokio::sync::mpsc::channel::<WriteBatch>(1);
    let reader = tokio::task::spawn_blocking(move || {
        let mut flush = |b: WriteBatch| {
            tx.blocking_send(b).map_err(|_| ImportError::Io {
                path: p.clone(),
                source: std::io::Error::other("the store stopped taking batches"),
            })
        };
        read_file(&p, &o, &known, &mut flush)
    });
    let store_err = |source| ImportError::Store {
        path: path.to_path_buf(),
        source,
    };
    let mut touched: FxHashSet<bellwether_core::AccountId> = FxHashSet::default();
    let mut write_seconds = 0.0;
    while let Some(part) = rx.recv().await {
        touched.extend(part.accounts());
        let t = Instant::now();
        store.write(part).await.map_err(store_err)?;
        write_seconds += t.elapsed().as_secs_f64();
    }
    let (batch, mut report) = reader.await.map_err(|e| ImportError::Io {
        path: path.to_path_buf(),
        source: std::io::Error::other(e.to_string()),
    })??;
    report.read_seconds = started.elapsed().as_secs_f64();
    touched.extend(batch.accounts());
    report.set_touched(touched);
    if !batch.chunks.is_empty() {
        let t = Instant::now();
        store.write(batch).await.map_err(store_err)?;
        write_seconds += t.elapsed().as_secs_f64();
    }
    report.seconds = started.elapsed().as_secs_f64();
    report.write_seconds = write_seconds;
    tracing::info!(file = %path.display(), kind = %report.kind, records = report.records, imported = report.imported,
        rejected = report.rejected_count, chunks_new = report.chunks_new, chunks_skipped = report.chunks_skipped, read_seconds = report.read_seconds, write_seconds = report.write_seconds, "imported");
    Ok(report)
}

fn is_json(path: &Path) -> bool {
    matches!(
        path.extension()
            .and_then(|e| e.to_str())
            .map(|e| e.to_ascii_lowercase())
            .as_deref(),
        Some("jsonl" | "ndjson" | "json")
    )
}

/// Reads the header (CSV) or the first object's keys (JSONL) to recognise a file's kind.
fn sniff_kind(path: &Path) -> Result<Option<Kind>, ImportError> {
    let f = std::fs::File::open(path).map_err(|source| ImportError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let mut first = String::new();
    BufReader::new(f)
        .read_line(&mut first)
        .map_err(|source| ImportError::Io {
            path: path.to_path_buf(),
            source,
        })?;
    Ok(Kind::from_header(&header_of(path, &first)))
}

fn header_of(path: &Path, first: &str) -> Vec<String> {
    if is_json(path) {
        serde_json::from_str::<serde_json::Map<String, serde_json::Value>>(first)
            .map(|m| m.keys().cloned().collect())
            .unwrap_or_default()
    } else {
        let mut r = csv::ReaderBuilder::new()
            .has_headers(false)
            .from_reader(first.as_bytes());
        r.records()
            .next()
            .and_then(|r| r.ok())
            .map(|r| r.iter().map(String::from).collect())
            .unwrap_or_default()
    }
}

/// Tracks chunk boundaries, fingerprints and the rejections that belong to each chunk.
struct Chunker<'a> {
    known: &'a FxHashSet<Fingerprint>,
    /// Chunks of this file already kept (to skip a chunk repeated within the file).
    seen: FxHashSet<Fingerprint>,
    /// New chunks not yet handed to a batch.
    new: Vec<Fingerprint>,
    kept: usize,
    skipped: usize,
    pending_rejects: Vec<(u64, FieldError)>,
}

impl Chunker<'_> {
    /// Decides whether a finished chunk is new, and files its rejections accordingly.
    fn close(&mut self, fp: Fingerprint, report: &mut ImportReport) -> bool {
        let keep = !self.known.contains(&fp) && self.seen.insert(fp);
        if keep {
            self.new.push(fp);
            self.kept += 1;
            for (line, e) in self.pending_rejects.drain(..) {
                report.reject(line, e);
            }
        } else {
            self.skipped += 1;
            self.pending_rejects.clear();
        }
        keep
    }
}

fn read_file(
    path: &Path,
    opts: &ImportOptions,
    known: &FxHashSet<Fingerprint>,
    flush: &mut dyn FnMut(WriteBatch) -> Result<(), ImportError>,
) -> Result<(WriteBatch, ImportReport), ImportError> {
    let io = |source| ImportError::Io {
        path: path.to_path_buf(),
        source,
    };
    let file = std::fs::File::open(path).map_err(io)?;
    let total = file.metadata().map_err(io)?.len();
    let mut reader = BufReader::with_capacity(1 << 20, file);
    let mut first = String::new();
    reader.read_line(&mut first).map_err(io)?;
    let json = is_json(path);
    let header = header_of(path, &first);
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
    let kind = match opts
        .kind
        .or_else(|| Kind::from_file_name(name))
        .or_else(|| Kind::from_header(&header))
    {
        Some(k) => k,
        None => {
            return Err(ImportError::UnknownKind {
                path: path.to_path_buf(),
                header: if header.is_empty() {
                    "no header".into()
                } else {
                    header.join(",")
                },
                kinds: Kind::ALL
                    .iter()
                    .map(|k| k.name())
                    .collect::<Vec<_>>()
                    .join(", "),
            })
        }
    };
    if first.trim().is_empty() {
        return Err(ImportError::Empty {
            path: path.to_path_buf(),
            kind,
        });
    }
    let received = opts.received_at.unwrap_or_else(Timestamp::now);
    let mut report = ImportReport {
        file: path.to_path_buf(),
        kind: kind.name().into(),
        bytes: total,
        ..Default::default()
    };
    let mut chunker = Chunker {
        known,
        seen: FxHashSet::default(),
        new: Vec::new(),
        kept: 0,
        skipped: 0,
        pending_rejects: Vec::new(),
    };
    let progress = |done: u64| {
        if let Some(p) = &opts.progress {
            p(done, total)
        }
    };

    let mut batch = if json {
        // JSONL: the first line is data too.
        let mut line_reader = std::io::Cursor::new(first.into_bytes()).chain(reader);
        read_jsonl(
            path,
            kind,
            &mut line_reader,
            Sink::new(kind, received, &opts.event_times, opts.time_reading),
            &mut chunker,
            &mut report,
            &progress,
        )?
    } else {
        let cols = kind::resolve(kind, &header);
        let missing: Vec<&str> = kind
            .columns()
            .iter()
            .zip(&cols)
            .filter(|(c, m)| c.required && m.is_none())
            .map(|(c, _)| c.name)
            .collect();
        if !missing.is_empty() {
            return Err(ImportError::MissingColumn {
                path: path.to_path_buf(),
                kind,
                missing: missing.join(", "),
                found: header.join(","),
            });
        }
        let known_idx: FxHashSet<usize> = cols.iter().flatten().copied().collect();
        let extras: Vec<(usize, String)> = header
            .iter()
            .enumerate()
            .filter(|(i, _)| !known_idx.contains(i))
            .map(|(i, h)| (i, kind::normalise(h)))
            .collect();
        if kind != Kind::Accounts {
            report.ignored_columns = extras.iter().map(|(_, h)| h.clone()).collect();
        }
        let seed = xxh3_64(format!("{}\x1f{}", kind.name(), header.join("\x1f")).as_bytes());
        let fast = FastFile {
            path,
            seed,
            width: header.len(),
            header_bytes: first.len() as u64,
            block: fast::BLOCK_BYTES,
            flush_rows: opts.batch_rows.unwrap_or(if kind == Kind::Events {
                EVENTS_PER_BATCH
            } else {
                METRICS_PER_BATCH
            }),
        };
        let mut part = 0;
        let mut flush_part = |mut b: WriteBatch| {
            part += 1;
            b.source = format!("{} (part {part})", path.display());
            b.kind = kind.name().into();
            b.received_at = Some(received);
            flush(b)
        };
        let fast_sink: Option<Box<dyn fast::FastSink>> = if header.len() > 32 {
            None
        } else if kind == Kind::Events {
            let cols = EventColumns {
                account: cols[0].expect("required"),
                timestamp: cols[1].expect("required"),
                event: cols[2].expect("required"),
                user: cols[3],
                value: cols[4],
            };
            Some(Box::new(EventRows {
                agg: EventAgg::new(opts.event_times, received, opts.time_reading),
                cols,
            }))
        } else if kind == Kind::DailyMetrics {
            let cols = MetricColumns {
                account: cols[0].expect("required"),
                date: cols[1].expect("required"),
                metric: cols[2].expect("required"),
                value: cols[3].expect("required"),
            };
            Some(Box::new(MetricRows::new(
                cols,
                opts.event_times,
                received,
                opts.time_reading,
            )))
        } else {
            None
        };
        if let Some(mut sink) = fast_sink {
            read_blocks(
                &fast,
                &mut reader,
                sink.as_mut(),
                &mut chunker,
                &mut report,
                &progress,
                &mut flush_part,
            )?
        } else {
            read_csv(
                path,
                kind,
                &cols,
                &extras,
                header.len(),
                first.len() as u64,
                &mut reader,
                seed,
                received,
                &opts.event_times,
                opts.time_reading,
                &mut chunker,
                &mut report,
                &progress,
            )?
        }
    };
    report.chunks_new = chunker.kept;
    report.chunks_skipped = chunker.skipped;
    batch.chunks = chunker.new;
    batch.source = path.display().to_string();
    batch.kind = kind.name().into();
    batch.received_at = Some(received);
    batch.records = report.records;
    batch.rejected = report.rejected_count;
    progress(total);
    Ok((batch, report))
}

/// Chunks of the general readers: every [`CHUNK_RECORDS`] records, fingerprinted by their content.
struct RecordChunks {
    seed: u64,
    hasher: Xxh3,
    in_chunk: u64,
}

impl RecordChunks {
    fn new(seed: u64) -> RecordChunks {
        RecordChunks {
            seed,
            hasher: Xxh3::with_seed(seed),
            in_chunk: 0,
        }
    }

    fn hash(&mut self, bytes: &[u8]) {
        self.hasher.update(bytes);
    }

    /// Files one record's outcome and closes the chunk when it is full; true when a chunk was closed.
    fn done(
        &mut self,
        line: u64,
        result: Result<(), FieldError>,
        chunker: &mut Chunker,
        report: &mut ImportReport,
        sink: &mut Sink,
    ) -> bool {
        if let Err(e) = result {
            chunker.pending_rejects.push((line, e));
        }
        self.in_chunk += 1;
        let full = self.in_chunk == CHUNK_RECORDS;
        if full {
            self.close(chunker, report, sink);
        }
        full
    }

    /// Closes the current chunk, if it holds any record.
    fn close(&mut self, chunker: &mut Chunker, report: &mut ImportReport, sink: &mut Sink) {
        if self.in_chunk > 0 {
            let keep = chunker.close(self.hasher.digest128(), report);
            sink.end_chunk(keep);
            self.hasher = Xxh3::with_seed(self.seed);
            self.in_chunk = 0;
        }
    }
}

/// A sink for records of any kind: events roll up, everything else becomes records.
enum Sink {
    Events(Box<EventAgg>),
    Entities(Box<EntitySink>),
}

impl Sink {
    fn new(
        kind: Kind,
        received: Timestamp,
        window: &EventTimeWindow,
        reading: TimeReading,
    ) -> Sink {
        if kind == Kind::Events {
            Sink::Events(Box::new(EventAgg::new(*window, received, reading)))
        } else {
            Sink::Entities(Box::new(EntitySink::new(kind, received, *window, reading)))
        }
    }
    fn reading(&self) -> TimeReading {
        match self {
            Sink::Events(a) => a.reading,
            Sink::Entities(e) => e.reading,
        }
    }
    fn row(&mut self, f: &Fields, extra: &[(&str, Option<&str>)]) -> Result<(), FieldError> {
        match self {
            Sink::Events(a) => a.add_fields(f),
            Sink::Entities(e) => e.row(f, extra),
        }
    }
    fn end_chunk(&mut self, keep: bool) {
        match self {
            Sink::Events(a) => a.end_chunk(keep),
            Sink::Entities(e) => e.end_chunk(keep),
        }
    }
    fn finish(self, report: &mut ImportReport) -> WriteBatch {
        match self {
            Sink::Events(mut a) => {
                report.imported = a.kept;
                WriteBatch {
                    series: a.take(),
                    ..Default::default()
                }
            }
            Sink::Entities(e) => {
                report.imported = e.kept;
                e.finish()
            }
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn read_csv(
    path: &Path,
    kind: Kind,
    cols: &[Option<usize>],
    extras: &[(usize, String)],
    width: usize,
    header_bytes: u64,
    reader: &mut impl Read,
    seed: u64,
    received: Timestamp,
    window: &EventTimeWindow,
    reading: TimeReading,
    chunker: &mut Chunker,
    report: &mut ImportReport,
    progress: &dyn Fn(u64),
) -> Result<WriteBatch, ImportError> {
    let mut sink = Sink::new(kind, received, window, reading);
    let mut rdr = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(reader);
    let mut rec = csv::ByteRecord::new();
    let mut chunks = RecordChunks::new(seed);
    // The file, opened again only to number rejected records' lines.
    let mut looked_up: Option<std::fs::File> = None;
    loop {
        match rdr.read_byte_record(&mut rec) {
            Ok(false) => break,
            Ok(true) => {}
            Err(e) => {
                let line = rdr.position().line() + 1;
                return Err(ImportError::Csv {
                    path: path.to_path_buf(),
                    line,
                    message: e.to_string(),
                });
            }
        }
        let start = rec.position().cloned();
        report.records += 1;
        for f in rec.iter() {
            chunks.hash(f);
            chunks.hash(b"\x1f");
        }
        chunks.hash(b"\x1e");
        let result = (|| {
            if rec.len() != width {
                return Err(FieldError::record(format!(
                    "has {} fields where the header has {width}; check the quoting of text fields",
                    rec.len()
                )));
            }
            let text = |i: usize| -> Result<Option<&str>, FieldError> {
                let s = std::str::from_utf8(&rec[i]).map_err(|_| {
                    FieldError::record(format!(
                        "field {} is not valid UTF-8; save the file as UTF-8",
                        i + 1
                    ))
                })?;
                let t = s.trim();
                Ok((!t.is_empty()).then_some(t))
            };
            let mut values: Vec<Option<&str>> = Vec::with_capacity(cols.len());
            for c in cols {
                values.push(match c {
                    Some(i) => text(*i)?,
                    None => None,
                });
            }
            let extra: Vec<(&str, Option<&str>)> = extras
                .iter()
                .map(|(i, n)| Ok((n.as_str(), text(*i)?)))
                .collect::<Result<_, FieldError>>()?;
            let fields = Fields {
                values: &values,
                names: kind.columns(),
                reading,
            };
            sink.row(&fields, &extra)
        })();
        // The line is worked out only for a rejected record: it is rare, and needs a look at the file.
        let line = match (&result, &start) {
            (Err(_), Some(p)) => record_line(&mut looked_up, path, header_bytes, p),
            _ => 0,
        };
        if chunks.done(line, result, chunker, report, &mut sink) {
            progress(rdr.position().byte());
        }
    }
    chunks.close(chunker, report, &mut sink);
    Ok(sink.finish(report))
}

/// The line of the file (1 = the header) on which a record read by the `csv` crate starts. The crate's
/// position of a record is where the previous one ended: before the `\n` of a CRLF line end and before any
/// blank lines it skipped, so the line breaks between that position and the record's first byte are counted
/// from the file.
/// `file` is opened on the first rejection and kept for the others.
fn record_line(
    file: &mut Option<std::fs::File>,
    path: &Path,
    header_bytes: u64,
    p: &csv::Position,
) -> u64 {
    use std::io::{Seek, SeekFrom};
    let line = p.line() + 1;
    if file.is_none() {
        *file = std::fs::File::open(path).ok();
    }
    let Some(f) = file.as_mut() else {
        return line;
    };
    if f.seek(SeekFrom::Start(header_bytes + p.byte())).is_err() {
        return line;
    }
    let mut breaks = 0;
    let mut buf = [0u8; 512];
    loop {
        let n = match f.read(&mut buf) {
            Ok(0) | Err(_) => return line + breaks,
            Ok(n) => n,
        };
        for &b in &buf[..n] {
            match b {
                b'\n' => breaks += 1,
                b'\r' => {}
                _ => return line + breaks,
            }
        }
    }
}

fn json_text(v: &serde_json::Value) -> Option<String> {
    match v {
        serde_json::Value::Null => None,
        serde_json::Value::String(s) => Some(s.trim().to_string()).filter(|s| !s.is_empty()),
        serde_json::Value::Bool(b) => Some(b.to_string()),
        serde_json::Value::Number(n) => Some(n.to_string()),
        other => Some(other.to_string()),
    }
}

fn read_jsonl(
    path: &Path,
    kind: Kind,
    reader: &mut impl BufRead,
    mut sink: Sink,
    chunker: &mut Chunker,
    report: &mut ImportReport,
    progress: &dyn Fn(u64),
) -> Result<WriteBatch, ImportError> {
    let columns = kind.columns();
    let reading = sink.reading();
    let seed = xxh3_64(format!("{}\x1fjsonl", kind.name()).as_bytes());
    let mut chunks = RecordChunks::new(seed);
    let mut key_cache: rustc_hash::FxHashMap<String, Option<usize>> = Default::default();
    let mut line_buf = Vec::new();
    let (mut line, mut bytes) = (0u64, 0u64);
    loop {
        line_buf.clear();
        let n = reader
            .read_until(b'\n', &mut line_buf)
            .map_err(|source| ImportError::Io {
                path: path.to_path_buf(),
                source,
            })?;
        if n == 0 {
            break;
        }
        bytes += n as u64;
        line += 1;
        let raw = line_buf.trim_ascii();
        if raw.is_empty() {
            continue;
        }
        report.records += 1;
        chunks.hash(raw);
        chunks.hash(b"\x1e");
        let result = (|| {
            let obj: serde_json::Map<String, serde_json::Value> = serde_json::from_slice(raw)
                .map_err(|e| FieldError::record(format!("is not a JSON object: {e}")))?;
            let mut owned: Vec<Option<String>> = vec![None; columns.len()];
            let mut extra_owned: Vec<(String, Option<String>)> = Vec::new();
            for (k, v) in &obj {
                let idx = *key_cache.entry(k.clone()).or_insert_with(|| {
                    kind::resolve(kind, std::slice::from_ref(k))
                        .iter()
                        .position(|m| m.is_some())
                });
                match idx {
                    Some(i) => owned[i] = json_text(v),
                    None => extra_owned.push((kind::normalise(k), json_text(v))),
                }
            }
            let values: Vec<Option<&str>> = owned.iter().map(|v| v.as_deref()).collect();
            let extra: Vec<(&str, Option<&str>)> = if kind == Kind::Accounts {
                extra_owned
                    .iter()
                    .map(|(k, v)| (k.as_str(), v.as_deref()))
                    .collect()
            } else {
                Vec::new()
            };
            sink.row(
                &Fields {
                    values: &values,
                    names: columns,
                    reading,
                },
                &extra,
            )
        })();
        if chunks.done(line, result, chunker, report, &mut sink) {
            progress(bytes);
        }
    }
    chunks.close(chunker, report, &mut sink);
    Ok(sink.finish(report))
}
