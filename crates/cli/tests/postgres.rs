//! The same book on PostgreSQL as on the embedded store: imported straight into PostgreSQL, or copied there
//! with `bellwether copy`, it assesses, trains and backtests to the same results; a resend stores nothing;
//! `copy` refuses a database that already holds a book; a URL Bellwether cannot use is refused with how to
//! write one. Each test has fresh databases on the server the harness finds or starts.

mod common;
use common::{bw, ok, text};
use serde_json::Value;
use std::path::Path;

fn pg(dir: &Path, url: &str, args: &[&str]) -> std::process::Output {
    let mut all = vec!["--database-url", url];
    all.extend_from_slice(args);
    bw(dir, &all)
}

/// A JSON output without what depends on the run (timings, creation times, and the model bundle's size,
/// which holds its creation time).
fn stable(out: &str) -> Value {
    fn strip(v: &mut Value) {
        match v {
            Value::Object(m) => {
                m.retain(|k, _| {
                    !(k.contains("seconds") || k.ends_with("_at") || k.ends_with("bytes"))
                });
                m.values_mut().for_each(strip);
            }
            Value::Array(a) => a.iter_mut().for_each(strip),
            _ => {}
        }
    }
    let mut v: Value = serde_json::from_str(out).unwrap_or_else(|e| panic!("{e}: {out}"));
    strip(&mut v);
    v
}

fn book(dir: &Path) -> std::path::PathBuf {
    let out = dir.join("book");
    ok(bw(
        &dir.join("sim"),
        &[
            "simulate",
            "--accounts",
            "600",
            "--seed",
            "7",
            "--out",
            out.to_str().unwrap(),
        ],
    ));
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_book_on_postgres_assesses_trains_and_backtests_as_on_the_embedded_store() {
    let tmp = tempfile::tempdir().unwrap();
    let files = book(tmp.path());
    let embedded = tmp.path().join("embedded");
    let (direct, copied) = (
        bellwether_store_postgres::testing::fresh().await,
        bellwether_store_postgres::testing::fresh().await,
    );
    let pgdir = tmp.path().join("pg");

    ok(bw(&embedded, &["import", files.to_str().unwrap()]));
    ok(pg(
        &pgdir,
        &direct.url,
        &["import", files.to_str().unwrap()],
    ));
    // A resend stores nothing new.
    let again = text(&pg(
        &pgdir,
        &direct.url,
        &["import", files.to_str().unwrap()],
    ));
    assert!(
        again.contains("already imported") || again.contains("skipped"),
        "{again}"
    );
    let stats = |o: String| -> Value {
        let v: Value = serde_json::from_str(o.split_once('\n').unwrap().1).unwrap();
        v
    };
    let e_stats = stats(ok(bw(&embedded, &["stats"])));
    assert_eq!(e_stats, stats(ok(pg(&pgdir, &direct.url, &["stats"]))));
    assert!(
        e_stats["interactions"].as_u64().unwrap() > 1000,
        "{e_stats}"
    );

    // The copy, with every count checked by the command itself.
    let out = ok(bw(&embedded, &["copy", "--to", &copied.url]));
    assert!(out.contains("every count matches"), "{out}");
    assert_eq!(e_stats, stats(ok(pg(&pgdir, &copied.url, &["stats"]))));

    for args in [
        &["assess"][..],
        &["train", "--json"],
        &["backtest", "--json"],
        &["worklist", "--json", "--limit", "1000"],
    ] {
        let e = ok(bw(&embedded, args));
        for url in [&direct.url, &copied.url] {
            let p = ok(pg(&pgdir, url, args));
            if args[0] == "assess" {
                // Timings differ; the counts do not.
                let counts = |s: &str| {
                    s.lines()
                        .next()
                        .unwrap()
                        .split("; load")
                        .next()
                        .unwrap()
                        .to_string()
                };
                assert_eq!(counts(&e), counts(&p));
            } else {
                assert_eq!(stable(&e), stable(&p), "{args:?} differs on {url}");
            }
        }
    }
    // The copy refuses a database that already holds a book.
    let refused = bw(&embedded, &["copy", "--to", &copied.url]);
    assert!(!refused.status.success());
    assert!(
        text(&refused).contains("already holds a book"),
        "{}",
        text(&refused)
    );
}

#[test]
fn a_database_url_bellwether_cannot_use_is_refused_with_how_to_write_one() {
    let tmp = tempfile::tempdir().unwrap();
    let out = bw(
        tmp.path(),
        &["--database-url", "mysql://root:pw@db/bw", "stats"],
    );
    assert!(!out.status.success());
    let t = text(&out);
    assert!(
        t.contains("postgres://") && t.contains("mysql://root:***@db/bw"),
        "{t}"
    );
    assert!(!t.contains("pw@"), "the password is shown: {t}");
}
