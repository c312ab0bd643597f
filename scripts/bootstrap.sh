#!/usr/bin/env bash
# Installs what Flatline needs on a fresh Debian machine, and only what is missing.
# Idempotent; sourced or run by scripts/run.sh and scripts/test.sh.
set -euo pipefail

need_apt=()
command -v swift >/dev/null 2>&1 || { echo "bootstrap: Swift 6.1 or later is required on the PATH (https://swift.org/install)" >&2; exit 2; }
dpkg -s libpcap-dev >/dev/null 2>&1 || need_apt+=(libpcap-dev)
command -v socat >/dev/null 2>&1 || need_apt+=(socat)

if ((${#need_apt[@]})); then
    if [ "$(id -u)" = 0 ]; then
        echo "bootstrap: installing ${need_apt[*]}" >&2
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq >/dev/null
        apt-get install -y -qq "${need_apt[@]}" >/dev/null
    else
        echo "bootstrap: missing ${need_apt[*]}; run: sudo apt-get install -y ${need_apt[*]}" >&2
        exit 2
    fi
fi
