#!/usr/bin/env bash
# Signals benchmark: the full pass (features, health, every detector, signal lifecycle) over a 100k-account book
# with two years of history, load and compute reported apart; then the incremental path: one account's new
# events imported and re-assessed. Also replays the 5,000-account demo book against its ground truth.
#
# usage: benches/signals.sh [RUNS=3]
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${1:-3}
OUT=${BENCH_OUT:-bench-out}
BIN=target/release/bellwether
cargo build --release --quiet --bin bellwether
mkdir -p "$OUT"
if [ ! -f "$OUT/d100k/bellwether.db" ]; then
  [ -f "$OUT/book-100k/accounts.csv" ] || $BIN simulate --accounts 100000 --daily-metrics --out "$OUT/book-100k" >/dev/null
  $BIN --data-dir "$OUT/d100k" import --no-assess "$OUT/book-100k" >/dev/null
fi
echo "## full pass, 100k accounts (median of $RUNS)"
for i in $(seq "$RUNS"); do
  /usr/bin/time -f "%e %M" -o "$OUT/.t" $BIN --data-dir "$OUT/d100k" assess >"$OUT/.assess"
  head -1 "$OUT/.assess"
  echo "  process: $(cut -d' ' -f1 "$OUT/.t") s, peak $(( $(cut -d' ' -f2 "$OUT/.t") / 1024 )) MiB"
done
echo "## incremental: one account's new events"
ACC=$(sed -n 2p "$OUT/book-100k/accounts.csv" | cut -d, -f1)
for i in $(seq "$RUNS"); do
  F="$OUT/one-account-$i.csv"
  NONCE=$(date +%s%N)
  { echo "account_id,timestamp,event,user_id"; for k in $(seq 50); do echo "$ACC,2026-10-31T1$((k % 10)):0$((k % 6)):$((10 + k))Z,login,$ACC-u$((k + i))-$NONCE"; done; } >"$F"
  /usr/bin/time -f "%e" -o "$OUT/.t" $BIN --data-dir "$OUT/d100k" import events "$F" >"$OUT/.import"
  tail -1 "$OUT/.import"
  echo "  process (open, import, re-assess, exit): $(cat "$OUT/.t") s"
done
echo "## replay against ground truth, 5,000-account demo book"
rm -rf "$OUT/demo"
$BIN --data-dir "$OUT" demo >/dev/null
$BIN --data-dir "$OUT/demo" evaluate --truth "$OUT/demo/book/truth/ground_truth.csv"
