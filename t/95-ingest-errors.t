# rag-ingest when things go wrong (issue 12, coverage of what users reach):
# bad command lines and unreadable sources fail with a message and the
# documented exit code; in a crawl, a page that grew over crawl_max_bytes,
# a redirect loop, a server error that persists and a refused connection
# are logged and counted in failed= while the rest is indexed, and a page
# stored by an earlier crawl that fails this time is kept, not deleted;
# --exclude keeps a prefix out of the crawl (never fetched); an explicit
# --sitemap that cannot be read is fatal; a site with nothing to fetch
# stores nothing; a database that does not answer is exit 1.
use strict;
use warnings;
use Test::More;
use lib 't/lib';
use RagTest;

my $pg = RagTest::pg_start();
my $www = RagTest::tmpdir();
my $idx = RagTest::tmpdir();
my $port = RagTest::free_port();
my $base = "http://127.0.0.1:$port";

sub page {
    my ($title, $body) = @_;
    return "<html><head><title>$title</title></head><body><main><h1>$title"
        . "</h1>$body</main></body></html>";
}
mkdir "$www/docs";
mkdir "$www/docs/private";
mkdir "$www/empty";
RagTest::write_file("$www/docs/index.html", page('Index',
    '<p>Start here. See <a href="ok.html">ok</a>, <a href="big.html">big</a>, '
    . '<a href="loop.html">loop</a>, <a href="broken.html">broken</a>, '
    . '<a href="private/secret.html">secret</a> and '
    . "<a href=\"http://127.0.0.1:$port/docs/ok.html#again\">ok again</a>.</p>"));
RagTest::write_file("$www/docs/ok.html", page('Fine page',
    '<p>The widget starts with <code>widgetd --serve</code> on port 7070.</p>'));
RagTest::write_file("$www/docs/private/secret.html", page('Secret',
    '<p>internal only</p>'));
RagTest::write_file("$www/docs/broken.html", page('Broken', '<p>served for the first crawl</p>'));
my $big_text = join ' ', map { "Paragraph $_ explains the cache tuning knobs." } 1 .. 400;
RagTest::write_file("$www/docs/big.html", page('Big page', "<p>$big_text</p>"));
ok(-s "$www/docs/big.html" > 16384, 'big.html is over 16 KiB');

# broken.html: 503 once the marker file exists (nginx checks on each request)
my $ng = RagTest::nginx_start(port => $port,
    server => "location / { root $www; }\n"
        . "location /empty/ { return 404; }\n"
        . "location = /docs/loop.html { return 302 /docs/loop2.html; }\n"
        . "location = /docs/loop2.html { return 302 /docs/loop.html; }\n"
        . "location = /docs/broken.html { root $www; "
        . "if (-f $www/broken.on) { return 503; } }\n");

sub run {
    my ($env, @args) = @_;
    local %ENV = (%ENV, RAG_DATABASE_URL => $pg->{conninfo},
        RAG_INDEX_DIR => $idx, RAG_CRAWL_BACKOFF_MS => 1, %$env);
    my $cmd = join ' ', map { "'$_'" } RagTest::bin('rag-ingest'), @args;
    my $out = `$cmd 2>&1`;
    return ($? >> 8, $out);
}
sub crawl { my ($env, @a) = @_; return run($env, '--site', "$base/docs/index.html",
    '--allow-private', '--delay', '0', '--quiet', @a) }
sub stat_of { my ($o, $k) = @_; return $o =~ /^pages .*\b$k=(\d+)/m ? $1 : -1 }
sub docs {
    my ($c) = @_;
    return join ' ', split /\n/, RagTest::psql($pg, "SELECT regexp_replace(d.url,
        '.*/docs/', '/') FROM documents d JOIN collections c ON c.id = d.collection_id
        WHERE c.name = '$c' ORDER BY 1");
}
sub fetched { my ($path) = @_; return scalar grep { m{"GET \Q$path\E } }
    split /\n/, RagTest::slurp("$ng->{dir}/logs/access.log") }

# --- first crawl: everything reachable is stored --------------------------
my ($rc, $out) = crawl({}, '--collection', 'site', '--exclude', "$base/docs/private/");
is($rc, 0, 'first crawl: exit 0') or diag $out;
is(docs('site'), '/ /big.html /broken.html /ok.html',
    'first crawl: the four in-scope pages stored, the redirect loop not');
is(stat_of($out, 'new'), 4, 'summary: new=4') or diag $out;
is(stat_of($out, 'failed'), 1, 'summary: the redirect loop is the one failure');
like($out, qr/level=warn msg="fetch failed" url="\Q$base\E\/docs\/loop\.html" error="too many redirects"/,
    'the redirect loop is logged as too many redirects');
is(fetched('/docs/private/secret.html'), 0, '--exclude: the prefix is never fetched');

# --- second crawl: big.html grew over the size limit, broken.html 503s ---
RagTest::write_file("$www/docs/big.html", page('Big page', "<p>$big_text</p><p>$big_text</p>"));
RagTest::write_file("$www/broken.on", '1');
($rc, $out) = crawl({ RAG_CRAWL_MAX_BYTES => 16384 }, '--collection', 'site',
    '--exclude', "$base/docs/private/");
is($rc, 0, 'second crawl: exit 0 (pages that fail alone are counted)') or diag $out;
like($out, qr/level=warn msg="fetch failed" url="\Q$base\E\/docs\/big\.html" error="page too large"/,
    'a page over crawl_max_bytes: "page too large"');
like($out, qr/msg="crawl retry" url="\Q$base\E\/docs\/broken\.html" status=503/,
    'a 503 is retried');
like($out, qr/msg="fetch status" url="\Q$base\E\/docs\/broken\.html" status=503/,
    'and logged when it persists');
is(stat_of($out, 'failed'), 3, 'summary: failed=3 (too large, 503, loop)') or diag $out;
is(stat_of($out, 'deleted'), 0, 'summary: nothing deleted');
is(docs('site'), '/ /big.html /broken.html /ok.html',
    'the pages stored before and failing now are kept');
like(RagTest::psql($pg, "SELECT body FROM documents WHERE url LIKE '%/big.html'"),
    qr/Paragraph 400 explains/, 'with their earlier text');
unlink "$www/broken.on";

# --- a site with nothing to fetch ------------------------------------------
($rc, $out) = run({}, '--site', "$base/empty/", '--allow-private', '--delay', '0',
    '--quiet', '--collection', 'empty');
is(stat_of($out, 'new'), 0, 'an empty site: nothing stored') or diag $out;
is(stat_of($out, 'notfound'), 1, 'its start page counted as not found') or diag $out;
like($out, qr/msg="not found" url="\Q$base\E\/empty\/" referrer="\(start page\)"/,
    'and logged as the start page');
is(docs('empty'), '', 'no documents in the collection');

# --- a server that refuses connections ---------------------------------------
my $dead = RagTest::free_port();
($rc, $out) = run({ RAG_CRAWL_TIMEOUT_MS => 2000 }, '--site', "http://127.0.0.1:$dead/docs/",
    '--allow-private', '--delay', '0', '--quiet', '--collection', 'dead');
is($rc, 1, 'a refused connection: exit 1') or diag $out;
like($out, qr/^rag-ingest: robots\.txt unavailable, not crawling: Couldn't connect/m,
    'robots.txt cannot be read: nothing is crawled, and it says why');
is(docs('dead'), '', 'nothing stored');

# --- an explicit sitemap that is missing is fatal ------------------------------
($rc, $out) = crawl({}, '--collection', 'sm', '--sitemap', "$base/docs/no-sitemap.xml");
is($rc, 1, 'an explicit --sitemap that 404s: exit 1') or diag $out;
like($out, qr/^rag-ingest: .*no-sitemap\.xml/m, 'the error names the sitemap');
is(docs('sm'), '', 'nothing stored');

# --- bad command lines: exit 2 with the usage --------------------------------
for my $bad (
    [[], 'no arguments'],
    [['--collection', 'x'], 'no source'],
    [['--collection', 'x', '--dir', $www], '--dir without --url-template'],
    [['--collection', 'x', '--json', 'a.json', '--rechunk'], 'two sources'],
    [['--collection', 'x', '--rechunk', '--delay', '61'], '--delay over 60'],
    [['--collection', 'x', '--rechunk', '--concurrency', '17'], '--concurrency over 16'],
    [['--collection', 'x', '--rechunk', '--selector', 'div[['], 'a bad --selector'],
    [['--collection', 'x', '--rechunk', '--bogus'], 'an unknown option'],
    [['--collection', 'x', '--rechunk', 'extra'], 'a stray argument'],
    [['--collection', 'x', '--site', $base, map { ('--exclude', "$base/$_") } 1 .. 33],
     'more than 32 --exclude prefixes'],
    [['--collection', 'x', '--site', $base, map { ('--include', "$base/$_") } 1 .. 33],
     'more than 32 --include prefixes'],
) {
    ($rc, $out) = run({}, @{ $bad->[0] });
    is($rc, 2, "$bad->[1]: exit 2");
    like($out, qr/^usage: rag-ingest/m, "$bad->[1]: the usage is printed");
}
($rc, $out) = run({}, '--help');
is($rc, 0, '--help: exit 0');
like($out, qr/^usage: rag-ingest/m, '--help prints the usage');

# --- sources that cannot be read: exit 1 with the reason --------------------
($rc, $out) = run({}, '--collection', 'x', '--dir', "$www/none",
    '--url-template', 'https://x.test/{path}');
is($rc, 1, '--dir that does not exist: exit 1');
like($out, qr/rag-ingest: cannot read directory \Q$www\E\/none/, 'and says so');
($rc, $out) = run({}, '--collection', 'x', '--dir', "$www/docs",
    '--url-template', 'https://x.test/docs/');
is($rc, 1, '--url-template without {path}: exit 1');
like($out, qr/rag-ingest: --url-template must contain \{path\}/, 'and says so');
($rc, $out) = run({}, '--collection', 'x', '--json', "$www/none.json");
is($rc, 1, '--json file missing: exit 1');
like($out, qr/cannot read \Q$www\E\/none\.json \(missing or too large\)/, 'and says so');
RagTest::write_file("$www/bad.json", '[{"url": "https://x.test/a", "title": ');
($rc, $out) = run({}, '--collection', 'x', '--json', "$www/bad.json");
is($rc, 1, '--json with broken JSON: exit 1');
like($out, qr/bad\.json: bad JSON/, 'and says so');
RagTest::write_file("$www/bad.jsonl", qq({"url": "https://x.test/a", "title": "A", "body": "a"}\n{"url": oops}\n));
($rc, $out) = run({}, '--collection', 'x', '--json', "$www/bad.jsonl");
is($rc, 1, 'JSON Lines with a broken line: exit 1');
like($out, qr/bad\.jsonl line 2: bad JSON/, 'and names the line');
is(docs('x'), '', 'nothing stored from the failed sources');

# --- --convert --------------------------------------------------------------
($rc, $out) = run({}, '--convert', "$www/none.html", '--url', "$base/none.html");
is($rc, 1, '--convert of a missing file: exit 1');
like($out, qr/none\.html: No such file/, 'and says why');
($rc, $out) = run({}, '--convert', "$www/docs");
is($rc, 0, '--convert DIR: exit 0') or diag $out;
like($out, qr/^convert: 4 pages, /m, '--convert DIR: converts the 4 pages in it');
like($out, qr/^chunk: \d+ chunks in /m, 'and reports the chunks');
($rc, $out) = run({}, '--convert', "$www/none");
is($rc, 1, '--convert of a missing directory: exit 1');

# --- ingest jobs by hand (--job): payloads that cannot work -------------------
for my $j (
    ['not json', qr/bad payload JSON/],
    ['{"collection":"j"}', qr/payload needs collection and source\.type/],
    ['{"collection":"j","source":{"type":"ftp"}}', qr/unknown source type/],
    ['{"collection":"j","source":{"type":"site"}}', qr/site source needs url/],
    ['{"collection":"j","source":{"type":"dir","dir":"/tmp"}}', qr/dir source needs dir and url_template/],
    ['{"collection":"j","source":{"type":"json"}}', qr/json source needs file/],
) {
    ($rc, $out) = run({}, '--job', $j->[0]);
    is($rc, 1, "--job '$j->[0]': exit 1");
    like($out, $j->[1], "--job '$j->[0]': the reason");
}
# a site job with include/exclude lists crawls only what they allow
($rc, $out) = run({ RAG_INGEST_ALLOW_PRIVATE => 'on' }, '--job',
    qq({"collection":"jobsite","source":{"type":"site","url":"$base/docs/index.html",)
    . qq("include":["$base/docs/"],"exclude":["$base/docs/private/","$base/docs/big",7]}}));
is($rc, 0, 'a site job with include/exclude: exit 0') or diag $out;
is(docs('jobsite'), '/ /broken.html /ok.html',
    'the job crawled only what include/exclude allow');

# --- a database that does not answer -----------------------------------------
($rc, $out) = run({ RAG_DATABASE_URL => "host=$www port=1 dbname=rag connect_timeout=2" },
    '--collection', 'x', '--rechunk');
is($rc, 1, 'no database: exit 1');
like($out, qr/^rag-ingest: database: /m, 'and says it is the database');

done_testing();
