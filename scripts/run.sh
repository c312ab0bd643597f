#!/usr/bin/env bash
# The main job: builds Flatline and runs the bundled scenarios against the built-in server and
# client, printing each timeline and the summary table. Extra arguments go to 'flatline run'
# (e.g. --verbose, --junit report.xml, --slack 20%).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh
swift build --product flatline >&2
exec "$(swift build --show-bin-path)/flatline" run scenarios/ "$@"
