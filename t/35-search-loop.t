# /search over an index the worker has mapped runs on the event loop:
# with the only pool thread held by a slow task, BM25 and hybrid
# searches still answer at once, while a location that sends every
# search to the pool (rag_search_inline_max 0) waits its turn behind
# it. The first open of an index still goes through the pool.
use strict;
use warnings;
use Test::More;
use HTTP::Tiny;
use IO::Socket::INET;
use IO::Select;
use JSON::PP;
use Time::HiRes qw(time sleep);
use lib 't/lib';
use RagTest;

my $J = JSON::PP->new;
my $pg = RagTest::pg_start();
my $ixdir = RagTest::tmpdir();
$ENV{RAG_DATABASE_URL} = $pg->{conninfo};
RagTest::psql($pg, q{
    INSERT INTO collections (name) VALUES ('docs'), ('late');
    INSERT INTO documents (collection_id, url, title)
      SELECT id, 'https://d/' || name, 'WAL' FROM collections;
    INSERT INTO chunks (document_id, ordinal, anchor, body) VALUES
      (1, 0, 'checkpoints', 'Checkpoints flush **dirty pages** to disk.'),
      (1, 1, 'wal', 'The write-ahead log records every change first.'),
      (2, 0, 'late', 'A collection opened while the pool is busy.')});
my $out = `@{[RagTest::bin('rag-reindex')]} --dir $ixdir docs late 2>&1`;
is($?, 0, 'indexes built') or diag $out;

my $ng = RagTest::nginx_start(pg => $pg, workers => 1,
    main => 'thread_pool ragpool threads=1 max_queue=100;',
    http => "rag_database \"%%DB%%\"; rag_thread_pool ragpool;"
        . " rag_index_dir $ixdir;",
    server => <<'EOF2');
location /search { rag_search; }
location /pooled { rag_search; rag_search_inline_max 0; }
location /slow { rag_search; rag_search_debug_delay 4000ms; }
EOF2
my $http = HTTP::Tiny->new(timeout => 10);
my $r = $http->get("$ng->{url}/search?q=checkpoints&collection=docs");
is($r->{status}, 200, 'first search (opens the index in the pool)');

sub send_get {
    my ($path) = @_;
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
        PeerPort => $ng->{port}, Timeout => 5) or die "connect: $!";
    print $s "GET $path HTTP/1.0\r\n\r\n";
    return $s;
}
sub read_all { my $s = shift; local $/; my $x = <$s> // ''; return $x }
sub pending { !IO::Select->new($_[0])->can_read(0) }

# the only pool thread sleeps in /slow's task
my $slow = send_get('/slow?q=wal&collection=docs');
sleep 0.3;
my $pooled = send_get('/pooled?q=wal&collection=docs&mode=bm25');
my $late = send_get('/search?q=busy+pool&collection=late');
sleep 0.1;

my ($ok, $max) = (0, 0);
for my $q (['checkpoints', 'bm25'], ['write+ahead+log', 'hybrid'],
           ['dirty+pages', ''], ['wal', 'bm25'], ['disk', 'hybrid'])
{
    my $t0 = time;
    my $s = $http->get("$ng->{url}/search?q=$q->[0]&collection=docs"
        . ($q->[1] ? "&mode=$q->[1]" : ''));
    my $dt = time - $t0;
    $max = $dt if $dt > $max;
    my $j = eval { $J->decode($s->{content}) } || {};
    $ok++ if $s->{status} == 200 && @{ $j->{results} || [] } >= 1;
    diag("$q->[0]: $s->{status} $s->{content}") if $ENV{TEST_VERBOSE};
}
my ($slow_pending, $pooled_pending, $late_pending) =
    (pending($slow), pending($pooled), pending($late));
is($ok, 5, 'searches answered while the pool thread is busy');
ok($slow_pending, 'the slow task was still holding the only thread');
ok($pooled_pending, 'rag_search_inline_max 0: that search waits for the pool');
ok($late_pending, 'a first open waits for the pool too');
diag(sprintf('slowest search while the pool was busy: %.1f ms', $max * 1000));

like(read_all($slow), qr{^HTTP/1\.\d 200}, 'slow search answered');
my $p = read_all($pooled);
diag($p) if $ENV{TEST_VERBOSE};
like($p, qr{^HTTP/1\.\d 200}, 'pooled search answered after it');
like($p, qr{d/docs#wal}, 'pooled search result');
like(read_all($late), qr{d/late#late}, 'late collection answered after it');

# the mapped index now serves from the loop as well
$r = $http->get("$ng->{url}/search?q=busy+pool&collection=late&mode=bm25");
like($r->{content}, qr{d/late#late}, 'late collection searchable');

done_testing();
