#!/usr/bin/env bash
# Builds the Debian packages (libnginx-mod-http-rag, ngx-rag) with
# `dpkg-buildpackage -us -uc -b` from a copy of the source tree, since
# dpkg-buildpackage writes its results into the parent directory, then
# runs lintian on them. Usage: scripts/build-deb.sh [OUT_DIR]
# Prints the .deb paths on the last lines; exits non-zero when the build
# fails or lintian reports an error.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
OUT=${1:-$ROOT/build-pkg}
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
WORK=$(mktemp -d "${TMPDIR:-/tmp}/ngx-rag-deb.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
SRC=$WORK/ngx-rag-src
mkdir -p "$SRC"

# tracked files plus new ones not ignored; never build output
if git -C "$ROOT" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
    git -C "$ROOT" ls-files -z -co --exclude-standard |
        (cd "$ROOT" && xargs -0 cp --parents -t "$SRC" 2>/dev/null || true)
    # deleted-but-tracked files make cp fail above; check what matters
    test -f "$SRC/debian/control" -a -f "$SRC/Makefile"
else
    tar -C "$ROOT" --exclude=./build --exclude=./build-asan \
        --exclude=./build-fuzz --exclude=./build-deb --exclude=./build-pkg \
        -cf - . | tar -C "$SRC" -xf -
fi

echo "deb: building in $SRC"
(cd "$SRC" && nice dpkg-buildpackage -us -uc -b) > "$OUT/build.log" 2>&1 || {
    tail -40 "$OUT/build.log" >&2
    exit 1
}
rm -f "$OUT"/*.deb
mv "$WORK"/*.deb "$WORK"/*.buildinfo "$WORK"/*.changes "$OUT"/

echo "deb: lintian"
# --fail-on error: warnings are printed and reported, errors fail.
lintian --fail-on error --info "$OUT"/*.changes > "$OUT/lintian.txt" 2>&1 || {
    cat "$OUT/lintian.txt" >&2
    exit 1
}
cat "$OUT/lintian.txt"
ls "$OUT"/*.deb
