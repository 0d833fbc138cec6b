//! Prometheus metrics in the text exposition format, kept by hand: request counts and latencies by route,
//! ingested messages by source and outcome, the re-assessment queue's depth and the lag from an accepted
//! message to the updated health of its account.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

/// Upper bounds of the latency histograms, in seconds.
const BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];
/// Lag samples kept for the quantiles.
const LAG_SAMPLES: usize = 10_000;

#[derive(Default, Clone)]
struct Histogram {
    counts: Vec<u64>,
    sum: f64,
    count: u64,
}

impl Histogram {
    fn observe(&mut self, v: f64) {
        if self.counts.is_empty() {
            self.counts = vec![0; BUCKETS.len()];
        }
        for (i, b) in BUCKETS.iter().enumerate() {
            if v <= *b {
                self.counts[i] += 1;
            }
        }
        self.sum += v;
        self.count += 1;
    }

    fn write(&self, out: &mut String, name: &str, labels: &str) {
        let sep = if labels.is_empty() { "" } else { "," };
        for (i, b) in BUCKETS.iter().enumerate() {
            let c = self.counts.get(i).copied().unwrap_or(0);
            let _ = writeln!(out, "{name}_bucket{{{labels}{sep}le=\"{b}\"}} {c}");
        }
        let _ = writeln!(
            out,
            "{name}_bucket{{{labels}{sep}le=\"+Inf\"}} {}",
            self.count
        );
        let braces = if labels.is_empty() {
            String::new()
        } else {
            format!("{{{labels}}}")
        };
        let _ = writeln!(out, "{name}_sum{braces} {}", self.sum);
        let _ = writeln!(out, "{name}_count{braces} {}", self.count);
    }
}

/// The server's metrics.
#[derive(Default)]
pub struct Metrics {
    requests: Mutex<BTreeMap<(String, u16), u64>>,
    latency: Mutex<BTreeMap<String, Histogram>>,
    messages: Mutex<BTreeMap<(&'static str, &'static str), u64>>,
    lag: Mutex<(Histogram, Vec<f64>, usize)>,
    /// Account ids waiting in the re-assessment queue.
    pub queue_depth: AtomicU64,
    /// Acknowledged tracking messages waiting in the inbox to be applied.
    pub inbox_depth: AtomicU64,
    /// Re-assessment passes run.
    pub reassess_passes: AtomicU64,
    /// Re-assessment passes that failed.
    pub reassess_failures: AtomicU64,
    /// Accounts re-assessed.
    pub reassessed_accounts: AtomicU64,
    /// Connections open now.
    pub open_connections: AtomicU64,
    /// Connections closed at once because [`crate::ServerConfig::max_connections`] were open.
    pub refused_connections: AtomicU64,
    /// This process holds the applier lease: it applies the tracking inbox and takes up the re-assessment
    /// marks other processes left.
    pub applying: std::sync::atomic::AtomicBool,
}

impl Metrics {
    /// Acknowledged tracking messages waiting to be applied. Read as signed: the applier may count a group
    /// out just before the writer counts it in.
    pub fn inbox_waiting(&self) -> u64 {
        (self.inbox_depth.load(Ordering::Relaxed) as i64).max(0) as u64
    }

    /// Counts a finished request.
    pub fn request(&self, route: &str, status: u16, seconds: f64) {
        if let Ok(mut m) = self.requests.lock() {
            *m.entry((route.to_string(), status)).or_default() += 1;
        }
        if let Ok(mut m) = self.latency.lock() {
            m.entry(route.to_string()).or_default().observe(seconds);
        }
    }

    /// Counts messages of a source by outcome (`accepted`, `duplicate`, `rejected`, `pending`).
    pub fn messages(&self, source: &'static str, outcome: &'static str, n: u64) {
        if n == 0 {
            return;
        }
        if let Ok(mut m) = self.messages.lock() {
            *m.entry((source, outcome)).or_default() += n;
        }
    }

    /// Records the time from accepting data to the updated health of its accounts.
    pub fn lag(&self, seconds: f64) {
        if let Ok(mut l) = self.lag.lock() {
            l.0.observe(seconds);
            if l.1.len() < LAG_SAMPLES {
                l.1.push(seconds);
            } else {
                let i = l.2;
                l.1[i] = seconds;
            }
            l.2 = (l.2 + 1) % LAG_SAMPLES;
        }
    }

    /// A quantile (0–1) of the recent lag samples.
    pub fn lag_quantile(&self, q: f64) -> Option<f64> {
        let l = self.lag.lock().ok()?;
        quantile(&l.1, q)
    }

    /// The messages counted for a source and outcome.
    pub fn message_count(&self, source: &'static str, outcome: &'static str) -> u64 {
        self.messages
            .lock()
            .map(|m| m.get(&(source, outcome)).copied().unwrap_or(0))
            .unwrap_or(0)
    }

    /// The text exposition, with `pending` messages waiting for their user's account.
    pub fn render(&self, pending: Option<u64>) -> String {
        let mut out = String::new();
        out.push_str("# HELP bellwether_http_requests_total HTTP requests by route and status.\n# TYPE bellwether_http_requests_total counter\n");
        if let Ok(m) = self.requests.lock() {
            for ((route, status), n) in m.iter() {
                let _ = writeln!(
                    out,
                    "bellwether_http_requests_total{{route=\"{route}\",status=\"{status}\"}} {n}"
                );
            }
        }
        out.push_str("# HELP bellwether_http_request_duration_seconds Request latency by route.\n# TYPE bellwether_http_request_duration_seconds histogram\n");
        if let Ok(m) = self.latency.lock() {
            for (route, h) in m.iter() {
                h.write(
                    &mut out,
                    "bellwether_http_request_duration_seconds",
                    &format!("route=\"{route}\""),
                );
            }
        }
        out.push_str("# HELP bellwether_ingest_messages_total Messages received by source and outcome.\n# TYPE bellwether_ingest_messages_total counter\n");
        if let Ok(m) = self.messages.lock() {
            for ((source, outcome), n) in m.iter() {
                let _ = writeln!(out, "bellwether_ingest_messages_total{{source=\"{source}\",outcome=\"{outcome}\"}} {n}");
            }
        }
        let g = |out: &mut String, name: &str, help: &str, kind: &str, v: u64| {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {v}"
            );
        };
        g(
            &mut out,
            "bellwether_reassess_queue_depth",
            "Account ids waiting for re-assessment.",
            "gauge",
            self.queue_depth.load(Ordering::Relaxed),
        );
        g(
            &mut out,
            "bellwether_inbox_depth",
            "Acknowledged tracking messages waiting to be applied.",
            "gauge",
            self.inbox_waiting(),
        );
        g(
            &mut out,
            "bellwether_applier_holds_lease",
            "1 while this process applies the tracking inbox (the applier lease), else 0.",
            "gauge",
            u64::from(self.applying.load(Ordering::Relaxed)),
        );
        g(
            &mut out,
            "bellwether_open_connections",
            "HTTP connections open now.",
            "gauge",
            self.open_connections.load(Ordering::Relaxed),
        );
        g(
            &mut out,
            "bellwether_refused_connections_total",
            "Connections closed at once because the connection limit was reached.",
            "counter",
            self.refused_connections.load(Ordering::Relaxed),
        );
        g(
            &mut out,
            "bellwether_reassess_passes_total",
            "Re-assessment passes run.",
            "counter",
            self.reassess_passes.load(Ordering::Relaxed),
        );
        g(
            &mut out,
            "bellwether_reassess_failures_total",
            "Re-assessment passes that failed.",
            "counter",
            self.reassess_failures.load(Ordering::Relaxed),
        );
        g(
            &mut out,
            "bellwether_reassessed_accounts_total",
            "Accounts re-assessed.",
            "counter",
            self.reassessed_accounts.load(Ordering::Relaxed),
        );
        if let Some(p) = pending {
            g(
                &mut out,
                "bellwether_pending_messages",
                "Messages kept until their user is linked to an account.",
                "gauge",
                p,
            );
        }
        out.push_str("# HELP bellwether_reassess_lag_seconds Time from accepting data to the updated health of its accounts.\n# TYPE bellwether_reassess_lag_seconds histogram\n");
        if let Ok(l) = self.lag.lock() {
            l.0.write(&mut out, "bellwether_reassess_lag_seconds", "");
            for q in [0.5, 0.99] {
                if let Some(v) = quantile(&l.1, q) {
                    let _ = writeln!(
                        out,
                        "# lag quantile {q} over the last {} samples: {v}",
                        l.1.len()
                    );
                }
            }
        }
        out
    }
}

fn quantile(samples: &[f64], q: f64) -> Option<f64> {
    if samples.is_empty() {
        return None;
    }
    let mut s = samples.to_vec();
    s.sort_by(f64::total_cmp);
    let i = ((q * s.len() as f64).ceil() as usize).clamp(1, s.len()) - 1;
    Some(s[i])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counts_buckets_and_quantiles() {
        let m = Metrics::default();
        m.request("/v1/batch", 200, 0.003);
        m.request("/v1/batch", 200, 0.2);
        m.messages("segment", "accepted", 7);
        for i in 1..=100 {
            m.lag(i as f64 / 100.0);
        }
        let t = m.render(Some(3));
        assert!(t.contains("bellwether_http_requests_total{route=\"/v1/batch\",status=\"200\"} 2"));
        assert!(t.contains(
            "bellwether_http_request_duration_seconds_bucket{route=\"/v1/batch\",le=\"0.005\"} 1"
        ));
        assert!(t.contains(
            "bellwether_ingest_messages_total{source=\"segment\",outcome=\"accepted\"} 7"
        ));
        assert!(t.contains("bellwether_pending_messages 3"));
        assert_eq!(m.lag_quantile(0.99), Some(0.99));
        assert_eq!(m.lag_quantile(0.5), Some(0.5));
    }
}
