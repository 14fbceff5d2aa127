#!/usr/bin/env bash
# The peak memory (VmHWM) of `scoreboard serve` (release build) on a board with
# two 64 MiB statuses (one text, one JSON) while 60 concurrent requests, a
# dozen each of /, /json, /metrics, /worker/text and /worker/json, are
# answered. Prints the figures; fails if VmHWM exceeds 11 times the board's
# bytes plus 64 MiB (1.44 GiB here). RELIABILITY.md has the results.
# Usage: scripts/serve-memory.sh [MIB_PER_STATUS [PATH:COUNT,...]]
#   e.g. scripts/serve-memory.sh 64 /:8   (8 concurrent requests of the page)
set -euo pipefail
cd "$(dirname "$0")/.."
export SCOREBOARD_MEMORY_MIB="${1:-64}"
if [ -n "${2:-}" ]; then
  export SCOREBOARD_MEMORY_REQUESTS="$2"
fi
exec nice -n 5 cargo test --locked --release -p scoreboard-cli --test it -- \
  --exact memory::a_dozen_concurrent_requests_of_every_endpoint_share_reads --nocapture
