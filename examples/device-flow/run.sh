#!/usr/bin/env bash
# `orbit login` and `orbit whoami` end to end, as a developer uses them:
# starts `orbit serve` (the debug build, a free port, a throwaway data dir),
# makes an app and its owner, runs `orbit login --server ...` as a child
# process, approves the code on the /device page in headless Chromium (with
# chromium-driver; APPROVE_WITH=curl approves through approveDevice instead),
# then checks the stored credentials, `orbit whoami`, and, for the
# developer, `orbit apps create` and `orbit apps list`.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
orbit="${ORBIT_BIN:-${CARGO_TARGET_DIR:-$root/target}/debug/orbit}"
approve_with="${APPROVE_WITH:-browser}"
if [ "$approve_with" = browser ] && ! command -v chromedriver >/dev/null; then
  echo "needs chromium and chromium-driver (or APPROVE_WITH=curl)" >&2
  exit 1
fi

tmp="$(mktemp -d)"
port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
url="http://127.0.0.1:$port"
ORBIT_DATA_DIR="$tmp/data" ORBIT_LISTEN="127.0.0.1:$port" RUST_LOG=warn "$orbit" serve &
server=$!
trap 'kill $server 2>/dev/null || true; wait $server 2>/dev/null || true; rm -rf "$tmp"' EXIT
for _ in $(seq 1 100); do
  curl -fsS "$url/readyz" >/dev/null 2>&1 && break
  sleep 0.1
done

password='correct horse battery staple'
keys="$(ORBIT_DATA_DIR="$tmp/data" "$orbit" admin create-app --name "Device Check" \
  --owner-email dev@example.com --owner-password "$password")"
pk="$(printf '%s' "$keys" | python3 -c 'import json,sys; print(json.load(sys.stdin)["publishableKey"])')"

gql() { curl -fsS "$url/graphql" -H 'content-type: application/json' ${2:+-H "authorization: Bearer $2"} -d "$1"; }
# A user of the app, for the app's own CLI (client_id = its publishable key).
gql "{\"query\":\"mutation(\$i: SignUpInput!) { signUp(input: \$i) { user { id } } }\",\"variables\":{\"i\":{\"email\":\"ada@example.com\",\"password\":\"$password\",\"displayName\":\"Ada\"}}}" "$pk" >/dev/null

# login_and_check CLIENT_ID EMAIL EXPECTED: `orbit login`, approve as EMAIL,
# then `orbit whoami` must print EXPECTED (a glob).
login_and_check() {
  local client_id="$1" email="$2" expected="$3"
  export ORBIT_CONFIG_DIR="$tmp/config-${client_id:0:8}"
  "$orbit" login --server "$url" --client-id "$client_id" >"$tmp/login.out" 2>&1 &
  local login=$!
  for _ in $(seq 1 100); do
    grep -qs 'enter the code' "$tmp/login.out" && break
    sleep 0.1
  done
  local complete
  complete="$(grep -o "$url/device?[^ )]*user_code=[A-Z-]*" "$tmp/login.out")"
  if [ "$approve_with" = browser ]; then
    python3 "$here/approve_in_browser.py" "$complete" "$email" "$password"
  else
    local key="" token
    [ "$client_id" = orbit-cli ] || key="$client_id"
    token="$(gql "{\"query\":\"mutation(\$i: LogInInput!) { logIn(input: \$i) { accessToken } }\",\"variables\":{\"i\":{\"email\":\"$email\",\"password\":\"$password\"}}}" "$key" \
      | python3 -c 'import json,sys; print(json.load(sys.stdin)["data"]["logIn"]["accessToken"])')"
    gql "{\"query\":\"mutation(\$i: ApproveDeviceInput!) { approveDevice(input: \$i) { approved } }\",\"variables\":{\"i\":{\"userCode\":\"${complete##*=}\",\"approve\":true}}}" "$token"
    echo
  fi
  wait $login
  cat "$tmp/login.out"
  local mode who
  mode="$(stat -c %a "$ORBIT_CONFIG_DIR/credentials.json")"
  [ "$mode" = 600 ] || { echo "credentials.json has mode $mode, not 600" >&2; exit 1; }
  who="$("$orbit" whoami)"
  echo "orbit whoami: $who"
  # shellcheck disable=SC2053
  [[ "$who" == $expected ]] || { echo "orbit whoami should match $expected" >&2; exit 1; }
}

login_and_check orbit-cli dev@example.com "*<dev@example.com>*DEVELOPER of app Orbit console*"
# Signed in, the developer makes an app and lists theirs (the README's walk-through).
created="$("$orbit" apps create --name "From the CLI")"
echo "orbit apps create: $created" | sed -E 's/(sk_live_)[A-Za-z0-9]+/\1…/'
printf '%s' "$created" | python3 -c 'import json,sys; k=json.load(sys.stdin); assert k["appId"].startswith("app_") and k["publishableKey"].startswith("pk_live_") and k["secretKey"].startswith("sk_live_"), k'
"$orbit" apps list | python3 -c 'import json,sys; apps=json.load(sys.stdin); assert [(a["name"], a["role"]) for a in apps] == [("Device Check", "OWNER"), ("From the CLI", "OWNER")], apps'
login_and_check "$pk" ada@example.com "Ada <ada@example.com>*USER of app Device Check*"
echo "ok: orbit login, orbit whoami and orbit apps, for a developer and for an app's user"
