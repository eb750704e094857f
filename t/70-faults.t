# Everything at once, with faults: nginx (module), rag-worker (LLM through
# the OpenAI stand-in) and rag-bot (Discord stand-in) run together while
#   - the OpenAI stand-in answers 429 / 500 / drops connections,
#   - the gateway connection is dropped every couple of seconds,
#   - PostgreSQL is restarted under all three,
#   - the worker and the bot are each killed with SIGKILL once.
# Every forum post must end with exactly one answer delivered exactly once
# (as users see it: one message per thread), no job dead or lost, and no
# protocol violations recorded by the stand-ins.
use strict;
use warnings;
use Test::More;
use HTTP::Tiny;
use Time::HiRes qw(sleep time);
use lib 't/lib';
use RagTest;
use FakeDiscord;
use FakeOpenAI;
use WorkerTest;

for my $p (qw(rag-worker rag-bot rag-reindex)) {
    plan skip_all => "$p not built" unless -x RagTest::bin($p);
}

my $N = 6;                       # forum posts
my $G = '100000000000000001';
my $F = '200000000000000001';
my $U = '400000000000000001';

my $pg = RagTest::pg_start();
my $ix = RagTest::tmpdir();
WorkerTest::load_corpus($pg);
WorkerTest::reindex($pg, $ix, 'acme');
RagTest::psql($pg, "INSERT INTO guild_config (guild_id) VALUES ('$G');
                    INSERT INTO guild_forums VALUES ('$G', '$F', 'acme');");

my $ng = RagTest::nginx_start(pg => $pg,
    http => "rag_database \"%%DB%%\"; rag_db_timeout 2s; rag_index_dir $ix;",
    server => 'location = /rag/health { rag_health; }
               location = /search { rag_search; }');
my $http = HTTP::Tiny->new(timeout => 5);

my $dir = RagTest::tmpdir();
my $ai = FakeOpenAI->start(retry_after => 0);
my $fd = FakeDiscord->start(dir => $dir, guild_id => $G,
    heartbeat_interval => 1000);

my %wenv = (index_dir => $ix, llm_base_url => $ai->{url},
    llm_model => 'test-model', llm_max_retries => 1, lease_seconds => 3,
    _log_dir => $dir);
my ($worker, $wlog) = WorkerTest::worker($pg, %wenv);
my $bot_env = $fd->bot_env($pg, RAG_INDEX_DIR => $ix);
my $bot = RagTest::spawn([RagTest::bin('rag-bot')], env => $bot_env,
    log => "$dir/bot.log");
ok(RagTest::wait_for(sub { $fd->state->{connected} }, 15), 'bot connected')
    or BAIL_OUT('bot never connected: ' . RagTest::slurp("$dir/bot.log"));

# The LLM misbehaves for the first requests.
$ai->set(fail => [429, 500, 503, 429], drop => 1);

my @threads = map { sprintf '3000000000000000%02d', $_ } 1 .. $N;
my @questions = (
    'How do I install Acme Widget on Debian?',
    'Which port does the acmed daemon listen on?',
    'How can I take a snapshot of the widget database?',
    'How do I enable debug logging for acmed?',
    'How do I build Acme from source?',
    'Where are snapshots stored?',
);

sub post_question {
    my ($i) = @_;
    my $t = $threads[$i];
    $fd->channel(id => $t, guild_id => $G, parent_id => $F, name => "Q$i",
        owner_id => $U);
    $fd->dispatch(THREAD_CREATE => { id => $t, guild_id => $G,
        parent_id => $F, name => "Q$i", owner_id => $U, type => 11 });
    $fd->dispatch(MESSAGE_CREATE => { id => $t, channel_id => $t,
        guild_id => $G, author => { id => $U }, content => $questions[$i],
        mentions => [] });
}

# Faults interleaved with the posts.
my $t0 = time;
post_question(0);
post_question(1);
$fd->fault(drop => 1);                               # gateway drop
post_question(2);
sleep 1;
RagTest::pg_ctl($pg, 'stop');                        # Postgres restart
sleep 1.5;
is($http->get("$ng->{url}/rag/health")->{status}, 503,
    'health reports the database down');
RagTest::pg_ctl($pg, 'start');
post_question(3);
kill 'KILL', $worker;                                # worker crash
waitpid($worker, 0);
($worker, $wlog) = WorkerTest::worker($pg, %wenv);
$fd->fault(drop => 1);
post_question(4);
sleep 0.5;
kill 'KILL', $bot;                                   # bot crash
waitpid($bot, 0);
$bot = RagTest::spawn([RagTest::bin('rag-bot')], env => $bot_env,
    log => "$dir/bot2.log");
post_question(5);
$fd->fault(drop => 1);

sub answers_for {
    my ($t) = @_;
    return grep { ($_->{body}{embeds}[0]{title} // '') =~ /^(Help Response|Not in the docs)$/ }
        $fd->rest(method => 'POST', path => qr{/channels/$t/messages$});
}

# Distinct answers per thread as users see them: the stand-in dedupes
# enforce_nonce retries to the first message, so count distinct nonces.
sub distinct_answers {
    my ($t) = @_;
    my %n = map { ($_->{body}{nonce} // "none$_") => 1 } answers_for($t);
    return scalar keys %n;
}

ok(RagTest::wait_for(sub { !grep { distinct_answers($_) < 1 } @threads }, 90),
    'every post answered despite the faults')
    or diag("worker:\n" . RagTest::slurp($wlog) . "\nbot:\n"
        . RagTest::slurp("$dir/bot.log") . RagTest::slurp("$dir/bot2.log"));
sleep 2;    # time for any duplicate to show up
for my $i (0 .. $#threads) {
    is(distinct_answers($threads[$i]), 1, "post $i: exactly one answer");
}
is(RagTest::psql($pg, "SELECT count(*) FROM messages WHERE from_bot"), $N,
    "$N reply rows, no duplicates");
ok(RagTest::wait_for(sub { RagTest::psql($pg, "SELECT count(*) FROM messages
    WHERE from_bot AND processed AND discord_message_id IS NOT NULL") == $N }, 20),
    'all replies recorded as delivered');
is(RagTest::psql($pg, "SELECT count(*) FROM jobs WHERE state <> 'done'"), '0',
    'no job left behind or dead');
ok(scalar(grep { $_->{status} && $_->{status} >= 429 } $ai->requests('/v1/chat/completions')) >= 1,
    'the LLM faults really happened');
ok(scalar($fd->gw(6)) >= 1, 'the bot resumed at least once (op 6)');
is(scalar $fd->records(kind => 'violation'), 0, 'no Discord protocol violations')
    or diag(explain([ $fd->records(kind => 'violation') ]));
my @cited = grep { ($_->{body}{embeds}[0]{description} // '') =~ /\[\d\]/ }
    map { answers_for($_) } @threads;
ok(@cited >= 1, 'answers carry inline citations');
is($http->get("$ng->{url}/rag/health")->{status}, 200, 'nginx healthy after all');
like($http->get("$ng->{url}/search?collection=acme&q=snapshot")->{content},
    qr{backup#snapshots}, 'search still serves');
diag(sprintf 'fault run took %.1fs', time - $t0);
done_testing();
