# The controller message is a delivery like a reply (issue 12, item 2):
# rag-bot killed with SIGKILL while Discord holds the response to the
# controller POST (the message exists, its id was never stored) posts
# no second controller after the restart: the retry carries the same
# nonce and Discord returns the first message, whose id is then stored;
# once Discord has forgotten the nonce the retry finds the message in
# the thread instead. Voting works afterwards (👀, controller edit,
# ✅/❌), and reactions and edits cut short by a crash are retried too.
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
my ($T1, $T2, $T3) = map { "30000000000000000$_" } 1 .. 3;
my $U = '400000000000000001';
my $pg = RagTest::pg_start();
RagTest::psql($pg, qq{
    INSERT INTO collections (name) VALUES ('docs');
    INSERT INTO guild_config (guild_id) VALUES ('$G');
    INSERT INTO guild_forums VALUES ('$G', '$F', 'docs');
});
my $dir = RagTest::tmpdir();
my $fd = FakeDiscord->start(dir => $dir, guild_id => $G, heartbeat_interval => 1000);
my $log = "$dir/bot.log";
my $env = $fd->bot_env($pg);
my $pid;
sub start_bot {
    $pid = RagTest::spawn([RagTest::bin('rag-bot')], env => $env, log => $log);
    ok(RagTest::wait_for(sub { $fd->state->{connected} }, 20), 'bot connected');
}
sub crash { kill 'KILL', $pid; waitpid($pid, 0) }
# the process that recovered stops cleanly before the next crash (its
# coverage counts are written at exit; a SIGKILL would lose them)
sub restart_clean { is(RagTest::stop($pid, 'TERM'), 0, 'clean stop'); start_bot() }
sub ctl_of { RagTest::psql($pg, "SELECT coalesce(thread_controller_id, '') FROM threads
    WHERE thread_id = '$_[0]'") }
sub controllers { grep { ($_->{body}{embeds}[0]{title} // '') eq 'Help Bot Thread Information' }
    $fd->rest(method => 'POST', path => qr{/channels/$_[0]/messages$}) }
sub created_controllers { my %c = map { $_->{created} => 1 } grep { $_->{created} } controllers($_[0]);
    my @ids = sort keys %c; return wantarray ? @ids : scalar @ids }
sub post {
    my ($t) = @_;
    $fd->channel(id => $t, guild_id => $G, parent_id => $F, name => "post $t",
        owner_id => $U);
    $fd->dispatch(THREAD_CREATE => { id => $t, guild_id => $G, parent_id => $F,
        name => "post $t", owner_id => $U, type => 11 });
    $fd->dispatch(MESSAGE_CREATE => { id => $t, channel_id => $t, guild_id => $G,
        author => { id => $U }, content => "question $t", mentions => [] });
}
sub reacted { my ($t, $msg, $emoji) = @_; grep { $_->{emoji} eq $emoji && $_->{status} == 204 }
    $fd->rest(method => 'PUT', path => qr{/channels/$t/messages/$msg/reactions/}) }
sub voting_ok {
    my ($t) = @_;
    my $ctl = ctl_of($t);
    RagTest::psql($pg, "INSERT INTO messages (thread_id, message_id, content, from_bot)
        VALUES ('$t', 'reply-$t', 'answer for $t', true)");
    ok(RagTest::wait_for(sub { RagTest::psql($pg, "SELECT processed AND discord_message_id
        IS NOT NULL FROM messages WHERE message_id = 'reply-$t'") eq 't' }, 15), "$t: reply delivered")
        or diag(RagTest::slurp($log));
    ok(RagTest::wait_for(sub { reacted($t, $ctl, '✅') && reacted($t, $ctl, '❌') }, 10),
        "$t: ✅ and ❌ on the controller");
    ok(RagTest::wait_for(sub { my ($e) = reverse $fd->rest(method => 'PATCH',
        path => qr{/channels/$t/messages/$ctl$}); $e && $e->{status} == 200
        && $e->{body}{embeds}[0]{description} =~ /<\@$U> can vote/ }, 10),
        "$t: the controller shows the voting instructions")
        or diag(join "\n", map { sprintf '%.3f PATCH %s: %s', $_->{t} // 0,
            $_->{status} // '-', substr($_->{body}{embeds}[0]{description} // '', 0, 40) }
            $fd->rest(method => 'PATCH', path => qr{/channels/$t/messages/})),
            RagTest::slurp($log);
}

start_bot();

# --- kill -9 while Discord holds the controller POST -------------------------
$fd->fault(rest => { method => 'POST', path => "channels/$T1/messages\$", delay_ms => 30000 });
post($T1);
ok(RagTest::wait_for(sub { grep { $_->{delayed} } controllers($T1) }, 10),
    'Discord created the controller and holds the response');
crash();
is(ctl_of($T1), '', 'its id never reached the database');
is(RagTest::psql($pg, "SELECT count(*) FROM messages WHERE message_id = '$T1'"), '1',
    'the question is stored');
# the thread's history is unavailable for a moment (catch-up and the
# retry's own look), so this retry relies on the nonce alone
$fd->fault(rest => { method => 'GET', path => "channels/$T1/messages", status => 503,
    count => 6 });
start_bot();
ok(RagTest::wait_for(sub { ctl_of($T1) ne '' }, 15), 'after the restart the controller id is stored')
    or diag(RagTest::slurp($log));
my @c1 = controllers($T1);
ok(@c1 >= 2, 'the controller POST was retried');
is(scalar(grep { $_->{body}{nonce} ne $c1[0]{body}{nonce} } @c1), 0, 'with the same nonce');
is(scalar(created_controllers($T1)), 1, 'one controller message exists');
is(ctl_of($T1), (created_controllers($T1))[0], 'and it is the one recorded');
ok(RagTest::wait_for(sub { grep { $_->{emoji} eq '👀' } $fd->rest(method => 'PUT',
    path => qr{/channels/$T1/messages/$T1/reactions/}) }, 10), '👀 on the question');
voting_ok($T1);
restart_clean();

# --- the same, restarted after Discord forgot the nonce ----------------------
$fd->fault(rest => { method => 'POST', path => "channels/$T2/messages\$", delay_ms => 30000 });
post($T2);
ok(RagTest::wait_for(sub { grep { $_->{delayed} } controllers($T2) }, 10),
    'second controller held');
crash();
$fd->fault(forget_nonces => 1);
start_bot();
ok(RagTest::wait_for(sub { ctl_of($T2) ne '' }, 15), 'controller id stored')
    or diag(RagTest::slurp($log));
is(scalar(created_controllers($T2)), 1, 'found in the thread, not posted again');
is(ctl_of($T2), (created_controllers($T2))[0], 'the existing one is recorded');
voting_ok($T2);
restart_clean();

# --- kill -9 while the ✅ reaction and the controller edit are held -----------
post($T3);
ok(RagTest::wait_for(sub { ctl_of($T3) ne '' }, 10), 'third controller');
my $ctl3 = ctl_of($T3);
$fd->fault(rest => { method => 'PUT', path => "channels/$T3/messages/$ctl3/reactions/",
    delay_ms => 30000, count => 5 });
$fd->fault(rest => { method => 'PATCH', path => "channels/$T3/messages/$ctl3\$",
    delay_ms => 30000, count => 5 });
RagTest::psql($pg, "INSERT INTO messages (thread_id, message_id, content, from_bot)
    VALUES ('$T3', 'reply-$T3', 'answer for $T3', true)");
ok(RagTest::wait_for(sub { grep { $_->{delayed} } $fd->rest(method => 'PUT',
    path => qr{/channels/$T3/messages/$ctl3/reactions/}) }, 15), 'reaction held')
    or diag(RagTest::slurp($log));
crash();
my $restart = time;
$fd->fault(clear_faults => 1);   # Discord answers normally again
start_bot();
ok(RagTest::wait_for(sub { grep { $_->{t} > $restart } reacted($T3, $ctl3, '✅') }, 15)
    && RagTest::wait_for(sub { grep { $_->{t} > $restart } reacted($T3, $ctl3, '❌') }, 15),
    'the reactions are retried after the restart') or diag(RagTest::slurp($log));
ok(RagTest::wait_for(sub { grep { $_->{t} > $restart && $_->{status} == 200
    && $_->{body}{embeds}[0]{description} =~ /can vote/ } $fd->rest(method => 'PATCH',
    path => qr{/channels/$T3/messages/$ctl3$}) }, 15), 'and so is the controller edit');

is(scalar(created_controllers($_)), 1, "$_: one controller message") for $T1, $T2, $T3;
is(scalar $fd->records(kind => 'violation'), 0, 'no violations')
    or diag(explain([ $fd->records(kind => 'violation') ]));
done_testing();
