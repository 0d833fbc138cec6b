//! The store conformance suite (`bellwether-store-conformance`) on PostgreSQL, each behaviour on a fresh
//! database of the server the test harness finds or starts (see `bellwether_store_postgres::testing`).

bellwether_store_conformance::conformance!(async {
    let db = bellwether_store_postgres::testing::fresh().await;
    let store = db.store().await;
    (store, db)
});
