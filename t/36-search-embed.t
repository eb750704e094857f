# The query embedding of /search goes out as an nginx subrequest to an
# internal location proxying to the embeddings endpoint (keepalive
# upstream), never on a pool thread: with the only thread held by a slow
# task, searches waiting on a slow endpoint still answer. Vectors of
# recent queries come from a shared cache (no second request, from any
# worker). An endpoint that is down, slow past proxy_read_timeout, or
# refusing the key leaves a lexical answer with a clear flag.
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
use FakeOpenAI;

my $J = JSON::PP->new->canonical->utf8;
my $pg = RagTest::pg_start();
my $ai = FakeOpenAI->start(api_key => 'sk-test');
my ($aiport) = $ai->{url} =~ m{:(\d+)/};
my $closed = RagTest::free_port();
my $ixdir = RagTest::tmpdir();
$ENV{RAG_DATABASE_URL} = $pg->{conninfo};

my @chunks = (
    ['backup', 'Use pg_dump to write a logical backup of one database.'],
    ['vacuum', 'VACUUM reclaims storage occupied by dead tuples.'],
    ['conns', 'max_connections sets the maximum number of concurrent connections.'],
    ['wal', 'The write-ahead log records every change before the data files.'],
);
RagTest::psql($pg, q{INSERT INTO collections (name) VALUES ('docs');
    INSERT INTO documents (collection_id, url, title)
      SELECT id, 'https://d/pg', 'PG' FROM collections});
my $ord = 0;
for my $c (@chunks) {
    my $v = FakeOpenAI::embed_text("PG $c->[1]", 64);
    RagTest::psql($pg, "INSERT INTO chunks (document_id, ordinal, anchor, body,"
        . " embedding) VALUES (1, " . $ord++ . ", '$c->[0]', '$c->[1]',"
        . " ARRAY[" . join(',', @$v) . "]::real[])");
}
my $out = `@{[RagTest::bin('rag-reindex')]} --dir $ixdir docs 2>&1`;
is($?, 0, 'index built') or diag $out;

my $proxy = 'proxy_http_version 1.1; proxy_set_header Connection "";'
    . ' proxy_buffer_size 64k; proxy_buffers 4 64k;';
my $ng = RagTest::nginx_start(pg => $pg, workers => 2,
    main => 'thread_pool ragpool threads=1 max_queue=100;',
    http => "rag_database \"%%DB%%\"; rag_thread_pool ragpool;"
        . " rag_index_dir $ixdir; rag_embed_cache 1m;"
        . " upstream openai { server 127.0.0.1:$aiport; keepalive 4; }",
    server => <<"EOF");
location = /_embed { internal; proxy_pass http://openai/v1/embeddings;
    $proxy proxy_read_timeout 1s; }
location = /_down { internal;
    proxy_pass http://127.0.0.1:$closed/v1/embeddings; $proxy }
location /search { rag_search; rag_embed_pass /_embed; rag_embed_key sk-test; }
location /nokey { rag_search; rag_embed_pass /_embed; }
location /down { rag_search; rag_embed_pass /_down; rag_embed_key sk-test; }
location /slow { rag_search; rag_search_debug_delay 8000ms; }
EOF
my $http = HTTP::Tiny->new(timeout => 10);

sub esc { my $s = shift; $s =~ s/([^A-Za-z0-9_.-])/sprintf('%%%02X', ord $1)/ge; $s }
sub search {
    my ($loc, $q, %a) = @_;
    my $url = "$ng->{url}$loc?collection=docs&q=" . esc($q)
        . join('', map { "&$_=$a{$_}" } sort keys %a);
    # a new connection each time: the two workers take turns
    my $r = HTTP::Tiny->new(timeout => 10)->get($url);
    my $j = eval { $J->decode($r->{content}) } || {};
    return ($r, $j);
}
sub embeds { scalar $ai->requests('/v1/embeddings') }

# --- through the endpoint, then from the cache -------------------------------
my ($r, $j) = search('/search', 'reclaim space from dead rows');
is($r->{status}, 200, 'hybrid search 200');
is($j->{embedding}, 'endpoint', 'query embedded by the endpoint');
ok(!exists $j->{vector}, 'no degradation note') or diag $j->{vector};
ok(($j->{results}[0]{cosine} // 0) > 0, 'cosine from the query vector');
my @log = $ai->requests('/v1/embeddings');
is(scalar @log, 1, 'one embeddings request');
is($log[0]{auth}, 'Bearer sk-test', 'the key sent as a bearer token');
is_deeply($log[0]{body}{input}, ['reclaim space from dead rows'], 'the query as input');
is($log[0]{body}{model}, 'text-embedding-3-small', 'the default model');
my $first = $J->encode($j->{results});

my $cached = 0;
for (1 .. 6) {
    ($r, $j) = search('/search', 'reclaim space from dead rows');
    $cached++ if $r->{status} == 200 && ($j->{embedding} // '') eq 'cached'
        && $J->encode($j->{results}) eq $first;
}
is($cached, 6, 'repeats answered from the shared cache, same results');
is(embeds(), 1, 'no further embeddings requests');
($r, $j) = search('/search', 'how many clients can connect');
is($j->{embedding}, 'endpoint', 'a new query goes to the endpoint');
is(embeds(), 2, 'one more request');
($r, $j) = search('/search', 'reclaim space from dead rows', mode => 'bm25');
ok(!exists $j->{embedding}, 'bm25 mode: no embedding');
is(embeds(), 2, 'bm25 mode: no request');

# --- the endpoint down, slow, refusing ---------------------------------------
($r, $j) = search('/down', 'pg_dump logical backup');
is($r->{status}, 200, 'endpoint down: still 200');
like($j->{vector} // '', qr/^embedding failed \(HTTP 502\), lexical only$/,
    'endpoint down: flagged') or diag $r->{content};
like($j->{results}[0]{url} // '', qr/#backup$/, 'endpoint down: lexical results');
($r, $j) = search('/down', 'x', mode => 'vector');
is($r->{status}, 502, 'vector mode with the endpoint down: 502');
like($j->{error} // '', qr/embedding failed/, 'with the reason');

$ai->set(delay_next => [3000]);
my $t0 = time;
($r, $j) = search('/search', 'pg_dump of one database');
my $dt = time - $t0;
is($r->{status}, 200, 'slow endpoint: still 200');
like($j->{vector} // '', qr/^embedding failed \(HTTP 504\), lexical only$/,
    'slow endpoint: flagged') or diag $r->{content};
like($j->{results}[0]{url} // '', qr/#backup$/, 'slow endpoint: lexical results');
ok($dt < 2.5, sprintf('answered at proxy_read_timeout (%.2f s)', $dt));
sleep 2.2;   # let the stand-in answer the abandoned request
($r, $j) = search('/search', 'pg_dump of one database');
is($j->{embedding} // '', 'endpoint', 'the endpoint back: embedded again');

($r, $j) = search('/nokey', 'write ahead log');
is($r->{status}, 200, 'key refused: still 200');
like($j->{vector} // '', qr/HTTP 401/, 'key refused: flagged');

# --- no pool thread waits on the endpoint -------------------------------------
sub send_get {
    my ($path) = @_;
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
        PeerPort => $ng->{port}, Timeout => 5) or die "connect: $!";
    print $s "GET $path HTTP/1.0\r\n\r\n";
    return $s;
}
sub read_all { my $s = shift; local $/; my $x = <$s> // ''; return $x }

# hold the pool's only thread in each worker (or both in one: either way
# a search below that needed a thread would wait for /slow); /slow holds
# it 8 s, the four 600 ms embeddings need 2.4 s if the stand-in serves
# them one at a time: room for a loaded machine (it failed at 4 s under
# the coverage build)
my @slow = map { send_get('/slow?q=wal&collection=docs') } 1 .. 2;
sleep 0.3;
$ai->set(delay_ms => 600);
my @emb = map { send_get('/search?collection=docs&q=' . esc("slow endpoint question $_")) } 1 .. 4;
# wait until all four answered or a /slow task ended (then the order
# would prove nothing)
my $sel = IO::Select->new(@emb);
my $slowsel = IO::Select->new(@slow);
my ($done, $deadline) = (0, time + 8.5);
my %got;
while ($done < @emb && time < $deadline && !$slowsel->can_read(0)) {
    for my $s ($sel->can_read(0.05)) {
        $got{fileno $s} = read_all($s);
        $sel->remove($s);
        $done++;
    }
}
my $slow_pending = grep { !IO::Select->new($_)->can_read(0) } @slow;
$ai->set(delay_ms => 0);
is($done, 4, 'four searches waiting on a slow endpoint answered');
is($slow_pending, 2, '... while the pool threads were still held');
is(scalar(grep { /"embedding":"endpoint"/ } values %got), 4,
    '... each with its embedding');
like(read_all($_), qr{^HTTP/1\.\d 200}, 'slow task answered') for @slow;

# --- configuration -------------------------------------------------------------
my $dir = RagTest::tmpdir();
mkdir "$dir/logs";
RagTest::write_file("$dir/bad.conf", "load_module @{[RagTest::module_path()]};\n"
    . "events {}\nhttp { server { listen 127.0.0.1:$closed;"
    . " location /s { rag_search; rag_embed_url http://x/v1; } } }\n");
my ($ok, $msg) = RagTest::nginx_test_conf("$dir/bad.conf", $dir);
ok(!$ok, 'rag_embed_url refused');
like($msg, qr/rag_embed_pass/, '... pointing to rag_embed_pass');

unlike(RagTest::error_log($ng), qr/\[(alert|crit|emerg)\]/, 'no alerts in the error log');
done_testing();
