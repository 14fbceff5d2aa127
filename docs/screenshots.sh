#!/usr/bin/env bash
# Remakes docs/watch.png and docs/serve.png: the watch view of a running
# `scoreboard demo` as tmux shows it, and the status page of the prefork
# example's board (JSON statuses with request counters, two slow requests in
# flight) as Chromium shows it. Needs tmux, chromium and curl; run from the
# repository's root.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -p scoreboard-cli --bin scoreboard --example prefork
bin=target/release/scoreboard
board=/dev/shm/scoreboard-screenshots-$$
work=$(mktemp -d)
socket=screenshots-$$
cleanup() {
  tmux -L "$socket" kill-server 2>/dev/null || true
  for pid in ${server:-} ${slow:-} ${prefork:-}; do kill "$pid" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

tmux -L "$socket" -f /dev/null new-session -d -x 112 -y 20 "$bin demo --dir $board; sleep 600"
sleep 5.5
tmux -L "$socket" capture-pane -p >"$work/watch.txt"

target/release/examples/prefork --listen 127.0.0.1:0 >"$work/prefork.out" &
prefork=$!
until grep -q '^listening' "$work/prefork.out"; do sleep 0.1; done
site=$(sed -n 's/^listening on \(http:[^ ]*\) .*/\1/p' "$work/prefork.out")
prefork_board=$(sed -n 's/.*board \(\/[^ ]*\).*/\1/p' "$work/prefork.out")
for _ in 1 2 3; do curl -sS -o /dev/null "$site"; done
slow=""
for _ in 1 2; do
  curl -sS -o /dev/null "${site}sleep?ms=20000" &
  slow="$slow $!"
done
sleep 0.5
"$bin" serve "$prefork_board" --listen 127.0.0.1:0 >"$work/serve.out" &
server=$!
until grep -q listening "$work/serve.out"; do sleep 0.1; done
url=$(sed -n 's/^listening on //p' "$work/serve.out")
# A first read, then more requests, so that the page shows rates since it.
curl -fsS -o /dev/null "$url"
for _ in 1 2 3 4 5 6; do curl -sS -o /dev/null "$site"; done
sleep 1
chromium --headless --no-sandbox --disable-gpu --hide-scrollbars --window-size=1000,620 \
  --screenshot="$PWD/docs/serve.png" "$url" 2>/dev/null

# The terminal as HTML: light text on black, the column header reversed.
{
  echo '<!DOCTYPE html><html><head><meta charset="utf-8"><style>'
  echo 'body{margin:0;background:#1e1e1e}pre{margin:0;padding:12px;color:#ddd;'
  echo 'font:15px/1.25 "DejaVu Sans Mono",monospace}.h{background:#ddd;color:#1e1e1e;display:inline-block;width:112ch}'
  echo '</style></head><body><pre>'
  sed -e 's/&/\&amp;/g' -e 's/</\&lt;/g' -e 's/>/\&gt;/g' \
    -e 's/^\(ID  .*\)$/<span class="h">\1<\/span>/' "$work/watch.txt"
  echo '</pre></body></html>'
} >"$work/watch.html"
chromium --headless --no-sandbox --disable-gpu --hide-scrollbars --window-size=1060,430 \
  --screenshot="$PWD/docs/watch.png" "file://$work/watch.html" 2>/dev/null
tmux -L "$socket" send-keys q
sleep 3
echo "wrote docs/watch.png and docs/serve.png"
