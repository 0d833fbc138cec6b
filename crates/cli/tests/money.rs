//! A book in two currencies through the binary: without a reporting currency and rates, `assess` and
//! `worklist` refuse to add them up and say what to configure; with them, accounts rank in the reporting
//! currency.

mod common;

use common::{bw, text};

#[test]
fn a_two_currency_book_is_refused_without_rates_and_ranked_in_the_reporting_currency_with_them() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let file = dir.path().join("accounts.csv");
    std::fs::write(
        &file,
        "account_id,name,owner,arr,currency,valid_from\n\
         us-1,Acme,dana@example.com,100000,USD,2026-01-01T00:00:00Z\n\
         eu-1,Europa,dana@example.com,100000,EUR,2026-01-01T00:00:00Z\n",
    )
    .unwrap();
    let imp = bw(&data, &["import", "accounts", file.to_str().unwrap()]);
    assert!(imp.status.success(), "{}", text(&imp));

    for args in [&["assess"][..], &["worklist"][..]] {
        let out = bw(&data, args);
        let t = text(&out);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {t}");
        assert!(t.contains("error[mixed_currencies]"), "{args:?}: {t}");
        assert!(
            t.contains("EUR, USD")
                && t.contains("[money] reporting_currency")
                && t.contains("[money.rates]"),
            "{args:?}: {t}"
        );
    }

    std::fs::write(
        data.join("bellwether.toml"),
        "[money]\nreporting_currency = \"USD\"\n[money.rates]\nEUR = 1.08\n",
    )
    .unwrap();
    let out = bw(&data, &["assess"]);
    let t = text(&out);
    assert!(out.status.success(), "{t}");
    // €100,000 at 1.08 is $108,000 of the $208,000 book.
    assert!(t.contains("worth $208k ARR"), "{t}");
    let out = bw(&data, &["worklist", "--json"]);
    assert!(out.status.success(), "{}", text(&out));
    let items: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(items[0]["account_id"], "eu-1", "{items}");
    assert_eq!(items[0]["arr_minor"], 10_800_000, "{items}");
    assert_eq!(items[1]["account_id"], "us-1", "{items}");
    assert_eq!(items[1]["arr_minor"], 10_000_000, "{items}");
    let ratio = items[0]["priority"].as_f64().unwrap() / items[1]["priority"].as_f64().unwrap();
    assert!((ratio - 1.08).abs() < 1e-9, "{items}");
    // The account's own line keeps its currency.
    assert!(
        items[0]["reason"].as_str().unwrap().contains("€100k ARR"),
        "{items}"
    );
}
