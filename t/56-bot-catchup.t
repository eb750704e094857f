# Downtime loses nothing: while rag-bot is stopped, a new forum post is
# made and someone mentions the bot in an existing thread; after the
# restart (a fresh session replays nothing) the bot fetches both over
# REST, stores them, and the SQL trigger asks for answers.
use strict;
use warnings;
use Test::More;
use Time::HiRes qw(time sleep);
use lib 't/lib';
use RagTest;
use FakeDiscord;

my $G = '100000000000000001';
my $F = '200000000000000001';
my ($T1, $T2, $U) = ('300000000000000001', '300000000000000002', '400000000000000001');
my $pg = RagTest::pg_start();
RagTest::psql($pg, qq{
    INSERT INTO collections (name) VALUES ('docs');
    INSERT INTO guild_config (guild_id) VALUES ('$G');
    INSERT INTO guild_forums VALUES ('$G', '$F', 'docs');
});
my $dir = RagTest::tmpdir();
my $fd = FakeDiscord->start(dir => $dir, guild_id => $G);
my $bot_id = $fd->{bot_id};
my $log = "$dir/bot.log";
my $env = $fd->bot_env($pg);
my $pid = RagTest::spawn([RagTest::bin('rag-bot')], env => $env, log => $log);
ok(RagTest::wait_for(sub { $fd->state->{connected} }, 20), 'connected');
ok(RagTest::wait_for(sub { RagTest::slurp($log) =~ /catch-up done/ }, 10), 'first catch-up done');

$fd->dispatch(THREAD_CREATE => { id => $T1, guild_id => $G, parent_id => $F,
    name => 'first', owner_id => $U, type => 11 });
$fd->dispatch(MESSAGE_CREATE => { id => $T1, channel_id => $T1, guild_id => $G,
    author => { id => $U }, content => 'q1', mentions => [] });
ok(RagTest::wait_for(sub { RagTest::psql($pg, "SELECT count(*) FROM messages") eq '1' }, 5),
    'live post stored');
is(RagTest::stop($pid, 'TERM'), 0, 'bot stopped');

# while it is away
$fd->dispatch(MESSAGE_CREATE => { id => '310000000000000001', channel_id => $T1,
    guild_id => $G, author => { id => $U }, content => "<\@$bot_id> and then?",
    mentions => [ { id => $bot_id } ] });
$fd->dispatch(MESSAGE_CREATE => { id => '310000000000000002', channel_id => $T1,
    guild_id => $G, author => { id => '5' }, content => 'me too', mentions => [] });
for my $i (1 .. 120) {   # more than one page of history
    $fd->dispatch(MESSAGE_CREATE => { id => sprintf('3200000000000%05d', $i),
        channel_id => $T1, guild_id => $G, author => { id => '6' },
        content => "chatter $i", mentions => [] });
}
$fd->dispatch(THREAD_CREATE => { id => $T2, guild_id => $G, parent_id => $F,
    name => 'second', owner_id => $U, type => 11 });
$fd->dispatch(MESSAGE_CREATE => { id => $T2, channel_id => $T2, guild_id => $G,
    author => { id => $U }, content => 'q2 while offline', mentions => [] });

my $restart = time;
$pid = RagTest::spawn([RagTest::bin('rag-bot')], env => $env, log => $log);
ok(RagTest::wait_for(sub { RagTest::psql($pg, "SELECT count(*) FROM messages") eq '124' }, 20),
    'missed messages fetched after the restart (two pages)') or diag(RagTest::slurp($log));
is(RagTest::psql($pg, "SELECT count(*) FROM messages WHERE content LIKE 'chatter %'"), '120',
    'every page');
is(RagTest::psql($pg, "SELECT title || '|' || author_id FROM threads WHERE thread_id = '$T2'"),
    "second|$U", 'the new post is tracked');
is(RagTest::psql($pg, "SELECT first_message FROM messages WHERE message_id = '$T2'"), 't',
    'with its starter message');
is(RagTest::psql($pg, "SELECT mentions_bot FROM messages WHERE message_id = '310000000000000001'"),
    't', 'the mention is recognised');
is(RagTest::psql($pg, "SELECT count(*) FROM jobs WHERE kind = 'answer'"), '3',
    'answers asked for the live post, the new post and the mention');
ok(RagTest::wait_for(sub { RagTest::psql($pg, "SELECT thread_controller_id IS NOT NULL
    FROM threads WHERE thread_id = '$T2'") eq 't' }, 5), 'controller posted for the new post');
my @q = grep { $_->{query} && $_->{t} > $restart } $fd->rest(method => 'GET',
    path => qr{/channels/$T1/messages$});
is($q[0]{query}{after}, $T1, 'asked for messages after the newest one stored');
is($q[1]{query}{after}, '320000000000000098', 'then after the last of the first page');
# a resume replays instead, so the catch-up runs only on a fresh session
my $n = scalar $fd->rest(method => 'GET', path => qr{/threads/active$});
$fd->fault(drop => 1);
ok(RagTest::wait_for(sub { scalar $fd->gw(6) }, 10), 'resumed');
sleep 1;
is(scalar $fd->rest(method => 'GET', path => qr{/threads/active$}), $n, 'no catch-up after a resume');
is(scalar $fd->records(kind => 'violation'), 0, 'no violations');
done_testing();
