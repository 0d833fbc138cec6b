//! Prints the figures docs/simulator.md records for a difficulty version: per archetype, the median strength of
//! each signal in a simulated folder (written with raw events), measured against the ground truth.
//!
//! `cargo run --release -p bellwether-sim --example figures -- DIR`
//!
//! For accounts whose outcome falls inside the window and whose driver began at least 90 days after their first
//! day of data (unwarned and healthy accounts: 180 days before the outcome stand in for the driver's start):
//!
//! - `usage`: events per day in the 60 days before the outcome ÷ events per day before the driver (first year);
//! - `tickets`: tickets per 30 days in the 90 days before the outcome ÷ the same before the driver;
//! - `negative`: share of those late tickets with negative words;
//! - `failed_pay`: payment failures in the 180 days before the outcome;
//! - `qbr_accept`: share of QBR invitations accepted in the 120 days before the outcome (mid-market, enterprise);
//! - `nps`: mean NPS answer in the 200 days before the outcome;
//! - `mau_seat`: distinct users in the 30 days before the outcome ÷ seats at the start.

use bellwether_core::time::Day;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::Path;

fn read_csv(path: &Path) -> Vec<HashMap<String, String>> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut rows: Vec<Vec<String>> = Vec::new();
    let (mut row, mut field, mut quoted) = (Vec::new(), String::new(), false);
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                chars.next();
                field.push('"');
            }
            (true, '"') => quoted = false,
            (true, c) => field.push(c),
            (false, '"') => quoted = true,
            (false, ',') => row.push(std::mem::take(&mut field)),
            (false, '\n') => {
                row.push(std::mem::take(&mut field));
                rows.push(std::mem::take(&mut row));
            }
            (false, c) => field.push(c),
        }
    }
    let header = rows.remove(0);
    rows.into_iter()
        .map(|r| header.iter().cloned().zip(r).collect())
        .collect()
}

fn day(s: &str) -> Day {
    Day::parse(&s[..10]).expect("a date")
}

fn per_30(days: &[Day], lo: Day, hi: Day) -> f64 {
    days.iter().filter(|d| **d >= lo && **d < hi).count() as f64 * 30.0
        / (hi.0 - lo.0).max(1) as f64
}

fn median(v: &mut [f64]) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    Some(v[v.len() / 2])
}

fn main() {
    let dir = std::path::PathBuf::from(std::env::args().nth(1).expect("usage: figures DIR"));
    let truth = read_csv(&dir.join("truth/ground_truth.csv"));
    let accounts = read_csv(&dir.join("accounts.csv"));
    let mut events: HashMap<String, BTreeMap<Day, HashMap<String, u32>>> = HashMap::new();
    let text =
        std::fs::read_to_string(dir.join("events.csv")).expect("events.csv (run without --daily)");
    for line in text.lines().skip(1) {
        let f: Vec<&str> = line.split(',').collect();
        *events
            .entry(f[0].to_string())
            .or_default()
            .entry(day(f[1]))
            .or_default()
            .entry(f[3].to_string())
            .or_default() += 1;
    }
    drop(text);
    let mut tickets: HashMap<String, Vec<(Day, bool)>> = HashMap::new();
    let negative = [
        "frustrat",
        "unacceptable",
        "disappoint",
        "terrible",
        "broken",
        "worst",
        "angry",
        "poor",
    ];
    for t in read_csv(&dir.join("tickets.csv")) {
        let text = format!("{} {}", t["subject"], t["body"]).to_lowercase();
        let neg = negative.iter().any(|w| text.contains(w));
        tickets
            .entry(t["account_id"].clone())
            .or_default()
            .push((day(&t["opened_at"]), neg));
    }
    let mut failures: HashMap<String, Vec<Day>> = HashMap::new();
    for b in read_csv(&dir.join("billing_events.csv")) {
        if b["kind"] == "payment_failed" {
            failures
                .entry(b["account_id"].clone())
                .or_default()
                .push(day(&b["timestamp"]));
        }
    }
    let mut qbrs: HashMap<String, Vec<(Day, bool)>> = HashMap::new();
    let mut nps: HashMap<String, Vec<(Day, f64)>> = HashMap::new();
    for i in read_csv(&dir.join("interactions.csv")) {
        let d = day(&i["timestamp"]);
        match i["kind"].as_str() {
            "qbr_invite" => qbrs
                .entry(i["account_id"].clone())
                .or_default()
                .push((d, i["response"] == "accepted")),
            "nps" => nps
                .entry(i["account_id"].clone())
                .or_default()
                .push((d, i["score"].parse().unwrap())),
            _ => {}
        }
    }
    let mut figures: BTreeMap<String, BTreeMap<&str, Vec<f64>>> = BTreeMap::new();
    let empty = BTreeMap::new();
    for (t, a) in truth.iter().zip(&accounts) {
        if t["outcome"] == "active" || t["outcome_date"].is_empty() {
            continue;
        }
        let id = &t["account_id"];
        let first = day(&a["valid_from"]);
        let od = day(&t["outcome_date"]);
        let ts = if t["trouble_start"].is_empty() {
            od.plus(-180)
        } else {
            day(&t["trouble_start"])
        };
        if ts.0 - first.0 < 90 {
            continue;
        }
        let base_hi = ts.min(first.plus(365));
        let f = figures.entry(t["archetype"].clone()).or_default();
        let series = events.get(id).unwrap_or(&empty);
        let count = |lo: Day, hi: Day| {
            series
                .range(lo..hi)
                .map(|(_, u)| u.values().sum::<u32>() as f64)
                .sum::<f64>()
                / (hi.0 - lo.0) as f64
        };
        let (base, late) = (count(first, base_hi), count(od.plus(-60), od));
        if base > 0.0 {
            f.entry("usage").or_default().push(late / base);
        }
        let tk = tickets.get(id).cloned().unwrap_or_default();
        let days: Vec<Day> = tk.iter().map(|t| t.0).collect();
        let (tb, tl) = (
            per_30(&days, first, base_hi),
            per_30(&days, od.plus(-90), od),
        );
        if tb > 0.0 {
            f.entry("tickets").or_default().push(tl / tb);
        }
        let late: Vec<bool> = tk
            .iter()
            .filter(|t| t.0 >= od.plus(-90) && t.0 < od)
            .map(|t| t.1)
            .collect();
        if !late.is_empty() {
            f.entry("negative")
                .or_default()
                .push(late.iter().filter(|n| **n).count() as f64 / late.len() as f64);
        }
        let fails = failures.get(id).map_or(0, |v| {
            v.iter()
                .filter(|d| **d >= od.plus(-180) && **d < od)
                .count()
        });
        f.entry("failed_pay").or_default().push(fails as f64);
        let q: Vec<bool> = qbrs.get(id).map_or(vec![], |v| {
            v.iter()
                .filter(|q| q.0 >= od.plus(-120) && q.0 < od)
                .map(|q| q.1)
                .collect()
        });
        if !q.is_empty() {
            f.entry("qbr_accept")
                .or_default()
                .push(q.iter().filter(|x| **x).count() as f64 / q.len() as f64);
        }
        let n: Vec<f64> = nps.get(id).map_or(vec![], |v| {
            v.iter()
                .filter(|n| n.0 >= od.plus(-200) && n.0 < od)
                .map(|n| n.1)
                .collect()
        });
        if !n.is_empty() {
            f.entry("nps")
                .or_default()
                .push(n.iter().sum::<f64>() / n.len() as f64);
        }
        let users: HashSet<&String> = series
            .range(od.plus(-30)..od)
            .flat_map(|(_, u)| u.keys())
            .collect();
        let seats: f64 = a["seats"].parse().unwrap();
        f.entry("mau_seat")
            .or_default()
            .push(users.len() as f64 / seats);
    }
    let cols = [
        "usage",
        "tickets",
        "negative",
        "failed_pay",
        "qbr_accept",
        "nps",
        "mau_seat",
    ];
    print!("| archetype | n |");
    for c in cols {
        print!(" {c} |");
    }
    println!();
    println!("|---|---|{}", "---|".repeat(cols.len()));
    for (arch, f) in &mut figures {
        let n = f.get("failed_pay").map_or(0, |v| v.len());
        print!("| {arch} | {n} |");
        for c in cols {
            match f.get_mut(c).and_then(|v| median(v)) {
                Some(m) => print!(" {m:.2} |"),
                None => print!(" – |"),
            }
        }
        println!();
    }
}
