# Sharding (issue 12): two rag-bot processes, each running two of four
# gateway shards, on one Postgres, with the real rag-worker, against a
# stand-in that routes each guild's events to its shard's session only
# ((guild_id >> 22) % 4), recommends 4 shards with max_concurrency 2 from
# GET /gateway/bot, refuses a bad shard (4010) and an IDENTIFY inside its
# bucket's 5 s window. Posts in four guilds, one per shard: each is
# answered exactly once, by the process owning its guild. Then one
# process is kill -9'd with answers pending for its guilds: the other does
# not deliver them; restarted, it waits for its dead lease, identifies
# again, catches up what was posted meanwhile and delivers each once.
# Finally 4011: a single process with too few shards, in auto mode,
# restarts itself with the count Discord recommends.
use strict;
use warnings;
use Test::More;
use JSON::PP;
use lib 't/lib';
use RagTest;
use FakeDiscord;
use WorkerTest;

plan skip_all => 'rag-worker not built' unless -x RagTest::bin('rag-worker');
my $N = 4;
my @G = map { ((1_000_000 * $N + $_) << 22) . '' } 0 .. $N - 1;   # guild k on shard k
my @F = map { "20000000000000000$_" } 0 .. $N - 1;
my $U = '400000000000000001';
my $pg = RagTest::pg_start();
my $ix = RagTest::tmpdir();
WorkerTest::load_corpus($pg);
WorkerTest::reindex($pg, $ix, 'acme');
RagTest::psql($pg, join '', map {
    "INSERT INTO guild_config (guild_id) VALUES ('$G[$_]');
     INSERT INTO guild_forums VALUES ('$G[$_]', '$F[$_]', 'acme');" } 0 .. $N - 1);
my $dir = RagTest::tmpdir();
my $fd = FakeDiscord->start(dir => $dir, guild_id => $G[0], guild_ids => \@G,
    shards => $N, max_concurrency => 2);
my $bot_id = $fd->{bot_id};

sub q1 { RagTest::psql($pg, $_[0]) }
my %log = (A => "$dir/botA.log", B => "$dir/botB.log");
my %shards = (A => '0,1', B => '2,3');
sub start_bot {
    my ($name, $n) = @_;
    return RagTest::spawn([RagTest::bin('rag-bot')],
        env => $fd->bot_env($pg, RAG_INDEX_DIR => $ix, RAG_SHARD_COUNT => $N,
            RAG_SHARDS => $shards{$name}), log => $log{$name} . ($n // ''));
}
my ($wpid, $wlog) = WorkerTest::worker($pg, index_dir => $ix, _log_dir => $dir);
my %bot = (A => start_bot('A'), B => start_bot('B'));
sub logs { join '', map { RagTest::slurp($_) } glob("$dir/bot*.log*"), $wlog }
ok(RagTest::wait_for(sub { $fd->state->{connected} == $N }, 40),
    "$N shard sessions") or diag(logs());
my @ids = map { $_->{shard} } grep { $_->{op} == 2 } $fd->records(kind => 'gw');
is_deeply([ sort map { join '/', @$_ } @ids ], [ map { "$_/$N" } 0 .. $N - 1 ],
    'one IDENTIFY per shard, each with [id, 4]');
is(q1("SELECT string_agg(shard_id::text, ',' ORDER BY shard_id)
    FROM bot_shards WHERE shard_count = $N"), '0,1,2,3', 'four shard leases');
is(q1("SELECT count(DISTINCT owner) FROM bot_shards"), '2', 'held by two processes');

my $tseq = 0;
sub post_thread {
    my ($k, $text) = @_;
    my $t = '3000000000000' . sprintf('%05d', ++$tseq);
    $fd->forum_post(id => $t, guild => $G[$k], forum => $F[$k], user => $U,
        username => 'asker', text => $text);
    return $t;
}
sub delivered {
    my ($t) = @_;
    q1("SELECT count(*) FROM messages WHERE thread_id = '$t' AND reply_to = '$t'
        AND from_bot AND discord_message_id IS NOT NULL");
}
sub stored { q1("SELECT count(*) FROM messages WHERE message_id = '$_[0]'") }
# "reply delivered" lines for a thread in each process's logs
sub deliveries_by {
    my ($t) = @_;
    my %n;
    for my $f (glob("$dir/bot*.log*")) {
        my ($who) = $f =~ /bot(\w)\.log/;
        $n{$who} += () = RagTest::slurp($f) =~ /msg="reply delivered" thread=$t /g;
    }
    return join ',', map { "$_=$n{$_}" } grep { $n{$_} } sort keys %n;
}
sub owner_of { my ($k) = @_; $k < 2 ? 'A' : 'B' }

# --- both alive: each guild answered once, by its shard's process ------------
my @t1 = map { post_thread($_, 'How do I install acme on debian?') } 0 .. $N - 1;
ok(RagTest::wait_for(sub { !grep { delivered($_) ne '1' } @t1 }, 60), 'all four answered')
    or diag(logs());
for my $k (0 .. $N - 1) {
    is(deliveries_by($t1[$k]), owner_of($k) . '=1', "guild on shard $k: delivered once, by "
        . owner_of($k));
}

# --- kill -9 B with answers pending for its guilds ------------------------------
is(RagTest::stop($wpid, 'TERM'), 0, 'worker paused');
my @t2 = map { post_thread($_, 'Which port does the acmed daemon listen on?') } 0 .. $N - 1;
ok(RagTest::wait_for(sub { !grep { stored($_) ne '1' } @t2 }, 20), 'stored by both processes')
    or diag(logs());
kill 'KILL', $bot{B};
waitpid($bot{B}, 0);
my $t3 = post_thread(3, 'How do I take a snapshot of the widget database?');  # B is away
($wpid, $wlog) = WorkerTest::worker($pg, index_dir => $ix, _log_dir => $dir);
ok(RagTest::wait_for(sub { delivered($t2[0]) eq '1' && delivered($t2[1]) eq '1' }, 60),
    "A's guilds answered") or diag(logs());
ok(RagTest::wait_for(sub { q1("SELECT count(*) FROM messages WHERE from_bot
    AND reply_to IN ('$t2[2]', '$t2[3]')") eq '2' }, 60), "B's answers written") or diag(logs());
sleep 4;   # past B's lease: A still must not deliver them
is(delivered($t2[2]) + delivered($t2[3]), 0, "A does not deliver B's guilds' answers");
is(stored($t3), '0', 'nor did it see the post made while B was away');

$bot{B} = start_bot('B', '.2');
ok(RagTest::wait_for(sub { delivered($t2[2]) eq '1' && delivered($t2[3]) eq '1' }, 60),
    'B restarted: its pending answers delivered') or diag(logs());
ok(RagTest::wait_for(sub { delivered($t3) eq '1' }, 60),
    'and the post made while it was away, caught up and answered') or diag(logs());
sleep 2;
for my $t (@t1, @t2, $t3) {
    is(delivered($t), '1', "thread $t: one reply");
}
for my $k (0 .. $N - 1) {
    is(deliveries_by($t2[$k]), owner_of($k) . '=1', "second round, shard $k: by "
        . owner_of($k) . ' only, once');
}
# as users see it: one message per nonce in every thread
my %created;
$created{ $_->{path} . ' ' . ($_->{body}{nonce} // '') }++
    for grep { $_->{created} } $fd->rest(method => 'POST', path => qr{/messages$});
is(scalar(grep { $_ > 1 } values %created), 0, 'no nonce posted twice');
is(scalar(grep { $_->{what} =~ /IDENTIFY/ } $fd->records(kind => 'violation')), 0,
    'identify buckets respected (max_concurrency 2, 5 s)');
is(scalar($fd->records(kind => 'violation')), 0, 'no protocol violations')
    or diag(explain([ $fd->records(kind => 'violation') ]));
is(RagTest::stop($bot{A}, 'TERM'), 0, 'A exits cleanly');
is(RagTest::stop($bot{B}, 'TERM'), 0, 'B exits cleanly');
is(q1("SELECT count(*) FROM bot_shards WHERE lease_until > now()"), '0',
    'and gives its shards up (their leases end now)');

# --- 4011: auto mode restarts with the recommended count ------------------------
my $dir2 = RagTest::tmpdir();
my $fd2 = FakeDiscord->start(dir => $dir2, guild_id => $G[0], guild_ids => \@G);
my $log2 = "$dir2/bot.log";
my $b2 = RagTest::spawn([RagTest::bin('rag-bot')],
    env => $fd2->bot_env($pg, RAG_INDEX_DIR => $ix), log => $log2);
ok(RagTest::wait_for(sub { $fd2->state->{connected} }, 20), 'one process, unsharded')
    or diag(RagTest::slurp($log2));
is(scalar(grep { $_->{op} == 2 && $_->{shard}[1] == 1 } $fd2->records(kind => 'gw')), 1,
    'IDENTIFY without shards (1 recommended)');
# the bot outgrew one shard: Discord now recommends 2 and closes with 4011
$fd2->fault(shards => 2, min_shards => 2, close => 4011);
ok(RagTest::wait_for(sub { $fd2->state->{connected} == 2 }, 40),
    '4011: restarted with the 2 shards /gateway/bot recommends') or diag(RagTest::slurp($log2));
like(RagTest::slurp($log2), qr/requires more shards \(4011\)/, 'and says why');
ok(kill(0, $b2), 'the same process (re-executed), not an exit');
is(RagTest::stop($b2, 'TERM'), 0, 'exits cleanly');
RagTest::stop($wpid, 'TERM');
done_testing();
