# Discord HTTP interactions: Ed25519 verification with real keys, PING,
# in-process replies, deferral into the interactions queue, bad input.
use strict;
use warnings;
use Test::More;
use HTTP::Tiny;
use lib 't/lib';
use RagTest;
use Ed25519Signer;
use WorkerTest;
use JSON::PP;

my $key = Ed25519Signer->new;
my $other = Ed25519Signer->new;
my $pg = RagTest::pg_start();
my $pub = $key->public_hex;
my $ix = RagTest::tmpdir();
WorkerTest::load_corpus($pg);
WorkerTest::reindex($pg, $ix, 'acme');
my $ng = RagTest::nginx_start(pg => $pg,
    http => 'rag_database "%%DB%%"; rag_db_timeout 2s;',
    server => "
        location = /discord/interactions {
            rag_discord_interactions;
            rag_discord_public_key $pub;
            rag_max_body 32k;
            rag_index_dir $ix;
        }
        location = /ping { return 200 'pong'; }
    ");
my $http = HTTP::Tiny->new(timeout => 10);
my $url = "$ng->{url}/discord/interactions";

sub send_signed {
    my ($body, %o) = @_;
    my $ts = $o{ts} // time;
    my $signer = $o{signer} || $key;
    my $sig = $o{sig} // $signer->sign($ts, $o{signed_body} // $body);
    return $http->post($url, { content => $body, headers => {
        'Content-Type' => 'application/json',
        'X-Signature-Ed25519' => $sig, 'X-Signature-Timestamp' => $ts } });
}

my $ping = '{"id":"1","application_id":"42","type":1,"token":"tok","version":1}';
my $r = send_signed($ping);
is($r->{status}, 200, 'signed PING: 200');
is($r->{content}, '{"type":1}', 'PONG');

is(send_signed($ping, signer => $other)->{status}, 401, 'other key: 401');
is(send_signed($ping, signed_body => '{"type":1}')->{status}, 401,
    'body changed after signing: 401');
is(send_signed($ping, sig => 'zz' x 64)->{status}, 401, 'non-hex signature: 401');
is(send_signed($ping, sig => 'ab' x 10)->{status}, 401, 'short signature: 401');
is(send_signed($ping, ts => time - 3600)->{status}, 401, 'stale timestamp: 401');
is($http->post($url, { content => $ping,
    headers => { 'Content-Type' => 'application/json' } })->{status}, 401,
    'unsigned: 401');

# In-process answers
$r = send_signed('{"id":"2","application_id":"42","type":2,"token":"t2",'
    . '"data":{"id":"9","name":"info","type":1}}');
is($r->{status}, 200, '/info: 200');
like($r->{content}, qr/^\{"type":4,"data":\{"flags":64,"embeds":\[\{"title":"Bot Info"/,
    '/info answered in-process, ephemeral');
$r = send_signed('{"id":"3","application_id":"42","type":2,"token":"t3",'
    . '"data":{"id":"9","name":"commands","type":1}}');
like($r->{content}, qr/"title":"Commands".*\/info/s, '/commands lists /info too');

# Deferred commands are queued for the bot
my $solve = '{"id":"100","application_id":"42","type":2,"token":"tok-100",'
  . '"guild_id":"g1","channel_id":"t1","member":{"user":{"id":"u7"},"roles":["r1","r2"]},'
  . '"data":{"id":"9","name":"solve","type":1}}';
$r = send_signed($solve);
is($r->{status}, 200, '/solve: 200');
is($r->{content}, '{"type":5}', 'deferred (type 5)');
is(RagTest::psql($pg, "SELECT command || ' ' || user_id || ' ' || token || ' '"
    . " || array_to_string(member_roles, ',') || ' ' || state FROM interactions"),
    'solve u7 tok-100 r1,r2 queued', 'queued with user, token and roles');
send_signed($solve);
is(RagTest::psql($pg, 'SELECT count(*) FROM interactions'), '1',
    'redelivered interaction queued once');
$r = send_signed('{"id":"101","application_id":"42","type":2,"token":"tok-101",'
  . '"channel_id":"c","user":{"id":"u8"},'
  . '"data":{"id":"9","name":"search","type":1,"options":[{"name":"query","type":3,"value":"wal"}]}}');
is($r->{content}, '{"type":5,"data":{"flags":64}}', '/search deferred ephemeral');
is(RagTest::psql($pg, "SELECT options->'options'->0->>'value' FROM interactions"
    . " WHERE interaction_id = '101'"), 'wal', 'options kept');
$r = send_signed('{"id":"102","application_id":"42","type":3,"token":"tok-102",'
  . '"data":{"custom_id":"vote:up","component_type":2}}');
is($r->{content}, '{"type":6}', 'component deferred as update (type 6)');

# /search with a collection is answered in-process from the index
sub search_cmd {
    my ($id, @opts) = @_;
    my $o = join ',', map { qq({"name":"$_->[0]","type":$_->[1],"value":$_->[2]}) } @opts;
    return qq({"id":"$id","application_id":"42","type":2,"token":"t$id","channel_id":"c",)
        . qq("user":{"id":"u9"},"data":{"id":"9","name":"search","type":1,"options":[$o]}});
}
$r = send_signed(search_cmd(200, ['query', 3, '"snapshot of the widget database"'],
    ['collection', 3, '"acme"'], ['limit', 4, 3]));
is($r->{status}, 200, 'in-process /search: 200');
my $reply = eval { decode_json($r->{content}) } || {};
is($reply->{type}, 4, 'answered at once (type 4), not deferred');
is($reply->{data}{flags}, 64, 'ephemeral');
my $emb = $reply->{data}{embeds}[0] || {};
is($emb->{description}, 'snapshot of the widget database', 'query echoed');
ok(@{ $emb->{fields} || [] } >= 1 && @{ $emb->{fields} } <= 3, 'limit honoured');
like($emb->{fields}[0]{name}, qr/^1\. Backups > Snapshots/, 'best section first');
like($emb->{fields}[0]{value}, qr{^<https://docs\.acme\.test/backup#snapshots> \x{b7} 100%}m,
    'link with anchor and relative score');
ok(length($emb->{fields}[0]{value}) <= 1024, 'field value within Discord limit');
is(RagTest::psql($pg, "SELECT count(*) FROM interactions WHERE interaction_id = '200'"), '0',
    'nothing queued for an in-process answer');
$r = send_signed(search_cmd(201, ['query', 3, '"snapshot"'], ['collection', 3, '"nope"']));
like($r->{content}, qr/"type":4.*No documentation collection named \\"nope\\"/,
    'unknown collection answered at once');
$r = send_signed(search_cmd(202, ['query', 3, '"snapshot"']));
is($r->{content}, '{"type":5,"data":{"flags":64}}',
    'no collection given: deferred to the bot (it knows the forum)');

# Bad input: clean 4xx, nginx keeps serving
is(send_signed('{"type":')->{status}, 400, 'malformed JSON (signed): 400');
is(send_signed('{"type":99}')->{status}, 400, 'unknown type: 400');
is(send_signed('{"type":2,"data":{}}')->{status}, 400, 'command without name: 400');
is($http->post($url, { content => $ping, headers => {
    'Content-Type' => 'text/plain', 'X-Signature-Ed25519' => 'a',
    'X-Signature-Timestamp' => '1' } })->{status}, 415, 'wrong content type: 415');
is(send_signed('{"x":"' . ('a' x 40000) . '"}')->{status}, 413, 'huge body: 413');
is($http->get($url)->{status}, 405, 'GET: 405');
is($http->get("$ng->{url}/ping")->{status}, 200, 'nginx still serving');

# Database down: Discord still gets a 200 with words, not a failure
RagTest::pg_ctl($pg, 'stop');
$r = send_signed('{"id":"103","application_id":"42","type":2,"token":"t",'
    . '"data":{"id":"9","name":"close","type":1}}');
is($r->{status}, 200, 'database down: still 200 for Discord');
like($r->{content}, qr/"type":4.*cannot reach its database/, 'honest message');
is(send_signed($ping)->{content}, '{"type":1}', 'PING needs no database');
RagTest::pg_ctl($pg, 'start');
unlike(RagTest::error_log($ng), qr/\[(alert|emerg|crit)\]/, 'no alerts');
done_testing();
