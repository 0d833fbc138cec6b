//! The store conformance suite (`bellwether-store-conformance`) on the embedded store, each behaviour on a
//! fresh database in a temporary directory.

use bellwether_store_sqlite::SqliteStore;

bellwether_store_conformance::conformance!(async {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("bellwether.db"))
        .await
        .unwrap();
    (store, dir)
});
