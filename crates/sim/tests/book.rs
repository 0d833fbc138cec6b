//! End-to-end checks of simulated books: determinism, formats, the ground truth and the signals it promises.

mod common;

use bellwether_core::time::Day;
use bellwether_sim::{plan_summary, simulate, simulate_threads, Archetype, SimConfig};
use common::{
    daily_events, day, documented_columns, rate, read_csv, same_bytes_and_seeded, table, tmp,
};
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

const BOOK_ACCOUNTS: usize = 1500;

/// One mid-sized book shared by the tests that only read it.
fn book() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = tmp("book-1500");
        let _ = std::fs::remove_dir_all(&dir);
        let cfg = SimConfig {
            accounts: BOOK_ACCOUNTS,
            seed: 7,
            ..SimConfig::default()
        };
        simulate(&cfg, &dir, &mut |_| {}).expect("simulate");
        dir
    })
}

#[test]
fn same_seed_gives_identical_bytes_and_another_seed_does_not() {
    let cfg = SimConfig {
        accounts: 120,
        seed: 11,
        ..SimConfig::default()
    };
    let (a, b, c) = (tmp("det-a"), tmp("det-b"), tmp("det-c"));
    for d in [&a, &b, &c] {
        let _ = std::fs::remove_dir_all(d);
    }
    // Different thread counts must not matter either.
    simulate_threads(&cfg, &a, 1, &mut |_| {}).unwrap();
    simulate_threads(&cfg, &b, 3, &mut |_| {}).unwrap();
    simulate_threads(
        &SimConfig {
            seed: 12,
            ..cfg.clone()
        },
        &c,
        2,
        &mut |_| {},
    )
    .unwrap();
    let fa = same_bytes_and_seeded(&a, &b, &c);
    assert_eq!(fa.len(), 10, "{:?}", fa.keys());
}

#[test]
fn daily_metrics_are_the_roll_up_of_the_events() {
    let cfg = SimConfig {
        accounts: 60,
        seed: 5,
        ..SimConfig::default()
    };
    let (ev_dir, dm_dir) = (tmp("rollup-events"), tmp("rollup-daily"));
    simulate(&cfg, &ev_dir, &mut |_| {}).unwrap();
    // A folder that held an events book holds only the daily-metrics book afterwards.
    simulate(&cfg, &dm_dir, &mut |_| {}).unwrap();
    let s = simulate(
        &SimConfig {
            daily_metrics: true,
            ..cfg
        },
        &dm_dir,
        &mut |_| {},
    )
    .unwrap();
    assert!(!dm_dir.join("events.csv").exists() && s.events == 0 && s.daily_metric_rows > 0);
    let mut want: BTreeMap<(String, String, String), u64> = BTreeMap::new();
    let mut users: BTreeMap<(String, String), std::collections::BTreeSet<String>> = BTreeMap::new();
    for r in read_csv(&ev_dir.join("events.csv")).1 {
        let d = r[1][..10].to_string();
        *want
            .entry((r[0].clone(), d.clone(), r[2].clone()))
            .or_default() += 1;
        users
            .entry((r[0].clone(), d))
            .or_default()
            .insert(r[3].clone());
    }
    for ((a, d), u) in users {
        want.insert((a, d, "active_users".into()), u.len() as u64);
    }
    let got: BTreeMap<(String, String, String), u64> = read_csv(&dm_dir.join("daily_metrics.csv"))
        .1
        .into_iter()
        .map(|r| {
            (
                (r[0].clone(), r[1].clone(), r[2].clone()),
                r[3].parse().unwrap(),
            )
        })
        .collect();
    assert_eq!(got, want);
    // Everything but the usage file is the same in both modes.
    for f in [
        "accounts.csv",
        "tickets.csv",
        "billing_events.csv",
        "interactions.csv",
        "truth/ground_truth.csv",
    ] {
        assert_eq!(
            std::fs::read(ev_dir.join(f)).unwrap(),
            std::fs::read(dm_dir.join(f)).unwrap(),
            "{f}"
        );
    }
}

#[test]
fn headers_use_the_documented_columns() {
    let docs = documented_columns();
    let dir = book();
    let files = [
        ("accounts", "accounts.csv"),
        ("account_changes", "account_changes.csv"),
        ("contacts", "contacts.csv"),
        ("events", "events.csv"),
        ("subscriptions", "subscriptions.csv"),
        ("tickets", "tickets.csv"),
        ("billing_events", "billing_events.csv"),
        ("interactions", "interactions.csv"),
        ("outcomes", "outcomes.csv"),
    ];
    for (kind, file) in files {
        let (all, required) = docs
            .get(kind)
            .unwrap_or_else(|| panic!("formats.md has no section {kind}"));
        let (header, _) = read_csv(&dir.join(file));
        for r in required {
            assert!(header.contains(r), "{file} lacks required column {r}");
        }
        for h in &header {
            // Accounts keep unknown columns as custom attributes: the simulator adds region and industry.
            let custom = kind == "accounts" && (h == "region" || h == "industry");
            assert!(
                all.contains(h) || custom,
                "{file} has undocumented column {h}"
            );
        }
    }
    let dm = docs.get("daily_metrics").unwrap();
    let dir = tmp("daily-header");
    simulate(
        &SimConfig {
            accounts: 3,
            daily_metrics: true,
            ..SimConfig::default()
        },
        &dir,
        &mut |_| {},
    )
    .unwrap();
    assert_eq!(read_csv(&dir.join("daily_metrics.csv")).0, dm.0);
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

#[test]
fn archetype_mix_follows_the_settings() {
    let cfg = SimConfig {
        accounts: 30_000,
        ..SimConfig::default()
    };
    let plans = plan_summary(&cfg).unwrap();
    let mix = &cfg.difficulty.archetype_mix;
    let count = |a: Archetype| plans.iter().filter(|p| p.archetype == a).count() as f64;
    let warned = [
        (Archetype::SlowDisengagement, mix.slow_disengagement),
        (Archetype::ChampionLoss, mix.champion_loss),
        (Archetype::SupportFrustration, mix.support_frustration),
        (Archetype::BudgetTrouble, mix.budget_trouble),
    ];
    let total_w: f64 = warned.iter().map(|w| w.1).sum();
    let total_n: f64 = warned.iter().map(|w| count(w.0)).sum();
    for (a, w) in warned {
        let share = count(a) / total_n;
        assert!(
            (share - w / total_w).abs() < 0.03,
            "{a:?}: {share:.3} of warned churns, configured {:.3}",
            w / total_w
        );
    }
    let unwarned = count(Archetype::UnwarnedChurn) / (count(Archetype::UnwarnedChurn) + total_n);
    let want = cfg.difficulty.unwarned_churn_share;
    // Churns of accounts too young for a signal to form are unwarned too, so the share runs a little higher.
    assert!(
        unwarned > want - 0.02 && unwarned < want + 0.06,
        "unwarned share {unwarned:.3}, configured {want}"
    );
    let sat = count(Archetype::SeatSaturation)
        / (count(Archetype::SeatSaturation) + count(Archetype::NewTeamAdoption));
    let want = mix.seat_saturation / (mix.seat_saturation + mix.new_team_adoption);
    assert!(
        (sat - want).abs() < 0.04,
        "seat saturation {sat:.3} of expansions, configured {want:.3}"
    );
    assert!(
        count(Archetype::FailedOnboarding) > 0.0
            && count(Archetype::Healthy) > 0.3 * plans.len() as f64
    );
    let failed_old = plans
        .iter()
        .filter(|p| p.archetype == Archetype::FailedOnboarding && p.contract_start < cfg.start())
        .count();
    assert_eq!(
        failed_old, 0,
        "only accounts starting inside the window can fail onboarding"
    );

    // Doubling a weight moves the mix.
    let mut cfg2 = cfg.clone();
    cfg2.accounts = 10_000;
    cfg2.difficulty.archetype_mix.champion_loss *= 3.0;
    let plans2 = plan_summary(&cfg2).unwrap();
    let share = |ps: &[bellwether_sim::PlannedAccount]| {
        ps.iter()
            .filter(|p| p.archetype == Archetype::ChampionLoss)
            .count() as f64
            / ps.len() as f64
    };
    assert!(share(&plans2) > 2.0 * share(&plans[..10_000]));
}

#[test]
fn segment_churn_is_in_the_domain_ranges() {
    let dir = book();
    let truth = table(&dir.join("truth/ground_truth.csv"));
    let accounts = table(&dir.join("accounts.csv"));
    assert_eq!(truth.len(), BOOK_ACCOUNTS);
    let start = SimConfig::default().start();
    let end = SimConfig::default().end;
    let mut years: HashMap<String, f64> = HashMap::new();
    let mut churned: HashMap<String, f64> = HashMap::new();
    for (t, a) in truth.iter().zip(&accounts) {
        assert_eq!(t["account_id"], a["account_id"]);
        let first = day(&a["valid_from"]).max(start);
        let last = if t["outcome"] == "churned" {
            day(&t["outcome_date"])
        } else {
            end.plus(1)
        };
        *years.entry(t["segment"].clone()).or_default() += (last.0 - first.0) as f64 / 365.0;
        if t["outcome"] == "churned" {
            *churned.entry(t["segment"].clone()).or_default() += 1.0;
        }
    }
    let rate = |s: &str| churned.get(s).copied().unwrap_or(0.0) / years[s];
    assert!(
        (0.2..=0.5).contains(&rate("smb")),
        "smb churn {}",
        rate("smb")
    );
    assert!(
        (0.08..=0.22).contains(&rate("mid_market")),
        "mid-market churn {}",
        rate("mid_market")
    );
    assert!(
        (0.0..=0.15).contains(&rate("enterprise")),
        "enterprise churn {}",
        rate("enterprise")
    );
    // ARR ranges per segment.
    for a in &accounts {
        let arr: f64 = a["arr"].parse().unwrap();
        let (lo, hi) = match a["segment"].as_str() {
            "smb" => (1_000.0, 15_000.0),
            "mid_market" => (15_000.0, 100_000.0),
            _ => (100_000.0, 2_000_000.0),
        };
        assert!(
            (lo..=hi).contains(&arr),
            "{}: {} ARR {arr}",
            a["account_id"],
            a["segment"]
        );
    }
}

#[test]
fn churned_accounts_last_subscription_ends_without_successor() {
    let dir = book();
    let truth = table(&dir.join("truth/ground_truth.csv"));
    let subs = table(&dir.join("subscriptions.csv"));
    let mut by_account: HashMap<&str, Vec<&HashMap<String, String>>> = HashMap::new();
    for s in &subs {
        by_account
            .entry(s["account_id"].as_str())
            .or_default()
            .push(s);
    }
    let mut churned = 0;
    for t in &truth {
        let list = &by_account[t["account_id"].as_str()];
        for w in list.windows(2) {
            assert_eq!(
                w[0]["end_date"], w[1]["start_date"],
                "{}: gap or overlap between terms",
                t["account_id"]
            );
        }
        let last = list.last().unwrap();
        if t["outcome"] == "churned" {
            churned += 1;
            assert_eq!(last["end_date"], t["outcome_date"], "{}", t["account_id"]);
            assert!(
                list.iter().all(|s| s["start_date"] < t["outcome_date"]),
                "{}: successor",
                t["account_id"]
            );
        } else {
            assert_eq!(
                last["end_date"], "",
                "{} has not churned but its subscription ended",
                t["account_id"]
            );
        }
    }
    assert!(churned > 100, "only {churned} churned accounts");
    // Churned accounts also have a churned outcome row and no product events from the churn day on.
    let outcomes = table(&dir.join("outcomes.csv"));
    for t in truth.iter().filter(|t| t["outcome"] == "churned") {
        assert!(outcomes.iter().any(|o| o["account_id"] == t["account_id"]
            && o["kind"] == "churned"
            && o["date"] == t["outcome_date"]));
    }
}

#[test]
fn trouble_starts_60_to_300_days_before_churn() {
    let dir = book();
    let truth = table(&dir.join("truth/ground_truth.csv"));
    let mut checked = 0;
    for t in truth.iter().filter(|t| !t["outcome_date"].is_empty()) {
        let arch = t["archetype"].as_str();
        match arch {
            "unwarned_churn" | "healthy" => {
                assert_eq!(t["trouble_start"], "", "{}", t["account_id"])
            }
            "seat_saturation" | "new_team_adoption" => {}
            _ => {
                let gap = day(&t["outcome_date"]).0 - day(&t["trouble_start"]).0;
                assert!(
                    (60..=300).contains(&gap),
                    "{} {arch}: trouble {gap} days before the outcome",
                    t["account_id"]
                );
                checked += 1;
            }
        }
    }
    assert!(checked > 200, "{checked}");
}

#[test]
fn slow_disengagement_usage_falls_well_below_its_own_baseline() {
    let dir = book();
    let truth = table(&dir.join("truth/ground_truth.csv"));
    let accounts = table(&dir.join("accounts.csv"));
    let events = daily_events(dir);
    let empty = BTreeMap::new();
    let mut ratios = Vec::new();
    let mut healthy = Vec::new();
    for (t, a) in truth.iter().zip(&accounts) {
        let first = day(&a["valid_from"]);
        let series = events.get(&t["account_id"]).unwrap_or(&empty);
        if t["archetype"] == "slow_disengagement" && t["outcome"] == "churned" {
            let (ts, churn) = (day(&t["trouble_start"]), day(&t["outcome_date"]));
            if ts.0 - first.0 < 90 {
                continue; // not enough baseline inside the window
            }
            let base = rate(series, first, ts.min(first.plus(365)));
            let late = rate(series, churn.plus(-60), churn);
            assert!(base > 0.0, "{}", t["account_id"]);
            ratios.push(late / base);
        } else if t["archetype"] == "healthy" && first.0 + 400 < SimConfig::default().end.0 {
            let base = rate(series, first, first.plus(365));
            let late = rate(
                series,
                SimConfig::default().end.plus(-59),
                SimConfig::default().end.plus(1),
            );
            if base > 0.0 {
                healthy.push(late / base);
            }
        }
    }
    assert!(
        ratios.len() >= 20,
        "{} slow-disengagement churners with a baseline",
        ratios.len()
    );
    ratios.sort_by(f64::total_cmp);
    healthy.sort_by(f64::total_cmp);
    let median = ratios[ratios.len() / 2];
    let healthy_median = healthy[healthy.len() / 2];
    assert!(
        median < 0.5,
        "median last-60-days / baseline of slow disengagement: {median:.2}"
    );
    let well_below = ratios.iter().filter(|r| **r < 0.7).count() as f64 / ratios.len() as f64;
    assert!(
        well_below > 0.8,
        "only {well_below:.2} of slow-disengagement churners fell below 70% of baseline"
    );
    assert!(
        healthy_median > 0.8,
        "healthy accounts drift too: {healthy_median:.2}"
    );
}

#[test]
fn weekends_and_holidays_are_quieter_than_workdays() {
    let dir = book();
    let events = daily_events(dir);
    let (mut we, mut wd, mut hol) = ([0.0; 2], [0.0; 2], [0.0; 2]);
    let cfg = SimConfig::default();
    let mut totals: BTreeMap<Day, f64> = BTreeMap::new();
    for s in events.values() {
        for (d, n) in s {
            *totals.entry(*d).or_default() += *n as f64;
        }
    }
    let mut d = cfg.start();
    while d <= cfg.end {
        let n = totals.get(&d).copied().unwrap_or(0.0);
        let slot = if d.weekday() >= 5 {
            &mut we
        } else if bellwether_sim::is_holiday(d) {
            &mut hol
        } else {
            &mut wd
        };
        slot[0] += n;
        slot[1] += 1.0;
        d = d.plus(1);
    }
    let (we, wd, hol) = (we[0] / we[1], wd[0] / wd[1], hol[0] / hol[1]);
    let ratio = we / wd;
    assert!(
        (0.12..=0.3).contains(&ratio),
        "weekend/workday usage {ratio:.3}"
    );
    assert!(hol / wd < 0.5, "holiday/workday usage {:.3}", hol / wd);
}

#[test]
fn events_are_time_ordered_per_account_with_account_scoped_users() {
    let dir = book();
    let text = std::fs::read_to_string(dir.join("events.csv")).unwrap();
    let mut last: Option<(&str, &str)> = None;
    let mut names = std::collections::BTreeSet::new();
    for line in text.lines().skip(1) {
        let f: Vec<&str> = line.split(',').collect();
        assert_eq!(f.len(), 5, "{line}");
        let (a, ts) = (f[0], f[1]);
        assert_eq!(ts.len(), 20, "{line}");
        assert!(ts.ends_with('Z') && &ts[10..11] == "T", "{line}");
        assert!(
            f[3].starts_with(a) && f[3][a.len()..].starts_with("-u"),
            "{line}"
        );
        assert_eq!(f[4], "1");
        if let Some((pa, pts)) = last {
            if pa == a {
                assert!(pts <= ts, "{a}: {pts} then {ts}");
            }
        }
        last = Some((a, ts));
        names.insert(f[2]);
    }
    assert!(names.len() >= 10, "{names:?}");
}

#[test]
fn support_frustration_shows_in_tickets() {
    let dir = book();
    let truth = table(&dir.join("truth/ground_truth.csv"));
    let tickets = table(&dir.join("tickets.csv"));
    let arch: HashMap<&str, &str> = truth
        .iter()
        .map(|t| (t["account_id"].as_str(), t["archetype"].as_str()))
        .collect();
    let ts: HashMap<&str, &str> = truth
        .iter()
        .map(|t| (t["account_id"].as_str(), t["trouble_start"].as_str()))
        .collect();
    let negative = [
        "frustrat",
        "unacceptable",
        "disappoint",
        "terrible",
        "broken",
        "worst",
        "angry",
        "poor",
    ];
    let (mut frus, mut other) = ([0.0; 3], [0.0; 3]);
    for t in &tickets {
        let a = t["account_id"].as_str();
        let in_trouble =
            arch[a] == "support_frustration" && !ts[a].is_empty() && t["opened_at"][..10] >= *ts[a];
        let slot = if in_trouble {
            &mut frus
        } else if arch[a] == "healthy" {
            &mut other
        } else {
            continue;
        };
        let text = format!("{} {}", t["subject"], t["body"]).to_lowercase();
        slot[0] += 1.0;
        slot[1] += f64::from(negative.iter().any(|w| text.contains(w)));
        slot[2] += f64::from(t["sla_breached"] == "true");
    }
    assert!(frus[0] > 100.0 && other[0] > 100.0);
    let (neg_f, neg_h) = (frus[1] / frus[0], other[1] / other[0]);
    let (sla_f, sla_h) = (frus[2] / frus[0], other[2] / other[0]);
    assert!(
        neg_f > 3.0 * neg_h && neg_f > 0.3,
        "negative tickets: frustrated {neg_f:.2}, healthy {neg_h:.2}"
    );
    assert!(
        sla_f > 1.5 * sla_h,
        "SLA breaches: frustrated {sla_f:.2}, healthy {sla_h:.2}"
    );
}

#[test]
fn invalid_settings_are_rejected() {
    let mut cfg = SimConfig {
        accounts: 1,
        ..SimConfig::default()
    };
    cfg.difficulty.unwarned_churn_share = 1.5;
    let err = simulate(&cfg, &tmp("invalid"), &mut |_| {}).unwrap_err();
    assert!(err.to_string().contains("unwarned_churn_share"), "{err}");
}

#[test]
fn tiny_books_and_short_windows_work() {
    for (accounts, history_days, daily) in [
        (0, 730, false),
        (1, 30, false),
        (7, 1, true),
        (40, 400, false),
    ] {
        let cfg = SimConfig {
            accounts,
            history_days,
            daily_metrics: daily,
            seed: 3,
            ..SimConfig::default()
        };
        let dir = tmp(&format!("tiny-{accounts}-{history_days}"));
        let mut calls = 0;
        let s = simulate(&cfg, &dir, &mut |p| {
            calls += 1;
            assert!(p.accounts_done <= p.accounts_total);
        })
        .unwrap();
        assert_eq!(s.accounts, accounts);
        assert_eq!(table(&dir.join("accounts.csv")).len(), accounts);
        assert_eq!(table(&dir.join("truth/ground_truth.csv")).len(), accounts);
        assert_eq!(calls, accounts.div_ceil(32));
        assert_eq!(s.start, cfg.end.plus(1 - history_days));
    }
}

#[test]
fn version_1_books_keep_their_bytes() {
    // Difficulty version 1 is published: the same configuration and seed write these bytes forever.
    let books = [
        (
            "frozen-events",
            SimConfig {
                accounts: 150,
                seed: 42,
                ..SimConfig::default()
            },
        ),
        (
            "frozen-daily",
            SimConfig {
                accounts: 80,
                seed: 9,
                history_days: 400,
                daily_metrics: true,
                ..SimConfig::default()
            },
        ),
    ];
    let got: Vec<String> = books
        .into_iter()
        .map(|(name, cfg)| {
            let dir = tmp(name);
            let _ = std::fs::remove_dir_all(&dir);
            simulate(&cfg, &dir, &mut |_| {}).unwrap();
            format!("{:016x}", common::fingerprint(&dir))
        })
        .collect();
    assert_eq!(got, ["3006f65acd990cd6", "c7c59485b9f2ee51"]);
}
