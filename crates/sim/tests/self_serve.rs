//! The self-serve profile end to end: determinism, the files it writes, monthly subscriptions, the length of its
//! history, and churn that follows engagement at a self-serve rate.

mod common;

use bellwether_core::time::{days_from_civil, Day};
use bellwether_sim::{simulate, simulate_threads, Profile, SimConfig, SimError, SimSummary};
use common::{
    daily_events, day, documented_columns, files_of, read_csv, same_bytes_and_seeded, table, tmp,
};
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

fn self_serve(accounts: usize, seed: u64) -> SimConfig {
    SimConfig {
        accounts,
        seed,
        ..SimConfig::self_serve()
    }
}

const BOOK_ACCOUNTS: usize = 3000;

/// One 3,000-account self-serve book shared by the tests that only read it.
fn book() -> &'static (PathBuf, SimSummary) {
    static BOOK: OnceLock<(PathBuf, SimSummary)> = OnceLock::new();
    BOOK.get_or_init(|| {
        let dir = tmp("self-serve-3000");
        let _ = std::fs::remove_dir_all(&dir);
        let s = simulate(&self_serve(BOOK_ACCOUNTS, 42), &dir, &mut |_| {}).expect("simulate");
        (dir, s)
    })
}

fn names(dir: &Path) -> Vec<String> {
    files_of(dir).into_keys().collect()
}

#[test]
fn same_seed_gives_identical_bytes_and_another_seed_does_not() {
    let cfg = self_serve(400, 5);
    let (a, b, c) = (tmp("ss-det-a"), tmp("ss-det-b"), tmp("ss-det-c"));
    for d in [&a, &b, &c] {
        let _ = std::fs::remove_dir_all(d);
    }
    simulate_threads(&cfg, &a, 1, &mut |_| {}).unwrap();
    simulate_threads(&cfg, &b, 3, &mut |_| {}).unwrap();
    simulate_threads(&self_serve(400, 6), &c, 2, &mut |_| {}).unwrap();
    same_bytes_and_seeded(&a, &b, &c);
}

#[test]
fn the_folder_holds_only_accounts_usage_and_subscriptions() {
    let (dir, s) = book();
    assert_eq!(
        names(dir),
        [
            "/accounts.csv",
            "/events.csv",
            "/subscriptions.csv",
            "truth/ground_truth.csv"
        ]
    );
    assert_eq!((s.profile, s.version), (Profile::SelfServe, 1));
    assert_eq!(
        (
            s.tickets,
            s.billing_events,
            s.interactions,
            s.contacts,
            s.account_changes,
            s.outcomes
        ),
        (0, 0, 0, 0, 0, 0)
    );
    assert_eq!(s.files.len(), 4);

    // A folder that held a B2B book holds only the self-serve one afterwards, here with daily metrics.
    let mixed = tmp("ss-after-b2b");
    let _ = std::fs::remove_dir_all(&mixed);
    let b2b = SimConfig {
        accounts: 20,
        ..SimConfig::default()
    };
    simulate(&b2b, &mixed, &mut |_| {}).unwrap();
    assert_eq!(names(&mixed).len(), 10);
    let cfg = SimConfig {
        daily_metrics: true,
        ..self_serve(50, 3)
    };
    let s = simulate(&cfg, &mixed, &mut |_| {}).unwrap();
    assert_eq!(
        names(&mixed),
        [
            "/accounts.csv",
            "/daily_metrics.csv",
            "/subscriptions.csv",
            "truth/ground_truth.csv"
        ]
    );
    assert!(s.events == 0 && s.daily_metric_rows > 0);

    // Every column is one docs/formats.md documents; accounts carry what a sign-up gives, no owner or renewal.
    let docs = documented_columns();
    for (kind, file) in [
        ("accounts", "accounts.csv"),
        ("daily_metrics", "daily_metrics.csv"),
        ("subscriptions", "subscriptions.csv"),
    ] {
        let (all, required) = &docs[kind];
        let (header, _) = read_csv(&mixed.join(file));
        assert!(
            required.iter().all(|r| header.contains(r)),
            "{file}: {header:?}"
        );
        assert!(header.iter().all(|h| all.contains(h)), "{file}: {header:?}");
    }
    assert_eq!(
        read_csv(&mixed.join("accounts.csv")).0,
        [
            "account_id",
            "name",
            "plan",
            "seats",
            "contract_start",
            "valid_from"
        ]
    );
    assert_eq!(
        read_csv(&dir.join("truth/ground_truth.csv")).0,
        [
            "account_id",
            "archetype",
            "trouble_start",
            "outcome",
            "outcome_date",
            "segment",
            "arr"
        ]
    );
}

/// Is `d` a whole number of calendar months after `from` (the day of month clamped to the month's length)?
fn monthly_after(from: Day, d: Day) -> bool {
    let ((y0, m0, d0), (y, m, dd)) = (from.civil(), d.civil());
    let months = (y - y0) * 12 + m as i32 - m0 as i32;
    let (ny, nm) = if m == 12 { (y + 1, 1) } else { (y, m + 1) };
    let len = (days_from_civil(ny, nm, 1) - days_from_civil(y, m, 1)) as u32;
    months >= 0 && dd == d0.min(len)
}

#[test]
fn every_subscription_is_monthly_and_churn_is_where_it_ends() {
    let (dir, _) = book();
    let accounts = table(&dir.join("accounts.csv"));
    let truth: HashMap<String, HashMap<String, String>> =
        table(&dir.join("truth/ground_truth.csv"))
            .into_iter()
            .map(|t| (t["account_id"].clone(), t))
            .collect();
    let mut subs: HashMap<String, Vec<HashMap<String, String>>> = HashMap::new();
    for s in table(&dir.join("subscriptions.csv")) {
        subs.entry(s["account_id"].clone()).or_default().push(s);
    }
    let (mut churned, mut expanded) = (0, 0);
    for a in &accounts {
        let id = &a["account_id"];
        let cs = day(&a["contract_start"]);
        let list = &subs[id];
        assert_eq!(
            day(&list[0]["start_date"]),
            cs,
            "{id}: the first subscription starts at sign-up"
        );
        for s in list {
            for d in [&s["start_date"], &s["end_date"]] {
                if !d.is_empty() {
                    assert!(
                        monthly_after(cs, day(d)),
                        "{id}: {d} is not on the monthly cycle from {cs}"
                    );
                }
            }
            assert!(
                s["mrr"].parse::<f64>().unwrap() > 0.0
                    && s["quantity"].parse::<u32>().unwrap() >= 1
            );
        }
        for w in list.windows(2) {
            assert_eq!(w[0]["end_date"], w[1]["start_date"], "{id}: gap or overlap");
        }
        let t = &truth[id];
        let last = list.last().unwrap();
        if t["outcome"] == "churned" {
            churned += 1;
            assert_eq!(last["end_date"], t["outcome_date"], "{id}");
        } else {
            assert_eq!(
                last["end_date"], "",
                "{id} has not churned but its subscription ended"
            );
        }
        if t["outcome"] == "expanded" {
            expanded += 1;
            let up = list.windows(2).any(|w| {
                w[1]["start_date"] == t["outcome_date"]
                    && (w[1]["quantity"].parse::<u32>().unwrap()
                        > w[0]["quantity"].parse().unwrap()
                        || w[1]["plan"] != w[0]["plan"])
            });
            assert!(up, "{id}: expanded without more seats or a dearer plan");
        }
    }
    assert!(churned > 300, "{churned} churned");
    assert!(expanded > 10, "{expanded} expanded");
}

#[test]
fn history_is_the_configured_length() {
    let check = |dir: &Path, cfg: &SimConfig, file: &str| {
        let start = cfg.start();
        assert_eq!(cfg.end.0 - start.0 + 1, cfg.history_days);
        let (h, rows) = read_csv(&dir.join(file));
        let col = h
            .iter()
            .position(|c| c == "timestamp" || c == "date")
            .unwrap();
        let days: Vec<Day> = rows.iter().map(|r| day(&r[col][..10])).collect();
        assert_eq!(days.iter().min(), Some(&start), "{file}: first day");
        assert_eq!(days.iter().max(), Some(&cfg.end), "{file}: last day");
        let from: Vec<Day> = table(&dir.join("accounts.csv"))
            .iter()
            .map(|a| day(&a["valid_from"]))
            .collect();
        assert_eq!(from.iter().min(), Some(&start));
        assert!(from.iter().all(|d| *d <= cfg.end));
        // A young book: many accounts sign up inside the window, the others in the year before it.
        let inside = table(&dir.join("accounts.csv"))
            .iter()
            .filter(|a| day(&a["contract_start"]) >= start)
            .count() as f64
            / from.len() as f64;
        assert!(
            (0.5..0.7).contains(&inside),
            "{inside:.2} signed up inside the window"
        );
    };
    let (dir, _) = book();
    let cfg = self_serve(BOOK_ACCOUNTS, 42);
    assert_eq!(cfg.history_days, 165);
    check(dir, &cfg, "events.csv");
    let short = SimConfig {
        history_days: 120,
        daily_metrics: true,
        ..self_serve(600, 8)
    };
    let dir = tmp("ss-120-days");
    let _ = std::fs::remove_dir_all(&dir);
    simulate(&short, &dir, &mut |_| {}).unwrap();
    check(&dir, &short, "daily_metrics.csv");
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

#[test]
fn churn_runs_at_a_self_serve_rate_and_follows_low_or_falling_usage() {
    let (dir, summary) = book();
    let cfg = self_serve(BOOK_ACCOUNTS, 42);
    let end = cfg.end;
    let accounts = table(&dir.join("accounts.csv"));
    let truth = table(&dir.join("truth/ground_truth.csv"));
    let first: BTreeMap<String, Day> = accounts
        .iter()
        .map(|a| (a["account_id"].clone(), day(&a["valid_from"])))
        .collect();
    let churn: BTreeMap<String, Day> = truth
        .iter()
        .filter(|t| t["outcome"] == "churned")
        .map(|t| (t["account_id"].clone(), day(&t["outcome_date"])))
        .collect();
    assert_eq!(churn.len(), summary.churned);

    // Churns per customer-month, counted from the files.
    let months: f64 = first
        .iter()
        .map(|(id, f)| (churn.get(id).copied().unwrap_or(end.plus(1)).0 - f.0) as f64)
        .sum::<f64>()
        * 12.0
        / 365.0;
    let monthly = churn.len() as f64 / months;
    assert!(
        (0.03..=0.06).contains(&monthly),
        "monthly churn {monthly:.4}"
    );
    assert!((monthly - summary.monthly_logo_churn).abs() < 1e-9);
    assert!(
        (300..=900).contains(&churn.len()),
        "{} churns in a {BOOK_ACCOUNTS}-account book",
        churn.len()
    );

    // Who churned: engagement, or (about the configured share) nothing visible.
    let by: HashMap<&str, usize> =
        truth
            .iter()
            .filter(|t| t["outcome"] == "churned")
            .fold(HashMap::new(), |mut m, t| {
                *m.entry(t["archetype"].as_str()).or_default() += 1;
                m
            });
    for a in by.keys() {
        assert!(
            [
                "low_engagement",
                "slow_disengagement",
                "failed_onboarding",
                "unwarned_churn"
            ]
            .contains(a),
            "{a} churned"
        );
    }
    let unwarned = by.get("unwarned_churn").copied().unwrap_or(0) as f64 / churn.len() as f64;
    let want = cfg.difficulty.unwarned_churn_share;
    assert!(
        (unwarned - want).abs() < 0.06,
        "unwarned share {unwarned:.3}, configured {want}"
    );
    for t in truth
        .iter()
        .filter(|t| t["outcome"] == "churned" && t["archetype"] != "unwarned_churn")
    {
        assert!(
            day(&t["trouble_start"]) < day(&t["outcome_date"]),
            "{}",
            t["account_id"]
        );
    }

    // Usage in the 28 days before each churn against the accounts that stayed, on the same days.
    let events = daily_events(dir);
    let empty = BTreeMap::new();
    let per_day =
        |id: &str, lo: Day, hi: Day| common::rate(events.get(id).unwrap_or(&empty), lo, hi);
    let retained: Vec<&String> = first.keys().filter(|id| !churn.contains_key(*id)).collect();
    let (mut level, mut fall_churned, mut fall_retained) = (Vec::new(), Vec::new(), Vec::new());
    for (id, c) in &churn {
        let (lo, mid) = (c.plus(-56), c.plus(-28));
        if first[id] > lo {
            continue;
        }
        let peers: Vec<&String> = retained
            .iter()
            .copied()
            .filter(|r| first[*r] <= lo)
            .collect();
        let last = per_day(id, mid, *c);
        let peer_last = median(peers.iter().map(|r| per_day(r, mid, *c)).collect());
        level.push(last / peer_last);
        let trend = |id: &str| (per_day(id, mid, *c) + 0.05) / (per_day(id, lo, mid) + 0.05);
        fall_churned.push(trend(id));
        fall_retained.push(median(peers.iter().map(|r| trend(r)).collect()));
    }
    assert!(
        level.len() >= 150,
        "{} churns with 56 days of data",
        level.len()
    );
    let (level, fall_c, fall_r) = (median(level), median(fall_churned), median(fall_retained));
    assert!(
        level < 0.6,
        "churned accounts' usage in their last 28 days is {level:.2} of the retained accounts' median"
    );
    assert!(
        fall_c < 0.85 && (0.9..1.1).contains(&fall_r),
        "last 28 days ÷ the 28 before: churned {fall_c:.2}, retained {fall_r:.2}"
    );
}

#[test]
fn signal_strength_zero_leaves_engagement_out_of_usage() {
    let base = self_serve(300, 4);
    let flat = SimConfig {
        difficulty: bellwether_sim::Difficulty {
            signal_strength: 0.0,
            ..base.difficulty.clone()
        },
        ..base.clone()
    };
    let (a, b) = (tmp("ss-signal-1"), tmp("ss-signal-0"));
    simulate(&base, &a, &mut |_| {}).unwrap();
    simulate(&flat, &b, &mut |_| {}).unwrap();
    // The same accounts leave on the same days; only what their usage shows differs.
    for f in [
        "truth/ground_truth.csv",
        "subscriptions.csv",
        "accounts.csv",
    ] {
        assert_eq!(
            std::fs::read(a.join(f)).unwrap(),
            std::fs::read(b.join(f)).unwrap(),
            "{f}"
        );
    }
    assert_ne!(
        std::fs::read(a.join("events.csv")).unwrap(),
        std::fs::read(b.join("events.csv")).unwrap()
    );
}

#[test]
fn invalid_self_serve_settings_are_rejected_by_name() {
    let mut cfg = self_serve(10, 1);
    cfg.self_serve.monthly_decline = 1.5;
    match simulate(&cfg, &tmp("ss-invalid"), &mut |_| {}) {
        Err(SimError::InvalidConfig(m)) => assert!(m.contains("self_serve.monthly_decline"), "{m}"),
        other => panic!("{other:?}"),
    }
    // The B2B book does not read them.
    cfg.profile = Profile::B2b;
    assert!(simulate(&cfg, &tmp("ss-invalid-b2b"), &mut |_| {}).is_ok());
    assert_eq!("self-serve".parse::<Profile>(), Ok(Profile::SelfServe));
    assert!("retail"
        .parse::<Profile>()
        .unwrap_err()
        .contains("b2b or self-serve"));
}
