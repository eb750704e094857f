# A freshly built Docusaurus 3 site (issue 16 item 4; t/fixtures/
# docusaurus-site, see t/fixtures/README): crawled via its sitemap, whose
# URLs redirect to a trailing slash, and from its MDX sources (--dir).
# Every tab panel under its label, titled admonitions keep their kind, no
# fence broken inside an admonition, blog listing/tag/author pages not
# stored, each page fetched once, passages linked to the section holding
# their text, no site name in titles, an unchanged re-crawl writes no new
# index generation; the sources converted the way the site renders them
# (admonitions, tabs, comments, imports, JSX, relative links, highlight
# directives) with the ids the built page has.
use strict;
use warnings;
use Test::More;
use lib 't/lib';
use RagTest;
use IngestQuality;

my $fx = "$RagTest::ROOT/t/fixtures/docusaurus-site";
my $pg = RagTest::pg_start();
my $idx = RagTest::tmpdir();
my $www = RagTest::tmpdir();
my $port = RagTest::free_port();
my $base = "http://127.0.0.1:$port";
system('cp', '-a', "$fx/docs", "$fx/blog", $www) == 0 or die "cp: $?";
(my $sm = RagTest::slurp("$fx/sitemap.xml"))
    =~ s{https://your-docusaurus-site\.example\.com}{$base}g;
RagTest::write_file("$www/sitemap.xml", $sm);
my $nsm = () = $sm =~ /<loc>/g;
# nginx answers /docs/install with 301 to /docs/install/, as most hosts do
my $ng = RagTest::nginx_start(port => $port,
    server => "absolute_redirect on; port_in_redirect on;
               location / { root $www; index index.html; }");
my %env = (RAG_DATABASE_URL => $pg->{conninfo}, RAG_INDEX_DIR => $idx);

sub run_ingest {
    my (@args) = @_;
    local @ENV{keys %env} = values %env;
    my $cmd = join ' ', map { "'$_'" } RagTest::bin('rag-ingest'), @args;
    my $out = `$cmd 2>&1`;
    return ($? >> 8, $out);
}
sub stat_of { my ($o, $k) = @_; return $o =~ /^pages .*\b$k=(\d+)/m ? $1 : -1 }
sub chunks_of {
    my ($coll, $like) = @_;
    my $s = $pg->sql("SELECT string_agg(c.body, E'\\n----\\n' ORDER BY c.ordinal)
        FROM chunks c JOIN documents d ON d.id = c.document_id JOIN collections k
        ON k.id = d.collection_id WHERE k.name = '$coll' AND d.url LIKE '$like'");
    utf8::decode($s);
    return $s;
}
sub access_log { RagTest::slurp("$ng->{dir}/logs/access.log") }

# --- the built site, from its sitemap ------------------------------------
my @site = ('--collection', 'site', '--site', "$base/", '--allow-private',
    '--delay', '0', '--quiet');
my ($rc, $out) = run_ingest(@site);
is($rc, 0, 'crawl from the sitemap') or diag $out;
like($out, qr/discovery=sitemap pages=$nsm\b/, "$nsm sitemap URLs");
{
    my @gets = access_log() =~ m{"GET /docs/install/ }g;
    is(scalar @gets, 1, 'a sitemap URL redirecting to its trailing slash is fetched once');
}
is(stat_of($out, 'fetched') + stat_of($out, 'skipped'), $nsm,
    'every sitemap URL counted once (fetched or skipped)');
is($pg->sql("SELECT string_agg(regexp_replace(url, '^.*:$port', ''), ' ' ORDER BY url)
    FROM documents"), '/blog/first-blog-post/ /blog/welcome/ /docs/install/ '
    . '/docs/intro/ /docs/reference-sample/',
    'blog listing, archive, tag and author pages not stored; posts and docs are');
is($pg->sql("SELECT count(*) FROM documents WHERE title LIKE '%My Site%'"), 0,
    'no " | My Site" in titles');
is($pg->sql("SELECT count(*) FROM chunks WHERE heading_path LIKE '%My Site%'"), 0,
    'nor in breadcrumbs');
my $m = IngestQuality::measure($pg, 'site');
is($m->{fences}, 0, 'no code fence broken, the long block inside an admonition included');
my $install = chunks_of('site', '%/docs/install/');
# (the fixture's bash block has a "//" magic comment, which Docusaurus
# only honours in C-like languages: the site shows it as code)
like($install, qr/\*\*Debian:\*\*\s+debian\.sh\s+```bash\n(?:\/\/ highlight-next-line\n)?apt-get install x\n```/,
    'the default tab under its label, the code title above its block');
like($install, qr/\*\*macOS:\*\*\s+```bash\nbrew install x\n```/,
    'the hidden tab too');
like($install, qr/^> \*\*Warning: Back up first\*\*$/m,
    'a titled admonition keeps its kind');
like($install, qr/^> \*\*Tip: Before you start\*\*$/m, 'the tip too');
{
    # the chunk holding "bananas" links to a section that holds it
    my $row = $pg->sql("SELECT c.anchor || '|' || c.body FROM chunks c JOIN documents d
        ON d.id = c.document_id WHERE d.url LIKE '%/docs/install/'
        AND c.body LIKE '%bananas%'");
    my ($anchor, $body) = split /\|/, $row, 2;
    my $html = RagTest::slurp("$fx/docs/install/index.html");
    if ($body =~ /Small section A/) {
        is($anchor, '', 'packed sections A and B: the link is the page holding both');
    } else {
        is($anchor, 'small-section-b', 'the link is section B');
    }
    ok($anchor eq '' || $html =~ /id=["']?\Q$anchor\E(?:["'\s>])/, "anchor '$anchor' exists on the page");
}
my $gen = $pg->sql("SELECT index_generation FROM collections WHERE name = 'site'");
truncate "$ng->{dir}/logs/access.log", 0;
($rc, $out) = run_ingest(@site);
is($rc, 0, 'unchanged re-crawl') or diag $out;
is(stat_of($out, 'new') + stat_of($out, 'changed'), 0, 'nothing new or changed')
    or diag $out;
is($pg->sql("SELECT index_generation FROM collections WHERE name = 'site'"), $gen,
    'no new index generation');
{
    my @gets = access_log() =~ m{"GET /docs/install/ }g;
    is(scalar @gets, 1, 'the redirected page fetched once again');
}

# --- the MDX sources -------------------------------------------------------
my ($rc2, $out2) = run_ingest('--collection', 'src', '--dir', "$fx/src",
    '--url-template', "$base/docs/{path}/", '--quiet');
is($rc2, 0, 'the sources ingested') or diag $out2;
my $src = $pg->sql("SELECT d.body FROM documents d JOIN collections k ON
    k.id = d.collection_id WHERE k.name = 'src' AND d.url = '$base/docs/install/'");
utf8::decode($src);
unlike($src, qr/^import |\{\/\*|<\/?Tabs|<\/?TabItem|<\/?details|^:::/m,
    'no import lines, MDX comments, JSX or ::: markers');
unlike($src, qr/highlight-(start|end|next-line)/, 'no highlight directives');
like($src, qr/\*\*Debian:\*\*\s+debian\.sh\s+```bash\napt-get install x\n```/,
    'tabs under their labels, the code title above its block');
like($src, qr/\*\*macOS:\*\*\s+```bash\nbrew install x\n```/, 'second tab');
like($src, qr/^> \*\*Tip: Before you start\*\*\n>\n> Read the \[reference\]\(\Q$base\E\/docs\/reference-sample\/#options-table\)/m,
    'admonition as the site renders it, relative link to the page\'s URL');
like($src, qr/^> > \*\*Note:\*\* nested$/m, 'nested admonition');
like($src, qr/^\*\*Why not snap\?\*\*\n\nBecause\.$/m, '<details> summary');
like($src, qr/^> \*\*Warning: Back up first\*\*$/m, 'titled admonition');
{
    # every anchor of the source chunks is an id of the built page
    my $html = RagTest::slurp("$fx/docs/install/index.html");
    my @bad = grep { $_ ne '' && $html !~ /id=["']?\Q$_\E(?:["'\s>])/ } split /\n/,
        $pg->sql("SELECT DISTINCT c.anchor FROM chunks c JOIN documents d
            ON d.id = c.document_id JOIN collections k ON k.id = d.collection_id
            WHERE k.name = 'src' AND d.url = '$base/docs/install/'");
    is("@bad", '', 'source chunks link to ids the built page has');
    is($pg->sql("SELECT anchor FROM chunks c JOIN documents d ON d.id = c.document_id
        JOIN collections k ON k.id = d.collection_id
        WHERE k.name = 'src' AND d.url = '$base/docs/install/' AND c.ordinal = 0"), '',
        'the first chunk links to the page (its h1 has no id)');
}
is(IngestQuality::measure($pg, 'src')->{fences}, 0, 'no broken fence from the sources');

done_testing();
