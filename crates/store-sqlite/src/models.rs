//! The model registry and the stored predictions: versions with their bundles and one active flag, and each
//! day's per-account predictions with their drivers.

use crate::db_err;
use bellwether_core::model::Prediction;
use bellwether_core::{AccountId, Day, Timestamp};
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

pub(crate) fn save_predictions(
    tx: &Transaction,
    rows: &[Prediction],
    rankings: &[Ranking],
) -> Result<()> {
    let mut ins = tx
        .prepare_cached(
            "INSERT OR REPLACE INTO predictions (account_id, as_of, target, probability, base_probability, model_version, drivers) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        )
        .map_err(db_err)?;
    let mut upd = tx
        .prepare_cached(
            "UPDATE assessments SET churn_probability = ?3, priority = ?4 WHERE account_id = ?1 AND as_of = ?2",
        )
        .map_err(db_err)?;
    for p in rows {
        let drivers = serde_json::to_string(&p.drivers).map_err(bad)?;
        ins.execute(params![
            p.account_id.as_str(),
            p.as_of.0,
            p.target,
            p.probability,
            p.base_probability,
            p.model_version,
            drivers
        ])
        .map_err(db_err)?;
    }
    for r in rankings {
        upd.execute(params![
            r.account_id.as_str(),
            r.as_of.0,
            r.churn_probability,
            r.priority
        ])
        .map_err(db_err)?;
    }
    Ok(())
}

pub(crate) fn predictions(
    c: &Connection,
    account: Option<&AccountId>,
    as_of: Option<Day>,
) -> Result<Vec<Prediction>> {
    let day: Option<i32> = match as_of {
        Some(d) => Some(d.0),
        None => c
            .query_row(
                "SELECT max(as_of) FROM predictions WHERE ?1 IS NULL OR account_id = ?1",
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
            "SELECT account_id, as_of, target, probability, base_probability, model_version, drivers FROM predictions \
             WHERE as_of = ?1 AND (?2 IS NULL OR account_id = ?2) ORDER BY account_id, target",
        )
        .map_err(db_err)?;
    let rows = st
        .query_map(params![day, account.map(|a| a.as_str())], |r| {
            let drivers: String = r.get(6)?;
            Ok(Prediction {
                account_id: AccountId::from(r.get::<_, String>(0)?.as_str()),
                as_of: Day(r.get(1)?),
                target: r.get(2)?,
                probability: r.get(3)?,
                base_probability: r.get(4)?,
                model_version: r.get(5)?,
                drivers: serde_json::from_str(&drivers).unwrap_or_default(),
            })
        })
        .map_err(db_err)?;
    rows.collect::<rusqlite::Result<_>>().map_err(db_err)
}
