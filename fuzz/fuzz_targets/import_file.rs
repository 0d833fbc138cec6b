//! An import file of every kind, CSV and JSONL, on arbitrary bytes: the first byte picks the kind, the format
//! and the day order; the rest is the file, read by `check_file` exactly as an import reads it. A file is
//! refused whole with an error naming it, or read into stored and rejected records, each rejection on a line
//! the file has.
#![no_main]

use bellwether_core::time::{DayOrder, TimeReading};
use bellwether_core::Timestamp;
use bellwether_ingest::{check_file, ImportOptions, Kind};
use libfuzzer_sys::fuzz_target;
use std::path::PathBuf;
use std::sync::OnceLock;

fn scratch(ext: &str) -> PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    let dir = DIR.get_or_init(|| {
        let base = if std::path::Path::new("/dev/shm").is_dir() {
            PathBuf::from("/dev/shm")
        } else {
            std::env::temp_dir()
        };
        let d = base.join(format!("bellwether-fuzz-{}", std::process::id()));
        std::fs::create_dir_all(&d).expect("scratch folder");
        d
    });
    dir.join(format!("input.{ext}"))
}

fuzz_target!(|data: &[u8]| {
    let Some((&pick, file)) = data.split_first() else {
        return;
    };
    let kind = Kind::ALL[(pick & 0x0f) as usize % Kind::ALL.len()];
    let jsonl = pick & 0x10 != 0;
    let path = scratch(if jsonl { "jsonl" } else { "csv" });
    std::fs::write(&path, file).expect("scratch file");
    let opts = ImportOptions {
        kind: Some(kind),
        received_at: Some(Timestamp(1_796_000_000_000)),
        time_reading: TimeReading {
            day_order: match pick >> 5 {
                1 => Some(DayOrder::Mdy),
                2 => Some(DayOrder::Dmy),
                _ => None,
            },
            ..TimeReading::DEFAULT
        },
        // Small batches, so the mid-file hand-over is exercised too.
        batch_rows: Some(64),
        ..Default::default()
    };
    if let Ok(r) = check_file(&path, &opts) {
        let lines = file.iter().filter(|&&b| b == b'\n').count() as u64 + 1;
        assert!(r.imported + r.rejected_count <= r.records, "{r:?}");
        for rej in &r.rejected {
            assert!(
                rej.line >= 1 && rej.line <= lines,
                "line {} of {lines}: {rej:?}",
                rej.line
            );
        }
    }
});
