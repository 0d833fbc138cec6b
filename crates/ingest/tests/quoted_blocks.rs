//! Events and daily metrics are read in large blocks; quoted text fields (notes with line breaks, commas and
//! CSV-shaped lines, or longer than a block) stay inside their record however the blocks fall.

use bellwether_core::AccountId;
use bellwether_ingest::{import_file, ImportOptions};
use bellwether_store::Store;
use bellwether_store_sqlite::SqliteStore;
use std::fmt::Write;
use std::path::Path;

/// The block size of the reader: files here are larger, so a block boundary falls inside their quoted text.
const BLOCK: usize = 4 << 20;

async fn store(dir: &Path) -> SqliteStore {
    SqliteStore::open(&dir.join("db/bellwether.db"))
        .await
        .unwrap()
}

async fn accounts_and_total(s: &SqliteStore, series: &str) -> (Vec<AccountId>, f64) {
    let all = s.load_series(None).await.unwrap();
    let total = all
        .iter()
        .filter_map(|(_, s)| s.get(series))
        .flat_map(|m| m.points.iter().map(|p| p.1))
        .sum();
    (all.into_iter().map(|(a, _)| a).collect(), total)
}

fn event_row(out: &mut String, i: usize, note: &str) {
    let day = 1 + i % 28;
    writeln!(
        out,
        "acme,2026-03-{day:02}T10:{:02}:00Z,login,u{},1,{note}",
        i % 60,
        i % 7
    )
    .unwrap();
}

#[tokio::test]
async fn a_quoted_multi_line_note_holding_a_csv_line_stays_one_account() {
    let dir = tempfile::tempdir().unwrap();
    let s = store(dir.path()).await;
    let mut text = String::from("account_id,timestamp,event,user_id,value,note\n");
    let mut rows = 0;
    while text.len() < BLOCK - 30_000 {
        event_row(&mut text, rows, "plain note");
        rows += 1;
    }
    // A pasted export in a note: 60 KB of lines that look like rows of another account, across the block end.
    let pasted = "globex,2026-03-02T11:00:00Z,login,u9,1,x\n".repeat(1500);
    event_row(
        &mut text,
        rows,
        &format!("\"see \"\"export\"\":\n{pasted}\""),
    );
    rows += 1;
    for _ in 0..1000 {
        event_row(&mut text, rows, "after");
        rows += 1;
    }
    assert!(text.len() > BLOCK + 10_000);
    let p = dir.path().join("events.csv");
    std::fs::write(&p, &text).unwrap();
    let r = import_file(&s, &p, &ImportOptions::default())
        .await
        .unwrap();
    assert_eq!(r.rejected_count, 0, "{:?}", r.rejection_lines());
    assert_eq!(r.records, rows as u64);
    assert_eq!(r.imported, rows as u64);
    assert_eq!(r.accounts_touched, 1);
    let (accounts, logins) = accounts_and_total(&s, "event:login").await;
    assert_eq!(accounts, vec![AccountId("acme".into())]);
    assert_eq!(logins, rows as f64);

    // Read again, the blocks fall the same way: nothing new.
    let again = import_file(&s, &p, &ImportOptions::default())
        .await
        .unwrap();
    assert_eq!(again.chunks_new, 0);
    assert_eq!(again.imported, 0);
    assert_eq!(accounts_and_total(&s, "event:login").await.1, rows as f64);
}

#[tokio::test]
async fn a_quoted_field_longer_than_two_blocks_is_one_field_of_one_record() {
    let dir = tempfile::tempdir().unwrap();
    let s = store(dir.path()).await;
    let mut text = String::from("account_id,timestamp,event,user_id,value,note\n");
    for i in 0..5 {
        event_row(&mut text, i, "short");
    }
    let long = "a line of a long transcript, with commas\n".repeat(9 * (1 << 20) / 41);
    event_row(&mut text, 5, &format!("\"{long}\""));
    for i in 6..11 {
        event_row(&mut text, i, "short");
    }
    // A bad row after the long field is named by its own line.
    text.push_str("acme,yesterday,login,u1,1,late\n");
    assert!(text.len() > 2 * BLOCK);
    let p = dir.path().join("events.csv");
    std::fs::write(&p, &text).unwrap();
    let r = import_file(&s, &p, &ImportOptions::default())
        .await
        .unwrap();
    assert_eq!(r.records, 12);
    assert_eq!(r.imported, 11);
    assert_eq!(r.rejected_count, 1);
    let bad_line = text.matches('\n').count() as u64;
    assert_eq!(r.rejected[0].line, bad_line);
    assert_eq!(r.rejected[0].field.as_deref(), Some("timestamp"));
    let (accounts, logins) = accounts_and_total(&s, "event:login").await;
    assert_eq!(accounts, vec![AccountId("acme".into())]);
    assert_eq!(logins, 11.0);
}

#[tokio::test]
async fn daily_metrics_keep_quoted_notes_whole_and_name_bad_rows_by_their_line() {
    let dir = tempfile::tempdir().unwrap();
    let s = store(dir.path()).await;
    let mut text = String::from("account_id,date,metric,value,comment\n");
    let mut rows = 0u64;
    while text.len() < BLOCK - 5_000 {
        writeln!(
            text,
            "acme,2026-03-{:02},seats_used,{rows},ok",
            1 + rows % 28
        )
        .unwrap();
        rows += 1;
    }
    let pasted = "initech,2026-03-02,seats_used,99,x\r\n".repeat(400);
    writeln!(text, "acme,2026-03-01,seats_used,5,\"{pasted}\"").unwrap();
    rows += 1;
    writeln!(text, "acme,2026-03-02,seats_used,lots,bad").unwrap();
    let bad_line = text.matches('\n').count() as u64;
    rows += 1;
    assert!(text.len() > BLOCK);
    let p = dir.path().join("daily_metrics.csv");
    std::fs::write(&p, &text).unwrap();
    let r = import_file(&s, &p, &ImportOptions::default())
        .await
        .unwrap();
    assert_eq!(r.records, rows);
    assert_eq!(r.imported, rows - 1);
    assert_eq!(r.rejected_count, 1);
    assert_eq!(r.rejected[0].line, bad_line);
    assert_eq!(r.rejected[0].field.as_deref(), Some("value"));
    let (accounts, _) = accounts_and_total(&s, "metric:seats_used").await;
    assert_eq!(accounts, vec![AccountId("acme".into())]);
}
