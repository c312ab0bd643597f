#!/usr/bin/env bash
# The Swift tests, then the bundled scenarios, built with a sanitizer (its own scratch folder,
# .build-KIND, so the normal build is untouched). Every sanitized process — the test runner,
# flatline, the flatline servers it starts — writes its reports to a file under .build/sanitize-KIND/
# (log_path): any report fails the run, named with its first lines.
#   scripts/sanitize.sh thread|address
set -euo pipefail
cd "$(dirname "$0")/.."
kind=${1:-}
case "$kind" in
    thread|address) ;;
    *) echo "usage: scripts/sanitize.sh thread|address" >&2; exit 2 ;;
esac
scratch=".build-$kind"
reports="$PWD/.build/sanitize-$kind"
rm -rf "$reports" && mkdir -p "$reports"
start=$(date +%s)
swift build --build-tests --sanitize="$kind" --scratch-path "$scratch" >&2
echo "sanitize $kind: build $(( $(date +%s) - start ))s"

# halt_on_error=0: every report of the run, not only the first; leaks are not errors here (Swift's
# global caches live until exit).
export TSAN_OPTIONS="log_path=$reports/report halt_on_error=0 second_deadlock_stack=1 suppressions=$PWD/scripts/tsan-suppressions.txt"
export ASAN_OPTIONS="log_path=$reports/report detect_leaks=0 halt_on_error=0"
status=0
start=$(date +%s)
swift test --skip-build --sanitize="$kind" --scratch-path "$scratch" --no-parallel >"$reports/tests.txt" 2>&1 || status=1
grep -E "Test run with" "$reports/tests.txt" | tail -n 1 || true
[ "$status" = 0 ] || { grep -E '^✘ Test .* (failed|recorded)' "$reports/tests.txt" | head -20; echo "FAILED: the Swift tests under the $kind sanitizer"; }
echo "sanitize $kind: tests $(( $(date +%s) - start ))s"

# The bundled scenarios with the sanitized binary (built-in server and client in-process, the
# process servers too). Timing bounds widened: the sanitizer slows everything several times; what
# is looked for here is its reports, not margins.
start=$(date +%s)
flatline="$(swift build --sanitize="$kind" --scratch-path "$scratch" --show-bin-path)/flatline"
"$flatline" run --quiet --no-record --jobs 2 --slack 100%+200ms scenarios/ >"$reports/scenarios.txt" 2>&1 || { status=1; tail -n 25 "$reports/scenarios.txt"; echo "FAILED: the bundled scenarios under the $kind sanitizer"; }
tail -n 1 "$reports/scenarios.txt"
echo "sanitize $kind: scenarios $(( $(date +%s) - start ))s"

found=$(find "$reports" -name 'report.*' -size +0 | sort)
if [ -n "$found" ]; then
    echo "FAILED: $(echo "$found" | wc -l) process(es) with $kind sanitizer reports:"
    for file in $found; do
        echo "--- $file"
        grep -E '^(WARNING|ERROR|SUMMARY)' "$file" | sort | uniq -c | head -10
    done
    status=1
else
    echo "sanitize $kind: no reports"
fi
exit "$status"
