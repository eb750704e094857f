# Hybrid retrieval in the worker: with an embeddings endpoint configured
# and vectors in the index, the question is embedded (one /v1/embeddings
# call) and fused with BM25; an embeddings outage falls back to BM25.
use strict;
use warnings;
use Test::More;
use JSON::PP;
use lib 't/lib';
use RagTest;
use FakeOpenAI;
use WorkerTest;

my $pg = RagTest::pg_start();
my $ixdir = RagTest::tmpdir();
WorkerTest::load_corpus($pg);
# vectors as the stand-in would have produced them at ingestion
for my $row (split /\n/, RagTest::psql($pg, "SELECT id || E'\\t' || body FROM chunks")) {
    my ($id, $body) = split /\t/, $row, 2;
    my $v = join(',', @{ FakeOpenAI::embed_text($body, 64) });
    RagTest::psql($pg, "UPDATE chunks SET embedding = '{$v}', embed_model = 'fake-embed' WHERE id = $id");
}
like(WorkerTest::reindex($pg, $ixdir, 'acme'), qr/5 chunks/, 'indexed with vectors');
WorkerTest::guild($pg, helper_role => '777');

my $ai = FakeOpenAI->start(api_key => 'sk-e');
my ($pid, $log) = WorkerTest::worker($pg, index_dir => $ixdir,
    embed_base_url => $ai->{url}, embed_api_key => 'sk-e',
    embed_model => 'fake-embed', embed_dimensions => 64, embed_max_retries => 0);

my $m1 = WorkerTest::ask($pg, 'h1', 'Snapshots', 'How do I create a snapshot of the widget database?');
ok(RagTest::wait_for(sub { WorkerTest::reply_row($pg, 'h1', $m1) }, 15), 'answered')
    or diag(RagTest::slurp($log));
my @e = $ai->requests('/v1/embeddings');
is(scalar @e, 1, 'one embeddings call for the query');
like($e[0]{body}{input}[0] // $e[0]{body}{input}, qr/create a snapshot/, 'the question was embedded');
is($e[0]{body}{model}, 'fake-embed', 'embedding model');
my $src = JSON::PP->new->decode(WorkerTest::reply_row($pg, 'h1', $m1)->{sources});
is($src->[0]{url}, 'https://docs.acme.test/backup#snapshots', 'best passage');
ok($src->[0]{cosine} > 0.3, "vector leg scored it (cosine $src->[0]{cosine})");
ok($src->[0]{bm25} > 0, 'and BM25 too');

# embeddings endpoint down: BM25 only, still answered
$ai->set(fail_embed => [(503) x 20]);
my $m2 = WorkerTest::ask($pg, 'h2', 'Port', 'Which port does acmed listen on by default?');
ok(RagTest::wait_for(sub { WorkerTest::reply_row($pg, 'h2', $m2) }, 15), 'answered without embeddings');
$src = JSON::PP->new->decode(WorkerTest::reply_row($pg, 'h2', $m2)->{sources});
is($src->[0]{url}, 'https://docs.acme.test/config#listen-port', 'BM25 still finds it');
is($src->[0]{cosine} + 0, 0, 'no vector score');
like(RagTest::slurp($log), qr/query embedding failed, BM25 only/, 'fallback logged');
$ai->set(fail_embed => []);

# off-topic: neither leg is confident
my $m3 = WorkerTest::ask($pg, 'h3', 'Weather', 'Will it rain in Paris tomorrow?');
ok(RagTest::wait_for(sub { WorkerTest::reply_row($pg, 'h3', $m3) }, 15), 'replied');
is(WorkerTest::reply_row($pg, 'h3', $m3)->{abstained}, 't', 'abstained');
RagTest::stop($pid, 'TERM', 10);
done_testing();
