use bellwether_core::Timestamp;
fn main() {
    let n = 2_000_000usize;
    let iso: Vec<String> = (0..n)
        .map(|i| {
            format!(
                "2024-03-{:02}T{:02}:{:02}:{:02}Z",
                i % 28 + 1,
                i % 24,
                i % 60,
                (i / 7) % 60
            )
        })
        .collect();
    let epoch: Vec<String> = (0..n)
        .map(|i| (1_709_285_415 + i as i64).to_string())
        .collect();
    for (name, v) in [("iso", &iso), ("epoch", &epoch)] {
        let mut best = f64::MAX;
        for _ in 0..7 {
            let t = std::time::Instant::now();
            let mut s = 0i64;
            for x in v.iter() {
                s = s.wrapping_add(
                    Timestamp::parse_bytes(std::hint::black_box(x.as_bytes()))
                        .unwrap()
                        .0,
                );
            }
            std::hint::black_box(s);
            best = best.min(t.elapsed().as_secs_f64());
        }
        println!("{name}: {:.1} ns/parse", best * 1e9 / n as f64);
    }
}
