# Retrieval over six documentation sites, measured in one run: the
# Debian-shipped PostgreSQL 15, Python 3.11, Django 3.2, git and MkDocs
# manuals (whole, as shipped) and the Docusaurus fixture are served by
# nginx, crawled and indexed with rag-ingest, and `rag-admin eval` scores
# the user-question sets of eval/sets/ and the holdout set against them:
# page-level recall@1/5/10 and MRR for BM25 beside PostgreSQL full-text
# search (AND / OR) over the same chunks. Each set's BM25 recall@5 is
# gated at a floor set from the figure measured when the sets were
# committed (eval/README.md), minus about two questions; the holdout set
# only at a low floor (eval/holdout/README.md). The table is printed on
# every run (prove -v).
use strict;
use warnings;
use Test::More;
use File::Copy qw(copy);
use JSON::PP;
use Time::HiRes qw(time);
use lib 't/lib';
use RagTest;

my %DOCS = (
    postgresql => '/usr/share/doc/postgresql-doc-15/html',
    python     => '/usr/share/doc/python3-doc/html',
    django     => '/usr/share/doc/python-django-doc/html',
    git        => '/usr/share/doc/git-doc',
    mkdocs     => '/usr/share/doc/mkdocs/html',
);
for my $c (sort keys %DOCS) {
    plan skip_all => "$DOCS{$c} missing (sh .ci/deps.sh installs it)"
        unless -f "$DOCS{$c}/index.html";
}

# BM25 recall@5 floors: the figure measured with the current ranking
# minus about two questions, so a change that costs more than that
# fails. Raise them when ranking gets better; never lower one to make a
# change pass.
# Measured 2026-11-29 (questions recalled at 5 / set size): when the sets
# were committed postgresql 14/32, python 17/34, django 22/35, git 21/35,
# mkdocs 28/31, docusaurus 12/12; with one hit per page first (rank step
# 1) 15/32, 19/34, 23/35, 23/35, 29/31, 12/12; with BM25F (step 2) git
# 24/35, the rest unchanged; pseudo-relevance feedback (step 4) moved no
# question at 5 (it gained at 10 and in MRR), so the floors stay. With
# page evidence and question words (issue 16.1, both on): postgresql
# 18/32, python 21/34, django 26/35, git 29/35, mkdocs 28/31,
# docusaurus 12/12. With clitics and acronym plurals tokenised, page
# diversity over BM25's whole pool and bare numbers weighed as question
# words (issue 16.4, the miss analysis): postgresql 18/32, python 22/34,
# django 26/35, git 28/35, mkdocs 29/31, docusaurus 12/12. With tables
# of contents skipped at crawl (contents.html, toctree and part pages no
# longer take top places): python 23/34, the rest unchanged.
my %FLOOR = (
    postgresql => 0.50,    # 16/32
    python     => 0.61,    # 21/34
    django     => 0.68,    # 24/35
    git        => 0.77,    # 27/35
    mkdocs     => 0.87,    # 27/31
    docusaurus => 0.83,    # 10/12
);
# The holdout set is gated only against a collapse (15/32; measured 19).
my $HOLDOUT_FLOOR = 0.45;

my $tmp = RagTest::tmpdir();
my $pg = RagTest::pg_start();

# The Docusaurus fixture has no link between its pages that stays inside
# the site (its sidebar links /docs/...), so it is crawled from a sitemap.
my $dsite = "$tmp/docusaurus";
mkdir $dsite or die;
my @dpages = qw(intro.html markdown-features.html reference-sample.html);
copy("t/fixtures/docusaurus/$_", "$dsite/$_") or die "$_: $!" for @dpages;
$DOCS{docusaurus} = $dsite;

my $ng = RagTest::nginx_start(server => join "\n",
    map { "location /$_/ { alias $DOCS{$_}/; index index.html; }" }
    sort keys %DOCS);
my $u = $ng->{url};
RagTest::write_file("$dsite/sitemap.xml",
    qq{<?xml version="1.0" encoding="UTF-8"?>\n}
    . qq{<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">}
    . join('', map { "<url><loc>$u/docusaurus/$_</loc></url>" } @dpages)
    . "</urlset>\n");

my $ixdir = "$tmp/index";
mkdir $ixdir;
my %env = (RAG_DATABASE_URL => $pg->{conninfo}, RAG_INDEX_DIR => $ixdir);
local @ENV{keys %env} = values %env;
delete local $ENV{RAG_EMBED_BASE_URL};

my $admin = RagTest::bin('rag-admin');
my $t0 = time;
for my $c (sort keys %DOCS) {
    my ($rc, $out) = RagTest::run_cmd($admin, 'collection-add', $c, $c);
    is($rc, 0, "$c: collection added") or diag $out;
    my $t1 = time;
    my @src = $c eq 'docusaurus'
        ? ('--site', "$u/$c/intro.html", '--sitemap', "$u/$c/sitemap.xml")
        : ('--site', "$u/$c/index.html");
    ($rc, $out) = RagTest::run_cmd(RagTest::bin('rag-ingest'), '--collection', $c, @src,
        '--include', "$u/$c/", '--allow-private', '--delay', '0', '--quiet');
    is($rc, 0, "$c: crawled and indexed") or diag $out;
    my ($pages) = $out =~ /pages fetched=(\d+)/;
    my ($chunks) = $out =~ /chunks=(\d+)/;
    note sprintf "%-10s %4d pages %6d chunks %5.1f s", $c, $pages // 0,
        $chunks // 0, time - $t1;
    ok(-s "$ixdir/$c.idx", "$c: index written");
}
note sprintf "ingest, all corpora: %.1f s", time - $t0;

my @sets = map {
    ("eval/sets/$_.jsonl", '--collection', $_, '--min-recall5', $FLOOR{$_})
} sort keys %FLOOR;
my @bases = map { ('--base', "$_=$u/$_/") } sort keys %DOCS;
# The set the ranking was tuned on is reported beside them (t/60 gates it).
my @args = ($admin, 'eval', @bases, @sets, 'eval/holdout/holdout.jsonl',
    '--holdout', '--min-recall5', $HOLDOUT_FLOOR, 'eval/postgresql.jsonl',
    '--collection', 'postgresql', '--name', 'postgresql-tuned');

$t0 = time;
my ($rc, $out) = RagTest::run_cmd(@args, '--verbose', '--json', "$tmp/eval.json");
note $out;
note sprintf "eval: %.1f s", time - $t0;
is($rc, 0, 'every set at or above its recall@5 floor') or diag $out;
for my $s (sort(keys %FLOOR), 'holdout', 'postgresql-tuned') {
    like($out, qr/^set \Q$s\E: .*no semantic leg: hybrid = bm25/m,
        "$s: no semantic leg (default: none trained, no embeddings)");
    for my $m (qw(bm25 fts-and fts-or)) {
        like($out,
            qr/^\Q$s\E\s+\Q$m\E\s+\d+\s+\d\.\d{3}\s+\d\.\d{3}\s+\d\.\d{3}\s+\d\.\d{3}$/m,
            "$s: $m measured");
    }
}
unlike($out, qr/full-text legs (skipped|not run)/, 'full-text baseline ran');
unlike($out, qr/^miss\@5 holdout/m, 'holdout misses are not shown');

# The same run as JSON: every set, every mode, the gates.
my $j = eval { decode_json(RagTest::slurp("$tmp/eval.json")) };
ok($j, 'JSON written and parses');
my %by = map { $_->{name} => $_ } @{ $j->{sets} || [] };
is(scalar(keys %by), 8, 'eight sets');
for my $s (sort keys %FLOOR) {
    cmp_ok($by{$s}{questions}, '>=', $s eq 'docusaurus' ? 10 : 25,
        "$s: enough questions");
    is($by{$s}{gate}{mode}, 'bm25', "$s: gated on bm25");
    ok($by{$s}{gate}{pass}, "$s: gate passed");
    is($by{$s}{modes}{vector}, undef, "$s: no vector figures");
    is_deeply($by{$s}{modes}{hybrid}, $by{$s}{modes}{bm25},
        "$s: hybrid = bm25 without vectors");
    is(scalar @{ $by{$s}{items} }, $by{$s}{questions}, "$s: per-question ranks");
    my ($r5) = $out =~ /^\Q$s\E\s+bm25\s+\d+\s+\S+\s+(\S+)/m;
    is(sprintf('%.3f', $by{$s}{modes}{bm25}{'recall@5'}), $r5,
        "$s: JSON and table agree");
}
cmp_ok($by{holdout}{questions}, '>=', 28, 'holdout: at least 28 questions');
ok(!exists $by{holdout}{items}, 'holdout: no per-question output');
is_deeply([sort map { $_->{name} } @{ $j->{collections} }],
    [sort keys %DOCS], 'all six collections');

# The gate really gates, per set.
($rc, $out) = RagTest::run_cmd($admin, 'eval', @bases, 'eval/sets/mkdocs.jsonl',
    '--collection', 'mkdocs', '--min-recall5', '1.01', '--no-fts');
is($rc, 3, 'a set below its floor exits 3');
like($out, qr/mkdocs: bm25 recall\@5 \d\.\d{3} below 1\.010/, 'names the set');
like($out, qr/full-text legs not run/, '--no-fts says so');
like($out, qr/^mkdocs\s+fts-or\s+-\s+-/m, 'empty full-text rows');

# --json - prints JSON instead of the table.
($rc, $out) = RagTest::run_cmd($admin, 'eval', @bases, 'eval/sets/docusaurus.jsonl',
    '--collection', 'docusaurus', '--json', '-');
is($rc, 0, '--json -') or diag $out;
$j = eval { decode_json($out) };
ok($j && $j->{sets}[0]{modes}{'fts-or'}, 'JSON on stdout, with fts-or')
    or diag $out;

($rc, $out) = RagTest::run_cmd($admin, 'eval', @bases, 'eval/sets/docusaurus.jsonl',
    '--collection', 'docusaurus', '--no-fts', '--json', "$tmp/no/such/dir.json");
is($rc, 1, '--json to an unwritable path fails');
like($out, qr{no/such/dir\.json: No such file}, 'says where');

# Plain chunk order (--per-page any) against the default, one hit per
# page first: never fewer pages in the top 10, so recall@10 is no lower.
{
    my %r10;
    for my $pp ('any', '1') {
        ($rc, $out) = RagTest::run_cmd($admin, 'eval', @bases, 'eval/sets/git.jsonl',
            '--collection', 'git', '--no-fts', '--per-page', $pp);
        is($rc, 0, "--per-page $pp") or diag $out;
        ($r10{$pp}) = $out =~ /^git\s+bm25\s+35\s+\S+\s+\S+\s+(\S+)/m;
    }
    cmp_ok($r10{1}, '>=', $r10{any}, 'diversified recall@10 >= chunk order');
}

# A mixed set whose question names a collection that has no index.
RagTest::write_file("$tmp/mixed.jsonl",
    qq{{"collection":"nosuch","q":"x","urls":["a.html"]}\n});
($rc, $out) = RagTest::run_cmd($admin, 'eval', "$tmp/mixed.jsonl", '--no-fts');
is($rc, 1, 'unknown collection fails');
like($out, qr{nosuch\.idx}, 'names its index file');

# Full-text legs need the database: without one, BM25 is still measured.
{
    local $ENV{RAG_DATABASE_URL} = "host=$tmp port=1 dbname=none";
    ($rc, $out) = RagTest::run_cmd($admin, 'eval', @bases, 'eval/sets/mkdocs.jsonl',
        '--collection', 'mkdocs');
    is($rc, 0, 'no database: still evaluates') or diag $out;
    like($out, qr/full-text legs skipped: /, 'says why');
    like($out, qr/^mkdocs\s+bm25\s+31\s/m, 'bm25 row');
}
($rc, $out) = RagTest::run_cmd($admin, 'eval', @bases, 'eval/sets/mkdocs.jsonl',
    '--collection', 'mkdocs', '--fts-config', 'klingon');
is($rc, 0, 'unknown text search config: still evaluates') or diag $out;
like($out, qr/unknown text search configuration klingon/, 'says which');

# Argument errors.
for my $bad (['--k', 'x'], ['--min-recall5', '2'], ['--bogus'], ['--json'],
             ['--per-page', '0'], ['--per-page', 'all']) {
    ($rc, $out) = RagTest::run_cmd($admin, 'eval', 'eval/sets/mkdocs.jsonl', @$bad);
    is($rc, 2, "usage error: @$bad");
}
($rc, $out) = RagTest::run_cmd($admin, 'eval', '--no-fts');
is($rc, 2, 'no set: usage');
like($out, qr/usage: rag-admin eval/, 'prints usage');

done_testing;
