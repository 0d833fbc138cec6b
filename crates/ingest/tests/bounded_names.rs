//! Ids and names in import files are bounded: an overlong value, a NUL or other control character, or a time
//! with an impossible offset refuses its record, named by line, field and code, and the rest is kept. The
//! same rule holds on every reader: the block reader, the general CSV reader and JSONL.

use bellwether_core::{AccountId, Code};
use bellwether_ingest::{import_file, ImportOptions, ImportReport};
use bellwether_store::Store;
use bellwether_store_sqlite::SqliteStore;
use std::path::Path;

async fn store(dir: &Path) -> SqliteStore {
    SqliteStore::open(&dir.join("db/bellwether.db"))
        .await
        .unwrap()
}

async fn import(s: &SqliteStore, dir: &Path, name: &str, text: &str) -> ImportReport {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    import_file(s, &p, &ImportOptions::default()).await.unwrap()
}

/// (line, field, code) of every rejection.
fn rejections(r: &ImportReport) -> Vec<(u64, String, Code)> {
    r.rejected
        .iter()
        .map(|x| (x.line, x.field.clone().unwrap_or_default(), x.code))
        .collect()
}

async fn accounts(s: &SqliteStore) -> Vec<AccountId> {
    let mut a: Vec<AccountId> = s
        .load_series(None)
        .await
        .unwrap()
        .into_iter()
        .map(|(a, _)| a)
        .collect();
    a.sort();
    a
}

fn events_csv(quote_one: bool) -> String {
    let huge = "e".repeat(1 << 20);
    let note = if quote_one { "\"a, quoted note\"" } else { "n" };
    format!(
        "account_id,timestamp,event,user_id,value,note\n\
         acme,2026-03-01T09:00:00Z,login,u1,1,{note}\n\
         ac\0me,2026-03-01T09:00:00Z,login,u1,1,n\n\
         acme,2026-03-01T09:00:00Z,{huge},u1,1,n\n\
         acme,2026-03-01T09:00:00Z,login,u\x001,1,n\n\
         {long},2026-03-01T09:00:00Z,login,u1,1,n\n\
         acme,2026-03-01T09:00:00+99:99,login,u1,1,n\n\
         acme,2026-03-01T09:00:00Z,log\x1bin,u1,1,n\n\
         acme,2026-03-01T10:00:00Z,login,u2,1,n\n",
        long = "a".repeat(257),
    )
}

fn expected_event_rejections() -> Vec<(u64, String, Code)> {
    [
        (3, "account_id"),
        (4, "event"),
        (5, "user_id"),
        (6, "account_id"),
        (7, "timestamp"),
        (8, "event"),
    ]
    .into_iter()
    .map(|(l, f)| (l, f.to_string(), Code::InvalidField))
    .collect()
}

#[tokio::test]
async fn events_with_overlong_or_control_character_ids_and_names_are_refused_by_line_and_field() {
    for quoted in [false, true] {
        let dir = tempfile::tempdir().unwrap();
        let s = store(dir.path()).await;
        let r = import(&s, dir.path(), "events.csv", &events_csv(quoted)).await;
        assert_eq!(r.records, 8);
        assert_eq!(r.imported, 2, "quoted: {quoted}");
        assert_eq!(
            rejections(&r),
            expected_event_rejections(),
            "quoted: {quoted}"
        );
        let lines = r.rejection_lines();
        assert!(lines[0].contains("control character U+0000"), "{lines:?}");
        assert!(
            lines[1].contains("1048576 bytes long; names are at most 200 bytes"),
            "{lines:?}"
        );
        assert!(lines[3].contains("ids are at most 256 bytes"), "{lines:?}");
        assert!(lines[4].contains("offset out of range"), "{lines:?}");
        assert_eq!(accounts(&s).await, vec![AccountId("acme".into())]);
    }
}

#[tokio::test]
async fn jsonl_events_and_daily_metrics_follow_the_same_bounds() {
    let dir = tempfile::tempdir().unwrap();
    let s = store(dir.path()).await;
    let r = import(
        &s,
        dir.path(),
        "events.jsonl",
        "{\"account_id\":\"acme\",\"timestamp\":\"2026-03-01T09:00:00Z\",\"event\":\"login\",\"user_id\":\"u1\"}\n\
         {\"account_id\":\"acme\",\"timestamp\":\"2026-03-01T09:00:00Z\",\"event\":\"lo\\u0000gin\",\"user_id\":\"u1\"}\n\
         {\"account_id\":\"acme\",\"timestamp\":\"2026-03-01T09:00:00Z\",\"event\":\"login\",\"user_id\":\"u\\t1\"}\n",
    )
    .await;
    assert_eq!(r.imported, 1);
    assert_eq!(
        rejections(&r),
        vec![
            (2, "event".to_string(), Code::InvalidField),
            (3, "user_id".to_string(), Code::InvalidField)
        ]
    );
    let r = import(
        &s,
        dir.path(),
        "daily_metrics.csv",
        "account_id,date,metric,value\n\
         acme,2026-03-01,seats_used,4\n\
         acme,2026-03-01,seats\0used,4\n\
         glo\x7fbex,2026-03-01,seats_used,4\n",
    )
    .await;
    assert_eq!(r.imported, 1);
    assert_eq!(
        rejections(&r),
        vec![
            (3, "metric".to_string(), Code::InvalidField),
            (4, "account_id".to_string(), Code::InvalidField)
        ]
    );
    assert_eq!(accounts(&s).await, vec![AccountId("acme".into())]);
}

#[tokio::test]
async fn entity_files_bound_their_ids_and_names() {
    let dir = tempfile::tempdir().unwrap();
    let s = store(dir.path()).await;
    let r = import(
        &s,
        dir.path(),
        "accounts.csv",
        &format!(
            "account_id,name,owner,segment,plan\n\
             acme,Acme Inc,ann@example.com,enterprise,pro\n\
             initech,Ini\0tech,bob@example.com,smb,pro\n\
             globex,Globex,bob@example.com,smb,{}\n\
             hooli\x01,Hooli,bob@example.com,smb,pro\n",
            "p".repeat(201)
        ),
    )
    .await;
    assert_eq!(r.imported, 1);
    assert_eq!(
        rejections(&r),
        vec![
            (3, "name".to_string(), Code::InvalidField),
            (4, "plan".to_string(), Code::InvalidField),
            (5, "account_id".to_string(), Code::InvalidField)
        ]
    );
    let r = import(
        &s,
        dir.path(),
        "account_changes.csv",
        "account_id,attribute,value,valid_from\n\
         acme,owner,carl@example.com,2026-03-01\n\
         acme,owner,carl\0@example.com,2026-03-02\n",
    )
    .await;
    assert_eq!(r.imported, 1);
    assert_eq!(
        rejections(&r),
        vec![(3, "value".to_string(), Code::InvalidField)]
    );
    let r = import(
        &s,
        dir.path(),
        "contacts.csv",
        "contact_id,account_id,email,name\n\
         c1,acme,ann@example.com,Ann\n\
         c\x002,acme,bo@example.com,Bo\n",
    )
    .await;
    assert_eq!(r.imported, 1);
    assert_eq!(
        rejections(&r),
        vec![(3, "contact_id".to_string(), Code::InvalidField)]
    );
}
