#!/usr/bin/env bash
# Creates .venv-test with the official client libraries the integration tests drive (pinned): Segment's,
# RudderStack's and Stripe's for the server; slack_sdk's Block Kit models, the aiosmtpd mail server and the
# standardwebhooks verifier for delivery.
# Idempotent and safe to run concurrently; prints the venv's python path. Fails loudly when PyPI is unreachable.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=.venv-test
REQS=(segment-analytics-python==2.4.0 rudder-sdk-python==2.1.9 stripe==16.1.0 slack_sdk==3.48.0 aiosmtpd==1.4.6 standardwebhooks==1.1.0)
STAMP="$VENV/.bellwether-reqs"
exec 9>".venv-test.lock"
flock 9
if [ -x "$VENV/bin/python" ] && [ "$(cat "$STAMP" 2>/dev/null)" = "${REQS[*]}" ]; then
    echo "$PWD/$VENV/bin/python"
    exit 0
fi
command -v python3 >/dev/null || { echo "python3 is required for the server's integration tests" >&2; exit 1; }
python3 -m venv "$VENV" >&2
if ! "$VENV/bin/pip" install --quiet --disable-pip-version-check "${REQS[@]}" >&2; then
    echo "pip could not install ${REQS[*]}: the server's real-client tests need PyPI" >&2
    exit 1
fi
echo "${REQS[*]}" > "$STAMP"
echo "$PWD/$VENV/bin/python"
