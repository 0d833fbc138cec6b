//! The schema: versioned SQL migrations embedded in the binary, applied in order at open under an advisory
//! lock, so processes that start together migrate once; each is recorded in `schema_migrations`.

use crate::pool::db_err;
use bellwether_core::Timestamp;
use bellwether_store::{Result, StoreError};

/// Versioned migrations, applied in order; a published one is never edited.
pub(crate) const MIGRATIONS: &[(i64, &str, &str)] = &[
    (1, "init", include_str!("../migrations/0001_init.sql")),
    (
        2,
        "packs_uncompressed",
        include_str!("../migrations/0002_packs_uncompressed.sql"),
    ),
    (
        3,
        "job_runs",
        include_str!("../migrations/0003_job_runs.sql"),
    ),
    (
        4,
        "reassess_due",
        include_str!("../migrations/0004_reassess_due.sql"),
    ),
    (5, "outbox", include_str!("../migrations/0005_outbox.sql")),
    (
        6,
        "assessment_impact",
        include_str!("../migrations/0006_assessment_impact.sql"),
    ),
    (7, "people", include_str!("../migrations/0007_people.sql")),
    (
        8,
        "alert_counts",
        include_str!("../migrations/0008_alert_counts.sql"),
    ),
    (
        9,
        "snooze_reason",
        include_str!("../migrations/0009_snooze_reason.sql"),
    ),
    (
        10,
        "signal_alerted",
        include_str!("../migrations/0010_signal_alerted.sql"),
    ),
];

/// The advisory lock migrations take (any constant every Bellwether process agrees on).
const MIGRATION_LOCK: i64 = 0x6265_6c6c_7765_7468; // "bellweth"

/// Applies pending migrations; returns the versions applied.
pub(crate) async fn migrate(client: &mut tokio_postgres::Client) -> Result<Vec<i64>> {
    let tx = client.transaction().await.map_err(db_err)?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
        .await
        .map_err(db_err)?;
    tx.batch_execute("CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)")
        .await
        .map_err(db_err)?;
    let applied: Vec<i64> = tx
        .query("SELECT version FROM schema_migrations", &[])
        .await
        .map_err(db_err)?
        .iter()
        .map(|r| r.get(0))
        .collect();
    let newest = MIGRATIONS.last().map_or(0, |m| m.0);
    if let Some(max) = applied.iter().max().filter(|m| **m > newest) {
        return Err(StoreError::Unavailable(format!(
            "the database has schema version {max}, newer than this Bellwether understands ({newest}); upgrade Bellwether"
        )));
    }
    let mut done = Vec::new();
    for (version, name, sql) in MIGRATIONS {
        if applied.contains(version) {
            continue;
        }
        tx.batch_execute(sql).await.map_err(|e| {
            StoreError::Unavailable(format!(
                "migration {version} ({name}) failed: {}",
                db_err(e)
            ))
        })?;
        tx.execute(
            "INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)",
            &[version, name, &Timestamp::now().0],
        )
        .await
        .map_err(db_err)?;
        tracing::info!(version, name, "applied migration");
        done.push(*version);
    }
    tx.commit().await.map_err(db_err)?;
    Ok(done)
}
