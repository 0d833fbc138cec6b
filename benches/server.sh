#!/usr/bin/env bash
# Ingest benchmark of `bellwether serve` (BENCHMARKS.md, "Ingestion server"): durable /v1/batch throughput on
# loopback next to a raw SQLite bulk insert of the same rows, and the lag from an accepted event to its
# account's updated health. Runs RUNS times (default 3) and prints each run; take the medians.
set -euo pipefail
cd "$(dirname "$0")/.."
EVENTS=${EVENTS:-200000}
CONNECTIONS=${CONNECTIONS:-4}
RUNS=${RUNS:-3}
cargo build --release -q -p bellwether-server --example ingest_bench
for i in $(seq "$RUNS"); do
    echo "== run $i"
    target/release/examples/ingest_bench "$EVENTS" "$CONNECTIONS"
done
