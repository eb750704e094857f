# rag-worker when jobs or settings are wrong (issue 12, coverage of what
# users reach): an ingest job whose payload can never work is dead at
# once with the reason (not retried five times); a community job with an
# oversized payload is dead; an answer job for a message that is not
# there is retried, then dead with the reason; a thread without a valid
# collection is dead at once; a reload (SIGHUP) with a broken file keeps
# the old settings and the worker keeps answering; a bad setting at start
# or a database that does not answer ends the worker with a message.
use strict;
use warnings;
use Test::More;
use lib 't/lib';
use RagTest;
use WorkerTest;

my $pg = RagTest::pg_start();
my $ixdir = RagTest::tmpdir();
WorkerTest::load_corpus($pg);
WorkerTest::reindex($pg, $ixdir, 'acme');
WorkerTest::guild($pg);

my $dir = RagTest::tmpdir();
my $conf = "$dir/worker.conf";
RagTest::write_file($conf, "index_dir = $ixdir\nconcurrency = 2\n");
my ($pid, $log) = WorkerTest::worker($pg, _log_dir => $dir);
# the file is read through -c: restart the worker with it
RagTest::stop($pid, 'TERM', 10);
{
    my %e = (RAG_DATABASE_URL => $pg->{conninfo}, RAG_POLL_INTERVAL_MS => 200,
        RAG_RETRY_BASE_SECONDS => '0.01', RAG_LOG_LEVEL => 'info');
    $log = "$dir/worker-conf.log";
    $pid = RagTest::spawn([RagTest::bin('rag-worker'), '-c', $conf],
        env => \%e, log => $log);
}
ok(RagTest::wait_for(sub { RagTest::slurp($log) =~ /worker started/ }, 15),
    'the worker starts with -c FILE') or diag RagTest::slurp($log);

sub job { my ($key) = @_; my $r = RagTest::psql($pg, "SELECT state || '|' || attempts
    || '|' || coalesce(last_error, '') FROM jobs WHERE dedupe_key = '$key'");
    return [split /\|/, $r, 3] }
sub dead { my ($key) = @_; return RagTest::wait_for(sub { job($key)->[0] eq 'dead' }, 20) }

# --- ingest payloads that can never work: dead at the first attempt ---------
my @bad = (
    ['ingest:type', '{"collection":"acme2","source":{"type":"ftp"}}', qr/unknown source type/],
    ['ingest:nourl', '{"collection":"acme2","source":{"type":"site"}}', qr/site source needs url/],
    ['ingest:nosrc', '{"collection":"nosuch"}', qr/payload needs collection and source\.type/],
    ['ingest:file', '{"collection":"acme2","source":{"type":"json","file":"/etc/passwd"}}',
     qr/ingest_file_root|not allowed|outside/],
);
for my $b (@bad) {
    RagTest::psql($pg, "SELECT rag_enqueue('ingest', " . WorkerTest::sqlq($b->[1])
        . ", '$b->[0]')");
}
for my $b (@bad) {
    ok(dead($b->[0]), "$b->[0]: dead") or diag join ' ', @{ job($b->[0]) };
    my $j = job($b->[0]);
    is($j->[1], 1, "$b->[0]: not retried (one attempt)");
    like($j->[2], $b->[2], "$b->[0]: the reason is recorded");
}

# --- a community job with a payload over 4 KiB ------------------------------
RagTest::psql($pg, "SELECT rag_enqueue('community', '{\"guild_id\":\"1\",\"pad\":\""
    . ('x' x 5000) . "\"}', 'community:big')");
ok(dead('community:big'), 'an oversized community payload: dead');
is(job('community:big')->[1], 1, 'at the first attempt');
like(job('community:big')->[2], qr/bad community payload/, 'with the reason');

# --- answer jobs ------------------------------------------------------------
# a message that is not there (deleted, or never committed): retried, then dead
RagTest::psql($pg, "SELECT rag_enqueue('answer', '{\"thread_id\":\"t404\","
    . "\"message_id\":\"m404\"}', 'answer:gone')");
ok(RagTest::wait_for(sub { job('answer:gone')->[0] eq 'dead' }, 30),
    'an answer job for a missing message: dead in the end')
    or diag join ' ', @{ job('answer:gone') };
cmp_ok(job('answer:gone')->[1], '>', 1, 'after retries (it may not be committed yet)');
like(job('answer:gone')->[2], qr/message m404 not found in thread t404/, 'with the reason');

# a thread in a forum with no collection and no answer_default_collection
RagTest::psql($pg, "INSERT INTO threads (thread_id, guild_id, forum_channel_id, title,
    author_id) VALUES ('nocoll', 'g2', 'f9', 'orphan', 'u1');
    INSERT INTO messages (thread_id, message_id, author_id, content, first_message)
    VALUES ('nocoll', 'nocoll-m1', 'u1', 'How do I install acme?', true)");
ok(RagTest::wait_for(sub { RagTest::psql($pg, "SELECT count(*) FROM jobs WHERE kind = 'answer'
    AND payload->>'thread_id' = 'nocoll' AND state = 'dead'") == 1 }, 20),
    'a thread without a collection: its answer job is dead');
like(RagTest::psql($pg, "SELECT last_error || ' attempts=' || attempts FROM jobs
    WHERE payload->>'thread_id' = 'nocoll'"),
    qr/thread nocoll has no \(valid\) collection attempts=1/, 'at once, with the reason');
is(WorkerTest::replies($pg, 'nocoll'), 0, 'and no reply is written');

# --- SIGHUP with a broken file: the old settings stay --------------------------
RagTest::write_file($conf, "index_dir = $ixdir\nlease_seconds = soon\n");
kill 'HUP', $pid;
ok(RagTest::wait_for(sub { RagTest::slurp($log) =~ /reload failed, keeping the old config.*lease_seconds/ }, 10),
    'a reload with a bad value is refused and logged with the key') or diag RagTest::slurp($log);
my $mid = WorkerTest::ask($pg, 'after-hup', 'install', 'How do I install Acme on Debian?');
ok(RagTest::wait_for(sub { WorkerTest::replies($pg, 'after-hup') == 1 }, 20),
    'the worker keeps answering with the old settings');
like(WorkerTest::reply_row($pg, 'after-hup', $mid)->{content} // '', qr/apt install acme-widget/,
    'from the docs');
is(RagTest::stop($pid, 'TERM', 10), 0, 'clean exit');

# --- start-up errors -------------------------------------------------------------
sub start_out {
    my ($env, @args) = @_;
    local %ENV = (%ENV, RAG_DATABASE_URL => $pg->{conninfo}, %$env);
    my $cmd = join ' ', map { "'$_'" } RagTest::bin('rag-worker'), @args;
    my $out = `timeout 30 $cmd 2>&1`;
    return ($? >> 8, $out);
}
my ($rc, $out) = start_out({ RAG_CONCURRENCY => 'many' });
is($rc, 1, 'a bad setting at start: exit 1');
like($out, qr/^rag-worker: .*concurrency/m, 'naming the key');
($rc, $out) = start_out({}, '-c', "$dir/missing.conf");
is($rc, 1, 'a missing -c file: exit 1');
like($out, qr/^rag-worker: .*missing\.conf/m, 'naming the file');
($rc, $out) = start_out({}, '--bogus');
is($rc, 2, 'an unknown argument: exit 2');
like($out, qr/^usage: rag-worker/m, 'with the usage');
($rc, $out) = start_out({ RAG_DATABASE_URL => "host=$dir port=1 dbname=rag connect_timeout=2" });
is($rc, 1, 'a database that does not answer: exit 1') or diag $out;
like($out, qr/cannot reach the database/, 'and says so');

done_testing();
