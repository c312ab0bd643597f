#!/usr/bin/env bash
# The main job: builds Flatline, starts the heartbeat server on a free port, runs the built-in
# client against it for a few seconds and prints both sides' events.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh
swift build --product flatline >&2
bin=$(swift build --show-bin-path)/flatline

events=$(mktemp)
"$bin" server --port 0 --dialect json --reap-after 3s --run-for 10s >"$events" &
server=$!
trap 'kill "$server" 2>/dev/null || true; rm -f "$events"' EXIT

# The server's first event names its port.
for _ in $(seq 100); do
    port=$(sed -n 's/.*server listening host=[^ ]* port=\([0-9]*\).*/\1/p' "$events" | head -n 1)
    [ -n "$port" ] && break
    sleep 0.1
done
[ -n "${port:-}" ] || { echo "run: the server did not start" >&2; cat "$events" >&2; exit 2; }

"$bin" client "ws://127.0.0.1:$port/" --dialect json --interval 500ms --timeout 250ms \
    --reconnect-delay 300ms --max-attempts 5 --run-for 2s
kill -INT "$server"
wait "$server" || true
echo "--- server events"
cat "$events"
