#!/usr/bin/env bash
# Runs the shipped clients' scenarios (scenarios/clients/) N times (default 10) and prints, per
# scenario, min / median / max of: detection (the client's own disconnect, or for a black-box client
# its observed `abandoned`, after the fault, server stop or client offline step) and return (its connect after the heal, server
# start or client online step;
# both after the wake where the client slept), and how many runs
# passed. The tables in docs/clients.md come from here.
#   scripts/measure-clients.sh [RUNS] [SCENARIOS…]   (default: scenarios/clients/)
set -euo pipefail
cd "$(dirname "$0")/.."
runs="${1:-10}"
[[ "$runs" =~ ^[0-9]+$ ]] && [ "$runs" -ge 1 ] && [ "$runs" -le 100 ] || { echo "usage: scripts/measure-clients.sh [RUNS 1-100] [SCENARIOS…]" >&2; exit 2; }
shift || true
targets=("${@:-scenarios/clients/}")
flatline="$(scripts/release-flatline.sh)"
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
for i in $(seq "$runs"); do
    "$flatline" run --jobs 1 --quiet --runs-dir "$out" "${targets[@]}" >/dev/null || echo "run $i had failures (counted below)" >&2
done
python3 - "$out" <<'EOF'
import json, os, statistics, sys
root = sys.argv[1]
def spread(values):
    return f"{min(values):.0f} / {statistics.median(values):.0f} / {max(values):.0f}" if values else "—"
print("| scenario | detection (min / median / max ms) | return | passed |")
print("|---|---|---|---|")
for scenario in sorted(os.listdir(root)):
    detect, back, passed, total = [], [], 0, 0
    for run in os.listdir(os.path.join(root, scenario)):
        events = [json.loads(line) for line in open(os.path.join(root, scenario, run, "recording.jsonl"))]
        failed = any(e.get("type") == "verdict" and e.get("outcome") == "failed" for e in events)
        end = next((e["t"] for e in events if e.get("type") == "teardown"), float("inf"))
        events = [e for e in events if e["t"] < end]
        labels = [(e["t"], e.get("label", "")) for e in events if e.get("type") == "step"]
        # Labels are "fault …" or "at +200ms: fault …".
        action = lambda l: l.split(": ", 1)[1] if l.startswith("at ") else l
        cut = next((t for t, l in labels if action(l).startswith(("fault", "server stop", "client offline"))), None)
        heal = next((t for t, l in labels if action(l).startswith(("heal", "server start", "client online"))), None)
        # A sleep (client: {freeze: D}): both measured from the wake — what the client finds then.
        wake = next((e["t"] for e in events if e.get("type") == "client-resumed"), None)
        if wake is not None:
            cut = heal = wake
        own = any(e.get("src") == "client" and not e.get("observed") and e.get("type") in ("connected", "disconnected") for e in events)
        mine = [e for e in events if e.get("src") == "client" and bool(e.get("observed")) != own]
        # A self-reporting client's own disconnect; a black-box client's first observed sign of giving
        # the link up (its socket released or its next attempt: `abandoned`, see docs/events.md).
        detection = "disconnected" if own else "abandoned"
        d = next((e["t"] - cut for e in mine if cut is not None and e.get("type") == detection and e["t"] >= cut), None)
        b = next((e["t"] - heal for e in mine if heal is not None and e.get("type") == "connected" and e["t"] >= heal), None)
        if d is not None: detect.append(d)
        if b is not None: back.append(b)
        total += 1
        passed += 0 if failed else 1
    print(f"| {scenario} | {spread(detect)} | {spread(back)} | {passed}/{total} |")
EOF
