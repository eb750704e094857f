#!/bin/sh
# The vector leg at 1M x 768, one thread, everything in one run on the
# same vectors and queries (see bench/vectors.c for how they are made
# from the PostgreSQL manual): the exact int8 scan (the algorithm below
# RAG_INDEX_IVF_MIN) and the k-means lists at several n_probe and at the
# index's default, for this tree and for BASE (default 06babdc, the lists
# before issue 13.4's work) built apart from git; each with recall@10
# against exact float32 search, build time and writer peak RSS; then
# faiss IVF-Flat on the same data. Needs ~8 GB of disk in $TMPDIR.
#
# Usage: bench/vectors.sh [N=1000000] [DIMS=768]   (NOFAISS=1 skips faiss,
# which needs libfaiss-dev; NOBASE=1 skips BASE; WORK=DIR reuses (or
# makes) the vectors, queries and truth in DIR and keeps it; KEEP=1
# keeps a fresh work directory; VEC_LISTS=L forces L lists; VEC_PROBES=
# 16,32,... the n_probe values; VEC_IDX=FILE VEC_NOBUILD=1 searches an
# index this tree wrote, with both trees, without building: BASE reads
# the sections it knows, the same lists). BASE skips the exact int8
# scan: it is the same code as this tree's.
set -eu
N=${1:-1000000}
DIMS=${2:-768}
BASE=${BASE:-06babdc}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
DOCS=/usr/share/doc/postgresql-doc-15/html
[ -d "$DOCS" ] || { echo "install postgresql-doc-15 first" >&2; exit 1; }
if [ -n "${WORK:-}" ]; then
    W=$WORK
    mkdir -p "$W"
else
    W=$(mktemp -d "${TMPDIR:-/tmp}/rag-vectors.XXXXXX")
    [ -n "${KEEP:-}" ] || trap 'rm -rf "$W"' EXIT
fi
CFLAGS="-std=gnu11 -D_GNU_SOURCE -O2 -g"
PKGS="libxml-2.0 libcurl yajl libpq openssl libzstd"
LIBS="$(pkg-config --libs $PKGS) -lstemmer -lwslay -lpthread -lm"

make -s build/librag.a >&2
cc $CFLAGS -Ilib $(pkg-config --cflags $PKGS) -o "$W/corpus" \
    bench/search_corpus.c build/librag.a $LIBS
cc $CFLAGS -Ilib -o "$W/vectors-new" bench/vectors.c build/librag.a $LIBS
if [ -z "${NOBASE:-}" ]; then
    rm -rf "$W/base" && mkdir -p "$W/base"
    git archive "$BASE" lib Makefile | tar -x -C "$W/base"
    make -s -C "$W/base" build/librag.a >/dev/null
    cc $CFLAGS -I"$W/base/lib" -o "$W/vectors-base" bench/vectors.c \
        "$W/base/build/librag.a" $LIBS
fi
if [ ! -f "$W/gt.u32" ]; then
    "$W/corpus" "$DOCS" "$W/corpus.tsv"
    sed -n '/^my @queries = (/,/^);/p' bench/search.pl |
        perl -ne "print \"\$1\\n\" while /'([^']+)'/g" > "$W/queries.txt"
    perl -ne 'print "$1\n" if /"q":"((?:[^"\\]|\\.)*)"/' \
        eval/postgresql.jsonl >> "$W/queries.txt"
fi

echo "load: $(uptime)"
for v in new base; do
    [ $v = base ] && [ -n "${NOBASE:-}" ] && continue
    echo
    if [ $v = new ]; then
        echo "== this tree ($(git rev-parse --short HEAD)$(git diff --quiet || echo +changes)), $N x $DIMS"
    else
        echo "== BASE $BASE, $N x $DIMS"
    fi
    [ $v = base ] && export VEC_NOEXACT=1
    "$W/vectors-$v" "$W/corpus.tsv" "$W/queries.txt" "$N" "$DIMS" "$W" |
        tee "$W/out-$v"
    rm -f "$W/v.idx"
    echo "load: $(uptime)"
done
[ -n "${NOFAISS:-}" ] && exit 0
if [ ! -f /usr/include/faiss/IndexIVFFlat.h ]; then
    echo "(faiss skipped: apt-get install libfaiss-dev)"
    exit 0
fi
lists=$(sed -n 's/^lists //p' "$W/out-new")
[ "$lists" -gt 1 ] || lists=256
g++ -O2 -std=c++17 -o "$W/faiss" bench/vectors_faiss.cc -lfaiss -fopenmp \
    -lblas -llapack
echo
echo "== faiss $(dpkg-query -W -f='${Version}' libfaiss-dev 2>/dev/null), $lists lists, 1 thread"
"$W/faiss" "$W" "$N" "$DIMS" "$lists"
