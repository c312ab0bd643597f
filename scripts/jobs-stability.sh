#!/usr/bin/env bash
# How many scenarios may run at once: runs the bundled suite RUNS times (default 20) for each --jobs
# value under `stress-ng --cpu 2` (two busy workers on top: a loaded CI machine), and prints per
# value the wall time (median, worst), the failures and the smallest margin seen over all runs;
# each failed check goes to stderr.
#   scripts/jobs-stability.sh [RUNS] [JOBS…]        (default: 20, jobs 1 2 4 8 19)
#   FLATLINE=path/to/flatline to measure another build (default: the debug build run.sh uses)
set -euo pipefail
cd "$(dirname "$0")/.."
runs="${1:-20}"
shift || true
jobs=("${@:-1 2 4 8 19}")
read -r -a jobs <<< "${jobs[*]}"
scripts/bootstrap.sh >&2
command -v stress-ng >/dev/null || { apt-get install -y stress-ng >&2 || { echo "stress-ng is needed (apt-get install stress-ng)" >&2; exit 2; }; }
if [ -z "${FLATLINE:-}" ]; then swift build --product flatline >&2; FLATLINE="$(swift build --show-bin-path)/flatline"; fi
stress-ng --cpu 2 --timeout 3600s --quiet & load=$!
trap 'kill "$load" 2>/dev/null; wait "$load" 2>/dev/null || true' EXIT
sleep 1
echo "| --jobs | runs | wall median s | wall worst s | failed runs | smallest margin ms |"
echo "|---|---|---|---|---|---|"
for j in "${jobs[@]}"; do
    walls=() failed=0 smallest=""
    for _ in $(seq "$runs"); do
        start=$(date +%s.%N)
        output="$("$FLATLINE" run --quiet --no-record --jobs "$j" scenarios/ 2>&1)" || true
        line="$(grep -E '^[0-9]+ passed' <<< "$output" | tail -1)" || true
        grep -E ': ✗ ' <<< "$output" | sed "s/^/  jobs $j: /" >&2 || true
        walls+=("$(echo "$(date +%s.%N) - $start" | bc)")
        case "$line" in *", 0 failed"*) ;; *) failed=$((failed + 1)) ;; esac
        margin="$(sed -nE 's/.*smallest margin (-?[0-9.]+)(ms|s)\).*/\1 \2/p' <<< "$line")"
        if [ -n "$margin" ]; then
            read -r value unit <<< "$margin"
            [ "$unit" = s ] && value="$(echo "$value * 1000" | bc)"
            if [ -z "$smallest" ] || [ "$(echo "$value < $smallest" | bc)" = 1 ]; then smallest="$value"; fi
        fi
    done
    sorted=($(printf '%s\n' "${walls[@]}" | sort -n))
    printf '| %s | %s | %.1f | %.1f | %s | %s |\n' "$j" "$runs" "${sorted[$(( ${#sorted[@]} / 2 ))]}" "${sorted[-1]}" "$failed" "${smallest:-—}"
done
