#!/usr/bin/env bash
# Ingest benchmark of `bellwether serve` (BENCHMARKS.md, "Ingestion server"): durable /v1/batch throughput on
# loopback next to a raw bulk insert of the same rows into the same kind of database, and the lag from an
# accepted event to its account's updated health. Runs RUNS times (default 3) on each backend of BACKENDS
# (default "sqlite"; "sqlite postgres" alternates them run by run) and prints each run; take the medians.
set -euo pipefail
cd "$(dirname "$0")/.."
EVENTS=${EVENTS:-200000}
CONNECTIONS=${CONNECTIONS:-4}
RUNS=${RUNS:-3}
BACKENDS=${BACKENDS:-sqlite}
cargo build --release -q -p bellwether-server --example ingest_bench
for i in $(seq "$RUNS"); do
    for b in $BACKENDS; do
        echo "== run $i ($b)"
        target/release/examples/ingest_bench "$EVENTS" "$CONNECTIONS" "$b"
    done
done
