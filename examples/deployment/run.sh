#!/usr/bin/env bash
# Three `orbit serve` processes behind nginx, on one Postgres database and
# one Redis, as docs/deployment.md describes; then, through nginx only:
#
#   (a) HTTP GraphQL: a user signs up with the app's publishable key and
#       creates a thread;
#   (b) requests are spread over all three processes, and the access token
#       one process issued is accepted by the other two (shared keys);
#   (c) a WebSocket subscription (graphql-transport-ws) on one process gets
#       messages sent through the others (check.mjs);
#   (d) the process holding that socket is killed with SIGKILL: requests
#       keep being answered, the client resumes on another process and
#       misses nothing (check.mjs), and later requests go to the two left;
#   (e) a rolling restart while four clients send requests: a process is
#       marked `down` (nginx -s reload), stopped with SIGTERM, started
#       again and put back; every request is answered, and the restarted
#       process answers again;
#   (f) a process stopped with SIGTERM alone, not taken out of nginx first,
#       while four clients send requests: for its shutdown grace
#       (ORBIT_SHUTDOWN_GRACE, longer than nginx's upstream keepalive) it
#       answers /readyz 503 and closes each connection after its answer,
#       then exits; every request is answered.
#
# Uses the debug build (target/debug/orbit, or ORBIT_BIN; build it with
# `cargo build -p orbit-api`), a fresh database orbit_deploy_<random> on
# PG_ADMIN_URL (default postgres://postgres@127.0.0.1:5432/postgres, dropped
# at the end), REDIS_URL (default redis://127.0.0.1:6379) under a prefix of
# its own, and nginx from PATH or /usr/sbin; run as root where apt-get
# exists, it installs Debian's nginx when there is none. nginx runs as its
# own instance from a temporary directory (-p, -c, -e), on a free port; the
# system's nginx, if any, is not touched. Used by .ci/run; needs curl, jq,
# python3, openssl, psql, redis-cli, pgrep, node and npm.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
orbit="${ORBIT_BIN:-${CARGO_TARGET_DIR:-$root/target}/debug/orbit}"
pg_admin_url="${PG_ADMIN_URL:-postgres://postgres@127.0.0.1:5432/postgres}"
redis_url="${REDIS_URL:-redis://127.0.0.1:6379}"

fail() {
  echo "FAIL: $*" >&2
  exit 1
}
[ -x "$orbit" ] || fail "no $orbit: run cargo build -p orbit-api first"
for tool in curl jq python3 openssl psql redis-cli pgrep node npm; do
  command -v "$tool" >/dev/null || fail "needs $tool"
done

tmp="$(mktemp -d)"
# nginx's workers run as nobody when the master is root; they must reach
# their temporary files under the prefix.
chmod 755 "$tmp"
ngx="$tmp/nginx"
mkdir -p "$ngx"
pids=()
loaders=()
nginx_pid=""
database=""
run_id="$(openssl rand -hex 4)"
prefix="orbit_deploy_$run_id"

stop() { # stop <pid>: SIGTERM, then SIGKILL after 5 s
  local pid="$1" i
  [ -n "$pid" ] || return 0
  kill "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null || true; return 0; }
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
  touch "$tmp/stop-loading"
  for pid in "${loaders[@]}"; do stop "$pid"; done
  stop "$nginx_pid"
  for pid in "${pids[@]}"; do stop "$pid"; done
  if [ "$status" -ne 0 ]; then
    for log in "$tmp"/orbit-*.log "$ngx/error.log" "$ngx/access.log"; do
      [ -s "$log" ] || continue
      echo "--- the last lines of $(basename "$log")" >&2
      tail -n 20 "$log" >&2
    done
  fi
  if [ -n "$database" ]; then
    timeout 30 psql "$pg_admin_url" -qc "drop database if exists \"$database\" with (force)" >/dev/null ||
      echo "could not drop the database $database" >&2
  fi
  # Presence keys expire by themselves within a minute; this is tidier.
  redis-cli -u "$redis_url" --scan --pattern "$prefix:*" 2>/dev/null |
    xargs -r redis-cli -u "$redis_url" del >/dev/null 2>&1
  rm -rf "$tmp"
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# nginx: Debian's, installed if missing (as .ci/run does for chromium).
nginx_bin="$(command -v nginx || true)"
[ -n "$nginx_bin" ] || [ ! -x /usr/sbin/nginx ] || nginx_bin=/usr/sbin/nginx
if [ -z "$nginx_bin" ]; then
  [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null ||
    fail "needs nginx: install Debian's (apt-get install nginx) or put one on PATH"
  echo "installing Debian's nginx"
  # Where services may start, Debian also starts its own nginx on port 80;
  # this script runs an instance of its own either way.
  { timeout 600 apt-get install -y -q nginx ||
    { timeout 300 apt-get update -q && timeout 600 apt-get install -y -q nginx; }; } >"$tmp/apt.log" 2>&1 ||
    { tail -n 20 "$tmp/apt.log" >&2; fail "apt-get install nginx failed"; }
  nginx_bin=/usr/sbin/nginx
  [ -x "$nginx_bin" ] || fail "apt-get installed nginx, but there is no $nginx_bin"
fi

# The graphql-ws client for check.mjs.
(cd "$here" && timeout 300 npm ci --no-audit --no-fund --loglevel=error)

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
lb_port="$(free_port)"
lb="http://127.0.0.1:$lb_port"

database="$prefix"
timeout 30 psql "$pg_admin_url" -qc "create database \"$database\"" >/dev/null
database_url="$(python3 -c 'import sys, urllib.parse as u; p = u.urlsplit(sys.argv[1]); print(u.urlunsplit(p._replace(path="/" + sys.argv[2])))' "$pg_admin_url" "$database")"

# What every process of the deployment shares (docs/deployment.md).
# Nothing is written to the data dir: the database is Postgres and both
# keys are given.
shared=(
  DATABASE_URL="$database_url"
  REDIS_URL="$redis_url"
  ORBIT_REDIS_PREFIX="$prefix"
  ORBIT_JWT_SECRET="$(openssl rand -hex 32)"
  ORBIT_SECRETS_KEY="$(openssl rand -hex 32)"
  ORBIT_PUBLIC_URL="$lb"
  ORBIT_TRUSTED_PROXIES=127.0.0.1
  ORBIT_DATA_DIR="$tmp/data"
  # Longer than the upstream keepalive_timeout in nginx.conf (5 s): see (f).
  ORBIT_SHUTDOWN_GRACE=6
  RUST_LOG=warn
)

echo "== three orbit serve processes behind nginx on $lb; Postgres database $database, Redis prefix $prefix"
# Migrations are not serialised between processes: applied once, first.
env "${shared[@]}" timeout 120 "$orbit" migrate >"$tmp/migrate.log" 2>&1 ||
  { cat "$tmp/migrate.log" >&2; fail "orbit migrate failed"; }

ports=()
for i in 1 2 3; do
  port="$(free_port)"
  ports+=("$port")
  # The worker runs in every process (the default, spelled out): its work
  # is claimed with leases, so each item is done by one of them, and the
  # loss of any process leaves the others to do it.
  env "${shared[@]}" ORBIT_LISTEN="127.0.0.1:$port" ORBIT_RUN_WORKER=true \
    "$orbit" serve >"$tmp/orbit-$i.log" 2>&1 &
  pids+=("$!")
done
for i in 0 1 2; do
  for _ in $(seq 1 300); do # 30 s
    curl -fsS --max-time 2 "http://127.0.0.1:${ports[$i]}/readyz" >/dev/null 2>&1 && break
    kill -0 "${pids[$i]}" 2>/dev/null || fail "orbit serve $((i + 1)) exited while starting"
    sleep 0.1
  done
  curl -fsS --max-time 2 "http://127.0.0.1:${ports[$i]}/readyz" >/dev/null 2>&1 ||
    fail "orbit serve $((i + 1)) was not ready within 30 s"
done

nginx_cmd=("$nginx_bin" -p "$ngx/" -c "$ngx/nginx.conf" -e "$ngx/error.log")
render() { # render [index of a process to mark down]...: fills the template in
  local expr=(-e "s/@LISTEN@/127.0.0.1:$lb_port/") i
  for i in 0 1 2; do
    expr+=(-e "s/@ORBIT_$((i + 1))@/127.0.0.1:${ports[$i]}/")
  done
  for i in "$@"; do
    expr+=(-e "s/^\( *server 127\.0\.0\.1:${ports[$i]} .*\);/\1 down;/")
  done
  sed "${expr[@]}" "$here/nginx.conf" >"$ngx/nginx.conf"
  "${nginx_cmd[@]}" -t -q || { cat "$ngx/error.log" >&2; fail "nginx -t refused the configuration"; }
}
reload() { # reload: nginx -s reload, then waits for the old worker to finish and exit
  local before now i
  before="$(pgrep -P "$nginx_pid" | sort)"
  "${nginx_cmd[@]}" -q -s reload
  for i in $(seq 1 150); do # 15 s: worker_shutdown_timeout is 10 s
    now="$(pgrep -P "$nginx_pid" | sort || true)"
    [ -n "$now" ] && [ -z "$(comm -12 <(echo "$before") <(echo "$now"))" ] && return 0
    sleep 0.1
  done
  fail "nginx's old worker was still running 15 s after a reload"
}
render
"${nginx_cmd[@]}" &
nginx_pid=$!
for _ in $(seq 1 100); do
  curl -fsS --max-time 2 "$lb/healthz" >/dev/null 2>&1 && break
  kill -0 "$nginx_pid" 2>/dev/null || fail "nginx exited while starting"
  sleep 0.1
done
curl -fsS --max-time 2 "$lb/healthz" >/dev/null || fail "nginx did not answer within 10 s"
echo "processes: 127.0.0.1:${ports[0]} (pid ${pids[0]}), 127.0.0.1:${ports[1]} (pid ${pids[1]}), 127.0.0.1:${ports[2]} (pid ${pids[2]}); nginx pid $nginx_pid"

# gql <credential> <query> [variables]: prints the body, then the process
# that answered (the last address of X-Upstream) on a line of its own.
gql() {
  local out
  out="$(curl -sS --max-time 10 -D "$tmp/headers" -o "$tmp/body" -w '%{http_code}' "$lb/graphql" \
    -H "Authorization: Bearer $1" -H 'content-type: application/json' \
    -d "$(jq -cn --arg q "$2" --argjson v "${3:-{\}}" '{query: $q, variables: $v}')")" ||
    fail "curl through nginx failed"
  [ "$out" = 200 ] || fail "HTTP $out through nginx: $(head -c 300 "$tmp/body")"
  jq -e '.errors == null' "$tmp/body" >/dev/null || fail "GraphQL errors: $(head -c 300 "$tmp/body")"
  cat "$tmp/body"
  echo
  tr -d '\r' <"$tmp/headers" | sed -n 's/^[Xx]-[Uu]pstream: //p' | awk -F', ' '{print $NF}'
}

# (a)
keys="$(env "${shared[@]}" timeout 60 "$orbit" admin create-app --name "deployment check" \
  --owner-email ops@example.com --owner-password 'a long owner password')"
pk="$(jq -r .publishableKey <<<"$keys")"
out="$(gql "$pk" 'mutation($i: SignUpInput!) { signUp(input: $i) { accessToken user { id } } }' \
  '{"i": {"email": "ada@example.com", "password": "correct horse battery staple", "displayName": "Ada"}}')"
token="$(head -n 1 <<<"$out" | jq -r '.data.signUp.accessToken // empty')"
user="$(head -n 1 <<<"$out" | jq -r '.data.signUp.user.id // empty')"
issued_by="$(tail -n 1 <<<"$out")"
[ -n "$token" ] && [ -n "$user" ] || fail "signUp gave no access token"
out="$(gql "$token" 'mutation { createThread(input: {title: "Through nginx"}) { thread { id } } }')"
thread="$(head -n 1 <<<"$out" | jq -r '.data.createThread.thread.id // empty')"
[ -n "$thread" ] || fail "createThread gave no thread"
echo "PASS (a) HTTP GraphQL through nginx: signUp with the publishable key (answered by $issued_by), createThread (answered by $(tail -n 1 <<<"$out"))"

# (b)
: >"$tmp/answered"
for _ in $(seq 1 12); do
  out="$(gql "$token" '{ me { id } }')"
  [ "$(head -n 1 <<<"$out" | jq -r '.data.me.id')" = "$user" ] || fail "me is not the user who signed up: $out"
  tail -n 1 <<<"$out" >>"$tmp/answered"
done
spread="$(sort "$tmp/answered" | uniq -c | awk '{printf "%s%s x%s", sep, $2, $1; sep=", "}')"
[ "$(sort -u "$tmp/answered" | wc -l)" -eq 3 ] || fail "12 requests were answered by $spread, not by all three processes"
for port in "${ports[@]}"; do
  grep -qx "127.0.0.1:$port" "$tmp/answered" || fail "127.0.0.1:$port answered none of the 12 requests"
done
metrics_lb="$(curl -sS -o /dev/null -w '%{http_code}' "$lb/metrics")"
[ "$metrics_lb" = 403 ] || fail "/metrics through nginx answered $metrics_lb, not 403"
for port in "${ports[@]}"; do
  # Read whole first: `curl | grep -q` fails under pipefail when grep
  # exits before curl has written everything (SIGPIPE).
  metrics="$(curl -fsS --max-time 5 "http://127.0.0.1:$port/metrics")" ||
    fail "127.0.0.1:$port/metrics did not answer"
  grep -q '^orbit_http_requests_total{' <<<"$metrics" ||
    fail "127.0.0.1:$port/metrics has no orbit_http_requests_total"
done
echo "PASS (b) 12 requests through nginx answered by all three processes ($spread), each accepting the token $issued_by issued; /metrics refused by nginx (403), served by each process at its own address"

# (c) and (d): check.mjs kills the process that holds its socket.
pid_map="$(for i in 0 1 2; do echo "127.0.0.1:${ports[$i]} ${pids[$i]}"; done |
  jq -Rn '[inputs | split(" ") | {(.[0]): (.[1] | tonumber)}] | add')"
check_status=0
# The group keeps bash's notice of its child's death ("Killed") out of the
# output; check.mjs's own errors go to stderr as usual.
{
  ORBIT_URL="$lb" TOKEN="$token" THREAD="$thread" PIDS="$pid_map" KILLED="$tmp/killed" \
    timeout 90 node "$here/check.mjs" 2>&3 || check_status=$?
  [ -s "$tmp/killed" ] && wait "$(jq -r --arg a "$(cat "$tmp/killed")" '.[$a]' <<<"$pid_map")" || true
} 3>&2 2>/dev/null
[ "$check_status" -eq 0 ] || fail "check.mjs failed"
killed="$(cat "$tmp/killed")"
kill -0 "$(jq -r --arg a "$killed" '.[$a]' <<<"$pid_map")" 2>/dev/null && fail "$killed is still running"

: >"$tmp/answered"
for _ in $(seq 1 12); do
  out="$(gql "$token" '{ me { id } }')"
  [ "$(head -n 1 <<<"$out" | jq -r '.data.me.id')" = "$user" ] || fail "me is not the user who signed up: $out"
  tail -n 1 <<<"$out" >>"$tmp/answered"
done
spread="$(sort "$tmp/answered" | uniq -c | awk '{printf "%s%s x%s", sep, $2, $1; sep=", "}')"
! grep -qx "$killed" "$tmp/answered" || fail "the killed process $killed answered: $spread"
[ "$(sort -u "$tmp/answered" | wc -l)" -eq 2 ] || fail "12 requests after the kill were answered by $spread, not by the two processes left"
echo "PASS (d) after the kill, 12 more requests through nginx all answered, by the two processes left ($spread)"

# (e)
killed_index=""
restart_index=""
for i in 0 1 2; do
  if [ "127.0.0.1:${ports[$i]}" = "$killed" ]; then killed_index="$i"; elif [ -z "$restart_index" ]; then restart_index="$i"; fi
done
restarting="127.0.0.1:${ports[$restart_index]}"
load() { # requests through nginx until the stop file appears: "<status> <X-Upstream>" a line
  while [ ! -e "$tmp/stop-loading" ]; do
    curl -sS -o /dev/null --max-time 10 -w '%{http_code} %header{x-upstream}\n' "$lb/graphql" \
      -H "Authorization: Bearer $token" -H 'content-type: application/json' -d '{"query": "{ me { id } }"}' \
      2>/dev/null || echo "000 curl-failed"
  done
}
start_loading() { # four clients running load() in the background
  rm -f "$tmp/stop-loading" "$tmp"/load-*
  for w in 1 2 3 4; do
    load >"$tmp/load-$w" &
    loaders+=("$!")
  done
  sleep 0.5
}
stop_loading() { # stop_loading <when>: stops the clients; fails unless every request was answered 200; sets total
  touch "$tmp/stop-loading"
  for pid in "${loaders[@]}"; do wait "$pid" || true; done
  loaders=()
  total="$(cat "$tmp"/load-* | wc -l)"
  local answered
  answered="$(cat "$tmp"/load-* | awk '$1 == 200' | wc -l)"
  if [ "$answered" -ne "$total" ]; then
    cat "$tmp"/load-* | awk '$1 != 200' | sort | uniq -c >&2
    fail "$((total - answered)) of $total requests $1 were not answered 200"
  fi
}
start_loading
# Out of rotation first, so that no new request and no kept-alive
# connection of nginx's reaches the process when it stops.
render "$killed_index" "$restart_index"
reload
kill -TERM "${pids[$restart_index]}"
stopped=0
wait "${pids[$restart_index]}" || stopped=$?
[ "$stopped" -eq 0 ] || fail "$restarting exited with status $stopped on SIGTERM"
env "${shared[@]}" ORBIT_LISTEN="$restarting" ORBIT_RUN_WORKER=true "$orbit" serve >>"$tmp/orbit-$((restart_index + 1)).log" 2>&1 &
pids[restart_index]=$!
for _ in $(seq 1 300); do # 30 s
  curl -fsS --max-time 2 "http://$restarting/readyz" >/dev/null 2>&1 && break
  kill -0 "${pids[$restart_index]}" 2>/dev/null || fail "orbit serve exited while starting again"
  sleep 0.1
done
render "$killed_index"
reload
marks=()
for w in 1 2 3 4; do marks+=("$(wc -l <"$tmp/load-$w")"); done
back=""
for _ in $(seq 1 100); do # 10 s
  for w in 1 2 3 4; do
    tail -n +"$((marks[w - 1] + 1))" "$tmp/load-$w" | awk '{print $NF}' | grep -qx "$restarting" && back=yes
  done
  [ -n "$back" ] && break
  sleep 0.1
done
stop_loading "during the rolling restart"
[ -n "$back" ] || fail "$restarting answered nothing after it was put back"
echo "PASS (e) a rolling restart of $restarting (marked down, nginx -s reload, SIGTERM, started again, put back) while 4 clients sent $total requests through nginx: every one answered 200, and the restarted process answers again"

# (f) SIGTERM alone: the process keeps serving for its grace, saying it is
# stopping, and closes each connection after answering on it, while nginx
# closes the idle ones it keeps (keepalive_timeout 5 s < the 6 s grace);
# once its listener closes, nginx passes new connections on.
start_loading
kill -TERM "${pids[$restart_index]}"
stopping=""
for _ in $(seq 1 30); do # 3 s
  status="$(curl -s -o /dev/null --max-time 2 -w '%{http_code}' "http://$restarting/readyz" || true)"
  [ "$status" = 503 ] && stopping=yes && break
  sleep 0.1
done
[ -n "$stopping" ] || fail "$restarting did not answer /readyz 503 during its shutdown grace"
stopped=0
wait "${pids[$restart_index]}" || stopped=$?
[ "$stopped" -eq 0 ] || fail "$restarting exited with status $stopped on SIGTERM"
sleep 0.5
stop_loading "around a plain SIGTERM"
echo "PASS (f) $restarting stopped with SIGTERM alone while 4 clients sent $total requests through nginx: /readyz 503 during its grace, then it exited 0, and every request was answered 200"

echo "PASS three orbit serve processes behind nginx: HTTP, spread, a subscription across processes, a process killed, a rolling restart, a plain SIGTERM"
