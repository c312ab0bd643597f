#!/usr/bin/env bash
# The test command: installs what is missing, builds, and runs every test —
# Swift unit, handler and real-socket tests; the bundled scenario suite (must pass);
# the negative suite (every broken client caught by the check aimed at it); and the Python tests.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh
scripts/check-rooms.sh

start=$(date +%s)
swift build --build-tests
echo "build: $(( $(date +%s) - start ))s"
flatline="$(swift build --show-bin-path)/flatline"
mkdir -p .build/reports

status=0
start=$(date +%s)
set +e
# One test at a time: the real-socket and scenario tests keep timing margins that a 2-core machine
# running every suite at once cannot promise (about 45 s instead of 20 s).
swift test --no-parallel 2>&1 | tee .build/test-output.txt | grep -vE '^(◇|↳|✔ Test [^r])'
[ "${PIPESTATUS[0]}" = 0 ] || status=1
set -e
echo "swift tests: $(( $(date +%s) - start ))s"

start=$(date +%s)
echo "--- bundled scenarios with wire capture (must pass)"
if ! "$flatline" run --quiet --capture --junit .build/reports/scenarios.xml scenarios/; then
    echo "FAILED: the bundled scenario suite"
    status=1
fi
echo "--- bundled scenarios as an unprivileged user (must pass; wire checks are not judged without capture)"
if [ "$(id -u)" = 0 ]; then
    if ! setpriv --reuid=65534 --regid=65534 --clear-groups --reset-env \
        "$flatline" run --quiet --no-record --capture scenarios/; then
        echo "FAILED: the bundled scenario suite as nobody"
        status=1
    fi
else
    echo "(already unprivileged: the run above was it)"
fi
echo "--- external clients (must pass)"
if ! "$flatline" run --jobs 1 --quiet --capture --junit .build/reports/clients.xml scenarios/clients/; then
    echo "FAILED: the external-client scenarios"
    status=1
fi
echo "--- differential scenarios: the same expectations with faults in the proxy, then as packet rules in a namespace (must pass)"
if ! "$flatline" run --jobs 1 --quiet --network proxy --junit .build/reports/differential-proxy.xml scenarios/differential/; then
    echo "FAILED: the differential scenarios in proxy mode"
    status=1
fi
if ! "$flatline" run --jobs 1 --quiet --network packet --capture --junit .build/reports/differential-packet.xml scenarios/differential/; then
    echo "FAILED: the differential scenarios in packet mode"
    status=1
fi
echo "--- black-box clients in packet mode: the proxy is past the cable, the capture sees the client's side (must pass)"
if ! "$flatline" run --jobs 2 --quiet --network packet --capture --junit .build/reports/blackbox-packet.xml scenarios/clients/*blackbox*.yaml scenarios/clients/java-*.yaml; then
    echo "FAILED: the black-box client scenarios in packet mode"
    status=1
fi
echo "--- packet-only scenarios (random packet loss: nftables numgen; must pass)"
if ! "$flatline" run --jobs 1 --quiet --junit .build/reports/packet.xml scenarios/packet/; then
    echo "FAILED: the packet-only scenarios"
    status=1
fi
if [ "$(id -u)" = 0 ]; then
    echo "--- packet mode as an unprivileged user (a user namespace instead of root; must pass)"
    if ! setpriv --reuid=65534 --regid=65534 --clear-groups --reset-env \
        "$flatline" run --jobs 1 --quiet --no-record --network packet --capture scenarios/differential/pulled-cable.yaml scenarios/differential/node-outage-during-reconnect.yaml scenarios/differential/server-power-loss.yaml scenarios/differential/nat-expiry.yaml scenarios/differential/lb-idle-close.yaml scenarios/clients/node-seeds-blackbox-pulled-cable.yaml scenarios/clients/java-abort-pulled-cable.yaml scenarios/clients/browser-fixed-offline.yaml; then
        echo "FAILED: packet mode as nobody"
        status=1
    fi
fi
echo "--- negative scenarios (each broken client must be caught by the check aimed at it)"
if ! "$flatline" run --quiet --capture --junit .build/reports/negative.xml scenarios/negative/; then
    echo "FAILED: a broken client was not caught (see 'must fail' in .build/reports/negative.xml)"
    status=1
fi
echo "scenarios: $(( $(date +%s) - start ))s"

start=$(date +%s)
echo "--- exploration: seeded schedules, properties from the settings, a sequence bug found and shrunk (scripts/explore-slice.sh)"
if ! FLATLINE="$flatline" scripts/explore-slice.sh .build/explore-slice; then
    echo "FAILED: the exploration slice"
    status=1
fi
echo "exploration: $(( $(date +%s) - start ))s"

echo "--- the Swift tests and the bundled scenarios under ThreadSanitizer: any report fails (scripts/sanitize.sh thread)"
start=$(date +%s)
if ! scripts/sanitize.sh thread; then
    echo "FAILED: ThreadSanitizer"
    status=1
fi
echo "thread sanitizer: $(( $(date +%s) - start ))s"
echo "--- fuzzing: 60 s of each libFuzzer target, two at a time (scripts/fuzz.sh all 60 2; the 30-minute runs are the script's)"
start=$(date +%s)
if ! scripts/fuzz.sh all 60 2; then
    echo "FAILED: a fuzz target found a crash (.build/fuzz/findings/)"
    status=1
fi
echo "fuzzing: $(( $(date +%s) - start ))s"

echo "--- the release: relocatable build, tarball, installed and run with the toolchain hidden (scripts/package.sh, package-test.sh, action-test.sh)"
start=$(date +%s)
if tarball=$(scripts/package.sh); then
    if ! scripts/package-test.sh "$tarball"; then
        echo "FAILED: the packaged release with the toolchain hidden"
        status=1
    fi
    if ! scripts/action-test.sh "$tarball"; then
        echo "FAILED: the Action's steps"
        status=1
    fi
else
    echo "FAILED: packaging the release"
    status=1
fi
echo "release: $(( $(date +%s) - start ))s"

echo "--- scale scenarios in the release build: 4,000 clients through a pulled cable, a herd of 1,000 with and without jitter (must pass)"
start=$(date +%s)
release="$(scripts/release-flatline.sh)"
if ! "$release" run --quiet --junit .build/reports/scale.xml scenarios/scale/; then
    echo "FAILED: the scale scenarios"
    status=1
fi
if [ "$(id -u)" = 0 ]; then
    echo "--- the 4,000-client scenario as an unprivileged user (must pass)"
    if ! setpriv --reuid=65534 --regid=65534 --clear-groups --reset-env "$release" run --quiet --no-record scenarios/scale/pulled-cable-4000.yaml; then
        echo "FAILED: the 4,000-client scenario as nobody"
        status=1
    fi
fi
echo "--- a soak slice: 50 clients, a fault every few seconds for 1 minute; RSS, descriptors, timer lateness sampled (scripts/soak.sh; the hour is the script's)"
if ! FLATLINE="$release" scripts/soak.sh 1m 50 | tail -n 5; then
    echo "FAILED: the soak slice (.build/soak/)"
    status=1
fi
echo "scale: $(( $(date +%s) - start ))s"

start=$(date +%s)
set +e
FLATLINE_BIN="$flatline" python3 -m pytest -q Tests/python 2>&1 | tee .build/pytest-output.txt
[ "${PIPESTATUS[0]}" = 0 ] || status=1
set -e
echo "python tests: $(( $(date +%s) - start ))s"

# One closing line over every runner: Swift tests, scenario checks, negative scenarios, pytest.
set +e +o pipefail
# Swift Testing's last line gives the number of tests; the failing ones are the "✘ Test … failed" lines.
swift_total=$(sed -nE 's/.*Test run with ([0-9]+) tests? .*/\1/p' .build/test-output.txt | tail -n 1)
swift_failed=$(grep -E '^✘ Test .* failed after' .build/test-output.txt | grep -vc '^✘ Test run with')
swift_passed=$(( ${swift_total:-0} - ${swift_failed:-0} ))
reports=(.build/explore-slice/builtin.xml .build/explore-slice/node.xml .build/reports/scenarios.xml .build/reports/clients.xml .build/reports/differential-proxy.xml .build/reports/differential-packet.xml .build/reports/blackbox-packet.xml .build/reports/packet.xml .build/reports/negative.xml .build/reports/scale.xml)
scenario_cases=$(cat "${reports[@]}" 2>/dev/null | grep -o '<testcase ' | wc -l)
scenario_failed=$(cat "${reports[@]}" 2>/dev/null | grep -o '<failure \|<error ' | wc -l)
py_passed=$(sed -nE 's/^([0-9]+) passed.*/\1/p' .build/pytest-output.txt | tail -n 1)
py_failed=$(sed -nE 's/.* ([0-9]+) failed.*/\1/p' .build/pytest-output.txt | tail -n 1)
set -e -o pipefail
passed=$(( ${swift_passed:-0} + scenario_cases - scenario_failed + ${py_passed:-0} ))
failed=$(( ${swift_failed:-0} + scenario_failed + ${py_failed:-0} ))
[ "$status" = 0 ] || [ "$failed" -gt 0 ] || failed=1
echo "total: $passed passed, $failed failed"
exit "$status"
