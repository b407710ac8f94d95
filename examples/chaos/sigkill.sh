#!/usr/bin/env bash
# Chaos: `orbit serve` killed with SIGKILL while messages are being sent.
#
# Starts the debug build on a free loopback port (SQLite in a throwaway data
# dir; Postgres in a fresh database when DATABASE_URL is set, REDIS_URL passed
# through), makes an app, a user and a thread, and opens a subscriber
# (subscriber.mjs, graphql-ws) on the thread. Then sends N messages one after
# the other with curl, each retried with its idempotencyKey until it is
# answered; after about 30 it kills the server with `kill -9`, waits a moment
# and starts it again on the same port and data. It asserts that the thread
# holds m0..m(N-1) once each, in order, with the ids the sends were answered
# with, and that the subscriber, which resumed with `after:` its last cursor,
# got each once, in order. Bounded in time; exits non-zero with the reason.
#
#   examples/chaos/sigkill.sh
#   DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres REDIS_URL=redis://127.0.0.1:6379 examples/chaos/sigkill.sh
#
# Used by .ci/run; needs curl, jq, python3, node and npm (and psql with DATABASE_URL).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
orbit="${ORBIT_BIN:-${CARGO_TARGET_DIR:-$root/target}/debug/orbit}"
N="${CHAOS_MESSAGES:-150}"
KILL_AFTER="${CHAOS_KILL_AFTER:-30}"
SEND_LIMIT_S=40 # for sending all N, the restart included

fail() {
  echo "FAIL: $*" >&2
  exit 1
}
[ -x "$orbit" ] || fail "no $orbit: run cargo build -p orbit-api first"
for tool in curl jq python3 node npm; do
  command -v "$tool" >/dev/null || fail "needs $tool"
done

# graphql-ws and ws, as examples/graphql-ws installs them.
if [ ! -d "$here/../graphql-ws/node_modules/graphql-ws" ] || [ ! -d "$here/../graphql-ws/node_modules/ws" ]; then
  (cd "$here/../graphql-ws" && timeout 300 npm ci --no-audit --no-fund --loglevel=error)
fi

tmp="$(mktemp -d)"
data="$tmp/data"
mkdir -p "$data"
server=""
subscriber=""
sender=""
database=""

stop() { # stop <pid>: SIGTERM, then SIGKILL after 5 s
  local pid="$1" i
  [ -n "$pid" ] || return 0
  kill "$pid" 2>/dev/null || return 0
  for i in $(seq 1 50); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  kill -9 "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}
cleanup() {
  local status=$?
  set +e
  stop "$sender"
  stop "$subscriber"
  stop "$server"
  if [ "$status" -ne 0 ] && [ -s "$tmp/server.log" ]; then
    echo "--- the last lines of the server's log" >&2
    tail -n 30 "$tmp/server.log" >&2
  fi
  if [ -n "$database" ]; then
    timeout 30 psql "$DATABASE_URL" -qc "drop database if exists \"$database\" with (force)" >/dev/null ||
      echo "could not drop the database $database" >&2
  fi
  rm -rf "$tmp"
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

server_env=(ORBIT_DATA_DIR="$data" RUST_LOG=warn)
if [ -n "${DATABASE_URL:-}" ]; then
  command -v psql >/dev/null || fail "needs psql with DATABASE_URL"
  database="orbit_chaos_$(date +%s)_$$"
  timeout 30 psql "$DATABASE_URL" -qc "create database \"$database\"" >/dev/null
  run_url="$(python3 -c 'import sys, urllib.parse as u; p = u.urlsplit(sys.argv[1]); print(u.urlunsplit(p._replace(path="/" + sys.argv[2])))' "$DATABASE_URL" "$database")"
  server_env+=(DATABASE_URL="$run_url")
  store="Postgres (database $database)"
else
  store="SQLite"
fi
if [ -n "${REDIS_URL:-}" ]; then
  server_env+=(REDIS_URL="$REDIS_URL" ORBIT_REDIS_PREFIX="orbit_chaos_$$")
  store="$store, Redis"
fi

port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
base="http://127.0.0.1:$port"

start_server() {
  env "${server_env[@]}" ORBIT_LISTEN="127.0.0.1:$port" "$orbit" serve >>"$tmp/server.log" 2>&1 &
  server=$!
  local i
  for i in $(seq 1 300); do # 30 s
    curl -fsS --max-time 2 "$base/readyz" >/dev/null 2>&1 && return 0
    kill -0 "$server" 2>/dev/null || fail "orbit serve exited while starting"
    sleep 0.1
  done
  fail "orbit serve was not ready within 30 s"
}

gql() { # gql <credential> <query> [variables]: the response body
  curl -sS --max-time 10 "$base/graphql" -H "Authorization: Bearer $1" -H 'content-type: application/json' \
    -d "$(jq -cn --arg q "$2" --argjson v "${3:-{\}}" '{query: $q, variables: $v}')"
}

echo "== sigkill: $N messages on $store, orbit serve killed with SIGKILL after $KILL_AFTER"
start_server

keys="$(env "${server_env[@]}" timeout 60 "$orbit" admin create-app --name "chaos sigkill" \
  --owner-email chaos@example.com --owner-password 'a long owner password')"
pk="$(jq -r .publishableKey <<<"$keys")"
token="$(gql "$pk" 'mutation($i: SignUpInput!) { signUp(input: $i) { accessToken } }' \
  '{"i": {"email": "sender@example.com", "password": "correct horse battery staple", "displayName": "Sender"}}' |
  jq -r '.data.signUp.accessToken // empty')"
[ -n "$token" ] || fail "signUp gave no access token"
thread="$(gql "$token" 'mutation { createThread(input: {title: "chaos"}) { thread { id } } }' |
  jq -r '.data.createThread.thread.id // empty')"
[ -n "$thread" ] || fail "createThread gave no thread"

# The subscriber, listening before the first send.
ORBIT_URL="$base" TOKEN="$token" THREAD="$thread" EXPECT="$N" OUT="$tmp/received.txt" READY="$tmp/ready" \
  DEADLINE_S=55 node "$here/subscriber.mjs" >"$tmp/subscriber.log" 2>&1 &
subscriber=$!
for _ in $(seq 1 150); do # 15 s
  [ -f "$tmp/ready" ] && break
  kill -0 "$subscriber" 2>/dev/null || { cat "$tmp/subscriber.log" >&2; fail "the subscriber exited before listening"; }
  sleep 0.1
done
[ -f "$tmp/ready" ] || fail "the subscriber was not listening within 15 s"

# The sender: m0..m(N-1), one at a time, each retried with its key until it is
# answered with its message. Writes "<i> <message id>" to sent.txt and each
# retry's cause to retries.txt.
send_all() {
  local deadline=$((SECONDS + SEND_LIMIT_S)) i body code rc out
  local query='mutation($i: SendMessageInput!) { sendMessage(input: $i) { message { id content } } }'
  for i in $(seq 0 $((N - 1))); do
    # Built without jq (which costs more than the request): the values are plain.
    body="{\"query\":\"$query\",\"variables\":{\"i\":{\"threadId\":\"$thread\",\"content\":\"m$i\",\"idempotencyKey\":\"k$i\"}}}"
    while :; do
      [ "$SECONDS" -lt "$deadline" ] || { echo "sender: m$i not answered within ${SEND_LIMIT_S} s" >&2; return 1; }
      rc=0
      out="$(curl -sS --connect-timeout 2 --max-time 10 -o "$tmp/body" -w '%{http_code}' "$base/graphql" \
        -H "Authorization: Bearer $token" -H 'content-type: application/json' -d "$body" 2>/dev/null)" || rc=$?
      code="${out:-000}"
      if [ "$rc" -ne 0 ] || [ "$code" = 000 ]; then
        echo "m$i curl-exit-$rc" >>"$tmp/retries.txt" # 7 refused, 52 empty reply, 56 reset
        sleep 0.2
        continue
      fi
      if [ "${code:0:1}" = 5 ]; then
        echo "m$i http-$code" >>"$tmp/retries.txt"
        sleep 0.2
        continue
      fi
      out="$(<"$tmp/body")"
      if [ "$code" = 200 ] && [[ "$out" =~ ^\{\"data\":\{\"sendMessage\":\{\"message\":\{\"id\":\"(msg_[0-9a-f]+)\",\"content\":\"m$i\"\}\}\}\}$ ]]; then
        echo "$i ${BASH_REMATCH[1]}" >>"$tmp/sent.txt"
        break
      fi
      echo "sender: m$i answered HTTP $code: $out" >&2
      return 1
    done
  done
}
: >"$tmp/sent.txt"
: >"$tmp/retries.txt"
started=$SECONDS
send_all &
sender=$!

# Kill the server mid-send, once KILL_AFTER sends have been answered.
for _ in $(seq 1 1000); do # 10 s at most
  [ "$(wc -l <"$tmp/sent.txt")" -ge "$KILL_AFTER" ] && break
  kill -0 "$sender" 2>/dev/null || break
  sleep 0.01
done
answered_at_kill="$(wc -l <"$tmp/sent.txt")"
[ "$answered_at_kill" -ge "$KILL_AFTER" ] || fail "only $answered_at_kill sends answered before the kill was due"
kill -9 "$server"
wait "$server" 2>/dev/null || true
echo "killed orbit serve (pid $server) with SIGKILL after $answered_at_kill answered sends"
sleep 1
start_server
echo "started orbit serve again (pid $server) on the same port and data"

# Wait for the sender (bounded by its own deadline).
for _ in $(seq 1 $(((SEND_LIMIT_S + 15) * 10))); do
  kill -0 "$sender" 2>/dev/null || break
  sleep 0.1
done
sender_status=0
wait "$sender" || sender_status=$?
sender=""
[ "$sender_status" -eq 0 ] || fail "the sender failed (status $sender_status)"
[ "$(wc -l <"$tmp/sent.txt")" -eq "$N" ] || fail "the sender recorded $(wc -l <"$tmp/sent.txt") answers, not $N"
send_seconds=$((SECONDS - started))

# The subscriber stops by itself once it has N messages; all are stored by
# now, so it gets 15 s more at most.
for _ in $(seq 1 150); do
  kill -0 "$subscriber" 2>/dev/null || break
  sleep 0.1
done
if kill -0 "$subscriber" 2>/dev/null; then
  echo "subscriber: still short 15 s after the last send" >>"$tmp/subscriber.log"
  stop "$subscriber"
  subscriber_status=124
else
  subscriber_status=0
  wait "$subscriber" || subscriber_status=$?
fi
subscriber=""

# 1. The thread holds m0..m(N-1), each once, in order, with the answered ids.
: >"$tmp/stored.txt"
after="null"
for page in $(seq 1 $((N / 100 + 5))); do
  vars="$(jq -cn --arg id "$thread" --argjson a "$after" '{id: $id, after: $a}')"
  body="$(gql "$token" 'query($id: ID!, $after: String) { thread(id: $id) { messages(first: 100, after: $after) { edges { node { id content } } pageInfo { hasNextPage endCursor } } } }' "$vars")"
  jq -e '.data.thread.messages' <<<"$body" >/dev/null || fail "reading the thread failed: $body"
  jq -r '.data.thread.messages.edges[].node | "\(.id) \(.content)"' <<<"$body" >>"$tmp/stored.txt"
  [ "$(jq -r .data.thread.messages.pageInfo.hasNextPage <<<"$body")" = true ] || break
  after="$(jq -c .data.thread.messages.pageInfo.endCursor <<<"$body")"
  [ "$page" -lt $((N / 100 + 5)) ] || fail "the thread has more pages than $N messages fill"
done
seq 0 $((N - 1)) | sed 's/^/m/' >"$tmp/expected.txt"
if ! cut -d' ' -f2 "$tmp/stored.txt" | diff -q "$tmp/expected.txt" - >/dev/null; then
  echo "--- the thread's messages against m0..m$((N - 1)):" >&2
  cut -d' ' -f2 "$tmp/stored.txt" | diff "$tmp/expected.txt" - | head -n 20 >&2 || true
  fail "the thread does not hold m0..m$((N - 1)) once each in order ($(wc -l <"$tmp/stored.txt") messages stored)"
fi
if ! awk '{print $2 " m" $1}' "$tmp/sent.txt" | diff -q - "$tmp/stored.txt" >/dev/null; then
  fail "a retried send was answered with another message than the one stored"
fi
echo "ok   the thread holds m0..m$((N - 1)) once each, in order, with the ids the sends were answered with"

# 2. The subscriber got each once, in order, across the reconnect.
reconnects="$(grep -c 'subscribing again' "$tmp/subscriber.log" || true)"
if ! diff -q "$tmp/expected.txt" "$tmp/received.txt" >/dev/null; then
  echo "--- the subscriber's log:" >&2
  cat "$tmp/subscriber.log" >&2
  echo "--- what it received against m0..m$((N - 1)):" >&2
  diff "$tmp/expected.txt" "$tmp/received.txt" | head -n 20 >&2 || true
  fail "the subscriber did not get m0..m$((N - 1)) once each in order ($(wc -l <"$tmp/received.txt") received)"
fi
[ "$subscriber_status" -eq 0 ] || { cat "$tmp/subscriber.log" >&2; fail "the subscriber exited with $subscriber_status"; }
[ "$reconnects" -ge 1 ] || fail "the subscriber never lost its socket: the kill did not reach it"
echo "ok   the subscriber got m0..m$((N - 1)) once each, in order, resuming with after: its last cursor ($reconnects resubscription(s))"

# 3. The restarted server is healthy.
curl -fsS --max-time 5 "$base/readyz" >/dev/null || fail "/readyz is not ready after the restart"
echo "ok   /readyz after the restart"

retries="$(wc -l <"$tmp/retries.txt")"
causes="$(awk '{print $2}' "$tmp/retries.txt" | sort | uniq -c | awk '{printf "%s%s x%s", sep, $2, $1; sep=", "}')"
echo "summary: $store; $N messages sent in ${send_seconds}s; killed after $answered_at_kill answered;" \
  "$retries retried request(s)${causes:+ ($causes)}; stored once each in order; delivered once each in order"
