#!/usr/bin/env bash
# The man page of flatline, from its ArgumentParser definition (swift-argument-parser's
# GenerateManual plugin: one page, every subcommand in it), copied into FOLDER.
#   scripts/manual.sh FOLDER
set -euo pipefail
cd "$(dirname "$0")/.."
dest=${1:?usage: scripts/manual.sh FOLDER}
mkdir -p "$dest"
# Built in debug: the plugin rebuilds the whole package, and the release folder holds the relocatable build.
swift package --disable-sandbox plugin generate-manual --configuration debug --authors "the Flatline developers" >&2
page=$(find .build/plugins/GenerateManual/outputs -name flatline.1 | head -n 1)
[ -n "$page" ] || { echo "manual: the plugin wrote no flatline.1" >&2; exit 1; }
cp "$page" "$dest/flatline.1"
