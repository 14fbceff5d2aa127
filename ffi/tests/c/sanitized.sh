#!/usr/bin/env bash
# The C parity test (ffi/tests/c/parity.c) built with AddressSanitizer and
# UndefinedBehaviorSanitizer against the static library, and against the
# shared library under valgrind: each run must pass with no error and no
# leak reported. Used by CI; run from anywhere.
set -euo pipefail
cd "$(dirname "$0")/../../.."
target="${CARGO_TARGET_DIR:-target}"
cargo build --locked -p parallel-scoreboard-ffi
lib="$target/debug"
out="$target/c"
mkdir -p "$out"
src=ffi/tests/c/parity.c
cflags=(-std=c11 -Wall -Wextra -Werror -g -I ffi/include)

echo "--- AddressSanitizer + UndefinedBehaviorSanitizer, static library"
cc "${cflags[@]}" -fsanitize=address,undefined -fno-omit-frame-pointer \
  -fno-sanitize-recover=undefined -o "$out/parity-asan" "$src" \
  "$lib/libparallel_scoreboard_ffi.a" -lpthread -ldl -lm
ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:exitcode=1 \
  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  "$out/parity-asan"

echo "--- valgrind, shared library"
cc "${cflags[@]}" -o "$out/parity-shared" "$src" \
  -L "$lib" -lparallel_scoreboard_ffi -Wl,-rpath,"$(cd "$lib" && pwd)"
needed=$(ldd "$out/parity-shared")
case "$needed" in
  *libparallel_scoreboard_ffi.so*) ;;
  *) echo "the program does not load libparallel_scoreboard_ffi.so: $needed" >&2; exit 1 ;;
esac
valgrind -q --leak-check=full --errors-for-leak-kinds=definite,possible \
  --num-callers=40 --suppressions=ffi/tests/c/valgrind.supp \
  --error-exitcode=1 "$out/parity-shared"
