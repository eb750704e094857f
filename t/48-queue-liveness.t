# A dead worker's jobs are claimed again at once, not after the lease:
# liveness is the claiming database session. kill -9 mid-job: another
# worker (default poll interval and lease) claims the job within 5 s and
# it is answered exactly once. A zombie — paused with SIGSTOP until its
# lease ran out, or cut off from the database — resumes and can neither
# complete the job nor post a second reply. A live worker's job is never
# taken from it while its session lives.
use strict;
use warnings;
use Test::More;
use Time::HiRes qw(time sleep);
use lib 't/lib';
use RagTest;
use FakeOpenAI;
use WorkerTest;

my $pg = RagTest::pg_start();
my $ixdir = RagTest::tmpdir();
WorkerTest::load_corpus($pg);
WorkerTest::reindex($pg, $ixdir, 'acme');
WorkerTest::guild($pg, helper_role => '777');
my $ai = FakeOpenAI->start();
# default lease_seconds and poll_interval_ms unless a scenario says so
my %w = (index_dir => $ixdir, llm_base_url => $ai->{url},
    llm_max_retries => 0, concurrency => 1, poll_interval_ms => 1000);

sub chat_count { scalar $ai->requests('/v1/chat/completions') }
sub owner {
    my ($t, $m) = @_;
    return RagTest::psql($pg, "SELECT coalesce(locked_by, '') FROM jobs WHERE "
        . "dedupe_key = rag_answer_dedupe_key('$t', '$m')");
}
sub started { my ($log) = @_; RagTest::wait_for(sub {
    RagTest::slurp($log) =~ /worker started/ }, 10) }

# --- kill -9 mid-job ------------------------------------------------------
$ai->set(delay_next => [6000]);
my ($a, $alog) = WorkerTest::worker($pg, %w, worker_id => 'A');
my $m1 = WorkerTest::ask($pg, 'k1', 'Install', 'How do I install Acme on Debian?');
ok(RagTest::wait_for(sub { chat_count() == 1 }, 15), 'A is calling the LLM')
    or diag(RagTest::slurp($alog));
my ($b, $blog) = WorkerTest::worker($pg, %w, worker_id => 'B');
ok(started($blog), 'B started');
sleep 2.5;   # two of B's rescue ticks
is(WorkerTest::job_state($pg, 'k1', $m1), 'running 1',
    'a live worker keeps its job while B runs');
like(owner('k1', $m1), qr/^A/, 'still A\'s');
kill 'KILL', $a;
waitpid($a, 0);
my $t_kill = time;
my $claimed = RagTest::wait_for(sub {
    WorkerTest::job_state($pg, 'k1', $m1) =~ /^(running|done) 2$/ }, 20);
my $took = time - $t_kill;
ok($claimed, 'job claimed again after kill -9');
ok($took < 5, sprintf('within 5 s of the kill (%.2f s; lease is %s)', $took,
    'the default'));
like(owner('k1', $m1), qr/^B/, 'by B');
ok(RagTest::wait_for(sub { WorkerTest::reply_row($pg, 'k1', $m1) }, 15),
    'answered') or diag(RagTest::slurp($blog));
is(WorkerTest::job_state($pg, 'k1', $m1), 'done 2', 'on the second attempt');
like(RagTest::slurp($blog), qr/rescued.*session/,
    'B logs the rescue and why');
sleep 1;
is(WorkerTest::replies($pg, 'k1'), 1, 'exactly one reply');

# --- SIGSTOP zombie: its lease runs out, B takes over; it resumes --------
$ai->clear_log;
$ai->set(delay_next => [3000]);
my ($z, $zlog) = WorkerTest::worker($pg, %w, worker_id => 'Z',
    lease_seconds => 2, poll_interval_ms => 200);
ok(started($zlog), 'Z started');
# B must not take the question first: stop it until Z has claimed
kill 'STOP', $b;
my $m2 = WorkerTest::ask($pg, 'k2', 'Port', 'Which port does acmed listen on?');
ok(RagTest::wait_for(sub { chat_count() == 1 }, 15), 'Z is calling the LLM');
like(owner('k2', $m2), qr/^Z/, 'Z holds the job');
kill 'STOP', $z;
kill 'CONT', $b;
my $t_stop = time;
ok(RagTest::wait_for(sub { WorkerTest::reply_row($pg, 'k2', $m2) }, 20),
    'B answered after Z\'s lease ran out') or diag(RagTest::slurp($blog));
ok(time - $t_stop >= 1.5, sprintf('not before the lease (%.1f s)', time - $t_stop));
is(WorkerTest::job_state($pg, 'k2', $m2), 'done 2', 'second attempt, by B');
like(owner('k2', $m2), qr/^B/, 'B completed it');
sleep 2;     # Z's LLM answer has arrived meanwhile
kill 'CONT', $z;
ok(RagTest::wait_for(sub { RagTest::slurp($zlog) =~ /id=\d+ kind=answer .*state=lost/ }, 15),
    'Z resumes and finds the job lost') or diag(RagTest::slurp($zlog));
sleep 1;
is(WorkerTest::replies($pg, 'k2'), 1, 'no second reply from the zombie');
is(WorkerTest::job_state($pg, 'k2', $m2), 'done 2', 'the job is unchanged');
is(RagTest::stop($z, 'TERM', 10), 0, 'Z stops cleanly');
is(RagTest::stop($b, 'TERM', 10), 0, 'B stops cleanly');

# --- a worker cut off from the database -----------------------------------
# C's sessions are terminated while it is paused mid-job (it cannot
# reconnect and re-assert the job); D claims it at once; C resumes and
# cannot complete it.
$ai->clear_log;
$ai->set(delay_next => [4000]);
my ($c, $clog) = WorkerTest::worker($pg, %w, worker_id => 'C');
my $m3 = WorkerTest::ask($pg, 'k3', 'Backup', 'How do I take a snapshot?');
ok(RagTest::wait_for(sub { chat_count() == 1 }, 15), 'C is calling the LLM');
kill 'STOP', $c;
is(RagTest::psql($pg, "SELECT count(pg_terminate_backend(pid)) > 0 FROM "
    . "pg_stat_activity WHERE application_name LIKE 'rag-worker%'"), 't',
    'C\'s sessions terminated');
my $t_cut = time;
my ($d, $dlog) = WorkerTest::worker($pg, %w, worker_id => 'D');
ok(RagTest::wait_for(sub {
    WorkerTest::job_state($pg, 'k3', $m3) =~ /^(running|done) 2$/ }, 20),
    'D claimed the job');
ok(time - $t_cut < 5, sprintf('within 5 s (%.2f s)', time - $t_cut));
ok(RagTest::wait_for(sub { WorkerTest::reply_row($pg, 'k3', $m3) }, 15),
    'D answered') or diag(RagTest::slurp($dlog));
sleep 4;     # C's LLM answer arrives
kill 'CONT', $c;
ok(RagTest::wait_for(sub { RagTest::slurp($clog) =~ /id=\d+ kind=answer .*state=lost/ }, 20),
    'C resumes, reconnects and finds the job lost') or diag(RagTest::slurp($clog));
sleep 1;
is(WorkerTest::replies($pg, 'k3'), 1, 'exactly one reply');
is(WorkerTest::job_state($pg, 'k3', $m3), 'done 2', 'completed once, by D');
like(owner('k3', $m3), qr/^D/, 'D\'s');

# both keep working afterwards
my $m4 = WorkerTest::ask($pg, 'k4', 'Logs', 'How do I get debug logging?');
ok(RagTest::wait_for(sub { WorkerTest::reply_row($pg, 'k4', $m4) }, 15),
    'the next question is answered');
is(WorkerTest::job_state($pg, 'k4', $m4), 'done 1', 'first attempt');
is(RagTest::stop($c, 'TERM', 10), 0, 'C stops cleanly');
is(RagTest::stop($d, 'TERM', 10), 0, 'D stops cleanly');
done_testing();
