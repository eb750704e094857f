#!/usr/bin/perl
# bench/ingest_quality.pl — what ingestion keeps of real documentation
# sites. Not a test: prints figures. Each Debian-shipped manual is served
# by a local nginx and crawled with `rag-ingest --site` (as a user would,
# no selector), once per build given, into one throwaway Postgres, then
#
#   pages       documents stored
#   chunks      chunks stored
#   dup         pages stored twice: documents whose Markdown equals
#               another document's (/ and /index.html, / and git.html)
#   boiler      boilerplate lines: distinct chunk lines (outside code,
#               headings and pure punctuation; link targets ignored) that
#               appear in the chunks of more than half of the pages
#   fences      chunks whose code fences do not balance (container-aware:
#               fences inside "> " quotes count)
#   generated   pages that are generated indexes or source listings
#               (genindex, py-modindex, search, _modules/, _sources/)
#   repeats     chunks whose breadcrumb repeats a heading
#   (definitions and code: t/lib/IngestQuality.pm, shared with t/26)
#
# and, on the PostgreSQL manual, `rag-admin eval eval/postgresql.jsonl`.
#
# Usage: bench/ingest_quality.pl NAME=BUILD_DIR [NAME=BUILD_DIR ...]
#        (e.g. before=/tmp/base/build after=build); RAG_QUALITY_SITES=
#        "postgresql python" limits the manuals.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../t/lib";
use Time::HiRes qw(time);
use RagTest;
use IngestQuality;

use Cwd qw(abs_path);
my @builds = map { my @p = split /=/, $_, 2; [$p[0], abs_path($p[1])] } @ARGV;
die "usage: $0 NAME=BUILD_DIR ...\n" unless @builds;
$RagTest::BUILD = abs_path("$FindBin::Bin/../build");    # nginx loads our module

my %sites = (
    postgresql => '/usr/share/doc/postgresql-doc-15/html',
    python     => '/usr/share/doc/python3.11/html',
    django     => '/usr/share/doc/python-django-doc/html',
    git        => '/usr/share/doc/git-doc',
    mkdocs     => '/usr/share/doc/mkdocs/html',
);
my @order = split ' ', ($ENV{RAG_QUALITY_SITES}
    || 'postgresql python django git mkdocs');

my $pg = RagTest::pg_start();
my $ix = RagTest::tmpdir();
$ENV{RAG_DATABASE_URL} = $pg->{conninfo};
$ENV{RAG_INDEX_DIR} = $ix;
delete $ENV{RAG_EMBED_BASE_URL};

sub q1 { RagTest::psql($pg, $_[0]) }

printf "%-11s %-8s %6s %7s %5s %6s %6s %9s %7s %7s\n", 'manual', 'build',
    'pages', 'chunks', 'dup', 'boiler', 'fences', 'generated', 'repeats',
    'seconds';
for my $site (@order) {
    my $dir = $sites{$site} or die "unknown site $site";
    unless (-f "$dir/index.html") {
        print "$site: $dir missing (apt-get install the doc package)\n";
        next;
    }
    my $ng = RagTest::nginx_start(server =>
        "location / { root $dir; index index.html; }");
    for my $b (@builds) {
        my ($name, $dirb) = @$b;
        my $coll = "${site}_$name";
        my $t0 = time;
        my $out = `$dirb/rag-ingest --collection $coll --site $ng->{url}/index.html --include $ng->{url}/ --allow-private --delay 0 --quiet 2>&1`;
        my $rc = $? >> 8;
        my $dt = time - $t0;
        my ($summary) = $out =~ /^(pages .*)$/m;
        if ($rc != 0 && $rc != 3) {
            print "$site $name: rag-ingest exit $rc: ",
                ($out =~ /rag-ingest: (.*)/)[0] // $out, "\n";
        }
        my $m = IngestQuality::measure($pg, $coll);
        printf "%-11s %-8s %6d %7d %5d %6d %6d %9d %7d %7.1f\n", $site, $name,
            @$m{qw(pages chunks dup boiler fences generated repeats)}, $dt;
        print "    boilerplate e.g.: $m->{boiler_examples}\n" if $m->{boiler};
        if ($site eq 'postgresql' && -f "$FindBin::Bin/../eval/postgresql.jsonl") {
            my $ev = `$dirb/rag-admin eval $FindBin::Bin/../eval/postgresql.jsonl --collection $coll --base $ng->{url} 2>&1`;
            my ($bm) = $ev =~ /^(bm25\s.*)$/m;
            print "    eval/postgresql.jsonl r\@1 r\@5 r\@10 MRR: ",
                ($bm // "eval failed: $ev"), "\n";
        }
    }
}
