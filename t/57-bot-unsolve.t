# Removing a ✅ (issue 12, item 1): the author marks a thread solved
# with ✅, a mention in the solved thread is stored but not answered,
# then the author takes the ✅ back: the thread is unsolved, the
# controller says so, and the next mention is answered by the real
# worker and delivered. Another user's ✅ removal is only a vote.
use strict;
use warnings;
use utf8;
use Test::More;
use lib 't/lib';
use RagTest;
use FakeDiscord;
use WorkerTest;
binmode(Test::More->builder->$_, ':encoding(UTF-8)')
    for qw(output failure_output todo_output);

plan skip_all => 'rag-worker not built' unless -x RagTest::bin('rag-worker');
my $G = '100000000000000001';
my $F = '200000000000000001';
my $T = '300000000000000001';
my $U = '400000000000000001';   # the author
my $V = '400000000000000002';   # someone else
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
my $log = "$dir/bot.log";
my $bot = RagTest::spawn([RagTest::bin('rag-bot')],
    env => $fd->bot_env($pg, RAG_INDEX_DIR => $ix), log => $log);
my ($wpid, $wlog) = WorkerTest::worker($pg, index_dir => $ix, _log_dir => $dir);
ok(RagTest::wait_for(sub { $fd->state->{connected} }, 20), 'bot connected');

sub answers { grep { ($_->{body}{embeds}[0]{title} // '') =~ /^(Help Response|Not in the docs)$/ }
    $fd->rest(method => 'POST', path => qr{/channels/$T/messages$}) }
sub thread { RagTest::psql($pg, "SELECT $_[0] FROM threads WHERE thread_id = '$T'") }
sub react {
    my ($t, $user) = @_;
    # MESSAGE_REACTION_REMOVE carries no member object (gateway docs)
    $fd->dispatch($t => { user_id => $user, channel_id => $T,
        message_id => thread('thread_controller_id'), guild_id => $G,
        emoji => { id => undef, name => '✅' }, burst => JSON::PP::false, type => 0,
        ($t eq 'MESSAGE_REACTION_ADD' ? (member => { roles => [], user => { id => $user } }) : ()) });
}
my $n = 0;
sub mention {
    my ($text) = @_;
    my $id = '31000000000000000' . ++$n;
    $fd->dispatch(MESSAGE_CREATE => { id => $id, channel_id => $T, guild_id => $G,
        author => { id => $U }, mentions => [ { id => $bot_id } ],
        content => "<\@$bot_id> $text" });
    return $id;
}

$fd->channel(id => $T, guild_id => $G, parent_id => $F, name => 'Install?',
    owner_id => $U);
$fd->dispatch(THREAD_CREATE => { id => $T, guild_id => $G, parent_id => $F,
    name => 'Install?', owner_id => $U, type => 11 });
$fd->dispatch(MESSAGE_CREATE => { id => $T, channel_id => $T, guild_id => $G,
    author => { id => $U }, content => 'How do I install Acme Widget on Debian?',
    mentions => [] });
ok(RagTest::wait_for(sub { scalar(answers()) == 1 }, 30), 'the question is answered')
    or diag(RagTest::slurp($log) . RagTest::slurp($wlog));
my $ctl = thread('thread_controller_id');
ok($ctl, 'controller recorded');

# --- solved by the author's ✅ ------------------------------------------------
react(MESSAGE_REACTION_ADD => $U);
ok(RagTest::wait_for(sub { thread('solved') eq 't' }, 5), "author's ✅ solves")
    or diag('author_id=' . thread('author_id') . "\n" . RagTest::slurp($log));
my $m1 = mention('one more thing: which port?');
ok(RagTest::wait_for(sub { RagTest::psql($pg,
    "SELECT count(*) FROM messages WHERE message_id = '$m1'") eq '1' }, 5),
    'a mention in the solved thread is stored');
sleep 2;
is(RagTest::psql($pg, "SELECT count(*) FROM jobs WHERE payload->>'message_id' = '$m1'"), '0',
    'but not answered while solved');

# --- another user's ✅ removed: a vote, not an unsolve ---------------------------
react(MESSAGE_REACTION_ADD => $V);
ok(RagTest::wait_for(sub { thread('solved_votes') eq '2' }, 5), "a bystander's ✅ counts");
react(MESSAGE_REACTION_REMOVE => $V);
ok(RagTest::wait_for(sub { thread('solved_votes') eq '1' }, 5), 'and its removal too');
is(thread('solved'), 't', 'the thread stays solved');

# --- the author takes the ✅ back -------------------------------------------------
react(MESSAGE_REACTION_REMOVE => $U);
ok(RagTest::wait_for(sub { thread('solved') eq 'f' }, 5), "removing the author's ✅ unsolves")
    or diag(RagTest::slurp($log));
is(thread('solved_votes'), '0', 'vote count follows');
is(RagTest::psql($pg, "SELECT count(*) FROM feedback WHERE thread_id = '$T'"), '0',
    'feedback row removed');
ok(RagTest::wait_for(sub { my ($e) = reverse $fd->rest(method => 'PATCH', path => qr{/messages/$ctl$});
    $e && grep { ($_->{description} // '') =~ /no\s+longer is/ } @{ $e->{body}{embeds} } }, 5),
    'the controller says it is no longer solved');
unlike(RagTest::slurp($log), qr/query failed/, 'no failed statement in the log');

my $m2 = mention('which port does the acmed daemon listen on?');
ok(RagTest::wait_for(sub { scalar(answers()) == 2 }, 30), 'the next mention is answered')
    or diag(RagTest::slurp($log) . RagTest::slurp($wlog));
my @a = answers();
like(@a > 1 ? $a[1]{body}{embeds}[0]{description} : '', qr/7070/, 'on topic');
is(RagTest::psql($pg, "SELECT count(*) FROM jobs WHERE payload->>'message_id' = '$m2'"), '1',
    'one job for it');
is(scalar $fd->records(kind => 'violation'), 0, 'no violations')
    or diag(explain([ $fd->records(kind => 'violation') ]));
done_testing();
