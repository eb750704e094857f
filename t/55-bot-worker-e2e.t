# The whole loop with the real programs: a forum post arrives over the
# (stand-in) gateway, rag-bot stores it, the SQL trigger enqueues the
# job, rag-worker answers it from the index (extractively, no LLM), and
# rag-bot delivers the reply once with its sources, then a mention in
# the thread gets a second answer.
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
my $U = '400000000000000001';
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
my $bot = RagTest::spawn([RagTest::bin('rag-bot')],
    env => $fd->bot_env($pg, RAG_INDEX_DIR => $ix), log => "$dir/bot.log");
my ($wpid, $wlog) = WorkerTest::worker($pg, index_dir => $ix, _log_dir => $dir);
ok(RagTest::wait_for(sub { $fd->state->{connected} }, 20), 'bot connected');

$fd->channel(id => $T, guild_id => $G, parent_id => $F, name => 'Snapshots?',
    owner_id => $U);
$fd->dispatch(THREAD_CREATE => { id => $T, guild_id => $G, parent_id => $F,
    name => 'Snapshots?', owner_id => $U, type => 11 });
$fd->dispatch(MESSAGE_CREATE => { id => $T, channel_id => $T, guild_id => $G,
    author => { id => $U }, content => 'How do I take a snapshot of the widget database?',
    mentions => [] });

sub answers { grep { ($_->{body}{embeds}[0]{title} // '') =~ /^(Help Response|Not in the docs)$/ }
    $fd->rest(method => 'POST', path => qr{/channels/$T/messages$}) }
ok(RagTest::wait_for(sub { scalar(answers()) >= 1 }, 30), 'answer posted in the thread')
    or diag(RagTest::slurp("$dir/bot.log") . RagTest::slurp($wlog));
my ($a) = answers();
like($a->{body}{embeds}[0]{description}, qr/acmectl snapshot create/, 'answer quotes the docs');
my ($src) = grep { ($_->{title} // '') eq 'Sources' } @{ $a->{body}{embeds} };
like($src->{description} // '', qr{\(<https://docs\.acme\.test/backup#snapshots>\) · \d+%},
    'sources embed with the link and a percentage');
ok(RagTest::wait_for(sub { RagTest::psql($pg, "SELECT count(*) FROM messages
    WHERE from_bot AND processed AND discord_message_id IS NOT NULL") eq '1' }, 10),
    'reply marked delivered');
my $ctl = RagTest::psql($pg, "SELECT thread_controller_id FROM threads");
ok(RagTest::wait_for(sub { my ($e) = reverse $fd->rest(method => 'PATCH', path => qr{/messages/$ctl$});
    $e && $e->{body}{embeds}[0]{description} =~ /can vote/ }, 10), 'controller edited');

$fd->dispatch(MESSAGE_CREATE => { id => '310000000000000001', channel_id => $T,
    guild_id => $G, author => { id => $U }, mentions => [ { id => $bot_id } ],
    content => "<\@$bot_id> which port does the acmed daemon listen on?" });
ok(RagTest::wait_for(sub { scalar(answers()) >= 2 }, 30), 'mention answered')
    or diag(RagTest::slurp($wlog));
like((answers())[1]{body}{embeds}[0]{description}, qr/7070/, 'second answer on topic');
sleep 1;
is(scalar(answers()), 2, 'each answer posted once');
is(scalar $fd->records(kind => 'violation'), 0, 'no violations');
done_testing();
