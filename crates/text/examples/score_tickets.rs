//! Sentiment throughput on a real tickets file: scores subject and body of every row and prints tickets per
//! second and the mean score.
//!
//! usage: cargo run --release -p bellwether-text --example score_tickets -- tickets.csv

use std::time::Instant;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let path = std::env::args().nth(1).ok_or("a tickets.csv path")?;
    let mut rdr = csv::Reader::from_path(&path)?;
    let h = rdr.headers()?.clone();
    let col = |n: &str| {
        h.iter()
            .position(|x| x == n)
            .ok_or(format!("no column {n}"))
    };
    let (subject, body) = (col("subject")?, col("body")?);
    let texts: Vec<String> = rdr
        .records()
        .filter_map(|r| r.ok())
        .map(|r| format!("{} {}", &r[subject], &r[body]))
        .collect();
    let t = Instant::now();
    let total: f64 = texts
        .iter()
        .map(|x| bellwether_text::sentiment::score(x))
        .sum();
    let s = t.elapsed().as_secs_f64();
    println!(
        "{} tickets in {s:.2}s = {:.0} tickets/s on one core; mean score {:.3}",
        texts.len(),
        texts.len() as f64 / s,
        total / texts.len() as f64
    );
    Ok(())
}
