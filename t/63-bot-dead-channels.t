# Deliveries that cannot heal stop (issue 12, item 5): a deleted thread
# (10003 Unknown Channel), a channel the bot lost access to (50001
# Missing Access), a thread it may not post in (50013 Missing
# Permissions) and a deleted controller (10008 Unknown Message) fail
# after one request, with the reason; a thread whose channel is gone is
# marked unreachable, so its later replies fail without a request and no
# catch-up asks for it again; a route answering 5xx is retried a bounded
# number of times with backoff, then fails the same way. The reasons show
# in /status, in the dashboard's API and in /rag/metrics.
use strict;
use warnings;
use utf8;
use Test::More;
use HTTP::Tiny;
use JSON::PP;
use Time::HiRes qw(time sleep);
use lib 't/lib';
use RagTest;
use FakeDiscord;
binmode(Test::More->builder->$_, ':encoding(UTF-8)')
    for qw(output failure_output todo_output);

my $G = '100000000000000001';
my $F = '200000000000000001';
my %T = (gone => '300000000000000001', noaccess => '300000000000000002',
    noperm => '300000000000000003', flaky => '300000000000000004',
    deleted => '300000000000000005', ctl => '300000000000000006');
my $U = '400000000000000001';
my $TOKEN = 'dash-token';
my $pg = RagTest::pg_start();
RagTest::psql($pg, qq{
    INSERT INTO collections (name) VALUES ('docs');
    INSERT INTO guild_config (guild_id) VALUES ('$G');
    INSERT INTO guild_forums VALUES ('$G', '$F', 'docs');
});
my $ng = RagTest::nginx_start(pg => $pg, http => 'rag_database "%%DB%%";',
    server => "location /dash/ { rag_dashboard; rag_dashboard_token \"$TOKEN\"; }
               location = /rag/metrics { rag_metrics; }");
my $http = HTTP::Tiny->new(timeout => 10);
my $dir = RagTest::tmpdir();
my $fd = FakeDiscord->start(dir => $dir, guild_id => $G);
my $log = "$dir/bot.log";
my $env = $fd->bot_env($pg, RAG_OUTBOX_MAX_ATTEMPTS => 3, RAG_OUTBOX_BACKOFF_MS => 200);
my $pid = RagTest::spawn([RagTest::bin('rag-bot')], env => $env, log => $log);
ok(RagTest::wait_for(sub { $fd->state->{connected} && RagTest::slurp($log) =~ /catch-up done/ }, 20),
    'bot connected and caught up');

for my $k (qw(gone noaccess noperm flaky deleted)) {
    RagTest::psql($pg, "INSERT INTO threads (thread_id, guild_id, forum_channel_id, title,
        collection, author_id) VALUES ('$T{$k}', '$G', '$F', '$k', 'docs', '$U');
        INSERT INTO messages (thread_id, message_id, author_id, content, first_message,
        processed) VALUES ('$T{$k}', '$T{$k}', '$U', 'question $k', true, true)");
    $fd->channel(id => $T{$k}, guild_id => $G, parent_id => $F, name => $k, owner_id => $U);
}
$fd->fault(delete_channel => $T{gone});
$fd->channel(id => $T{noaccess}, no_access => JSON::PP::true);
$fd->channel(id => $T{noperm}, no_send => JSON::PP::true);
$fd->fault(rest => { method => 'POST', path => "channels/$T{flaky}/messages\$",
    status => 502, count => 1000 });

sub reply {
    my ($k, $id) = @_;
    RagTest::psql($pg, "INSERT INTO messages (thread_id, message_id, content, from_bot)
        VALUES ('$T{$k}', '$id', 'answer $id', true)");
}
# assertions read through sqlv(): on a schema without the columns they fail
# instead of ending the test
sub sqlv { my $r = eval { RagTest::psql($pg, $_[0]) }; defined $r ? $r : 'ERROR' }
sub settled { RagTest::psql($pg, "SELECT processed FROM messages WHERE message_id = '$_[0]'") eq 't' }
sub failure { sqlv("SELECT coalesce(delivery_failure, '') || '|' ||
    coalesce(last_error, '') || '|' || coalesce(discord_message_id, 'none')
    FROM messages WHERE message_id = '$_[0]'") }
sub posts { scalar $fd->rest(method => 'POST', path => qr{/channels/$_[0]/messages$}) }

# --- one request, then a reason ----------------------------------------------
reply($_, "$_-1") for qw(gone noaccess noperm);
ok(RagTest::wait_for(sub { settled('gone-1') && settled('noaccess-1') && settled('noperm-1') }, 15),
    'the three replies settled') or diag(RagTest::slurp($log));
like(failure('gone-1'), qr/^unknown_channel\|.*Unknown Channel \(10003\).*\|none$/,
    'deleted thread: unknown_channel');
like(failure('noaccess-1'), qr/^missing_access\|.*Missing Access \(50001\).*\|none$/,
    'no access: missing_access');
like(failure('noperm-1'), qr/^missing_permissions\|.*Missing Permissions \(50013\).*\|none$/,
    'no send permission: missing_permissions');
is(posts($T{$_}), 1, "$_: one POST") for qw(gone noaccess noperm);
is(sqlv("SELECT string_agg(thread_id || ':' || coalesce(unreachable, '-'), ','
    ORDER BY thread_id) FROM threads WHERE thread_id IN ('$T{gone}', '$T{noaccess}', '$T{noperm}')"),
    "$T{gone}:unknown_channel,$T{noaccess}:missing_access,$T{noperm}:-",
    'gone and inaccessible threads are marked unreachable; a missing permission is not');

# a later reply for a thread that is gone fails without a request
reply('gone', 'gone-2');
ok(RagTest::wait_for(sub { settled('gone-2') }, 10), 'a later reply there settles');
like(failure('gone-2'), qr/^unknown_channel\|.*unreachable/, 'as unreachable');
sleep 1;
is(posts($T{gone}), 1, 'without another POST');

# --- 5xx: bounded retries with backoff -----------------------------------------
my $t5 = time;
reply('flaky', 'flaky-1');
ok(RagTest::wait_for(sub { settled('flaky-1') }, 30), '5xx reply given up on')
    or diag(RagTest::slurp($log));
like(failure('flaky-1'), qr/^server_error\|.*502.*gave up after 3 attempts\)\|none$/,
    'server_error after 3 attempts');
my @f = $fd->rest(method => 'POST', path => qr{/channels/$T{flaky}/messages$});
ok(@f >= 3 && @f <= 9, scalar(@f) . ' POSTs: each attempt retried briefly, 3 attempts');
ok($f[-1]{t} - $f[0]{t} >= 0.2 * (1 + 4) * 0.9, sprintf('with backoff between attempts (%.1f s)',
    $f[-1]{t} - $f[0]{t}));
sleep 1.5;
is(scalar($fd->rest(method => 'POST', path => qr{/channels/$T{flaky}/messages$})), scalar(@f),
    'and then no more');

# --- a thread deleted on Discord: THREAD_DELETE ---------------------------------
# erased with everything in it (t/71); an answer the worker finishes later
# is dropped, and nothing is sent there
$fd->dispatch(THREAD_DELETE => { id => $T{deleted}, guild_id => $G, parent_id => $F, type => 11 });
ok(RagTest::wait_for(sub { sqlv("SELECT count(*) FROM threads
    WHERE thread_id = '$T{deleted}'") eq '0' }, 5), 'THREAD_DELETE erases the thread');
reply('deleted', 'deleted-1');
is(sqlv("SELECT count(*) FROM messages WHERE message_id = 'deleted-1'"), '0',
    'a reply written for it afterwards is dropped');
sleep 1;
is(posts($T{deleted}), 0, 'without any request');

# --- a deleted controller: the edit fails once (10008) ----------------------------
$fd->channel(id => $T{ctl}, guild_id => $G, parent_id => $F, name => 'ctl', owner_id => $U);
$fd->dispatch(THREAD_CREATE => { id => $T{ctl}, guild_id => $G, parent_id => $F,
    name => 'ctl', owner_id => $U, type => 11 });
$fd->dispatch(MESSAGE_CREATE => { id => $T{ctl}, channel_id => $T{ctl}, guild_id => $G,
    author => { id => $U }, content => 'question ctl', mentions => [] });
my $ctl;
ok(RagTest::wait_for(sub { $ctl = RagTest::psql($pg, "SELECT thread_controller_id FROM threads
    WHERE thread_id = '$T{ctl}'") }, 10), 'controller posted');
$fd->fault(delete_message => $ctl);
$fd->dispatch(MESSAGE_REACTION_ADD => { user_id => $U, channel_id => $T{ctl}, message_id => $ctl,
    guild_id => $G, emoji => { id => undef, name => '✅' }, member => { roles => [] } });
ok(RagTest::wait_for(sub { sqlv("SELECT count(*) FROM deliveries
    WHERE thread_id = '$T{ctl}' AND kind = 'edit' AND state = 'failed'") eq '1' }, 10),
    'the controller edit failed') or diag(RagTest::slurp($log));
is(sqlv("SELECT failure FROM deliveries WHERE thread_id = '$T{ctl}' AND kind = 'edit'"),
    'unknown_message', 'unknown_message');
sleep 1;
is(scalar $fd->rest(method => 'PATCH', path => qr{/channels/$T{ctl}/messages/$ctl$}), 1,
    'one PATCH, not retried');

# --- /status shows why a thread is not answered ----------------------------------
$fd->dispatch(INTERACTION_CREATE => { id => '790000000000000001', token => 'tokst', type => 2,
    application_id => $fd->{app_id}, guild_id => $G, channel_id => $T{noperm},
    member => { user => { id => $U }, roles => [] }, data => { name => 'status' } });
my $cb;
ok(RagTest::wait_for(sub { ($cb) = $fd->rest(method => 'POST',
    path => qr{/interactions/790000000000000001/tokst/callback$}); $cb }, 5), '/status answered');
like($cb->{body}{data}{embeds}[0]{description}, qr/Not delivered:.*reply.*Missing Permissions \(50013\)/s,
    '/status names the failed delivery and why');

# --- no catch-up asks for unreachable threads again -----------------------------------
my $restart = time;
is(RagTest::stop($pid, 'TERM'), 0, 'bot stopped');
$pid = RagTest::spawn([RagTest::bin('rag-bot')], env => $env, log => $log);
ok(RagTest::wait_for(sub { $fd->state->{connected} && (() = RagTest::slurp($log) =~ /catch-up done/g) >= 2 }, 20),
    'restarted and caught up');
my @after = grep { $_->{t} > $restart } $fd->rest(method => 'GET', path => qr{/channels/\d+/messages$});
my %asked = map { ($_->{path} =~ m{/channels/(\d+)/})[0] => 1 } @after;
ok($asked{ $T{noperm} } && $asked{ $T{flaky} }, 'reachable threads are caught up');
ok(!$asked{ $T{gone} } && !$asked{ $T{noaccess} } && !$asked{ $T{deleted} },
    'unreachable ones are not asked for');
is(scalar(grep { $_->{status} == 403 } $fd->records(kind => 'rest')), 2,
    'two 403s in all (each counts against the invalid-request limit)');

# --- the dashboard and the metrics -------------------------------------------------------
my %bearer = (headers => { Authorization => "Bearer $TOKEN" });
my $sum = eval { decode_json($http->get("$ng->{url}/dash/api/summary", \%bearer)->{content}) } || {};
# (the deleted thread's reply is erased with it, not a failure)
is_deeply($sum->{delivery_failures}, { unknown_channel => 2, missing_access => 1,
    missing_permissions => 1, server_error => 1, unknown_message => 1 },
    'dashboard summary: failed deliveries by reason');
my $th = eval { decode_json($http->get("$ng->{url}/dash/api/threads?limit=50", \%bearer)->{content}) } || {};
my ($gone) = grep { $_->{thread_id} eq $T{gone} } @{ $th->{threads} || [] };
$gone ||= {};
is($gone->{unreachable}, 'unknown_channel', 'dashboard thread: unreachable');
is(scalar(grep { $_->{failure} eq 'unknown_channel' && $_->{error} =~ /10003/ }
    @{ $gone->{delivery_failures} || [] }), 1, 'and its failed deliveries with the error');
my $m = $http->get("$ng->{url}/rag/metrics")->{content};
like($m, qr/^rag_delivery_failed\{reason="unknown_channel"\} 2$/m, 'metrics: unknown_channel');
like($m, qr/^rag_delivery_failed\{reason="server_error"\} 1$/m, 'metrics: server_error');
like($m, qr/^rag_delivery_failed\{reason="missing_permissions"\} 1$/m, 'metrics: missing_permissions');
is(scalar $fd->records(kind => 'violation'), 0, 'no violations')
    or diag(explain([ $fd->records(kind => 'violation') ]));
done_testing();
