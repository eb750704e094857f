# lib/ code running inside nginx (issue 15.3): its log lines go through
# the module's sink into nginx's error log — from a pool thread on the
# request's log, with the request's context, written by the event loop —
# never as the daemons' stderr lines; and it never sleeps on an nginx
# thread: a query embedding the API refuses with 429 + Retry-After is
# not retried after a wait (rag_http would sleep), the search answers at
# once with BM25 only.
use strict;
use warnings;
use Test::More;
use HTTP::Tiny;
use JSON::PP;
use lib 't/lib';
use RagTest;
use FakeOpenAI;

my $pg = RagTest::pg_start();
my $ai = FakeOpenAI->start();
my $ixdir = RagTest::tmpdir();

# a collection with vectors, so /search asks for a query embedding
RagTest::psql($pg, "INSERT INTO collections (name) VALUES ('docs');"
    . "INSERT INTO documents (collection_id, url, title)"
    . " SELECT id, 'https://d/wal', 'WAL' FROM collections;");
my $v = 'ARRAY[' . join(',', @{ FakeOpenAI::embed_text('checkpoints', 64) })
    . ']::real[]';
RagTest::psql($pg, "INSERT INTO chunks (document_id, ordinal, anchor, body,"
    . " embedding) VALUES (1, 0, 'checkpoints',"
    . " 'Checkpoints flush dirty pages to disk.', $v)");
{
    local $ENV{RAG_DATABASE_URL} = $pg->{conninfo};
    my $out = `@{[RagTest::bin('rag-reindex')]} --dir $ixdir docs 2>&1`;
    is($?, 0, 'index with vectors built') or diag $out;
}

my $ng = RagTest::nginx_start(pg => $pg, workers => 1,
    main => 'thread_pool ragpool threads=2 max_queue=100;',
    http => "rag_database \"%%DB%%\"; rag_thread_pool ragpool;"
        . " rag_index_dir $ixdir;",
    server => "location /search { rag_search; rag_embed_url $ai->{url}; }");
my $http = HTTP::Tiny->new(timeout => 30);

$ai->set(fail_embed => [{ status => 429, retry_after => 3 }]);
my $r = $http->get("$ng->{url}/search?q=checkpoints&collection=docs");
is($r->{status}, 200, 'search answers');
my $j = eval { decode_json($r->{content}) } || {};
is($j->{vector}, 'embedding failed, lexical only', 'BM25 only, and says so');
like($r->{content}, qr{d/wal#checkpoints}, 'with the hit');
is(scalar $ai->requests('/v1/embeddings'), 1,
    'the 429 was not retried (a retry would have slept 3 s on the thread)');

ok(RagTest::wait_for(sub { RagTest::error_log($ng) =~ /http retry skipped/ }, 5),
    'the skipped retry is logged');
my ($line) = grep { /http retry skipped/ } split /\n/, RagTest::error_log($ng);
like($line // '', qr/\[warn\] \d+#\d+: \*\d+ rag: msg="http retry skipped: this thread may not sleep" url="\Q$ai->{url}\E\/embeddings" status=429/,
    'in nginx format, at warn, on the connection');
like($line // '', qr/, client: 127\.0\.0\.1, server: localhost, request: "GET \/search\?q=checkpoints/,
    'with the request it came from');
unlike(RagTest::slurp("$ng->{dir}/logs/stderr.log") . RagTest::error_log($ng),
    qr/level=(?:debug|info|warn|error) /, 'no daemon-style stderr line from lib/');

done_testing();
