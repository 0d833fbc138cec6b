//! Any book trains on the horizons its history supports: a young self-serve book of monthly subscriptions
//! learns its short churn horizons, says which targets it skipped and why with the counts, and ranks by the
//! default churn target chosen for it; its model moves to another data directory with `models export` and
//! `models import` and scores the same probabilities there.

mod common;
use common::{bw, ok, text};
use serde_json::Value;
use std::collections::BTreeMap;

fn self_serve(dir: &std::path::Path, accounts: &str, days: &str) -> std::path::PathBuf {
    let book = dir.join("book");
    ok(bw(
        &dir.join("sim"),
        &[
            "simulate",
            "--profile",
            "self-serve",
            "--accounts",
            accounts,
            "--days",
            days,
            "--out",
            book.to_str().unwrap(),
        ],
    ));
    book
}

fn probabilities(data: &std::path::Path) -> BTreeMap<(String, String), f64> {
    let out = ok(bw(data, &["score", "--json"]));
    let v: Vec<Value> = serde_json::from_str(&out).unwrap();
    v.iter()
        .map(|p| {
            (
                (
                    p["account_id"].as_str().unwrap().to_string(),
                    p["target"].as_str().unwrap().to_string(),
                ),
                p["probability"].as_f64().unwrap(),
            )
        })
        .collect()
}

#[test]
fn a_young_monthly_book_trains_its_short_horizons_and_says_why_it_skipped_the_rest() {
    let tmp = tempfile::tempdir().unwrap();
    // 100 days of history: a 33-day warm-up leaves room for 30-day windows only.
    let book = self_serve(tmp.path(), "3000", "100");
    let data = tmp.path().join("data");
    ok(bw(&data, &["import", book.to_str().unwrap()]));
    let out = bw(&data, &["train", "--json"]);
    let v: Value = serde_json::from_str(&String::from_utf8_lossy(&out.stdout))
        .unwrap_or_else(|e| panic!("{e}: {}", text(&out)));
    let trained: Vec<&str> = v["targets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["target"].as_str().unwrap())
        .collect();
    assert!(trained.contains(&"churn_30d"), "{trained:?}");
    assert!(
        !trained.contains(&"churn_180d") && !trained.contains(&"churn_90d"),
        "{trained:?}"
    );
    assert_eq!(v["warmup_days"], 33);
    assert_eq!(v["step_days"], 7);
    let skipped: BTreeMap<&str, &Value> = v["skipped"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| (s["target"].as_str().unwrap(), s))
        .collect();
    let s180 = skipped["churn_180d"];
    assert_eq!(s180["labelled_snapshots"], 0, "{s180}");
    assert_eq!(s180["days_held"], 100);
    // 33 days of warm-up, 180 of window, 7 of a monthly contract's grace.
    assert_eq!(s180["days_needed"], 220, "{s180}");
    assert!(
        s180["reason"]
            .as_str()
            .unwrap()
            .contains("needs 220 days of history"),
        "{s180}"
    );
    for t in [
        "churn_60d",
        "churn_90d",
        "contraction_180d",
        "expansion_180d",
    ] {
        assert!(
            skipped.contains_key(t),
            "{t} is listed as skipped: {skipped:?}"
        );
    }
    // Monthly contracts without renewal dates: the longest fixed horizon trained ranks the list.
    let default = v["default_target"].as_str().unwrap();
    assert_eq!(default, "churn_30d", "{v}");
    assert_eq!(v["horizon_days"], 30);
    let shown = text(&bw(&data, &["train"]));
    assert!(
        shown.contains("churn_180d        skipped: no snapshot's window had closed")
            && shown.contains("default churn target: churn_30d (churn within 30 days)"),
        "{shown}"
    );
    let listed = ok(bw(&data, &["worklist", "--limit", "5"]));
    assert!(
        listed.contains("% churn within 30 days")
            || listed.contains("rules health score ranks the worklist"),
        "{listed}"
    );
}

#[test]
fn an_exported_model_scores_the_same_probabilities_in_another_data_directory() {
    let tmp = tempfile::tempdir().unwrap();
    let book = self_serve(tmp.path(), "2000", "165");
    let (a, b) = (tmp.path().join("a"), tmp.path().join("b"));
    for d in [&a, &b] {
        ok(bw(d, &["import", "--no-assess", book.to_str().unwrap()]));
    }
    ok(bw(&a, &["train", "--force"]));
    let file = tmp.path().join("model.bwm");
    let out = ok(bw(&a, &["models", "export", file.to_str().unwrap()]));
    assert!(out.contains("wrote model version 1"), "{out}");
    let out = ok(bw(&b, &["models", "import", file.to_str().unwrap()]));
    assert!(out.contains("as model version 1 (active)"), "{out}");
    let (pa, pb) = (probabilities(&a), probabilities(&b));
    assert!(pa.len() > 1000, "{} predictions", pa.len());
    assert_eq!(pa, pb, "the same model on the same book scores the same");

    // After the daily pass, an account's page explains every target: the ones the pass stores without
    // drivers are computed for the stored day, and each target's drivers add up to its move from the base
    // probability.
    ok(bw(&b, &["assess"]));
    assert_eq!(probabilities(&b), pb, "the pass scores as `score` does");
    let (id, _) = pa.keys().next().unwrap().clone();
    let acct: Value = serde_json::from_str(&ok(bw(&b, &["account", &id, "--json"]))).unwrap();
    let preds = acct["predictions"].as_array().unwrap();
    let targets: Vec<&str> = preds
        .iter()
        .map(|p| p["target"].as_str().unwrap())
        .collect();
    assert!(targets.len() >= 2, "{targets:?}");
    for p in preds {
        let drivers = p["drivers"].as_array().unwrap();
        assert!(!drivers.is_empty(), "{} has drivers: {p}", p["target"]);
        let points: f64 = drivers.iter().map(|d| d["points"].as_f64().unwrap()).sum();
        let moved = p["probability"].as_f64().unwrap() - p["base_probability"].as_f64().unwrap();
        assert!((points / 100.0 - moved).abs() < 1e-6, "{p}");
        assert_eq!(
            p["probability"].as_f64().unwrap(),
            pb[&(id.clone(), p["target"].as_str().unwrap().to_string())],
            "the stored probability is shown"
        );
    }

    // A file that is not a model, and a model needing a column this build does not compute, are refused.
    std::fs::write(tmp.path().join("junk.bwm"), "hello\n").unwrap();
    let r = bw(
        &b,
        &[
            "models",
            "import",
            tmp.path().join("junk.bwm").to_str().unwrap(),
        ],
    );
    assert!(!r.status.success());
    assert!(
        text(&r).contains("not a Bellwether model file"),
        "{}",
        text(&r)
    );
    // A column renamed in place (the same length, so the file's framing holds) stands for one this build
    // no longer computes.
    let mut forged = std::fs::read(&file).unwrap();
    let name = first_column(&String::from_utf8_lossy(&forged));
    let retired = "z".repeat(name.len());
    let (from, to) = (format!("\"{name}\""), format!("\"{retired}\""));
    let mut at = 0;
    while let Some(i) = forged[at..]
        .windows(from.len())
        .position(|w| w == from.as_bytes())
    {
        forged[at + i..at + i + from.len()].copy_from_slice(to.as_bytes());
        at += i + from.len();
    }
    std::fs::write(tmp.path().join("old.bwm"), &forged).unwrap();
    let r = bw(
        &b,
        &[
            "models",
            "import",
            tmp.path().join("old.bwm").to_str().unwrap(),
        ],
    );
    assert!(!r.status.success(), "{}", text(&r));
    let t = text(&r);
    assert!(
        t.contains(&retired) && t.contains("model_incompatible"),
        "{t}"
    );
}

/// The first column name in a bundle's JSON header (`"columns":["…"`).
fn first_column(s: &str) -> String {
    let at = s.find("\"columns\":[\"").unwrap() + "\"columns\":[\"".len();
    s[at..].split('"').next().unwrap().to_string()
}
