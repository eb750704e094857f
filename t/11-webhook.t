# Hasura-compatible event webhook: auth, validation, idempotent enqueue,
# 503 + Retry-After without a database, and nginx keeps serving.
use strict;
use warnings;
use Test::More;
use HTTP::Tiny;
use lib 't/lib';
use RagTest;

my $pg = RagTest::pg_start();
my $ng = RagTest::nginx_start(pg => $pg,
    http => 'rag_database "%%DB%%"; rag_db_timeout 2s;',
    server => '
        location = /hooks/message {
            rag_event_webhook;
            rag_event_secret "s3cret-value";
            rag_event_secret_header X-Api-Key;
            rag_max_body 64k;
        }
        location = /open { rag_event_webhook; }
        location = /ping { return 200 "pong"; }
    ');
my $http = HTTP::Tiny->new(timeout => 10);
my $url = "$ng->{url}/hooks/message";
my %hdr = ('Content-Type' => 'application/json', 'X-Api-Key' => 's3cret-value');

sub event {
    my (%o) = @_;
    my $id = $o{id} || '85558393-c75d-4d2f-9c15-e80591b83894';
    my $table = $o{table} || 'messages';
    my $op = $o{op} || 'INSERT';
    my $bot = $o{from_bot} ? 'true' : 'false';
    return qq({"id":"$id","created_at":"2026-11-24T10:00:00.000Z",
      "delivery_info":{"max_retries":3,"current_retry":0},
      "trigger":{"name":"new_message_event"},
      "table":{"schema":"public","name":"$table"},
      "event":{"op":"$op","session_variables":{"x-hasura-role":"admin"},
        "trace_context":{"trace_id":"a","span_id":"b"},
        "data":{"old":null,"new":{"thread_id":"t1","message_id":"$o{msg}",
          "content":"How do I configure replication?","from_bot":$bot,
          "first_message":true,"mentions_bot":false,"processed":true}}}});
}
sub post { my ($body, %h) = @_; return $http->post($url, { headers => \%h, content => $body }) }

RagTest::psql($pg, q{
    INSERT INTO collections (name) VALUES ('docs');
    INSERT INTO threads (thread_id, title, collection, author_id)
        VALUES ('t1', 'Replication', 'docs', 'u1');
    INSERT INTO messages (thread_id, message_id, author_id, content, first_message)
        VALUES ('t1', 'm1', 'u1', 'How do I configure replication?', true);
    DELETE FROM jobs;   -- the SQL trigger made one; the webhook must too
});

# --- auth ---
my %nokey = %hdr; delete $nokey{'X-Api-Key'};
is(post(event(msg => 'm1'), %nokey)->{status}, 401, 'missing secret: 401');
is(post(event(msg => 'm1'), %hdr, 'X-Api-Key' => 's3cret-valuX')->{status}, 401,
    'wrong secret: 401');
is(post(event(msg => 'm1'), %hdr, 'X-Api-Key' => 's3cret')->{status}, 401,
    'prefix of secret: 401');
is($http->post("$ng->{url}/open", { headers => \%hdr,
    content => event(msg => 'm1') })->{status}, 403,
    'webhook without configured secret refuses');
is(RagTest::psql($pg, 'SELECT count(*) FROM jobs'), '0', 'nothing enqueued yet');

# --- idempotent enqueue ---
my $r = post(event(msg => 'm1'), %hdr);
is($r->{status}, 200, 'valid event: 200');
like($r->{content}, qr/"enqueued":true,"job_id":(\d+)/, 'job id returned');
my ($job) = $r->{content} =~ /"job_id":(\d+)/;
for my $retry (1 .. 3) {
    my $again = post(event(msg => 'm1', id => "redelivery-$retry"), %hdr);
    is($again->{status}, 200, "redelivery $retry: 200");
    like($again->{content}, qr/"job_id":$job\b/, "redelivery $retry: same job");
}
# concurrent redeliveries
my @pids;
for (1 .. 10) {
    my $pid = fork // die;
    if (!$pid) { my $x = post(event(msg => 'm1'), %hdr); exit($x->{status} == 200 ? 0 : 1) }
    push @pids, $pid;
}
my $bad = 0;
for (@pids) { waitpid($_, 0); $bad++ if $? }
is($bad, 0, '10 concurrent redeliveries all 200');
is(RagTest::psql($pg, "SELECT count(*) FROM jobs WHERE kind='answer'"), '1',
    'exactly one job');
is(RagTest::psql($pg, "SELECT payload->>'message_id' FROM jobs"), 'm1', 'payload');

# --- events that need no answer are acknowledged, not enqueued ---
$r = post(event(msg => 'm1', from_bot => 1), %hdr);
is($r->{status}, 200, 'bot message acknowledged');
like($r->{content}, qr/"enqueued":false/, 'bot message not enqueued');
$r = post(event(msg => 'm1', op => 'UPDATE'), %hdr);
like($r->{content}, qr/"enqueued":false/, 'UPDATE not enqueued');
$r = post(event(msg => 'nope'), %hdr);
is($r->{status}, 200, 'unknown message acknowledged');
like($r->{content}, qr/"enqueued":false/, 'unknown message not enqueued');

# --- bad input ---
is(post('{"id": "x", ', %hdr)->{status}, 400, 'malformed JSON: 400');
like(post('{"id": "x", ', %hdr)->{content}, qr/"error":/, 'JSON error body');
is(post('[1,2,3]', %hdr)->{status}, 400, 'array: 400');
is(post('{"id":"x","event":{"op":"INSERT"}}', %hdr)->{status}, 400,
    'incomplete envelope: 400');
is(post(event(msg => 'm1'), %hdr, 'Content-Type' => 'text/plain')->{status}, 415,
    'wrong content type: 415');
is($http->get($url)->{status}, 405, 'GET: 405');
is(post('{"id":"' . ('x' x 100_000) . '"}', %hdr)->{status}, 413,
    'oversized body: 413');
is($http->get("$ng->{url}/ping")->{status}, 200, 'nginx still serving');

# --- database down ---
RagTest::pg_ctl($pg, 'stop');
$r = post(event(msg => 'm1'), %hdr);
is($r->{status}, 503, 'database down: 503');
is($r->{headers}{'retry-after'}, '5', 'Retry-After for Hasura');
is($http->get("$ng->{url}/ping")->{status}, 200, 'nginx still serving');
RagTest::pg_ctl($pg, 'start');
ok(RagTest::wait_for(sub { post(event(msg => 'm1'), %hdr)->{status} == 200 }, 15),
    'recovers after database restart');
is(RagTest::psql($pg, "SELECT count(*) FROM jobs"), '1', 'still exactly one job');
unlike(RagTest::error_log($ng), qr/\[(alert|emerg|crit)\]/, 'no alerts');
done_testing();
