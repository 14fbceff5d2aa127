#!/usr/bin/env bash
# System calls per operation, counted with `strace -c`: each operation is run
# N times and 0 times in the same program (examples/ops.rs), and the difference
# of the two totals is divided by N.
#
#   benches/syscalls.sh           # prints the table
#   benches/syscalls.sh --check   # also fails unless updates make 0 and warm
#                                 # reads at most 4 system calls each
set -euo pipefail
cd "$(dirname "$0")/.."
check=false
[[ "${1:-}" == "--check" ]] && check=true
command -v strace >/dev/null || { echo "strace is needed (apt-get install strace)" >&2; exit 2; }
cargo build --quiet --release --example ops
ops=target/release/examples/ops
N=${N:-2000}


# The total number of system calls of `ops ARGS...`, run with environment ENVS.
calls() {
  local envs=$1 out rc=0
  shift
  out=$(mktemp)
  # shellcheck disable=SC2086 # ENVS is a list of NAME=VALUE words
  env $envs strace -f -c -o "$out" "$ops" "$@" >/dev/null || rc=$?
  awk '$NF == "total" { print $4 }' "$out"
  rm -f "$out"
  return $rc
}

failed=0
row() { # label, limit, env, args (with N where the count goes)
  local label=$1 limit=$2 envs=$3
  shift 3
  local a0=() an=()
  for a in "$@"; do
    a0+=("${a/#N/0}")
    an+=("${a/#N/$N}")
  done
  local c0 cn per
  c0=$(calls "$envs" "${a0[@]}")
  cn=$(calls "$envs" "${an[@]}")
  per=$(awk -v a="$c0" -v b="$cn" -v n="$N" 'BEGIN { printf "%.2f", (b - a) / n }')
  printf '%-44s %8s %10s %10s %10s\n' "$label" "$N" "$c0" "$cn" "$per"
  if [[ "$limit" != "-" ]] && awk -v p="$per" -v l="$limit" 'BEGIN { exit !(p > l) }'; then
    echo "  ^ more than $limit system calls per operation" >&2
    failed=1
  fi
}

printf '%-44s %8s %10s %10s %10s\n' operation N "calls(0)" "calls(N)" "per op"
row "Worker::update, 64 B" 0 "" worker-update N
row "Scoreboard::update, 64 B" 0 "" board-update N
row "Scoreboard::update, 64 B, per-thread id" 0 "" board-update-thread-id N
for w in 10 1000 10000; do
  row "read_all, $w workers x 256 B (watch)" 4 "" read-all N $w
done
row "read_into, 1000 workers x 256 B (watch)" 4 "" read-into N 1000
N=$(( N / 10 )) row "read_all, 1000 workers (no watch: listing)" - "PARALLEL_SCOREBOARD_NO_WATCH=1" read-all N 1000

if $check && [[ $failed != 0 ]]; then
  exit 1
fi
