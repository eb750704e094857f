# REST never blocks the bot (issue 12, item 4): while one route is held
# in a 429 with a long retry_after, gateway events, other threads'
# controllers and replies, and slash commands all go through on time;
# the held route is retried once retry_after has passed, not before,
# and its reply is posted exactly once.
use strict;
use warnings;
use utf8;
use Test::More;
use Time::HiRes qw(time sleep);
use lib 't/lib';
use RagTest;
use FakeDiscord;
binmode(Test::More->builder->$_, ':encoding(UTF-8)')
    for qw(output failure_output todo_output);

my $G = '100000000000000001';
my $F = '200000000000000001';
my $A = '300000000000000001';                 # the thread held in 429
my @B = map { "30000000000000001$_" } 1 .. 3;  # new posts meanwhile
my $U = '400000000000000001';
my $HOLD = 20;                                # retry_after, seconds
my $LATE = 5;     # generous bound for "on time" (typically < 0.5 s)

my $pg = RagTest::pg_start();
RagTest::psql($pg, qq{
    INSERT INTO collections (name) VALUES ('docs');
    INSERT INTO guild_config (guild_id) VALUES ('$G');
    INSERT INTO guild_forums VALUES ('$G', '$F', 'docs');
    INSERT INTO threads (thread_id, guild_id, forum_channel_id, title, collection,
        author_id) VALUES ('$A', '$G', '$F', 'held', 'docs', '$U');
});
my $dir = RagTest::tmpdir();
my $fd = FakeDiscord->start(dir => $dir, guild_id => $G, heartbeat_interval => 1000);
$fd->channel(id => $A, guild_id => $G, parent_id => $F, name => 'held', owner_id => $U);
my $log = "$dir/bot.log";
my $pid = RagTest::spawn([RagTest::bin('rag-bot')], env => $fd->bot_env($pg), log => $log);
ok(RagTest::wait_for(sub { $fd->state->{connected} }, 20), 'bot connected');
ok(RagTest::wait_for(sub { RagTest::slurp($log) =~ /catch-up done/ }, 10), 'caught up');

sub delivered {
    RagTest::psql($pg, "SELECT count(*) FROM messages WHERE message_id = '$_[0]'
        AND processed AND discord_message_id IS NOT NULL") eq '1';
}

# --- hold thread A's message route in a 429 ---------------------------------
$fd->fault(rest => { method => 'POST', path => "channels/$A/messages\$", status => 429,
    body => { message => 'You are being rate limited.', retry_after => $HOLD,
              global => JSON::PP::false } });
RagTest::psql($pg, "INSERT INTO messages (thread_id, message_id, content, from_bot)
    VALUES ('$A', 'held-1', 'the held answer', true)");
ok(RagTest::wait_for(sub { grep { $_->{status} == 429 } $fd->rest(method => 'POST',
    path => qr{/channels/$A/messages$}) }, 10), "A's route got its 429")
    or diag(RagTest::slurp($log));
my ($r429) = grep { $_->{status} == 429 } $fd->rest(method => 'POST', path => qr{/channels/$A/messages$});

# --- meanwhile: new posts, replies and a command, each on its own route ------
my (%sent, %reply_at);
for my $t (@B) {
    $fd->channel(id => $t, guild_id => $G, parent_id => $F, name => "post $t",
        owner_id => $U);
    $sent{$t} = time;
    $fd->dispatch(THREAD_CREATE => { id => $t, guild_id => $G, parent_id => $F,
        name => "post $t", owner_id => $U, type => 11 });
    $fd->dispatch(MESSAGE_CREATE => { id => $t, channel_id => $t, guild_id => $G,
        author => { id => $U }, content => "question $t", mentions => [] });
}
ok(RagTest::wait_for(sub { RagTest::psql($pg, "SELECT count(*) FROM messages
    WHERE first_message AND thread_id <> '$A'") eq '3' }, 10), 'new posts stored');
my $stored = time;
ok($stored - $sent{ $B[0] } < $LATE, sprintf('stored %.2f s after the dispatch (bound %d s)',
    $stored - $sent{ $B[0] }, $LATE));
for my $t (@B) {
    my $ctl;
    ok(RagTest::wait_for(sub { $ctl = RagTest::psql($pg,
        "SELECT thread_controller_id FROM threads WHERE thread_id = '$t'") }, $LATE),
        "controller for $t posted and recorded in time") or diag(RagTest::slurp($log));
    my ($c) = grep { ($_->{created} // '') eq $ctl } $fd->rest(method => 'POST',
        path => qr{/channels/$t/messages$});
    ok($c && $c->{t} - $sent{$t} < $LATE, sprintf('controller %.2f s after the post',
        $c ? $c->{t} - $sent{$t} : -1));
    $reply_at{$t} = time;
    # (only once the bot has stored the post: the reply refers to it)
    eval { RagTest::psql($pg, "INSERT INTO messages (thread_id, message_id, content,
        from_bot) VALUES ('$t', 'reply-$t', 'answer for $t', true)") };
}
$fd->dispatch(INTERACTION_CREATE => { id => '790000000000000001', token => 'tokheld',
    type => 2, application_id => $fd->{app_id}, guild_id => $G, channel_id => $B[0],
    member => { user => { id => $U }, roles => [] }, data => { name => 'status' } });
for my $t (@B) {
    ok(RagTest::wait_for(sub { delivered("reply-$t") }, $LATE), "reply in $t delivered in time")
        or diag(RagTest::slurp($log));
    my ($p) = grep { ($_->{body}{embeds}[0]{description} // '') eq "answer for $t" }
        $fd->rest(method => 'POST', path => qr{/channels/$t/messages$});
    ok($p && $p->{t} - $reply_at{$t} < $LATE, sprintf('posted %.2f s after it was written',
        $p ? $p->{t} - $reply_at{$t} : -1));
}
my ($cb) = $fd->rest(method => 'POST', path => qr{/interactions/790000000000000001/tokheld/callback$});
ok($cb && $cb->{status} == 204, 'the slash command was answered within its 3 s')
    or diag(explain($cb));
ok(time - $r429->{t} < $HOLD - 2, 'all of that while A was still held')
    or diag(sprintf 'took %.1f s', time - $r429->{t});
ok(!delivered('held-1'), 'A not delivered yet');

# --- A goes out once retry_after has passed --------------------------------
ok(RagTest::wait_for(sub { delivered('held-1') }, $HOLD + 15), 'A delivered after the hold')
    or diag(RagTest::slurp($log));
my @a = $fd->rest(method => 'POST', path => qr{/channels/$A/messages$});
is(scalar(grep { $_->{status} == 200 } @a), 1, 'A posted once');
my ($ok200) = grep { $_->{status} == 200 } @a;
ok($ok200->{t} - $r429->{t} >= $HOLD - 0.05, sprintf('and not before retry_after (%.2f s)',
    $ok200->{t} - $r429->{t}));
is(scalar($fd->records(kind => 'violation')), 0, 'no request inside a retry_after, no violations')
    or diag(explain([ $fd->records(kind => 'violation') ]));

# --- the token is reset in the Developer Portal: one 401, then silence -------
$fd->fault(token => 'a-new-token');
my $t401 = time;
RagTest::psql($pg, "INSERT INTO messages (thread_id, message_id, content, from_bot)
    VALUES ('$B[1]', 'after-401-1', 'refused', true)");
ok(RagTest::wait_for(sub { grep { $_->{status} == 401 } $fd->rest() }, 10), 'Discord answers 401');
ok(RagTest::wait_for(sub { RagTest::slurp($log) =~ /refused the token \(401\)/ }, 5),
    'the bot says why it stops');
RagTest::psql($pg, "INSERT INTO messages (thread_id, message_id, content, from_bot)
    VALUES ('$B[2]', 'after-401-2', 'refused too', true)");
sleep 2;
is(scalar(grep { $_->{t} > $t401 } $fd->rest()), 1,
    'no request after the 401 (each would count against the invalid-request limit)');
is(RagTest::psql($pg, "SELECT count(*) FROM messages WHERE message_id LIKE 'after-401-%'
    AND discord_message_id IS NOT NULL"), '0', 'nothing delivered with a refused token');
is(RagTest::stop($pid, 'TERM'), 0, 'clean exit');
done_testing();
