# rag-worker survives a Postgres restart: its claim connections and the
# LISTEN connection reconnect, and questions asked afterwards (NOTIFY
# included) are answered.
use strict;
use warnings;
use Test::More;
use Time::HiRes qw(time sleep);
use lib 't/lib';
use RagTest;
use WorkerTest;

my $pg = RagTest::pg_start();
my $ixdir = RagTest::tmpdir();
WorkerTest::load_corpus($pg);
WorkerTest::reindex($pg, $ixdir, 'acme');
WorkerTest::guild($pg, helper_role => '777');
# a long poll interval: answering quickly after the restart needs the
# LISTEN connection back
my ($pid, $log) = WorkerTest::worker($pg, index_dir => $ixdir,
    poll_interval_ms => 6000, concurrency => 2);

my $m1 = WorkerTest::ask($pg, 'r1', 'Install', 'How do I install Acme on Debian?');
ok(RagTest::wait_for(sub { WorkerTest::reply_row($pg, 'r1', $m1) }, 15), 'answered before');

RagTest::pg_ctl($pg, 'restart');
ok(kill(0, $pid), 'worker still running after the restart');
sleep 2.5;  # reconnects (1 s listen retry, claim threads on the next tick)
my $t0 = time;
my $m2 = WorkerTest::ask($pg, 'r2', 'Port', 'Which port does acmed listen on?');
ok(RagTest::wait_for(sub { WorkerTest::reply_row($pg, 'r2', $m2) }, 15),
    'answered after the restart') or diag(RagTest::slurp($log));
ok(time - $t0 < 3, sprintf('woken by NOTIFY, not the 6 s poll (%.1fs)', time - $t0));
is(WorkerTest::job_state($pg, 'r2', $m2), 'done 1', 'on the first attempt')
    or diag(RagTest::slurp($log));
like(RagTest::slurp($log), qr/listen connection lost/, 'loss of LISTEN noticed');
is(RagTest::stop($pid, 'TERM', 10), 0, 'clean exit');
done_testing();
