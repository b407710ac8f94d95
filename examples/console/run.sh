#!/usr/bin/env bash
# The console at /console in headless Chromium, as a developer uses it:
# starts `orbit serve` (the debug build, a free port, a throwaway data dir),
# makes a developer with `orbit admin create-app`, and drives the page
# (check_in_browser.py). Used by .ci/run; needs chromium and chromium-driver.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
orbit="${ORBIT_BIN:-${CARGO_TARGET_DIR:-$root/target}/debug/orbit}"
tmp="$(mktemp -d)"
port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
url="http://127.0.0.1:$port"
ORBIT_DATA_DIR="$tmp/data" ORBIT_LISTEN="127.0.0.1:$port" ORBIT_WEBHOOK_ALLOW_PRIVATE=true RUST_LOG=warn "$orbit" serve >/dev/null &
server=$!
trap 'kill $server 2>/dev/null || true; wait $server 2>/dev/null || true; rm -rf "$tmp"' EXIT
for _ in $(seq 1 100); do
  curl -fsS "$url/readyz" >/dev/null 2>&1 && break
  sleep 0.1
done
ORBIT_DATA_DIR="$tmp/data" "$orbit" admin create-app --name "First app" \
  --owner-email dev@example.com --owner-password 'a long owner password' >/dev/null
ORBIT_DATA_DIR="$tmp/data" "$orbit" admin create-app --name "Bo's app" \
  --owner-email bo@example.com --owner-password 'another long password' >/dev/null
python3 "$here/check_in_browser.py" "$url" dev@example.com 'a long owner password' bo@example.com
