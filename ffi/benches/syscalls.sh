#!/usr/bin/env bash
# Updates from C (ffi/benches/c/ops.c, linked with the release static
# library): system calls per update counted with `strace -c` (each mode run
# with N and with 0 updates, the difference divided by N), then the time of
# one update.
#
#   ffi/benches/syscalls.sh           # prints the table and the times
#   ffi/benches/syscalls.sh --check   # fails unless updates make 0 system calls
set -euo pipefail
cd "$(dirname "$0")/../.."
check=false
[[ "${1:-}" == "--check" ]] && check=true
command -v strace >/dev/null || { echo "strace is needed (apt-get install strace)" >&2; exit 2; }
target="${CARGO_TARGET_DIR:-target}"
cargo build --quiet --locked --release -p parallel-scoreboard-ffi
mkdir -p "$target/c"
ops="$target/c/ops"
cc -std=c11 -O2 -Wall -Wextra -Werror -I ffi/include -o "$ops" ffi/benches/c/ops.c \
  "$target/release/libparallel_scoreboard_ffi.a" -lpthread -ldl -lm
N=${N:-2000}

calls() {
  local out rc=0
  out=$(mktemp)
  strace -f -c -o "$out" "$ops" "$@" >/dev/null || rc=$?
  awk '$NF == "total" { print $4 }' "$out"
  rm -f "$out"
  return $rc
}

failed=0
printf '%-28s %8s %10s %10s %10s\n' operation N "calls(0)" "calls(N)" "per op"
for mode in worker-update board-update; do
  c0=$(calls "$mode" 0)
  cn=$(calls "$mode" "$N")
  per=$(awk -v a="$c0" -v b="$cn" -v n="$N" 'BEGIN { printf "%.2f", (b - a) / n }')
  printf '%-28s %8s %10s %10s %10s\n' "psb_${mode/-/_}, 64 B" "$N" "$c0" "$cn" "$per"
  if awk -v p="$per" 'BEGIN { exit !(p > 0) }'; then
    echo "  ^ an update made system calls" >&2
    failed=1
  fi
done
echo "64 B updates from C, by the status's offset in its page (median of 5 rounds of ${TIME_N:-1000000}, CPU time):"
"$ops" time "${TIME_N:-1000000}"
if $check && [[ $failed != 0 ]]; then
  exit 1
fi
