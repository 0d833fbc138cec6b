//! The model registry and the stored predictions: versions with their bundles and one active flag, and each
//! day's per-account predictions with their drivers.

use crate::db_err;
use bellwether_core::model::Prediction;
use bellwether_core::{AccountId, Day, Timestamp};
use bellwether_store::codec::docs;
use bellwether_store::{ModelRecord, Ranking, Result, StoreError};
use rusqlite::{params, Connection, OptionalExtension, Row, Transaction};

fn bad(e: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(format!("models: {e}"))
}

pub(crate) fn save_model(tx: &Transaction, m: &ModelRecord, activate: bool) -> Result<i64> {
    let features = serde_json::to_string(&m.features).map_err(bad)?;
    if activate {
        tx.execute("UPDATE models SET active = 0 WHERE active = 1", [])
            .map_err(db_err)?;
    }
    tx.execute(
        "INSERT INTO models (created_at, trained_from, trained_to, engine, features, params, metrics, active, bundle) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        params![
            m.created_at.0,
            m.trained_from.0,
            m.trained_to.0,
            m.engine,
            features,
            m.params,
            m.metrics,
            activate,
            m.bundle
        ],
    )
    .map_err(db_err)?;
    Ok(tx.last_insert_rowid())
}

fn record(r: &Row, with_bundle: bool) -> rusqlite::Result<ModelRecord> {
    let features: String = r.get(5)?;
    Ok(ModelRecord {
        version: r.get(0)?,
        created_at: Timestamp(r.get(1)?),
        trained_from: Day(r.get(2)?),
        trained_to: Day(r.get(3)?),
        engine: r.get(4)?,
        features: serde_json::from_str(&features).unwrap_or_default(),
        params: r.get(6)?,
        metrics: r.get(7)?,
        active: r.get(8)?,
        bundle: if with_bundle { r.get(9)? } else { Vec::new() },
    })
}

const COLUMNS: &str =
    "version, created_at, trained_from, trained_to, engine, features, params, metrics, active";

pub(crate) fn models(c: &Connection) -> Result<Vec<ModelRecord>> {
    let mut st = c
        .prepare_cached(&format!(
            "SELECT {COLUMNS} FROM models ORDER BY version DESC"
        ))
        .map_err(db_err)?;
    let rows = st.query_map([], |r| record(r, false)).map_err(db_err)?;
    rows.collect::<rusqlite::Result<_>>().map_err(db_err)
}

pub(crate) fn model(c: &Connection, version: Option<i64>) -> Result<Option<ModelRecord>> {
    let sql = format!(
        "SELECT {COLUMNS}, bundle FROM models WHERE {} ORDER BY version DESC LIMIT 1",
        if version.is_some() {
            "version = ?1"
        } else {
            "active = 1 AND ?1 IS NULL"
        }
    );
    c.query_row(&sql, [version], |r| record(r, true))
        .optional()
        .map_err(db_err)
}

pub(crate) fn activate(tx: &Transaction, version: i64) -> Result<()> {
    let exists: Option<i64> = tx
        .query_row(
            "SELECT version FROM models WHERE version = ?1",
            [version],
            |r| r.get(0),
        )
        .optional()
        .map_err(db_err)?;
    if exists.is_none() {
        return Err(StoreError::NotFound(format!(
            "model version {version} (see `bellwether models`)"
        )));
    }
    tx.execute("UPDATE models SET active = (version = ?1)", [version])
        .map_err(db_err)?;
    Ok(())
}

/// A day's predictions of one account, encoded for its row: `(account, day, document)`.
pub(crate) type PackedRow = (String, i32, rusqlite::types::Value);

/// Encodes predictions into one row per account and day (see [`docs::prediction_rows`]).
pub(crate) fn pack_predictions(rows: &[Prediction]) -> Result<Vec<PackedRow>> {
    Ok(docs::prediction_rows(rows)?
        .into_iter()
        .map(|(id, day, doc)| (id, day, crate::rows::doc_value(doc)))
        .collect())
}

/// Stores encoded predictions (a row replaces that account's predictions for the day), and writes the
/// rankings onto the day's assessments.
pub(crate) fn save_packed(
    tx: &Transaction,
    rows: &[PackedRow],
    rankings: &[Ranking],
) -> Result<()> {
    let mut ins = tx
        .prepare_cached(
            "INSERT OR REPLACE INTO account_predictions (account_id, as_of, predictions) VALUES (?1, ?2, ?3)",
        )
        .map_err(db_err)?;
    for (id, day, doc) in rows {
        ins.execute(params![id, day, doc]).map_err(db_err)?;
    }
    if rankings.is_empty() {
        return Ok(());
    }
    let mut upd = tx
        .prepare_cached(
            "UPDATE assessments SET churn_probability = ?3, priority = ?4, impact = ?5, reason = ?6 WHERE account_id = ?1 AND as_of = ?2",
        )
        .map_err(db_err)?;
    for r in rankings {
        upd.execute(params![
            r.account_id.as_str(),
            r.as_of.0,
            r.churn_probability,
            r.priority,
            serde_json::to_string(&r.impact).map_err(|e| StoreError::Corrupt(e.to_string()))?,
            r.reason
        ])
        .map_err(db_err)?;
    }
    Ok(())
}

/// The predictions of one account (or every account) on one day (default: the latest day scored), by account
/// and target.
pub(crate) fn predictions(
    c: &Connection,
    account: Option<&AccountId>,
    as_of: Option<Day>,
) -> Result<Vec<Prediction>> {
    let day: Option<i32> = match as_of {
        Some(d) => Some(d.0),
        None => c
            .query_row(
                "SELECT max(as_of) FROM account_predictions WHERE ?1 IS NULL OR account_id = ?1",
                [account.map(|a| a.as_str())],
                |r| r.get(0),
            )
            .map_err(db_err)?,
    };
    let Some(day) = day else {
        return Ok(Vec::new());
    };
    let mut st = c
        .prepare_cached(
            "SELECT account_id, predictions FROM account_predictions \
             WHERE as_of = ?1 AND (?2 IS NULL OR account_id = ?2) ORDER BY account_id",
        )
        .map_err(db_err)?;
    let mut rows = st
        .query(params![day, account.map(|a| a.as_str())])
        .map_err(db_err)?;
    let mut out = Vec::new();
    while let Some(r) = rows.next().map_err(db_err)? {
        let id = AccountId::from(r.get_ref(0).map_err(db_err)?.as_str().map_err(bad)?);
        // A damaged row costs that account's predictions of the day, not everyone's.
        let stored: Vec<docs::StoredPrediction> = match crate::rows::unpack_json(r, 1) {
            Ok(s) => s,
            Err(m) => {
                tracing::warn!(account = %id, day, "stored predictions are damaged and were skipped: {m}");
                continue;
            }
        };
        out.extend(docs::predictions_of(&id, Day(day), stored));
    }
    Ok(out)
}
