# The first load of an index in a worker: requests that arrive while it
# is under way wait for it (the file is opened once, not once per
# request) and all get answers. The load is held back by filling the
# worker's thread pool with slow searches first.
use strict;
use warnings;
use Test::More;
use IO::Socket::INET;
use IO::Select;
use Time::HiRes qw(time sleep);
use lib 't/lib';
use RagTest;

my $pg = RagTest::pg_start();
my $ixdir = RagTest::tmpdir();
$ENV{RAG_DATABASE_URL} = $pg->{conninfo};
RagTest::psql($pg, q{
    INSERT INTO collections (name) VALUES ('busy'), ('fresh');
    INSERT INTO documents (collection_id, url, title)
      SELECT id, 'https://d/' || name, name FROM collections;
    INSERT INTO chunks (document_id, ordinal, anchor, body)
      SELECT id, 0, 'a', 'shared words for every page' FROM documents});
my $out = `@{[RagTest::bin('rag-reindex')]} --dir $ixdir busy fresh 2>&1`;
is($?, 0, 'indexes built') or diag $out;

my $ng = RagTest::nginx_start(pg => $pg, workers => 1,
    main => 'thread_pool ragpool threads=2 max_queue=100;',
    http => "rag_database \"%%DB%%\"; rag_thread_pool ragpool;"
        . " rag_index_dir $ixdir;",
    server => <<'EOF');
location /search { rag_search; }
location /slow { rag_search; rag_search_debug_delay 1s; }
EOF

sub send_get {
    my ($path) = @_;
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
        PeerPort => $ng->{port}, Timeout => 5) or die "connect: $!";
    print $s "GET $path HTTP/1.0\r\n\r\n";
    return $s;
}

sub read_resp {
    my ($s, $timeout) = @_;
    my $sel = IO::Select->new($s);
    my $buf = '';
    my $end = time + $timeout;
    while (time < $end) {
        last unless $sel->can_read($end - time);
        my $n = sysread($s, $buf, 65536, length $buf);
        last unless $n;
    }
    return $buf;
}

# load 'busy' first, then keep both pool threads busy for a second
like(read_resp(send_get('/search?q=words&collection=busy'), 5),
    qr{^HTTP/1\.\d 200}, 'busy index loaded');
my @slow = map { send_get('/slow?q=words&collection=busy') } 1 .. 2;
sleep 0.2;
# a burst for an index this worker has not opened yet
my $t0 = time;
my @burst = map { send_get('/search?q=shared+words&collection=fresh') } 1 .. 10;
my $ok = 0;
for my $s (@burst) {
    my $r = read_resp($s, 10);
    $ok++ if $r =~ m{^HTTP/1\.\d 200} && $r =~ m{d/fresh#a};
}
is($ok, 10, 'every request that waited for the first load got results');
ok(time - $t0 >= 0.5, 'they did wait for the busy pool');
my $slow_ok = grep { read_resp($_, 10) =~ m{^HTTP/1\.\d 200} } @slow;
is($slow_ok, 2, 'slow searches done');

my $loads = () = RagTest::error_log($ng) =~ m{fresh\.idx generation 1 loaded}g;
is($loads, 1, 'the new index was opened once for the whole burst');

# and a second burst uses the loaded index directly
@burst = map { send_get('/search?q=shared&collection=fresh') } 1 .. 5;
$ok = grep { read_resp($_, 5) =~ m{^HTTP/1\.\d 200} } @burst;
is($ok, 5, 'later requests served from the loaded index');

done_testing();
