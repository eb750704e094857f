# rag-worker answers forum questions through the queue: one reply per
# question with citations that match the passages it retrieved, bot turns
# sent as "assistant", 429/500 retried, persistent failures dead-lettered,
# abstains with a helper ping and a gap row, redelivery makes no second
# reply.
use strict;
use warnings;
use Test::More;
use JSON::PP;
use lib 't/lib';
use RagTest;
use FakeOpenAI;
use WorkerTest;

my $pg = RagTest::pg_start();
my $ixdir = RagTest::tmpdir();
WorkerTest::load_corpus($pg);
like(WorkerTest::reindex($pg, $ixdir, 'acme'), qr/5 chunks/, 'corpus indexed');
WorkerTest::guild($pg, helper_role => '777');

my $ai = FakeOpenAI->start(api_key => 'sk-test');
my ($pid, $log) = WorkerTest::worker($pg, index_dir => $ixdir,
    llm_base_url => $ai->{url}, llm_api_key => 'sk-test',
    llm_model => 'test-model', llm_max_retries => 2, concurrency => 2);
my $J = JSON::PP->new;

# --- a question gets exactly one reply with matching citations ----------
my $m1 = WorkerTest::ask($pg, 't1', 'Installing on Debian',
    'How do I install the widget on Debian?');
ok(RagTest::wait_for(sub { WorkerTest::reply_row($pg, 't1', $m1) }, 15),
    'reply written') or diag(RagTest::slurp($log));
my $r = WorkerTest::reply_row($pg, 't1', $m1);
is($r->{message_id}, "reply:$m1", 'deterministic reply id');
is($r->{processed}, 'f', 'queued for delivery (processed = false)');
is($r->{abstained}, 'f', 'not an abstain');
my $src = $J->decode($r->{sources} || '[]');
ok(@$src >= 1, 'sources recorded');
my @cited = $r->{content} =~ /\[(\d+)\]/g;
ok(@cited, 'reply cites passages');
my %srcn = map { $_->{n} => $_ } @$src;
ok(!(grep { !$srcn{$_} } @cited), 'every [n] in the reply is a source');
is($src->[0]{url}, 'https://docs.acme.test/install#install-debian',
    'best source is the Debian install section');
ok(defined $src->[0]{chunk_id} && $src->[0]{score} > 0, 'chunk id and score');

my @reqs = $ai->requests('/v1/chat/completions');
is(scalar @reqs, 1, 'one LLM call');
my $body = $reqs[0]{body};
is($body->{model}, 'test-model', 'model sent');
is_deeply([map { $_->{role} } @{ $body->{messages} }], ['system', 'user'],
    'system + user');
like($body->{messages}[0]{content}, qr/Acme Widget/, 'product named from the collection');
unlike($body->{messages}[0]{content}, qr/Hasura/i, 'not hard-coded to one product');
like($body->{messages}[0]{content}, qr/^\[1\] Installing Acme > Install > Debian/m,
    'numbered passages in the prompt');
# the passages in the prompt are the sources, by number
for my $s (@$src) {
    like($body->{messages}[0]{content}, qr/^\[$s->{n}\] .*\(\Q$s->{url}\E\)$/m,
        "source [$s->{n}] is passage [$s->{n}] of the prompt");
}
is(WorkerTest::job_state($pg, 't1', $m1), 'done 1', 'job done in one attempt');

# --- a follow-up: the bot's earlier reply goes back as "assistant" -------
$ai->clear_log;
WorkerTest::follow_up($pg, 't1', 't1-m2', 'And how do I change the listen port?');
ok(RagTest::wait_for(sub { WorkerTest::reply_row($pg, 't1', 't1-m2') }, 15),
    'follow-up answered');
@reqs = $ai->requests('/v1/chat/completions');
my $msgs = $reqs[0]{body}{messages};
is_deeply([map { $_->{role} } @$msgs], [qw(system user assistant user)],
    'roles: bot turn sent as assistant');
is($msgs->[2]{content}, $r->{content}, 'assistant turn is the earlier reply');
is($msgs->[3]{content}, 'And how do I change the listen port?', 'latest turn last');
my $r2 = WorkerTest::reply_row($pg, 't1', 't1-m2');
like($r2->{sources}, qr/listen-port/, 'follow-up retrieves the port section');
{
    my %first = map { $_->{chunk_id} => 1 } @$src;
    my @again = grep { $first{$_->{chunk_id}} } @{ $J->decode($r2->{sources}) };
    ok(!(grep { $_->{n} != 1 } @again),
        'passages cited earlier are dropped unless still the best');
    my @p2 = $msgs->[0]{content} =~ /^\[(\d+)\] .*\((\S+)\)$/mg;
    my %urls2 = @p2;
    my %first_url = map { $_->{url} => $_->{n} } @$src;
    my @repeated = grep { $first_url{$urls2{$_}} } grep { $_ != 1 } keys %urls2;
    is(scalar @repeated, 0, 'prompt holds no earlier-cited passage below rank 1');
}

# --- 429 then 500: retried inside the request, then answered ------------
$ai->clear_log;
$ai->set(fail_chat => [{ status => 429, retry_after_ms => 50 }, 500]);
my $m3 = WorkerTest::ask($pg, 't3', 'Snapshots', 'How do I take a snapshot backup?');
ok(RagTest::wait_for(sub { WorkerTest::reply_row($pg, 't3', $m3) }, 15),
    'answered after 429 and 500');
is(scalar($ai->requests('/v1/chat/completions')), 3, 'three attempts seen');
is(WorkerTest::replies($pg, 't3'), 1, 'one reply');

# --- persistent failure: dead after max_attempts, last_error kept --------
$ai->set(fail_chat => [(500) x 100]);
my $m4 = WorkerTest::ask($pg, 't4', 'Logs', 'How do I enable debug logging?');
ok(RagTest::wait_for(sub { WorkerTest::job_state($pg, 't4', $m4) =~ /^dead/ }, 30),
    'job dead') or diag(WorkerTest::job_state($pg, 't4', $m4));
is(WorkerTest::job_state($pg, 't4', $m4), 'dead 5', 'after max_attempts (5)');
like(RagTest::psql($pg, "SELECT last_error FROM jobs WHERE dedupe_key = "
    . "rag_answer_dedupe_key('t4', '$m4')"), qr/HTTP 500/, 'last_error kept');
is(WorkerTest::replies($pg, 't4'), 0, 'no reply for a dead job');
$ai->set(fail_chat => []);

# --- abstain: off-topic question, low retrieval score ------------------
$ai->clear_log;
my $m5 = WorkerTest::ask($pg, 't5', 'Weather', 'Will it rain in Paris tomorrow?');
ok(RagTest::wait_for(sub { WorkerTest::reply_row($pg, 't5', $m5) }, 15),
    'abstain reply written');
my $r5 = WorkerTest::reply_row($pg, 't5', $m5);
is($r5->{abstained}, 't', 'marked abstained');
like($r5->{content}, qr/<@&777>/, 'pings the helper role');
like($r5->{content}, qr/Acme Widget docs/, 'honest, names the docs');
is(scalar($ai->requests('/v1/chat/completions')), 0, 'no LLM call when retrieval is weak');
is(RagTest::psql($pg, "SELECT reason || ' ' || collection FROM gaps WHERE thread_id = 't5'"),
    'abstain acme', 'gap recorded');

# --- abstain: the model says the docs do not cover it ----------------
$ai->set(mode => 'nocover');
WorkerTest::guild($pg, helper_role => undef);   # falls back to mod role
my $m6 = WorkerTest::ask($pg, 't6', 'Port', 'Can the daemon listen on a unix socket instead of a port?');
ok(RagTest::wait_for(sub { WorkerTest::reply_row($pg, 't6', $m6) }, 15),
    'model abstain written');
my $r6 = WorkerTest::reply_row($pg, 't6', $m6);
is($r6->{abstained}, 't', 'model abstain marked');
like($r6->{content}, qr/<@&900>/, 'pings the mod role without a helper role');
is(RagTest::psql($pg, "SELECT count(*) FROM gaps WHERE thread_id = 't6' AND reason = 'abstain'"),
    1, 'gap recorded for the model abstain');
$ai->set(mode => 'echo');

# --- redelivery and duplicate enqueue: still one reply -----------------
RagTest::psql($pg, "UPDATE jobs SET state = 'queued', run_at = now() WHERE "
    . "dedupe_key = rag_answer_dedupe_key('t1', '$m1')");
RagTest::psql($pg, "SELECT rag_enqueue('answer', '{\"thread_id\":\"t1\","
    . "\"message_id\":\"$m1\"}', 'webhook:t1:$m1')");
ok(RagTest::wait_for(sub {
    RagTest::psql($pg, "SELECT count(*) FROM jobs WHERE state <> 'done' "
        . "AND payload->>'thread_id' = 't1'") == 0 }, 15), 'redelivered jobs done');
is(WorkerTest::replies($pg, 't1'), 2, 'still one reply per question in t1');

# --- closed thread and bot messages are skipped ----------------------
RagTest::psql($pg, "UPDATE threads SET solved = true WHERE thread_id = 't3'");
RagTest::psql($pg, "SELECT rag_enqueue('answer', '{\"thread_id\":\"t3\","
    . "\"message_id\":\"t3-m1\"}', 'again:t3')");
ok(RagTest::wait_for(sub { RagTest::psql($pg,
    "SELECT state FROM jobs WHERE dedupe_key = 'again:t3'") eq 'done' }, 15),
    'job for a solved thread completes');
is(WorkerTest::replies($pg, 't3'), 1, 'no new reply in a solved thread');

# --- banned authors get no answer -------------------------------------
RagTest::psql($pg, "UPDATE guild_config SET banned_user_ids = '{u9}'");
RagTest::psql($pg, "INSERT INTO threads (thread_id, guild_id, title, collection) "
    . "VALUES ('t9', 'g1', 'Install', 'acme'); INSERT INTO messages (thread_id, "
    . "message_id, author_id, content, first_message) VALUES ('t9', 't9-m1', "
    . "'u9', 'How do I install Acme on Debian?', true)");
ok(RagTest::wait_for(sub { WorkerTest::job_state($pg, 't9', 't9-m1') eq 'done 1' }, 15),
    'job for a banned author completes');
is(WorkerTest::replies($pg, 't9'), 0, 'without a reply');

# --- bad payload: dead at once ---------------------------------------
RagTest::psql($pg, "SELECT rag_enqueue('answer', '{\"thread\":1}', 'bad')");
ok(RagTest::wait_for(sub { RagTest::psql($pg,
    "SELECT state FROM jobs WHERE dedupe_key = 'bad'") eq 'dead' }, 15),
    'invalid payload dead-lettered without retries');

# one structured log line per job
my $logtext = RagTest::slurp($log);
like($logtext, qr/msg="job" id=\d+ kind=answer attempt=1\/5 state=done duration_ms=\d+/,
    'structured job log line');
like($logtext, qr/msg="job" id=\d+ kind=answer attempt=5\/5 state=dead .*HTTP 500/,
    'dead job logged with its error');

is(RagTest::stop($pid, 'TERM', 10), 0, 'worker exits cleanly on SIGTERM');
done_testing();
