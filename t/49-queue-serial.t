# Back-to-back uploads to one collection: ingests of a collection run one
# at a time (the next stays queued, it is not failed), uploads that
# arrive while one waits join that pending job, and an ingest that finds
# the collection locked by a command-line rag-ingest waits without
# burning an attempt. Every document ends up chunked and in the index;
# no job fails, retries or dies.
use strict;
use warnings;
use Test::More;
use HTTP::Tiny;
use Time::HiRes qw(time sleep);
use lib 't/lib';
use RagTest;
use FakeOpenAI;
use WorkerTest;

my $pg = RagTest::pg_start();
my $ai = FakeOpenAI->start(api_key => 'sk-u');
my $idx = RagTest::tmpdir();
my $ng = RagTest::nginx_start(pg => $pg,
    http => 'rag_database "%%DB%%";',
    server => '
        location = /upload_documents {
            rag_upload;
            rag_upload_token "tok-123456";
            rag_upload_create_collections on;
        }');
# four threads: without serialisation the uploads' ingests would overlap
my ($worker, $wlog) = WorkerTest::worker($pg, index_dir => $idx,
    embed_base_url => $ai->{url}, embed_api_key => 'sk-u',
    concurrency => 4, poll_interval_ms => 200);
my $http = HTTP::Tiny->new(timeout => 10);
my @words = qw(aardvark bison caracal dingo echidna fossa gharial hyrax);

sub upload {
    my ($coll, $i) = @_;
    my $w = $words[$i];
    my $body = qq({"collection":"$coll","documents":[{"url":)
        . qq("https://docs.example.com/$coll/$i","title":"Page $i",)
        . qq("body":"# Page $i\\n\\nThe $w lives here."}]});
    my $r = $http->post("$ng->{url}/upload_documents", { content => $body,
        headers => { 'Content-Type' => 'application/json',
            Authorization => 'Bearer tok-123456' } });
    is($r->{status}, 202, "upload $i to $coll accepted") or diag $r->{content};
    my ($job) = ($r->{content} // '') =~ /"job_id":(\d+)/;
    return $job // 0;
}
sub settled {
    my ($coll) = @_;
    return RagTest::wait_for(sub { $pg->sql("SELECT count(*) FROM jobs WHERE "
        . "payload->>'collection' = '$coll' AND state <> 'done'") == 0 }, 60);
}
sub searchable {
    my ($coll, $i) = @_;
    local $ENV{RAG_DATABASE_URL} = $pg->{conninfo};
    local $ENV{RAG_ANSWER_MIN_SCORE} = 0;   # one-page collections score low
    my $bin = RagTest::bin('rag-ask');
    my $out = `$bin --index-dir $idx --collection $coll "Where does the $words[$i] live?" 2>&1`;
    return $out =~ m{https://docs\.example\.com/$coll/$i\b};
}
sub clean_jobs {
    my ($coll, $n) = @_;
    is($pg->sql("SELECT count(*) FROM jobs WHERE payload->>'collection' = '$coll'"
        . " AND (state <> 'done' OR attempts <> 1)"), 0,
        "$coll: every job done on its first attempt")
        or diag $pg->sql("SELECT string_agg(id || ' ' || state || ' ' || attempts"
            . " || ' ' || coalesce(last_error, ''), E'\\n') FROM jobs");
    is($pg->sql("SELECT count(*) FROM documents d JOIN collections c ON "
        . "c.id = d.collection_id WHERE c.name = '$coll' AND "
        . "d.chunked_hash = d.content_hash AND d.content_hash <> ''"), $n,
        "$coll: all $n documents chunked");
    ok(searchable($coll, $_), "$coll: document $_ is in the index")
        for 0 .. $n - 1;
}

# --- a burst: six uploads as fast as they can go ---------------------------
$ai->set(delay_ms => 150);   # each ingest takes a moment (embeddings)
my @jobs = map { upload('burst', $_) } 0 .. 5;
ok(settled('burst'), 'burst: all jobs finished') or diag RagTest::slurp($wlog);
clean_jobs('burst', 6);
unlike(RagTest::slurp($wlog), qr/another ingest/, 'no ingest was refused');

# --- uploads while an ingest of the collection runs join one pending job --
$ai->set(delay_ms => 0, delay_next => [2500]);
my $first = upload('wave', 0);
ok(RagTest::wait_for(sub { $pg->sql("SELECT state FROM jobs WHERE id = $first")
    eq 'running' }, 10), 'wave: the first ingest is running');
my @later = map { upload('wave', $_) } 1 .. 4;
isnt($later[0], $first, 'the next upload gets a new job (the first already started)');
is(scalar(grep { $_ == $later[0] } @later), 4,
    'the uploads after it join that pending job') or diag "@later";
is($pg->sql("SELECT state FROM jobs WHERE id = $later[0]"), 'queued',
    'which waits, queued, while the first runs');
ok(settled('wave'), 'wave: all jobs finished');
is($pg->sql("SELECT count(*) FROM jobs WHERE payload->>'collection' = 'wave'"), 2,
    'two ingests for five uploads');
clean_jobs('wave', 5);

# --- a command-line ingest holds the collection ---------------------------
# rag-ingest takes the collection's advisory lock for its whole run; a
# job that meets it waits (released, attempt not counted) and runs after.
my $cli = RagTest::spawn(["$RagTest::PGBIN/psql", '-X', '-q', '-h',
    $pg->{host}, '-p', $pg->{port}, '-U', 'postgres', '-d', 'rag', '-c',
    "SELECT pg_advisory_lock(hashtext('rag_ingest:held')); SELECT pg_sleep(3)"],
    log => "$idx/psql.log");
ok(RagTest::wait_for(sub { $pg->sql("SELECT count(*) FROM pg_locks WHERE "
    . "locktype = 'advisory' AND granted") > 0 }, 10), 'collection held');
my $t0 = time;
my $held = upload('held', 0);
ok(RagTest::wait_for(sub { RagTest::slurp($wlog) =~
    /id=$held kind=ingest attempt=1\/5 state=deferred/ }, 10),
    'the job met the lock and was deferred') or diag RagTest::slurp($wlog);
is($pg->sql("SELECT state || ' ' || attempts FROM jobs WHERE id = $held"),
    'retry 0', 'waiting without a burnt attempt');
like($pg->sql("SELECT last_error FROM jobs WHERE id = $held"),
    qr/another ingest of collection held is running/, 'and says why');
ok(settled('held'), 'it ran once the other ingest ended');
ok(time - $t0 >= 2, sprintf('after the lock was gone (%.1f s)', time - $t0));
clean_jobs('held', 1);
RagTest::stop($cli, 'TERM');

is(RagTest::stop($worker, 'TERM', 10), 0, 'worker stops cleanly');
done_testing();
