# Edits (issue 12), with the real rag-bot and rag-worker: a question
# edited before it is answered is answered as edited; edited after, the
# bot offers a re-answer (🔁 on the message and a notice) instead of
# staying silent or answering twice, and the author's 🔁 gets exactly one
# answer to the edit. Updates without content (embeds unfurled) and
# replays of the same edit change nothing; an edit that adds a mention
# asks the bot; a solved thread is not re-answered; deleting an edited
# question erases its re-ask too.
use strict;
use warnings;
use utf8;
use Test::More;
use JSON::PP;
use lib 't/lib';
use RagTest;
use FakeDiscord;
use WorkerTest;
binmode(Test::More->builder->$_, ':encoding(UTF-8)')
    for qw(output failure_output todo_output);

plan skip_all => 'rag-worker not built' unless -x RagTest::bin('rag-worker');
my $G = '100000000000000001';
my $F = '200000000000000001';
my ($T1, $T2, $T3) = map { "30000000000000000$_" } 1 .. 3;
my $U = '400000000000000001';
my $V = '400000000000000002';
my $REDO = "\x{1F501}";
my $pg = RagTest::pg_start();
my $ix = RagTest::tmpdir();
WorkerTest::load_corpus($pg);
WorkerTest::reindex($pg, $ix, 'acme');
RagTest::psql($pg, qq{
    INSERT INTO guild_config (guild_id) VALUES ('$G');
    INSERT INTO guild_forums VALUES ('$G', '$F', 'acme');
});
my $dir = RagTest::tmpdir();
my $fd = FakeDiscord->start(dir => $dir, guild_id => $G);
my $bot_id = $fd->{bot_id};
my $blog = "$dir/bot.log";
my $bot = RagTest::spawn([RagTest::bin('rag-bot')],
    env => $fd->bot_env($pg, RAG_INDEX_DIR => $ix), log => $blog);
ok(RagTest::wait_for(sub { $fd->state->{connected} }, 20), 'bot connected')
    or diag(RagTest::slurp($blog));

sub q1 { RagTest::psql($pg, $_[0]) }
my $wlog = '';
sub logs { RagTest::slurp($blog) . ($wlog ? RagTest::slurp($wlog) : '') }
sub post { $fd->user_message(@_) }
sub edit {
    my (%m) = @_;
    $fd->dispatch(MESSAGE_UPDATE => { channel_id => $m{thread}, guild_id => $G,
        id => $m{id}, author => { id => $m{user}, username => "u$m{user}" },
        (exists $m{text} ? (content => $m{text}) : ()),
        edited_timestamp => '2026-11-29T09:00:00.000000+00:00',
        mentions => $m{mention} ? [ { id => $bot_id } ] : [] });
}
sub new_thread {
    my ($t, $user, $title, $text) = @_;
    $fd->channel(id => $t, guild_id => $G, parent_id => $F, name => $title, owner_id => $user);
    $fd->dispatch(THREAD_CREATE => { id => $t, guild_id => $G, parent_id => $F,
        name => $title, owner_id => $user, type => 11, newly_created => JSON::PP::true });
    post(thread => $t, id => $t, user => $user, text => $text);
}
# the delivered answers to $mid (and to its re-asks), oldest first
sub answers {
    my ($t, $mid) = @_;
    my $rows = q1("SELECT coalesce(sources::text, '') FROM messages
        WHERE thread_id = '$t' AND from_bot AND discord_message_id IS NOT NULL
          AND (reply_to = '$mid' OR reply_to IN (SELECT message_id FROM messages
               WHERE edit_of = '$mid')) ORDER BY created_at");
    return grep { length } split /\n/, $rows;
}
sub reacted {
    my ($t, $mid) = @_;
    return scalar grep { ($_->{emoji} // '') eq $REDO && $_->{path} =~ m{/channels/$t/messages/$mid/} }
        $fd->rest(method => 'PUT', path => qr{/reactions/});
}
sub notices {
    my ($t) = @_;
    return scalar grep { ($_->{body}{embeds}[0]{title} // '') eq 'Question edited' }
        $fd->rest(method => 'POST', path => qr{^/api/v10/channels/$t/messages$});
}
sub react {
    my ($t, $mid, $user) = @_;
    $fd->dispatch(MESSAGE_REACTION_ADD => { channel_id => $t, message_id => $mid,
        guild_id => $G, user_id => $user, member => { roles => [] },
        emoji => { name => $REDO, id => undef } });
}

# --- edited before it is answered: answered as edited --------------------
# no worker yet: the answer job waits in the queue
new_thread($T1, $U, 'Question', 'How do I take a snapshot of the widget database?');
ok(RagTest::wait_for(sub { q1("SELECT count(*) FROM jobs WHERE kind = 'answer'
    AND payload->>'message_id' = '$T1'") eq '1' }, 20), 'stored, answer queued')
    or diag(logs());
edit(thread => $T1, id => $T1, user => $U, text => 'Which port does the acmed daemon listen on?');
ok(RagTest::wait_for(sub { q1("SELECT content FROM messages WHERE message_id = '$T1'")
    =~ /port/ }, 10), 'the edit is stored') or diag(logs());
(my $wpid, $wlog) = WorkerTest::worker($pg, index_dir => $ix, _log_dir => $dir);
ok(RagTest::wait_for(sub { answers($T1, $T1) == 1 }, 60), 'answered once') or diag(logs());
like((answers($T1, $T1))[0], qr/listen-port/, 'from the edited question (cites the port docs)');
unlike((answers($T1, $T1))[0], qr/snapshots/, 'not from the original one');
is(reacted($T1, $T1), 0, 'no re-answer offered: nothing was stale');

# --- edited after it is answered: a re-answer is offered -----------------
new_thread($T2, $U, 'Install', 'How do I install acme on debian?');
ok(RagTest::wait_for(sub { answers($T2, $T2) == 1 }, 60), 'T2 answered') or diag(logs());
edit(thread => $T2, id => $T2, user => $U, text => 'Where do the acme logs go, and how do I get verbose logging?');
ok(RagTest::wait_for(sub { reacted($T2, $T2) == 1 && notices($T2) == 1 }, 20),
    "the bot reacts $REDO on the edited question and says what it does") or diag(logs());
# a replay of the same edit, and an update without content (an embed)
edit(thread => $T2, id => $T2, user => $U, text => 'Where do the acme logs go, and how do I get verbose logging?');
edit(thread => $T2, id => $T2, user => $U);
sleep 2;
is(scalar(answers($T2, $T2)), 1, 'no second answer by itself');
is(notices($T2), 1, 'a replayed or content-less update offers nothing more');
is(q1("SELECT revision FROM messages WHERE message_id = '$T2'"), '1', 'one revision');
# someone else's 🔁 is not the author's request
react($T2, $T2, $V);
sleep 2;
is(scalar(answers($T2, $T2)), 1, "another user's $REDO asks nothing");
react($T2, $T2, $U);
ok(RagTest::wait_for(sub { answers($T2, $T2) == 2 }, 60), "the author's $REDO: answered again")
    or diag(logs());
like((answers($T2, $T2))[1], qr/logging/, 'to the edited question');
like((answers($T2, $T2))[0], qr/install-debian/, 'the first answer stays as it was');
react($T2, $T2, $U);   # again: the same revision is not answered twice
sleep 3;
is(scalar(answers($T2, $T2)), 2, "a second $REDO answers nothing twice");

# --- an edit that adds a mention asks the bot ------------------------------
my $M = '310000000000000001';
post(thread => $T2, id => $M, user => $V, text => 'same here');
sleep 1;
is(q1("SELECT count(*) FROM jobs WHERE payload->>'message_id' = '$M'"), '0',
    'a message without a mention asks nothing');
edit(thread => $T2, id => $M, user => $V, mention => 1,
    text => "<\@$bot_id> how do I take a snapshot of the widget database?");
ok(RagTest::wait_for(sub { answers($T2, $M) == 1 }, 60), 'edited to mention the bot: answered')
    or diag(logs());
# (sources the thread cited already are left out of a follow-up)
like((answers($T2, $M))[0], qr/backup#snapshots/, "about the edited text")
    or diag((answers($T2, $M))[0]);

# --- a solved thread is not re-answered ---------------------------------------
new_thread($T3, $U, 'Logs', 'How do I enable debug logging?');
ok(RagTest::wait_for(sub { answers($T3, $T3) == 1 }, 60), 'T3 answered') or diag(logs());
my $ctl = q1("SELECT thread_controller_id FROM threads WHERE thread_id = '$T3'");
ok(RagTest::wait_for(sub { $ctl = q1("SELECT thread_controller_id FROM threads
    WHERE thread_id = '$T3'"); length $ctl }, 20), 'controller posted');
$fd->dispatch(MESSAGE_REACTION_ADD => { channel_id => $T3, message_id => $ctl,
    guild_id => $G, user_id => $U, member => { roles => [] }, emoji => { name => '✅', id => undef } });
ok(RagTest::wait_for(sub { q1("SELECT solved FROM threads WHERE thread_id = '$T3'") eq 't' }, 10),
    'solved');
edit(thread => $T3, id => $T3, user => $U, text => 'How do I change the listen port?');
ok(RagTest::wait_for(sub { q1("SELECT content FROM messages WHERE message_id = '$T3'")
    =~ /listen port/ }, 10), 'the edit is stored');
sleep 2;
is(reacted($T3, $T3) + notices($T3), 0, 'but no re-answer is offered in a solved thread');

# --- deleting an edited question erases its re-ask ------------------------------
$fd->dispatch(MESSAGE_DELETE => { id => $T2, channel_id => $T2, guild_id => $G });
ok(RagTest::wait_for(sub { q1("SELECT count(*) FROM messages WHERE message_id = '$T2'
    OR edit_of = '$T2'") eq '0' }, 10), 'MESSAGE_DELETE: the question and its re-ask are gone');
is(q1("SELECT count(*) FROM messages WHERE thread_id = '$T2' AND from_bot
    AND (content LIKE '%logging%' OR sources IS NOT NULL)
    AND reply_to IN ('$T2', 'edit-1-$T2')"), '0', 'and the text of both answers');

is(scalar($fd->records(kind => 'violation')), 0, 'no protocol violations')
    or diag(explain([ $fd->records(kind => 'violation') ]));
is(RagTest::stop($bot, 'TERM'), 0, 'bot exits cleanly');
RagTest::stop($wpid, 'TERM');
done_testing();
