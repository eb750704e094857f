# With no LLM configured the worker answers extractively (quoted passages
# with links), rag-ask runs the same path from the command line, and
# SIGHUP reloads the configuration (here: switching the LLM on).
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
WorkerTest::reindex($pg, $ixdir, 'acme');
WorkerTest::guild($pg, helper_role => '777');

# --- rag-ask, offline ------------------------------------------------------
{
    local $ENV{RAG_DATABASE_URL} = $pg->{conninfo};
    local $ENV{RAG_INDEX_DIR} = $ixdir;
    my $bin = RagTest::bin('rag-ask');
    my $out = `$bin --collection acme "How do I install Acme on Debian?" 2>&1`;
    is($?, 0, 'rag-ask exits 0');
    like($out, qr/^Here is what the Acme Widget docs say:/, 'extractive answer, product from the description');
    like($out, qr/^> To install Acme Widget on Debian, run `apt install acme-widget`\./m,
        'best passage quoted');
    like($out, qr/\*\*\[1\] Installing Acme › Install > Debian\*\* <https:\/\/docs\.acme\.test\/install#install-debian>/,
        'with its numbered link');
    like($out, qr/^Sources:\n\[1\] Installing Acme › Install > Debian\n    https:\/\/docs\.acme\.test\/install#install-debian/m,
        'numbered sources printed');
    $out = `$bin --collection acme "How do I change the port acmed listens on?" 2>&1`;
    my @quoted = $out =~ /^\*\*\[(\d+)\]/mg;
    is_deeply(\@quoted, [1], 'weak passages are not quoted (answer_extract_min_ratio)');
    $out = `$bin --collection acme "What is the capital of Peru?" 2>&1`;
    like($out, qr/couldn't find this in the Acme Widget docs/, 'rag-ask abstains honestly');
    $out = `$bin --collection nosuch "install" 2>&1`;
    like($out, qr/no passages/, 'missing index reported');
    $out = `$bin 2>&1`;
    isnt($?, 0, 'usage error without arguments');
}

# --- worker, offline: extractive reply with sources ---------------------------
my $cdir = RagTest::tmpdir();
my $conf = "$cdir/worker.conf";
RagTest::write_file($conf, "index_dir = $ixdir\npoll_interval_ms = 200\n");
my $log = "$cdir/worker.log";
my $pid = RagTest::spawn([RagTest::bin('rag-worker'), '-c', $conf],
    env => { RAG_DATABASE_URL => $pg->{conninfo} }, log => $log);
my $m1 = WorkerTest::ask($pg, 'o1', 'Snapshots', 'How do I take a snapshot of the widget database?');
ok(RagTest::wait_for(sub { WorkerTest::reply_row($pg, 'o1', $m1) }, 15),
    'offline reply written') or diag(RagTest::slurp($log));
my $r = WorkerTest::reply_row($pg, 'o1', $m1);
like($r->{content}, qr/^> Run `acmectl snapshot create`/m, 'quoted passage');
like($r->{content}, qr/<https:\/\/docs\.acme\.test\/backup#snapshots>/, 'with its link');
my $src = JSON::PP->new->decode($r->{sources});
is($src->[0]{url}, 'https://docs.acme.test/backup#snapshots', 'sources recorded');
ok(@$src <= 3, 'at most answer_extract_passages sources');
is($r->{abstained}, 'f', 'not an abstain');

# long passages are cut at a sentence boundary
RagTest::write_file($conf, "index_dir = $ixdir\npoll_interval_ms = 200\n"
    . "answer_quote_bytes = 90\n");
kill 'HUP', $pid;
ok(RagTest::wait_for(sub { RagTest::slurp($log) =~ /config reloaded/ }, 5), 'SIGHUP reload logged');
my $m2 = WorkerTest::ask($pg, 'o2', 'Port', 'Which port does the acmed daemon listen on?');
ok(RagTest::wait_for(sub { WorkerTest::reply_row($pg, 'o2', $m2) }, 15), 'reply after reload');
$r = WorkerTest::reply_row($pg, 'o2', $m2);
like($r->{content}, qr/^> The acmed daemon listens on port 7070 by default\. …$/m,
    'quote cut at a sentence boundary (reloaded answer_quote_bytes)');

# --- SIGHUP switches the LLM on ----------------------------------------------
my $ai = FakeOpenAI->start();
RagTest::write_file($conf, "index_dir = $ixdir\npoll_interval_ms = 200\n"
    . "llm_base_url = $ai->{url}\nllm_model = reloaded-model\n");
kill 'HUP', $pid;
ok(RagTest::wait_for(sub { my @n = RagTest::slurp($log) =~ /config reloaded/g; @n >= 2 }, 5),
    'second reload');
my $m3 = WorkerTest::ask($pg, 'o3', 'Logging', 'How do I turn on debug logging?');
ok(RagTest::wait_for(sub { WorkerTest::reply_row($pg, 'o3', $m3) }, 15), 'reply with LLM');
my @reqs = $ai->requests('/v1/chat/completions');
is(scalar @reqs, 1, 'LLM used after reload');
is($reqs[0]{body}{model}, 'reloaded-model', 'reloaded model name');
like(WorkerTest::reply_row($pg, 'o3', $m3)->{content}, qr/\[1\]/, 'LLM reply with citations');

# a broken config file on reload keeps the old one
RagTest::write_file($conf, "this is not a config line\n");
kill 'HUP', $pid;
ok(RagTest::wait_for(sub { RagTest::slurp($log) =~ /reload failed/ }, 5), 'bad reload rejected');
my $m4 = WorkerTest::ask($pg, 'o4', 'Source', 'How do I build Acme from source?');
ok(RagTest::wait_for(sub { WorkerTest::reply_row($pg, 'o4', $m4) }, 15), 'still answering');
is(scalar($ai->requests('/v1/chat/completions')), 2, 'with the old (LLM) config');
is(RagTest::stop($pid, 'TERM', 10), 0, 'clean exit');
done_testing();
