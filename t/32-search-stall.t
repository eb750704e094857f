# A stalled Postgres (postmaster and backends SIGSTOPped) ties up pool
# threads in database endpoints, yet /search (which never touches the
# database) and a plain location keep answering promptly.
use strict;
use warnings;
use Test::More;
use HTTP::Tiny;
use IO::Socket::INET;
use IO::Select;
use Time::HiRes qw(time sleep);
use lib 't/lib';
use RagTest;

my $pg = RagTest::pg_start();
my $ixdir = RagTest::tmpdir();
$ENV{RAG_DATABASE_URL} = $pg->{conninfo};
RagTest::psql($pg, q{
    INSERT INTO collections (name) VALUES ('docs');
    INSERT INTO documents (collection_id, url, title)
      SELECT id, 'https://d/wal', 'WAL' FROM collections;
    INSERT INTO chunks (document_id, ordinal, anchor, body) VALUES
      (1, 0, 'checkpoints', 'Checkpoints flush dirty pages to disk.')});
my $out = `@{[RagTest::bin('rag-reindex')]} --dir $ixdir docs 2>&1`;
is($?, 0, 'index built') or diag $out;

my $ng = RagTest::nginx_start(pg => $pg, workers => 1,
    main => 'thread_pool ragpool threads=4 max_queue=1000;',
    http => "rag_database \"%%DB%%\"; rag_thread_pool ragpool;"
        . " rag_db_timeout 3s; rag_index_dir $ixdir;",
    server => <<'EOF');
location /search { rag_search; }
location = /rag/health { rag_health; }
location /ping { return 200 "pong\n"; }
EOF
my $http = HTTP::Tiny->new(timeout => 10);
is($http->get("$ng->{url}/rag/health")->{status}, 200, 'health 200 before');

# freeze every process of the cluster
my @pids = grep { /^\d+$/ } map { (split ' ')[0] }
    `ps -eo pid,args | grep -F '$pg->{data}' | grep -v grep`;
my $post = RagTest::slurp("$pg->{data}/postmaster.pid") =~ /^(\d+)/ ? $1 : 0;
push @pids, $post, map { /(\d+)/ ? $1 : () } `pgrep -P $post`;
my %seen;
@pids = grep { $_ && !$seen{$_}++ } @pids;
ok(@pids >= 1, 'found the Postgres processes (' . scalar(@pids) . ')');
kill 'STOP', @pids;
END { kill 'CONT', @pids if @pids }   # never leave the cluster frozen

my @stuck;
for (1 .. 3) {   # three of the pool's four threads wait on the database
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
        PeerPort => $ng->{port}, Timeout => 5) or die;
    print $s "GET /rag/health HTTP/1.0\r\n\r\n";
    push @stuck, $s;
}
sleep 0.3;
my ($max_ping, $max_search, $ok) = (0, 0, 0);
for (1 .. 5) {
    my $t0 = time;
    my $p = $http->get("$ng->{url}/ping");
    my $t1 = time;
    my $s = $http->get("$ng->{url}/search?q=checkpoints&collection=docs");
    my $t2 = time;
    $ok++ if $p->{status} == 200 && $s->{status} == 200
        && $s->{content} =~ m{d/wal#checkpoints};
    $max_ping = $t1 - $t0 if $t1 - $t0 > $max_ping;
    $max_search = $t2 - $t1 if $t2 - $t1 > $max_search;
}
my $pending = grep { !IO::Select->new($_)->can_read(0) } @stuck;
kill 'CONT', @pids;
is($ok, 5, 'ping and search answered while Postgres is stalled');
# a request stuck behind the database would take rag_db_timeout (3 s);
# 1 s tells the two apart with room for a loaded machine (issue 15.7)
ok($max_ping < 1, sprintf('ping < 1 s (max %.1f ms)', $max_ping * 1000));
ok($max_search < 1, sprintf('search < 1 s (max %.1f ms)', $max_search * 1000));
is($pending, 3, 'the health checks were still waiting on the database');
my $answered = 0;
for my $s (@stuck) {
    local $/;
    my $resp = <$s> // '';
    $answered++ if $resp =~ m{^HTTP/1\.\d (200|503)};
}
is($answered, 3, 'stalled requests answered (200 or 503) once it resumed or timed out');
ok(RagTest::wait_for(sub {
    $http->get("$ng->{url}/rag/health")->{status} == 200 }, 10),
    'health recovers');

done_testing();
