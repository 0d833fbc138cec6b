//! `bellwether migrate` (bring the store's schema up to date, as every command also does when it opens it)
//! and `bellwether copy --to postgres://…` (move the embedded store to PostgreSQL, then check that every
//! table's row count matches).

use crate::config::Settings;
use crate::error::CliError;
use crate::store::{backend, pg_settings, AnyStore, Backend};
use bellwether_core::Code;
use bellwether_store::codec::portable::TABLES;
use bellwether_store_postgres::PgStore;
use clap::Args;
use std::process::ExitCode;
use std::time::Instant;

/// Arguments of `bellwether copy`.
#[derive(Args, Debug)]
pub struct CopyArgs {
    /// The PostgreSQL database to copy into (it must hold no book yet).
    #[arg(long, value_name = "URL")]
    pub to: String,
}

/// `bellwether migrate`.
pub async fn migrate(settings: &Settings) -> Result<ExitCode, CliError> {
    match super::open_store(settings).await? {
        AnyStore::Postgres(pg) => {
            // Opening applied what was pending; this says where the schema stands.
            let applied = pg.migrate().await?;
            println!(
                "{}: schema version {}{}",
                pg.url(),
                pg.schema_version().await?,
                if applied.is_empty() {
                    " (up to date)"
                } else {
                    ""
                }
            );
        }
        s => println!("{}: schema up to date", s.location()),
    }
    Ok(ExitCode::SUCCESS)
}

/// `bellwether copy --to URL`.
pub async fn copy(settings: &Settings, a: CopyArgs) -> Result<ExitCode, CliError> {
    let url = match backend(Some(&a.to))? {
        Backend::Postgres(u) => u,
        Backend::Embedded => {
            return Err(CliError::new(
                Code::InvalidArgument,
                "--to needs a postgres:// URL",
            ));
        }
    };
    let AnyStore::Sqlite(from) = super::open_store(settings).await? else {
        return Err(CliError::new(
            Code::InvalidArgument,
            "copy moves the embedded store to PostgreSQL; this command's store is already PostgreSQL \
             (unset --database-url / BELLWETHER_DATABASE_URL / [store] url to copy from the data directory)",
        ));
    };
    // No server may apply the inbox while its tables are read (imports: stop them too).
    let _lock = crate::lock::lock_for_serving(&settings.data_dir)?;
    let to = PgStore::open(&pg_settings(settings, &url)).await?;
    if !to.is_empty().await? {
        return Err(CliError::new(
            Code::InvalidArgument,
            format!(
                "{} already holds a book; copy into an empty database (createdb a new one)",
                to.url()
            ),
        ));
    }
    eprintln!(
        "copying {} into {} (stop `bellwether serve` on this data directory first)",
        from.path().display(),
        to.url()
    );
    let started = Instant::now();
    let mut mismatched = Vec::new();
    for table in TABLES {
        let t = Instant::now();
        let (tx, mut rx) = tokio::sync::mpsc::channel(2);
        let reading = {
            let from = from.clone();
            let table = *table;
            tokio::spawn(async move {
                from.export(table, move |page| {
                    tx.blocking_send(page).map_err(|_| {
                        bellwether_store::StoreError::Unavailable("the copy stopped".into())
                    })
                })
                .await
            })
        };
        while let Some(page) = rx.recv().await {
            to.import(*table, page).await?;
        }
        let read = reading.await.map_err(|e| {
            CliError::new(
                Code::Internal,
                format!("reading {} failed: {e}", table.name),
            )
        })??;
        let (source, target) = (from.count(*table).await?, to.count(*table).await?);
        if source != target || read != source {
            mismatched.push(format!(
                "{}: {source} rows here, {target} there",
                table.name
            ));
        }
        eprintln!(
            "  {:<20} {:>10} rows  {:.1} s",
            table.name,
            target,
            t.elapsed().as_secs_f64()
        );
    }
    to.finish_import().await?;
    if !mismatched.is_empty() {
        return Err(CliError::new(
            Code::Internal,
            format!(
                "the copy's counts differ, so it is not complete: {}",
                mismatched.join("; ")
            ),
        ));
    }
    println!(
        "copied {} tables in {:.1} s; every count matches. Use it with --database-url or [store] url = \"{}\"",
        TABLES.len(),
        started.elapsed().as_secs_f64(),
        to.url()
    );
    Ok(ExitCode::SUCCESS)
}
