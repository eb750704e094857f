# Deletes and erasure (issue 12): what is deleted on Discord is deleted
# here with everything derived from it, as Discord's developer terms
# require. With the real rag-bot and rag-worker: MESSAGE_DELETE,
# MESSAGE_DELETE_BULK, THREAD_DELETE, GUILD_DELETE (the bot removed from a
# guild; an outage's GUILD_DELETE with unavailable = true erases nothing)
# and `rag-admin forget-user USER_ID`. Each case plants a marker word in
# what users write; after the erasure no text, json or array column of
# any table holds it, the community-answers index file written next
# lacks it, and the logs never had it. What was not deleted stays.
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
my $G2 = '100000000000000002';
my $F2 = '200000000000000002';
my ($T1, $T2, $T3, $T4, $T5) = map { "30000000000000000$_" } 1 .. 5;
my $U = '400000000000000001';    # asks in T1, solves nothing
my $U2 = '400000000000000002';   # asks T2 and solves it
my $V = '400000000000000003';    # chats in T1
my $W = '400000000000000004';    # asks to be forgotten
my $pg = RagTest::pg_start();
my $ix = RagTest::tmpdir();
WorkerTest::load_corpus($pg);
WorkerTest::reindex($pg, $ix, 'acme');
RagTest::psql($pg, qq{
    INSERT INTO guild_config (guild_id) VALUES ('$G'), ('$G2');
    INSERT INTO guild_forums VALUES ('$G', '$F', 'acme'), ('$G2', '$F2', 'acme');
});
my $dir = RagTest::tmpdir();
my $fd = FakeDiscord->start(dir => $dir, guild_id => $G);
my $bot_id = $fd->{bot_id};
my $blog = "$dir/bot.log";
my $bot = RagTest::spawn([RagTest::bin('rag-bot')],
    env => $fd->bot_env($pg, RAG_INDEX_DIR => $ix), log => $blog);
my ($wpid, $wlog) = WorkerTest::worker($pg, index_dir => $ix, _log_dir => $dir);
ok(RagTest::wait_for(sub { $fd->state->{connected} }, 20), 'bot connected')
    or diag(RagTest::slurp($blog));

sub q1 { RagTest::psql($pg, $_[0]) }
sub logs { RagTest::slurp($blog) . RagTest::slurp($wlog) }

# Every text, json and array column of every table, and the rows of each
# holding $marker (case-insensitive: stems and lowercased copies count).
my $ncols = () = RagTest::text_columns($pg);
ok($ncols > 40, "$ncols text/json/array columns to search");
sub holders { RagTest::holders($pg, $_[0]) }
sub idx_file { my ($g) = @_; RagTest::slurp("$ix/community-$g.idx") }
sub generation {
    my ($g) = @_;
    my $v = q1("SELECT index_generation FROM collections WHERE name = 'community-$g'");
    return length $v ? $v : 0;
}

sub post { $fd->user_message(@_) }
sub new_thread {
    my ($t, $g, $f, $user, $title, $text) = @_;
    $fd->channel(id => $t, guild_id => $g, parent_id => $f, name => $title, owner_id => $user);
    $fd->dispatch(THREAD_CREATE => { id => $t, guild_id => $g, parent_id => $f,
        name => $title, owner_id => $user, type => 11, newly_created => JSON::PP::true });
    post(thread => $t, guild => $g, id => $t, user => $user, text => $text);
}
sub answered {
    my ($t, $mid) = @_;
    q1("SELECT count(*) FROM messages WHERE thread_id = '$t' AND reply_to = '$mid'
        AND from_bot AND processed AND discord_message_id IS NOT NULL") eq '1';
}
sub solve {
    my ($t, $g, $user) = @_;
    my $ctl = q1("SELECT thread_controller_id FROM threads WHERE thread_id = '$t'");
    $fd->dispatch(MESSAGE_REACTION_ADD => { channel_id => $t, message_id => $ctl,
        guild_id => $g, user_id => $user, member => { roles => [] },
        emoji => { name => '✅', id => undef } });
}

# --- the content, through the real bot and worker ----------------------------
new_thread($T1, $G, $F, $U, 'Snapshots?', 'How do I take a snapshot of the widget database?');
my $DEL = '310000000000000001';
post(thread => $T1, id => $DEL, user => $U, mention => 1,
    text => "<\@$bot_id> zqxdelone which port does the acmed daemon listen on?");
my @BULK = ('310000000000000003', '310000000000000004');
post(thread => $T1, id => $BULK[0], user => $V, text => 'zqxbulkone thanks, that helps');
post(thread => $T1, id => $BULK[1], user => $V, text => 'zqxbulktwo me too');
my $WMSG = '310000000000000005';
post(thread => $T1, id => $WMSG, user => $W, text => 'zqxforget same problem here');
new_thread($T2, $G, $F, $U2, 'zqxthread title', 'zqxthread how do I install acme on debian?');
new_thread($T3, $G, $F, $W, 'zqxforget logging', 'zqxforget how do I enable debug logging?');
# off-topic: the answer abstains and leaves a gap (its own post, so the
# thread's other turns do not steer retrieval)
my $GAP = $T5;
new_thread($T5, $G, $F, $U, 'Weather', 'zqxgapone will it rain in Paris tomorrow?');
new_thread($T4, $G2, $F2, $U, 'zqxguild source build', 'zqxguild how do I build acme from source?');
# /ask through the module's interactions endpoint (deferred, then queued)
RagTest::psql($pg, qq{INSERT INTO interactions (interaction_id, application_id, token,
    guild_id, channel_id, user_id, command, options) VALUES ('720000000000000001',
    '$fd->{app_id}', 'asktok', '$G', '$T3', '$W', 'ask',
    '{"name": "ask", "options": [{"name": "question", "type": 3,
      "value": "zqxforget where do the logs go?"}]}')});
ok(RagTest::wait_for(sub { answered($T1, $T1) && answered($T1, $DEL) && answered($T5, $GAP)
    && answered($T2, $T2) && answered($T3, $T3) && answered($T4, $T4) }, 60),
    'questions answered') or diag(logs());
ok(RagTest::wait_for(sub { answered($T3, 'ask-720000000000000001') }, 30),
    'the deferred /ask answered too') or diag(logs());
is(q1("SELECT count(*) FROM gaps WHERE message_id = '$GAP'"), '1',
    'the off-topic question left a gap');
my $ctl1 = q1("SELECT thread_controller_id FROM threads WHERE thread_id = '$T1'");
$fd->dispatch(MESSAGE_REACTION_ADD => { channel_id => $T1, message_id => $ctl1,
    guild_id => $G, user_id => $W, member => { roles => [] }, emoji => { name => '❌', id => undef } });
solve($T2, $G, $U2);
solve($T4, $G2, $U);
ok(RagTest::wait_for(sub { idx_file($G) =~ /zqxthread/ && idx_file($G2) =~ /zqxguild/
    && q1("SELECT failed_votes FROM threads WHERE thread_id = '$T1'") eq '1' }, 40),
    'solved threads are in the community indexes; the vote is counted') or diag(logs());
for my $m (qw(zqxdelone zqxgapone zqxbulkone zqxbulktwo zqxthread zqxforget zqxguild)) {
    ok(holders($m), "before: $m is stored (" . holders($m) . ')');
}

# --- MESSAGE_DELETE -------------------------------------------------------------
my $ans_del = q1("SELECT discord_message_id FROM messages WHERE reply_to = '$DEL'");
$fd->dispatch(MESSAGE_DELETE => { id => $DEL, channel_id => $T1, guild_id => $G });
ok(RagTest::wait_for(sub { holders('zqxdelone') eq '' }, 10), 'MESSAGE_DELETE: the text is gone')
    or diag(holders('zqxdelone'));
is(q1("SELECT content || '|' || coalesce(sources::text, 'null') || '|' || discord_message_id
    FROM messages WHERE reply_to = '$DEL'"), "|null|$ans_del",
    'its answer stays recorded as delivered, without text or sources');
is(q1("SELECT count(*) FROM jobs WHERE payload->>'message_id' = '$DEL'"), '0',
    'its answer job is gone');
$fd->dispatch(MESSAGE_DELETE => { id => $GAP, channel_id => $T5, guild_id => $G });
ok(RagTest::wait_for(sub { holders('zqxgapone') eq '' }, 10),
    'a deleted starter message: gone, and the gap it left')
    or diag(holders('zqxgapone'));
# a replayed MESSAGE_CREATE (a RESUME, a catch-up page) does not bring it back
post(thread => $T1, id => $DEL, user => $U, mention => 1,
    text => "<\@$bot_id> zqxdelone which port does the acmed daemon listen on?");
sleep 1;
is(holders('zqxdelone'), '', 'a replayed create is not stored again');
is(q1("SELECT count(*) FROM jobs WHERE payload->>'message_id' = '$DEL'"), '0', 'nor answered');

# --- MESSAGE_DELETE_BULK ------------------------------------------------------------
$fd->dispatch(MESSAGE_DELETE_BULK => { ids => \@BULK, channel_id => $T1, guild_id => $G });
ok(RagTest::wait_for(sub { holders('zqxbulkone') eq '' && holders('zqxbulktwo') eq '' }, 10),
    'MESSAGE_DELETE_BULK: both gone');
is(q1("SELECT count(*) FROM messages WHERE message_id = '$T1' AND content LIKE 'How do I take%'"),
    '1', 'the rest of the thread stays');

# --- THREAD_DELETE, and the community index -----------------------------------------
my $gen = generation($G);
$fd->dispatch(THREAD_DELETE => { id => $T2, guild_id => $G, parent_id => $F, type => 11 });
ok(RagTest::wait_for(sub { holders('zqxthread') eq '' }, 10), 'THREAD_DELETE: the thread is gone')
    or diag(holders('zqxthread'));
ok(RagTest::wait_for(sub { generation($G) > $gen && idx_file($G) !~ /zqxthread/ }, 30),
    'the next community index generation lacks it (' . generation($G) . " > $gen)")
    or diag(logs());
is(q1("SELECT count(*) FROM threads WHERE thread_id = '$T2'"), '0', 'no thread row');

# --- rag-admin forget-user --------------------------------------------------------------
my $out = do {
    local $ENV{RAG_DATABASE_URL} = $pg->{conninfo};
    `@{[RagTest::bin('rag-admin')]} forget-user $W 2>&1`;
};
is($?, 0, 'forget-user exits 0') or diag($out);
like($out, qr/messages=3\b.*threads=1\b.*votes=1\b.*commands=1\b/,
    'and says what it erased') or diag($out);
ok(RagTest::wait_for(sub { holders('zqxforget') eq '' }, 5), 'forget-user: their text is gone')
    or diag(holders('zqxforget'));
is(holders($W), '', 'and their id');
is(q1("SELECT failed_votes FROM threads WHERE thread_id = '$T1'"), '0',
    'their vote no longer counts');
is(q1("SELECT count(*) FROM threads WHERE thread_id = '$T3'"), '1',
    'the thread they opened stays, for the others in it');
my $bad = `@{[RagTest::bin('rag-admin')]} forget-user 'x; DROP' 2>&1`;
is($? >> 8, 2, 'a user id that is not a snowflake is refused') or diag($bad);

# --- GUILD_DELETE ----------------------------------------------------------------------
$fd->dispatch(GUILD_DELETE => { id => $G2, unavailable => JSON::PP::true });
sleep 1;
ok(holders('zqxguild') ne '', 'an outage (unavailable) erases nothing');
my $gen2 = generation($G2);
$fd->dispatch(GUILD_DELETE => { id => $G2 });
ok(RagTest::wait_for(sub { holders('zqxguild') eq '' }, 10),
    'GUILD_DELETE (removed from the guild): its content is gone') or diag(holders('zqxguild'));
ok(RagTest::wait_for(sub { generation($G2) > $gen2 && idx_file($G2) !~ /zqxguild/ }, 30),
    'its community index is rebuilt without it') or diag(logs());
is(q1("SELECT count(*) FROM threads WHERE guild_id = '$G2'"), '0', 'no thread of it left');
is(q1("SELECT count(*) FROM guild_config WHERE guild_id = '$G2'"), '1',
    "the operator's configuration stays");
is(q1("SELECT count(*) FROM threads WHERE guild_id = '$G'"), '3', 'the other guild is untouched');

# --- nothing was ever logged ---------------------------------------------------------------
for my $m (qw(zqxdelone zqxgapone zqxbulkone zqxbulktwo zqxthread zqxforget zqxguild)) {
    unlike(logs(), qr/$m/i, "$m never logged");
}
is(scalar($fd->records(kind => 'violation')), 0, 'no protocol violations')
    or diag(explain([ $fd->records(kind => 'violation') ]));
is(RagTest::stop($bot, 'TERM'), 0, 'bot exits cleanly');
done_testing();
