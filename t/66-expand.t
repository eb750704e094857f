# Document expansion from the documentation's own index page (issue
# 16.1), end to end: a small site whose Sphinx-style genindex files terms
# that its pages never use under sections of them is crawled with
# rag-ingest; the index page's (term, target) pairs are stored
# (expansions, sql/111), the index page itself is not, and the reindex
# adds each term to the heading field of the chunk holding the target's
# anchor (the page's first chunk for a page target or an unknown anchor).
#   - /search for a term found only in the index finds its target section
#   - `rag-admin eval --expand off` loses it, `--expand on` finds it
#   - a re-crawl replaces the pairs (no duplicates); deleting the
#     collection removes them
use strict;
use warnings;
use Test::More;
use File::Copy qw(copy);
use HTTP::Tiny;
use JSON::PP;
use lib 't/lib';
use RagTest;

my $J = JSON::PP->new->canonical->utf8;
my $pg = RagTest::pg_start();
my $tmp = RagTest::tmpdir();
my $site = "$tmp/site";
my $ixdir = "$tmp/index";
mkdir $_ or die for $site, $ixdir;
copy("t/fixtures/expand/$_", "$site/$_") or die "$_: $!"
    for qw(index.html queues.html caches.html genindex.html);

my $ng = RagTest::nginx_start(pg => $pg,
    main => 'thread_pool ragpool threads=2 max_queue=100;',
    http => "rag_database \"%%DB%%\"; rag_thread_pool ragpool;"
        . " rag_index_dir $ixdir;",
    server => "location /site/ { alias $site/; }\n"
        . 'location /search { rag_search; }');
my $u = $ng->{url};
my $http = HTTP::Tiny->new(timeout => 10);
local $ENV{RAG_DATABASE_URL} = $pg->{conninfo};
local $ENV{RAG_INDEX_DIR} = $ixdir;
# off by default (README, Ranking: it gained nothing on the eval sets)
local $ENV{RAG_INDEX_EXPANSION} = 'on';

sub crawl {
    my ($rc, $out) = RagTest::run_cmd(RagTest::bin('rag-ingest'),
        '--collection', 'docs', '--site', "$u/site/index.html",
        '--allow-private', '--delay', '0', '--quiet');
    is($rc, 0, 'crawled and indexed') or diag $out;
    return $out;
}

sub search {
    my ($q) = @_;
    (my $v = $q) =~ s/([^A-Za-z0-9_.~-])/sprintf('%%%02X', ord $1)/ge;
    my $r = $http->get("$u/search?q=$v&collection=docs");
    is($r->{status}, 200, "/search $q") or diag $r->{content};
    my $j = eval { $J->decode($r->{content}) } || {};
    return map { $_->{url} } @{ $j->{results} || [] };
}

sub pairs {
    return RagTest::psql($pg, 'SELECT count(*) FROM expansions');
}

crawl();
is(RagTest::psql($pg, q{SELECT count(*) FROM documents WHERE url LIKE '%genindex%'}),
    0, 'the index page is not stored as a document');
# the page's first chunk (its title and first section) links to the
# page, the next one to its section
is(RagTest::psql($pg, q{SELECT string_agg(c.anchor, ',' ORDER BY c.ordinal)
    FROM chunks c JOIN documents d ON d.id = c.document_id
    WHERE d.url LIKE '%/queues.html'}), ',queue-retries',
    "queues.html: a chunk for the page, one for its second section");
is(pairs(), 28, "the index page's 28 pairs are stored");
is(RagTest::psql($pg, q{SELECT page_url || '#' || anchor FROM expansions
    WHERE term = 'backoff'}), "$u/site/queues.html#queue-retries",
    'a pair keeps its target page and anchor');

# a term only the index page uses finds the section it files it under
my @h = search('backoff');
is($h[0], "$u/site/queues.html#queue-retries",
    'backoff: the section the index files it under, first');
@h = search('eviction');
is($h[0], "$u/site/caches.html#cache-expiry",
    'eviction: the section the index files it under, first');
# a page target, and an anchor no chunk has: the page's first chunk
@h = search('zeitgeist');
is($h[0], "$u/site/caches.html", 'a page target: its first chunk');
@h = search('zymurgy');
is($h[0], "$u/site/queues.html",
    'an unknown anchor: the page\'s first chunk');
# the index page is never a result, even for the words on it
@h = search('index abacus bramble');
ok(!grep(/genindex/, @h), 'the index page is not a search result')
    or diag explain \@h;

# index_expansion = off (the default): the pairs are stored, the index
# does not use them
{
    local $ENV{RAG_INDEX_EXPANSION} = 'off';
    my ($rc, $out) = RagTest::run_cmd(RagTest::bin('rag-reindex'), 'docs');
    is($rc, 0, 'rag-reindex with index_expansion off') or diag $out;
    like($out, qr/expanded=0/, 'no chunk expanded') or diag $out;
    sleep 1;
    @h = search('backoff');
    is(scalar @h, 0, 'off: the index-only term finds nothing')
        or diag explain \@h;
    local $ENV{RAG_INDEX_EXPANSION} = 'on';
    ($rc, $out) = RagTest::run_cmd(RagTest::bin('rag-reindex'), 'docs');
    like($out, qr/expanded=[1-9]/, 'on again: chunks expanded') or diag $out;
    sleep 1;
    @h = search('backoff');
    is($h[0], "$u/site/queues.html#queue-retries", 'on again: found');
}

# the eval switch rebuilds the index with expansion off and on
my $set = "$tmp/set.jsonl";
RagTest::write_file($set, join '', map { "$_\n" }
    '{"q":"backoff","urls":["queues.html"]}',
    '{"q":"eviction","urls":["caches.html"]}');
for my $sw (qw(off on)) {
    my ($rc, $out) = RagTest::run_cmd(RagTest::bin('rag-admin'), 'eval',
        '--expand', $sw, '--no-fts', $set, '--collection', 'docs',
        '--base', "$u/site/");
    is($rc, 0, "eval --expand $sw") or diag $out;
    my ($r1) = $out =~ /^\S+\s+bm25\s+\d+\s+(\d\.\d+)/m;
    is($r1, $sw eq 'on' ? '1.000' : '0.000',
        "eval --expand $sw: recall\@1 " . ($sw eq 'on' ? 1 : 0))
        or diag $out;
}
my ($rc, $out) = RagTest::run_cmd(RagTest::bin('rag-admin'), 'eval',
    '--expand', 'maybe', $set);
is($rc, 2, 'eval --expand takes on or off');
like($out, qr/--expand takes on or off/, 'and says so');

# a re-crawl replaces the pairs: none twice; a term the index no longer
# files is gone
my $gi = RagTest::slurp("$site/genindex.html");
$gi =~ s{<tr><td><ul><li><a href="caches.html#cache-expiry">eviction</a></li></ul></td></tr>\n}{}
    or die 'fixture changed';
RagTest::write_file("$site/genindex.html", $gi);
crawl();
is(pairs(), 27, 're-crawl: the pairs replaced, none twice');
is(RagTest::psql($pg, q{SELECT count(*) FROM expansions WHERE term = 'eviction'}),
    0, 're-crawl: a term dropped from the index is gone');
crawl();
is(pairs(), 27, 'an unchanged re-crawl: the same pairs');

# rag-admin has no collection delete; a deleted collection row (what an
# operator's DELETE does) takes its pairs with it
RagTest::psql($pg, "DELETE FROM collections WHERE name = 'docs'");
is(pairs(), 0, 'deleting the collection removes its pairs');

done_testing();
