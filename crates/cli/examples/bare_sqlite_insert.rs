//! Benchmark baseline: a bare SQLite bulk insert of an events CSV, row for row, into one table — what a team
//! would do without Bellwether's roll-ups. Same durability settings as the store (WAL, synchronous = FULL),
//! multi-row inserts in one transaction.
//!
//! usage: cargo run --release --example bare_sqlite_insert -- EVENTS_CSV DB_PATH

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqliteSynchronous};
use sqlx::{ConnectOptions, QueryBuilder, Sqlite};
use std::str::FromStr;
use std::time::Instant;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let (csv_path, db) = (args.get(1).ok_or("events CSV path")?, args.get(2).ok_or("database path")?);
    let _ = std::fs::remove_file(db);
    let t = Instant::now();
    let mut conn = SqliteConnectOptions::from_str(&format!("sqlite://{db}"))?
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Full)
        .connect()
        .await?;
    sqlx::raw_sql("CREATE TABLE events (account_id TEXT NOT NULL, ts TEXT NOT NULL, event TEXT NOT NULL, user_id TEXT, value REAL)").execute(&mut conn).await?;
    let mut rdr = csv::Reader::from_path(csv_path)?;
    let mut tx = sqlx::Connection::begin(&mut conn).await?;
    let mut batch: Vec<csv::StringRecord> = Vec::with_capacity(6_000);
    let mut n = 0u64;
    let mut rec = csv::StringRecord::new();
    loop {
        let more = rdr.read_record(&mut rec)?;
        if more {
            batch.push(rec.clone());
        }
        if batch.len() == 6_000 || (!more && !batch.is_empty()) {
            let mut qb: QueryBuilder<Sqlite> = QueryBuilder::new("INSERT INTO events (account_id, ts, event, user_id, value) ");
            qb.push_values(&batch, |mut b, r| {
                b.push_bind(&r[0]).push_bind(&r[1]).push_bind(&r[2]).push_bind(r.get(3)).push_bind(r.get(4).and_then(|v| v.parse::<f64>().ok()));
            });
            qb.build().execute(&mut *tx).await?;
            n += batch.len() as u64;
            batch.clear();
        }
        if !more {
            break;
        }
    }
    tx.commit().await?;
    let s = t.elapsed().as_secs_f64();
    println!("bare_sqlite_insert rows={n} seconds={s:.2} rows_per_s={:.0}", n as f64 / s);
    Ok(())
}
