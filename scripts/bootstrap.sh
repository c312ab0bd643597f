#!/usr/bin/env bash
# Installs what Flatline needs on a fresh Debian machine, and only what is missing.
# Idempotent; run by scripts/run.sh and scripts/test.sh.
set -euo pipefail

command -v swift >/dev/null 2>&1 || { echo "bootstrap: Swift 6.1 or later is required on the PATH (https://swift.org/install)" >&2; exit 2; }

need_apt=()
dpkg -s libpcap-dev >/dev/null 2>&1 || need_apt+=(libpcap-dev)
command -v socat >/dev/null 2>&1 || need_apt+=(socat)
# The release (scripts/package.sh): objcopy strips it; the Action's script fetches with curl.
command -v objcopy >/dev/null 2>&1 || need_apt+=(binutils)
command -v curl >/dev/null 2>&1 || need_apt+=(curl)
# Packet mode (network: packet): nftables rules in a private network namespace.
[ -x /usr/sbin/nft ] || command -v nft >/dev/null 2>&1 || need_apt+=(nftables)
# A NAT expiry in packet mode sets the open flows' conntrack timeouts (conntrack-tools).
[ -x /usr/sbin/conntrack ] || command -v conntrack >/dev/null 2>&1 || need_apt+=(conntrack)
# The report pages are checked in a real browser (headless Chromium) by the tests.
command -v chromium >/dev/null 2>&1 || need_apt+=(chromium)
command -v python3 >/dev/null 2>&1 || need_apt+=(python3 python3-pip)
# clients/java runs as a single source file (java HeartCheck.java), which needs the JDK's compiler.
command -v javac >/dev/null 2>&1 || need_apt+=(default-jdk-headless)

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

# The seeds' browser pattern runs on Node's WebSocket (Node 20.10+ with --experimental-websocket).
if ! node --experimental-websocket -e 'process.exit(typeof WebSocket === "function" ? 0 : 1)' >/dev/null 2>&1; then
    echo "bootstrap: Node 20.10 or later is required for clients/node (its WebSocket); found: $(node --version 2>/dev/null || echo none)" >&2
    exit 2
fi

# Real external clients for the tests: Toxiproxy's Python client, and two WebSocket clients.
if ! python3 -c "import toxiproxy, websockets, websocket, pytest" >/dev/null 2>&1; then
    echo "bootstrap: installing Python test clients" >&2
    python3 -m pip install -q --disable-pip-version-check --root-user-action=ignore \
        toxiproxy-python websockets websocket-client pytest >&2
fi
