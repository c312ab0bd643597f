#!/usr/bin/env bash
# The GitHub Action's steps (scripts/action.sh), run here as the Action runs them: install from the
# release tarball with its checksum checked (and refused with a wrong one), two shards of scenarios
# with JUnit and reports, then the merge — outputs written to $GITHUB_PATH/$GITHUB_OUTPUT files.
#   scripts/action-test.sh dist/flatline-VERSION-linux-ARCH.tar.gz
set -euo pipefail
cd "$(dirname "$0")/.."
tarball=$(realpath "${1:?usage: scripts/action-test.sh TARBALL}")
work=$(mktemp -d /tmp/flatline-action-test.XXXXXX)
trap 'rm -rf "$work"' EXIT
export GITHUB_PATH="$work/github-path" GITHUB_OUTPUT="$work/github-output" RUNNER_TEMP="$work/runner"
fail() { echo "FAILED: $*"; exit 1; }

# A tampered checksum is refused, and nothing is installed.
if FLATLINE_TARBALL="$tarball" FLATLINE_SHA256=$(printf '0%.0s' {1..64}) scripts/action.sh install >"$work/bad.txt" 2>&1; then
    fail "a wrong checksum was accepted"
fi
grep -q "checksum mismatch" "$work/bad.txt" || { cat "$work/bad.txt"; fail "the refusal does not say why"; }
[ ! -e "$RUNNER_TEMP/flatline/bin/flatline" ] || fail "installed despite a wrong checksum"

# The right one (the .sha256 file beside the tarball, the default).
FLATLINE_TARBALL="file://$tarball" scripts/action.sh install
flatline_dir=$(cat "$GITHUB_PATH")
grep -q "^flatline=$flatline_dir/flatline$" "$GITHUB_OUTPUT" || fail "no flatline output"

# Two shards, each in its own folder, as two matrix jobs would; then the merge job.
export PATH="$flatline_dir:$PATH"
scenarios="scenarios/pulled-cable.yaml scenarios/server-power-loss.yaml scenarios/clean-shutdown.yaml scenarios/short-outage-held.yaml"
for shard in 1 2; do
    FLATLINE_SCENARIOS="$scenarios" FLATLINE_SHARD="$shard/2" FLATLINE_OUT="$work/shard-$shard" FLATLINE_ARGS="--quiet" scripts/action.sh run \
        || fail "shard $shard"
    [ -s "$work/shard-$shard/junit.xml" ] || fail "shard $shard wrote no JUnit"
    [ -s "$work/shard-$shard/runs/index.html" ] || fail "shard $shard wrote no report index"
done
grep -q "^report-dir=$work/shard-2$" "$GITHUB_OUTPUT" || fail "no report-dir output"
FLATLINE_SHARDS="$work/shard-*/runs" FLATLINE_OUT="$work/report" scripts/action.sh merge || fail "merge"
cases=$(grep -o '<testcase ' "$work/report/junit.xml" | wc -l)
[ "$cases" -ge 4 ] || fail "the merged JUnit has $cases test cases"
[ -s "$work/report/index.html" ] || fail "no merged index"

# A failing scenario fails the step, and the report is still written.
cat >"$work/failing.yaml" <<'YAML'
name: action-failing
client: {heartbeat: {dialect: json, interval: 200ms, timeout: 100ms}}
timeline:
  - after: client connected
    within: 10s
  - fault: {type: blackhole, name: cable}
  - expect: client disconnected
    within: 50ms
YAML
if FLATLINE_SCENARIOS="$work/failing.yaml" FLATLINE_OUT="$work/failing" FLATLINE_ARGS="--quiet" scripts/action.sh run >/dev/null; then
    fail "a failing scenario passed the step"
fi
[ -s "$work/failing/junit.xml" ] && grep -q "<failure" "$work/failing/junit.xml" || fail "no failure in the failing run's JUnit"
echo "action: checksum refused when wrong; installed; 2 shards with JUnit and reports; merged ($cases cases); a failing scenario fails the step with its report written"
