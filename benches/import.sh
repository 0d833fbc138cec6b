#!/usr/bin/env bash
# Import benchmark: Bellwether's import of a simulated book against (a) a bare SQLite bulk insert of the same
# event rows and (b) the reference pipeline's load + roll-up (../shared/bench/reference_pipeline.py), in the
# same run, each repeated RUNS times; prints medians, peak memory and ratios as a Markdown table.
#
# usage: benches/import.sh [ACCOUNTS=15000] [RUNS=3]
# needs: python3 with pandas, lightgbm and scikit-learn for the reference (benches/setup-python.sh installs them).
set -euo pipefail
cd "$(dirname "$0")/.."
ACCOUNTS=${1:-15000}
RUNS=${2:-3}
OUT=${BENCH_OUT:-bench-out}
PY=${BENCH_PYTHON:-.venv-bench/bin/python}
REF=${REFERENCE_PIPELINE:-../shared/bench/reference_pipeline.py}
BOOK=$OUT/book-$ACCOUNTS
BIN=target/release/bellwether

cargo build --release --quiet --bin bellwether --example bare_sqlite_insert
mkdir -p "$OUT"
[ -f "$BOOK/events.csv" ] || $BIN simulate --accounts "$ACCOUNTS" --out "$BOOK" >/dev/null

median() { sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
# Runs a command under /usr/bin/time; appends "seconds maxrss_kb" to the named file.
measure() { local f=$1; shift; /usr/bin/time -f "%e %M" -o "$OUT/.time" "$@" >"$OUT/.stdout" 2>"$OUT/.stderr"; cat "$OUT/.time" >>"$f"; }

rm -f "$OUT"/.assess_lines "$OUT"/.bw_events "$OUT"/.bw_book "$OUT"/.bare "$OUT"/.ref "$OUT"/.ref_stages "$OUT"/.read
EVENTS=$(($(wc -l <"$BOOK/events.csv") - 1))
for i in $(seq "$RUNS"); do
  rm -rf "$OUT/data"
  measure "$OUT/.bw_events" $BIN --data-dir "$OUT/data" import events "$BOOK/events.csv"
  rm -rf "$OUT/data"
  measure "$OUT/.bw_book" $BIN --data-dir "$OUT/data" import "$BOOK"
  measure "$OUT/.read" $BIN --data-dir "$OUT/data" assess
  grep assessed "$OUT/.stdout" >>"$OUT/.assess_lines" || true
  measure "$OUT/.bare" target/release/examples/bare_sqlite_insert "$BOOK/events.csv" "$OUT/bare.db"
  rm -f "$OUT"/bare.db*
  if [ -x "$PY" ] || command -v "$PY" >/dev/null; then
    measure "$OUT/.ref" "$PY" "$REF" "$BOOK"
    # load + roll-up only, from the reference's own stage timings
    grep -o 'load=[0-9.]*s rollup=[0-9.]*s' "$OUT/.stdout" | sed 's/load=\([0-9.]*\)s rollup=\([0-9.]*\)s/\1 \2/' | awk '{print $1+$2}' >>"$OUT/.ref_stages"
  fi
done

bw=$(cut -d' ' -f1 "$OUT/.bw_events" | median); bw_mem=$(cut -d' ' -f2 "$OUT/.bw_events" | median)
book=$(cut -d' ' -f1 "$OUT/.bw_book" | median); book_mem=$(cut -d' ' -f2 "$OUT/.bw_book" | median)
bare=$(cut -d' ' -f1 "$OUT/.bare" | median)
echo "| measure | median of $RUNS | peak memory |"
echo "|---|---|---|"
echo "| book | $ACCOUNTS accounts, $EVENTS events ($(du -sh "$BOOK" | cut -f1) of files) | |"
echo "| Bellwether import, events.csv (durable, rolled up) | ${bw}s = $(awk -v e="$EVENTS" -v s="$bw" 'BEGIN{printf "%.0f", e/s}') events/s | $((bw_mem / 1024)) MiB |"
echo "| Bellwether import, whole book folder | ${book}s | $((book_mem / 1024)) MiB |"
echo "| (a) bare SQLite bulk insert of the same rows | ${bare}s = $(awk -v e="$EVENTS" -v s="$bare" 'BEGIN{printf "%.0f", e/s}') rows/s; Bellwether is $(awk -v a="$bare" -v b="$bw" 'BEGIN{printf "%.1f", a/b}')× faster | |"
if [ -s "$OUT/.ref_stages" ]; then
  ref=$(median <"$OUT/.ref_stages"); ref_mem=$(cut -d' ' -f2 "$OUT/.ref" | median); ref_all=$(cut -d' ' -f1 "$OUT/.ref" | median)
  echo "| (b) reference pipeline load + roll-up | ${ref}s (whole script ${ref_all}s); Bellwether is $(awk -v a="$ref" -v b="$bw" 'BEGIN{printf "%.1f", a/b}')× faster | $((ref_mem / 1024)) MiB (whole script); Bellwether uses $(awk -v a="$bw_mem" -v b="$ref_mem" 'BEGIN{printf "%.2f", a/b}') of it |"
fi
read_s=$(cut -d' ' -f1 "$OUT/.read" | median); read_mem=$(cut -d' ' -f2 "$OUT/.read" | median)
echo "| assess: bulk read of all series and facts + health for every account | ${read_s}s (process total) | $((read_mem / 1024)) MiB |"
tail -1 "$OUT/.assess_lines" 2>/dev/null || true
