//! Fits the gradient-boosted trees on `DIR/{train,valid,test}.csv` (feature columns then `label`, missing
//! values empty) with early stopping on `valid`, and prints one JSON line: test ROC-AUC, fit seconds,
//! trees, model bytes, contributions per second and the largest gap between summed contributions and score.
//! benches/train.sh runs it next to LightGBM on the same files.
//!
//! usage: cargo run --release -p bellwether-ml --example fit_csv -- DIR [learning_rate] [max_depth]

use bellwether_ml::gbdt::{Gbdt, GbdtParams};
use bellwether_ml::{metrics, Dataset, Learner};
use std::time::Instant;

fn read(path: &std::path::Path) -> (Dataset, Vec<f64>) {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut lines = text.lines();
    let header: Vec<String> = lines
        .next()
        .expect("header")
        .split(',')
        .map(String::from)
        .collect();
    let cols = header.len() - 1;
    let mut rows = Vec::new();
    let mut y = Vec::new();
    for l in lines {
        let mut v: Vec<f64> = l
            .split(',')
            .map(|f| {
                if f.is_empty() {
                    f64::NAN
                } else {
                    f.parse().expect("number")
                }
            })
            .collect();
        y.push(v.pop().expect("label"));
        rows.push(v);
    }
    (Dataset::from_rows(header[..cols].to_vec(), &rows), y)
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let dir = std::path::Path::new(
        args.get(1)
            .expect("usage: fit_csv DIR [learning_rate] [max_depth]"),
    );
    let mut params = GbdtParams::default();
    if let Some(lr) = args.get(2) {
        params.learning_rate = lr.parse().expect("learning rate");
    }
    if let Some(d) = args.get(3) {
        params.max_depth = d.parse().expect("depth");
    }
    let (x, y) = read(&dir.join("train.csv"));
    let (v, vy) = read(&dir.join("valid.csv"));
    let (t, ty) = read(&dir.join("test.csv"));
    let t0 = Instant::now();
    let model = Gbdt {
        params: params.clone(),
    }
    .fit(&x, &y, Some((&v, &vy)))
    .expect("fit");
    let fit = t0.elapsed().as_secs_f64();
    let raw = model.raw(&t);
    let t1 = Instant::now();
    let contrib = model.contributions(&t);
    let explain = t1.elapsed().as_secs_f64();
    let w = t.cols() + 1;
    let gap = (0..t.rows)
        .map(|i| (contrib[i * w..(i + 1) * w].iter().sum::<f64>() - raw[i]).abs())
        .fold(0.0, f64::max);
    println!(
        "{{\"engine\":\"bellwether-gbdt\",\"auc\":{:.5},\"fit_seconds\":{fit:.3},\"model\":\"{}\",\"bytes\":{},\"explain_rows_per_second\":{:.0},\"max_sum_gap\":{gap:e},\"learning_rate\":{},\"max_depth\":{}}}",
        metrics::roc_auc(&raw, &ty),
        model.describe(),
        bellwether_ml::save(model.as_ref()).len(),
        t.rows as f64 / explain,
        params.learning_rate,
        params.max_depth
    );
}
