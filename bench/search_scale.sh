#!/bin/sh
# BM25 at a million chunks, this tree against the previous implementation
# in the same run (bench/search_scale.c does the work):
#
#   1. the PostgreSQL manual (postgresql-doc-15) as rag-ingest chunks it;
#   2. the previous implementation's lib/ (BASE, default: main e0676fc,
#      before the fifth wave's BM25 work) exported with git archive and
#      built apart;
#   3. bench/search_scale.c built against each, each run in turn: build
#      an N-record index (the chunks replicated, each copy after the
#      first with 30 % of its words dropped), then BM25 top-10 for the
#      query set (bench/search.pl's 50 + eval/postgresql.jsonl's 56
#      questions) x 5 rounds on one thread;
#   4. figures side by side with ratios, and whether both return the
#      same top 10 for every query (differences listed: equal scores
#      only, i.e. ties, or not).
#
# Usage: bench/search_scale.sh [N=1000000]   (BASE=<rev> to compare with
# another revision; KEEP=1 keeps the work directory: $TMPDIR/rag-scale.*)
set -eu
N=${1:-1000000}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
DOCS=/usr/share/doc/postgresql-doc-15/html
[ -d "$DOCS" ] || { echo "install postgresql-doc-15 first" >&2; exit 1; }
# BASE=e0676fc: main before the fifth wave (BM25 scoring cost, build
# time); BASE=06babdc (before the fourth wave), 15d5a36^ (before index
# format 2) or any revision works too: the bench uses only the API every
# format has had (and the ranking switches where BASE has them)
BASE=${BASE:-e0676fc}
W=$(mktemp -d "${TMPDIR:-/tmp}/rag-scale.XXXXXX")
[ -n "${KEEP:-}" ] || trap 'rm -rf "$W"' EXIT
CFLAGS="-std=gnu11 -D_GNU_SOURCE -O2 -g"
PKGS="libxml-2.0 libcurl yajl libpq openssl libzstd"
LIBS="$(pkg-config --libs $PKGS) -lstemmer -lwslay -lpthread -lm"

echo "building this tree and $BASE (previous implementation)..." >&2
make -s build/librag.a >&2
mkdir -p "$W/base"
git archive "$BASE" lib Makefile | tar -x -C "$W/base"
make -s -C "$W/base" build/librag.a >/dev/null
# a previous implementation with the ranking switches (page_blend in
# rag_search_opts) gets the plain pass too: plain BM25 against plain BM25
bsw=
grep -q page_blend "$W/base/lib/rag_search.h" && bsw=-DSCALE_SWITCHES
for v in new base; do
    lib=build/librag.a; inc=lib
    [ $v = base ] && { lib="$W/base/build/librag.a"; inc="$W/base/lib"; }
    sw=$bsw; [ $v = new ] && sw=-DSCALE_SWITCHES
    cc $CFLAGS $sw -I"$inc" -o "$W/scale-$v" bench/search_scale.c "$lib" $LIBS
done
cc $CFLAGS -Ilib $(pkg-config --cflags $PKGS) -o "$W/corpus" \
    bench/search_corpus.c build/librag.a $LIBS
cc $CFLAGS -Ilib -o "$W/codec" bench/postings_codec.c build/librag.a $LIBS \
    -lstreamvbyte -lpthread -lm

"$W/corpus" "$DOCS" "$W/corpus.tsv"
sed -n '/^my @queries = (/,/^);/p' bench/search.pl |
    perl -ne "print \"\$1\\n\" while /'([^']+)'/g" > "$W/queries.txt"
perl -ne 'print "$1\n" if /"q":"((?:[^"\\]|\\.)*)"/' eval/postgresql.jsonl \
    >> "$W/queries.txt"
echo "queries: $(wc -l < "$W/queries.txt")" >&2

for v in base new; do
    echo "running $v (N=$N)..." >&2
    "$W/scale-$v" "$W/corpus.tsv" "$N" "$W/$v.idx" "$W/queries.txt" \
        "$W/$v.top" > "$W/$v.out"
    [ $v = new ] && "$W/codec" "$W/new.idx" > "$W/codec.out" 2>/dev/null
    # the same index, plain BM25 (page evidence, question words off)
    if [ $v = new ] || [ -n "$bsw" ]; then
        SCALE_PLAIN=1 "$W/scale-$v" "$W/corpus.tsv" 0 "$W/$v.idx" \
            "$W/queries.txt" "$W/$v-plain.top" > "$W/$v-plain.out"
        grep '^corpus_chunks ' "$W/$v.out" >> "$W/$v-plain.out"
    fi
    rm -f "$W/$v.idx"
done

# twice: this tree with its default ranking, then plain BM25 top-10 on
# the same index (what the previous implementation ranks, so its top 10
# must be identical)
for run in new plain; do
label="this tree, default ranking (page evidence, question words)"
bo=base; no=new
if [ $run = plain ]; then
    label="this tree, plain BM25 (SCALE_PLAIN: page evidence, question words off; query figures only)"
    no=new-plain
    # against the previous implementation's plain BM25 when it has one
    [ -n "$bsw" ] && { bo=base-plain; label="$label; previous: plain BM25 too"; }
fi
echo; echo "== $label"
perl - "$W/$bo.out" "$W/$no.out" "$W/$bo.top" "$W/$no.top" "$N" "$BASE" "$run" <<'PERL'
use strict;
use warnings;
my ($bo, $no, $bt, $nt, $n, $base, $run) = @ARGV;
sub kv { my %h; open my $f, '<', shift or die; while (<$f>) { $h{$1} = $2 if /^(\S+) (\S+)/ } %h }
my %b = kv($bo);
my %w = kv($no);
printf "BM25 at %d records (%d chunks of the PostgreSQL 15 manual, copies with 30%% of words dropped), k=10, %d queries, one thread\n",
    $n, $w{corpus_chunks} // $b{corpus_chunks}, $w{queries};
printf "previous implementation: %s\n", substr($base, 0, 12);
printf "load average at the end: %s\n\n", (split ' ', `cat /proc/loadavg`)[0];
printf "%-26s %12s %12s %10s\n", '', 'previous', 'this tree', 'ratio';
for my $r (['query p50 (ms, CPU)', 'cpu_p50_ms', 3],
           ['query p99 (ms, CPU)', 'cpu_p99_ms', 3],
           ['query max (ms, CPU)', 'cpu_max_ms', 3],
           ['query p50 (ms, wall)', 'p50_ms', 3], ['query p99 (ms, wall)', 'p99_ms', 3],
           ['query max (ms, wall)', 'max_ms', 3], ['index size (MB)', 'index_mb', 1],
           ['writer peak RSS (MB)', 'build_peak_rss_mb', 0],
           ['build (s, writer, CPU)', 'build_cpu_s', 2],
           ['build (s, writer, wall)', 'build_s', 2],
           ['making copies (s)', 'copy_gen_s', 2],
           ['open + validation (s)', 'open_s', 3]) {
    my ($label, $k, $d) = @$r;
    next unless defined $b{$k} && defined $w{$k};
    printf "%-26s %12.${d}f %12.${d}f %9.2fx\n", $label, $b{$k}, $w{$k},
        $b{$k} > 0 ? $w{$k} / $b{$k} : 0;
}
open my $fb, '<', $bt or die;
open my $fn, '<', $nt or die;
# per query: the same records in the same order with scores equal to
# 1e-9 (the new scores are rounded to 2^-40) = same; a different record
# where the scores are equal = a tie broken otherwise; else different
my ($same, $total, $ties, @other) = (0, 0, 0);
while (defined(my $lb = <$fb>)) {
    my $ln = <$fn>;
    $total++;
    my @x = split ' ', $lb;
    my @y = split ' ', $ln;
    shift @x;
    shift @y;
    my $kind = @x == @y ? 'same' : 'different';
    for my $i (0 .. $#x) {
        last if $kind eq 'different';
        my ($rx, $sx) = split /:/, $x[$i];
        my ($ry, $sy) = split /:/, $y[$i];
        if (abs($sx - $sy) > 1e-9 * (1 + abs $sx)) { $kind = 'different' }
        elsif ($rx != $ry) { $kind = 'tie' }
    }
    $same++ if $kind eq 'same';
    $ties++ if $kind eq 'tie';
    push @other, $ln if $kind eq 'different';
}
printf "\ntop 10 identical (records, order, scores to 1e-9) for %d of %d queries\n",
    $same, $total;
printf "%d more differ only in the order of equal scores (ties)\n", $ties if $ties;
# the default ranking is meant to differ (page evidence reorders)
if ($run eq 'plain') { print "DIFFERENT: $_" for @other }
else { printf "%d differ: the ranking changed on purpose\n", scalar @other }
PERL
done
echo
echo "postings codecs on this index's postings (bench/postings_codec.c):"
cat "$W/codec.out"
