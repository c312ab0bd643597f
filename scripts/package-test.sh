#!/usr/bin/env bash
# The release tarball on a machine without Swift: installs it with its install.sh in a mount
# namespace where the toolchain's folder is an empty tmpfs, with a bare environment (env -i), and
# checks that ldd names no Swift library, that `doctor` passes, that `init` writes a suite for the
# shipped Python client whose five scenarios pass and whose negative twin is caught, and that a
# bundled scenario passes. Then the same with libpcap, chromium and nft hidden too: each says what it
# needs in one line. Also as user nobody. Needs root (mount namespaces); prints "not judged" otherwise.
#   scripts/package-test.sh dist/flatline-VERSION-linux-ARCH.tar.gz
set -euo pipefail
cd "$(dirname "$0")/.."
tarball=$(realpath "${1:?usage: scripts/package-test.sh TARBALL}")
if [ "$(id -u)" != 0 ]; then
    echo "package test: not judged — hiding the toolchain takes a mount namespace (run as root)"
    exit 0
fi
toolchain=$(dirname "$(dirname "$(dirname "$(readlink -f "$(command -v swift)")")")")   # /opt/swift for /opt/swift/usr/bin/swift
work=$(mktemp -d /tmp/flatline-package-test.XXXXXX)
chmod 755 "$work"
trap 'rm -rf "$work"' EXIT
cp "$tarball" "$tarball.sha256" "$work/"
cp scripts/action.sh "$work/action.sh"

# What runs inside: a plain PATH, no Swift, as the user the outer step chose.
cat >"$work/inside.sh" <<'INSIDE'
set -eu
cd "$WORK"
fail() { echo "FAILED: $*"; exit 1; }
! command -v swift >/dev/null 2>&1 || fail "swift is still on PATH"
[ ! -e "$TOOLCHAIN/usr/bin/swift" ] || fail "the toolchain is still visible at $TOOLCHAIN"
start=$(date +%s%N)
tarball=$(ls flatline-*.tar.gz)
( sha256sum -c "$tarball.sha256" >/dev/null ) || fail "checksum"
tar -xzf "$tarball"
sh flatline-*/install.sh --prefix "$WORK/prefix-$USER_TAG" >/dev/null
PATH="$WORK/prefix-$USER_TAG/bin:$PATH"
if ldd "$(command -v flatline)" | grep -i swift; then fail "ldd names a Swift library"; fi
echo "ldd: $(ldd "$(command -v flatline)" | awk '{print $1}' | tr '\n' ' ')"
flatline init --shipped "$SHIPPED" --no-input "suite-$USER_TAG" >/dev/null
flatline run --quiet --no-record "suite-$USER_TAG/pulled-cable.yaml" >run1.txt 2>&1 || { cat run1.txt; fail "the first scenario"; }
echo "tarball to first verdict: $(( ($(date +%s%N) - start) / 1000000 )) ms"
flatline run --quiet --no-record "suite-$USER_TAG" || fail "the init suite"
flatline run --quiet --no-record "suite-$USER_TAG/negative" || fail "the negative twin was not caught"
(cd "$WORK/prefix-$USER_TAG/share/flatline" && flatline run --quiet --no-record scenarios/pulled-cable.yaml) || fail "a bundled scenario"
man_page="$WORK/prefix-$USER_TAG/share/man/man1/flatline.1"
grep -q '^\.Dt FLATLINE 1' "$man_page" || fail "no man page"
for shell in bash-completion/completions/flatline zsh/site-functions/_flatline fish/vendor_completions.d/flatline.fish; do
    grep -q init "$WORK/prefix-$USER_TAG/share/$shell" || fail "completion $shell lacks init"
done
flatline doctor >doctor.txt || { cat doctor.txt; fail "doctor: the core"; }
echo "ok ($SHIPPED): installed, init suite passed, twin caught, bundled scenario passed, doctor: core works"
INSIDE

# With libpcap, chromium and nft hidden as well: each says in one line what it needs.
cat >"$work/missing.sh" <<'MISSING'
set -eu
cd "$WORK"
fail() { echo "FAILED: $*"; exit 1; }
PATH="$WORK/prefix-$USER_TAG/bin:$PATH"
flatline doctor >doctor-missing.txt || { cat doctor-missing.txt; fail "doctor without the optional parts must still exit 0"; }
grep -q "libpcap is not installed" doctor-missing.txt || { cat doctor-missing.txt; fail "doctor does not name libpcap"; }
grep -q "apt-get install chromium" doctor-missing.txt || { cat doctor-missing.txt; fail "doctor does not name chromium"; }
grep -q "apt-get install nftables" doctor-missing.txt || { cat doctor-missing.txt; fail "doctor does not name nftables"; }
flatline run --no-record --capture "$WORK/prefix-$USER_TAG/share/flatline/scenarios/pulled-cable.yaml" >capture.txt 2>&1 || true
grep -q "capture skipped: libpcap is not installed" capture.txt || { cat capture.txt; fail "capture without libpcap"; }
flatline run --no-record --network packet "$WORK/prefix-$USER_TAG/share/flatline/scenarios/pulled-cable.yaml" >packet.txt 2>&1 && fail "packet mode ran without nft"
grep -q "needs the nft program" packet.txt || { cat packet.txt; fail "packet mode without nft"; }
(cd "$WORK/prefix-$USER_TAG/share/flatline" && flatline run --no-record scenarios/clients/browser-fixed-pulled-cable.yaml) >browser.txt 2>&1 && fail "a browser client ran without chromium"
grep -qi "chromium" browser.txt || { cat browser.txt; fail "a browser client without chromium"; }
echo "ok: without libpcap, chromium and nft — each named with its fix, the core still works"
MISSING

pcap=$(readlink -f /usr/lib/x86_64-linux-gnu/libpcap.so.0.8 2>/dev/null || true)
run() {  # USER_TAG SETPRIV... -- script
    local tag=$1 script=$2; shift 2
    unshare --mount --propagation private sh -c '
        mount -t tmpfs -o size=1m,mode=755 none "$TOOLCHAIN"
        if [ "$SCRIPT" = missing.sh ]; then
            [ -z "$PCAP" ] || mount --bind /dev/null "$PCAP"
            for program in /usr/bin/chromium /usr/sbin/nft /usr/bin/nft; do [ ! -e "$program" ] || mount --bind /dev/null "$program"; done
        fi
        exec "$@" env -i PATH="$EXTRA_PATH/usr/local/bin:/usr/bin:/bin" HOME="$WORK" WORK="$WORK" TOOLCHAIN="$TOOLCHAIN" USER_TAG="$TAG" SHIPPED="$SHIPPED" sh "$WORK/$SCRIPT"
    ' sh "$@"
}
export TOOLCHAIN=$toolchain WORK=$work PCAP=$pcap
# The Python clients need python3 with websockets: the one on PATH here (it may be a pyenv
# interpreter that only root can reach: as nobody, the shipped Node client is used instead).
python_dir=$(dirname "$(python3 -c 'import sys; print(sys.executable)')")
status=0
for who in root nobody; do
    if [ $who = root ]; then
        as=(); shipped=python-websockets; extra="$python_dir:"
    else
        as=(setpriv --reuid=65534 --regid=65534 --clear-groups); chown -R 65534:65534 "$work"
        if setpriv --reuid=65534 --regid=65534 --clear-groups "$python_dir/python3" -c 'import websockets' 2>/dev/null; then
            shipped=python-websockets; extra="$python_dir:"
        else
            shipped=node; extra=""
        fi
    fi
    for script in inside.sh missing.sh; do
        echo "--- package test as $who: $script"
        TAG=$who SCRIPT=$script SHIPPED=$shipped EXTRA_PATH=$extra run "$who" "$script" "${as[@]}" || status=1
    done
done
exit $status
