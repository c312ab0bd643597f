#!/usr/bin/env bash
# The release build of flatline, relocatable: the Swift runtime and Foundation linked statically
# (--static-swift-stdlib), libstdc++ and libgcc too, libpcap loaded only when capture is used — the
# binary needs nothing but glibc (2.36 or later: arc4random). Used by the measuring scripts, the scale tests and
# scripts/package.sh. Installs what is missing first; prints the executable's path (build output
# goes to stderr).
#   flatline="$(scripts/release-flatline.sh)"
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh >&2
flags=(-c release --static-swift-stdlib -Xswiftc -Xclang-linker -Xswiftc -static-libgcc)
# libstdc++ statically: a folder holding only libstdc++.a comes first in the linker's search path.
cxx=$(gcc -print-file-name=libstdc++.a 2>/dev/null || clang -print-file-name=libstdc++.a 2>/dev/null || true)
if [ -n "$cxx" ] && [ -f "$cxx" ]; then
    mkdir -p .build/static-cxx
    ln -sf "$cxx" .build/static-cxx/libstdc++.a
    flags+=(-Xlinker "-L$PWD/.build/static-cxx")
else
    echo "release-flatline: no libstdc++.a (Debian: libstdc++-12-dev): the binary will need libstdc++.so.6" >&2
fi
swift build "${flags[@]}" --product flatline >&2
echo "$(swift build "${flags[@]}" --show-bin-path)/flatline"
