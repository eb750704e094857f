# Every database endpoint after a Postgres restart: each pool thread keeps
# one connection, and after a restart every one of them is stale. The
# first request on each thread must reconnect and succeed (the statement
# never reached the old server, or it is safe to run again), not answer
# 503. While the database is really down, the answer is 503 without the
# libpq error text (that goes to the error log, at [error], on the
# request's log line); an SQL error is logged the same way.
use strict;
use warnings;
use Test::More;
use lib 't/lib';
use RagTest;
use RawHTTP;
use Ed25519Signer;

my $key = Ed25519Signer->new;
my $pub = $key->public_hex;
my $THREADS = 3;
my $WORKERS = 2;
my $pg = RagTest::pg_start();
RagTest::psql($pg, q{
    INSERT INTO collections (name) VALUES ('docs');
    INSERT INTO threads (thread_id, title, collection, author_id)
        VALUES ('t1', 'Install', 'docs', 'u1');
    INSERT INTO messages (thread_id, message_id, author_id, content,
                          first_message)
        VALUES ('t1', 'm1', 'u1', 'How do I install it?', true);
});
my $ng = RagTest::nginx_start(pg => $pg, workers => $WORKERS,
    main => "thread_pool rag threads=$THREADS max_queue=1024;",
    http => 'rag_database "%%DB%%"; rag_thread_pool rag; rag_db_timeout 3s;',
    server => "
        location = /rag/health { rag_health; }
        location = /rag/metrics { rag_metrics; }
        location = /hooks { rag_event_webhook; rag_event_secret \"hs\"; }
        location = /upload { rag_upload; rag_upload_token \"ut\"; }
        location = /discord {
            rag_discord_interactions;
            rag_discord_public_key $pub;
        }
        location /dash/ { rag_dashboard; rag_dashboard_token \"dt\"; }
    ");
my $port = $ng->{port};

my $event = '{"id":"e1","created_at":"2026-11-24T10:00:00.000Z",'
  . '"trigger":{"name":"new_message_event"},'
  . '"table":{"schema":"public","name":"messages"},'
  . '"event":{"op":"INSERT","data":{"old":null,"new":{"thread_id":"t1",'
  . '"message_id":"m1","content":"How do I install it?",'
  . '"from_bot":false,"first_message":true}}}}';
my $iid = 0;

# name => sub returning (request bytes, expected status, content re)
my %ep = (
    health => sub { (RawHTTP::request(path => '/rag/health', close => 1),
        200, qr/"database":"ok"/) },
    metrics => sub { (RawHTTP::request(path => '/rag/metrics', close => 1),
        200, qr/rag_database_up 1/) },
    webhook => sub { (RawHTTP::request(method => 'POST', path => '/hooks',
        close => 1, body => $event, headers => [
            'Content-Type' => 'application/json', 'X-Rag-Secret' => 'hs' ]),
        200, qr/"enqueued":true/) },
    upload => sub { (RawHTTP::request(method => 'POST', path => '/upload',
        close => 1, headers => [ 'Content-Type' => 'application/json',
            Authorization => 'Bearer ut' ],
        body => '{"collection":"docs","documents":[{"url":'
            . '"https://docs.example/a","body":"A page."}]}'),
        202, qr/"job_id":\d+/) },
    interactions => sub {
        my $body = '{"id":"i' . ++$iid . '","application_id":"42","type":2,'
            . '"token":"tok","guild_id":"g1","channel_id":"c1",'
            . '"member":{"user":{"id":"u1"},"roles":[]},'
            . '"data":{"name":"ask","options":[]}}';
        my $ts = time;
        (RawHTTP::request(method => 'POST', path => '/discord', close => 1,
            body => $body, headers => [ 'Content-Type' => 'application/json',
                'X-Signature-Ed25519' => $key->sign($ts, $body),
                'X-Signature-Timestamp' => $ts ]),
        200, qr/^\{"type":5\}$/) },
    dashboard => sub { (RawHTTP::request(path => '/dash/api/summary',
        close => 1, headers => [ Authorization => 'Bearer dt' ]),
        200, qr/"window_days"\s*:\s*30/) },
);
my @names = sort keys %ep;

sub connections {
    return RagTest::psql($pg, "SELECT count(*) FROM pg_stat_activity "
        . "WHERE application_name = 'ngx_rag_module'");
}

# Every pool thread of every worker opens its connection: bursts of
# concurrent requests until all of them show up in pg_stat_activity.
sub warm_up {
    my $want = $THREADS * $WORKERS;
    for (1 .. 40) {
        last if connections() >= $want;
        RawHTTP::burst($port, [ map { ($ep{health}->())[0] } 1 .. 24 ]);
    }
    return connections();
}

# Sends each endpoint's request $n times in concurrent bursts; returns the
# failures as "name: status".
sub hit_all {
    my ($n) = @_;
    my (@reqs, @want);
    for my $name (@names) {
        for (1 .. $n) {
            my ($req, $status, $re) = $ep{$name}->();
            push @reqs, $req;
            push @want, [$name, $status, $re];
        }
    }
    my @res = RawHTTP::burst($port, \@reqs, 20);
    my @bad;
    for my $i (0 .. $#res) {
        my ($name, $status, $re) = @{ $want[$i] };
        my $r = $res[$i];
        push @bad, "$name: " . ($r ? "$r->{status} $r->{body}" : 'no response')
            unless $r && $r->{status} == $status && $r->{body} =~ $re;
    }
    return @bad;
}

is(join("\n", hit_all(2)), '', 'every endpoint answers before the restart');
is(warm_up(), $THREADS * $WORKERS, 'every pool thread holds a connection');

for my $round (1 .. 2) {
    RagTest::pg_ctl($pg, 'stop');
    RagTest::pg_ctl($pg, 'start');
    is(connections(), 0, "restart $round: every cached connection is stale");
    my @bad = hit_all(4);
    is(join("\n", @bad), '', "restart $round: no request failed on a stale connection");
    is(warm_up(), $THREADS * $WORKERS, "restart $round: threads reconnected");
}

is(RagTest::psql($pg, "SELECT count(*) FROM jobs WHERE kind = 'answer'"), '1',
    'the webhook still made exactly one job');

# --- a connection lost while its statement runs -------------------------------
# The interactions insert is idempotent (ON CONFLICT DO NOTHING): when the
# backend running it is terminated, it runs again on a new connection.
RagTest::psql($pg, q{
    CREATE FUNCTION t16_slow() RETURNS trigger LANGUAGE plpgsql AS
        $$ BEGIN PERFORM pg_sleep(1); RETURN NEW; END $$;
    CREATE TRIGGER t16_slow BEFORE INSERT ON interactions
        FOR EACH ROW EXECUTE FUNCTION t16_slow();
});
{
    my ($req) = $ep{interactions}->();
    pipe(my $rd, my $wr) or die;
    my $pid = fork // die;
    if (!$pid) {
        close $rd;
        my ($r) = RawHTTP::finals(RawHTTP::exchange($port, [$req], expect => 1,
            timeout => 15));
        print $wr $r ? "$r->{status} $r->{body}" : 'no response';
        close $wr;
        exit 0;
    }
    close $wr;
    my $killed = RagTest::wait_for(sub {
        RagTest::psql($pg, "SELECT count(pg_terminate_backend(pid)) FROM "
            . "pg_stat_activity WHERE application_name = 'ngx_rag_module' "
            . "AND state = 'active' AND query LIKE '%INSERT INTO interactions%'")
    }, 10);
    ok($killed, 'the backend running the insert was terminated mid-statement');
    my $got = do { local $/; <$rd> };
    waitpid($pid, 0);
    is($got, '200 {"type":5}', 'the insert ran again on a new connection');
    is(RagTest::psql($pg, "SELECT count(*) FROM interactions WHERE "
        . "interaction_id = 'i$iid'"), '1', 'and stored the interaction once');
    like(RagTest::error_log($ng), qr/\[info\][^\n]*rag: database connection was closed by the server, reconnected[^\n]*request: "POST \/discord/,
        'the reconnect is logged at info');
}
RagTest::psql($pg, 'DROP TRIGGER t16_slow ON interactions; DROP FUNCTION t16_slow()');

# --- the database really down ------------------------------------------------
RagTest::pg_ctl($pg, 'stop');
my %down = (health => 503, webhook => 503, upload => 503, dashboard => 503,
            metrics => 200, interactions => 200);
for my $name (@names) {
    my ($req) = $ep{$name}->();
    my ($r) = RawHTTP::finals(RawHTTP::exchange($port, [$req], expect => 1));
    is($r->{status}, $down{$name}, "database down: $name $down{$name}");
    unlike($r->{body}, qr/socket|connect|server|No such file|\.s\.PGSQL/i,
        "database down: $name tells the client no libpq detail");
}
my ($h) = RawHTTP::finals(RawHTTP::exchange($port, [ ($ep{health}->())[0] ],
    expect => 1));
like($h->{body}, qr/^\{"status":"degraded","version":"[\d.]+","database":"down"\}$/,
    'health: degraded, database down, nothing else');
is($h->{headers}{'retry-after'}, '5', 'health: Retry-After');
my $log = RagTest::error_log($ng);
like($log, qr/\[error\][^\n]*rag: database[^\n]*(?:socket|connect)[^\n]*request: "GET \/rag\/health/,
    'the libpq error is in the error log, on the request\'s line');
like($log, qr/\[error\][^\n]*rag: database[^\n]*request: "POST \/hooks/,
    'the webhook\'s database error is logged too');
RagTest::pg_ctl($pg, 'start');

# --- an SQL error: 500 to the client, the Postgres message in the log -------
RagTest::psql($pg, 'ALTER FUNCTION rag_enqueue(text, jsonb, text, int) '
    . 'RENAME TO rag_enqueue_away');
my ($r) = RawHTTP::finals(RawHTTP::exchange($port, [ ($ep{webhook}->())[0] ],
    expect => 1));
is($r->{status}, 500, 'SQL error: 500');
is($r->{body}, '{"error":"enqueue failed"}', 'SQL error: no Postgres text sent');
like(RagTest::error_log($ng),
    qr/\[error\][^\n]*rag: database[^\n]*function rag_enqueue\([^\n]*does not exist[^\n]*request: "POST \/hooks/,
    'SQL error: the Postgres message is logged on the request\'s line');
RagTest::psql($pg, 'ALTER FUNCTION rag_enqueue_away(text, jsonb, text, int) '
    . 'RENAME TO rag_enqueue');

is(join("\n", hit_all(1)), '', 'every endpoint answers again');
unlike(RagTest::error_log($ng), qr/\[(alert|emerg|crit)\]/, 'no alerts');
done_testing();
