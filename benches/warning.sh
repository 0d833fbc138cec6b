#!/usr/bin/env bash
# Warning time that holds across books (issue 14, item 4 and 5): simulates B2B books (difficulty version 1) of
# each size for each seed, backtests churn within 180 days, and prints per book the model's and the rules
# score's AUC, ECE, precision at the alert threshold and median unbroken warning, and the warning as a share of
# the possible per story (benches/warning.py, from the simulator's ground truth). One JSON line per book.
#   benches/warning.sh                       # 5 seeds × 2,000 / 5,000 / 20,000 accounts
#   SEEDS="1 2" SIZES="2000" benches/warning.sh
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-target/release/bellwether}
[ -x "$BIN" ] || cargo build --release --bin bellwether
PY=${PY:-python3}
OUT=${OUT:-bench-out/warning}
TARGET=${TARGET:-churn_180d}
mkdir -p "$OUT"
for size in ${SIZES:-2000 5000 20000}; do
  for seed in ${SEEDS:-1 2 3 4 5}; do
    dir="$OUT/b$size-s$seed"
    rm -rf "$dir"
    "$BIN" simulate --accounts "$size" --seed "$seed" --out "$dir/book" >/dev/null
    "$BIN" --data-dir "$dir/data" import --no-assess "$dir/book" >/dev/null 2>&1
    start=$(date +%s.%N)
    "$BIN" --data-dir "$dir/data" backtest --target "$TARGET" --json --csv "$dir/rows.csv" >"$dir/report.json"
    secs=$(echo "$(date +%s.%N) - $start" | bc)
    line=$("$PY" benches/warning.py "$dir/book" "$dir/report.json" "$dir/rows.csv")
    echo "{\"accounts\": $size, \"seed\": $seed, \"target\": \"$TARGET\", \"backtest_seconds\": $secs, \"figures\": $line}"
    rm -rf "$dir/book/events.csv" "$dir/data"
  done
done
