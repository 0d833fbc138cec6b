//! Import through the real SQLite store: bad lines are named and skipped, good lines kept, re-imports change
//! nothing, and every kind lands in its canonical form.

use bellwether_core::series::{ACTIVE_USERS, METRIC_PREFIX};
use bellwether_core::{AccountId, Day};
use bellwether_ingest::{import_dir, import_file, ImportOptions, Kind};
use bellwether_store::Store;
use bellwether_store_sqlite::SqliteStore;
use std::path::{Path, PathBuf};

async fn store(dir: &Path) -> SqliteStore {
    SqliteStore::open(&dir.join("db/bellwether.db"))
        .await
        .unwrap()
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

async fn series_total(s: &SqliteStore, id: &str, metric: &str) -> f64 {
    let all = s.load_series(Some(&[AccountId(id.into())])).await.unwrap();
    all.first()
        .and_then(|(_, s)| s.get(metric))
        .map_or(0.0, |m| m.points.iter().map(|p| p.1).sum())
}

#[tokio::test]
async fn broken_lines_are_named_good_lines_kept_and_reimport_adds_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let s = store(dir.path()).await;
    let p = write(
        dir.path(),
        "events.csv",
        "account_id,timestamp,event,user_id,value\n\
         acme,2024-03-01T09:00:00Z,login,u1,1\n\
         acme,2024-03-01T10:00:00Z,login,u2,1\n\
         acme,03/01/2024,login,u1,1\n\
         acme,2024-03-02T10:00:00Z,report_exported,u1\n\
         ,2024-03-02T10:00:00Z,login,u1,1\n\
         globex,2024-03-02T11:00:00Z,login,u9,abc\n\
         globex,2024-03-02T11:30:00Z,login,u9,1\n",
    );
    let r = import_file(&s, &p, &ImportOptions::default())
        .await
        .unwrap();
    assert_eq!(r.kind, "events");
    assert_eq!(r.records, 7);
    assert_eq!(r.imported, 3);
    assert_eq!(r.rejected_count, 4);
    let lines = r.rejection_lines();
    assert!(
        lines[0].contains("events.csv:4: field 'timestamp'") && lines[0].contains("03/01/2024"),
        "{lines:?}"
    );
    assert!(
        lines[1].contains("events.csv:5:") && lines[1].contains("4 fields where the header has 5"),
        "{lines:?}"
    );
    assert!(lines[2].contains(":6: field 'account_id'"), "{lines:?}");
    assert!(
        lines[3].contains(":7: field 'value'") && lines[3].contains("'abc'"),
        "{lines:?}"
    );
    assert_eq!(series_total(&s, "acme", "event:login").await, 2.0);
    assert_eq!(series_total(&s, "acme", ACTIVE_USERS).await, 2.0);
    assert_eq!(series_total(&s, "globex", "event:login").await, 1.0);

    let before = s.stats().await.unwrap();
    let again = import_file(&s, &p, &ImportOptions::default())
        .await
        .unwrap();
    assert_eq!(again.imported, 0);
    assert_eq!(again.chunks_skipped, 1);
    assert_eq!(
        again.rejected_count, 0,
        "rejections of a skipped chunk were reported the first time"
    );
    assert_eq!(
        series_total(&s, "acme", "event:login").await,
        2.0,
        "re-import must not double counts"
    );
    let after = s.stats().await.unwrap();
    assert_eq!(
        (before.accounts, before.chunks, before.series_bytes),
        (after.accounts, after.chunks, after.series_bytes)
    );
}

#[tokio::test]
async fn a_new_file_adds_counts_and_distinct_users_take_the_larger() {
    let dir = tempfile::tempdir().unwrap();
    let s = store(dir.path()).await;
    let a = write(dir.path(), "events-1.csv", "account_id,timestamp,event,user_id\nacme,2024-03-01T09:00:00Z,login,u1\nacme,2024-03-01T09:05:00Z,login,u1\n");
    let b = write(dir.path(), "events-2.csv", "account_id,timestamp,event,user_id\nacme,2024-03-01T12:00:00Z,login,u2\nacme,2024-03-02T09:00:00Z,login,u3\n");
    import_file(&s, &a, &ImportOptions::default())
        .await
        .unwrap();
    import_file(&s, &b, &ImportOptions::default())
        .await
        .unwrap();
    let all = s.load_series(None).await.unwrap();
    let acme = &all[0].1;
    assert_eq!(
        acme.get("event:login").unwrap().points,
        vec![(Day::ymd(2024, 3, 1), 3.0), (Day::ymd(2024, 3, 2), 1.0)]
    );
    assert_eq!(
        acme.get("users:login").unwrap().points[0].1,
        1.0,
        "max(1, 1): a lower bound when a day spans imports"
    );
    assert_eq!(acme.get(ACTIVE_USERS).unwrap().points[1].1, 1.0);
}

#[tokio::test]
async fn quoted_csv_and_jsonl_events_roll_up_the_same() {
    let dir = tempfile::tempdir().unwrap();
    let s = store(dir.path()).await;
    let q = write(dir.path(), "events_q.csv", "account_id,timestamp,event,user_id\n\"acme\",2024-03-01T09:00:00Z,\"report, exported\",u1\n");
    let j = write(
        dir.path(),
        "events.jsonl",
        "{\"groupId\":\"globex\",\"timestamp\":\"2024-03-01T09:00:00Z\",\"event\":\"login\",\"userId\":\"u1\"}\n\
         not json\n\
         {\"account_id\":\"globex\",\"timestamp\":1709283600,\"event\":\"login\",\"user_id\":42}\n",
    );
    let r = import_file(&s, &q, &ImportOptions::default())
        .await
        .unwrap();
    assert_eq!((r.imported, r.rejected_count), (1, 0));
    assert_eq!(
        series_total(&s, "acme", "event:report, exported").await,
        1.0
    );
    let r = import_file(&s, &j, &ImportOptions::default())
        .await
        .unwrap();
    assert_eq!((r.imported, r.rejected_count), (2, 1));
    assert!(
        r.rejection_lines()[0].contains("events.jsonl:2: is not a JSON object"),
        "{:?}",
        r.rejection_lines()
    );
    assert_eq!(series_total(&s, "globex", "event:login").await, 2.0);
    assert_eq!(series_total(&s, "globex", ACTIVE_USERS).await, 2.0);
}

#[tokio::test]
async fn a_folder_imports_every_kind_and_keeps_history() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().join("book");
    std::fs::create_dir(&d).unwrap();
    write(&d, "accounts.csv", "account_id,name,owner,segment,arr,seats,contract_start,renewal_date,region\nacme,Acme,dana@v.io,Mid-Market,48000,60,2023-04-01,2025-04-01,emea\n");
    write(&d, "account_changes.csv", "account_id,attribute,value,valid_from\nacme,arr,60000,2024-04-01\nacme,owner,lee@v.io,2024-06-01\nacme,seats,x,2024-06-01\n");
    write(&d, "contacts.csv", "contact_id,account_id,email,role,status,valid_from\nc1,acme,a@acme.io,champion,active,2023-04-01\nc1,acme,a@acme.io,champion,left,2024-05-01\n");
    write(&d, "subs.csv", "account_id,plan,start_date,end_date,mrr,quantity\nacme,growth,2023-04-01,2024-04-01,4000,60\nacme,growth,2024-04-01,,5000,60\n");
    write(&d, "tickets.csv", "ticket_id,account_id,opened_at,closed_at,priority,sla_breached,csat,subject,body\nt1,acme,2024-05-02T10:00:00Z,,urgent,yes,,\"Export broken, again\",\"We are frustrated.\"\n");
    write(&d, "billing_events.csv", "event_id,account_id,timestamp,kind,amount\nb1,acme,2024-05-03,invoice.payment_failed,5000\n");
    write(&d, "interactions.csv", "interaction_id,account_id,timestamp,kind,response,score\ni1,acme,2024-05-04,qbr_invite,ignored,\ni2,acme,2024-05-05,nps,,4\n");
    write(
        &d,
        "outcomes.csv",
        "account_id,date,kind,arr_delta\nacme,2024-04-01,expanded,12000\n",
    );
    write(
        &d,
        "daily_metrics.csv",
        "account_id,date,metric,value\nacme,2024-05-01,logins,10\nacme,2024-05-01,logins,12\n",
    );
    write(&d, "README.txt", "not data");
    let s = store(dir.path()).await;
    let rep = import_dir(&s, &d, &ImportOptions::default()).await.unwrap();
    assert_eq!(rep.files.len(), 9);
    assert_eq!(rep.skipped.len(), 1);
    let kinds: Vec<_> = rep
        .files
        .iter()
        .map(|(_, r)| r.as_ref().unwrap().kind.clone())
        .collect();
    assert_eq!(
        kinds[0],
        Kind::Accounts.name(),
        "accounts are imported first"
    );
    let changes = rep
        .files
        .iter()
        .find_map(|(_, r)| r.as_ref().ok().filter(|r| r.kind == "account_changes"))
        .unwrap();
    assert_eq!(changes.rejected_count, 1);
    assert!(
        changes.rejection_lines()[0].contains(":4: field 'value': 'x' is not a seat count"),
        "{:?}",
        changes.rejection_lines()
    );

    let book = s.load_book(None).await.unwrap();
    let acme = &book.accounts[&AccountId("acme".into())];
    let v = acme.view(&AccountId("acme".into()), Day::ymd(2024, 3, 1));
    assert_eq!(v.arr.unwrap().minor, 4_800_000);
    assert_eq!(v.owner.as_deref(), Some("dana@v.io"));
    assert_eq!(v.segment.as_deref(), Some("mid_market"));
    assert_eq!(v.extra["region"], "emea");
    let later = acme.view(&AccountId("acme".into()), Day::ymd(2024, 7, 1));
    assert_eq!(
        (later.arr.unwrap().minor, later.owner.as_deref()),
        (6_000_000, Some("lee@v.io"))
    );
    assert_eq!(
        acme.contacts_as_of(Day::ymd(2024, 4, 1))[0].status,
        bellwether_core::model::ContactStatus::Active
    );
    assert_eq!(
        acme.contacts_as_of(Day::ymd(2024, 6, 1))[0].status,
        bellwether_core::model::ContactStatus::Left
    );
    assert_eq!(acme.subscriptions.len(), 2);
    assert_eq!(acme.subscriptions[1].end, None);
    assert_eq!(acme.tickets[0].subject, "Export broken, again");
    assert!(acme.tickets[0].sla_breached);
    assert_eq!(
        acme.billing[0].kind,
        bellwether_core::model::BillingKind::PaymentFailed
    );
    assert_eq!(acme.interactions[1].score, Some(4.0));
    assert_eq!(acme.outcomes[0].arr_delta, Some(1_200_000));
    let series = s.load_series(None).await.unwrap();
    assert_eq!(
        series[0]
            .1
            .get(&format!("{METRIC_PREFIX}logins"))
            .unwrap()
            .points,
        vec![(Day::ymd(2024, 5, 1), 12.0)],
        "last value of a day wins"
    );

    // The whole folder again: nothing changes.
    let before = s.stats().await.unwrap();
    let rep = import_dir(&s, &d, &ImportOptions::default()).await.unwrap();
    assert!(rep
        .files
        .iter()
        .all(|(_, r)| r.as_ref().unwrap().imported == 0));
    let after = s.stats().await.unwrap();
    assert_eq!(before, after);
}

#[tokio::test]
async fn whole_file_errors_name_the_file_and_what_to_do() {
    let dir = tempfile::tempdir().unwrap();
    let s = store(dir.path()).await;
    let p = write(
        dir.path(),
        "events.csv",
        "account,when,what\nacme,2024-01-01,login\n",
    );
    let e = import_file(&s, &p, &ImportOptions::default())
        .await
        .unwrap_err();
    let msg = e.to_string();
    assert!(
        msg.contains("events.csv")
            && msg.contains("account_id, timestamp, event")
            && msg.contains("account,when,what"),
        "{msg}"
    );
    assert_eq!(e.code(), bellwether_core::Code::MissingColumn);
    let p = write(dir.path(), "mystery.csv", "foo,bar\n1,2\n");
    let e = import_file(&s, &p, &ImportOptions::default())
        .await
        .unwrap_err();
    assert_eq!(e.code(), bellwether_core::Code::UnknownImportKind);
    assert!(e.to_string().contains("bellwether import events"), "{e}");
    let e = import_file(&s, &dir.path().join("nope.csv"), &ImportOptions::default())
        .await
        .unwrap_err();
    assert_eq!(e.code(), bellwether_core::Code::FileNotFound);
}

#[tokio::test]
async fn weekly_and_monthly_active_users_count_distinct_people_dated_by_the_period_end() {
    use bellwether_core::series::{MONTHLY_ACTIVE_USERS, WEEKLY_ACTIVE_USERS};
    let dir = tempfile::tempdir().unwrap();
    let s = store(dir.path()).await;
    // 2024-03-04 is a Monday; u1 on three days, u2 on two, u3 once in April.
    let p = write(
        dir.path(),
        "events.csv",
        "account_id,timestamp,event,user_id\n\
         acme,2024-03-04T09:00:00Z,login,u1\nacme,2024-03-05T09:00:00Z,login,u1\nacme,2024-03-05T10:00:00Z,export,u2\n\
         acme,2024-03-12T09:00:00Z,login,u1\nacme,2024-03-12T09:30:00Z,login,u2\nacme,2024-04-02T09:00:00Z,login,u3\n",
    );
    import_file(&s, &p, &ImportOptions::default())
        .await
        .unwrap();
    let all = s.load_series(None).await.unwrap();
    let acme = &all[0].1;
    assert_eq!(
        acme.get(WEEKLY_ACTIVE_USERS).unwrap().points,
        vec![
            (Day::ymd(2024, 3, 10), 2.0),
            (Day::ymd(2024, 3, 17), 2.0),
            (Day::ymd(2024, 4, 7), 1.0)
        ]
    );
    assert_eq!(
        acme.get(MONTHLY_ACTIVE_USERS).unwrap().points,
        vec![(Day::ymd(2024, 3, 31), 2.0), (Day::ymd(2024, 4, 30), 1.0)]
    );
    assert_eq!(
        acme.get("users:login").unwrap().points[1],
        (Day::ymd(2024, 3, 5), 1.0)
    );
    assert_eq!(
        acme.get(ACTIVE_USERS).unwrap().points[1],
        (Day::ymd(2024, 3, 5), 2.0)
    );
}

#[tokio::test]
async fn large_files_write_in_parts_with_the_same_result_and_resume_idempotently() {
    use std::fmt::Write as _;
    let dir = tempfile::tempdir().unwrap();
    // About 9 MB: three 4 MiB chunks.
    let mut text = String::from("account_id,date,metric,value\n");
    let mut events = String::from("account_id,timestamp,event,user_id\n");
    for i in 0..240_000u32 {
        let day = Day(19_700 + (i % 300) as i32);
        writeln!(text, "acct-{:04},{day},seats_used,{}", i % 800, i % 97).unwrap();
        writeln!(
            events,
            "acct-{:04},{day}T10:00:00Z,login,u{}",
            i % 800,
            i % 7
        )
        .unwrap();
    }
    let m = write(dir.path(), "daily_metrics.csv", &text);
    let e = write(dir.path(), "events.csv", &events);

    let whole = store(&dir.path().join("a")).await;
    import_file(&whole, &m, &ImportOptions::default())
        .await
        .unwrap();
    import_file(&whole, &e, &ImportOptions::default())
        .await
        .unwrap();
    let parts = store(&dir.path().join("b")).await;
    let small = ImportOptions {
        batch_rows: Some(50_000),
        ..Default::default()
    };
    let r = import_file(&parts, &m, &small).await.unwrap();
    assert!(r.chunks_new >= 2, "{r:?}");
    import_file(&parts, &e, &small).await.unwrap();
    let imports = parts.stats().await.unwrap().imports;
    assert!(imports >= 4, "each part is its own write: {imports}");
    let a = whole.load_series(None).await.unwrap();
    let b = parts.load_series(None).await.unwrap();
    assert_eq!(a.len(), 800);
    // Counts and metric values are exact when written in parts (distinct users become a lower bound where a
    // part boundary splits an account-day, so they are not compared).
    for ((ida, sa), (idb, sb)) in a.iter().zip(&b) {
        assert_eq!(ida, idb);
        assert_eq!(sa.get("metric:seats_used"), sb.get("metric:seats_used"));
        assert_eq!(sa.get("event:login"), sb.get("event:login"));
    }
    let again = import_file(&parts, &m, &small).await.unwrap();
    assert_eq!((again.imported, again.chunks_new), (0, 0));
    assert_eq!(parts.load_series(None).await.unwrap(), b);
}

#[tokio::test]
async fn the_book_summary_knows_each_metric_and_source_from_its_first_day() {
    let dir = tempfile::tempdir().unwrap();
    let s = store(dir.path()).await;
    let e = write(dir.path(), "events.csv", "account_id,timestamp,event,user_id\nacme,2024-03-05T09:00:00Z,login,u1\nglobex,2024-02-01T09:00:00Z,login,u2\nacme,2024-04-01T09:00:00Z,export,u1\n");
    let t = write(
        dir.path(),
        "tickets.csv",
        "ticket_id,account_id,opened_at\nt1,acme,2024-03-02T10:00:00Z\n",
    );
    import_file(&s, &e, &ImportOptions::default())
        .await
        .unwrap();
    import_file(&s, &t, &ImportOptions::default())
        .await
        .unwrap();
    let sum = s.book_summary().await.unwrap();
    let first = |m: &str| sum.metrics.iter().find(|x| x.0 == m).map(|x| x.1);
    assert_eq!(
        first("event:login"),
        Some(Day::ymd(2024, 2, 1)),
        "the earliest account's first day"
    );
    assert_eq!(first("event:export"), Some(Day::ymd(2024, 4, 1)));
    assert_eq!(
        sum.first_ticket.map(|t| t.day()),
        Some(Day::ymd(2024, 3, 2))
    );
    assert_eq!(sum.first_billing, None);
}

#[tokio::test]
async fn absurd_event_times_are_named_by_line_and_field_and_the_rest_kept() {
    use bellwether_core::time::EventTimeWindow;
    use bellwether_core::{Code, Timestamp};
    let dir = tempfile::tempdir().unwrap();
    let s = store(dir.path()).await;
    let received = Timestamp::parse("2026-03-10T12:00:00Z").unwrap();
    let opts = ImportOptions {
        received_at: Some(received),
        ..Default::default()
    };
    // The fast path (no quotes) and the general reader (quotes) check alike.
    for (name, quote) in [("events.csv", ""), ("events_quoted.csv", "\"")] {
        let p = write(
            dir.path(),
            name,
            &format!(
                "account_id,timestamp,event,user_id\n\
                 acme,2026-03-01T09:00:00Z,{quote}login{quote},u1\n\
                 acme,9999-12-31T23:59:59Z,login,u1\n\
                 acme,0000-01-01,login,u1\n\
                 acme,9223372036854775807,login,u1\n\
                 acme,1999-12-31,login,u1\n\
                 globex,2026-03-02T10:00:00Z,login,u2\n\
                 globex,2026-03-11T11:00:00Z,login,u2\n"
            ),
        );
        let r = import_file(&s, &p, &opts).await.unwrap();
        assert_eq!(
            (r.records, r.imported, r.rejected_count),
            (7, 3, 4),
            "{name}"
        );
        let got: Vec<(u64, Option<&str>, Code)> = r
            .rejected
            .iter()
            .map(|x| (x.line, x.field.as_deref(), x.code))
            .collect();
        let bad = |line| (line, Some("timestamp"), Code::EventTimeOutOfRange);
        assert_eq!(got, [bad(3), bad(4), bad(5), bad(6)], "{name}");
        let lines = r.rejection_lines();
        assert!(
            lines[0].contains(&format!("{name}:3: field 'timestamp'"))
                && lines[0].contains("9999-12-31")
                && lines[0].contains("[event_time_out_of_range]"),
            "{lines:?}"
        );
        assert!(lines[1].contains("2000-01-01"), "{lines:?}");
    }
    assert_eq!(series_total(&s, "acme", "event:login").await, 2.0);
    assert_eq!(series_total(&s, "globex", "event:login").await, 4.0);
    let series = s.load_series(None).await.unwrap();
    let last = series
        .iter()
        .flat_map(|(_, a)| a.get("event:login").unwrap().points.iter().map(|p| p.0))
        .max();
    assert_eq!(last, Some(Day::ymd(2026, 3, 11)));

    // Daily metrics, JSONL and the other kinds' event times go through the same window.
    let m = write(
        dir.path(),
        "daily_metrics.csv",
        "account_id,date,metric,value\nacme,2026-03-01,seats_used,4\nacme,9999-01-01,seats_used,5\n",
    );
    let r = import_file(&s, &m, &opts).await.unwrap();
    assert_eq!((r.imported, r.rejected[0].line), (1, 3));
    assert_eq!(r.rejected[0].field.as_deref(), Some("date"));
    assert_eq!(r.rejected[0].code, Code::EventTimeOutOfRange);
    let j = write(
        dir.path(),
        "tickets.jsonl",
        "{\"ticket_id\":\"t1\",\"account_id\":\"acme\",\"opened_at\":\"2026-03-01T09:00:00Z\",\"closed_at\":\"9999-01-01\"}\n\
         {\"ticket_id\":\"t2\",\"account_id\":\"acme\",\"opened_at\":\"2026-03-02T09:00:00Z\"}\n",
    );
    let r = import_file(&s, &j, &opts).await.unwrap();
    assert_eq!((r.imported, r.rejected[0].line), (1, 1));
    assert_eq!(r.rejected[0].field.as_deref(), Some("closed_at"));
    assert_eq!(r.rejected[0].code, Code::EventTimeOutOfRange);
    // Renewal dates lie in the future by nature and are kept.
    let a = write(
        dir.path(),
        "accounts.csv",
        "account_id,name,renewal_date,contract_start\nacme,Acme,2031-06-30,2026-04-01\n",
    );
    let r = import_file(&s, &a, &opts).await.unwrap();
    assert_eq!((r.imported, r.rejected_count), (1, 0));

    // A configured window: an earlier earliest day admits 1999.
    let wide = ImportOptions {
        event_times: EventTimeWindow {
            earliest: Day::ymd(1990, 1, 1),
            max_ahead_hours: 24,
        },
        ..opts.clone()
    };
    let p = write(
        dir.path(),
        "old_events.csv",
        "account_id,timestamp,event\ninitech,1999-12-31,login\n",
    );
    let r = import_file(&s, &p, &wide).await.unwrap();
    assert_eq!((r.imported, r.rejected_count), (1, 0));
}

/// The dates exports print, as `interactions` (the general reader) and `events` (the fast path).
const EXPORTED_DATES: &[(&str, &str)] = &[
    ("03/05/2024", "2024-03-05T00:00:00Z"),
    ("3/5/2024 2:22 PM", "2024-03-05T13:22:00Z"),
    ("Mar 5, 2024", "2024-03-05T00:00:00Z"),
    ("05.03.2024", "2024-03-05T00:00:00Z"),
    ("2024-03-05 14:22:00 +0100", "2024-03-05T13:22:00Z"),
    ("2024-03-05 14:22:00 UTC", "2024-03-05T14:22:00Z"),
    ("2024-03-05 14:22:00.000 -0500", "2024-03-05T19:22:00Z"),
    ("2024-03-05 14:22:00-05", "2024-03-05T19:22:00Z"),
    ("1796099400000.0", "2026-12-01T04:30:00Z"),
    ("November 30, 2026 13:00", "2026-11-30T12:00:00Z"),
];

#[tokio::test]
async fn exported_date_forms_import_under_the_day_order_and_time_zone() {
    use bellwether_core::time::{DayOrder, TimeReading, UtcOffset};
    let dir = tempfile::tempdir().unwrap();
    let s = store(dir.path()).await;
    let mut csv = String::from("interaction_id,account_id,timestamp,kind\n");
    let mut events = String::from("account_id,timestamp,event\n");
    for (i, (text, _)) in EXPORTED_DATES.iter().enumerate() {
        csv.push_str(&format!("i{i},acme,\"{text}\",meeting\n"));
        events.push_str(&format!("acme,\"{text}\",login\n"));
    }
    let received = Some(bellwether_core::Timestamp::parse("2026-12-01T10:00:00Z").unwrap());
    // Without a day order the slash dates are refused, naming the setting; the rest is kept.
    let plain = ImportOptions {
        received_at: received,
        ..Default::default()
    };
    let f = write(dir.path(), "interactions.csv", &csv);
    let r = import_file(&s, &f, &plain).await.unwrap();
    assert_eq!((r.imported, r.rejected_count), (8, 2), "{r:?}");
    for rej in &r.rejected {
        assert_eq!(rej.field.as_deref(), Some("timestamp"));
        assert!(rej.message.contains("day_order"), "{}", rej.message);
    }
    assert!(r.rejected[0].message.contains("'03/05/2024'"));
    assert!(r.rejected[1].message.contains("'3/5/2024 2:22 PM'"));
    // With `[import] day_order = "mdy"` and `time_zone = "+01:00"` every form lands where it should.
    let reading = TimeReading {
        day_order: Some(DayOrder::Mdy),
        time_zone: UtcOffset(60),
    };
    let opts = ImportOptions {
        received_at: received,
        time_reading: reading,
        ..Default::default()
    };
    let f = write(
        dir.path(),
        "interactions2.csv",
        &csv.replace(",acme,", ",globex,"),
    );
    let r = import_file(&s, &f, &opts).await.unwrap();
    assert_eq!((r.imported, r.rejected_count), (10, 0), "{r:?}");
    let book = s.load_book(None).await.unwrap();
    let mut got: Vec<(String, String)> = book.accounts[&AccountId("globex".into())]
        .interactions
        .iter()
        .map(|x| (x.id.clone(), x.at.to_string()))
        .collect();
    got.sort_by_key(|(id, _)| id[1..].parse::<usize>().unwrap());
    let want: Vec<(String, String)> = EXPORTED_DATES
        .iter()
        .enumerate()
        .map(|(i, (_, utc))| (format!("i{i}"), utc.to_string()))
        .collect();
    assert_eq!(got, want);
    // The events fast path reads the same forms under the same settings.
    let f = write(dir.path(), "events.csv", &events);
    let r = import_file(&s, &f, &plain).await.unwrap();
    assert_eq!((r.imported, r.rejected_count), (8, 2), "{r:?}");
    let f = write(
        dir.path(),
        "events2.csv",
        &events.replace("acme,", "initech,"),
    );
    let r = import_file(&s, &f, &opts).await.unwrap();
    assert_eq!((r.imported, r.rejected_count), (10, 0), "{r:?}");
}

#[tokio::test]
async fn people_are_imported_by_email_with_bad_rows_named() {
    let dir = tempfile::tempdir().unwrap();
    let s = store(dir.path()).await;
    let p = write(
        dir.path(),
        "people.csv",
        "email,name,slack_user_id,manager,timezone,quiet_hours,daily_cap,channels,digest\n\
         ana@example.com,Ana,U01ANA,lea@example.com,Europe/Berlin,22:00-07:00,5,email;slack,yes\n\
         lea@example.com,Lea,U01LEA,,America/New_York,,,,\n\
         bo@example.com,Bo,,,Mars/Base,,,,\n\
         cy@example.com,Cy,,,,late,,,\n\
         di@example.com,Di,,,,,lots,,\n\
         ed@example.com,Ed,,,,,,pager,\n\
         no-at-sign,Nobody,,,,,,,\n",
    );
    let r = import_file(&s, &p, &ImportOptions::default())
        .await
        .unwrap();
    assert_eq!(r.kind, "people");
    assert_eq!((r.records, r.imported, r.rejected_count), (7, 2, 5));
    let lines = r.rejection_lines();
    for (line, field) in [
        (":4: field 'time_zone'", "Mars/Base"),
        (":5: field 'quiet_hours'", "late"),
        (":6: field 'daily_cap'", "lots"),
        (":7: field 'channels'", "pager"),
        (":8: field 'email'", "no-at-sign"),
    ] {
        assert!(
            lines.iter().any(|l| l.contains(line) && l.contains(field)),
            "{line} {field}: {lines:?}"
        );
    }
    let people = s.people().await.unwrap();
    assert_eq!(people.len(), 2);
    let ana = &people[0];
    assert_eq!(ana.email, "ana@example.com");
    assert_eq!(ana.leader.as_deref(), Some("lea@example.com"));
    assert_eq!(ana.slack_user_id.as_deref(), Some("U01ANA"));
    assert_eq!(ana.daily_cap, Some(5));
    assert_eq!(ana.quiet_hours.as_deref(), Some("22:00-07:00"));
    assert_eq!(
        ana.channels.as_deref(),
        Some(&["email".to_string(), "slack".to_string()][..])
    );
    assert_eq!(ana.digest, Some(true));
    assert_eq!(people[1].time_zone.as_deref(), Some("America/New_York"));
    assert_eq!(people[1].daily_cap, None);
    // A later export of one person replaces their row.
    let p2 = write(
        dir.path(),
        "people-2.csv",
        "email,name,daily_cap\nANA@example.com,Ana Berg,2\n",
    );
    let r = import_file(&s, &p2, &ImportOptions::default())
        .await
        .unwrap();
    assert_eq!(r.imported, 1);
    let people = s.people().await.unwrap();
    assert_eq!(people.len(), 2);
    assert_eq!(
        (people[0].name.as_deref(), people[0].daily_cap),
        (Some("Ana Berg"), Some(2))
    );
}
