#!/usr/bin/env bash
# Load one agent with wrk and print its rate, p99 and CPU per event for each of its threads
# (main, SQLite writer, checkpointer, V8 helpers), read from /proc/<pid>/task. Used to compare
# two builds side by side (ROOT=another checkout with its own dist/), alternating runs so
# machine noise hits both alike.
#   bench/threads.sh push JOBS BATCH     single events (BATCH=1) or batches over JOBS jobs
#   bench/threads.sh pushgateway         Pushgateway-API PUTs over 10k groups
# Environment: ROOT (checkout, default this one), DUR (process|power), SECONDS_RUN (default 8),
# NODE_FLAGS (start `node $NODE_FLAGS bin/jobpulse.js` instead of the launcher's own flags).
set -euo pipefail
ROOT=${ROOT:-$(cd "$(dirname "$0")/.." && pwd)}
LUA_DIR=$(cd "$(dirname "$0")" && pwd)
cd "$ROOT"
PORT=$(node -e "const s=require('net').createServer().listen(0,'127.0.0.1',()=>{console.log(s.address().port);s.close()})")
D=$(mktemp -d)
JOBPULSE_DURABILITY=${DUR:-process} JOBPULSE_PORT=$PORT JOBPULSE_HOST=127.0.0.1 JOBPULSE_DB=$D/b.db JOBPULSE_LOG_LEVEL=warn JOBPULSE_LIMITS__MAX_JOBS=1000000 ${NODE_FLAGS:+node $NODE_FLAGS} bin/jobpulse.js serve &
P=$!
trap 'kill -TERM $P 2>/dev/null; wait $P 2>/dev/null; rm -rf "$D"' EXIT
for _ in $(seq 100); do curl -fs "http://127.0.0.1:$PORT/readyz" >/dev/null && break; sleep 0.1; done
if [ "$1" = push ]; then
  export JOBS=$2 BATCH=$3; SCRIPT=$LUA_DIR/wrk-push.lua; URL=http://127.0.0.1:$PORT/push; PER=$3
else
  export GROUPS=10000; SCRIPT=$LUA_DIR/wrk-pushgateway.lua; URL=http://127.0.0.1:$PORT; PER=1
fi
wrk -t2 -c64 -d3s -s "$SCRIPT" "$URL" >/dev/null # warm-up: JIT, every job's or group's first push
sleep 1
snap() { for t in /proc/$P/task/*; do echo "$(basename "$t") $(tr ' ' '_' < "$t/comm") $(awk '{print $14+$15}' "$t/stat")"; done | sort; }
snap > "$D/before"
OUT=$(wrk -t2 -c${CONNS:-64} -d"${SECONDS_RUN:-8}"s --latency -s "$SCRIPT" "$URL")
snap > "$D/after"
REQS=$(echo "$OUT" | awk '/requests in/{print $1}')
echo "$1 ${2:-} ${3:-}: $(echo "$OUT" | awk '/Requests\/sec/{print $2}') req/s, p99 $(echo "$OUT" | awk '/ 99%/{print $2}'), load $(cut -d' ' -f1 /proc/loadavg)"
join "$D/before" "$D/after" | awk -v n="$REQS" -v b="$PER" '{d=$5-$3; t+=d; if (d>10) printf "  thread %s %s: %.1f µs CPU/event\n", $1, $2, d*1e4/(n*b)} END {printf "  all threads: %.1f µs CPU/event\n", t*1e4/(n*b)}'
