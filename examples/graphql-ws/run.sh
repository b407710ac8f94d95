#!/usr/bin/env bash
# Starts `orbit serve` (the debug build, on a free port, with a throwaway
# data dir), makes an app, and runs check.mjs against it with the reference
# graphql-ws client. Used by .ci/run; needs node and npm.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
orbit="${ORBIT_BIN:-${CARGO_TARGET_DIR:-$root/target}/debug/orbit}"

(cd "$here" && npm ci --no-audit --no-fund --loglevel=error)

data="$(mktemp -d)"
port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
ORBIT_DATA_DIR="$data" ORBIT_LISTEN="127.0.0.1:$port" RUST_LOG=warn "$orbit" serve &
server=$!
trap 'kill $server 2>/dev/null || true; wait $server 2>/dev/null || true; rm -rf "$data"' EXIT
for _ in $(seq 1 100); do
  curl -fsS "http://127.0.0.1:$port/readyz" >/dev/null 2>&1 && break
  sleep 0.1
done

keys="$(ORBIT_DATA_DIR="$data" "$orbit" admin create-app --name "graphql-ws check" \
  --owner-email dev@example.com --owner-password 'correct horse battery staple')"
pk="$(printf '%s' "$keys" | python3 -c 'import json,sys; print(json.load(sys.stdin)["publishableKey"])')"
ORBIT_URL="http://127.0.0.1:$port" PK="$pk" node "$here/check.mjs"
# Every document the docs give clients passes graphql-js validation.
node "$here/validate-docs.mjs"
