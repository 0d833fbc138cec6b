#!/usr/bin/env bash
# The kill test of several replicas: two `bellwether serve` processes on one PostgreSQL database take tracking
# load from two clients while one replica is killed with SIGKILL at random moments (and another started in its
# place), KILLS times; every request is retried until acknowledged, as Segment clients do. Prints one JSON line:
# kills, requests, acknowledged, stored, lost and double_counted events, retried requests; fails unless lost and
# double_counted are 0.
#
#   scripts/kill-replicas.sh          # long form: KILLS=20 (or as set)
#   scripts/kill-replicas.sh short    # short form, run by .ci/run: 3 kills
#
# PostgreSQL comes from the test harness: BELLWETHER_TEST_DATABASE_URL, else 127.0.0.1:5432, else a throwaway
# server it starts (see docs/storage.md).
set -euo pipefail
cd "$(dirname "$0")/.."
case "${1:-long}" in
  short) export KILLS=3 ;;
  long) export KILLS="${KILLS:-20}" ;;
  *) echo "usage: scripts/kill-replicas.sh [short|long]" >&2; exit 2 ;;
esac
exec cargo test -q -p bellwether --test replicas -- --ignored --nocapture --exact replicas_killed_at_random_moments
