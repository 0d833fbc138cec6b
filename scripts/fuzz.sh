#!/usr/bin/env bash
# Runs every fuzz target (or those named) for SECONDS each (default 600), one after another, then minimises
# each corpus; prints one line per run (target, minutes, executions, findings) for docs/fuzzing.md.
# Needs cargo-fuzz (`cargo install cargo-fuzz --locked`); builds on the stable toolchain without a sanitizer.
#   scripts/fuzz.sh                 # every target, 10 minutes each
#   SECONDS_EACH=60 scripts/fuzz.sh import_file records
set -euo pipefail
cd "$(dirname "$0")/../fuzz"
command -v cargo-fuzz >/dev/null || { echo "cargo-fuzz is missing: cargo install cargo-fuzz --locked" >&2; exit 1; }
each=${SECONDS_EACH:-600}
targets=("$@")
[ ${#targets[@]} -gt 0 ] || mapfile -t targets < <(cargo fuzz list)
mkdir -p logs
cargo fuzz build -s none -O
for t in "${targets[@]}"; do
  case $t in
    import_file) len=16384 ;;
    *) len=4096 ;;
  esac
  log=logs/$t.log
  set +e
  # The binaries built above, so every run of a campaign fuzzes the same code.
  mkdir -p corpus/"$t" artifacts/"$t"
  target/x86_64-unknown-linux-gnu/release/"$t" -artifact_prefix=artifacts/"$t"/ -max_total_time="$each" \
    -max_len="$len" -print_final_stats=1 corpus/"$t" >"$log" 2>&1
  rc=$?
  set -e
  runs=$(grep -o 'Done [0-9]* runs' "$log" | tail -1 | grep -o '[0-9]*' || echo 0)
  crashes=$(ls artifacts/"$t" 2>/dev/null | wc -l)
  cargo fuzz cmin -s none -O "$t" >/dev/null 2>&1 || true
  inputs=$(ls corpus/"$t" | wc -l)
  size=$(du -sk --apparent-size corpus/"$t" | cut -f1)
  echo "| $(date -u +%F) | \`$t\` | $((each / 60)) | $runs | $inputs inputs, ${size} KB | $([ "$rc" = 0 ] && [ "$crashes" = 0 ] && echo none || echo "exit $rc, $crashes artifact(s): see fuzz/artifacts/$t") |"
done
