# lib/ code running inside nginx (issue 15.3, 15.5): nothing waits on an
# nginx thread — a query embedding the API refuses with 429 + Retry-After
# is not retried after a wait (the embedding is an nginx subrequest since
# rag_embed_pass), the search answers at once with BM25 only; a lib/
# store's failing statement is logged once, at error, on the request's log
# in nginx's format; and no daemon-style line from lib/ reaches nginx's
# stderr or error log.
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


my ($aiport) = $ai->{url} =~ /:(\d+)/;
my $ng = RagTest::nginx_start(pg => $pg, workers => 1,
    main => 'thread_pool ragpool threads=2 max_queue=100;',
    http => "rag_database \"%%DB%%\"; rag_thread_pool ragpool;"
        . " rag_index_dir $ixdir;",
    server => <<"EOF");
location = /_embed { internal; proxy_pass http://127.0.0.1:$aiport/v1/embeddings;
    proxy_http_version 1.1; proxy_buffer_size 64k; proxy_buffers 4 64k; }
location /search { rag_search; rag_embed_pass /_embed; rag_embed_key sk-test; }
location = /upload_documents { rag_upload; rag_upload_token "tok-123456"; }
EOF
my $http = HTTP::Tiny->new(timeout => 30);

$ai->set(fail_embed => [{ status => 429, retry_after => 3 }]);
my $t0 = time;
my $r = $http->get("$ng->{url}/search?q=checkpoints&collection=docs");
is($r->{status}, 200, 'search answers');
cmp_ok(time - $t0, '<', 2, 'at once, without waiting out Retry-After');
my $j = eval { decode_json($r->{content}) } || {};
like($j->{vector} // '', qr/^embedding failed \(HTTP 429\), lexical only$/,
    'BM25 only, and says so');
like($r->{content}, qr{d/wal#checkpoints}, 'with the hit');
is(scalar $ai->requests('/v1/embeddings'), 1, 'the 429 was not retried');

# A statement of a lib/ store fails in a pool thread (the table is gone):
# rag_db keeps quiet on the module's threads (rag_db_log_errors(0)) and the
# module writes the error once, at error level, on the request's log.
RagTest::psql($pg, 'ALTER TABLE documents RENAME TO documents_away');
$r = $http->post("$ng->{url}/upload_documents", {
    headers => { Authorization => 'Bearer tok-123456',
        'Content-Type' => 'application/json' },
    content => encode_json({ collection => 'docs', documents => [
        { url => 'https://d/new', title => 'New', body => 'Some text.' }] }) });
cmp_ok($r->{status}, '>=', 500, 'the upload fails on the server side');
unlike($r->{content}, qr/documents_away|does not exist|relation/,
    'no database text in the response');
RagTest::psql($pg, 'ALTER TABLE documents_away RENAME TO documents');
ok(RagTest::wait_for(sub { RagTest::error_log($ng) =~ /does not exist/ }, 5),
    'the store\'s error is logged') or diag RagTest::error_log($ng);
my @lines = grep { /does not exist/ } split /\n/, RagTest::error_log($ng);
is(scalar @lines, 1, 'once');
like($lines[0] // '', qr/\[error\] \d+#\d+: \*\d+ rag: database error: relation "documents" does not exist \(SQLSTATE 42P01\)/,
    'in nginx format, at error, on the connection, with the SQLSTATE');
like($lines[0] // '', qr/, client: 127\.0\.0\.1, server: localhost, request: "POST \/upload_documents/,
    'with the request it came from');
unlike(RagTest::slurp("$ng->{dir}/logs/stderr.log") . RagTest::error_log($ng),
    qr/level=(?:debug|info|warn|error) /, 'no daemon-style stderr line from lib/');

done_testing();
