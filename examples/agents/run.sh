#!/usr/bin/env bash
# Starts `orbit serve` (the debug build, on a free port, with a throwaway
# data dir, allowed to call loopback for the webhook receiver), makes an app,
# and runs guide.mjs: docs/agents.md and docs/webhooks.md as a newcomer
# follows them; then tools.mjs (tools, approvals, app variables, MCP) in a
# second app. Used by .ci/run; needs node and npm. Takes about a minute:
# the routine waits for a real minute to start.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
orbit="${ORBIT_BIN:-${CARGO_TARGET_DIR:-$root/target}/debug/orbit}"

(cd "$here" && npm ci --no-audit --no-fund --loglevel=error)

data="$(mktemp -d)"
port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
ORBIT_DATA_DIR="$data" ORBIT_LISTEN="127.0.0.1:$port" ORBIT_WEBHOOK_ALLOW_PRIVATE=true RUST_LOG=warn \
  "$orbit" serve >/dev/null &
server=$!
trap 'kill $server 2>/dev/null || true; wait $server 2>/dev/null || true; rm -rf "$data"' EXIT
for _ in $(seq 1 100); do
  curl -fsS "http://127.0.0.1:$port/readyz" >/dev/null 2>&1 && break
  sleep 0.1
done

keys="$(ORBIT_DATA_DIR="$data" "$orbit" admin create-app --name "Demo" \
  --owner-email you@example.com --owner-password 'a long owner password')"
field() { printf '%s' "$keys" | python3 -c "import json,sys; print(json.load(sys.stdin)['$1'])"; }
ORBIT_URL="http://127.0.0.1:$port" PK="$(field publishableKey)" SK="$(field secretKey)" node "$here/guide.mjs"

# docs/agents.md "Tools": a second app, so the first one's webhook and
# routine stay out of it.
keys="$(ORBIT_DATA_DIR="$data" "$orbit" admin create-app --name "Tools demo" \
  --owner-email tools@example.com --owner-password 'a long owner password')"
ORBIT_URL="http://127.0.0.1:$port" PK="$(field publishableKey)" SK="$(field secretKey)" node "$here/tools.mjs"
