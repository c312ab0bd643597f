#!/usr/bin/env bash
# Proxy benchmark: builds release, then measures direct loopback, socat and the Flatline proxy in
# one run (throughput of one stream, 64-byte round trips, memory per idle connection, fault effect).
# Usage: scripts/bench-proxy.sh [--bytes N] [--rtt N] [--rounds N] [--idle N]
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh
swift build -c release --product flatline >&2
swift build -c release --product flatline-bench >&2
bin=$(swift build -c release --show-bin-path)
# Each idle proxied connection takes two descriptors in the proxy and two in the benchmark.
ulimit -n 20000 2>/dev/null || ulimit -n "$(ulimit -Hn)"
exec "$bin/flatline-bench" "$bin/flatline" "$@"
