#!/usr/bin/env bash
# Runs the differential scenarios N times (default 10) in each network mode — faults in the proxy,
# then as nftables rules in a private namespace — and prints, per scenario and mode, the median and
# worst of: detection (client disconnected by its heartbeat timeout, after the fault step) and
# return (client connected, after the heal step). The figures in docs/fidelity.md come from here.
#   scripts/fidelity.sh [RUNS] [SCENARIOS…]   (default: scenarios/differential/)
set -euo pipefail
cd "$(dirname "$0")/.."
runs="${1:-10}"
[[ "$runs" =~ ^[0-9]+$ ]] && [ "$runs" -ge 1 ] && [ "$runs" -le 100 ] || { echo "usage: scripts/fidelity.sh [RUNS 1-100]" >&2; exit 2; }
shift || true
targets=("${@:-scenarios/differential/}")
flatline="$(scripts/release-flatline.sh)"
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
for mode in proxy packet; do
    for i in $(seq "$runs"); do
        "$flatline" run --jobs 1 --quiet --network "$mode" --runs-dir "$out/$mode" "${targets[@]}" >/dev/null || echo "run $i in $mode mode had failures (counted below)" >&2
    done
done
python3 - "$out" <<'EOF'
import json, os, statistics, sys
root = sys.argv[1]
rows = {}
for mode in ("proxy", "packet"):
    for scenario in sorted(os.listdir(os.path.join(root, mode))):
        for run in os.listdir(os.path.join(root, mode, scenario)):
            events = [json.loads(line) for line in open(os.path.join(root, mode, scenario, run, "recording.jsonl"))]
            # Measured from the steps, as the scenarios measure: the step that adds the fault (so the
            # few ms nft takes to load a rule count, as they would for a person pulling a cable).
            fault = next((e["t"] for e in events if e.get("type") == "step" and e.get("label", "").startswith("fault")), None)
            heal = next((e["t"] for e in events if e.get("type") == "step" and "heal" in e.get("label", "")), None)
            detect = next((e["t"] - fault for e in events if fault is not None and e.get("src") == "client" and e.get("type") == "disconnected" and e.get("reason") == "heartbeat-timeout" and e["t"] >= fault), None)
            back = next((e["t"] - heal for e in events if heal is not None and e.get("src") == "client" and e.get("type") == "connected" and e["t"] >= heal), None)
            ack = next((e["t"] - heal for e in events if heal is not None and e.get("src") == "client" and e.get("type") == "heartbeat-acked" and e["t"] >= heal), None)
            failed = sum(1 for e in events if e.get("type") == "verdict" and e.get("outcome") == "failed")
            row = rows.setdefault(scenario.replace("differential-", ""), {}).setdefault(mode, {"detect": [], "back": [], "ack": [], "failed": 0, "runs": 0})
            row["runs"] += 1
            row["failed"] += 1 if failed else 0
            if detect is not None: row["detect"].append(detect)
            if back is not None: row["back"].append(back)
            if ack is not None: row["ack"].append(ack)
def fmt(values):
    return f"{statistics.median(values):.0f} / {max(values):.0f}" if values else "—"
print("| scenario | detection, proxy (median / worst ms) | detection, packet | connected after heal, proxy | connected after heal, packet | first ack after heal, proxy | first ack after heal, packet | failed runs (proxy, packet) |")
print("|---|---|---|---|---|---|---|---|")
for name, modes in sorted(rows.items()):
    p, k = modes.get("proxy", {}), modes.get("packet", {})
    print(f"| {name} | {fmt(p.get('detect', []))} | {fmt(k.get('detect', []))} | {fmt(p.get('back', []))} | {fmt(k.get('back', []))} | {fmt(p.get('ack', []))} | {fmt(k.get('ack', []))} | {p.get('failed', 0)}/{p.get('runs', 0)}, {k.get('failed', 0)}/{k.get('runs', 0)} |")
EOF
