# Request bodies in every shape HTTP allows, at every POST endpoint of the
# module (search, webhook, interactions, upload): empty (Content-Length:
# 0 and a chunked body with no data), chunked in small pieces, and bodies
# that nginx buffers to a temporary file (over client_body_buffer_size),
# both with Content-Length and chunked. Each must get the answer its
# content deserves — 400 for nothing, the real result for a valid body —
# and, under RAG_ASAN=1, no sanitizer report (the harness fails the file
# on any).
use strict;
use warnings;
use Test::More;
use lib 't/lib';
use RagTest;
use RawHTTP;
use Ed25519Signer;
use WorkerTest;

my $key = Ed25519Signer->new;
my $pub = $key->public_hex;
my $pg = RagTest::pg_start();
my $ix = RagTest::tmpdir();
WorkerTest::load_corpus($pg);
WorkerTest::reindex($pg, $ix, 'acme');
WorkerTest::ask($pg, 't1', 'Install', 'How do I install acme?');   # t1-m1

my $ng = RagTest::nginx_start(pg => $pg,
    http => 'rag_database "%%DB%%"; rag_db_timeout 5s;',
    server => "
        client_body_buffer_size 1k;   # larger bodies go to a temp file
        rag_max_body 8k;
        rag_index_dir $ix;
        location = /search { rag_search; }
        location = /hooks {
            rag_event_webhook;
            rag_event_secret \"hook-secret\";
        }
        location = /discord {
            rag_discord_interactions;
            rag_discord_public_key $pub;
        }
        location = /upload {
            rag_upload;
            rag_upload_token \"up-token\";
        }
    ");
my $port = $ng->{port};
my $pad = 'x' x 3000;   # pushes a body past client_body_buffer_size

my $event = sub {
    my ($extra) = @_;
    return '{"id":"85558393-c75d-4d2f-9c15-e80591b83894",'
      . '"created_at":"2026-11-24T10:00:00.000Z",'
      . '"trigger":{"name":"new_message_event"},'
      . '"table":{"schema":"public","name":"messages"},'
      . '"event":{"op":"INSERT","data":{"old":null,"new":{"thread_id":"t1",'
      . '"message_id":"t1-m1","content":"How do I install acme?",'
      . '"from_bot":false,"first_message":true}}}' . $extra . '}';
};

# endpoint => [path, headers(body) -> list, valid body, status, content re]
my @endpoints = (
    [ 'search', '/search', sub { () },
      sub { '{"query":"install on debian","collection":"acme","k":3'
            . $_[0] . '}' },
      200, qr{"url":"https://docs\.acme\.test/install#install-debian"} ],
    [ 'webhook', '/hooks', sub { ('X-Rag-Secret' => 'hook-secret') },
      $event, 200, qr/"enqueued":true,"job_id":\d+/ ],
    [ 'interactions', '/discord',
      sub { my $ts = time;
            ('X-Signature-Ed25519' => $key->sign($ts, $_[0]),
             'X-Signature-Timestamp' => $ts) },
      sub { '{"id":"1","application_id":"42","type":1,"token":"t",'
            . '"version":1' . $_[0] . '}' },
      200, qr/^\{"type":1\}$/ ],
    [ 'upload', '/upload', sub { (Authorization => 'Bearer up-token') },
      sub { '{"collection":"acme","documents":[{"url":'
            . '"https://docs.acme.test/faq","title":"FAQ","body":"Questions'
            . ' and answers."}]' . $_[0] . '}' },
      202, qr/^\{"job_id":\d+,"collection":"acme","documents":1,/ ],
);

sub send_one {
    my ($path, $hdrs, $body, %o) = @_;
    my $req = RawHTTP::request(method => 'POST', path => $path, body => $body,
        headers => [ 'Content-Type' => 'application/json', @$hdrs ],
        close => 1, %o);
    my @r = RawHTTP::finals(RawHTTP::exchange($port, [$req], expect => 1));
    return $r[0] || { status => 'none (connection closed)', body => '',
        headers => {} };
}

for my $ep (@endpoints) {
    my ($name, $path, $hdr, $valid, $ok_status, $ok_re) = @$ep;
    my $small = $valid->('');
    my $large = $valid->(qq(,"pad":"$pad"));

    for my $case (
        [ 'Content-Length: 0', '', {} ],
        [ 'chunked, no data', '', { chunked => [1] } ],
    ) {
        my ($what, $body, $o) = @$case;
        my $r = send_one($path, [ $hdr->($body) ], $body, %$o);
        is($r->{status}, 400, "$name: $what: 400");
        like($r->{body}, qr/^\{"error":"[^"]+"\}$/, "$name: $what: JSON error");
    }

    for my $case (
        [ 'in memory', $small, {} ],
        [ 'chunked, 7-byte chunks', $small, { chunked => [7] } ],
        [ 'chunked, 1-byte chunks', $small, { chunked => [1] } ],
        [ 'temp file', $large, {} ],
        [ 'chunked into a temp file', $large, { chunked => [500, 13] } ],
    ) {
        my ($what, $body, $o) = @$case;
        my $r = send_one($path, [ $hdr->($body) ], $body, %$o);
        is($r->{status}, $ok_status, "$name: $what: $ok_status");
        like($r->{body}, $ok_re, "$name: $what: the real answer");
    }
}

# A chunked body has no Content-Length to refuse up front: past
# rag_max_body it is 413 once read, at every endpoint.
for my $ep (@endpoints) {
    my ($name, $path, $hdr, $valid) = @$ep;
    my $body = $valid->(',"pad":"' . ('x' x 10_000) . '"');
    my $r = send_one($path, [ $hdr->($body) ], $body, chunked => [4000]);
    is($r->{status}, 413, "$name: chunked body over rag_max_body: 413");
    is($r->{body}, '{"error":"body too large"}', "$name: ... JSON error");
}

# The interactions endpoint verifies the signature over the body it read:
# a chunked body is the same bytes.
{
    my $body = $endpoints[2][3]->('');
    my $ts = time;
    my $r = send_one('/discord', [ 'X-Signature-Ed25519' =>
        $key->sign($ts, "$body "), 'X-Signature-Timestamp' => $ts ], $body,
        chunked => [5]);
    is($r->{status}, 401, 'interactions: chunked body, signature of other bytes: 401');
}

is(RagTest::psql($pg, "SELECT count(*) FROM jobs WHERE kind = 'answer'"), '1',
    'every webhook delivery made the same one job');
is(RagTest::psql($pg, "SELECT title FROM documents WHERE url = "
    . "'https://docs.acme.test/faq'"), 'FAQ', 'uploaded document stored');

my $log = RagTest::error_log($ng);
unlike($log, qr/\[(alert|emerg|crit)\]/, 'no alerts in the error log');
unlike($log, qr/worker process \d+ exited on signal/, 'no worker died');
done_testing();
