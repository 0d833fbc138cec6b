#!/usr/bin/env bash
# Model benchmark: the churn training matrix of the demo book exported once, then Bellwether's GBDT and LightGBM
# (PyPI, benches/setup-python.sh) trained on exactly the same split in the same run: test AUC, fit time,
# contributions per second, model size. Then scoring with explanations on the demo book, and the backtests of
# the demo book and (with BOOK20K=1) a 20,000-account book.
#
# usage: benches/train.sh [RUNS=3]
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${1:-3}
OUT=${BENCH_OUT:-bench-out}
BIN=target/release/bellwether
cargo build --release --quiet --bin bellwether --example fit_csv -p bellwether-ml -p bellwether-cli
bash benches/setup-python.sh
PY=.venv-bench/bin/python
mkdir -p "$OUT"
[ -f "$OUT/demo/bellwether.db" ] || $BIN --data-dir "$OUT" demo >/dev/null
$BIN --data-dir "$OUT/demo" train --export-matrix "$OUT/matrix"
for lr in 0.1 0.05; do
  echo "## learning rate $lr, depth 5 ($RUNS runs each, alternating)"
  for i in $(seq "$RUNS"); do
    target/release/examples/fit_csv "$OUT/matrix" $lr 5
    $PY benches/lightgbm_fit.py "$OUT/matrix" $lr 5
  done
done
echo "## training and scoring the demo book"
$BIN --data-dir "$OUT/demo" train
for i in $(seq "$RUNS"); do $BIN --data-dir "$OUT/demo" score --top 0 | head -1; done
echo "## backtest, demo book"
for t in churn_renewal churn_180d; do $BIN --data-dir "$OUT/demo" backtest --target $t; done
if [ "${BOOK20K:-0}" = 1 ]; then
  echo "## backtest, 20,000 accounts"
  [ -f "$OUT/book-20k/accounts.csv" ] || $BIN simulate --accounts 20000 --out "$OUT/book-20k" >/dev/null
  [ -f "$OUT/d20k/bellwether.db" ] || $BIN --data-dir "$OUT/d20k" import --no-assess "$OUT/book-20k" >/dev/null
  for t in churn_renewal churn_180d; do $BIN --data-dir "$OUT/d20k" backtest --target $t; done
fi
