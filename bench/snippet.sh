#!/bin/sh
# /search's snippets, this tree against the previous implementation in
# the same run (bench/snippet.c does the work): the PostgreSQL manual as
# rag-ingest chunks it, BM25 top 10 for bench/search.pl's 50 queries and
# eval/postgresql.jsonl's questions, the ten snippets timed (CPU, one
# thread) and compared: how many are identical, how many hold a query
# term.
#
# Usage: bench/snippet.sh   (BASE=<rev>: the previous implementation,
# default the commit before lib/rag_snippet.c; KEEP=1 keeps $TMPDIR/rag-snip.*)
set -eu
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
DOCS=/usr/share/doc/postgresql-doc-15/html
[ -d "$DOCS" ] || { echo "install postgresql-doc-15 first" >&2; exit 1; }
if [ -z "${BASE:-}" ]; then
    first=$(git log --diff-filter=A --format=%H -- lib/rag_snippet.c | tail -1)
    BASE=$(git rev-parse "${first:-HEAD}^")
fi
W=$(mktemp -d "${TMPDIR:-/tmp}/rag-snip.XXXXXX")
[ -n "${KEEP:-}" ] || trap 'rm -rf "$W"' EXIT
CFLAGS="-std=gnu11 -D_GNU_SOURCE -O2 -g"
PKGS="libxml-2.0 libcurl yajl libpq openssl libzstd"
LIBS=$(make -s print-ldlibs)

echo "building this tree and $BASE (previous implementation)..." >&2
make -s build/librag.a >&2
mkdir -p "$W/base"
git archive "$BASE" lib Makefile | tar -x -C "$W/base"
make -s -C "$W/base" build/librag.a >/dev/null
for v in new base; do
    lib=build/librag.a; inc=lib
    [ $v = base ] && { lib="$W/base/build/librag.a"; inc="$W/base/lib"; }
    cc $CFLAGS -I"$inc" -o "$W/snip-$v" bench/snippet.c "$lib" $LIBS
done
cc $CFLAGS -Ilib $(pkg-config --cflags $PKGS) -o "$W/corpus" \
    bench/search_corpus.c build/librag.a $LIBS
"$W/corpus" "$DOCS" "$W/corpus.tsv"
sed -n '/^my @queries = (/,/^);/p' bench/search.pl |
    perl -ne "print \"\$1\\n\" while /'([^']+)'/g" > "$W/queries.txt"
perl -ne 'print "$1\n" if /"q":"((?:[^"\\]|\\.)*)"/' eval/postgresql.jsonl \
    >> "$W/queries.txt"

for v in base new; do
    "$W/snip-$v" "$W/corpus.tsv" "$W/$v.idx" "$W/queries.txt" \
        "$W/$v.snip" > "$W/$v.out"
    rm -f "$W/$v.idx"
done
perl - "$W/base.out" "$W/new.out" "$W/base.snip" "$W/new.snip" "$BASE" <<'PERL'
use strict;
use warnings;
my ($bo, $no, $bs, $ns, $base) = @ARGV;
sub kv { my %h; open my $f, '<', shift or die; while (<$f>) { $h{$1} = $2 if /^(\S+) (\S+)/ } %h }
my %b = kv($bo);
my %w = kv($no);
printf "snippets of BM25's top 10 on the PostgreSQL 15 manual: %d queries, %d snippets of 240 bytes, one thread (CPU)\n",
    $w{queries}, $w{snippets};
printf "previous implementation: %s; load average %s\n\n", substr($base, 0, 12),
    (split ' ', `cat /proc/loadavg`)[0];
printf "%-34s %10s %10s %8s\n", '', 'previous', 'this tree', 'ratio';
for my $r (['us per snippet (rag_snippet)', 'us_per_snippet'],
           ['us per query of 10 (rag_snippet)', 'us_per_query']) {
    my ($l, $k) = @$r;
    printf "%-34s %10.2f %10.2f %7.2fx\n", $l, $b{$k}, $w{$k}, $w{$k} / $b{$k};
}
printf "%-34s %10s %10.2f %7.2fx\n", 'us per query, query parsed once', '-',
    $w{us_per_query_parsed_once}, $w{us_per_query_parsed_once} / $b{us_per_query}
    if defined $w{us_per_query_parsed_once};
printf "%-34s %9.1f%% %9.1f%%\n", 'snippets holding a query term', $b{with_term_pct}, $w{with_term_pct};
open my $fb, '<', $bs or die;
open my $fn, '<', $ns or die;
my ($same, $n) = (0, 0);
while (defined(my $x = <$fb>)) {
    my $y = <$fn>;
    $n++;
    $same++ if defined $y && $x eq $y;
}
printf "identical snippets: %d of %d\n", $same, $n;
PERL
