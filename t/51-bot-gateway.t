# rag-bot's gateway session against the stand-in: jittered heartbeats,
# RESUME with the right session_id/seq after a dropped connection (the
# dispatch sent meanwhile is not lost), zombie detection on withheld
# ACKs (close with a resumable code, then RESUME), op 7 → resume,
# op 9 d=false → a fresh IDENTIFY, fatal close 4014 → exit 2 with a
# clear log line.
use strict;
use warnings;
use utf8;
use Test::More;
use POSIX ();
use Time::HiRes qw(time sleep);
use lib 't/lib';
use RagTest;
use FakeDiscord;
binmode(Test::More->builder->$_, ':encoding(UTF-8)')
    for qw(output failure_output todo_output);

my $G = '100000000000000001';
my $F = '200000000000000001';
my $pg = RagTest::pg_start();
RagTest::psql($pg, qq{
    INSERT INTO collections (name) VALUES ('docs');
    INSERT INTO guild_config (guild_id) VALUES ('$G');
    INSERT INTO guild_forums VALUES ('$G', '$F', 'docs');
});
my $dir = RagTest::tmpdir();
my $fd = FakeDiscord->start(dir => $dir, guild_id => $G,
    heartbeat_interval => 1000);
my $log = "$dir/bot.log";
my $t0 = time;
my $pid = RagTest::spawn([RagTest::bin('rag-bot')],
    env => $fd->bot_env($pg, RAG_DISCORD_GATEWAY_URL => $fd->gateway_url),
    log => $log);

ok(RagTest::wait_for(sub { $fd->state->{connected} }, 20), 'session ready')
    or diag(RagTest::slurp($log));
is(scalar($fd->rest(method => 'GET', path => qr{/gateway/bot})), 0,
    'discord_gateway_url overrides GET /gateway/bot');
ok(RagTest::wait_for(sub { scalar($fd->gw(1)) >= 3 }, 6), 'heartbeats flow');
my @hb = $fd->gw(1);
my ($open) = $fd->records(kind => 'gw_conn');
ok($hb[0]{t} - $open->{t} < 1.3, 'first heartbeat within interval*jitter (+ slack)');
ok(abs(($hb[2]{t} - $hb[1]{t}) - 1.0) < 0.45, 'then every interval');
ok(!grep({ !$_->{ok} } @hb), 'heartbeat d is the last seq or null');

# --- dropped connection: RESUME, nothing lost -------------------------------
my $T = '300000000000000001';
$fd->channel(id => $T, guild_id => $G, parent_id => $F, name => 'Q', owner_id => '4');
$fd->fault(drop => 1);
my $sess = 'sess0001';
$fd->dispatch(THREAD_CREATE => { id => $T, guild_id => $G, parent_id => $F,
    name => 'Q', owner_id => '4', type => 11 });     # sent while we are away
$fd->dispatch(MESSAGE_CREATE => { id => $T, channel_id => $T, guild_id => $G,
    author => { id => '4' }, content => 'question while offline', mentions => [] });
ok(RagTest::wait_for(sub { scalar $fd->gw(6) }, 10), 'RESUME sent')
    or diag(RagTest::slurp($log));
my ($resume) = $fd->gw(6);
is($resume->{session_id}, $sess, 'RESUME carries the session id');
my ($closed) = grep { $_->{event} eq 'closed' } $fd->records(kind => 'gw_conn');
is($resume->{seq}, $closed->{last_s}, "and the last seq it was sent ($closed->{last_s})");
ok($resume->{seq} >= 2, 'at least READY and GUILD_CREATE');
my @conns = grep { $_->{event} eq 'open' } $fd->records(kind => 'gw_conn');
is($conns[-1]{target}, '/resume?v=10&encoding=json', 'resumed on resume_gateway_url');
ok(RagTest::wait_for(sub { RagTest::psql($pg,
    "SELECT count(*) FROM messages WHERE thread_id='$T'") eq '1' }, 10),
    'the dispatch sent during the outage was replayed and stored')
    or diag(RagTest::slurp($log));
is(scalar $fd->gw(2), 1, 'no second IDENTIFY');

# --- zombie: no ACKs -> close with a resumable code and RESUME -------------
$fd->fault(withhold_acks => 1);
ok(RagTest::wait_for(sub { grep { $_->{code} == 4000 } $fd->records(kind => 'gw_close') }, 6),
    'zombie connection closed with 4000 (not 1000/1001)') or diag(RagTest::slurp($log));
$fd->fault(withhold_acks => 0);
ok(RagTest::wait_for(sub { scalar($fd->gw(6)) >= 2 && $fd->state->{connected} }, 10),
    'resumed after the zombie');
like(RagTest::slurp($log), qr/zombie/, 'zombie logged');

# --- op 7: reconnect and resume ------------------------------------------------
my $n6 = scalar $fd->gw(6);
$fd->fault(op7 => 1);
ok(RagTest::wait_for(sub { scalar($fd->gw(6)) > $n6 }, 10), 'op 7 → RESUME');

# --- op 9 d=false: fresh IDENTIFY after 1-5 s ----------------------------------
ok(RagTest::wait_for(sub { $fd->state->{connected} }, 5), 'connected again');
my $t9 = time;
$fd->fault(op9 => 0);
ok(RagTest::wait_for(sub { scalar($fd->gw(2)) == 2 }, 10), 'op 9 false → IDENTIFY');
my @ids = $fd->gw(2);
ok($ids[1]{t} - $t9 >= 0.9, 'waited at least a second before re-identifying');
ok(RagTest::wait_for(sub { ($fd->state->{session} // '') eq 'sess0002' }, 5), 'new session');

# --- op 9 d=true: resumable, so RESUME rather than IDENTIFY ------------------
ok(RagTest::wait_for(sub { $fd->state->{connected} }, 5), 'connected on the new session');
$n6 = scalar $fd->gw(6);
$fd->fault(op9 => 1);
ok(RagTest::wait_for(sub { scalar($fd->gw(6)) > $n6 }, 10), 'op 9 true → RESUME');
my ($last6) = reverse $fd->gw(6);
is($last6->{session_id}, 'sess0002', 'resuming the current session');
is(scalar $fd->gw(2), 2, 'no extra IDENTIFY');

# --- fatal close 4014 -------------------------------------------------------------
$fd->fault(close => 4014);
my $status;
ok(RagTest::wait_for(sub { my $r = waitpid($pid, POSIX::WNOHANG()); $status = $? if $r == $pid; $r == $pid }, 10),
    'bot exits on 4014');
is($status >> 8, 2, 'exit status 2');
like(RagTest::slurp($log), qr/fatal code, stopping.*code=4014.*disallowed intents/,
    'clear log line');
is(scalar $fd->records(kind => 'violation'), 0, 'client frames masked, payloads valid');
unlike(RagTest::slurp($log), qr/test-token/, 'token never logged');
done_testing();
