#!/bin/sh
# The vector leg at 1M x 768, one thread: exact int8 scan (the previous
# algorithm) vs this tree's k-means lists at several n_probe, and faiss
# IVF-Flat / IVF-SQ8 on the same vectors and queries, each with recall@10
# against exact float32 search; see bench/vectors.c for how the vectors
# are made from the PostgreSQL manual. Needs ~8 GB of disk in $TMPDIR.
#
# Usage: bench/vectors.sh [N=1000000] [DIMS=768]   (NOFAISS=1 skips faiss,
# which needs libfaiss-dev; KEEP=1 keeps the work directory)
set -eu
N=${1:-1000000}
DIMS=${2:-768}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
DOCS=/usr/share/doc/postgresql-doc-15/html
[ -d "$DOCS" ] || { echo "install postgresql-doc-15 first" >&2; exit 1; }
W=$(mktemp -d "${TMPDIR:-/tmp}/rag-vectors.XXXXXX")
[ -n "${KEEP:-}" ] || trap 'rm -rf "$W"' EXIT
CFLAGS="-std=gnu11 -D_GNU_SOURCE -O2 -g"
PKGS="libxml-2.0 libcurl yajl libpq openssl libzstd"
LIBS="$(pkg-config --libs $PKGS) -lwslay -lpthread -lm"

make -s build/librag.a >&2
cc $CFLAGS -Ilib $(pkg-config --cflags $PKGS) -o "$W/corpus" \
    bench/search_corpus.c build/librag.a $LIBS
cc $CFLAGS -Ilib -o "$W/vectors" bench/vectors.c build/librag.a $LIBS
"$W/corpus" "$DOCS" "$W/corpus.tsv"
sed -n '/^my @queries = (/,/^);/p' bench/search.pl |
    perl -ne "print \"\$1\\n\" while /'([^']+)'/g" > "$W/queries.txt"
perl -ne 'print "$1\n" if /"q":"((?:[^"\\]|\\.)*)"/' eval/postgresql.jsonl \
    >> "$W/queries.txt"

echo "== this tree (lib/rag_ivf.c, lib/rag_search.c), $N x $DIMS"
"$W/vectors" "$W/corpus.tsv" "$W/queries.txt" "$N" "$DIMS" "$W" | tee "$W/out"
rm -f "$W/v.idx"
[ -n "${NOFAISS:-}" ] && exit 0
if [ ! -f /usr/include/faiss/IndexIVFFlat.h ]; then
    echo "(faiss skipped: apt-get install libfaiss-dev)"
    exit 0
fi
lists=$(sed -n 's/^lists //p' "$W/out")
[ "$lists" -gt 1 ] || lists=256
g++ -O2 -std=c++17 -o "$W/faiss" bench/vectors_faiss.cc -lfaiss -fopenmp \
    -lblas -llapack
echo
echo "== faiss $(dpkg-query -W -f='${Version}' libfaiss-dev 2>/dev/null), $lists lists, 1 thread"
"$W/faiss" "$W" "$N" "$DIMS" "$lists"
