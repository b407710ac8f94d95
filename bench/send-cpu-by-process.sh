#!/bin/bash
# Where the cores go in `orbit-bench send`'s spread phase, every process
# counted: each process's user + system ticks (/proc/<pid>/stat) over 5 s
# of the spread, divided by the sends in it (docs/benchmarks.md, "Where the
# two cores go in the spread").
#
#   DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres REDIS_URL=redis://127.0.0.1:6379 \
#     bench/send-cpu-by-process.sh target/release/orbit-bench target/release/orbit
set -euo pipefail
bench_bin=${1:?the orbit-bench binary}
orbit_bin=${2:?the orbit binary}
: "${DATABASE_URL:?a Postgres URL}"
ulimit -n 20000 || true
out=$(mktemp)
trap 'rm -f "$out"' EXIT

ticks() { # user + system ticks of every process whose command line matches $1
  local total=0 pid used
  for pid in $(pgrep -f "$1" || true); do
    used=$(awk '{print $14 + $15}' "/proc/$pid/stat" 2>/dev/null || echo 0)
    total=$((total + used))
  done
  echo "$total"
}
sample() {
  echo "$(ticks postgres) $(ticks redis-server) $(ticks "$(basename "$orbit_bin") serve") $(ticks "$(basename "$bench_bin") send") $(date +%s.%N)"
}

"$bench_bin" send --orbit-bin "$orbit_bin" --clients 32 --threads 64 --seconds 10 --pgbench-clients 8 > "$out" 2>&1 &
bench=$!
# The spread begins once the first pgbench run has ended.
until pgrep -x pgbench > /dev/null; do sleep 0.1; done
while pgrep -x pgbench > /dev/null; do sleep 0.1; done
sleep 2
before=$(sample)
sleep 5
after=$(sample)
wait "$bench"
grep -E '^\| (phase|spread)' "$out"
rate=$(grep -E '^\| spread' "$out" | awk -F'|' '{gsub(/ /, "", $6); print $6}')
python3 - "$rate" $before $after <<'PY'
import sys
rate = float(sys.argv[1])
before, after = list(map(float, sys.argv[2:7])), list(map(float, sys.argv[7:12]))
seconds = after[4] - before[4]
sends = rate * seconds
for i, name in enumerate(["Postgres", "Redis", "orbit serve", "orbit-bench"]):
    cpu = (after[i] - before[i]) / 100.0  # ticks of 10 ms
    print(f"{name}: {cpu / seconds:.2f} cores, {cpu * 1000 / sends:.3f} ms a send")
PY
