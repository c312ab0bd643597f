#!/usr/bin/env bash
# The shell steps of the GitHub Action (action.yml) — and of any CI: install Flatline, run scenarios,
# merge shards. Inputs come as environment variables (the Action maps its inputs to them), so the
# test command runs this very script with a local tarball.
#   scripts/action.sh install   FLATLINE_TARBALL (URL or path) + FLATLINE_SHA256 (hex, or a URL/path of a .sha256 file;
#                               default: the tarball's name + .sha256), or FLATLINE_FROM_SOURCE=true (the checkout is built)
#   scripts/action.sh run       FLATLINE_SCENARIOS (paths, space-separated), FLATLINE_SHARD (I/N, optional),
#                               FLATLINE_OUT (default flatline-report), FLATLINE_ARGS (more 'flatline run' arguments)
#   scripts/action.sh merge     FLATLINE_SHARDS (runs folders, space-separated, globs allowed), FLATLINE_OUT
# On GitHub, 'install' adds flatline to $GITHUB_PATH and 'run' writes report-dir and junit to $GITHUB_OUTPUT.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
step=${1:-}
out=${FLATLINE_OUT:-flatline-report}
die() { echo "flatline action: $*" >&2; exit 2; }
trap 'echo "flatline action: $step failed at line $LINENO" >&2' ERR
output() { if [ -n "${GITHUB_OUTPUT:-}" ]; then echo "$1=$2" >>"$GITHUB_OUTPUT"; fi; }

fetch() {  # a URL (curl) or a local path, to a file
    case "$1" in
        http://*|https://*|file://*) curl --fail --silent --show-error --location --retry 3 -o "$2" "$1" || die "cannot download $1" ;;
        *) [ -f "$1" ] || die "no such file: $1"; cp "$1" "$2" ;;
    esac
}

case "$step" in
install)
    prefix=${FLATLINE_PREFIX:-${RUNNER_TEMP:-${TMPDIR:-/tmp}}/flatline}
    if [ "${FLATLINE_FROM_SOURCE:-false}" = true ]; then
        binary=$("$here/scripts/release-flatline.sh")
        mkdir -p "$prefix/bin" && ln -sf "$binary" "$prefix/bin/flatline"
    else
        tarball=${FLATLINE_TARBALL:-}
        [ -n "$tarball" ] || die "FLATLINE_TARBALL (the release's URL or path) or FLATLINE_FROM_SOURCE=true is needed"
        work=$(mktemp -d)
        trap 'rm -rf "$work"' EXIT
        name=$(basename "${tarball%%\?*}")
        fetch "$tarball" "$work/$name"
        sum=${FLATLINE_SHA256:-$tarball.sha256}
        if [[ "$sum" =~ ^[0-9a-fA-F]{64}$ ]]; then
            expected=$sum
        else
            fetch "$sum" "$work/sum"
            expected=$(cut -d' ' -f1 "$work/sum")
        fi
        actual=$(sha256sum "$work/$name" | cut -d' ' -f1)
        [ "${expected,,}" = "$actual" ] || die "checksum mismatch for $name: expected $expected, got $actual (a damaged or different download)"
        echo "checksum ok: $name $actual"
        mkdir "$work/unpacked"
        tar -C "$work/unpacked" -xzf "$work/$name" || die "cannot unpack $name"
        installer=$(find "$work/unpacked" -mindepth 2 -maxdepth 2 -name install.sh -print -quit)
        [ -n "$installer" ] || die "$name holds no install.sh: not a Flatline release"
        sh "$installer" --prefix "$prefix"
    fi
    if [ -n "${GITHUB_PATH:-}" ]; then echo "$prefix/bin" >>"$GITHUB_PATH"; fi
    output flatline "$prefix/bin/flatline"
    "$prefix/bin/flatline" --version >/dev/null || die "the installed flatline does not run"
    echo "flatline: $prefix/bin/flatline"
    ;;
run)
    flatline=${FLATLINE_BIN:-$(command -v flatline || true)}
    [ -n "$flatline" ] || die "flatline is not on PATH: run the install step first"
    read -r -a scenarios <<<"${FLATLINE_SCENARIOS:-scenarios/}"
    read -r -a extra <<<"${FLATLINE_ARGS:-}"
    runs="$out/runs"
    args=(run --junit "$out/junit.xml" --report --runs-dir "$runs")
    if [ -n "${FLATLINE_SHARD:-}" ]; then
        args+=(--shard "$FLATLINE_SHARD")
        [ -z "${FLATLINE_DURATIONS:-}" ] || args+=(--durations "$FLATLINE_DURATIONS")
    fi
    mkdir -p "$out"
    output report-dir "$out"
    output junit "$out/junit.xml"
    status=0
    "$flatline" "${args[@]}" "${extra[@]}" "${scenarios[@]}" || status=$?
    echo "report: $runs/index.html"
    exit "$status"
    ;;
merge)
    flatline=${FLATLINE_BIN:-$(command -v flatline || true)}
    [ -n "$flatline" ] || die "flatline is not on PATH: run the install step first"
    shards=()
    for pattern in ${FLATLINE_SHARDS:-}; do   # unquoted on purpose: globs such as flatline-report-*/runs
        for folder in $pattern; do shards+=("$folder"); done
    done
    [ "${#shards[@]}" -gt 0 ] || die "FLATLINE_SHARDS names the shards' runs folders"
    output report-dir "$out"
    exec "$flatline" report --merge "${shards[@]}" --out "$out"
    ;;
*)
    die "usage: scripts/action.sh install|run|merge (inputs as environment variables; see the top of this script)"
    ;;
esac
