# A rag-bot process that stalls past its shard lease gives up the shard's
# session when it resumes (issue 12). Two processes share two shards: A
# runs shard 0, B runs shard 1 with room to take one over. A is stopped
# (SIGSTOP) until its lease runs out and B has taken shard 0 over and
# opened its own session for it. Discord, like the stand-in, sends a
# shard's events to every session identified for it, so A's still-open
# session gets them too. When A resumes, it renews its lease (fenced: the
# renewal finds shard 0 is B's) before handling anything, closes its
# session for shard 0, and handles none of the events queued for it; B
# answers the posts made meanwhile, each once. A then asks for its shard
# back (sql/037) and runs it again: one live session per shard at the end.
use strict;
use warnings;
use Test::More;
use JSON::PP;
use Time::HiRes qw(time sleep);
use lib 't/lib';
use RagTest;
use FakeDiscord;

my $N = 2;
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

sub q1 { RagTest::psql($pg, $_[0]) }
my %cfg = (A => { RAG_SHARDS => '0' }, B => { RAG_SHARDS => '1', RAG_SHARD_TAKEOVER => 1 });
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
sub live { $fd->state->{shard_live}{ $_[0] } // 0 }
sub owner { q1("SELECT owner FROM bot_shards WHERE shard_id = $_[0] AND lease_until > now()") }

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
    q1("INSERT INTO messages (thread_id, message_id, content, from_bot, processed, reply_to)
        VALUES ('$_[0]', 'reply:$_[0]', 'Answer to $_[0].', true, false, '$_[0]')");
}
sub delivered {
    q1("SELECT count(*) FROM messages WHERE reply_to = '$_[0]' AND from_bot
        AND discord_message_id IS NOT NULL");
}
# what each process did with a post: "A:stored,B:delivered,..."
sub handled_by {
    my ($t) = @_;
    my @w;
    for my $who (qw(A B)) {
        my $l = RagTest::slurp("$dir/bot$who.log");
        my @s = $l =~ /msg="(message stored|reply delivered)"[^\n]*thread=$t\b/g;
        push @w, map { "$who:$_" } @s;
    }
    return join ',', sort @w;
}

my $t0 = post_thread(0, 'How do I install acme?');
ok(RagTest::wait_for(sub { stored($t0) eq '1' }, 20), 'both running: a post stored')
    or diag(logs());
my $ownA = owner(0);
like($ownA, qr/:$bot{A}$/, 'shard 0 is A\'s');

# --- A stalls past its lease; B takes shard 0 over --------------------------------------
kill 'STOP', $bot{A};
ok(RagTest::wait_for(sub { owner(0) =~ /:$bot{B}$/ }, 30), 'B took shard 0 over')
    or diag(logs());
ok(RagTest::wait_for(sub { live(0) == 2 }, 30),
    "B identified for shard 0 while A's session is still open (Discord allows it)")
    or diag(explain($fd->state));
is(scalar(@{ $fd->state->{identified}{0} }), 2, 'two sessions identified for shard 0');
my @t1 = map { post_thread(0, "Question $_ while A is stopped") } 1 .. 2;
ok(RagTest::wait_for(sub { !grep { stored($_) ne '1' } @t1 }, 20), 'B stores the posts')
    or diag(logs());
answer($_) for @t1;
ok(RagTest::wait_for(sub { !grep { delivered($_) ne '1' } @t1 }, 30), 'and answers them')
    or diag(logs());

# --- A resumes ------------------------------------------------------------------------------
kill 'CONT', $bot{A};
my $resumed = time;
ok(RagTest::wait_for(sub { live(0) == 1 }, 15),
    "A resumed: its session for shard 0 is closed, one left") or diag(logs());
note(sprintf('resume -> one session: %.1f s', time - $resumed));
like(RagTest::slurp("$dir/botA.log"), qr/shard lease lost: another process runs it now.*shard=0\/2/,
    'A says why');
my $t2 = post_thread(0, 'A question after A resumed');
ok(RagTest::wait_for(sub { stored($t2) eq '1' }, 20), 'a new post: stored') or diag(logs());
answer($t2);
ok(RagTest::wait_for(sub { delivered($t2) eq '1' }, 30), 'and answered') or diag(logs());
sleep 2;
for my $t (@t1) {
    is(handled_by($t), 'B:message stored,B:reply delivered', "$t: handled by B only, once");
}
unlike(RagTest::slurp("$dir/botA.log"), qr/msg="message stored"[^\n]*thread=$t1[0]/,
    'A handled none of what was queued for it while stopped');
is(q1("SELECT count(*) FROM messages WHERE from_bot AND discord_message_id IS NOT NULL
    AND reply_to IN ('$t1[0]', '$t1[1]', '$t2')"), '3', 'one reply each');
my %created;
$created{ $_->{path} . ' ' . ($_->{body}{nonce} // '') }++
    for grep { $_->{created} } $fd->rest(method => 'POST', path => qr{/messages$});
is(scalar(grep { $_ > 1 } values %created), 0, 'no message posted twice');

# --- A gets its shard back ------------------------------------------------------------------
ok(RagTest::wait_for(sub { owner(0) =~ /:$bot{A}$/ }, 30), 'A asked for shard 0 back and runs it')
    or diag(logs());
ok(RagTest::wait_for(sub { live(0) == 1 && live(1) == 1 && $fd->state->{connected} == $N }, 30),
    'one live session per shard') or diag(explain($fd->state));
my $t3 = post_thread(0, 'And now?');
ok(RagTest::wait_for(sub { stored($t3) eq '1' }, 20), 'stored') or diag(logs());
answer($t3);
ok(RagTest::wait_for(sub { delivered($t3) eq '1' }, 30), 'answered') or diag(logs());
sleep 1;
like(handled_by($t3), qr/^A:message stored,A:reply delivered$/, 'by A again, once');

is(scalar($fd->records(kind => 'violation')), 0, 'no protocol violations')
    or diag(explain([ $fd->records(kind => 'violation') ]));
is(RagTest::stop($bot{A}, 'TERM'), 0, 'A exits cleanly');
is(RagTest::stop($bot{B}, 'TERM'), 0, 'B exits cleanly');
done_testing();
