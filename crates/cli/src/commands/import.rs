//! `bellwether import`: one file or a whole folder, with a progress bar and a report per file.

use super::{bar, open_store};
use crate::config::Settings;
use crate::error::CliError;
use bellwether_core::time::{DayOrder, EventTimeWindow, TimeReading};
use bellwether_core::{AccountId, Code};
use bellwether_ingest::{import_dir, import_file, ImportOptions, ImportReport, Kind};
use clap::Args;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

/// Arguments of `import`.
#[derive(Args)]
pub struct ImportArgs {
    /// A file or folder to import, or a kind (accounts, account_changes, contacts, events, daily_metrics,
    /// subscriptions, tickets, billing_events, interactions, outcomes) followed by a file.
    pub target: String,
    /// The file, when the first argument is a kind.
    pub file: Option<PathBuf>,
    /// Print the reports as JSON.
    #[arg(long)]
    pub json: bool,
    /// Do not re-assess the accounts the import touched (run `bellwether assess` later).
    #[arg(long)]
    pub no_assess: bool,
    /// How to read slash dates such as 03/05/2024: mdy (March 5) or dmy (3 May); overrides
    /// `[import] day_order` in the settings.
    #[arg(long, value_name = "ORDER", value_parser = DayOrder::parse)]
    pub day_order: Option<DayOrder>,
    /// Read the file (or every file of the folder) as an import would and report what it would store and
    /// reject, without writing anything or opening the store.
    #[arg(long)]
    pub check: bool,
}

/// Prints one file's report; returns whether any record was rejected. `written` is false for `--check`, which
/// stores nothing.
pub fn print_report(r: &ImportReport, written: bool) -> bool {
    let skipped = if r.chunks_skipped > 0 {
        format!(
            ", {} chunk(s) already imported and skipped",
            r.chunks_skipped
        )
    } else {
        String::new()
    };
    println!(
        "{}: {} {} records read, {} {}, {} rejected{skipped} ({:.1} MB in {:.2}s)",
        r.file.display(),
        r.kind,
        r.records,
        r.imported,
        if written { "stored" } else { "would be stored" },
        r.rejected_count,
        r.bytes as f64 / 1e6,
        r.seconds
    );
    if !r.ignored_columns.is_empty() {
        println!("  note: ignored column(s) {}", r.ignored_columns.join(", "));
    }
    for line in r.rejection_lines().iter().take(20) {
        eprintln!("  {line}");
    }
    if r.rejected_count > 20 {
        eprintln!("  … and {} more rejected records", r.rejected_count - 20);
    }
    if r.rejected_count > 0 && written {
        eprintln!("  fix the rejected lines and import them as a file of their own; the rest of the file is stored");
    } else if r.rejected_count > 0 {
        eprintln!("  fix the rejected lines before importing, or import as it is: the rest of the file would be stored");
    }
    r.rejected_count > 0
}

/// Options with a byte progress bar, checking event times against `event_times` and reading dates under
/// `time_reading`.
pub fn options_with_progress(
    kind: Option<Kind>,
    label: &str,
    event_times: EventTimeWindow,
    time_reading: TimeReading,
) -> (ImportOptions, indicatif::ProgressBar) {
    let pb = bar(
        0,
        &format!("{label} [{{bar:30}}] {{bytes}}/{{total_bytes}} {{bytes_per_sec}} {{eta}}"),
    );
    let p = pb.clone();
    let opts = ImportOptions {
        kind,
        received_at: None,
        event_times,
        time_reading,
        progress: Some(Arc::new(move |done, total| {
            p.set_length(total);
            p.set_position(done);
        })),
        ..Default::default()
    };
    (opts, pb)
}

/// Imports a folder, printing each file's report; returns whether any record was rejected.
pub async fn import_folder<S: bellwether_store::Store>(
    store: &S,
    dir: &Path,
    json: bool,
    event_times: EventTimeWindow,
    time_reading: TimeReading,
) -> Result<(bool, Vec<AccountId>), CliError> {
    let (opts, pb) = options_with_progress(None, "importing", event_times, time_reading);
    let rep = import_dir(store, dir, &opts).await?;
    pb.finish_and_clear();
    print_folder(dir, &rep, json, true)
}

/// Prints a folder's reports (JSON or text; `written` is false for `--check`); returns whether any record was
/// rejected and the accounts touched, or the first file's error code when a file was refused.
fn print_folder(
    dir: &Path,
    rep: &bellwether_ingest::DirReport,
    json: bool,
    written: bool,
) -> Result<(bool, Vec<AccountId>), CliError> {
    let mut any_rejected = false;
    let mut failed = None;
    if json {
        let files: Vec<_> = rep
            .files
            .iter()
            .map(|(p, r)| match r {
                Ok(r) => serde_json::to_value(r).unwrap_or_default(),
                Err(e) => serde_json::json!({"file": p, "error": {"code": e.code(), "message": e.to_string()}}),
            })
            .collect();
        println!(
            "{}",
            serde_json::to_string_pretty(&files).unwrap_or_default()
        );
    }
    let mut touched: Vec<AccountId> = Vec::new();
    for (_, r) in &rep.files {
        match r {
            Ok(r) => {
                touched.extend(r.touched.iter().cloned());
                if !json {
                    any_rejected |= print_report(r, written);
                } else {
                    any_rejected |= r.rejected_count > 0;
                }
            }
            Err(e) => {
                eprintln!("error[{}]: {e}", e.code());
                failed.get_or_insert(e.code());
            }
        }
    }
    for p in &rep.skipped {
        eprintln!("  skipped {}: not an import file (see docs/formats.md for the names and headers recognised)", p.display());
    }
    if rep.files.is_empty() {
        return Err(CliError::new(
            Code::UnknownImportKind,
            format!(
                "{}: no import files found (see docs/formats.md)",
                dir.display()
            ),
        ));
    }
    if let Some(code) = failed {
        return Err(CliError::new(
            code,
            if written {
                "some files were not imported; see the errors above"
            } else {
                "some files cannot be imported; see the errors above"
            },
        ));
    }
    touched.sort();
    touched.dedup();
    Ok((any_rejected, touched))
}

/// Re-assesses the accounts an import touched, as of the book's current day.
pub async fn reassess_touched<S: bellwether_store::Store>(
    store: &S,
    settings: &Settings,
    touched: &[AccountId],
    print: bool,
) -> Result<(), CliError> {
    let day = super::book_day(store, None).await?;
    let out = bellwether_engine::reassess(store, &settings.engine(), Some(touched), day).await?;
    if print {
        println!(
            "re-assessed {} touched accounts as of {}: {} signals opened, {} closed (load {:.3}s, compute {:.3}s, save {:.3}s)",
            out.assessed, out.as_of, out.signals_opened, out.signals_closed, out.load_seconds, out.compute_seconds, out.save_seconds
        );
    }
    Ok(())
}

/// Runs `import`.
pub async fn run(settings: &Settings, a: ImportArgs) -> Result<ExitCode, CliError> {
    let (kind, path) = match &a.file {
        Some(f) => {
            let k = Kind::parse(&a.target).ok_or_else(|| {
                CliError::new(
                    Code::UnknownImportKind,
                    format!(
                        "'{}' is not an import kind; use one of {}",
                        a.target,
                        Kind::ALL
                            .iter()
                            .map(|k| k.name())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                )
            })?;
            (Some(k), f.clone())
        }
        None => (None, PathBuf::from(&a.target)),
    };
    if !path.exists() {
        return Err(CliError::new(
            Code::FileNotFound,
            format!("{}: no such file or folder", path.display()),
        ));
    }
    let reading = settings.time_reading_with(a.day_order);
    if a.check {
        return check(&path, kind, a.json, settings.event_times, reading);
    }
    let store = open_store(settings).await?;
    let (rejected, touched) = if path.is_dir() {
        import_folder(&store, &path, a.json, settings.event_times, reading).await?
    } else {
        let (opts, pb) = options_with_progress(kind, "importing", settings.event_times, reading);
        let r = import_file(&store, &path, &opts).await;
        pb.finish_and_clear();
        let r = r?;
        let rejected = if a.json {
            println!("{}", serde_json::to_string_pretty(&r).unwrap_or_default());
            r.rejected_count > 0
        } else {
            print_report(&r, true)
        };
        (rejected, r.touched)
    };
    if !a.no_assess && !touched.is_empty() {
        reassess_touched(&store, settings, &touched, !a.json).await?;
    }
    Ok(if rejected {
        ExitCode::from(2)
    } else {
        ExitCode::SUCCESS
    })
}

/// `import --check`: reads a file, or every import file of a folder, as an import would, writing nothing.
fn check(
    path: &Path,
    kind: Option<Kind>,
    json: bool,
    event_times: EventTimeWindow,
    time_reading: TimeReading,
) -> Result<ExitCode, CliError> {
    let (opts, pb) = options_with_progress(kind, "checking", event_times, time_reading);
    let rejected = if path.is_dir() {
        let rep = bellwether_ingest::check_dir(path, &opts);
        pb.finish_and_clear();
        print_folder(path, &rep?, json, false)?.0
    } else {
        let r = bellwether_ingest::check_file(path, &opts);
        pb.finish_and_clear();
        let r = r?;
        if json {
            println!("{}", serde_json::to_string_pretty(&r).unwrap_or_default());
            r.rejected_count > 0
        } else {
            print_report(&r, false)
        }
    };
    Ok(if rejected {
        ExitCode::from(2)
    } else {
        ExitCode::SUCCESS
    })
}
