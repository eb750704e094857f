# Ingestion quality on real documentation sites (issue 16 item 4):
# subsets of the Debian-shipped Django (Sphinx), git (asciidoc) and MkDocs
# manuals (t/fixtures/sites, see t/fixtures/README) and the PostgreSQL
# DocBook pages (t/fixtures/pgdocs), each crawled as a user would — no
# selector — from a local nginx. On every site: no page stored twice,
# no line repeated on most pages left in the chunks, no broken code
# fence, no generated index or source-listing page, breadcrumbs without
# repeats or the site name; then an unchanged re-crawl writes nothing and
# no new index generation. The whole manuals: bench/ingest_quality.pl.
use strict;
use warnings;
use Test::More;
use lib 't/lib';
use RagTest;
use IngestQuality;

my $fx = "$RagTest::ROOT/t/fixtures";
my $pg = RagTest::pg_start();
my $idx = RagTest::tmpdir();
my $www = RagTest::tmpdir();
system('cp', '-a', "$fx/sites/django", "$fx/sites/git", "$fx/sites/mkdocs",
    $www) == 0 or die "cp: $?";
system('cp', '-a', "$fx/pgdocs", "$www/pgdocs") == 0 or die "cp: $?";
my $ng = RagTest::nginx_start(server =>
    "location / { root $www; index index.html; }");
my %env = (RAG_DATABASE_URL => $pg->{conninfo}, RAG_INDEX_DIR => $idx);

sub crawl {
    my ($coll, $site, $start) = @_;
    local @ENV{keys %env} = values %env;
    my $cmd = join ' ', map { "'$_'" } RagTest::bin('rag-ingest'),
        '--collection', $coll, '--site', "$ng->{url}/$site/$start",
        '--include', "$ng->{url}/$site/", '--allow-private', '--delay', '0',
        '--quiet';
    my $out = `$cmd 2>&1`;
    return ($? >> 8, $out);
}
sub stat_of { my ($o, $k) = @_; return $o =~ /^pages .*\b$k=(\d+)/m ? $1 : -1 }

my %site = (
    django => ['django', 'index.html', ' — Django|Django [0-9]'],
    git    => ['git', 'index.html', ' Manual Page [|] '],
    mkdocs => ['mkdocs', 'index.html', ' - MkDocs'],
    pgdocs => ['pgdocs', 'tutorial-start.html', 'PostgreSQL [0-9]+ Documentation'],
);
for my $name (sort keys %site) {
    my ($dir, $start, $suffix) = @{ $site{$name} };
    my ($rc, $out) = crawl($name, $dir, $start);
    is($rc, 0, "$name: crawl") or diag $out;
    my $m = IngestQuality::measure($pg, $name);
    note "$name: ", join ' ', map { "$_=$m->{$_}" }
        qw(pages chunks dup boiler fences generated repeats);
    cmp_ok($m->{pages}, '>=', 10, "$name: $m->{pages} pages");
    is($m->{dup}, 0, "$name: no page stored twice");
    is($m->{boiler}, 0, "$name: no line repeated on most pages")
        or diag $m->{boiler_examples};
    is($m->{fences}, 0, "$name: no broken code fence");
    is($m->{generated}, 0, "$name: no generated index or source listing");
    is($m->{repeats}, 0, "$name: breadcrumbs do not repeat a heading");
    is($pg->sql("SELECT count(*) FROM documents d JOIN collections c ON
        c.id = d.collection_id WHERE c.name = '$name' AND
        (d.url LIKE '%/index.html' OR d.title ~ '" . $suffix . "')"), 0,
        "$name: no URL ending in index.html, no site name in titles");

    my $gen = $pg->sql("SELECT index_generation FROM collections WHERE name = '$name'");
    my $maxid = $pg->sql("SELECT coalesce(max(id), 0) FROM chunks");
    ($rc, $out) = crawl($name, $dir, $start);
    is($rc, 0, "$name: re-crawl") or diag $out;
    is(stat_of($out, 'new') + stat_of($out, 'changed'), 0,
        "$name: nothing new or changed") or diag $out;
    is($pg->sql("SELECT index_generation FROM collections WHERE name = '$name'"),
        $gen, "$name: no new index generation");
    is($pg->sql("SELECT coalesce(max(id), 0) FROM chunks"), $maxid,
        "$name: no chunk rewritten");
}

# Django: the site's navigation and "Last update" are not content
{
    my $first = $pg->sql("SELECT c.body FROM chunks c JOIN documents d ON
        d.id = c.document_id WHERE d.url LIKE '%/django/faq/install.html'
        AND c.ordinal = 0");
    like($first, qr/^# FAQ: Installation/, 'django: the first chunk starts with the page title');
    unlike($pg->sql("SELECT string_agg(c.body, '') FROM chunks c JOIN documents d
        ON d.id = c.document_id JOIN collections k ON k.id = d.collection_id
        WHERE k.name = 'django'"), qr/Table of contents\]|Last update|Quick search/,
        'django: no site navigation, sidebar or footer in any chunk');
    is($pg->sql("SELECT heading_path FROM chunks c JOIN documents d ON
        d.id = c.document_id WHERE d.url LIKE '%/django/faq/install.html'
        AND c.ordinal = 0"), 'FAQ: Installation',
        'django: breadcrumb is the page title, without " — Django documentation"');
}
# git: "/" (index.html) and git.html are one page; the footer is gone
{
    is($pg->sql("SELECT count(*) FROM documents WHERE url ~ '/git/(git\\.html)?\$'"), 1,
        'git: / and git.html stored once');
    like($pg->sql("SELECT url FROM documents WHERE url ~ '/git/(git\\.html)?\$'"),
        qr{/git/git\.html$}, 'git: under its named URL');
    is($pg->sql("SELECT count(*) FROM chunks WHERE body LIKE '%Part of the [git(1)]%'
        OR body LIKE '%Last updated%'"), 0, 'git: the per-page footer is dropped');
    like($pg->sql("SELECT string_agg(c.body, '') FROM chunks c JOIN documents d
        ON d.id = c.document_id WHERE d.url LIKE '%/git-column.html'"),
        qr/git-column - Display data in columns/,
        'git: the NAME line (in the page header) is kept');
}
# PostgreSQL: the sect1 title is not repeated in breadcrumbs
is($pg->sql("SELECT count(*) FROM chunks WHERE heading_path ~ '^([^>]+) > \\1( >|\$)'"),
    0, 'no breadcrumb starts with its title twice');
# Sphinx generated pages were skipped, not fetched (genindex is fetched
# for its terms, document expansion, and never stored: t/66)
like(RagTest::slurp("$ng->{dir}/logs/access.log"), qr{GET /django/faq/},
    'django pages fetched');
unlike(RagTest::slurp("$ng->{dir}/logs/access.log"),
    qr{GET /django/(py-modindex|search)\.html|GET /django/_modules/},
    'generated module-index, search and source pages are never fetched');
is($pg->sql("SELECT count(*) FROM documents WHERE url ~ '/genindex'"), 0,
    'the general index is not stored');

done_testing();
