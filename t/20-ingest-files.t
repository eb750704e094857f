# rag-ingest from files: a Markdown/MDX directory with a URL template
# (front matter title/slug, MDX import/export lines dropped, index pages,
# explicit heading ids), JSON and JSON Lines files, the worker's
# "rechunk" job for uploaded documents, --reindex, and usage errors.
use strict;
use warnings;
use Test::More;
use Digest::SHA qw(sha256_hex);
use File::Copy qw(copy);
use lib 't/lib';
use RagTest;

my $pg = RagTest::pg_start();
my $idx = RagTest::tmpdir();
my $tmp = RagTest::tmpdir();
my %env = (RAG_DATABASE_URL => $pg->{conninfo}, RAG_INDEX_DIR => $idx);

sub run_ingest {
    my (@args) = @_;
    local @ENV{keys %env} = values %env;
    my $cmd = join ' ', map { "'$_'" } RagTest::bin('rag-ingest'), @args;
    my $out = `$cmd 2>&1`;
    return ($? >> 8, $out);
}
sub stat_of { my ($o, $k) = @_; return $o =~ /^pages .*\b$k=(\d+)/m ? $1 : -1 }

# --- a docs directory --------------------------------------------------------
my $docs = "$tmp/docs";
mkdir $docs;
mkdir "$docs/guide";
copy("$RagTest::ROOT/t/fixtures/docusaurus/reference-sample.md",
    "$docs/reference-sample.md") or die;
RagTest::write_file("$docs/intro.md", <<'EOF');
---
title: "Getting started"
slug: /start
---

Welcome to the **docs**.

## First steps

Install it.
EOF
RagTest::write_file("$docs/guide/index.mdx", <<'EOF');
import Tabs from '@theme/Tabs';
export const meta = {a: 1};

# The guide

Read the [setup](./setup.md).

```js
import x from 'y';
```
EOF
RagTest::write_file("$docs/guide/setup.md", "# Setup guide\n\nRun the installer.\n");
RagTest::write_file("$docs/notes.txt", "not markdown\n");

# small chunks so that sections get chunks of their own
$env{RAG_CHUNK_TOKENS} = 40;
my @dir = ('--collection', 'site', '--dir', $docs, '--url-template',
    'https://docs.example.com/docs/{path}', '--quiet');
my ($rc, $out) = run_ingest(@dir);
is($rc, 0, 'dir ingest succeeds') or diag $out;
is(stat_of($out, 'new'), 4, 'four Markdown files');
is($pg->sql("SELECT string_agg(url || ' ' || title, ',' ORDER BY url) FROM documents"),
    join(',', 'https://docs.example.com/docs/guide/ The guide',
        'https://docs.example.com/docs/guide/setup Setup guide',
        'https://docs.example.com/docs/reference-sample Reference sample',
        'https://docs.example.com/docs/start Getting started'),
    'URLs from the template (slug, index page) and titles (front matter, h1)');
my $guide = $pg->sql("SELECT body FROM documents WHERE url LIKE '%/guide/'");
unlike($guide, qr/^import Tabs|^export const/m, 'MDX import/export dropped');
like($guide, qr/^import x from 'y';$/m, 'but kept inside code');
unlike($pg->sql("SELECT body FROM documents WHERE url LIKE '%/start'"),
    qr/slug:/, 'front matter not in the body');
is($pg->sql("SELECT anchor FROM chunks c JOIN documents d ON d.id = c.document_id
         WHERE d.url LIKE '%reference-sample' AND c.body LIKE '%apt-get install%'"),
    'custom-install', 'explicit Docusaurus heading id is the anchor');
cmp_ok($pg->sql("SELECT index_generation FROM collections WHERE name='site'"),
    '>=', 1, 'index built');

($rc, $out) = run_ingest(@dir);
is(stat_of($out, 'unchanged'), 4, 'second run: all unchanged');
is(stat_of($out, 'chunks'), 0, 'nothing re-chunked');

RagTest::write_file("$docs/guide/setup.md",
    "# Setup guide\n\nRun the installer twice.\n");
($rc, $out) = run_ingest(@dir);
is(stat_of($out, 'changed'), 1, 'edited file re-processed');
is(stat_of($out, 'unchanged'), 3, 'others untouched');

# the source is recorded: a job naming only the collection re-runs it
like($pg->sql("SELECT source::text FROM collections WHERE name = 'site'"),
    qr/"type": "dir"/, 'collection source recorded');
RagTest::write_file("$docs/guide/setup.md",
    "# Setup guide\n\nRun the installer three times.\n");
($rc, $out) = run_ingest('--job', '{"collection":"site"}');
isnt($rc, 0, 'file sources in jobs need ingest_file_root');
like($out, qr/ingest_file_root/, 'explained');
$env{RAG_INGEST_FILE_ROOT} = "$tmp/elsewhere";
mkdir "$tmp/elsewhere";
($rc, $out) = run_ingest('--job', '{"collection":"site"}');
like($out, qr/outside ingest_file_root/, 'and must be below it');
$env{RAG_INGEST_FILE_ROOT} = $tmp;
($rc, $out) = run_ingest('--job', '{"collection":"site"}');
is($rc, 0, 'refresh job with the recorded source') or diag $out;
like($out, qr/unchanged=3 new=0 changed=1/, 'it picked up the edit');

unlink "$docs/guide/setup.md";
($rc, $out) = run_ingest(@dir);
is($rc, 0, 'run after removing a file') or diag $out;
is(stat_of($out, 'deleted'), 1, 'removed file deleted');

delete $env{RAG_CHUNK_TOKENS};

# --- JSON and JSON Lines -------------------------------------------------------
RagTest::write_file("$tmp/docs.json", <<'EOF');
[{"url": "https://x.org/a#frag", "title": "A", "body": "# A\n\nAlpha text."},
 {"url": "https://x.org/b", "title": "B", "body": "Beta \"text\" with \\ back,slash {x,y} NULL."}]
EOF
($rc, $out) = run_ingest('--collection', 'j', '--json', "$tmp/docs.json");
is($rc, 0, 'json ingest') or diag $out;
is($pg->sql("SELECT string_agg(url, ',' ORDER BY url) FROM documents d
         JOIN collections c ON c.id = d.collection_id WHERE c.name = 'j'"),
    'https://x.org/a,https://x.org/b', 'URLs normalised (fragment dropped)');
is($pg->sql("SELECT c.body FROM chunks c JOIN documents d ON d.id = c.document_id
         WHERE d.url = 'https://x.org/b'"),
    'Beta "text" with \\ back,slash {x,y} NULL.',
    'chunk text stored byte for byte (quotes, backslash, braces)');
RagTest::write_file("$tmp/docs.jsonl",
    qq({"url":"https://y.org/1","title":"One","body":"First."}\n\n)
    . qq({"url":"https://y.org/2","body":"Second."}\n));
($rc, $out) = run_ingest('--collection', 'jl', '--json', "$tmp/docs.jsonl");
is(stat_of($out, 'new'), 2, 'jsonl ingest') or diag $out;
RagTest::write_file("$tmp/bad.json", qq([{"title":"no url"}]));
($rc, $out) = run_ingest('--collection', 'bad', '--json', "$tmp/bad.json");
isnt($rc, 0, 'item without url rejected');

# --- uploads: the worker's rechunk job -----------------------------------------
$pg->sql(q{INSERT INTO collections (name) VALUES ('up');
       INSERT INTO documents (collection_id, url, title, body, source)
       SELECT id, 'https://u.org/' || g, 'Doc ' || g,
              '# Doc ' || g || E'\n\nUploaded body ' || g || '.', 'upload'
       FROM collections, generate_series(1, 3) g WHERE name = 'up'});
($rc, $out) = run_ingest('--job', '{"collection":"up","source":{"type":"rechunk"}}');
is($rc, 0, 'rechunk job') or diag $out;
is($pg->sql("SELECT count(DISTINCT c.document_id) FROM chunks c JOIN documents d
         ON d.id = c.document_id WHERE d.source = 'upload'"), 3,
    'uploaded documents chunked');
my $body = "# Doc 1\n\nUploaded body 1.";
is($pg->sql("SELECT chunked_hash FROM documents WHERE url = 'https://u.org/1'"),
    sha256_hex($body), 'chunked_hash is the SHA-256 of the body');
($rc, $out) = run_ingest('--job', '{"collection":"up","source":{"type":"rechunk"}}');
like($out, qr/changed=0/, 'second rechunk job finds nothing stale');
$pg->sql("UPDATE documents SET body = body || ' More.', content_hash = ''
      WHERE url = 'https://u.org/2'");
($rc, $out) = run_ingest('--job', '{"collection":"up","source":{"type":"rechunk"}}');
like($out, qr/changed=1/, 'an updated upload is re-chunked');
like($pg->sql("SELECT string_agg(c.body, '') FROM chunks c JOIN documents d
           ON d.id = c.document_id WHERE d.url = 'https://u.org/2'"),
    qr/More\./, 'with its new text');
($rc, $out) = run_ingest('--job', '{"collection":"up","source":{"type":"site","url":"http://127.0.0.1:1/"}}');
isnt($rc, 0, 'a job cannot crawl a private address');

# --- one ingest per collection at a time -------------------------------------------
{
    my $pid = RagTest::spawn(["$RagTest::PGBIN/psql", '-X', '-q', '-h',
        $pg->{host}, '-p', $pg->{port}, '-U', 'postgres', '-d', 'rag', '-c',
        "SELECT pg_advisory_lock(hashtext('rag_ingest:j')); SELECT pg_sleep(20)"]);
    RagTest::wait_for(sub { $pg->sql("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'") }, 10);
    ($rc, $out) = run_ingest('--collection', 'j', '--json', "$tmp/docs.json");
    isnt($rc, 0, 'concurrent ingest of the same collection refused');
    like($out, qr/another ingest of collection j is running/, 'with a reason');
    $pg->sql("SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory'");
    RagTest::stop($pid, 'TERM');
    RagTest::wait_for(sub { !$pg->sql("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'") }, 10);
    ($rc, $out) = run_ingest('--collection', 'j', '--json', "$tmp/docs.json");
    is($rc, 0, 'runs once the other one is gone') or diag $out;
}

# --- reindex only, usage ----------------------------------------------------------
my $g = $pg->sql("SELECT index_generation FROM collections WHERE name = 'up'");
($rc, $out) = run_ingest('--collection', 'up', '--reindex');
is($rc, 0, '--reindex') or diag $out;
is($pg->sql("SELECT index_generation FROM collections WHERE name = 'up'"), $g + 1,
    'generation bumped');
($rc) = run_ingest('--collection', 'x');
is($rc, 2, 'no source: usage error');
($rc) = run_ingest('--collection', 'x', '--dir', $docs);
is($rc, 2, '--dir without --url-template: usage error');
($rc) = run_ingest('--collection', 'x', '--json', "$tmp/docs.json",
    '--selector', 'div > p');
is($rc, 2, 'unsupported selector rejected');
($rc, $out) = run_ingest('--collection', '../etc', '--json', "$tmp/docs.json");
isnt($rc, 0, 'bad collection name rejected');

done_testing();
