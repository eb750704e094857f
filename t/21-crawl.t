# rag-ingest --site against a docs tree served by a local nginx: sitemap
# discovery, robots.txt Disallow, named User-Agent, pages/chunks/embeddings
# in Postgres, conditional re-crawl that re-chunks and re-embeds nothing,
# one changed page re-processed alone, removals with the half-collection
# safety limit, and link following when there is no sitemap.
use strict;
use warnings;
use Test::More;
use File::Copy qw(copy);
use Time::HiRes qw(time);
use lib 't/lib';
use RagTest;
use FakeOpenAI;

my $pg = RagTest::pg_start();
my $ai = FakeOpenAI->start(api_key => 'sk-test');
my $www = RagTest::tmpdir();
my $idx = RagTest::tmpdir();
my $port = RagTest::free_port();
my $base = "http://127.0.0.1:$port";

mkdir "$www/docs";
mkdir "$www/docs/private";
my @pages = map { s{.*/}{}r } sort glob("$RagTest::ROOT/t/fixtures/pgdocs/tutorial-*.html");
copy("$RagTest::ROOT/t/fixtures/pgdocs/$_", "$www/docs/$_") or die $! for @pages;
RagTest::write_file("$www/docs/private/secret.html",
    "<html><head><title>Secret</title></head><body><p>no</p></body></html>");
RagTest::write_file("$www/robots.txt",
    "User-agent: *\nDisallow: /docs/private/\n");

sub write_sitemap {
    my @p = @_;
    RagTest::write_file("$www/sitemap.xml",
        qq{<?xml version="1.0" encoding="UTF-8"?>\n}
        . qq{<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">}
        . qq{<sitemap><loc>$base/sitemap-docs.xml</loc></sitemap></sitemapindex>\n});
    RagTest::write_file("$www/sitemap-docs.xml",
        qq{<?xml version="1.0" encoding="UTF-8"?>\n<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">\n}
        . join('', map { "  <url><loc>$base/docs/$_</loc></url>\n" } @p,
            'private/secret.html')
        . "</urlset>\n");
}
write_sitemap(@pages);

my $ng = RagTest::nginx_start(port => $port,
    server => "location / { root $www; }\n"
        . "location = /docs/tutorial-flaky.html { return 503; }");

my %env = (RAG_DATABASE_URL => $pg->{conninfo}, RAG_INDEX_DIR => $idx,
    RAG_EMBED_BASE_URL => $ai->{url}, RAG_EMBED_API_KEY => 'sk-test',
    RAG_EMBED_MODEL => 'text-embedding-3-small');

sub ingest {
    my (@args) = @_;
    local @ENV{keys %env} = values %env;
    my $cmd = join ' ', map { "'$_'" } RagTest::bin('rag-ingest'),
        '--collection', 'pg', '--site', "$base/docs/", '--allow-private',
        '--delay', '0', @args;
    my $out = `$cmd 2>&1`;
    return ($? >> 8, $out);
}

sub stat_of {
    my ($out, $k) = @_;
    return $out =~ /^pages .*\b$k=(\d+)/m ? $1 : -1;
}

sub embed_requests { scalar $ai->requests('/v1/embeddings') }
sub access_log { RagTest::slurp("$ng->{dir}/logs/access.log") }

my $n = scalar @pages;

# --- first crawl ---------------------------------------------------------
my ($rc, $out) = ingest();
is($rc, 0, 'first crawl succeeds') or diag $out;
is(stat_of($out, 'new'), $n, "all $n pages new");
is($pg->sql("SELECT count(*) FROM documents"), $n, 'documents stored');
my $chunks = $pg->sql("SELECT count(*) FROM chunks");
cmp_ok($chunks, '>=', $n, "chunks stored ($chunks)");
is($pg->sql("SELECT count(*) FROM chunks WHERE embedding IS NULL"), 0,
    'every chunk embedded');
is($pg->sql("SELECT count(DISTINCT array_length(embedding, 1)) FROM chunks"), 1,
    'one embedding dimension');
my $req1 = embed_requests();
cmp_ok($req1, '>=', 1, "embedding requests made ($req1)");
is($pg->sql("SELECT count(*) FROM documents WHERE url LIKE '%private%'"), 0,
    'robots.txt disallowed page not stored');
my $log = access_log();
unlike($log, qr{GET /docs/private/}, 'disallowed page never fetched');
like($log, qr{GET /robots.txt}, 'robots.txt fetched');
like($log, qr{ngx_rag-crawler/0\.1}, 'named User-Agent');
is($pg->sql("SELECT url FROM documents WHERE url LIKE '%tutorial-accessdb.html'"),
    "$base/docs/tutorial-accessdb.html", 'page URL is absolute');
is($pg->sql("SELECT count(*) FROM chunks c JOIN documents d ON d.id = c.document_id
      WHERE d.url LIKE '%tutorial-accessdb.html' AND c.anchor = 'TUTORIAL-ACCESSDB'"),
    2, 'chunk anchor is the real element id (both chunks of the section)');
{
    # every chunk anchor is an id that exists in the page's HTML
    my @bad;
    for my $row (split /\n/, $pg->sql("SELECT DISTINCT d.url || ' ' || c.anchor
            FROM chunks c JOIN documents d ON d.id = c.document_id
            WHERE c.anchor <> ''")) {
        my ($u, $a) = split / /, $row;
        (my $f = $u) =~ s{.*/}{};
        my $html = RagTest::slurp("$www/docs/$f");
        push @bad, $row unless $html =~ /\b(?:id|name)="\Q$a\E"/;
    }
    is("@bad", '', 'every anchor exists in its page');
    cmp_ok($pg->sql("SELECT count(DISTINCT anchor) FROM chunks"), '>', 10,
        'and there are many of them');
}
like($pg->sql("SELECT body FROM documents WHERE url LIKE '%tutorial-accessdb.html'"),
    qr{\]\(\Q$base\E/docs/client-interfaces\.html\)}, 'links made absolute');
like($pg->sql("SELECT heading_path FROM chunks c JOIN documents d ON d.id = c.document_id
        WHERE d.url LIKE '%tutorial-join.html' ORDER BY ordinal LIMIT 1"),
    qr/Joins Between Tables/, 'breadcrumb carries the section');
my $gen1 = $pg->sql("SELECT index_generation FROM collections WHERE name = 'pg'");
cmp_ok($gen1, '>=', 1, 'index generation recorded');
ok(-s "$idx/pg.idx", 'index file written');

# --- unchanged re-crawl --------------------------------------------------
my $maxid = $pg->sql("SELECT max(id) FROM chunks");
truncate "$ng->{dir}/logs/access.log", 0;
($rc, $out) = ingest();
is($rc, 0, 'second crawl succeeds') or diag $out;
is(stat_of($out, 'unchanged'), $n, 'every page unchanged');
is(stat_of($out, 'new') + stat_of($out, 'changed'), 0, 'nothing re-processed');
is(stat_of($out, 'embedded'), 0, 'nothing re-embedded');
is(embed_requests(), $req1, 'no embedding request on re-crawl');
is($pg->sql("SELECT max(id) FROM chunks"), $maxid, 'chunk rows untouched');
like(access_log(), qr{" 304 }, 'conditional requests answered 304');

# --- one page changed ----------------------------------------------------
{
    my $f = "$www/docs/tutorial-join.html";
    my $h = RagTest::slurp($f);
    $h =~ s{</p>}{ A brand new sentence about zebra joins.</p>} or die;
    sleep 1;    # a new Last-Modified second
    RagTest::write_file($f, $h);
}
($rc, $out) = ingest();
is($rc, 0, 'third crawl succeeds') or diag $out;
is(stat_of($out, 'changed'), 1, 'exactly one page changed');
is(stat_of($out, 'unchanged'), $n - 1, 'the rest unchanged');
is(embed_requests(), $req1 + 1, 'one embedding request for the change');
cmp_ok(stat_of($out, 'embedded'), '<',
    $pg->sql("SELECT count(*) FROM chunks c JOIN documents d ON d.id = c.document_id
       WHERE d.url LIKE '%tutorial-join.html'") + 1,
    'only that page\'s changed chunks embedded');
is($pg->sql("SELECT count(*) FROM chunks WHERE body LIKE '%zebra joins%'"), 1,
    'new text chunked');

# --- one page removed ----------------------------------------------------
my @keep = grep { $_ ne 'tutorial-window.html' } @pages;
unlink "$www/docs/tutorial-window.html";
write_sitemap(@keep);
($rc, $out) = ingest();
is($rc, 0, 'crawl after removal succeeds') or diag $out;
is(stat_of($out, 'deleted'), 1, 'removed page deleted');
is($pg->sql("SELECT count(*) FROM documents"), $n - 1, 'document gone');

# --- most of the site removed: refused without --force --------------------
my @few = @keep[0 .. 4];
write_sitemap(@few);
($rc, $out) = ingest();
isnt($rc, 0, 'deleting more than half is refused');
like($out, qr/refusing to delete/, 'with a clear message');
is($pg->sql("SELECT count(*) FROM documents"), $n - 1, 'nothing deleted');
($rc, $out) = ingest('--force');
is($rc, 0, '--force allows it') or diag $out;
is($pg->sql("SELECT count(*) FROM documents"), 5, 'only the sitemap pages remain');

# --- no sitemap: follow links, bounded by --max-pages ---------------------
unlink "$www/sitemap.xml", "$www/sitemap-docs.xml";
{
    local @ENV{keys %env} = values %env;
    my $cmd = join ' ', map { "'$_'" } RagTest::bin('rag-ingest'),
        '--collection', 'links', '--site', "$base/docs/tutorial.html",
        '--include', "$base/docs/tutorial-", '--allow-private', '--delay',
        '0', '--max-pages', '6';
    $out = `$cmd 2>&1`;
}
is($pg->sql("SELECT count(*) FROM documents d JOIN collections c ON c.id = d.collection_id
      WHERE c.name = 'links'"), 0,
    'start page outside --include is not stored') ;

{
    local @ENV{keys %env} = values %env;
    my $cmd = join ' ', map { "'$_'" } RagTest::bin('rag-ingest'),
        '--collection', 'links', '--site', "$base/docs/tutorial-start.html",
        '--include', "$base/docs/tutorial-", '--allow-private', '--delay',
        '0', '--max-pages', '6';
    $out = `$cmd 2>&1`;
    is($? >> 8, 3, 'link-following crawl stopped by --max-pages: exit 3 (partial)')
        or diag $out;
}
is($pg->sql("SELECT count(*) FROM documents d JOIN collections c ON c.id = d.collection_id
      WHERE c.name = 'links'"), 6, 'pages found by following links, capped');

# link following again: pages answer 304, their stored links are followed
{
    local @ENV{keys %env} = values %env;
    my @cmd = (RagTest::bin('rag-ingest'), '--collection', 'links2', '--site',
        "$base/docs/tutorial-start.html", '--include', "$base/docs/tutorial-",
        '--allow-private', '--delay', '0');
    my $cmd = join ' ', map { "'$_'" } @cmd;
    $out = `$cmd 2>&1`;
    is($? >> 8, 0, 'full link-following crawl') or diag $out;
    my $first = stat_of($out, 'new');
    cmp_ok($first, '>', 6, "follows links through the site ($first pages)");
    $out = `$cmd 2>&1`;
    is($? >> 8, 0, 'link-following re-crawl') or diag $out;
    is(stat_of($out, 'unchanged'), $first,
        'every page reached again through stored links (304s)');
    is(stat_of($out, 'deleted'), 0, 'nothing deleted');
}

# --- politeness: --delay and robots.txt Crawl-delay space the requests --------
# (a lower bound on the run time is the observable effect)
{
    local @ENV{keys %env} = values %env;
    my @cmd = (RagTest::bin('rag-ingest'), '--collection', 'slow', '--site',
        "$base/docs/tutorial-start.html", '--include', "$base/docs/tutorial-",
        '--allow-private', '--max-pages', '4');
    my $t0 = time;
    $out = `@{[join ' ', map { "'$_'" } @cmd, '--delay', '0.3']} 2>&1`;
    my $dt = time - $t0;
    is($? >> 8, 3, 'crawl with --delay 0.3 (partial: --max-pages)') or diag $out;
    cmp_ok($dt, '>=', 4 * 0.3, sprintf('requests spaced by the delay: %.2f s', $dt));
    RagTest::write_file("$www/robots.txt",
        "User-agent: *\nDisallow: /docs/private/\nCrawl-delay: 0.4\n");
    $t0 = time;
    $out = `@{[join ' ', map { "'$_'" } @cmd, '--delay', '0']} 2>&1`;
    $dt = time - $t0;
    is($? >> 8, 3, 'crawl with a robots.txt Crawl-delay (partial)') or diag $out;
    cmp_ok($dt, '>=', 4 * 0.4, sprintf('Crawl-delay obeyed: %.2f s', $dt));
    RagTest::write_file("$www/robots.txt", "User-agent: *\nDisallow: /docs/private/\n");
}

# --- 5xx: retried with backoff, then counted as failed, not stored -----------
write_sitemap('tutorial-flaky.html', @pages[0 .. 1]);
truncate "$ng->{dir}/logs/access.log", 0;
{
    local @ENV{keys %env} = values %env;
    local $ENV{RAG_CRAWL_BACKOFF_MS} = 20;
    $out = `@{[RagTest::bin('rag-ingest')]} --collection flaky --site $base/docs/ --allow-private --delay 0 2>&1`;
    is($? >> 8, 0, 'crawl with a failing page') or diag $out;
}
is(stat_of($out, 'failed'), 1, 'the 503 page counted as failed');
is(stat_of($out, 'new'), 2, 'the others stored');
my @tries = access_log() =~ m{GET /docs/tutorial-flaky\.html}g;
is(scalar @tries, 3, 'one request and two retries');

# --- robots.txt: our own group wins over "*", Allow beats a shorter Disallow,
# wildcards and "$" anchors --------------------------------------------------
RagTest::write_file("$www/docs/private/public-1.html",
    "<html><head><title>Public</title></head><body><main><p>ok</p></main></body></html>");
RagTest::write_file("$www/docs/private/public-1.html.bak", "old");
RagTest::write_file("$www/robots.txt", join "\n",
    'User-agent: *', 'Disallow: /', '', '# ours', 'User-agent: other-bot',
    'User-agent: NGX_RAG-crawler', 'Disallow: /docs/private/',
    'Allow: /docs/private/public*.html$', 'Disallow: /*.bak$', '');
{
    my @p = ('private/public-1.html', 'private/public-1.html.bak',
        'private/secret.html', $pages[0]);
    RagTest::write_file("$www/sitemap.xml",
        qq{<?xml version="1.0"?>\n<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">}
        . join('', map { "<url><loc>$base/docs/$_</loc></url>" } @p) . "</urlset>\n");
    truncate "$ng->{dir}/logs/access.log", 0;
    local @ENV{keys %env} = values %env;
    $out = `@{[RagTest::bin('rag-ingest')]} --collection robots --site $base/docs/ --allow-private --delay 0 2>&1`;
    is($? >> 8, 0, 'crawl under a grouped robots.txt') or diag $out;
    is($pg->sql("SELECT string_agg(regexp_replace(url, '.*/docs/', ''), ',' ORDER BY url)
             FROM documents d JOIN collections c ON c.id = d.collection_id
             WHERE c.name = 'robots'"),
        "private/public-1.html,$pages[0]", 'Allow and Disallow applied');
    my $log = access_log();
    unlike($log, qr{GET /docs/private/secret|\.bak }, 'disallowed URLs never requested');
    RagTest::write_file("$www/robots.txt", "User-agent: *\nDisallow: /docs/private/\n");
}

# --- robots.txt answering 5xx stops the crawl (RFC 9309) ---------------------
{
    my $port2 = RagTest::free_port();
    my $ng2 = RagTest::nginx_start(port => $port2, server =>
        "location = /robots.txt { return 503; }\nlocation / { root $www; }");
    local @ENV{keys %env} = values %env;
    local $ENV{RAG_CRAWL_BACKOFF_MS} = 10;
    $out = `@{[RagTest::bin('rag-ingest')]} --collection r503 --site http://127.0.0.1:$port2/docs/ --allow-private --delay 0 2>&1`;
    isnt($? >> 8, 0, 'robots.txt 503: crawl refused');
    like($out, qr/robots\.txt answered HTTP 503/, 'explained');
    unlike(RagTest::slurp("$ng2->{dir}/logs/access.log"), qr{GET /docs/},
        'no page requested');
}

# --- SSRF guard ------------------------------------------------------------
{
    local @ENV{keys %env} = values %env;
    my $cmd = join ' ', map { "'$_'" } RagTest::bin('rag-ingest'),
        '--collection', 'ssrf', '--site', "$base/docs/", '--delay', '0';
    $out = `$cmd 2>&1`;
    isnt($? >> 8, 0, 'loopback refused without --allow-private');
    like($out, qr/private or reserved/, 'SSRF guard explains');
}

done_testing();
