# A deleted starter message takes the thread's title with it (issue 12).
# In a forum the title is the first line of the question, written by the
# same person; when they delete the question, Discord's developer policy
# asks that their content be deleted here too. With the real rag-bot and
# rag-worker: the title is cleared from the threads row, the solved
# thread's community-answers document goes and the next index generation
# lacks it, a later THREAD_UPDATE (a rename, an archive) does not bring
# the title back, the controller and answer are removed from Discord
# (t/74), and the thread itself stays for the others in it. The title's
# marker word is then in no text, json or array column of any table
# (t/71's check), nor in any log. A thread whose starter is kept keeps
# its title.
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
my ($wpid, $wlog) = WorkerTest::worker($pg, index_dir => $ix, _log_dir => $dir);
ok(RagTest::wait_for(sub { $fd->state->{connected} }, 20), 'bot connected')
    or diag(RagTest::slurp($blog));

sub q1 { RagTest::psql($pg, $_[0]) }
sub logs { RagTest::slurp($blog) . RagTest::slurp($wlog) }
sub holders { RagTest::holders($pg, $_[0]) }
sub idx_file { RagTest::slurp("$ix/community-$G.idx") }
sub generation {
    my $v = q1("SELECT index_generation FROM collections WHERE name = 'community-$G'");
    return length $v ? $v : 0;
}
sub new_thread {
    my ($t, $user, $title, $text) = @_;
    $fd->channel(id => $t, guild_id => $G, parent_id => $F, name => $title, owner_id => $user);
    $fd->dispatch(THREAD_CREATE => { id => $t, guild_id => $G, parent_id => $F,
        name => $title, owner_id => $user, type => 11, newly_created => JSON::PP::true });
    $fd->dispatch(MESSAGE_CREATE => { channel_id => $t, guild_id => $G, id => $t,
        author => { id => $user, username => "u$user" }, content => $text, mentions => [] });
}
sub answered {
    my ($t) = @_;
    q1("SELECT count(*) FROM messages WHERE reply_to = '$t' AND from_bot
        AND discord_message_id IS NOT NULL") eq '1'
        && q1("SELECT thread_controller_id IS NOT NULL FROM threads
               WHERE thread_id = '$t'") eq 't';
}
sub title { q1("SELECT title FROM threads WHERE thread_id = '$_[0]'") }

# T1 solved (its title in the community index), T2 open, T3 kept
new_thread($T1, $U, 'zqxsolvedtitle debian install', 'How do I install acme on debian?');
new_thread($T2, $U, 'zqxopentitle daemon port', 'Which port does the acmed daemon listen on?');
new_thread($T3, $V, 'zqxkepttitle snapshots', 'How do I take a snapshot of the widget database?');
ok(RagTest::wait_for(sub { answered($T1) && answered($T2) && answered($T3) }, 60),
    'answered') or diag(logs());
my $ctl1 = q1("SELECT thread_controller_id FROM threads WHERE thread_id = '$T1'");
$fd->dispatch(MESSAGE_REACTION_ADD => { channel_id => $T1, message_id => $ctl1,
    guild_id => $G, user_id => $U, member => { roles => [] },
    emoji => { name => '✅', id => undef } });
ok(RagTest::wait_for(sub { idx_file() =~ /zqxsolvedtitle/ }, 40),
    'the solved thread is in the community index, with its title') or diag(logs());
like(holders('zqxopentitle'), qr/threads\.title/, 'the open one has its title stored');

# --- the starters are deleted ---------------------------------------------------------
my $gen = generation();
$fd->dispatch(MESSAGE_DELETE => { id => $T1, channel_id => $T1, guild_id => $G });
$fd->dispatch(MESSAGE_DELETE => { id => $T2, channel_id => $T2, guild_id => $G });
ok(RagTest::wait_for(sub { title($T1) eq '' && title($T2) eq '' }, 10),
    'their titles are cleared') or diag(logs());
is(q1("SELECT count(*) FROM threads WHERE thread_id IN ('$T1', '$T2')"), '2',
    'the threads stay, for the others in them');
ok(RagTest::wait_for(sub { generation() > $gen && idx_file() !~ /zqxsolvedtitle/ }, 40),
    'the next community index generation lacks the title (' . generation() . " > $gen)")
    or diag(logs());
# a rename or an archive after the delete carries the name again
$fd->dispatch(THREAD_UPDATE => { id => $T2, guild_id => $G, parent_id => $F, type => 11,
    name => 'zqxopentitle daemon port (renamed)',
    thread_metadata => { archived => JSON::PP::false, locked => JSON::PP::false } });
$fd->dispatch(THREAD_UPDATE => { id => $T1, guild_id => $G, parent_id => $F, type => 11,
    name => 'zqxsolvedtitle debian install',
    thread_metadata => { archived => JSON::PP::true, locked => JSON::PP::false } });
sleep 2;
is(title($T2), '', 'a THREAD_UPDATE does not bring the title back');
is(holders('zqxsolvedtitle'), '', 'the solved title is in no table');
is(holders('zqxopentitle'), '', 'nor the open one');
ok(RagTest::wait_for(sub { !grep { $_->{channel_id} =~ /^($T1|$T2)$/ }
    values %{ $fd->messages } }, 15), "the bot's messages there are deleted (t/74)")
    or diag(logs());
is(title($T3), 'zqxkepttitle snapshots', 'a thread whose starter stays keeps its title');
unlike(logs(), qr/zqx(solved|open)title/, 'the titles were never logged');
is(scalar($fd->records(kind => 'violation')), 0, 'no protocol violations')
    or diag(explain([ $fd->records(kind => 'violation') ]));
is(RagTest::stop($bot, 'TERM'), 0, 'bot exits cleanly');
RagTest::stop($wpid, 'TERM');
done_testing();
