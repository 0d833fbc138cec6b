//! `bellwether signals report` through the binary, on a small simulated book whose signal history was built
//! with `assess --from`: the table and the budget, the same figures as JSON, the flags, and `signals` still a
//! list with its filters.

mod common;

use common::{bw, ok, text};
use serde_json::Value;

#[test]
fn signals_report_prints_the_table_and_the_budget_and_signals_still_lists() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let book = d.join("book");
    let end = bellwether_sim::SimConfig::default().end;
    ok(bw(
        d,
        &[
            "simulate",
            "--accounts",
            "250",
            "--days",
            "420",
            "--seed",
            "5",
            "--out",
            book.to_str().unwrap(),
        ],
    ));
    ok(bw(d, &["import", book.to_str().unwrap(), "--no-assess"]));
    let out = bw(d, &["signals", "report"]);
    assert!(
        ok(out).contains("no signals stored yet"),
        "an unassessed book says how to build the history"
    );
    let from = end.plus(-300).to_string();
    ok(bw(d, &["assess", "--from", &from, "--step", "14"]));

    let json: Value = serde_json::from_str(&ok(bw(d, &["signals", "report", "--json"]))).unwrap();
    let n = |v: &Value| v.as_u64().unwrap();
    let kinds = json["kinds"].as_array().unwrap();
    assert!(!kinds.is_empty());
    assert_eq!(
        kinds.iter().map(|k| n(&k["signals"])).sum::<u64>(),
        n(&json["signals"])
    );
    assert_eq!(
        n(&json["judged"]) + n(&json["unjudged"]),
        n(&json["signals"])
    );
    assert!(n(&json["judged"]) > 0, "{json:#}");
    assert_eq!(json["horizon_days"], 90);
    assert_eq!(json["budget"]["budget"], 5.0);
    assert_eq!(json["budget"]["min_severity"], "high");
    for k in kinds {
        assert!(n(&k["hits"]) <= n(&k["judged"]) && n(&k["judged"]) <= n(&k["signals"]));
        assert!(k["verdict"].is_string() && k["reason"].is_string());
    }
    assert!(json["rules"]
        .as_array()
        .unwrap()
        .iter()
        .all(|r| r["severity"] == "high" || r["severity"] == "critical"));

    // The flags: a shorter horizon judges more signals; medium alerts too; a budget and a start day.
    let since = end.plus(-200).to_string();
    let j: Value = serde_json::from_str(&ok(bw(
        d,
        &[
            "signals",
            "report",
            "--horizon-days",
            "30",
            "--budget",
            "1.5",
            "--min-severity",
            "medium",
            "--since",
            &since,
            "--json",
        ],
    )))
    .unwrap();
    assert_eq!(
        (j["horizon_days"].clone(), j["start"].clone()),
        (30.into(), since.clone().into())
    );
    assert_eq!(j["budget"]["budget"], 1.5);
    assert!(j["rules"]
        .as_array()
        .unwrap()
        .iter()
        .any(|r| r["severity"] == "medium"));
    assert!(n(&j["signals"]) < n(&json["signals"]));

    let table = ok(bw(d, &["signals", "report"]));
    for needle in [
        "| signal kind |",
        "Alert rules",
        "Alert budget: 5 alerts per CSM per week",
        "The loudest",
    ] {
        assert!(table.contains(needle), "{needle} in\n{table}");
    }
    let bad = bw(d, &["signals", "report", "--budget", "0"]);
    assert!(!bad.status.success() && text(&bad).contains("positive number"));

    // `signals` is still the list, with its filters.
    let worst = json["budget"]["worst"]["owner"]
        .as_str()
        .unwrap()
        .to_string();
    let listed: Value = serde_json::from_str(&ok(bw(
        d,
        &[
            "signals",
            "--owner",
            &worst,
            "--status",
            "open,resolved,expired",
            "--json",
        ],
    )))
    .unwrap();
    let listed = listed.as_array().unwrap();
    assert!(!listed.is_empty() && listed.iter().all(|s| s["owner"] == worst.as_str()));
    assert!(ok(bw(d, &["signals", "--limit", "3"])).contains("id "));
    let mixed = bw(d, &["signals", "--owner", &worst, "report"]);
    assert!(!mixed.status.success(), "{}", text(&mixed));
}
