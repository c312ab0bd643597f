#!/usr/bin/env bash
# The test command: installs what is missing, builds, and runs every test:
# Swift unit and real-socket tests, then the external-client tests in Python.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh

start=$(date +%s)
swift build --build-tests
echo "build: $(( $(date +%s) - start ))s"

status=0
start=$(date +%s)
swift test 2>&1 | tee .build/test-output.txt | grep -vE '^(◇|↳|✔ Test [^r])' || true
[ "${PIPESTATUS[0]}" = 0 ] || status=1
echo "swift tests: $(( $(date +%s) - start ))s"

start=$(date +%s)
FLATLINE_BIN="$(swift build --show-bin-path)/flatline" python3 -m pytest -q Tests/python || status=1
echo "python tests: $(( $(date +%s) - start ))s"
exit "$status"
