#!/bin/sh
# bench/ingest.sh — ingestion throughput on the PostgreSQL docs corpus
# (Debian package postgresql-doc-15, ~1,170 HTML pages). Not a test:
# prints figures.
#
#   1. HTML -> Markdown and Markdown -> chunks in-process
#      (`rag-ingest --convert DIR`): pages/s, MB/s, chunks/s;
#   2. end to end: rag-ingest --dir over the converted Markdown into a
#      throwaway Postgres (chunking, rows, index rebuild): chunks/s;
#   3. the same crawled over HTTP from a local nginx (--site, delay 0).
#
# Usage: bench/ingest.sh [BUILD_DIR]   (default build/)
set -eu
B=$(cd "${1:-build}" && pwd)
ROOT=$(cd "$(dirname "$0")/.." && pwd)
DOCS=/usr/share/doc/postgresql-doc-15/html
[ -d "$DOCS" ] || { echo "install postgresql-doc-15 first" >&2; exit 1; }
exec perl -I"$ROOT/t/lib" - "$B" "$DOCS" <<'PERL'
use strict;
use warnings;
use Time::HiRes qw(time);
use RagTest;
my ($B, $DOCS) = @ARGV;
$RagTest::BUILD = $B;
my @files = sort glob("$DOCS/*.html");
my $bytes = 0;
$bytes += -s $_ for @files;

# 1. conversion + chunking in-process (no I/O but reading the files)
print `$B/rag-ingest --convert $DOCS`;

# Markdown files for step 2 (untimed: one exec per page)
my $md = RagTest::tmpdir();
for my $f (@files) {
    (my $name = $f) =~ s{.*/}{};
    my $out = `$B/rag-ingest --convert '$f' --url 'https://www.postgresql.org/docs/15/$name'`;
    die "convert $f failed" if $?;
    $out =~ s/\A.*?\n\n//s;
    (my $base = $name) =~ s/\.html$//;
    RagTest::write_file("$md/$base.md", $out);
}
my ($t0, $dt);

# 2. chunk + store + index from the Markdown directory
my $pg = RagTest::pg_start();
$ENV{RAG_DATABASE_URL} = $pg->{conninfo};
$ENV{RAG_INDEX_DIR} = RagTest::tmpdir();
$t0 = time;
my $out = `$B/rag-ingest --quiet --collection pgdocs --dir $md --url-template 'https://www.postgresql.org/docs/15/{path}.html'`;
die "ingest failed: $out" if $?;
$dt = time - $t0;
my ($chunks) = $out =~ /chunks=(\d+)/;
printf "dir ingest: %d pages -> %d chunks in %.2f s: %.0f chunks/s, "
    . "%.0f pages/s (chunk, Postgres rows, index rebuild)\n",
    scalar @files, $chunks, $dt, $chunks / $dt, @files / $dt;
$t0 = time;
$out = `$B/rag-ingest --quiet --collection pgdocs --reindex`;
$dt = time - $t0;
printf "reindex only: %d chunks in %.2f s: %.0f chunks/s\n", $chunks, $dt,
    $chunks / $dt;
$t0 = time;
$out = `$B/rag-ingest --quiet --collection pgdocs --dir $md --url-template 'https://www.postgresql.org/docs/15/{path}.html'`;
$dt = time - $t0;
printf "unchanged re-run: %.2f s (%.0f pages/s)\n", $dt, @files / $dt;

# 3. crawl over HTTP from a local nginx
my $port = RagTest::free_port();
my $www = RagTest::tmpdir();
symlink $DOCS, "$www/docs" or die;
RagTest::nginx_start(port => $port,
    server => "location / { root $www; disable_symlinks off; }");
$t0 = time;
$out = `$B/rag-ingest --quiet --collection crawl --site http://127.0.0.1:$port/docs/index.html --include http://127.0.0.1:$port/docs/ --allow-private --delay 0 2>&1`;
die "crawl failed: $out" if $?;
$dt = time - $t0;
my ($fetched) = $out =~ /fetched=(\d+)/;
($chunks) = $out =~ /chunks=(\d+)/;
printf "crawl: %d pages fetched (links followed), %d chunks in %.2f s: "
    . "%.0f pages/s, %.0f chunks/s\n", $fetched, $chunks, $dt, $fetched / $dt,
    $chunks / $dt;
$t0 = time;
$out = `$B/rag-ingest --quiet --collection crawl --site http://127.0.0.1:$port/docs/index.html --include http://127.0.0.1:$port/docs/ --allow-private --delay 0 2>&1`;
$dt = time - $t0;
my ($unch) = $out =~ /unchanged=(\d+)/;
printf "re-crawl: %d unchanged (304, links from the stored pages) in %.2f s: "
    . "%.0f pages/s\n", $unch, $dt, $unch / $dt;
PERL
