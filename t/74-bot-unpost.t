# A deleted question takes the bot's answer with it (issue 12): when a
# user deletes a message the bot answered (MESSAGE_DELETE, or in a
# MESSAGE_DELETE_BULK), the bot deletes every Discord message of its
# answer; when it was the thread's starter, the controller too (its vote
# was about that answer, and it names the asker). Each removal is an
# outbox delivery (DELETE /channels/{thread}/messages/{id}): recorded,
# retried after a 5xx, exactly once after a kill -9 in flight (Discord's
# 10008 Unknown Message on the retry means done), in a thread archived
# meanwhile too (Discord allows deletes there; a locked one: t/77). An
# answer still being posted when its
# question goes is removed once it is out. rag-admin forget-user, which
# erases stored data while the person's messages stay on Discord, removes
# nothing there. The stand-in refuses what
# Discord refuses (another user's message: 50013; unknown: 10008).
#
# Answers are written into the outbox as rag-worker writes them (a
# from_bot row 'reply:<question>'), so each case controls its timing.
use strict;
use warnings;
use utf8;
use Test::More;
use JSON::PP;
use lib 't/lib';
use RagTest;
use FakeDiscord;
binmode(Test::More->builder->$_, ':encoding(UTF-8)')
    for qw(output failure_output todo_output);

my $G = '100000000000000001';
my $F = '200000000000000001';
my $U = '400000000000000001';
my $V = '400000000000000002';
my $pg = RagTest::pg_start();
RagTest::psql($pg, qq{
    INSERT INTO collections (name, description) VALUES ('acme', 'Acme manual');
    INSERT INTO guild_config (guild_id) VALUES ('$G');
    INSERT INTO guild_forums VALUES ('$G', '$F', 'acme');
});
my $dir = RagTest::tmpdir();
my $fd = FakeDiscord->start(dir => $dir, guild_id => $G);
my $bot_id = $fd->{bot_id};
my $blog = "$dir/bot.log";
my $nlog = 0;
sub start_bot {
    return RagTest::spawn([RagTest::bin('rag-bot')],
        env => $fd->bot_env($pg), log => $blog . ($nlog++ ? ".$nlog" : ''));
}
my $bot = start_bot();
ok(RagTest::wait_for(sub { $fd->state->{connected} }, 20), 'bot connected')
    or diag(RagTest::slurp($blog));
sub q1 { RagTest::psql($pg, $_[0]) }
sub logs { join '', map { RagTest::slurp($_) } glob("$blog*") }

sub post { $fd->user_message(user => $U, username => 'asker', @_) }
sub new_thread {
    my ($t, $title, $text) = @_;
    $fd->channel(id => $t, guild_id => $G, parent_id => $F, name => $title, owner_id => $U);
    $fd->dispatch(THREAD_CREATE => { id => $t, guild_id => $G, parent_id => $F,
        name => $title, owner_id => $U, type => 11, newly_created => JSON::PP::true });
    post(thread => $t, id => $t, text => $text);
}
# the answer, as rag-worker writes it
sub answer {
    my ($t, $q, $text) = @_;
    ok(RagTest::wait_for(sub { q1("SELECT count(*) FROM messages WHERE message_id = '$q'") eq '1' },
        10), "question $q stored") or diag(logs());
    q1(qq{INSERT INTO messages (thread_id, message_id, content, from_bot, processed,
        reply_to, sources) VALUES ('$t', 'reply:$q', '$text', true, false, '$q',
        '[{"title": "Install", "url": "https://docs.example/install"}]')});
}
sub delivered {
    my ($q) = @_;
    q1("SELECT coalesce(array_to_string(discord_part_ids, ','), '') FROM messages
        WHERE reply_to = '$q' AND from_bot AND discord_message_id IS NOT NULL");
}
sub controller { q1("SELECT coalesce(thread_controller_id, '') FROM threads WHERE thread_id = '$_[0]'") }
sub on_discord { my ($id) = @_; scalar grep { $_->{id} eq $id } values %{ $fd->messages } }
sub deletes {
    my ($id) = @_;
    grep { $_->{path} =~ m{/messages/\Q$id\E$} } $fd->rest(method => 'DELETE');
}
sub deleted_ok { scalar grep { ($_->{status} // 0) == 204 } deletes($_[0]) }
sub unposts_pending {
    q1("SELECT count(*) FROM deliveries WHERE kind = 'unpost' AND state <> 'done'");
}

# --- a starter deleted: its answer (3 messages) and the controller go -----------------
my $T1 = '300000000000000001';
new_thread($T1, 'Install on Debian', 'How do I install acme on debian?');
my $long = join ' ', map { "Step $_: run the installer and check the acme service." } 1 .. 180;
answer($T1, $T1, $long);
ok(RagTest::wait_for(sub { delivered($T1) =~ /^\d+(,\d+)+$/ && controller($T1) }, 20),
    'a long answer: delivered as several messages, every id recorded')
    or diag(logs());
my @parts = split /,/, delivered($T1);
my $ctl = controller($T1);
ok(RagTest::wait_for(sub { scalar(grep { $_->{path} =~ /reactions/ && ($_->{status} // 0) == 204 }
    $fd->rest(method => 'PUT')) >= 3 }, 10), 'the vote is open (reactions on the controller)');
is(scalar(grep { on_discord($_) } @parts, $ctl), @parts + 1, 'all of it on Discord');
is(scalar(deletes($_)), 0, "nothing deleted yet ($_)") for @parts;
$fd->dispatch(MESSAGE_DELETE => { id => $T1, channel_id => $T1, guild_id => $G });
ok(RagTest::wait_for(sub { !grep { on_discord($_) } @parts, $ctl }, 15),
    'the question deleted: every part of its answer and the controller are deleted')
    or diag(logs());
is(deleted_ok($_), 1, "one DELETE of $_") for @parts, $ctl;
ok(RagTest::wait_for(sub { unposts_pending() eq '0' }, 5), 'the removals are settled');
is(q1("SELECT count(*) FROM deliveries WHERE kind = 'unpost' AND state = 'done'
    AND thread_id = '$T1'"), scalar(@parts) + 1, 'as done deliveries, one per message');
sleep 1;
is(scalar(deletes($_)), 1, "and never sent again ($_)") for @parts, $ctl;
like(logs(), qr/messages deleted, erased.*thread=$T1/, 'logged by id');

# --- a follow-up question in a bulk delete: its answer goes, the controller stays ----
my $T2 = '300000000000000002';
new_thread($T2, 'Ports', 'Which port does acmed use?');
answer($T2, $T2, 'acmed listens on port 7400.');
ok(RagTest::wait_for(sub { delivered($T2) && controller($T2) }, 20), 'T2 answered') or diag(logs());
my $Q2 = '310000000000000001';
my $CHAT = '310000000000000002';
post(thread => $T2, id => $Q2, mention => 1, text => "<\@$bot_id> and the admin port?");
post(thread => $T2, id => $CHAT, user => $V, text => 'thanks');
answer($T2, $Q2, 'The admin port is 7401.');
ok(RagTest::wait_for(sub { delivered($Q2) }, 20), 'the follow-up answered') or diag(logs());
my ($a2, $aq2, $ctl2) = (delivered($T2), delivered($Q2), controller($T2));
$fd->dispatch(MESSAGE_DELETE_BULK => { ids => [ $Q2, $CHAT ], channel_id => $T2, guild_id => $G });
ok(RagTest::wait_for(sub { !on_discord($aq2) }, 15), 'MESSAGE_DELETE_BULK: its answer is deleted')
    or diag(logs());
sleep 1;
ok(on_discord($a2) && on_discord($ctl2), "the starter's answer and the controller stay");
is(scalar(deletes($a2)) + scalar(deletes($ctl2)), 0, 'nothing else was asked');

# --- already gone (a moderator was faster): 10008 is done, not a failure -------------
my $T3 = '300000000000000003';
new_thread($T3, 'Backups', 'How do I back up acme?');
answer($T3, $T3, 'Use acme-backup.');
ok(RagTest::wait_for(sub { delivered($T3) && controller($T3) }, 20), 'T3 answered') or diag(logs());
my $a3 = delivered($T3);
$fd->fault(delete_message => $a3);
$fd->dispatch(MESSAGE_DELETE => { id => $T3, channel_id => $T3, guild_id => $G });
ok(RagTest::wait_for(sub { scalar(deletes($a3)) && !on_discord(controller($T3)) }, 15),
    'the removal is tried') or diag(logs());
ok(RagTest::wait_for(sub { unposts_pending() eq '0' }, 5), 'and settled');
is((deletes($a3))[0]{status}, 404, 'Discord answered 10008');
is(q1("SELECT state || '|' || coalesce(failure, '') FROM deliveries WHERE kind = 'unpost'
    AND target_id = '$a3'"), 'done|', 'an Unknown Message is done (the message is gone)');
is(scalar(deletes($a3)), 1, 'and not retried');

# --- a 5xx is retried; a kill -9 in flight: exactly once, the retry sees 10008 -------
my $T4 = '300000000000000004';
new_thread($T4, 'Logs', 'Where are the logs?');
answer($T4, $T4, 'In /var/log/acme.');
ok(RagTest::wait_for(sub { delivered($T4) && controller($T4) }, 20), 'T4 answered') or diag(logs());
my ($a4, $ctl4) = (delivered($T4), controller($T4));
$fd->fault(rest => { method => 'DELETE', path => "/messages/$a4\$", status => 502,
    body => { message => 'Bad Gateway', code => 0 }, count => 1 });
$fd->fault(rest => { method => 'DELETE', path => "/messages/$ctl4\$", delay_ms => 4000,
    count => 1 });
$fd->dispatch(MESSAGE_DELETE => { id => $T4, channel_id => $T4, guild_id => $G });
ok(RagTest::wait_for(sub { scalar(deletes($ctl4)) >= 1 }, 15), 'the controller DELETE is in flight')
    or diag(logs());
kill 'KILL', $bot;
waitpid($bot, 0);
ok(!on_discord($ctl4), 'Discord deleted it; the answer never reached the bot');
$bot = start_bot();
ok(RagTest::wait_for(sub { !on_discord($a4) && unposts_pending() eq '0' }, 30),
    'restarted: the answer deleted after the 502, the controller settled') or diag(logs());
is(scalar(grep { ($_->{status} // 0) == 502 } deletes($a4)), 1, 'the 502 was retried');
is(deleted_ok($a4), 1, 'the answer deleted once');
is(deleted_ok($ctl4), 1, 'the controller deleted once');
is(scalar(grep { ($_->{status} // 0) == 404 } deletes($ctl4)), 1,
    'the retry after the crash got 10008: done');
is(q1("SELECT count(*) FROM deliveries WHERE kind = 'unpost' AND thread_id = '$T4'
    AND state = 'done'"), '2', 'both removals done');

# --- an answer still in flight when its question goes: removed once it is out ---------
my $T5 = '300000000000000005';
new_thread($T5, 'Upgrade', 'How do I upgrade acme?');
ok(RagTest::wait_for(sub { controller($T5) }, 20), 'T5 has its controller') or diag(logs());
$fd->fault(rest => { method => 'POST', path => "/channels/$T5/messages\$", delay_ms => 2500,
    count => 1 });
answer($T5, $T5, 'Run acme-upgrade.');
ok(RagTest::wait_for(sub { scalar(grep { $_->{path} eq "/api/v10/channels/$T5/messages" }
    $fd->rest(method => 'POST')) >= 2 }, 10), 'the answer POST is in flight');
$fd->dispatch(MESSAGE_DELETE => { id => $T5, channel_id => $T5, guild_id => $G });
ok(RagTest::wait_for(sub { delivered($T5) }, 15), 'it arrives on Discord after the delete')
    or diag(logs());
my $a5 = delivered($T5);
ok(RagTest::wait_for(sub { !on_discord($a5) && !on_discord(controller($T5)) }, 15),
    'and is deleted, with the controller') or diag(logs());
is(q1("SELECT content FROM messages WHERE reply_to = '$T5'"), '', 'its text is not kept');
is(q1("SELECT count(*) FROM deliveries WHERE thread_id = '$T5' AND kind IN ('edit', 'react')
    AND state = 'queued'"), '0', 'no vote is opened on the deleted controller');

# --- an archived thread: Discord allows deletes there (unless locked: t/77) ----------------
my $T6 = '300000000000000006';
new_thread($T6, 'Uninstall', 'How do I remove acme?');
answer($T6, $T6, 'apt remove acme.');
ok(RagTest::wait_for(sub { delivered($T6) && controller($T6) }, 20), 'T6 answered') or diag(logs());
my $a6 = delivered($T6);
$fd->dispatch(THREAD_UPDATE => { id => $T6, guild_id => $G, parent_id => $F, type => 11,
    thread_metadata => { archived => JSON::PP::true, locked => JSON::PP::false } });
sleep 1;
$fd->dispatch(MESSAGE_DELETE => { id => $T6, channel_id => $T6, guild_id => $G });
ok(RagTest::wait_for(sub { !on_discord($a6) && !on_discord(controller($T6)) }, 15),
    'archived: the answer and controller deleted') or diag(logs());
is(scalar(grep { ($_->{status} // 0) == 400 } deletes($a6)), 0, 'no 50083');
is(scalar($fd->rest(method => 'PATCH', path => qr{/channels/$T6$})), 0,
    'the thread was not reopened');
ok($fd->channels->{$T6}{thread_metadata}{archived}, 'and stays archived');

# --- rag-admin forget-user erases stored data only: the messages stay on Discord -------
my $W = '400000000000000009';
my $T7 = '300000000000000007';
$fd->channel(id => $T7, guild_id => $G, parent_id => $F, name => 'Proxy', owner_id => $W);
$fd->dispatch(THREAD_CREATE => { id => $T7, guild_id => $G, parent_id => $F,
    name => 'Proxy', owner_id => $W, type => 11, newly_created => JSON::PP::true });
post(thread => $T7, id => $T7, user => $W, text => 'Does acme work behind a proxy?');
answer($T7, $T7, 'Yes, set http_proxy.');
ok(RagTest::wait_for(sub { delivered($T7) && controller($T7) }, 20), 'T7 answered') or diag(logs());
my ($a7, $ctl7) = (delivered($T7), controller($T7));
my $out = do {
    local $ENV{RAG_DATABASE_URL} = $pg->{conninfo};
    `@{[RagTest::bin('rag-admin')]} forget-user $W 2>&1`;
};
is($?, 0, 'forget-user exits 0') or diag($out);
is(q1("SELECT count(*) FROM messages WHERE message_id = '$T7'"), '0', 'their question is erased here');
sleep 2;
ok(on_discord($a7) && on_discord($ctl7),
    'but their question is still on Discord, and so are the answer and controller');
is(q1("SELECT count(*) FROM deliveries WHERE kind = 'unpost' AND thread_id = '$T7'"), '0',
    'no removal recorded');

# --- nothing else -------------------------------------------------------------------------
is(q1("SELECT count(*) FROM deliveries WHERE kind = 'unpost' AND state = 'failed'"), '0',
    'no removal failed');
is(scalar(grep { ($_->{status} // 0) == 403 } $fd->rest(method => 'DELETE')), 0,
    "no DELETE of anyone else's message");
is(scalar($fd->records(kind => 'violation')), 0, 'no protocol violations')
    or diag(explain([ $fd->records(kind => 'violation') ]));
is(RagTest::stop($bot, 'TERM'), 0, 'bot exits cleanly');
done_testing();
