#!/usr/bin/env bash
# The long exploration sweeps whose figures docs/explore.md and the closing notes quote (the test
# command runs a short slice of each):
#   - no false alarms: the built-in client and the shipped fixed clients (Node, Python websockets,
#     the browser page), seeds 1-100 with an even mix of kinds and 101-200 with --swarm;
#   - bugs nobody wrote a scenario for: the Node client's four sequence mistakes, seeds 1-50 each,
#     shrunk (3 of 3) within a budget.
# Usage: scripts/explore-sweep.sh [OUT]   (default .build/explore-sweep; about 90 minutes on 2 cores)
#   FLATLINE=path  the flatline binary (default: the debug build)   JOBS=N (default 4)
#   ONLY="builtin node-bugs"  run some parts: builtin node python browser node-bugs
set -uo pipefail
cd "$(dirname "$0")/.."
out=${1:-.build/explore-sweep}
flatline=${FLATLINE:-$(swift build --show-bin-path)/flatline}
jobs=${JOBS:-4}
only=${ONLY:-"builtin node python browser node-bugs"}
mkdir -p "$out"
summary="$out/summary.txt"
: > "$summary"

sweep() {  # name world args...
    local name=$1 world=$2
    shift 2
    local log="$out/$name.log" start
    start=$(date +%s)
    rm -rf "$out/$name"
    "$flatline" explore "$world" --jobs "$jobs" --out "$out/$name" --junit "$out/$name.xml" "$@" > "$log" 2>&1
    local status=$?
    local last
    last=$(grep -E "^[0-9]+ schedules, " "$log" | tail -1)
    echo "$name: exit $status in $(( $(date +%s) - start ))s — $last" | tee -a "$summary"
    grep -E "^(FAIL|ERROR|minimal:|shrinking)" "$log" | sed 's/^/    /' | cut -c1-400 | tee -a "$summary"
}

for part in $only; do
    case $part in
        builtin|node|python|browser)
            case $part in
                builtin) world=scenarios/explore/builtin.yaml ;;
                node) world=scenarios/explore/node-fixed.yaml ;;
                python) world=scenarios/explore/python-websockets.yaml ;;
                browser) world=scenarios/explore/browser-fixed.yaml ;;
            esac
            sweep "$part-even" "$world" --seeds 1-100 --budget 40m
            sweep "$part-swarm" "$world" --seeds 101-200 --swarm --budget 40m
            ;;
        node-bugs)
            for bug in stale-heartbeat attempts-never-reset lock-kept-after-refused close-keeps-timer; do
                sweep "node-$bug" scenarios/explore/node-fixed.yaml --var "bug=$bug" --seeds 1-50 --budget 15m
            done
            ;;
        *) echo "unknown part '$part' (builtin node python browser node-bugs)"; exit 2 ;;
    esac
done
echo "summary: $summary"
