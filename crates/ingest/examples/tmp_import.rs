use bellwether_ingest::{import_file, ImportOptions};
#[tokio::main]
async fn main() {
    let a: Vec<String> = std::env::args().collect();
    let s = bellwether_store_sqlite::SqliteStore::open(std::path::Path::new(&a[2]))
        .await
        .unwrap();
    let t = std::time::Instant::now();
    let r = import_file(&s, std::path::Path::new(&a[1]), &ImportOptions::default())
        .await
        .unwrap();
    println!(
        "{} records {} imported {:.2}s (read {:.2} write {:.2})",
        r.records,
        r.imported,
        t.elapsed().as_secs_f64(),
        r.read_seconds,
        r.write_seconds
    );
    let t = std::time::Instant::now();
    let all = bellwether_store::Store::load_series(&s, None)
        .await
        .unwrap();
    println!(
        "load_series {} accounts {:.2}s",
        all.len(),
        t.elapsed().as_secs_f64()
    );
}
