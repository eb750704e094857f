# rag-worker rebuilds, at start, index files nginx cannot serve: one of
# an older major format (what an upgrade that changes the format leaves
# behind: nginx refuses it and answers 503 for the collection), a missing
# one and a damaged one. A file of a newer format is left alone (a newer
# worker wrote it). One job per collection and generation, however often
# workers start.
use strict;
use warnings;
use Test::More;
use HTTP::Tiny;
use lib 't/lib';
use RagTest;

my $pg = RagTest::pg_start();
my $ixdir = RagTest::tmpdir();
my $tmp = RagTest::tmpdir();
my %env = (RAG_DATABASE_URL => $pg->{conninfo}, RAG_INDEX_DIR => $ixdir);

sub run {
    my (@cmd) = @_;
    local @ENV{keys %env} = values %env;
    my $cmd = join ' ', map { "'$_'" } @cmd;
    my $out = `$cmd 2>&1`;
    return ($? >> 8, $out);
}
sub major {
    open my $fh, '<:raw', $_[0] or return 0;
    read $fh, my $b, 10;
    return unpack('x8 v', $b);
}
sub set_major {
    my ($f, $v) = @_;
    open my $fh, '+<:raw', $f or die "$f: $!";
    seek $fh, 8, 0;
    print $fh pack('v', $v);
    close $fh;
}
sub gen { RagTest::psql($pg, "SELECT index_generation FROM collections WHERE name = '$_[0]'") }

for my $c (qw(old gone bad newer fine)) {
    RagTest::write_file("$tmp/$c.jsonl",
        qq({"url":"https://x.example/$c","title":"$c","body":"Vacuum reclaims storage occupied by dead tuples in $c."}\n));
    my ($rc, $out) = run(RagTest::bin('rag-ingest'), '--collection', $c,
        '--json', "$tmp/$c.jsonl");
    is($rc, 0, "$c ingested") or diag $out;
}
my %g0 = map { $_ => gen($_) } qw(old gone bad newer fine);
is(major("$ixdir/fine.idx"), 2, 'files are format 2');

set_major("$ixdir/old.idx", 1);
unlink "$ixdir/gone.idx" or die;
{   # flip a byte in the middle: the CRC refuses it
    my $f = "$ixdir/bad.idx";
    open my $fh, '+<:raw', $f or die;
    my $size = -s $f;
    seek $fh, int($size / 2), 0;
    read $fh, my $c, 1;
    seek $fh, int($size / 2), 0;
    print $fh chr(ord($c) ^ 0xff);
    close $fh;
}
set_major("$ixdir/newer.idx", 3);

my $ng = RagTest::nginx_start(pg => $pg,
    main => 'thread_pool ragpool threads=2 max_queue=100;',
    http => "rag_database \"%%DB%%\"; rag_thread_pool ragpool; rag_index_dir $ixdir;",
    server => 'location /search { rag_search; }');
my $http = HTTP::Tiny->new(timeout => 10);
sub status { $http->get("$ng->{url}/search?collection=$_[0]&q=vacuum")->{status} }
is(status('old'), 503, 'nginx refuses the older-format file (503)');
is(status('fine'), 200, 'and serves the good one');

my $log = "$tmp/worker.log";
my $w = RagTest::spawn([RagTest::bin('rag-worker')], log => $log,
    env => {%env, RAG_POLL_INTERVAL_MS => 200});
ok(RagTest::wait_for(sub {
    major("$ixdir/old.idx") == 2 && -s "$ixdir/gone.idx"
        && gen('bad') > $g0{bad} }, 60),
    'the worker rebuilt the older, missing and damaged files')
    or diag RagTest::slurp($log);
for my $c (qw(old gone bad)) {
    cmp_ok(gen($c), '>', $g0{$c}, "$c: a new generation");
    like(RagTest::slurp($log), qr/reindex enqueued" collection=$c reason="/,
        "$c: the log says why");
}
like(RagTest::slurp($log), qr/collection=old reason="older index format"/, 'older format named');
is(gen('fine'), $g0{fine}, 'a good file is not rebuilt');
is(gen('newer'), $g0{newer}, 'a newer-format file is left alone');
is(major("$ixdir/newer.idx"), 3, '... untouched');
ok(RagTest::wait_for(sub { status('old') == 200 }, 5), 'nginx serves the rebuilt file');

# a second start (and a second worker) enqueue nothing more
kill 'TERM', $w;
waitpid($w, 0);
my $jobs = RagTest::psql($pg, "SELECT count(*) FROM jobs WHERE kind = 'reindex'");
is($jobs, 3, 'three reindex jobs');
set_major("$ixdir/old.idx", 1);   # same generation as the job already done
$w = RagTest::spawn([RagTest::bin('rag-worker')], log => "$log.2",
    env => {%env, RAG_POLL_INTERVAL_MS => 200});
ok(RagTest::wait_for(sub { RagTest::slurp("$log.2") =~ /reindex enqueued" collection=old/ }, 20),
    'an older file at a newer generation is enqueued again');
ok(RagTest::wait_for(sub { major("$ixdir/old.idx") == 2 }, 60), 'and rebuilt');
kill 'TERM', $w;
waitpid($w, 0);
is(RagTest::psql($pg, "SELECT count(*) FROM jobs WHERE kind = 'reindex'"), 4,
    'one job per collection and generation');
unlike(RagTest::slurp("$log.2"), qr/collection=(gone|bad|fine|newer) reason/,
    'healed files are not enqueued again');

done_testing();
