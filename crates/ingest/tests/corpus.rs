//! The hostile file corpus (`tests/corpus/csv/`: absurd times, NUL bytes and control characters, megabyte
//! names, quoted line breaks, wrong field counts, bad UTF-8, a truncated last line, a BOM with CRLF, wrongly
//! typed JSONL, impossible money, unknown kinds and enums) through the import path: every file imports, every
//! rejected record names its line and (unless the whole record is unreadable) its field with a code, and the
//! one good record each file carries is stored.

use bellwether_core::Code;
use bellwether_ingest::{check_file, import_file, ImportOptions};
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
        let text = String::from_utf8_lossy(&std::fs::read(f).unwrap()).into_owned();
        let lines: Vec<&str> = text.split('\n').collect();
        for r in &report.rejected {
            assert!(r.line >= 1, "{name}: {r:?}");
            // The line named is where a record starts: inside the file, not the header, not blank.
            let at = lines
                .get(r.line as usize - 1)
                .map(|l| l.trim_end_matches('\r'));
            assert!(
                at.is_some_and(|l| !l.trim().is_empty()),
                "{name}: line {} is {at:?}: {r:?}",
                r.line
            );
            assert!(
                r.line > 1 || name.ends_with(".jsonl"),
                "{name}: the header: {r:?}"
            );
            assert!(
                r.field.is_some() || r.code == Code::InvalidRecord,
                "{name}: a rejected value names its field: {r:?}"
            );
            assert!(!r.message.is_empty(), "{name}: {r:?}");
        }
    }
    let ids = store.account_ids().await.unwrap();
    for n in 1..=18 {
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

/// Files with CRLF line ends, blank lines and quoted line breaks before the bad records: each rejection names
/// the line its record starts on, on the general reader (tickets), the fast one (events) and JSONL alike.
#[test]
fn rejected_records_name_the_line_they_start_on_whatever_the_line_ends() {
    let tmp = tempfile::tempdir().unwrap();
    let cases: [(&str, &str, &[&str]); 3] = [
        (
            "tickets.csv",
            "ticket_id,account_id,opened_at,body",
            &[
                "ok1,a1,2026-01-01,\"two\r\nlines\"",
                "",
                "BAD1,a1,never,x",
                "",
                "",
                "ok2,a1,2026-01-02,\"a\nb\nc\"",
                "BAD2,a1,2026-01-02,\"nul\u{0}\"",
            ],
        ),
        (
            "events.csv",
            "account_id,timestamp,event",
            &[
                "a1,2026-01-01,login",
                "",
                "a1,never,BAD1",
                "a1,2026-01-01,\"quoted, \"\"event\"\"\"",
                "",
                "a1,soon,BAD2",
            ],
        ),
        (
            "tickets.jsonl",
            "",
            &[
                r#"{"ticket_id":"ok1","account_id":"a1","opened_at":"2026-01-01"}"#,
                "",
                r#"{"ticket_id":"BAD1","account_id":"a1","opened_at":"never"}"#,
                r#"{"ticket_id":"ok2","account_id":"a1","opened_at":"2026-01-01","body":"a\nb"}"#,
                "",
                r#"{"ticket_id":"BAD2","account_id":"a1","opened_at":"x"}"#,
            ],
        ),
    ];
    for (name, header, rows) in cases {
        for end in ["\n", "\r\n"] {
            let mut all: Vec<&str> = Vec::new();
            if !header.is_empty() {
                all.push(header);
            }
            all.extend_from_slice(rows);
            let text = all.join(end) + end;
            // The expected lines: where each BAD record starts, counting every line break of the file.
            let mut expected = Vec::new();
            let mut line = 1;
            for r in &all {
                if r.contains("BAD") {
                    expected.push(line);
                }
                line += 1 + r.matches('\n').count() as u64;
            }
            let path = tmp.path().join(name);
            std::fs::write(&path, text).unwrap();
            // Read without writing: the same records with other line ends are one chunk, which an import
            // would skip the second time.
            let report = check_file(&path, &ImportOptions::default()).unwrap();
            let got: Vec<u64> = report.rejected.iter().map(|r| r.line).collect();
            assert_eq!(
                got, expected,
                "{name} with {end:?} line ends: {:?}",
                report.rejected
            );
        }
    }
}
