//! End to end on a simulated book with known causes: simulate → import (the real path) → assess → worklist.
//! Accounts whose hidden trouble had begun must sit near the top, well above the base rate.

use bellwether_core::Day;
use bellwether_engine::{assess_book, worklist, HealthConfig};
use bellwether_ingest::{import_dir, ImportOptions};
use bellwether_sim::{simulate, SimConfig};
use bellwether_store_sqlite::SqliteStore;
use std::collections::{BTreeMap, HashMap};
use std::process::Command;

const CHURN_ARCHETYPES: &[&str] = &[
    "slow_disengagement",
    "champion_loss",
    "support_frustration",
    "budget_trouble",
    "failed_onboarding",
];

/// Account → trouble start day, for accounts with a churn archetype whose trouble has a start.
fn troubled(truth: &str) -> HashMap<String, Day> {
    let mut rdr = csv::Reader::from_path(truth).unwrap();
    let h = rdr.headers().unwrap().clone();
    let col = |n: &str| {
        h.iter()
            .position(|x| x == n)
            .unwrap_or_else(|| panic!("ground truth lacks {n}"))
    };
    let (id, arch, start) = (col("account_id"), col("archetype"), col("trouble_start"));
    rdr.records()
        .map(|r| r.unwrap())
        .filter(|r| CHURN_ARCHETYPES.contains(&&r[arch]) && !r[start].is_empty())
        .map(|r| (r[id].to_string(), Day::parse(&r[start]).unwrap()))
        .collect()
}

/// Simulates a book of `accounts` with `seed` into `dir/book` and imports it into `dir/bellwether.db`.
async fn imported_book(
    dir: &std::path::Path,
    accounts: usize,
    seed: u64,
) -> (SimConfig, std::path::PathBuf, SqliteStore) {
    let book = dir.join("book");
    let cfg = SimConfig {
        accounts,
        seed,
        ..SimConfig::default()
    };
    simulate(&cfg, &book, &mut |_| {}).unwrap();
    let store = SqliteStore::open(&dir.join("bellwether.db")).await.unwrap();
    import_dir(&store, &book, &ImportOptions::default())
        .await
        .unwrap();
    (cfg, book, store)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn troubled_accounts_rank_well_above_the_base_rate() {
    let dir = tempfile::tempdir().unwrap();
    let book = dir.path().join("book");
    let cfg = SimConfig {
        accounts: 1_200,
        seed: 7,
        ..SimConfig::default()
    };
    let sim = simulate(&cfg, &book, &mut |_| {}).unwrap();
    assert!(sim.events > 100_000, "the book has events: {}", sim.events);

    let store = SqliteStore::open(&dir.path().join("bellwether.db"))
        .await
        .unwrap();
    let rep = import_dir(&store, &book, &ImportOptions::default())
        .await
        .unwrap();
    for (path, r) in &rep.files {
        let r = r
            .as_ref()
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert_eq!(
            r.rejected_count,
            0,
            "the simulator writes valid files: {:?}",
            r.rejection_lines()
        );
    }
    let out = assess_book(&store, None, &HealthConfig::default())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        out.as_of,
        cfg.end.plus(1),
        "as of the day after the last data"
    );

    let truth = troubled(book.join("truth/ground_truth.csv").to_str().unwrap());
    let is_troubled = |id: &str| truth.get(id).is_some_and(|d| *d < out.as_of);
    let n = out.assessments.len();
    let base = out
        .assessments
        .iter()
        .filter(|a| is_troubled(a.account_id.as_str()))
        .count() as f64
        / n as f64;

    // Lowest-health decile.
    let mut by_health: Vec<_> = out.assessments.iter().collect();
    by_health.sort_by(|a, b| a.health.total_cmp(&b.health));
    let k = n / 10;
    let decile = by_health[..k]
        .iter()
        .filter(|a| is_troubled(a.account_id.as_str()))
        .count() as f64
        / k as f64;

    // The top five of every CSM's worklist (ARR × risk proxy).
    let mut owners: BTreeMap<String, ()> = BTreeMap::new();
    for a in &out.assessments {
        owners.insert(a.owner.clone().unwrap_or_default(), ());
    }
    let mut top = Vec::new();
    for o in owners.keys() {
        top.extend(worklist(&out.assessments, Some(o), 5, &Default::default()));
    }
    let top_rate =
        top.iter().filter(|i| is_troubled(&i.account_id)).count() as f64 / top.len() as f64;
    eprintln!(
        "{n} accounts assessed; base rate of troubled accounts {base:.3}; lowest-health decile {decile:.3} ({:.1}x); top 5 of {} worklists {top_rate:.3} ({:.1}x)",
        decile / base,
        owners.len(),
        top_rate / base
    );
    assert!(
        base > 0.05 && base < 0.5,
        "a realistic share of troubled accounts: {base}"
    );
    assert!(
        decile >= 2.5 * base,
        "lowest-health decile {decile:.3} vs base {base:.3}"
    );
    assert!(
        top_rate >= 1.4 * base,
        "worklist tops {top_rate:.3} vs base {base:.3}"
    );
    // Every line carries a reason: the money, then what is wrong (or that nothing is), and a play.
    for a in &out.assessments {
        assert!(
            a.reason.contains(" ARR") && a.reason.ends_with('.'),
            "{}",
            a.reason
        );
        assert!(a.impact.as_ref().is_some_and(|i| !i.play.is_empty()));
    }
}

#[test]
fn the_demo_prints_a_ranked_worklist_with_reasons() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_bellwether"))
        .args([
            "--data-dir",
            dir.path().to_str().unwrap(),
            "demo",
            "--accounts",
            "800",
            "--limit",
            "5",
        ])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("Today's worklist for "), "{stdout}");
    for rank in 1..=5 {
        assert!(
            stdout.contains(&format!("  {rank}. ")),
            "rank {rank} missing:\n{stdout}"
        );
    }
    assert_eq!(
        stdout.matches("     why: ").count(),
        5,
        "one reason per account:\n{stdout}"
    );
    assert_eq!(
        stdout.matches("     play: ").count(),
        5,
        "one play per account:\n{stdout}"
    );
    assert!(
        stdout.contains("Portfolio: ") && stdout.contains("not a probability"),
        "{stdout}"
    );
    // It learned from the book's outcomes in the same run and says how early it would have warned.
    assert!(stdout.contains("  ranked by: "), "{stdout}");
    let headline = stdout
        .lines()
        .find(|l| l.starts_with("Backtest: "))
        .unwrap_or_else(|| panic!("no backtest line:\n{stdout}"));
    assert!(
        headline.contains("would have warned a median of")
            && headline.contains("days for the rules score"),
        "{headline}"
    );
    // The demo leaves a data directory that the other commands read.
    let wl = Command::new(env!("CARGO_BIN_EXE_bellwether"))
        .args([
            "--data-dir",
            dir.path().join("demo").to_str().unwrap(),
            "worklist",
            "--limit",
            "3",
            "--json",
        ])
        .output()
        .unwrap();
    let items: serde_json::Value = serde_json::from_slice(&wl.stdout).unwrap();
    assert_eq!(items.as_array().unwrap().len(), 3);
    assert!(items[0]["priority"].as_f64().unwrap() >= items[1]["priority"].as_f64().unwrap());
}

#[test]
fn bad_input_exits_with_a_code_and_a_named_line() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("events.csv");
    std::fs::write(&f, "account_id,timestamp,event,user_id\nacme,2024-01-01T00:00:00Z,login,u1\nacme,yesterday,login,u1\n").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_bellwether"))
        .args([
            "--data-dir",
            dir.path().to_str().unwrap(),
            "import",
            f.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "partial import exits 2");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("events.csv:3: field 'timestamp': 'yesterday' is not a date or time"),
        "{err}"
    );
    let out = Command::new(env!("CARGO_BIN_EXE_bellwether"))
        .args([
            "--data-dir",
            dir.path().to_str().unwrap(),
            "import",
            "widgets",
            f.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr)
        .contains("error[unknown_import_kind]: 'widgets' is not an import kind"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn daily_passes_keep_one_signal_per_condition_and_route_it_to_the_owner() {
    use bellwether_core::model::SignalStatus;
    use bellwether_engine::{reassess, Engine};
    use bellwether_store::{SignalFilter, Store};
    let dir = tempfile::tempdir().unwrap();
    let (cfg, _, store) = imported_book(dir.path(), 400, 11).await;
    let engine = Engine::default();
    let mut opened = 0;
    // Four weekly passes over the last month of history.
    for back in [28, 21, 14, 7] {
        let day = bellwether_engine::BookDay::past(cfg.end.plus(1 - back));
        let out = reassess(&store, &engine, None, day).await.unwrap();
        opened += out.signals_opened;
    }
    let all = store.signals(SignalFilter::default()).await.unwrap();
    assert_eq!(
        all.len(),
        opened,
        "every stored signal was opened by a pass, none twice"
    );
    assert!(
        !all.is_empty(),
        "a 400-account book raises some signals in a month"
    );
    let mut active: std::collections::HashMap<(String, String), usize> = Default::default();
    for s in all.iter().filter(|s| s.is_active()) {
        *active
            .entry((s.account_id.to_string(), s.kind.clone()))
            .or_default() += 1;
        assert!(!s.explanation.is_empty() && !s.suggested_action.is_empty());
        assert!(s.owner.is_some(), "routed to the account's owner");
        assert!(s.last_seen >= s.detected_at);
    }
    assert!(
        active.values().all(|n| *n == 1),
        "one active signal per account and condition"
    );
    // Resolved signals carry the day their condition cleared.
    assert!(all
        .iter()
        .filter(|s| s.status == SignalStatus::Resolved)
        .all(|s| s.resolved_at.is_some_and(|r| r > s.last_seen)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_replay_scores_detectors_against_the_ground_truth() {
    use bellwether_engine::evaluate::{evaluate, Truth};
    use bellwether_engine::Engine;
    use bellwether_store::Store;
    let dir = tempfile::tempdir().unwrap();
    let (cfg, book, store) = imported_book(dir.path(), 600, 5).await;
    let (b, series, summary) = (
        store.load_book(None).await.unwrap(),
        store.load_series(None).await.unwrap(),
        store.book_summary().await.unwrap(),
    );
    let mut rdr = csv::Reader::from_path(book.join("truth/ground_truth.csv")).unwrap();
    let mut truth = HashMap::new();
    for r in rdr.records() {
        let r = r.unwrap();
        let day = |s: &str| (!s.is_empty()).then(|| Day::parse(s).unwrap());
        let direction = if CHURN_ARCHETYPES.contains(&&r[1]) {
            "risk"
        } else if ["seat_saturation", "new_team_adoption"].contains(&&r[1]) {
            "expansion"
        } else {
            "none"
        };
        truth.insert(
            bellwether_core::AccountId(r[0].to_string()),
            Truth {
                archetype: r[1].to_string(),
                direction,
                start: day(&r[2]),
                end: day(&r[4]),
            },
        );
    }
    let start = cfg.end.plus(-cfg.history_days + 120);
    let report = evaluate(
        &b,
        &series,
        &summary,
        &truth,
        &Engine::default(),
        start,
        cfg.end.plus(1),
        14,
    );
    assert!(report.signals_opened > 0);
    let kinds_total: usize = report.kinds.iter().map(|k| k.opened).sum();
    assert_eq!(kinds_total, report.signals_opened, "per-kind counts add up");
    for a in &report.archetypes {
        assert!(
            a.detected <= a.accounts && (0.0..=1.0).contains(&a.detection_rate),
            "{a:?}"
        );
        assert!(
            a.median_delay_days.is_none_or(|d| d >= 0.0),
            "a signal never precedes its story's start: {a:?}"
        );
    }
    let budget = report
        .archetypes
        .iter()
        .find(|a| a.archetype == "budget_trouble")
        .expect("the book has budget trouble");
    assert!(
        budget.accounts >= 5 && budget.detection_rate >= 0.6,
        "failed payments and downgrades are caught: {budget:?}"
    );
    assert!(
        report.precision > 0.1 && report.precision <= 1.0,
        "{}",
        report.precision
    );
    let md = report.to_markdown();
    assert!(
        md.contains("| budget_trouble |") && md.contains("| signal kind | opened |"),
        "{md}"
    );
}

#[test]
fn signals_can_be_listed_acknowledged_snoozed_and_resolved_from_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let bw = |args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_bellwether"))
            .arg("--data-dir")
            .arg(dir.path().join("demo"))
            .args(args)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).to_string()
    };
    let demo = Command::new(env!("CARGO_BIN_EXE_bellwether"))
        .args([
            "--data-dir",
            dir.path().to_str().unwrap(),
            "demo",
            "--accounts",
            "400",
        ])
        .output()
        .unwrap();
    assert!(demo.status.success());
    let list: serde_json::Value =
        serde_json::from_str(&bw(&["signals", "--json", "--limit", "500"])).unwrap();
    let list = list.as_array().unwrap();
    assert!(!list.is_empty(), "a simulated book has open signals");
    let rank = |s: &serde_json::Value| {
        ["low", "medium", "high", "critical"]
            .iter()
            .position(|x| Some(*x) == s["severity"].as_str())
            .unwrap()
    };
    assert!(
        list.windows(2).all(|w| rank(&w[0]) >= rank(&w[1])),
        "most severe first"
    );
    let id = list[0]["id"].as_str().unwrap().to_string();
    assert!(bw(&["signal", "ack", &id]).contains("is now acknowledged"));
    // A snooze takes a later end date and a reason in words.
    let until = bellwether_core::Day::today().plus(30).to_string();
    let refused = |args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_bellwether"))
            .arg("--data-dir")
            .arg(dir.path().join("demo"))
            .args(args)
            .output()
            .unwrap();
        assert!(!out.status.success(), "{args:?}");
        String::from_utf8_lossy(&out.stderr).to_string()
    };
    assert!(refused(&["signal", "snooze", &id, "--until", &until]).contains("--reason"));
    assert!(
        refused(&["signal", "snooze", &id, "--until", &until, "--reason", "  "])
            .contains("the reason is empty")
    );
    let past = bellwether_core::Day::today().plus(-1).to_string();
    assert!(
        refused(&["signal", "snooze", &id, "--until", &past, "--reason", "later"])
            .contains("is not after today")
    );
    let said = bw(&[
        "signal",
        "snooze",
        &id,
        "--until",
        &until,
        "--reason",
        "waiting for their budget cycle",
    ]);
    assert!(
        said.contains(&format!(
            "is now snoozed until {until}: waiting for their budget cycle"
        )),
        "{said}"
    );
    let snoozed: serde_json::Value =
        serde_json::from_str(&bw(&["signals", "--json", "--status", "snoozed"])).unwrap();
    assert_eq!(snoozed.as_array().unwrap().len(), 1);
    assert_eq!(snoozed[0]["snoozed_until"], until.as_str());
    assert_eq!(
        snoozed[0]["snooze_reason"],
        "waiting for their budget cycle"
    );
    assert!(bw(&["signals", "--status", "snoozed"]).contains(&format!(
        "snoozed until {until}: waiting for their budget cycle"
    )));
    assert!(bw(&["signal", "resolve", &id]).contains("is now resolved"));
    let resolved: serde_json::Value =
        serde_json::from_str(&bw(&["signals", "--json", "--status", "resolved"])).unwrap();
    let it = resolved
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["id"] == id.as_str())
        .unwrap();
    assert!(
        it["snooze_reason"].is_null(),
        "resolving ends the snooze: {it}"
    );
    let again = Command::new(env!("CARGO_BIN_EXE_bellwether"))
        .arg("--data-dir")
        .arg(dir.path().join("demo"))
        .args(["signal", "ack", &id])
        .output()
        .unwrap();
    assert!(
        !again.status.success(),
        "a resolved signal is not brought back"
    );
    assert!(
        String::from_utf8_lossy(&again.stderr).contains("is resolved"),
        "{}",
        String::from_utf8_lossy(&again.stderr)
    );
    let open: serde_json::Value =
        serde_json::from_str(&bw(&["signals", "--json", "--limit", "500"])).unwrap();
    assert!(
        open.as_array()
            .unwrap()
            .iter()
            .all(|s| s["id"] != id.as_str()),
        "a resolved signal leaves the open list"
    );
    let kind = list[0]["kind"].as_str().unwrap();
    let by_kind: serde_json::Value = serde_json::from_str(&bw(&[
        "signals", "--json", "--kind", kind, "--limit", "500",
    ]))
    .unwrap();
    assert!(by_kind
        .as_array()
        .unwrap()
        .iter()
        .all(|s| s["kind"] == kind));
    let missing = Command::new(env!("CARGO_BIN_EXE_bellwether"))
        .arg("--data-dir")
        .arg(dir.path().join("demo"))
        .args(["signal", "ack", "nope"])
        .output()
        .unwrap();
    assert_eq!(missing.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("no signal 'nope'"));
}

#[test]
fn assess_from_builds_the_health_history_forward_only() {
    let dir = tempfile::tempdir().unwrap();
    let book = dir.path().join("book");
    simulate(
        &SimConfig {
            accounts: 150,
            seed: 3,
            ..SimConfig::default()
        },
        &book,
        &mut |_| {},
    )
    .unwrap();
    let bw = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_bellwether"))
            .arg("--data-dir")
            .arg(dir.path().join("data"))
            .args(args)
            .output()
            .unwrap()
    };
    assert!(bw(&["import", "--no-assess", book.to_str().unwrap()])
        .status
        .success());
    let out = bw(&["assess", "--from", "2026-10-04", "--step", "7"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        text.lines().filter(|l| l.starts_with("2026-10-")).count(),
        4,
        "passes on 4, 11, 18 and 25 October:\n{text}"
    );
    let wl: serde_json::Value =
        serde_json::from_slice(&bw(&["worklist", "--json", "--limit", "1"]).stdout).unwrap();
    let id = wl[0]["account_id"].as_str().unwrap();
    let acct: serde_json::Value =
        serde_json::from_slice(&bw(&["account", id, "--json"]).stdout).unwrap();
    assert_eq!(
        acct["health_history"].as_array().unwrap().len(),
        5,
        "four weekly passes and the day after the data"
    );
    let again = bw(&["assess", "--from", "2026-10-04"]);
    assert_eq!(again.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&again.stderr)
        .contains("error[invalid_argument]: the book is already assessed up to 2026-11-01"));
}
