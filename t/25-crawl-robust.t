# One bad page never fails a crawl (issue 11 item 7): pages that are not
# UTF-8 (Latin-1 declared in <meta> or in the HTTP header, Windows-1252,
# stray invalid bytes) are converted to UTF-8; a page the database still
# refuses is logged and counted while the rest is indexed; markup nested
# deeper than the parsers' limits keeps its text; 404 links are logged
# with the page that links to them and counted; hitting the page limit
# is a partial crawl (exit 3, "unvisited=" in the summary).
use strict;
use warnings;
use utf8;
use Test::More;
use lib 't/lib';
use RagTest;

my $pg = RagTest::pg_start();
my $www = RagTest::tmpdir();
my $idx = RagTest::tmpdir();
my $port = RagTest::free_port();
my $base = "http://127.0.0.1:$port";

sub page {
    my ($title, $body, $head) = @_;
    return "<html><head>" . ($head // '') . "<title>$title</title></head>"
        . "<body><main><h1>$title</h1>$body</main></body></html>";
}
sub raw_file {    # bytes exactly as given
    my ($path, $bytes) = @_;
    open my $fh, '>:raw', $path or die "$path: $!";
    print $fh $bytes;
    close $fh;
}

mkdir "$www/docs";
# Latin-1 declared in <meta charset>: "Café crème brûlée, naïve" in ISO-8859-1
raw_file("$www/docs/latin1-meta.html", page('Latin meta',
    "<p>Caf\xe9 cr\xe8me br\xfbl\xe9e, na\xefve.</p>",
    '<meta charset="iso-8859-1">'));
# Latin-1 declared only in the HTTP header (nginx location below)
raw_file("$www/docs/latin1-header.html", page('Latin header',
    "<p>Stra\xdfe \xfcber M\xfcnchen \xa9 2024.</p>"));
# Windows-1252 in <meta http-equiv>: curly quotes, en dash, euro sign
raw_file("$www/docs/cp1252.html", page('Windows',
    "<p>\x93Quoted\x94 \x96 costs \x805.</p>",
    '<meta http-equiv="Content-Type" content="text/html; charset=windows-1252">'));
# UTF-8 with stray invalid bytes and a truncated sequence
raw_file("$www/docs/stray.html", page('Stray',
    "<p>Good \xc3\xa9 then bad \xff\xfe bytes and cut \xe2\x82 end.</p>",
    '<meta charset="utf-8">'));
# 300 nested elements: deeper than libxml2's 256 and our own 200
raw_file("$www/docs/deep.html", page('Deep',
    ('<div>' x 300) . 'deep nested text' . ('</div>' x 300)
    . '<p>after the deep block</p>'));
# a page the database refuses (a trigger below), and a link to a 404
raw_file("$www/docs/poison.html", page('Poison', '<p>refused by a trigger</p>'));
raw_file("$www/docs/index.html", page('Index',
    '<p>See <a href="latin1-meta.html">meta</a>, <a href="latin1-header.html">header</a>, '
    . '<a href="cp1252.html">cp1252</a>, <a href="stray.html">stray</a>, '
    . '<a href="deep.html">deep</a>, <a href="poison.html">poison</a> and '
    . '<a href="missing.html">a page that is gone</a>.</p>'));

my $ng = RagTest::nginx_start(port => $port,
    server => "location / { root $www; }\n"
        . "location = /docs/latin1-header.html { root $www; types { } "
        . "default_type 'text/html; charset=ISO-8859-1'; }");

RagTest::psql($pg, q{
    CREATE FUNCTION t_poison() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF NEW.url LIKE '%poison%' THEN RAISE EXCEPTION 'poisoned page'; END IF;
        RETURN NEW;
    END $$;
    CREATE TRIGGER t_poison BEFORE INSERT OR UPDATE ON documents
        FOR EACH ROW EXECUTE FUNCTION t_poison()});

sub ingest {
    my (@args) = @_;
    local $ENV{RAG_DATABASE_URL} = $pg->{conninfo};
    local $ENV{RAG_INDEX_DIR} = $idx;
    my $cmd = join ' ', map { "'$_'" } RagTest::bin('rag-ingest'),
        '--site', "$base/docs/index.html", '--allow-private', '--delay', '0',
        '--quiet', @args;
    my $out = `$cmd 2>&1`;
    return ($? >> 8, $out);
}
sub stat_of { my ($o, $k) = @_; return $o =~ /^pages .*\b$k=(\d+)/m ? $1 : -1 }
sub body_of {
    my ($c, $page) = @_;
    my $b = RagTest::psql($pg, "SELECT d.body FROM documents d JOIN collections c
        ON c.id = d.collection_id WHERE c.name = '$c' AND d.url LIKE '%/$page'");
    utf8::decode($b);
    return $b;
}

my ($rc, $out) = ingest('--collection', 'enc');
is($rc, 0, 'the crawl completes despite the bad pages') or diag $out;
is(stat_of($out, 'new'), 6, 'six pages stored');
is(stat_of($out, 'failed'), 1, 'the refused page is counted as failed');
like($out, qr/level=warn .*url="\Q$base\E\/docs\/poison\.html".*poisoned page/,
    'and logged with the database\'s reason');
ok(-s "$idx/enc.idx", 'the index is written');
like(body_of('enc', 'latin1-meta.html'), qr/Café crème brûlée, naïve\./,
    'Latin-1 declared in <meta> converted to UTF-8');
like(body_of('enc', 'latin1-header.html'), qr/Straße über München © 2024\./,
    'Latin-1 declared in the HTTP header converted');
like(body_of('enc', 'cp1252.html'), qr/“Quoted” – costs €5\./,
    'Windows-1252 converted');
like(body_of('enc', 'stray.html'), qr/Good é then bad \x{fffd}\x{fffd} bytes and cut \x{fffd} end\./,
    'invalid bytes replaced by U+FFFD');
my $deep = body_of('enc', 'deep.html');
like($deep, qr/deep nested text/, 'text nested 300 levels deep is kept');
like($deep, qr/after the deep block/, 'and so is what follows it');
is(stat_of($out, 'notfound'), 1, 'the 404 link is counted');
like($out, qr/level=warn msg="not found" url="\Q$base\E\/docs\/missing\.html" referrer="\Q$base\E\/docs\/(?:index\.html)?"/,
    'and logged with the page linking to it');

# --- the page limit: a partial crawl says so -----------------------------
($rc, $out) = ingest('--collection', 'lim', '--max-pages', '3');
is($rc, 3, 'page limit reached: exit 3 (partial)') or diag $out;
cmp_ok(stat_of($out, 'unvisited'), '>=', 4, 'summary counts the URLs not fetched')
    or diag $out;
like($out, qr/partial crawl: page limit 3 reached/, 'and says why');
ok(-s "$idx/lim.idx", 'what was fetched is indexed');

# --- convert: the same decoding for a local file ---------------------------
{
    my $cmd = join ' ', map { "'$_'" } RagTest::bin('rag-ingest'),
        '--convert', "$www/docs/cp1252.html", '--url', "$base/docs/cp1252.html";
    my $md = `$cmd 2>&1`;
    utf8::decode($md);
    like($md, qr/“Quoted” – costs €5\./, '--convert decodes the declared charset');
}

# --- a Markdown directory with a file that is not UTF-8 ---------------------
{
    my $dir = RagTest::tmpdir();
    raw_file("$dir/latin.md", "# Latin\n\nCaf\xe9 au lait.\n");
    raw_file("$dir/ok.md", "# Fine\n\nPlain text.\n");
    local $ENV{RAG_DATABASE_URL} = $pg->{conninfo};
    local $ENV{RAG_INDEX_DIR} = $idx;
    my $cmd = join ' ', map { "'$_'" } RagTest::bin('rag-ingest'),
        '--collection', 'md', '--dir', $dir, '--url-template',
        'https://docs.example.com/{path}', '--quiet';
    my $o = `$cmd 2>&1`;
    is($? >> 8, 0, 'a Markdown file with invalid UTF-8 does not fail the run')
        or diag $o;
    like(body_of('md', 'latin'), qr/Caf\x{fffd} au lait\./, 'its bad byte replaced');
}

done_testing();
