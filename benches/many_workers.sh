#!/usr/bin/env bash
# Reads a board of 100,000 live workers (more than vm.max_map_count, 65,530 by
# default, which this never changes) with the library, `scoreboard list` and
# `scoreboard serve`, checks that every read has every worker, and prints the
# first and warm read times and each reader's memory (VmHWM / VmRSS).
#
#   benches/many_workers.sh            # 100,000 workers
#   N=20000 benches/many_workers.sh    # fewer
#   ALSO_MAX_MAPPINGS=0 benches/many_workers.sh  # and a library reader keeping
#                                      # at most that many mappings
#
# The workers are held by N/PER processes (a worker is a mapping and a
# descriptor; the holders raise their open-file limit, which needs root above
# the hard limit). The board lives in $BOARD_PARENT (default /dev/shm): about
# 4 KiB of memory per worker.
set -euo pipefail
cd "$(dirname "$0")/.."
N=${N:-100000}
PER=${PER:-19000}
WARM=${WARM:-5}

cargo build --release --locked -q --example many_workers -p parallel-scoreboard
cargo build --release --locked -q -p scoreboard-cli
bin=target/release/examples/many_workers
sb=target/release/scoreboard

tmp=$(mktemp -d "${BOARD_PARENT:-/dev/shm}/psb-many.XXXXXX")
dir=$tmp/board
fifo=$tmp/hold
mkfifo "$fifo"
# This end keeps the holders' stdin open; closing it lets them exit.
exec 3<>"$fifo"
pids=()
cleanup() {
  exec 3>&- || true
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT

echo "vm.max_map_count=$(cat /proc/sys/vm/max_map_count) workers=$N holders=$(((N + PER - 1) / PER))"
t0=$(date +%s.%N)
left=$N
h=0
while ((left > 0)); do
  n=$((left < PER ? left : PER))
  "$bin" hold "$dir" "$n" "h$h" <"$fifo" >"$tmp/ready$h" 3>&- &
  pids+=($!)
  left=$((left - n))
  h=$((h + 1))
done
for ((i = 0; i < h; i++)); do
  until grep -q ready "$tmp/ready$i" 2>/dev/null; do
    kill -0 "${pids[$i]}" || { echo "holder $i failed" >&2; exit 1; }
    sleep 0.2
  done
done
echo "workers made in $(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }') s"

echo "library (many_workers read, $WARM warm reads, median):"
"$bin" read "$dir" "$N" "$WARM"
if [ -n "${ALSO_MAX_MAPPINGS:-}" ]; then
  echo "library with max_mappings($ALSO_MAX_MAPPINGS):"
  MAX_MAPPINGS=$ALSO_MAX_MAPPINGS "$bin" read "$dir" "$N" "$WARM"
fi

echo "scoreboard list (one read per process):"
for run in 1 2; do
  /usr/bin/time -f "list run $run: %e s (cpu %U user + %S sys), max RSS %M kB" "$sb" list "$dir" >"$tmp/list" 2>"$tmp/list.err" || {
    cat "$tmp/list.err" >&2
    exit 1
  }
  tail -1 "$tmp/list.err"
  rows=$(($(wc -l <"$tmp/list") - 1))
  [ "$rows" = "$N" ] || { echo "list printed $rows workers, not $N" >&2; exit 1; }
done

echo "scoreboard serve (/json, then /metrics):"
"$sb" serve "$dir" --listen 127.0.0.1:0 >"$tmp/serve" 2>"$tmp/serve.err" 3>&- &
serve=$!
pids+=($serve)
until grep -q listening "$tmp/serve" 2>/dev/null; do
  kill -0 "$serve" || { cat "$tmp/serve.err" >&2; exit 1; }
  sleep 0.1
done
url=$(sed -n 's/.*listening on \(http[^ ]*\)\/$/\1/p' "$tmp/serve")
fetch() { curl -sS -o "$tmp/body" -w '%{http_code} %{time_total}\n' "$url$1"; }
# serve's CPU time (user + system) in ms, from its clock ticks.
cpu_ms() { awk -v hz="$(getconf CLK_TCK)" '{ print ($14 + $15) * 1000 / hz }' "/proc/$serve/stat"; }
for run in first $(seq "$WARM" | sed 's/.*/warm/'); do
  before=$(cpu_ms)
  read -r code took < <(fetch /json)
  [ "$code" = 200 ] || { echo "/json answered $code" >&2; exit 1; }
  echo "/json $run: ${took} s (serve cpu $(($(cpu_ms) - before)) ms), $(stat -c %s "$tmp/body") bytes"
done
read -r code took < <(fetch /metrics)
grep -qx "scoreboard_workers $N" "$tmp/body" || { echo "/metrics: not $N workers ($code)" >&2; exit 1; }
echo "/metrics: ${took} s, scoreboard_workers $N"
grep -E '^(VmHWM|VmRSS|RssAnon)' "/proc/$serve/status" | tr -s ' \t' ' ' | sed 's/^/serve /'
