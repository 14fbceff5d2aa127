#!/usr/bin/env bash
# CI: builds the fuzz targets on the stable toolchain and runs each for a
# short while (FUZZ_SECONDS, default 20) from the committed corpus. Fails on
# a crash, a panic or a hang (an input taking over 10 s). Installs cargo-fuzz
# if missing. Called from .ci/run; works from a clean checkout.
#
# New corpus entries are written to a scratch copy, not to fuzz/corpus/:
# the committed corpus changes only by hand (cargo fuzz cmin, see README.md).
set -euo pipefail
cd "$(dirname "$0")"
export CARGO_TERM_COLOR=never
seconds="${FUZZ_SECONDS:-20}"

if ! cargo fuzz --version >/dev/null 2>&1; then
  cargo install cargo-fuzz --locked
fi
cargo fuzz --version

# `-s none`: no sanitizer, which is what lets cargo-fuzz build on stable.
cargo fuzz build -s none

work="$(mktemp -d)"
# libFuzzer exits without running destructors: remove the scratch boards of
# fuzz processes that are gone.
cleanup() {
  rm -rf "$work"
  for d in /dev/shm/psb-fuzz-* "${TMPDIR:-/tmp}"/psb-fuzz-*; do
    [ -e "$d" ] || continue
    kill -0 "${d##*-}" 2>/dev/null || rm -rf "$d"
  done
}
trap cleanup EXIT
for target in parse_status_file ops_model; do
  echo "=== fuzzing $target for ${seconds}s"
  mkdir -p "$work/$target"
  status=0
  cargo fuzz run -s none "$target" "$work/$target" "corpus/$target" -- \
    -max_total_time="$seconds" -timeout=10 -print_final_stats=1 \
    >"$work/$target.log" 2>&1 || status=$?
  grep -E '^(#[0-9]+ +DONE|stat::number_of_executed_units|stat::average_exec_per_sec)' \
    "$work/$target.log" || true
  if [ "$status" -ne 0 ]; then
    grep -A 6 'panicked at' "$work/$target.log" >&2 || true
    tail -n 30 "$work/$target.log" >&2
    echo "fuzz target $target failed (exit $status); the input is in fuzz/artifacts/$target/" >&2
    exit 1
  fi
done
echo "fuzz CI passed"
