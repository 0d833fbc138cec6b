//! The schema: versioned SQL migrations embedded in the binary, applied in order at open (each in its own
//! transaction, recorded in `schema_migrations`), and the back-fills some of them need.

use super::*;

/// Versioned migrations, applied in order; a published one is never edited.
pub(crate) const MIGRATIONS: &[(i64, &str, &str)] = &[
    (1, "init", include_str!("../migrations/0001_init.sql")),
    (
        2,
        "signal_lifecycle",
        include_str!("../migrations/0002_signal_lifecycle.sql"),
    ),
    (
        3,
        "peer_stats",
        include_str!("../migrations/0003_peer_stats.sql"),
    ),
    (4, "models", include_str!("../migrations/0004_models.sql")),
    (
        5,
        "facts_packed",
        include_str!("../migrations/0005_facts_packed.sql"),
    ),
    (6, "server", include_str!("../migrations/0006_server.sql")),
    (7, "inbox", include_str!("../migrations/0007_inbox.sql")),
    (
        8,
        "current_day",
        include_str!("../migrations/0008_current_day.sql"),
    ),
    (
        9,
        "common_features",
        include_str!("../migrations/0009_common_features.sql"),
    ),
    (
        10,
        "crm_users",
        include_str!("../migrations/0010_crm_users.sql"),
    ),
    (
        11,
        "subscription_terms",
        include_str!("../migrations/0011_subscription_terms.sql"),
    ),
    (
        12,
        "predictions_by_account",
        include_str!("../migrations/0012_predictions_by_account.sql"),
    ),
    (
        13,
        "job_runs",
        include_str!("../migrations/0013_job_runs.sql"),
    ),
    (
        14,
        "reassess_due",
        include_str!("../migrations/0014_reassess_due.sql"),
    ),
    (15, "outbox", include_str!("../migrations/0015_outbox.sql")),
    (
        16,
        "assessment_impact",
        include_str!("../migrations/0016_assessment_impact.sql"),
    ),
    (17, "people", include_str!("../migrations/0017_people.sql")),
    (
        18,
        "alert_counts",
        include_str!("../migrations/0018_alert_counts.sql"),
    ),
    (
        19,
        "snooze_reason",
        include_str!("../migrations/0019_snooze_reason.sql"),
    ),
    (
        20,
        "signal_alerted",
        include_str!("../migrations/0020_signal_alerted.sql"),
    ),
];

pub(crate) fn migrate(conn: &mut Connection) -> Result<()> {
    conn.execute_batch("CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)")
        .map_err(db_err)?;
    let applied: Vec<i64> = {
        let mut st = conn
            .prepare("SELECT version FROM schema_migrations")
            .map_err(db_err)?;
        let rows = st.query_map([], |r| r.get(0)).map_err(db_err)?;
        rows.collect::<rusqlite::Result<_>>().map_err(db_err)?
    };
    if let Some(max) = applied.iter().max() {
        if *max > MIGRATIONS.last().map_or(0, |m| m.0) {
            return Err(StoreError::Unavailable(format!("the database has schema version {max}, newer than this Bellwether understands; upgrade Bellwether")));
        }
    }
    for (version, name, sql) in MIGRATIONS {
        if applied.contains(version) {
            continue;
        }
        let tx = conn.transaction().map_err(db_err)?;
        tx.execute_batch(sql).map_err(|e| {
            StoreError::Unavailable(format!("migration {version} ({name}) failed: {e}"))
        })?;
        tx.execute(
            "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?1, ?2, ?3)",
            params![version, name, Timestamp::now().0],
        )
        .map_err(db_err)?;
        // The catalogue created by migration 2 is filled, first and last days, once it has both columns.
        if *version == 8 {
            backfill_catalog(&tx)?;
        }
        if *version == 5 {
            repack_dirty(&tx)?;
        }
        tx.commit().map_err(db_err)?;
        tracing::info!(version, name, "applied migration");
    }
    Ok(())
}

/// Fills the metric catalogue (first and last day of every metric) from the stored series, for databases
/// written before it held them.
pub(crate) fn backfill_catalog(tx: &Transaction) -> Result<()> {
    let mut span: CatalogSpans = Default::default();
    {
        let mut st = tx
            .prepare("SELECT account_id, packed FROM series")
            .map_err(db_err)?;
        let mut rows = st.query([]).map_err(db_err)?;
        while let Some(r) = rows.next().map_err(db_err)? {
            let (_, s) = decode_series(
                r.get(0).map_err(db_err)?,
                r.get_ref(1)
                    .map_err(db_err)?
                    .as_blob()
                    .map_err(|e| StoreError::Corrupt(e.to_string()))?,
            )?;
            for (m, ser) in &s.metrics {
                if let (Some(first), Some(last)) = (ser.first_day(), ser.points.last()) {
                    widen(&mut span, m, first.0, last.0 .0);
                }
            }
        }
    }
    // The catalogue may hold metrics written by a version that kept no last day; this fills them too.
    tx.execute("DELETE FROM catalog", []).map_err(db_err)?;
    upsert_catalog(tx, span.iter().map(|(m, (f, l))| (m.as_str(), *f, *l)))
}
