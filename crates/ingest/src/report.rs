//! What an import tells its user: counts, rejected records with file, line, field and a hint, and the errors
//! that stop a whole file.

use crate::Kind;
use bellwether_core::Code;
use std::fmt;
use std::path::PathBuf;

/// A record that was rejected; the rest of its file was still imported.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Rejected {
    /// Line number in the file (1-based, the header is line 1 of a CSV).
    pub line: u64,
    /// The field at fault, when one is.
    pub field: Option<String>,
    /// What was wrong and what to do.
    pub message: String,
    /// The product error code.
    pub code: Code,
}

/// A problem with one field, before the line and file are known.
#[derive(Clone, Debug, PartialEq)]
pub struct FieldError {
    /// The canonical field name, or `None` for the record as a whole.
    pub field: Option<&'static str>,
    /// The message.
    pub message: String,
    /// The product error code.
    pub code: Code,
}

impl FieldError {
    /// A bad field.
    pub fn field(field: &'static str, message: impl Into<String>) -> FieldError {
        FieldError {
            field: Some(field),
            message: message.into(),
            code: Code::InvalidField,
        }
    }
    /// A bad record.
    pub fn record(message: impl Into<String>) -> FieldError {
        FieldError {
            field: None,
            message: message.into(),
            code: Code::InvalidRecord,
        }
    }
    /// An id or name refused by its bound (see `bellwether_core::text`).
    pub fn text(field: &'static str, e: bellwether_core::text::TextError) -> FieldError {
        FieldError::field(field, e.to_string())
    }
    /// An event time outside the accepted window.
    pub fn event_time(field: &'static str, e: bellwether_core::time::EventTimeError) -> FieldError {
        FieldError {
            field: Some(field),
            message: e.to_string(),
            code: Code::EventTimeOutOfRange,
        }
    }
}

/// How many rejected records a report keeps in full (the count is always exact).
pub const MAX_KEPT_REJECTIONS: usize = 1_000;

/// The outcome of importing one file.
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct ImportReport {
    /// The file.
    pub file: PathBuf,
    /// Its kind.
    pub kind: String,
    /// Records read (data lines, not the header).
    pub records: u64,
    /// Records stored (or rolled up).
    pub imported: u64,
    /// Records rejected.
    pub rejected_count: u64,
    /// The first [`MAX_KEPT_REJECTIONS`] rejections.
    pub rejected: Vec<Rejected>,
    /// Chunks stored by this import.
    pub chunks_new: usize,
    /// Chunks skipped because an earlier import stored them.
    pub chunks_skipped: usize,
    /// Accounts whose data changed.
    pub accounts_touched: usize,
    /// Their ids, for re-assessment.
    #[serde(skip)]
    pub touched: Vec<bellwether_core::AccountId>,
    /// Columns that were not understood and were ignored.
    pub ignored_columns: Vec<String>,
    /// Bytes read.
    pub bytes: u64,
    /// Seconds taken in all.
    pub seconds: f64,
    /// Seconds until the file was read, validated and rolled up (batches of large files are written meanwhile).
    pub read_seconds: f64,
    /// Seconds spent writing to the store.
    pub write_seconds: f64,
}

impl ImportReport {
    /// Records the accounts the file touched, sorted, and their count.
    pub(crate) fn set_touched(
        &mut self,
        touched: rustc_hash::FxHashSet<bellwether_core::AccountId>,
    ) {
        self.accounts_touched = touched.len();
        self.touched = touched.into_iter().collect();
        self.touched.sort();
    }

    pub(crate) fn reject(&mut self, line: u64, e: FieldError) {
        self.rejected_count += 1;
        if self.rejected.len() < MAX_KEPT_REJECTIONS {
            self.rejected.push(Rejected {
                line,
                field: e.field.map(String::from),
                message: e.message,
                code: e.code,
            });
        }
    }

    /// One line per rejection, as `file:line: field 'x': message [code]`.
    pub fn rejection_lines(&self) -> Vec<String> {
        self.rejected
            .iter()
            .map(|r| match &r.field {
                Some(f) => format!(
                    "{}:{}: field '{}': {} [{}]",
                    self.file.display(),
                    r.line,
                    f,
                    r.message,
                    r.code
                ),
                None => format!(
                    "{}:{}: {} [{}]",
                    self.file.display(),
                    r.line,
                    r.message,
                    r.code
                ),
            })
            .collect()
    }
}

/// An error that stops the import of a whole file (nothing of it is stored).
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// The file cannot be opened or read.
    #[error("{path}: cannot read it: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The kind could not be recognised.
    #[error("{path}: cannot tell what kind of data this is from its name or header ({header}); name the kind, as in `bellwether import events {path}`, or start the file name with one of: {kinds}")]
    UnknownKind {
        /// The file.
        path: PathBuf,
        /// The header found.
        header: String,
        /// The kinds there are.
        kinds: String,
    },
    /// Required columns are missing.
    #[error("{path}: a {kind} file needs the column(s) {missing}; the header has: {found}. Rename your export's columns (see docs/formats.md#{kind})")]
    MissingColumn {
        /// The file.
        path: PathBuf,
        /// The kind.
        kind: Kind,
        /// What is missing.
        missing: String,
        /// What was found.
        found: String,
    },
    /// The file is empty or has only a header.
    #[error("{path}: the file is empty; a {kind} file starts with a header line")]
    Empty {
        /// The file.
        path: PathBuf,
        /// The kind.
        kind: Kind,
    },
    /// A CSV-level fault (for example an unterminated quote) stopped reading.
    #[error("{path}:{line}: the CSV cannot be read past this line: {message}")]
    Csv {
        /// The file.
        path: PathBuf,
        /// The line.
        line: u64,
        /// Why.
        message: String,
    },
    /// The store failed; nothing of the file was stored.
    #[error("{path}: nothing was stored: {source}")]
    Store {
        /// The file.
        path: PathBuf,
        /// The store's error.
        source: bellwether_store::StoreError,
    },
}

impl ImportError {
    /// The product error code.
    pub fn code(&self) -> Code {
        match self {
            ImportError::Io { source, .. } if source.kind() == std::io::ErrorKind::NotFound => {
                Code::FileNotFound
            }
            ImportError::Io { .. } => Code::IoError,
            ImportError::UnknownKind { .. } => Code::UnknownImportKind,
            ImportError::MissingColumn { .. } => Code::MissingColumn,
            ImportError::Empty { .. } | ImportError::Csv { .. } => Code::InvalidRecord,
            ImportError::Store { source, .. } => source.code(),
        }
    }
}

impl fmt::Display for Rejected {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.field {
            Some(field) => write!(f, "line {}: field '{}': {}", self.line, field, self.message),
            None => write!(f, "line {}: {}", self.line, self.message),
        }
    }
}
