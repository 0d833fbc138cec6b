//! The hostile file corpus (`tests/corpus/csv/`: absurd times, NUL bytes and control characters, megabyte
//! names, quoted line breaks, wrong field counts, bad UTF-8, a truncated last line, a BOM with CRLF, wrongly
//! typed JSONL, impossible money, unknown kinds and enums) through the import path: every file imports, every
//! rejected record names its line and (unless the whole record is unreadable) its field with a code, and the
//! one good record each file carries is stored.

use bellwether_core::Code;
use bellwether_ingest::{import_file, ImportOptions};
use bellwether_store::Store;
use bellwether_store_sqlite::SqliteStore;
use std::path::Path;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_hostile_file_imports_its_good_record_and_names_each_bad_one() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus/csv");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    assert!(files.len() >= 15, "{} files", files.len());
    let tmp = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&tmp.path().join("b.db")).await.unwrap();
    for f in &files {
        let name = f.file_name().unwrap().to_string_lossy().into_owned();
        let report = import_file(&store, f, &ImportOptions::default())
            .await
            .unwrap_or_else(|e| panic!("{name}: the file is refused whole: {e}"));
        let seen = format!(
            "{name}: {} records, {} imported, {} rejected",
            report.records, report.imported, report.rejected_count
        );
        assert!(report.imported >= 1, "{seen}");
        assert!(report.rejected_count >= 1, "nothing refused: {seen}");
        for r in &report.rejected {
            assert!(r.line >= 1, "{name}: {r:?}");
            assert!(
                r.field.is_some() || r.code == Code::InvalidRecord,
                "{name}: a rejected value names its field: {r:?}"
            );
            assert!(!r.message.is_empty(), "{name}: {r:?}");
        }
    }
    let ids = store.account_ids().await.unwrap();
    for n in 1..=17 {
        let id = format!("corpus-good-{n}");
        assert!(
            ids.iter().any(|a| a.as_str() == id),
            "{id} is stored beside the bad records"
        );
    }
    // The quoted line break did not invent an account from the CSV-shaped text inside it.
    let book = store.load_series(None).await.unwrap();
    assert!(
        !book
            .iter()
            .any(|(a, s)| a.as_str() == "b" && s.get("event:Fake").is_some()),
        "a quoted line is not a record"
    );
}
