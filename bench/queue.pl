#!/usr/bin/perl
# Job queue figures for rag-worker, measured in one run on a throwaway
# Postgres (fsync and synchronous_commit ON):
#   1. claims/s and jobs/s (claim + fenced completion, one commit per job)
#      with 1, 4 and 8 connections: batched claims through
#      lib/rag_store_jobs.c (BATCH jobs per claim statement) beside the
#      baseline of one job per claim with the statements as they were
#      before (75f904a), and the original's style (one UPDATE ...
#      RETURNING of every ready row, no lease: at-most-once);
#   2. enqueue→claim latency: LISTEN/NOTIFY + 1 s poll with batched
#      claims (rag-worker) and, before, one job per claim; 1 s poll only;
#      and the naive 1-second loop;
#   3. the real rag-worker end to end (enqueue → job recorded), with
#      queue_listen on and off.
# Usage: bench/queue.sh [JOBS] [LATENCY_SAMPLES] [BATCH]
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../t/lib";
use RagTest;
use Time::HiRes qw(time sleep);

my $JOBS = $ARGV[0] || 20000;
my $N = $ARGV[1] || 60;
my $BATCH = $ARGV[2] || 64;
my $root = $RagTest::ROOT;
my $bin = RagTest::tmpdir() . '/queue_bench';
my $flags = `pkg-config --cflags --libs libpq libcurl yajl libxml-2.0 openssl`;
chomp $flags;
system("cc -O2 -std=gnu11 -D_GNU_SOURCE -I$root/lib -I$root/worker "
    . "-o $bin $root/bench/queue_bench.c "
    . "$RagTest::BUILD/librag.a $flags -lpthread -lm") == 0
    or die "build failed (run make first)";

my $pg = RagTest::pg_start();
RagTest::psql($pg, "ALTER SYSTEM SET fsync = on");
RagTest::psql($pg, "ALTER SYSTEM SET synchronous_commit = on");
RagTest::psql($pg, "SELECT pg_reload_conf()");
sleep 0.5;
my $ci = $pg->{conninfo};
chomp(my $cpus = `nproc`);
my ($load) = `cat /proc/loadavg` =~ /^(\S+)/;
printf "queue bench: Postgres 15 local socket, fsync=%s, %s CPUs, "
    . "load average %s at start\n\n", RagTest::psql($pg, "SHOW fsync"), $cpus,
    $load;

sub fill {
    my ($n) = @_;
    RagTest::psql($pg, "TRUNCATE jobs RESTART IDENTITY");
    RagTest::psql($pg, "INSERT INTO jobs (kind, payload, dedupe_key) SELECT "
        . "'embed', '{}', 'b' || g FROM generate_series(1, $n) g");
    RagTest::psql($pg, "VACUUM ANALYZE jobs");
}

sub rate {
    my ($args) = @_;
    fill($JOBS);
    my ($n, $secs) = split ' ', `$bin $args`;
    die "queue_bench $args failed" if $? || !$n || $n != $JOBS;
    return $n / $secs;
}

print "1. $JOBS ready jobs; before = one job per claim, statements of 75f904a;"
    . " after = up to $BATCH jobs per claim statement\n"
    . "   conn   claims/s: before    after  after/before"
    . "   jobs/s (claim + complete): before    after  after/before\n";
for my $t (1, 4, 8) {
    my $b = rate("legacy '$ci' $t nocomplete");
    my $a = rate("claim '$ci' $t $BATCH nocomplete");
    my $bc = rate("legacy '$ci' $t");
    my $ac = rate("claim '$ci' $t $BATCH");
    printf "   %4d   %16.0f %8.0f %10.2fx   %31.0f %8.0f %10.2fx\n",
        $t, $b, $a, $a / $b, $bc, $ac, $ac / $bc;
}
printf "   one job per claim through the new store (batch 1), 4 conn: "
    . "%.0f claims/s\n", rate("claim '$ci' 4 1 nocomplete");
fill($JOBS);
my $t0 = time;
RagTest::psql($pg, "UPDATE jobs SET state = 'done' WHERE state IN ('queued','retry') RETURNING id");
my $dt = time - $t0;
printf "   naive batch UPDATE of all rows: %7.0f jobs/s  (no lease, at-most-once,"
    . " one tick = one batch)\n\n", $JOBS / $dt;

print "2. enqueue -> claim latency, $N jobs at random 0-100 ms gaps, "
    . "1000 ms poll interval\n";
my %lat;
for my $mode (qw(legacy notify poll naive)) {
    RagTest::psql($pg, "TRUNCATE jobs RESTART IDENTITY");
    my ($m, $p50, $p95, $max, $min, $commit, $after) =
        split ' ', `$bin latency '$ci' $mode $N 1000`;
    $lat{$mode} = $p50;
    printf "   %-36s p50 %8.2f ms  p95 %8.2f ms  max %8.2f ms  (n=%d)"
        . "  enqueue commit p50 %5.2f ms, then claim p50 %6.2f ms\n",
        { legacy => 'LISTEN/NOTIFY, before (1 per claim)',
          notify => 'LISTEN/NOTIFY, batched (rag-worker)',
          poll => 'poll only, back-to-back claims',
          naive => 'naive 1 s loop (original)' }->{$mode},
        $p50, $p95, $max, $m, $commit, $after;
}
print "\n3. real rag-worker, enqueue -> job recorded (concurrency 2, "
    . "poll 1000 ms)\n";
for my $listen (1, 0) {
    RagTest::psql($pg, "TRUNCATE jobs RESTART IDENTITY");
    my $log = RagTest::tmpdir() . '/worker.log';
    my $pid = RagTest::spawn([RagTest::bin('rag-worker')], log => $log,
        env => { RAG_DATABASE_URL => $ci, RAG_POLL_INTERVAL_MS => 1000,
            RAG_QUEUE_LISTEN => $listen ? 'true' : 'false',
            RAG_LOG_LEVEL => 'error', RAG_INDEX_DIR => '/nonexistent' });
    sleep 1;
    for my $i (1 .. $N) {
        sleep rand(0.1);
        RagTest::psql($pg, "SELECT rag_enqueue('embed', '{}', 'w$i')");
    }
    RagTest::wait_for(sub { RagTest::psql($pg,
        "SELECT count(*) FROM jobs WHERE finished_at IS NULL") == 0 }, 30);
    my $r = RagTest::psql($pg, "SELECT concat_ws(' ', "
        . "percentile_cont(0.5) WITHIN GROUP (ORDER BY d), "
        . "percentile_cont(0.95) WITHIN GROUP (ORDER BY d), max(d), count(*)) "
        . "FROM (SELECT extract(epoch FROM finished_at - created_at) * 1000 d "
        . "FROM jobs) x");
    my ($p50, $p95, $max, $n) = split ' ', $r;
    printf "   queue_listen=%-5s p50 %8.2f ms  p95 %8.2f ms  max %8.2f ms  (n=%d)\n",
        $listen ? 'on' : 'off', $p50, $p95, $max, $n;
    RagTest::stop($pid, 'TERM', 10);
}
