//! `bellwether simulate --profile self-serve` writes a young book of monthly subscriptions that `bellwether
//! import` takes whole: every record of every file stored, none rejected.

mod common;
use common::{bw, ok};

fn lines(path: &std::path::Path) -> u64 {
    std::fs::read_to_string(path).unwrap().lines().count() as u64
}

#[test]
fn a_self_serve_book_imports_without_rejections() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let book = tmp.path().join("book");
    let b = book.to_str().unwrap();
    let out = ok(bw(
        &data,
        &[
            "simulate",
            "--profile",
            "self-serve",
            "--accounts",
            "800",
            "--out",
            b,
        ],
    ));
    assert!(
        out.contains("wrote a self-serve book (version 1) of 800 accounts over 165 days"),
        "{out}"
    );
    let mut names: Vec<String> = std::fs::read_dir(&book)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(
        names,
        ["accounts.csv", "events.csv", "subscriptions.csv", "truth"]
    );

    let stdout = ok(bw(&data, &["import", "--json", b]));
    let reports: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    let reports = reports.as_array().unwrap();
    let mut kinds: Vec<&str> = reports
        .iter()
        .map(|r| r["kind"].as_str().unwrap())
        .collect();
    kinds.sort();
    assert_eq!(kinds, ["accounts", "events", "subscriptions"], "{stdout}");
    for r in reports {
        let kind = r["kind"].as_str().unwrap();
        let file = book.join(format!("{kind}.csv"));
        assert_eq!(r["rejected_count"], 0, "{kind}: {r}");
        assert_eq!(r["records"], lines(&file) - 1, "{kind}: every line read");
        assert_eq!(r["imported"], r["records"], "{kind}: every record stored");
        assert_eq!(
            r["ignored_columns"].as_array().map(Vec::len),
            Some(0),
            "{kind}: {r}"
        );
    }
    let accounts = reports.iter().find(|r| r["kind"] == "accounts").unwrap();
    assert_eq!(accounts["records"], 800);

    // The B2B book stays the default, with its own history length.
    let b2b = tmp.path().join("b2b");
    let out = ok(bw(
        &data,
        &[
            "simulate",
            "--accounts",
            "20",
            "--out",
            b2b.to_str().unwrap(),
        ],
    ));
    assert!(
        out.contains("wrote a b2b book (version 1) of 20 accounts over 730 days"),
        "{out}"
    );
    assert!(b2b.join("tickets.csv").exists());
    let bad = bw(&data, &["simulate", "--profile", "retail", "--out", b]);
    assert!(!bad.status.success());
    assert!(common::text(&bad).contains("use b2b or self-serve"));
}
