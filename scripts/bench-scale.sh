#!/usr/bin/env bash
# Cost growth: runs the same pulled-cable scenario (scenarios/scale/pulled-cable-4000.yaml with its
# count replaced and its ramp scaled to 500 starts a second) with 10, 100, 1,000 and 4,000 built-in
# clients, the largest count again with no ramp, then 200 external Python clients,
# and prints a table per run: wall time, CPU seconds, peak RSS, recording size, replay time (parse
# and judge the recording again), heartbeat-timer lateness p50/p99 (whole run and steady state:
# between "all clients acked" and the fault) and detection error per client (its disconnect minus
# its own deadline). The tables in docs/scale.md come from here.
#   scripts/bench-scale.sh [COUNTS…]        (default: 10 100 1000 4000)
set -euo pipefail
cd "$(dirname "$0")/.."
counts=("${@:-10 100 1000 4000}")
read -r -a counts <<< "${counts[*]}"
for n in "${counts[@]}"; do [[ "$n" =~ ^[0-9]+$ ]] && [ "$n" -ge 1 ] && [ "$n" -le 4000 ] || { echo "usage: scripts/bench-scale.sh [COUNTS 1-4000…]" >&2; exit 2; }; done
flatline="$(scripts/release-flatline.sh)"
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
run() {  # NAME SCENARIO TIMEOUT_MS
    local name="$1" scenario="$2" timeout="$3" status=0
    /usr/bin/time -f "%e %U %S %M" -o "$out/$name.time" "$flatline" run --quiet --runs-dir "$out/$name" "$scenario" > "$out/$name.out" 2>&1 || status=$?
    local recording; recording="$(ls "$out/$name"/*/*/recording.jsonl)"
    local start end; start=$(date +%s.%N)
    "$flatline" replay "$recording" > /dev/null 2>&1 || true
    end=$(date +%s.%N)
    python3 - "$name" "$out/$name.time" "$recording" "$timeout" "$status" "$start" "$end" <<'PY'
import json, os, subprocess, sys
name, timing, recording, timeout, status, start, end = sys.argv[1:]
wall, user, system, rss = open(timing).read().split()[-4:]
figures = json.loads(subprocess.run([sys.executable, "scripts/lib/scale_figures.py", recording, timeout], capture_output=True, text=True, check=True).stdout)
f = lambda v: "—" if v is None else f"{v:.2f}"
print(f"| {name} | {'pass' if status == '0' else 'FAIL'} | {float(wall):.1f} | {float(user) + float(system):.1f} | {int(rss) // 1024} | "
      f"{os.path.getsize(recording) / 1e6:.1f} ({figures['events']:,} events) | {float(end) - float(start):.2f} | "
      f"{f(figures['late_p50'])} / {f(figures['late_p99'])} | {f(figures['steady_p99'])} | {f(figures['detect_p50'])} / {f(figures['detect_p99'])} / {f(figures['detect_max'])} |", flush=True)
PY
}
echo "| run | verdict | wall s | CPU s | peak RSS MiB | recording MB | replay s | timer lateness p50 / p99 ms | steady p99 ms | detection error p50 / p99 / max ms |"
echo "|---|---|---|---|---|---|---|---|---|---|"
for n in "${counts[@]}"; do
    # The same start rate at every count: 500 first connections a second.
    sed "s/^  count: 4000/  count: $n/; s/^  ramp: 8s/  ramp: $((n * 2))ms/; s/^name: pulled-cable-4000/name: pulled-cable-$n/" scenarios/scale/pulled-cable-4000.yaml > "$out/pulled-cable-$n.yaml"
    run "$n built-in clients" "$out/pulled-cable-$n.yaml" 500
done
# The largest count once more with every client starting at once (no ramp): what the start costs.
last="${counts[-1]}"
sed "/^  ramp: /d; s/^  count: 4000/  count: $last/; s/^name: pulled-cable-4000/name: pulled-cable-$last-at-once/" scenarios/scale/pulled-cable-4000.yaml > "$out/pulled-cable-$last-at-once.yaml"
run "$last built-in clients, no ramp" "$out/pulled-cable-$last-at-once.yaml" 500
run "200 Python clients" scripts/bench/python-200.yaml 1000
python3 scripts/lib/stamp_figures.py "$(ls "$out/200 Python clients"/*/*/recording.jsonl)"
