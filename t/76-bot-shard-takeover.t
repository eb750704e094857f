# Shards of a dead rag-bot process are taken over (issue 12). Two
# processes share four gateway shards on one Postgres: A runs 0,1 with
# room for two more (shard_takeover = 2), B runs 2,3. B is kill -9'd and
# NOT restarted, with answers pending for its guilds: nobody delivers
# them while B's shard lease is live; once it has run out A leases B's
# shards, opens their gateway sessions, delivers the pending answers and
# catches up a post made while nobody ran the shard, each exactly once
# (one message per nonce on the stand-in). When B is started again, A
# hands its shards back (B asks for them while it waits) and B answers
# its guilds again. A standby process
# (shards = none) takes over when A is then stopped cleanly: its leases
# end at once. Answers are written as rag-worker writes them.
use strict;
use warnings;
use Test::More;
use JSON::PP;
use Time::HiRes qw(time);
use lib 't/lib';
use RagTest;
use FakeDiscord;

my $N = 4;
my $LEASE = 3;
my @G = map { ((1_000_000 * $N + $_) << 22) . '' } 0 .. $N - 1;   # guild k on shard k
my @F = map { "20000000000000000$_" } 0 .. $N - 1;
my $U = '400000000000000001';
my $pg = RagTest::pg_start();
RagTest::psql($pg, "INSERT INTO collections (name, description) VALUES ('acme', 'Acme');"
    . join '', map { "INSERT INTO guild_config (guild_id) VALUES ('$G[$_]');
     INSERT INTO guild_forums VALUES ('$G[$_]', '$F[$_]', 'acme');" } 0 .. $N - 1);
my $dir = RagTest::tmpdir();
my $fd = FakeDiscord->start(dir => $dir, guild_id => $G[0], guild_ids => \@G,
    shards => $N, max_concurrency => 2);
my $bot_id = $fd->{bot_id};

sub q1 { RagTest::psql($pg, $_[0]) }
my %cfg = (A => { RAG_SHARDS => '0,1', RAG_SHARD_TAKEOVER => 2 },
    B => { RAG_SHARDS => '2,3' }, B2 => { RAG_SHARDS => '2,3' }, S => { RAG_SHARDS => 'none', RAG_SHARD_TAKEOVER => 4 });
sub start_bot {
    my ($name) = @_;
    return RagTest::spawn([RagTest::bin('rag-bot')],
        env => $fd->bot_env($pg, RAG_SHARD_COUNT => $N, RAG_OUTBOX_LEASE_S => $LEASE,
            %{ $cfg{$name} }), log => "$dir/bot$name.log");
}
sub logs { join '', map { RagTest::slurp($_) } glob("$dir/bot*.log") }
my %bot = (A => start_bot('A'), B => start_bot('B'));
ok(RagTest::wait_for(sub { $fd->state->{connected} == $N }, 40), "$N shard sessions")
    or diag(logs());
is(q1("SELECT count(DISTINCT owner) FROM bot_shards WHERE lease_until > now()"), '2',
    'held by two processes');

my $tseq = 0;
sub post_thread {
    my ($k, $text) = @_;
    my $t = '3000000000000' . sprintf('%05d', ++$tseq);
    $fd->forum_post(id => $t, guild => $G[$k], forum => $F[$k], user => $U,
        username => 'asker', text => $text);
    return $t;
}
sub stored { q1("SELECT count(*) FROM messages WHERE message_id = '$_[0]'") }
sub answer {
    my ($t) = @_;
    q1("INSERT INTO messages (thread_id, message_id, content, from_bot, processed, reply_to)
        VALUES ('$t', 'reply:$t', 'Answer to $t.', true, false, '$t')");
}
sub delivered {
    my ($t) = @_;
    q1("SELECT count(*) FROM messages WHERE reply_to = '$t' AND from_bot
        AND discord_message_id IS NOT NULL");
}
sub deliveries_by {
    my ($t) = @_;
    my %n;
    for my $f (glob("$dir/bot*.log")) {
        my ($who) = $f =~ /bot(\w)\w*\.log/;   # B2: B restarted
        $n{$who} += () = RagTest::slurp($f) =~ /msg="reply delivered" thread=$t /g;
    }
    return join ',', map { "$_=$n{$_}" } grep { $n{$_} } sort keys %n;
}

# --- both alive: each guild answered by its shard's process -----------------------------
my @t1 = map { post_thread($_, 'How do I install acme?') } 0 .. $N - 1;
ok(RagTest::wait_for(sub { !grep { stored($_) ne '1' } @t1 }, 20), 'stored') or diag(logs());
answer($_) for @t1;
ok(RagTest::wait_for(sub { !grep { delivered($_) ne '1' } @t1 }, 30), 'all four answered')
    or diag(logs());
is(deliveries_by($t1[$_]), ($_ < 2 ? 'A' : 'B') . '=1', "shard $_: by its owner")
    for 0 .. $N - 1;
unlike(RagTest::slurp("$dir/botA.log"), qr/taken over/, 'nothing taken over while B lives');

# --- B is kill -9'd and not restarted ------------------------------------------------------
my @t2 = map { post_thread($_, 'Which port does acmed use?') } 2, 3;
ok(RagTest::wait_for(sub { !grep { stored($_) ne '1' } @t2 }, 20), "stored by B") or diag(logs());
kill 'KILL', $bot{B};
waitpid($bot{B}, 0);
my $killed = time;
answer($_) for @t2;   # the worker answers after B died
my $t3 = post_thread(3, 'How do I take a snapshot?');   # nobody runs shard 3 now
my $gap = q1("SELECT extract(epoch FROM max(lease_until) - now()) FROM bot_shards
    WHERE shard_id IN (2, 3)");
ok($gap > 0, "B's leases still live (for ${gap}s): its shards are not taken yet");
is(delivered($t2[0]) + delivered($t2[1]), 0, 'nobody delivers them meanwhile');
ok(RagTest::wait_for(sub { delivered($t2[0]) eq '1' && delivered($t2[1]) eq '1' }, 30),
    "A took B's shards over and delivered the pending answers") or diag(logs());
my $took = time - $killed;
note(sprintf('kill -9 -> pending answers delivered: %.1f s (lease %d s)', $took, $LEASE));
ok($took >= $gap, 'not before the lease ran out');
like(RagTest::slurp("$dir/botA.log"), qr/shard taken over from a dead process" shard=2\/4/,
    'A says so (shard 2)');
like(RagTest::slurp("$dir/botA.log"), qr/shard taken over from a dead process" shard=3\/4/,
    '(shard 3)');
is(q1("SELECT count(DISTINCT owner) FROM bot_shards WHERE lease_until > now()"), '1',
    'all four shards held by A');
ok(RagTest::wait_for(sub { $fd->state->{connected} == $N }, 30),
    "A runs B's shards' gateway sessions") or diag(logs());
ok(RagTest::wait_for(sub { stored($t3) eq '1' }, 30),
    'the post made while nobody ran shard 3: caught up') or diag(logs());
answer($t3);
ok(RagTest::wait_for(sub { delivered($t3) eq '1' }, 30), 'and answered') or diag(logs());
my $t4 = post_thread(2, 'Where are the logs?');
ok(RagTest::wait_for(sub { stored($t4) eq '1' }, 20), "a new post in B's old guild: stored")
    or diag(logs());
answer($t4);
ok(RagTest::wait_for(sub { delivered($t4) eq '1' }, 30), 'and answered') or diag(logs());
sleep 2;
is(deliveries_by($_), 'A=1', "thread $_: once, by A") for @t2, $t3, $t4;
is(delivered($_), '1', "thread $_: one reply") for @t1, @t2, $t3, $t4;

# --- B comes back: A hands its shards back ---------------------------------------------------
$bot{B} = start_bot('B2');
ok(RagTest::wait_for(sub { q1("SELECT count(*) FROM bot_shards WHERE lease_until > now()
    AND owner LIKE '%:$bot{B}'") eq '2' }, 30), 'restarted B gets shards 2 and 3 back')
    or diag(logs());
like(RagTest::slurp("$dir/botA.log"), qr/shard handed back to its own process" shard=2\/4/,
    'A hands them back');
ok(RagTest::wait_for(sub { $fd->state->{connected} == $N }, 40), 'four sessions again')
    or diag(logs());
my $t6 = post_thread(3, 'How do I rotate the logs?');
ok(RagTest::wait_for(sub { stored($t6) eq '1' }, 20), 'a post in guild 3: stored') or diag(logs());
answer($t6);
ok(RagTest::wait_for(sub { delivered($t6) eq '1' }, 30), 'answered') or diag(logs());
sleep 1;
is(deliveries_by($t6), 'B=1', 'by B again, once');

# --- a standby takes over a process stopped cleanly -----------------------------------------
$bot{S} = start_bot('S');
ok(RagTest::wait_for(sub { RagTest::slurp("$dir/botS.log") =~ /rag-bot started.*shards=0\/4/ }, 20),
    'a standby starts with no shard') or diag(logs());
is(RagTest::stop($bot{A}, 'TERM'), 0, 'A stops cleanly');
ok(RagTest::wait_for(sub { q1("SELECT count(*) FROM bot_shards WHERE lease_until > now()
    AND owner LIKE '%:$bot{S}'") eq '2' }, 20), "the standby holds A's two at once")
    or diag(logs());
ok(RagTest::wait_for(sub { $fd->state->{connected} == $N }, 40), 'and runs them')
    or diag(logs());
my $t5 = post_thread(1, 'How do I upgrade?');
ok(RagTest::wait_for(sub { stored($t5) eq '1' }, 20), 'stored by the standby') or diag(logs());
answer($t5);
ok(RagTest::wait_for(sub { delivered($t5) eq '1' }, 30), 'answered') or diag(logs());
is(deliveries_by($t5), 'S=1', 'by the standby, once');

# --- as users see it ---------------------------------------------------------------------------
my %created;
$created{ $_->{path} . ' ' . ($_->{body}{nonce} // '') }++
    for grep { $_->{created} } $fd->rest(method => 'POST', path => qr{/messages$});
is(scalar(grep { $_ > 1 } values %created), 0, 'no nonce posted twice');
is(scalar($fd->records(kind => 'violation')), 0, 'no protocol violations')
    or diag(explain([ $fd->records(kind => 'violation') ]));
is(RagTest::stop($bot{S}, 'TERM'), 0, 'the standby exits cleanly');
is(RagTest::stop($bot{B}, 'TERM'), 0, 'B exits cleanly');
is(q1("SELECT count(*) FROM bot_shards WHERE lease_until > now()"), '0', 'no live lease left');
done_testing();
