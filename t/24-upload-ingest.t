# The upload path end to end: POST /upload_documents (module) stores the
# documents and enqueues an ingest "rechunk" job; rag-worker runs it
# through rag_ingest_run_job: chunks, embeddings (OpenAI stand-in), a new
# index generation. An edited upload re-chunks only that document.
use strict;
use warnings;
use Test::More;
use HTTP::Tiny;
use lib 't/lib';
use RagTest;
use FakeOpenAI;

my $pg = RagTest::pg_start();
my $ai = FakeOpenAI->start(api_key => 'sk-u');
my $idx = RagTest::tmpdir();
my $ng = RagTest::nginx_start(pg => $pg,
    http => 'rag_database "%%DB%%";',
    server => '
        location = /upload_documents {
            rag_upload;
            rag_upload_token "tok-123456";
            rag_upload_create_collections on;
        }');
my $worker = RagTest::spawn([RagTest::bin('rag-worker')],
    env => { RAG_DATABASE_URL => $pg->{conninfo}, RAG_INDEX_DIR => $idx,
        RAG_EMBED_BASE_URL => $ai->{url}, RAG_EMBED_API_KEY => 'sk-u',
        RAG_POLL_INTERVAL_MS => 100 },
    log => "$idx/worker.log");
my $http = HTTP::Tiny->new(timeout => 10);
sub upload {
    my ($body) = @_;
    my $r = $http->post("$ng->{url}/upload_documents", { content => $body,
        headers => { 'Content-Type' => 'application/json',
            Authorization => 'Bearer tok-123456' } });
    is($r->{status}, 202, 'upload accepted') or diag $r->{content};
    my ($job) = ($r->{content} // '') =~ /"job_id":(\d+)/;
    return $job;
}
sub wait_done {
    my ($job) = @_;
    return RagTest::wait_for(sub {
        $pg->sql("SELECT state FROM jobs WHERE id = $job") =~ /^(done|dead)$/ }, 30)
        && $pg->sql("SELECT state FROM jobs WHERE id = $job");
}

my $batch = '{"collection":"guide","documents":['
  . '{"url":"https://docs.example.com/install","title":"Install","body":"# Install\n\nRun apt-get install.\n\n## Debian {#debian}\n\nUse apt."},'
  . '{"url":"https://docs.example.com/config","title":"Config","body":"# Config\n\nEdit the file."}]}';
my $job = upload($batch);
is(wait_done($job), 'done', 'worker ran the ingest job')
    or diag RagTest::slurp("$idx/worker.log");
is($pg->sql("SELECT count(DISTINCT document_id) FROM chunks"), 2,
    'both uploads chunked');
is($pg->sql("SELECT count(*) FROM chunks WHERE embedding IS NULL"), 0,
    'and embedded');
is($pg->sql("SELECT count(*) FROM documents WHERE chunked_hash = content_hash
         AND content_hash <> ''"), 2, 'chunks up to date');
my $gen = $pg->sql("SELECT index_generation FROM collections WHERE name = 'guide'");
cmp_ok($gen, '>=', 1, 'index generation recorded');
ok(-s "$idx/guide.idx", 'index file written');
my $emb = scalar $ai->requests('/v1/embeddings');

(my $edited = $batch) =~ s/Edit the file\./Edit the file and reload./;
my $job2 = upload($edited);
isnt($job2, $job, 'a new job for the changed batch');
is(wait_done($job2), 'done', 'second job done');
like($pg->sql("SELECT string_agg(c.body, '') FROM chunks c JOIN documents d
           ON d.id = c.document_id WHERE d.url LIKE '%/config'"),
    qr/and reload/, 'changed document re-chunked');
is(scalar $ai->requests('/v1/embeddings'), $emb + 1,
    'one embedding request, for the changed chunk only');
cmp_ok($pg->sql("SELECT index_generation FROM collections WHERE name = 'guide'"),
    '>', $gen, 'index rebuilt');

RagTest::stop($worker, 'TERM');
done_testing();
