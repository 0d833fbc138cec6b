//! Helpers shared by the simulator's integration tests: reading the CSV files of a book back, the columns
//! docs/formats.md documents, and scratch folders.

#![allow(dead_code)]

use bellwether_core::time::Day;
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

/// Reads a CSV file per RFC 4180 (quoted fields may hold commas, quotes and line breaks).
pub fn read_csv(path: &Path) -> (Vec<String>, Vec<Vec<String>>) {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut rows: Vec<Vec<String>> = Vec::new();
    let mut row: Vec<String> = Vec::new();
    let mut field = String::new();
    let mut quoted = false;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if quoted {
            match c {
                '"' if chars.peek() == Some(&'"') => {
                    chars.next();
                    field.push('"');
                }
                '"' => quoted = false,
                _ => field.push(c),
            }
        } else {
            match c {
                '"' => quoted = true,
                ',' => row.push(std::mem::take(&mut field)),
                '\n' => {
                    row.push(std::mem::take(&mut field));
                    rows.push(std::mem::take(&mut row));
                }
                _ => field.push(c),
            }
        }
    }
    assert!(
        !quoted && field.is_empty() && row.is_empty(),
        "{} does not end with a complete line",
        path.display()
    );
    let header = rows.remove(0);
    for (i, r) in rows.iter().enumerate() {
        assert_eq!(
            r.len(),
            header.len(),
            "{} line {}: {r:?}",
            path.display(),
            i + 2
        );
    }
    (header, rows)
}

/// A table as maps from column name to value.
pub fn table(path: &Path) -> Vec<HashMap<String, String>> {
    let (h, rows) = read_csv(path);
    rows.into_iter()
        .map(|r| h.iter().cloned().zip(r).collect())
        .collect()
}

pub fn day(s: &str) -> Day {
    Day::parse(s).unwrap_or_else(|e| panic!("{e}"))
}

pub fn tmp(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join("bellwether-sim")
        .join(name)
}

/// Checks that the books in `same` and `again` (one seed) are byte-identical file by file and that every file
/// of `other` (another seed) differs; returns the files of `same`.
pub fn same_bytes_and_seeded(same: &Path, again: &Path, other: &Path) -> BTreeMap<String, Vec<u8>> {
    let (fa, fb, fc) = (files_of(same), files_of(again), files_of(other));
    assert_eq!(fa.keys().collect::<Vec<_>>(), fb.keys().collect::<Vec<_>>());
    for (name, bytes) in &fa {
        assert!(
            bytes == &fb[name],
            "{name} differs between two runs with the same seed"
        );
        assert!(bytes != &fc[name], "{name} is the same for another seed");
    }
    fa
}

pub fn files_of(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    for sub in ["", "truth"] {
        for e in std::fs::read_dir(dir.join(sub)).unwrap() {
            let e = e.unwrap();
            if e.file_type().unwrap().is_file() {
                out.insert(
                    format!("{sub}/{}", e.file_name().to_string_lossy()),
                    std::fs::read(e.path()).unwrap(),
                );
            }
        }
    }
    out
}

/// Column names per kind from docs/formats.md: (all documented columns, required ones).
pub fn documented_columns() -> HashMap<String, (Vec<String>, Vec<String>)> {
    let doc = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/formats.md"),
    )
    .unwrap();
    let mut out: HashMap<String, (Vec<String>, Vec<String>)> = HashMap::new();
    let mut kind = String::new();
    for line in doc.lines() {
        if let Some(k) = line.strip_prefix("## ") {
            kind = k.trim().to_string();
            continue;
        }
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        if cells.len() < 4 || !cells[1].starts_with('`') {
            continue;
        }
        let entry = out.entry(kind.clone()).or_default();
        for name in cells[1].split(',') {
            let name = name.trim().trim_matches('`').to_string();
            if cells[2] == "yes" {
                entry.1.push(name.clone());
            }
            entry.0.push(name);
        }
    }
    out
}

/// Events per day for each account.
pub fn daily_events(dir: &Path) -> HashMap<String, BTreeMap<Day, u32>> {
    let text = std::fs::read_to_string(dir.join("events.csv")).unwrap();
    let mut out: HashMap<String, BTreeMap<Day, u32>> = HashMap::new();
    for line in text.lines().skip(1) {
        let mut it = line.split(',');
        let (a, ts) = (it.next().unwrap(), it.next().unwrap());
        *out.entry(a.to_string())
            .or_default()
            .entry(day(&ts[..10]))
            .or_default() += 1;
    }
    out
}

pub fn rate(series: &BTreeMap<Day, u32>, lo: Day, hi: Day) -> f64 {
    series.range(lo..hi).map(|(_, n)| *n as f64).sum::<f64>() / (hi.0 - lo.0).max(1) as f64
}

/// FNV-1a (64 bits) over a book's file names and bytes, in name order: a fingerprint of everything it wrote.
pub fn fingerprint(dir: &Path) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for (name, bytes) in files_of(dir) {
        for b in name.bytes().chain([0]).chain(bytes) {
            h ^= b as u64;
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    }
    h
}
