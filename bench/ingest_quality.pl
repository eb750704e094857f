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

# Lines of a chunk that are prose (see the header), normalised.
sub prose_lines {
    my ($text) = @_;
    my (@out, $fence);
    for my $l (split /\n/, $text) {
        (my $s = $l) =~ s/^(?:\s*>)*\s*//;
        if ($s =~ /^(`{3,}|~{3,})/) {
            my $f = substr($1, 0, 1) x length $1;
            if (!defined $fence) { $fence = $f }
            elsif (index($s, $fence) == 0 && $s =~ /^[`~]+\s*$/) { undef $fence }
            next;
        }
        next if defined $fence;
        next if $s =~ /^#{1,6}\s/;
        next unless $s =~ /[[:alnum:]]/;
        $s =~ s/\]\([^)]*\)/]/g;
        $s =~ s/\s+$//;
        push @out, $s;
    }
    return @out;
}

sub fences_broken {
    my ($text) = @_;
    my $fence;
    for my $l (split /\n/, $text) {
        (my $s = $l) =~ s/^(?:\s*>)*\s*//;
        next unless $s =~ /^(`{3,}|~{3,})(.*)$/;
        my ($run, $rest) = ($1, $2);
        if (!defined $fence) { $fence = $run }
        elsif (substr($run, 0, 1) eq substr($fence, 0, 1)
            && length $run >= length $fence && $rest =~ /^\s*$/) { undef $fence }
    }
    return defined $fence ? 1 : 0;
}

sub measure {
    my ($coll) = @_;
    my $cid = q1("SELECT id FROM collections WHERE name = '$coll'");
    my %m;
    $m{pages} = q1("SELECT count(*) FROM documents WHERE collection_id = $cid");
    $m{chunks} = q1("SELECT count(*) FROM chunks c JOIN documents d ON
        d.id = c.document_id WHERE d.collection_id = $cid");
    $m{dup} = q1("SELECT count(*) - count(DISTINCT md5(body)) FROM documents
        WHERE collection_id = $cid");
    $m{generated} = q1("SELECT count(*) FROM documents WHERE collection_id = $cid
        AND (url ~ '/(genindex[^/]*|py-modindex|modindex|search)\\.html\$'
             OR url ~ '/_(modules|sources)/')");
    # chunks, streamed per document
    my $rows = RagTest::psql($pg, "SELECT c.document_id, encode(convert_to(
        c.body, 'UTF8'), 'base64') FROM chunks c JOIN documents d ON
        d.id = c.document_id WHERE d.collection_id = $cid ORDER BY 1, c.ordinal");
    my (%df, %seen, $docs);
    my $cur = -1;
    $m{fences} = 0;
    require MIME::Base64;
    for my $row (split /\n(?=\d+\|)/, $rows) {
        my ($doc, $b64) = split /\|/, $row, 2;
        my $text = MIME::Base64::decode_base64($b64 // '');
        if ($doc != $cur) { %seen = (); $cur = $doc; $docs++ }
        $m{fences} += fences_broken($text);
        for my $l (prose_lines($text)) {
            $df{$l}++ unless $seen{$l}++;
        }
    }
    my @bp = grep { $df{$_} * 2 > ($m{pages} || 1) } keys %df;
    $m{boiler} = $m{pages} >= 10 ? scalar @bp : 0;
    $m{boiler_examples} = join ' | ', map { substr($_, 0, 60) }
        (sort { $df{$b} <=> $df{$a} } @bp)[0 .. ($#bp < 2 ? $#bp : 2)];
    return \%m;
}

printf "%-11s %-8s %6s %7s %5s %6s %6s %9s %7s\n", 'manual', 'build',
    'pages', 'chunks', 'dup', 'boiler', 'fences', 'generated', 'seconds';
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
        my $m = measure($coll);
        printf "%-11s %-8s %6d %7d %5d %6d %6d %9d %7.1f\n", $site, $name,
            @$m{qw(pages chunks dup boiler fences generated)}, $dt;
        print "    boilerplate e.g.: $m->{boiler_examples}\n" if $m->{boiler};
        if ($site eq 'postgresql' && -f "$FindBin::Bin/../eval/postgresql.jsonl") {
            my $ev = `$dirb/rag-admin eval $FindBin::Bin/../eval/postgresql.jsonl --collection $coll --base $ng->{url} 2>&1`;
            my ($bm) = $ev =~ /^(bm25\s.*)$/m;
            print "    eval/postgresql.jsonl r\@1 r\@5 r\@10 MRR: ",
                ($bm // "eval failed: $ev"), "\n";
        }
    }
}
