#!/usr/bin/env bash
# The test command: installs what is missing, builds, and runs every test.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh

start=$(date +%s)
swift build --build-tests
echo "build: $(( $(date +%s) - start ))s"

start=$(date +%s)
swift test 2>&1 | tee .build/test-output.txt | grep -vE '^(◇|↳|✔ Test [^r])' || true
status=${PIPESTATUS[0]}
echo "tests: $(( $(date +%s) - start ))s"
exit "$status"
