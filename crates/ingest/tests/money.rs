//! Amounts in files are read in each currency's own minor unit, and impossible ones are named and skipped.

use bellwether_core::{AccountId, Currency, Day};
use bellwether_ingest::{import_file, ImportOptions};
use bellwether_store::Store;
use bellwether_store_sqlite::SqliteStore;

#[tokio::test]
async fn yen_dinars_and_dollars_are_stored_by_their_exponent_and_impossible_values_refused() {
    let dir = tempfile::tempdir().unwrap();
    let s = SqliteStore::open(&dir.path().join("bellwether.db"))
        .await
        .unwrap();
    let write = |name: &str, text: &str| {
        let p = dir.path().join(name);
        std::fs::write(&p, text).unwrap();
        p
    };
    let accounts = write(
        "accounts.csv",
        "account_id,arr,currency,valid_from\n\
         jp,600000,JPY,2026-01-01T00:00:00Z\n\
         kw,1200.125,KWD,2026-01-01T00:00:00Z\n\
         us,1200.125,USD,2026-01-01T00:00:00Z\n\
         neg,-5,USD,2026-01-01T00:00:00Z\n\
         huge,1e300,USD,2026-01-01T00:00:00Z\n",
    );
    let r = import_file(&s, &accounts, &ImportOptions::default())
        .await
        .unwrap();
    assert_eq!((r.imported, r.rejected_count), (3, 2));
    let lines = r.rejection_lines();
    assert!(
        lines[0].contains(":5: field 'arr'") && lines[0].contains("negative"),
        "{lines:?}"
    );
    assert!(
        lines[1].contains(":6: field 'arr'") && lines[1].contains("1e300"),
        "{lines:?}"
    );

    let subs = write(
        "subscriptions.csv",
        "account_id,plan,start_date,mrr,quantity,currency\n\
         jp2,Team,2026-01-01,50000,1,JPY\n\
         bad,Team,2026-01-01,100,-3,USD\n\
         bad2,Team,2026-01-01,-100,1,USD\n",
    );
    let r = import_file(&s, &subs, &ImportOptions::default())
        .await
        .unwrap();
    assert_eq!((r.imported, r.rejected_count), (1, 2));
    let lines = r.rejection_lines();
    assert!(lines[0].contains("field 'quantity'"), "{lines:?}");
    assert!(lines[1].contains("field 'mrr'"), "{lines:?}");

    let book = s.load_book(None).await.unwrap();
    let day = Day::ymd(2026, 2, 1);
    let arr = |id: &str| {
        let id = AccountId(id.into());
        book.accounts[&id].view(&id, day).arr.unwrap()
    };
    let jpy = Currency::parse("JPY").unwrap();
    assert_eq!((arr("jp").minor, arr("jp").currency), (600_000, jpy));
    assert_eq!(arr("jp").to_string(), "600,000 JPY");
    assert_eq!(arr("kw").minor, 1_200_125);
    assert_eq!(arr("kw").to_string(), "1,200.125 KWD");
    assert_eq!(arr("us").minor, 120_013);
    let sub = &book.accounts[&AccountId("jp2".into())].subscriptions[0];
    assert_eq!((sub.mrr.minor, sub.mrr.currency), (50_000, jpy));
}
