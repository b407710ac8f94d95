#!/usr/bin/env bash
# Checks clients/typescript: the generated types match schema.graphql and
# src/operations.graphql (committed src/generated is what codegen makes now),
# the package compiles, and test/e2e.mjs runs against `orbit serve` (the
# debug build, a free port, a throwaway data dir). Used by .ci/run; needs
# node and npm.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
orbit="${ORBIT_BIN:-${CARGO_TARGET_DIR:-$root/target}/debug/orbit}"
cd "$here"
npm ci --no-audit --no-fund --loglevel=error
tmp="$(mktemp -d)"
cp -r src/generated "$tmp/committed"
npx graphql-codegen --config codegen.ts --silent
if ! diff -r "$tmp/committed" src/generated >/dev/null; then
  echo "clients/typescript/src/generated is stale: run npm run codegen there and commit it" >&2
  exit 1
fi
npx tsc -p tsconfig.json

port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
ORBIT_DATA_DIR="$tmp/data" ORBIT_LISTEN="127.0.0.1:$port" RUST_LOG=warn "$orbit" serve >/dev/null &
server=$!
trap 'kill $server 2>/dev/null || true; wait $server 2>/dev/null || true; rm -rf "$tmp"' EXIT
for _ in $(seq 1 100); do
  curl -fsS "http://127.0.0.1:$port/readyz" >/dev/null 2>&1 && break
  sleep 0.1
done
keys="$(ORBIT_DATA_DIR="$tmp/data" "$orbit" admin create-app --name "Typed client" \
  --owner-email dev@example.com --owner-password 'a long owner password')"
pk="$(printf '%s' "$keys" | python3 -c 'import json,sys; print(json.load(sys.stdin)["publishableKey"])')"
ORBIT_URL="http://127.0.0.1:$port" PK="$pk" node test/e2e.mjs
