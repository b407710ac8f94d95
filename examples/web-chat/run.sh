#!/usr/bin/env bash
# The web chat end to end in headless Chromium: builds clients/typescript
# and the chat's bundle, starts `orbit serve` (the debug build, a free port,
# a throwaway data dir) with a scripted agent, serves the chat, and drives
# it as a user would (check_in_browser.py). Used by .ci/run; needs node,
# npm, chromium and chromium-driver.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
orbit="${ORBIT_BIN:-${CARGO_TARGET_DIR:-$root/target}/debug/orbit}"

(cd "$root/clients/typescript" && npm ci --no-audit --no-fund --loglevel=error && npx tsc -p tsconfig.json)
(cd "$here" && npm ci --no-audit --no-fund --loglevel=error && npm run --silent build)

tmp="$(mktemp -d)"
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
port="$(free_port)"
chat_port="$(free_port)"
url="http://127.0.0.1:$port"
ORBIT_DATA_DIR="$tmp/data" ORBIT_LISTEN="127.0.0.1:$port" RUST_LOG=warn "$orbit" serve >/dev/null &
server=$!
trap 'kill $server ${chat:-} 2>/dev/null || true; wait $server 2>/dev/null || true; rm -rf "$tmp"' EXIT
for _ in $(seq 1 100); do
  curl -fsS "$url/readyz" >/dev/null 2>&1 && break
  sleep 0.1
done
keys="$(ORBIT_DATA_DIR="$tmp/data" "$orbit" admin create-app --name "Web chat" \
  --owner-email dev@example.com --owner-password 'a long owner password')"
field() { printf '%s' "$keys" | python3 -c "import json,sys; print(json.load(sys.stdin)['$1'])"; }
pk="$(field publishableKey)"
sk="$(field secretKey)"
ORBIT_URL="$url" PK="$pk" PORT="$chat_port" node "$here/serve.mjs" >/dev/null &
chat=$!
for _ in $(seq 1 100); do
  curl -fsS "http://127.0.0.1:$chat_port/" >/dev/null 2>&1 && break
  sleep 0.1
done
python3 "$here/check_in_browser.py" "http://127.0.0.1:$chat_port" "$url" "$pk" "$sk"
