# Embeddings during ingestion, against the OpenAI stand-in: batching by
# input count and token budget, retries on 429/5xx, L2-normalised vectors,
# a failed endpoint leaving chunks pending for the next run, the
# dimensions parameter, and malformed answers rejected.
use strict;
use warnings;
use Test::More;
use IO::Socket::INET;
use POSIX ();
use lib 't/lib';
use RagTest;
use FakeOpenAI;

my $pg = RagTest::pg_start();
my $ai = FakeOpenAI->start(api_key => 'sk-e');
my $tmp = RagTest::tmpdir();
my %env = (RAG_DATABASE_URL => $pg->{conninfo},
    RAG_INDEX_DIR => RagTest::tmpdir(), RAG_EMBED_BASE_URL => $ai->{url},
    RAG_EMBED_API_KEY => 'sk-e', RAG_EMBED_MODEL => 'text-embedding-3-small',
    RAG_EMBED_MAX_RETRIES => 3);

sub run_ingest {
    my ($extra, @args) = @_;
    local @ENV{keys %env} = values %env;
    local @ENV{keys %$extra} = values %$extra;
    my $cmd = join ' ', map { "'$_'" } RagTest::bin('rag-ingest'), @args;
    my $out = `$cmd 2>&1`;
    return ($? >> 8, $out);
}
sub jsonl {
    my ($file, $n, $tag) = @_;
    RagTest::write_file($file, join '', map {
        qq({"url":"https://e.org/$tag/$_","title":"P$_","body":"# Page $_\\n\\n)
        . ("Words about topic $_ and $tag. " x 20) . qq("}\n) } 1 .. $n);
}
sub coll_chunks {
    my ($c, $where) = @_;
    return $pg->sql("SELECT count(*) FROM chunks k JOIN documents d ON d.id = k.document_id
                 JOIN collections c ON c.id = d.collection_id
                 WHERE c.name = '$c' " . ($where // ''));
}

# --- batching by input count ------------------------------------------------
jsonl("$tmp/a.jsonl", 10, 'a');
$ai->clear_log;
my ($rc, $out) = run_ingest({ RAG_EMBED_MAX_INPUTS => 4 },
    '--collection', 'a', '--json', "$tmp/a.jsonl");
is($rc, 0, 'ingest with embeddings') or diag $out;
my $n = coll_chunks('a');
my @req = $ai->requests('/v1/embeddings');
is(scalar @req, int(($n + 3) / 4), "$n chunks in batches of at most 4");
ok(!(grep { @{ $_->{body}{input} } > 4 } @req), 'no request over 4 inputs');
is($req[0]{auth}, 'Bearer sk-e', 'bearer key sent');
like($req[0]{body}{input}[0], qr/^P\d+ > Page \d+\n\n# Page/,
    'input is breadcrumb + chunk text');
is(coll_chunks('a', 'AND embedding IS NULL'), 0, 'all embedded');
my $norm = $pg->sql("SELECT min(s), max(s) FROM (SELECT sqrt(sum(x * x)) s FROM chunks,
                 unnest(embedding) x GROUP BY id) t");
my ($lo, $hi) = split /\|/, $norm;
ok(abs($lo - 1) < 1e-4 && abs($hi - 1) < 1e-4, "vectors L2-normalised ($norm)");
is($pg->sql("SELECT DISTINCT embed_model FROM chunks"), 'text-embedding-3-small',
    'model recorded');

# --- batching by token budget -------------------------------------------------
jsonl("$tmp/b.jsonl", 6, 'b');
$ai->clear_log;
($rc, $out) = run_ingest({ RAG_EMBED_MAX_TOKENS => 300 },
    '--collection', 'b', '--json', "$tmp/b.jsonl");
is($rc, 0, 'ingest with a small token budget') or diag $out;
@req = $ai->requests('/v1/embeddings');
my $nb = coll_chunks('b');
cmp_ok(scalar @req, '>', 1, scalar(@req) . " requests for $nb chunks");
# each request but single-input ones stays under ~300 estimated tokens:
# the stand-in counts length/4, a looser but related measure
ok(!(grep { my $l = 0; $l += length for @{ $_->{body}{input} };
            @{ $_->{body}{input} } > 1 && $l / 4 > 600 } @req),
    'multi-input requests respect the budget');

# --- retries ------------------------------------------------------------------------
jsonl("$tmp/c.jsonl", 2, 'c');
$ai->clear_log;
$ai->set(fail_embed => [{ status => 429, retry_after_ms => 50 }, 500]);
($rc, $out) = run_ingest({}, '--collection', 'c', '--json', "$tmp/c.jsonl");
is($rc, 0, 'transient 429/500 retried') or diag $out;
@req = $ai->requests('/v1/embeddings');
is(scalar(grep { $_->{status} == 200 } @req), 1, 'then one success');
cmp_ok(scalar @req, '>=', 3, 'after the failures');
is(coll_chunks('c', 'AND embedding IS NULL'), 0, 'embedded');

# --- endpoint down: rows kept, embedded on the next run ------------------------------
jsonl("$tmp/d.jsonl", 3, 'd');
($rc, $out) = run_ingest({ RAG_EMBED_BASE_URL => 'http://127.0.0.1:9/v1',
                           RAG_EMBED_MAX_RETRIES => 0 },
    '--collection', 'd', '--json', "$tmp/d.jsonl");
isnt($rc, 0, 'unreachable endpoint fails the run');
is($pg->sql("SELECT count(*) FROM documents d JOIN collections c ON c.id = d.collection_id
         WHERE c.name = 'd'"), 3, 'documents stored anyway');
cmp_ok(coll_chunks('d', 'AND embedding IS NULL'), '>', 0, 'chunks pending');
($rc, $out) = run_ingest({}, '--collection', 'd', '--json', "$tmp/d.jsonl");
is($rc, 0, 'next run') or diag $out;
like($out, qr/unchanged=3 .*embedded=[1-9]/, 'pages unchanged, pending chunks embedded');
is(coll_chunks('d', 'AND embedding IS NULL'), 0, 'nothing pending');

# --- dimensions ----------------------------------------------------------------------
jsonl("$tmp/f.jsonl", 1, 'f');
($rc, $out) = run_ingest({ RAG_EMBED_DIMENSIONS => 32 },
    '--collection', 'f', '--json', "$tmp/f.jsonl");
is($rc, 0, 'dimensions') or diag $out;
is($pg->sql("SELECT DISTINCT array_length(embedding, 1) FROM chunks k JOIN documents d
         ON d.id = k.document_id WHERE d.url LIKE 'https://e.org/f/%'"), 32,
    'requested dimension stored');

# --- malformed answers are rejected, nothing stored ------------------------------
# a throwaway server answering every request with the next canned body
my @kids;
sub canned {
    my @bodies = @_;
    my $srv = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => 0,
        Listen => 5, ReuseAddr => 1) or die "listen: $!";
    my $port = $srv->sockport;
    my $pid = fork // die;
    if (!$pid) {
        my $i = 0;
        while (my $c = $srv->accept) {
            local $/ = "\r\n\r\n";
            my $h = <$c> // '';
            my ($len) = $h =~ /Content-Length: (\d+)/i;
            read($c, my $req, $len) if $len;
            my $b = $bodies[$i++ % @bodies];
            print $c "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                . "Content-Length: " . length($b) . "\r\nConnection: close\r\n\r\n$b";
            close $c;
        }
        POSIX::_exit(0);
    }
    close $srv;
    push @kids, $pid;
    return "http://127.0.0.1:$port/v1";
}
my @bad = (
    ['{"data":[{"index":0,"embedding":[1,0]},{"index":1,"embedding":[0,1]}]}',
        qr/expected 1 items/, 'wrong item count'],
    ['{"data":[{"index":0}]}', qr/lacks index or embedding/, 'no embedding'],
    ['{"data":[{"index":7,"embedding":[1,0]}]}', qr/bad or repeated index/,
        'index out of range'],
    ['{"data":[{"index":0,"embedding":[0,0]}]}', qr/zero or invalid vector/,
        'zero vector'],
    ['{"data":[{"index":0,"embedding":[1,"x"]}]}', qr/non-numeric/,
        'non-numeric value'],
    ['<html>oops</html>', qr/bad JSON/, 'not JSON'],
);
my $k = 0;
for my $case (@bad) {
    my ($body, $re, $name) = @$case;
    $k++;
    jsonl("$tmp/bad$k.jsonl", 1, "bad$k");
    my ($brc, $bout) = run_ingest({ RAG_EMBED_BASE_URL => canned($body) },
        '--collection', "bad$k", '--json', "$tmp/bad$k.jsonl");
    isnt($brc, 0, "$name: run fails");
    like($bout, $re, "$name: explained");
    is(coll_chunks("bad$k", 'AND embedding IS NOT NULL'), 0,
        "$name: nothing stored");
}
{
    # dimensions must agree across batches
    jsonl("$tmp/dims.jsonl", 2, 'dims');
    my ($brc, $bout) = run_ingest({ RAG_EMBED_MAX_INPUTS => 1,
            RAG_EMBED_BASE_URL => canned(
                '{"data":[{"index":0,"embedding":[1,0]}]}',
                '{"data":[{"index":0,"embedding":[1,0,0]}]}') },
        '--collection', 'dims', '--json', "$tmp/dims.jsonl");
    isnt($brc, 0, 'dimension change between batches rejected');
    like($bout, qr/inconsistent dimension/, 'explained');
}
for my $pid (@kids) { kill 'KILL', $pid; waitpid $pid, 0 }

done_testing();
