#!/usr/bin/env bash
# Proxy benchmark: builds release and a minimal C relay (scripts/bench/relay.c, the reference), then
# measures direct loopback, socat, the C relay and the Flatline proxy in interleaved rounds: one
# stream, four streams, 64-byte round trips (p50/p99); medians and ratios from the same run, with
# the targets (≥ 1.0× the C relay's throughput, round trips no slower, ≤ 5 KiB per idle proxied
# connection with 8,000 held open) marked met or NOT MET.
# Usage: scripts/bench-proxy.sh [--bytes N] [--rtt N] [--rounds N] [--idle N]
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh
swift build -c release --product flatline >&2
swift build -c release --product flatline-bench >&2
bin=$(swift build -c release --show-bin-path)
relay="$(mktemp -d)/relay"
trap 'rm -rf "$(dirname "$relay")"' EXIT
cc -O2 -pthread -o "$relay" scripts/bench/relay.c
# Each idle proxied connection takes two descriptors in the proxy and two in the benchmark.
ulimit -n 20000 2>/dev/null || ulimit -n "$(ulimit -Hn)"
"$bin/flatline-bench" "$bin/flatline" --relay "$relay" "$@"
