#!/usr/bin/env bash
# Guards the layering that issue 22 set up, so that it cannot erode silently. Fails (exit 1) naming
# the rule and the offending file:line when:
#   1. a pure target (ScenarioModel, ScenarioJudging, ScenarioReporting, Exploration, FaultModel,
#      HeartbeatCore, EventSchema) depends, directly or through another target, on NIO, libpcap or a NIO target;
#   2. an event source or type is compared with a string literal outside EventSchema's decoding;
#   3. more than four `@unchecked Sendable`, or one without a `// @unchecked Sendable:` reason line
#      right above it;
#   4. a file of the command line grows to 200 lines (each command is arguments handed to a library), or RunCommand.run to 40.
# Reads Package.swift through `swift package dump-package` (scratch path of its own: safe while a
# build runs).
set -euo pipefail
cd "$(dirname "$0")/.."
failed=0
fail() { echo "check-rooms: $*"; failed=1; }

# 1. Pure targets stay pure.
dump=$(swift package --scratch-path "${TMPDIR:-/tmp}/flatline-dump-package" dump-package)
python3 - "$dump" <<'PY' || failed=1
import json, sys
package = json.loads(sys.argv[1])
targets = {t["name"]: t for t in package["targets"]}
def deps(name):
    out = []
    for d in targets[name].get("dependencies", []):
        if "byName" in d: out.append(d["byName"][0])
        elif "target" in d: out.append(d["target"][0])
        elif "product" in d: out.append(d["product"][0])
    return out
def closure(name, seen=None):
    seen = set() if seen is None else seen
    for d in deps(name):
        if d not in seen:
            seen.add(d)
            if d in targets: closure(d, seen)
    return seen
impure = {"CPcap", "WireCapture", "NetworkSupport", "WebSocketSupport", "HeartbeatWebSocket",
          "FaultProxy", "HeartbeatClient", "HeartbeatServer", "Scenario"}
bad = 0
for pure in ["EventSchema", "HeartbeatCore", "FaultModel", "ScenarioModel", "ScenarioJudging", "ScenarioReporting", "Exploration"]:
    reached = closure(pure)
    wrong = sorted(d for d in reached if d.startswith("NIO") or d in impure)
    if wrong:
        print(f"check-rooms: {pure} must not depend on NIO, libpcap or a runtime target; it reaches {', '.join(wrong)}")
        bad = 1
sys.exit(bad)
PY

# 2. Events are typed: no `source == "…"` / `type == "…"` outside the schema.
if hits=$(grep -rnE '(source|\.type|type) *(==|!=) *"[a-z-]+"|"[a-z-]+" *(==|!=) *[a-zA-Z.]*(source|type)\b' \
        Sources --include='*.swift' | grep -v '^Sources/EventSchema/'); then
    fail "an event source or type is compared as a string outside EventSchema:"
    echo "$hits"
fi

# 3. At most four @unchecked Sendable, each with its reason on the line above.
count=0
while IFS=: read -r file line _; do
    count=$((count + 1))
    above=""
    [ "$line" -gt 1 ] && above=$(sed -n "$((line - 1))p" "$file")
    case "$above" in
        *"// @unchecked Sendable:"*) ;;
        *) fail "$file:$line: @unchecked Sendable without a '// @unchecked Sendable: why' line above it" ;;
    esac
done < <(grep -rnE '^[^/]*@unchecked Sendable' Sources --include='*.swift' || true)
[ "$count" -le 4 ] || fail "$count @unchecked Sendable in Sources (at most 4)"

# 4. A thin command line.
cli=$(cat Sources/flatline/*.swift | wc -l)
for file in Sources/flatline/*.swift; do
    lines=$(wc -l <"$file")
    [ "$lines" -lt 200 ] || fail "$file is $lines lines (under 200: the logic belongs in a library target)"
done
runlen=$(awk '/struct RunCommand/ {inrun=1} inrun && /func run\(\)/ {start=NR; depth=0} 
    start && NR>=start { n=gsub(/\{/,"{"); m=gsub(/\}/,"}"); depth+=n-m; if (depth==0 && NR>start) {print NR-start+1; exit} }' \
    Sources/flatline/*.swift)
[ -n "$runlen" ] || fail "RunCommand.run not found"
[ "${runlen:-999}" -lt 40 ] || fail "RunCommand.run is $runlen lines (under 40)"

if [ "$failed" = 0 ]; then
    echo "check-rooms: pure targets pure, events typed, $count @unchecked Sendable with reasons, CLI $cli lines (every file under 200), RunCommand.run $runlen lines"
fi
exit "$failed"
