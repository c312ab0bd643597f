#!/usr/bin/env bash
# Packs a release: dist/flatline-VERSION-linux-ARCH.tar.gz (+ .sha256) holding the relocatable
# binary (scripts/release-flatline.sh: nothing needed but glibc), the shipped clients, the bundled
# scenarios, the docs, a man page, shell completions and install.sh.
#   scripts/package.sh            # prints the tarball's path
set -euo pipefail
cd "$(dirname "$0")/.."
binary="$(scripts/release-flatline.sh)"
version=$("$binary" --version)
arch=$(uname -m)
name="flatline-$version-linux-$arch"
stage=".build/package/$name"
rm -rf "$stage" && mkdir -p "$stage/bin" "$stage/share/flatline" "$stage/share/man/man1" \
    "$stage/share/bash-completion/completions" "$stage/share/zsh/site-functions" "$stage/share/fish/vendor_completions.d"

# The binary, without its debugging symbols (about a third of its size).
objcopy --strip-debug "$binary" "$stage/bin/flatline"
cp -R clients scenarios docs README.md "$stage/share/flatline/"
find "$stage/share/flatline" -name __pycache__ -prune -exec rm -rf {} +
cp scripts/install.sh "$stage/install.sh"

# Completions and the man page, both from the command's own definition (ArgumentParser).
"$binary" --generate-completion-script bash >"$stage/share/bash-completion/completions/flatline"
"$binary" --generate-completion-script zsh >"$stage/share/zsh/site-functions/_flatline"
"$binary" --generate-completion-script fish >"$stage/share/fish/vendor_completions.d/flatline.fish"
scripts/manual.sh "$stage/share/man/man1"

mkdir -p dist
tar -C .build/package -czf "dist/$name.tar.gz" "$name"
(cd dist && sha256sum "$name.tar.gz" >"$name.tar.gz.sha256")
echo "package: dist/$name.tar.gz ($(du -h "dist/$name.tar.gz" | cut -f1); binary $(du -h "$stage/bin/flatline" | cut -f1))" >&2
echo "dist/$name.tar.gz"
