//! How usage is judged, through the `bellwether` binary on small hand-made books: adoption is measured against
//! the features common where an account lives (its plan, else its segment, else the book), and product events
//! and imported daily metrics are each judged against their own baseline.

mod common;

use bellwether_core::Day;
use serde_json::Value;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

struct Book {
    _dir: tempfile::TempDir,
    root: PathBuf,
}

impl Book {
    fn new() -> Book {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().to_path_buf();
        Book { _dir: dir, root }
    }

    fn write(&self, name: &str, text: &str) -> PathBuf {
        let p = self.root.join(name);
        std::fs::write(&p, text).unwrap();
        p
    }

    fn bw(&self, args: &[&str]) -> String {
        common::ok(common::bw(&self.root.join("data"), args))
    }

    fn import(&self, kind: &str, file: &Path) {
        self.bw(&["import", kind, file.to_str().unwrap()]);
    }

    fn account(&self, id: &str) -> Value {
        serde_json::from_str(&self.bw(&["account", id, "--json"])).unwrap()
    }
}

fn component<'a>(account: &'a Value, name: &str) -> Option<&'a Value> {
    account["assessment"]["components"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == name)
}

fn reason(account: &Value, name: &str) -> String {
    component(account, name)
        .map(|c| c["reason"].as_str().unwrap().to_string())
        .unwrap_or_else(|| panic!("no {name} component: {account:#}"))
}

/// Events of one account on every day of `[from, to)`: `per_day` of each name, by user `u1`.
fn events(out: &mut String, account: &str, names: &[&str], from: Day, to: Day, per_day: usize) {
    for d in from.0..to.0 {
        let day = Day(d);
        for name in names {
            for i in 0..per_day {
                writeln!(
                    out,
                    "{account},{day}T{:02}:00:00Z,{name},u{}",
                    9 + i % 8,
                    1 + i % 3
                )
                .unwrap();
            }
        }
    }
}

const START: Day = Day(20_089); // 2025-01-01

/// 30 accounts on the Pro plan use the same three features; one of them also sends nine event names nobody
/// else does. Before, the book's catalogue held twelve names and everyone else read "3 of 12"; now each is
/// measured against the three features common on its plan, and its health is what it would be without the odd
/// account.
#[test]
fn one_account_with_extra_event_names_does_not_lower_everyone_elses_adoption() {
    let run = |with_extra: bool| {
        let b = Book::new();
        let mut accounts =
            String::from("account_id,name,owner,segment,plan,seats,contract_start\n");
        let mut ev = String::from("account_id,timestamp,event,user_id\n");
        let core = ["login", "report_viewed", "report_shared"];
        let end = START.plus(120);
        for i in 0..30 {
            let id = format!("pro{i:02}");
            writeln!(
                accounts,
                "{id},Pro {i},dana@example.com,smb,Pro,10,2024-06-01"
            )
            .unwrap();
            events(&mut ev, &id, &core, START, end, 2);
        }
        if with_extra {
            let extra: Vec<String> = (1..=9).map(|k| format!("beta_tool_{k}")).collect();
            let extra: Vec<&str> = extra.iter().map(String::as_str).collect();
            events(&mut ev, "pro00", &extra, START, end, 1);
        }
        b.import("events", &b.write("events.csv", &ev));
        b.import("accounts", &b.write("accounts.csv", &accounts));
        b.bw(&["assess", "--as-of", &end.to_string()]);
        b
    };
    let plain = run(false);
    let odd = run(true);
    let normal = odd.account("pro07");
    assert_eq!(
        reason(&normal, "adoption"),
        "uses 3 of 3 features common on the Pro plan"
    );
    assert_eq!(component(&normal, "adoption").unwrap()["score"], 100.0);
    let control = plain.account("pro07");
    assert_eq!(
        normal["assessment"]["health"], control["assessment"]["health"],
        "one account's own event names change nobody else's health"
    );
    // The odd account is measured against the same three; its own names are named, not counted against it.
    let own = odd.account("pro00");
    assert_eq!(
        reason(&own, "adoption"),
        "uses 3 of 3 features common on the Pro plan, and 9 other features"
    );
    // Nobody went on watch (health 50–69).
    let list: Value =
        serde_json::from_str(&odd.bw(&["worklist", "--json", "--limit", "100"])).unwrap();
    let list = list.as_array().unwrap();
    assert_eq!(list.len(), 30);
    assert!(
        list.iter()
            .all(|a| a["health"].as_f64().unwrap_or(0.0) >= 70.0),
        "{list:#?}"
    );
}

/// The plan's features come first; a plan with too few accounts falls back to the segment, an account with no
/// plan in a segment of its own to the book. A feature only the enterprise plan uses is common there and never
/// counts against the others.
#[test]
fn adoption_falls_back_from_plan_to_segment_to_book_and_partial_passes_agree() {
    let b = Book::new();
    let mut accounts = String::from("account_id,name,segment,plan,contract_start\n");
    let mut ev = String::from("account_id,timestamp,event,user_id\n");
    let end = START.plus(60);
    let core = ["login", "report_viewed", "report_shared"];
    // 20 Pro accounts in smb, 6 Enterprise accounts in ent that also use the audit log, 2 Solo accounts in smb
    // using two of the three, and one account with neither plan nor a shared segment.
    for i in 0..20 {
        let id = format!("pro{i:02}");
        writeln!(accounts, "{id},Pro {i},smb,Pro,2024-06-01").unwrap();
        events(&mut ev, &id, &core, START, end, 1);
    }
    for i in 0..6 {
        let id = format!("ent{i}");
        writeln!(accounts, "{id},Ent {i},ent,Enterprise,2024-06-01").unwrap();
        events(
            &mut ev,
            &id,
            &["login", "report_viewed", "audit_log"],
            START,
            end,
            1,
        );
    }
    for i in 0..2 {
        let id = format!("solo{i}");
        writeln!(accounts, "{id},Solo {i},smb,Solo,2024-06-01").unwrap();
        events(&mut ev, &id, &core[..2], START, end, 1);
    }
    writeln!(accounts, "loner,Loner,nonprofit,,2024-06-01").unwrap();
    events(&mut ev, "loner", &core[..1], START, end, 1);
    b.import("events", &b.write("events.csv", &ev));
    b.import("accounts", &b.write("accounts.csv", &accounts));
    b.bw(&["assess", "--as-of", &end.to_string()]);
    assert_eq!(
        reason(&b.account("ent3"), "adoption"),
        "uses 3 of 3 features common on the Enterprise plan"
    );
    assert_eq!(
        reason(&b.account("pro03"), "adoption"),
        "uses 3 of 3 features common on the Pro plan"
    );
    let solo = b.account("solo1");
    assert_eq!(
        reason(&solo, "adoption"),
        "uses 2 of 3 features common in the smb segment"
    );
    // In the book, 20 of 29 accounts use report_shared and 6 (21%) the audit log.
    assert_eq!(
        reason(&b.account("loner"), "adoption"),
        "uses 1 of 4 features common in the book"
    );
    // A pass over one account (an import of its new events) reads the common features of the last full pass.
    let more = format!(
        "account_id,timestamp,event,user_id\nsolo1,{}T10:00:00Z,login,u1\n",
        end.plus(-1)
    );
    b.import("events", &b.write("more.csv", &more));
    let again = b.account("solo1");
    assert_eq!(
        reason(&again, "adoption"),
        "uses 2 of 3 features common in the smb segment"
    );
    assert_eq!(again["assessment"]["health"], solo["assessment"]["health"]);
}

/// 100 days of imported daily metrics with a 69% fall over the last 30 raise a usage drop; 30 days of the same
/// account's events arriving afterwards must neither resolve it nor lift its health: each source is judged
/// against its own baseline, and health reads the source with the longer unbroken history.
#[test]
fn events_arriving_do_not_hide_a_drop_in_daily_metrics() {
    let b = Book::new();
    let end = START.plus(100);
    let mut metrics = String::from("account_id,date,metric,value\n");
    for d in START.0..end.0 {
        let v = if d >= end.0 - 30 { 31 } else { 100 };
        writeln!(metrics, "acme,{},logins,{v}", Day(d)).unwrap();
    }
    b.import("daily_metrics", &b.write("daily_metrics.csv", &metrics));
    b.import(
        "accounts",
        &b.write(
            "accounts.csv",
            "account_id,name,owner,segment,plan,contract_start\nacme,Acme,dana@example.com,smb,Pro,2024-06-01\n",
        ),
    );
    b.bw(&["assess", "--as-of", &end.to_string()]);
    let drops = |b: &Book| -> Vec<Value> {
        serde_json::from_str::<Value>(&b.bw(&["signals", "--json", "--kind", "usage_drop"]))
            .unwrap()
            .as_array()
            .unwrap()
            .clone()
    };
    let before = drops(&b);
    assert_eq!(before.len(), 1, "{before:#?}");
    assert_eq!(before[0]["evidence"]["source"], "daily_metrics");
    let first = b.account("acme");
    let health = first["assessment"]["health"].as_f64().unwrap();
    assert!(health < 40.0, "{first:#}");
    assert!(
        reason(&first, "usage").starts_with("usage down 68% against its own 90-day baseline"),
        "{}",
        reason(&first, "usage")
    );

    // 30 days of events at a steady level, on the same days as the fall.
    let mut ev = String::from("account_id,timestamp,event,user_id\n");
    events(&mut ev, "acme", &["login"], end.plus(-30), end, 20);
    b.import("events", &b.write("events.csv", &ev));
    b.bw(&["assess", "--as-of", &end.to_string()]);
    let after = drops(&b);
    assert_eq!(after.len(), 1, "the drop stays open: {after:#?}");
    assert_eq!(after[0]["id"], before[0]["id"]);
    assert_eq!(after[0]["status"], "open");
    assert_eq!(after[0]["evidence"]["source"], "daily_metrics");
    assert!(
        after[0]["explanation"]
            .as_str()
            .unwrap()
            .contains("fell 69% in imported daily metrics"),
        "{}",
        after[0]["explanation"]
    );
    let now = b.account("acme");
    assert_eq!(
        now["assessment"]["health"].as_f64().unwrap(),
        health,
        "health still reads the daily metrics: {now:#}"
    );
    let usage = reason(&now, "usage");
    assert!(
        usage.starts_with("usage down 68% against its own 90-day baseline")
            && usage.ends_with(
                "in imported daily metrics (the longer unbroken history: 100 days against 30 days of product events)"
            ),
        "{usage}"
    );
}
