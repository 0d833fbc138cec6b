//! Benchmark baseline: a bare SQLite bulk insert of an events CSV, row for row, into one table — what a team
//! would do without Bellwether's roll-ups. Same durability settings as the store (WAL, synchronous = FULL),
//! one prepared statement in one transaction.
//!
//! usage: cargo run --release --example bare_sqlite_insert -- EVENTS_CSV DB_PATH

use rusqlite::{params, Connection};
use std::time::Instant;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let (csv_path, db) = (
        args.get(1).ok_or("events CSV path")?,
        args.get(2).ok_or("database path")?,
    );
    let _ = std::fs::remove_file(db);
    let t = Instant::now();
    let mut conn = Connection::open(db)?;
    conn.execute_batch("PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL;")?;
    conn.execute_batch("CREATE TABLE events (account_id TEXT NOT NULL, ts TEXT NOT NULL, event TEXT NOT NULL, user_id TEXT, value REAL)")?;
    let mut rdr = csv::Reader::from_path(csv_path)?;
    let tx = conn.transaction()?;
    let mut n = 0u64;
    {
        let mut st = tx.prepare("INSERT INTO events (account_id, ts, event, user_id, value) VALUES (?1, ?2, ?3, ?4, ?5)")?;
        let mut rec = csv::StringRecord::new();
        while rdr.read_record(&mut rec)? {
            st.execute(params![
                &rec[0],
                &rec[1],
                &rec[2],
                rec.get(3),
                rec.get(4).and_then(|v| v.parse::<f64>().ok())
            ])?;
            n += 1;
        }
    }
    tx.commit()?;
    let s = t.elapsed().as_secs_f64();
    println!(
        "bare_sqlite_insert rows={n} seconds={s:.2} rows_per_s={:.0}",
        n as f64 / s
    );
    Ok(())
}
