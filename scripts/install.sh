#!/bin/sh
# Installs this Flatline release under a prefix: PREFIX/bin/flatline, PREFIX/share/flatline (clients,
# scenarios, docs), the man page and the bash, zsh and fish completions.
#   ./install.sh                    # /usr/local as root, ~/.local otherwise
#   ./install.sh --prefix /opt/flatline
set -eu
here=$(cd "$(dirname "$0")" && pwd)
if [ "$(id -u)" = 0 ]; then prefix=/usr/local; else prefix="$HOME/.local"; fi
while [ $# -gt 0 ]; do
    case "$1" in
        --prefix) [ $# -ge 2 ] || { echo "install.sh: --prefix needs a folder" >&2; exit 2; }; prefix=$2; shift 2 ;;
        --prefix=*) prefix=${1#--prefix=}; shift ;;
        -h|--help) sed -n '2,5p' "$0"; exit 0 ;;
        *) echo "install.sh: unknown argument '$1' (--prefix DIR)" >&2; exit 2 ;;
    esac
done
[ -x "$here/bin/flatline" ] || { echo "install.sh: run it from the unpacked release (no bin/flatline beside it)" >&2; exit 2; }
mkdir -p "$prefix/bin" "$prefix/share"
rm -rf "$prefix/share/flatline"
cp "$here/bin/flatline" "$prefix/bin/flatline.new" && mv -f "$prefix/bin/flatline.new" "$prefix/bin/flatline"
cp -R "$here/share/." "$prefix/share/"
echo "installed flatline $("$prefix/bin/flatline" --version) in $prefix"
case ":$PATH:" in
    *":$prefix/bin:"*) ;;
    *) echo "add it to your PATH: export PATH=\"$prefix/bin:\$PATH\"" ;;
esac
echo "next: flatline doctor; flatline init --help"
