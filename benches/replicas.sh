#!/usr/bin/env bash
# Several replicas on one PostgreSQL database (BENCHMARKS.md, "Several replicas"): tracking ingest through two
# replicas against one, alternated run by run in the same run, and the daily pass split into BUCKETS buckets
# over two replicas' schedulers against one process. Prints each run; take the medians.
set -euo pipefail
cd "$(dirname "$0")/.."
EVENTS=${EVENTS:-200000}
CONNECTIONS=${CONNECTIONS:-4}
RUNS=${RUNS:-3}
ACCOUNTS=${ACCOUNTS:-20000}
BUCKETS=${BUCKETS:-8}
cargo build --release -q -p bellwether-server --example ingest_bench --example split_pass_bench
for i in $(seq "$RUNS"); do
    for n in 1 2; do
        echo "== ingest run $i ($n replicas)"
        target/release/examples/ingest_bench "$EVENTS" "$CONNECTIONS" postgres "$n"
    done
done
echo "== split pass"
target/release/examples/split_pass_bench "$ACCOUNTS" "$BUCKETS" "$RUNS"
