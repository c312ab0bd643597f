#!/usr/bin/env bash
# For the measuring scripts: installs what is missing, builds flatline in release mode and prints
# the executable's path (build output goes to stderr).
#   flatline="$(scripts/release-flatline.sh)"
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh >&2
swift build -c release --product flatline >&2
echo "$(swift build -c release --show-bin-path)/flatline"
