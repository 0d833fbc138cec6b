#!/usr/bin/env bash
# Both store backends on the same book in the same run: import of the events file and of the whole book folder
# into the embedded store and into PostgreSQL (a fresh database each run), a bare PostgreSQL COPY of the same
# event rows into one plain table (the baseline), and the full `assess` pass on each; RUNS times each, printed
# as a Markdown table of medians with the ratios.
#
# usage: benches/backends.sh [ACCOUNTS=15000] [RUNS=3]
# needs: a PostgreSQL server (PG_ADMIN_URL, default postgres://postgres@127.0.0.1:5432/postgres) and psql.
set -euo pipefail
cd "$(dirname "$0")/.."
ACCOUNTS=${1:-15000}
RUNS=${2:-3}
OUT=${BENCH_OUT:-bench-out}
ADMIN=${PG_ADMIN_URL:-postgres://postgres@127.0.0.1:5432/postgres}
BASE=${ADMIN%/*}
BOOK=$OUT/book-$ACCOUNTS
BIN=target/release/bellwether

cargo build --release --quiet --bin bellwether
mkdir -p "$OUT"
[ -f "$BOOK/events.csv" ] || $BIN simulate --accounts "$ACCOUNTS" --out "$BOOK" >/dev/null

median() { sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
measure() { local f=$1; shift; /usr/bin/time -f "%e %M" -o "$OUT/.time" "$@" >"$OUT/.stdout" 2>"$OUT/.stderr"; cat "$OUT/.time" >>"$f"; }
fresh_db() { psql "$ADMIN" -qc "DROP DATABASE IF EXISTS $1 WITH (FORCE)" -c "CREATE DATABASE $1" >/dev/null 2>&1; }

rm -f "$OUT"/.be_*
EVENTS=$(($(wc -l <"$BOOK/events.csv") - 1))
for i in $(seq "$RUNS"); do
  rm -rf "$OUT/data"
  measure "$OUT/.be_sq_events" $BIN --data-dir "$OUT/data" import events "$BOOK/events.csv"
  fresh_db bw_bench
  measure "$OUT/.be_pg_events" $BIN --data-dir "$OUT/data-pg" --database-url "$BASE/bw_bench" import events "$BOOK/events.csv"
  fresh_db bw_bare
  psql "$BASE/bw_bare" -qc "CREATE TABLE events (account_id TEXT NOT NULL, ts TEXT NOT NULL, event TEXT NOT NULL, user_id TEXT, value DOUBLE PRECISION)"
  measure "$OUT/.be_copy" psql "$BASE/bw_bare" -qc "\\copy events FROM '$BOOK/events.csv' CSV HEADER"
  rm -rf "$OUT/data"
  measure "$OUT/.be_sq_book" $BIN --data-dir "$OUT/data" import "$BOOK"
  fresh_db bw_bench
  measure "$OUT/.be_pg_book" $BIN --data-dir "$OUT/data-pg" --database-url "$BASE/bw_bench" import "$BOOK"
  measure "$OUT/.be_sq_assess" $BIN --data-dir "$OUT/data" assess
  measure "$OUT/.be_pg_assess" $BIN --data-dir "$OUT/data-pg" --database-url "$BASE/bw_bench" assess
done
psql "$ADMIN" -qc "DROP DATABASE IF EXISTS bw_bare WITH (FORCE)" >/dev/null 2>&1

m() { cut -d' ' -f1 "$OUT/.be_$1" | median; }
mem() { echo $(( $(cut -d' ' -f2 "$OUT/.be_$1" | median) / 1024 )); }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN{printf "%.2f", a/b}'; }
echo "| measure ($ACCOUNTS accounts, $EVENTS events, median of $RUNS) | embedded (SQLite) | PostgreSQL |"
echo "|---|---|---|"
echo "| import events.csv | $(m sq_events) s, $(mem sq_events) MiB | $(m pg_events) s, $(mem pg_events) MiB |"
echo "| bare PostgreSQL COPY of the same rows (psql \\copy, one table) | | $(m copy) s; PostgreSQL import runs at $(ratio "$(m copy)" "$(m pg_events)")× its speed (goal ≥ 0.5) |"
echo "| import the whole book folder | $(m sq_book) s, $(mem sq_book) MiB | $(m pg_book) s, $(mem pg_book) MiB |"
echo "| assess (full pass) | $(m sq_assess) s, $(mem sq_assess) MiB | $(m pg_assess) s, $(mem pg_assess) MiB |"
