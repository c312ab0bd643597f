#!/usr/bin/env bash
# The test command: installs what is missing, builds, and runs every test —
# Swift unit, handler and real-socket tests; the bundled scenario suite (must pass);
# the negative suite (must fail, exit 1); and the external-client tests in Python.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh

start=$(date +%s)
swift build --build-tests
echo "build: $(( $(date +%s) - start ))s"
flatline="$(swift build --show-bin-path)/flatline"
mkdir -p .build/reports

status=0
start=$(date +%s)
set +e
swift test 2>&1 | tee .build/test-output.txt | grep -vE '^(◇|↳|✔ Test [^r])'
[ "${PIPESTATUS[0]}" = 0 ] || status=1
set -e
echo "swift tests: $(( $(date +%s) - start ))s"

start=$(date +%s)
echo "--- bundled scenarios with wire capture (must pass)"
if ! "$flatline" run --jobs 2 --quiet --capture --junit .build/reports/scenarios.xml scenarios/; then
    echo "FAILED: the bundled scenario suite"
    status=1
fi
echo "--- external clients (must pass)"
if ! "$flatline" run --quiet --capture --junit .build/reports/clients.xml scenarios/clients/; then
    echo "FAILED: the external-client scenarios"
    status=1
fi
echo "--- negative scenarios (must fail with exit 1)"
set +e
"$flatline" run --jobs 2 --quiet --capture --junit .build/reports/negative.xml scenarios/negative/
negative=$?
set -e
if [ "$negative" != 1 ]; then
    echo "FAILED: the negative suite exited $negative, expected 1 (every broken client must be caught)"
    status=1
fi
echo "scenarios: $(( $(date +%s) - start ))s"

start=$(date +%s)
FLATLINE_BIN="$flatline" python3 -m pytest -q Tests/python || status=1
echo "python tests: $(( $(date +%s) - start ))s"
exit "$status"
