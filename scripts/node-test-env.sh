#!/usr/bin/env bash
# Installs into .node-test the official Node.js client libraries the server's integration tests drive (pinned,
# with the machine's node and npm): RudderStack's Node SDK 2.x as `rudder-sdk-node-2` and 3.x as
# `rudder-sdk-node-3`. Idempotent and safe to run concurrently; prints the folder's node_modules path. Fails
# loudly when node or npm is missing or the npm registry is unreachable.
set -euo pipefail
cd "$(dirname "$0")/.."
DIR=.node-test
PKGS=(rudder-sdk-node-2@npm:@rudderstack/rudder-sdk-node@2.1.11 rudder-sdk-node-3@npm:@rudderstack/rudder-sdk-node@3.0.13)
STAMP="$DIR/.bellwether-pkgs"
mkdir -p "$DIR"
exec 9>"$DIR/.lock"
flock 9
if [ -d "$DIR/node_modules" ] && [ "$(cat "$STAMP" 2>/dev/null)" = "${PKGS[*]}" ]; then
    echo "$PWD/$DIR/node_modules"
    exit 0
fi
command -v node >/dev/null || { echo "node (Node.js) is required for the server's real-client tests" >&2; exit 1; }
command -v npm >/dev/null || { echo "npm is required for the server's real-client tests" >&2; exit 1; }
[ -f "$DIR/package.json" ] || echo '{"name":"bellwether-node-test","private":true}' > "$DIR/package.json"
# The SDKs are plain JavaScript: no install scripts, and not the optional Redis queue (bull).
if ! npm install --prefix "$DIR" --no-audit --no-fund --save-exact --ignore-scripts --omit=optional \
    --loglevel=error "${PKGS[@]}" >&2; then
    echo "npm could not install ${PKGS[*]}: the server's real-client tests need the npm registry" >&2
    exit 1
fi
echo "${PKGS[*]}" > "$STAMP"
echo "$PWD/$DIR/node_modules"
