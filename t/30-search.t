# /search with the real nginx: correctness on a small known corpus, input
# validation, hybrid retrieval through the embeddings stand-in, index
# generations picked up without reload (also under load), a corrupt new
# index file refused while the old one keeps serving, and slow searches
# on the thread pool not delaying another location.
use strict;
use warnings;
use Test::More;
use HTTP::Tiny;
use IO::Socket::INET;
use IO::Select;
use POSIX ();
use JSON::PP;
use Time::HiRes qw(time sleep);
use lib 't/lib';
use RagTest;
use FakeOpenAI;

my $J = JSON::PP->new->canonical->utf8;
my $pg = RagTest::pg_start();
my $ai = FakeOpenAI->start();
my $ixdir = RagTest::tmpdir();
$ENV{RAG_DATABASE_URL} = $pg->{conninfo};

my @docs = (
    ['https://docs.example/backup', 'Backup and Restore', [
        ['Backup > pg_dump', 'pg-dump',
         'Use pg_dump to write a logical backup of one database. pg_dump '
         . 'does not block readers or writers.'],
        ['Backup > pg_restore', 'pg-restore',
         'pg_restore restores an archive created by pg_dump in one of the '
         . 'non-plain-text formats.'] ]],
    ['https://docs.example/config', 'Server Configuration', [
        ['Connections', 'max-connections',
         'max_connections sets the maximum number of concurrent '
         . 'connections to the database server. The default is 100.'],
        ['Resource Consumption > Memory', 'shared-buffers',
         'shared_buffers sets the amount of memory the server uses for '
         . 'shared memory buffers.'] ]],
    ['https://docs.example/indexes', 'Indexes', [
        ['Indexes > Creating', 'create-index',
         "CREATE INDEX builds an index on the specified column(s) of a "
         . "table.\n\n```sql\nCREATE INDEX test1_id_index ON test1 (id);\n```"],
        ['Indexes > Types', 'index-types',
         'PostgreSQL provides several index types: B-tree, Hash, GiST, '
         . 'SP-GiST, GIN and BRIN.'] ]],
    ['https://docs.example/vacuum', 'Routine Vacuuming', [
        ['', '', 'VACUUM reclaims storage occupied by dead tuples. The '
         . 'autovacuum daemon automates it.'] ]],
    ['https://docs.example/fr', "Aper\x{e7}u", [
        ['Aper\x{e7}u', 'apercu',
         "D\x{e9}j\x{e0} vu : les index acc\x{e9}l\x{e8}rent les "
         . "requ\x{ea}tes \x{2014} \x{2018}citation\x{2019}."] ]],
);

sub q_ { my $s = shift; utf8::encode($s); $s =~ s/'/''/g; return "'$s'" }
sub vec_sql { return 'ARRAY[' . join(',', @{ $_[0] }) . ']::real[]' }

RagTest::psql($pg, "INSERT INTO collections (name) VALUES ('docs'), ('empty')");
for my $d (@docs) {
    my ($url, $title, $chunks) = @$d;
    my $id = RagTest::psql($pg, "INSERT INTO documents (collection_id, url, title)"
        . " SELECT id, " . q_($url) . ", " . q_($title)
        . " FROM collections WHERE name = 'docs' RETURNING id");
    my $ord = 0;
    for my $c (@$chunks) {
        my ($hp, $anchor, $body) = @$c;
        my $v = FakeOpenAI::embed_text("$title $hp $body", 64);
        RagTest::psql($pg, "INSERT INTO chunks (document_id, ordinal, heading_path,"
            . " anchor, body, embedding) VALUES ($id, " . $ord++ . ", " . q_($hp)
            . ", " . q_($anchor) . ", " . q_($body) . ", " . vec_sql($v) . ")");
    }
}

sub reindex {
    my $out = `@{[RagTest::bin('rag-reindex')]} --dir $ixdir @_ 2>&1`;
    die "rag-reindex failed: $out" if $?;
    return $out;
}
like(reindex('docs', 'empty'), qr/docs: generation 1, 8 chunks/, 'index built');
ok(-f "$ixdir/docs.idx", 'index file in rag_index_dir');

my $ng = RagTest::nginx_start(pg => $pg,
    main => 'thread_pool ragpool threads=4 max_queue=1000;',
    http => "rag_database \"%%DB%%\"; rag_thread_pool ragpool;"
        . " rag_index_dir $ixdir;",
    server => <<"EOF");
location = /_embed { internal; proxy_pass $ai->{url}/embeddings;
    proxy_buffer_size 64k; proxy_buffers 4 64k; proxy_read_timeout 3s; }
location /search { rag_search; rag_embed_pass /_embed; }
location /lex { rag_search; add_header X-Worker \$pid always; }
location /slow { rag_search; rag_search_debug_delay 1500ms; }
location /capped { rag_search; rag_max_body 1k; }
location /ping { return 200 "pong\\n"; }
EOF
my $base = $ng->{url};
my $http = HTTP::Tiny->new(timeout => 10, keep_alive => 1);

sub uri_esc {
    my $s = shift;
    utf8::encode($s);
    $s =~ s/([^A-Za-z0-9_.~-])/sprintf('%%%02X', ord $1)/ge;
    return $s;
}

sub get {
    my ($path, %a) = @_;
    my $qs = join '&', map { "$_=" . uri_esc($a{$_}) } sort keys %a;
    my $r = $http->get("$base$path?$qs");
    my $j = eval { $J->decode($r->{content}) };
    return ($r, $j);
}

sub post {
    my ($path, $body, $ct) = @_;
    my $r = $http->post("$base$path", { content => $body,
        headers => { 'Content-Type' => $ct // 'application/json' } });
    my $j = eval { $J->decode($r->{content}) };
    return ($r, $j);
}

# --- correctness ------------------------------------------------------------
my %expect = (
    'pg_dump'                       => 'https://docs.example/backup#pg-dump',
    'how do I restore an archive'   => 'https://docs.example/backup#pg-restore',
    'max connections'               => 'https://docs.example/config#max-connections',
    'shared_buffers memory'         => 'https://docs.example/config#shared-buffers',
    'CREATE INDEX'                  => 'https://docs.example/indexes#create-index',
    'GIN index types'               => 'https://docs.example/indexes#index-types',
    'vacuum dead tuples'            => 'https://docs.example/vacuum',
    "acc\x{e9}l\x{e8}rent"          => 'https://docs.example/fr#apercu',
);
for my $q (sort keys %expect) {
    my ($r, $j) = get('/lex', q => $q, collection => 'docs');
    is($r->{status}, 200, "GET '$q' 200");
    is($j->{results}[0]{url}, $expect{$q}, "top result for '$q'");
}

my ($r, $j) = get('/lex', q => 'pg_dump', collection => 'docs', k => 10);
is($j->{generation}, 1, 'generation reported');
is($j->{collection}, 'docs', 'collection echoed');
is($j->{query}, 'pg_dump', 'query echoed');
ok(defined $j->{took_ms} && $j->{took_ms} >= 0, 'took_ms');
my $top = $j->{results}[0];
is($top->{rank}, 1, 'rank 1');
like($top->{chunk_id}, qr/^\d+$/, 'chunk id');
is($top->{title}, 'Backup and Restore', 'title');
is($top->{heading_path}, 'Backup > pg_dump', 'heading path');
like($top->{snippet}, qr/pg_dump/, 'snippet around the match');
# score ranked it: the chunk's own BM25 plus its page's evidence (the
# page's other chunk about pg_dump, #pg-restore, adds to it; README,
# Ranking); bm25 is the chunk's own score
ok($top->{bm25} > 0 && $top->{score} > $top->{bm25},
    'lexical score: own BM25, plus page evidence in score');
is(scalar(grep { $_->{url} =~ /pg-restore/ } @{ $j->{results} }), 1,
    'second chunk mentioning pg_dump also found');
my @ranks = map { $_->{rank} } @{ $j->{results} };
is_deeply(\@ranks, [1 .. @ranks], 'ranks in order');
my @scores = map { $_->{score} } @{ $j->{results} };
is_deeply(\@scores, [sort { $b <=> $a } @scores], 'scores descending');

($r, $j) = get('/lex', q => 'index', collection => 'docs', k => 1);
is(scalar @{ $j->{results} }, 1, 'k limits results');
($r, $j) = get('/lex', q => 'CREATE INDEX', collection => 'docs');
unlike($j->{results}[0]{snippet}, qr/```|\*\*/, 'snippet without Markdown syntax');
($r, $j) = get('/lex', q => "acc\x{e9}l\x{e8}rent", collection => 'docs');
like($j->{results}[0]{snippet}, qr/acc\x{e9}l\x{e8}rent/, 'UTF-8 snippet');
($r, $j) = get('/lex', q => 'zebra', collection => 'docs');
is_deeply($j->{results}, [], 'no match: empty results');
($r, $j) = get('/lex', q => 'anything', collection => 'empty');
is($r->{status}, 200, 'empty collection searchable');
is_deeply($j->{results}, [], 'empty collection: no results');

# POST JSON
($r, $j) = post('/lex', $J->encode({ query => 'max connections',
    collection => 'docs', mode => 'bm25' }));
is($r->{status}, 200, 'POST 200');
is($j->{results}[0]{url}, 'https://docs.example/config#max-connections',
    'POST top result');
($r, $j) = post('/lex', $J->encode({ query => 'index', collection => 'docs',
    k => 2 }));
is(scalar @{ $j->{results} }, 2, 'POST k');
($r, $j) = post('/lex', '{"query":"pg_dump","collection":"docs"}',
    'application/json; charset=utf-8');
is($r->{status}, 200, 'POST with charset');

# --- hybrid through the embeddings stand-in ----------------------------------
($r, $j) = get('/search', q => 'logical backup of one database',
    collection => 'docs');
is($r->{status}, 200, 'hybrid 200');
is($j->{mode}, 'hybrid', 'hybrid mode');
ok(!exists $j->{vector}, 'no degradation note') or diag $j->{vector};
is($j->{results}[0]{url}, 'https://docs.example/backup#pg-dump', 'hybrid top');
ok($j->{results}[0]{cosine} > 0.2, 'cosine reported');
ok($j->{results}[0]{score} < 0.04, 'RRF score');
my @emb = $ai->requests('/v1/embeddings');
ok(scalar(grep { ref $_->{body} && $_->{body}{input}
    && join(' ', ref $_->{body}{input} ? @{ $_->{body}{input} } : $_->{body}{input})
       =~ /logical backup/ } @emb), 'query embedded by the stand-in');
($r, $j) = get('/search', q => 'reclaims storage occupied by dead tuples',
    collection => 'docs', mode => 'vector', k => 3);
is($r->{status}, 200, 'vector mode 200');
is($j->{results}[0]{url}, 'https://docs.example/vacuum', 'vector top');
is($j->{results}[0]{bm25}, 0, 'vector-only: no bm25');
($r, $j) = get('/lex', q => 'x', collection => 'docs', mode => 'vector');
is($r->{status}, 400, 'vector mode without an embedding endpoint: 400');
$ai->set(fail_embed => [500, 500, 500]);
($r, $j) = get('/search', q => 'pg_dump', collection => 'docs');
is($r->{status}, 200, 'embedding endpoint down: still 200');
like($j->{vector} // '', qr/lexical only/, 'degradation reported');
is($j->{results}[0]{url}, 'https://docs.example/backup#pg-dump',
    'lexical results when embeddings fail');
$ai->set(fail_embed => []);

# --- bad inputs -------------------------------------------------------------
my @bad = (
    [{ collection => 'docs' }, 400, qr/missing query/],
    [{ q => 'x' }, 400, qr/missing collection/],
    [{ q => 'x', collection => '../etc' }, 400, qr/bad collection/],
    [{ q => 'x', collection => 'a/b' }, 400, qr/bad collection/],
    [{ q => 'x', collection => '..' }, 400, qr/bad collection/],
    [{ q => 'x', collection => 'x' x 65 }, 400, qr/bad collection/],
    [{ q => 'x', collection => 'nope' }, 404, qr/unknown collection/],
    [{ q => 'x', collection => 'docs', k => 0 }, 400, qr/\bk\b/],
    [{ q => 'x', collection => 'docs', k => 101 }, 400, qr/\bk\b/],
    [{ q => 'x', collection => 'docs', k => 'ten' }, 400, qr/\bk\b/],
    [{ q => 'x', collection => 'docs', k => '-1' }, 400, qr/\bk\b/],
    [{ q => 'x', collection => 'docs', mode => 'fuzzy' }, 400, qr/mode/],
    [{ q => 'y' x 5000, collection => 'docs' }, 400, qr/too long/],
);
for my $b (@bad) {
    my ($a, $status, $re) = @$b;
    ($r, $j) = get('/lex', %$a);
    my $name = join('&', map { "$_=" . substr($a->{$_}, 0, 12) } sort keys %$a);
    is($r->{status}, $status, "$name -> $status");
    like($j->{error} // '', $re, "$name: JSON error");
}
my @badpost = (
    ['{"query":', 'application/json', 400, 'truncated JSON'],
    ['[1,2]', 'application/json', 400, 'JSON array'],
    ['{"query":5,"collection":"docs"}', 'application/json', 400, 'query not a string'],
    ['{"query":"x","collection":"docs","k":"5"}', 'application/json', 400, 'k as string'],
    ['{"query":"x","collection":"docs","k":2.5}', 'application/json', 400, 'k fractional'],
    ['{"query":"x","collection":"docs"}', 'text/plain', 415, 'wrong content type'],
    ['{"query":"x","collection":"docs"}', '', 415, 'no content type'],
    ["{\"query\":\"x\0\",\"collection\":\"docs\"}", 'application/json', 400, 'NUL byte'],
);
for my $b (@badpost) {
    my ($body, $ct, $status, $name) = @$b;
    ($r, $j) = post('/lex', $body, $ct);
    is($r->{status}, $status, "POST $name -> $status");
    ok(defined $j && defined $j->{error}, "POST $name: JSON error");
}
# rag_max_body governs POST /search like every other endpoint (default 1m)
my $padded = sub { '{"query":"pg_dump","collection":"docs","pad":"'
    . ('x' x $_[0]) . '"}' };
($r, $j) = post('/lex', $padded->(20_000));
is($r->{status}, 200, 'POST of 20 KB under the default rag_max_body: 200');
is($j->{results}[0]{url}, 'https://docs.example/backup#pg-dump', '... searched');
($r, $j) = post('/capped', $padded->(2_000));
is($r->{status}, 413, 'POST of 2 KB over rag_max_body 1k: 413');
is($j->{error}, 'body too large', '... JSON error');
($r, $j) = post('/capped', $padded->(500));
is($r->{status}, 200, 'POST under rag_max_body 1k: 200');
($r, $j) = post('/lex', '{"query":"' . ('a' x 5000) . '","collection":"docs"}');
is($r->{status}, 400, 'a query over 4096 bytes: 400');
like($j->{error}, qr/query too long/, '... says so');

$r = $http->request('PUT', "$base/lex?q=x&collection=docs");
is($r->{status}, 405, 'PUT -> 405');
$r = $http->request('HEAD', "$base/lex?q=pg_dump&collection=docs");
is($r->{status}, 200, 'HEAD 200');
is($http->get("$base/ping")->{status}, 200, 'nginx still serving after bad inputs');

# --- new generations -------------------------------------------------------
my $doc_id = RagTest::psql($pg, "SELECT id FROM documents WHERE url = 'https://docs.example/vacuum'");
RagTest::psql($pg, "INSERT INTO chunks (document_id, ordinal, heading_path, anchor, body)"
    . " VALUES ($doc_id, 1, 'Wraparound', 'wraparound', 'Transaction ID wraparound"
    . " failures are prevented by freezing old tuples.')");
like(reindex('docs'), qr/generation 2, 9 chunks/, 'reindex: generation 2');
ok(RagTest::wait_for(sub {
    my ($r2, $j2) = get('/lex', q => 'wraparound freezing', collection => 'docs');
    return $j2 && $j2->{generation} == 2
        && $j2->{results}[0]{url} eq 'https://docs.example/vacuum#wraparound';
}, 5), 'new generation picked up without reload');

# a corrupt file renamed into place: refused, the old index keeps serving
RagTest::write_file("$ixdir/bad.tmp", "RAGIDX\r\n" . ("\0" x 300));
rename "$ixdir/bad.tmp", "$ixdir/docs.idx" or die;
sleep 0.3;
my $ok = 1;
for (1 .. 10) {
    ($r, $j) = get('/lex', q => 'pg_dump', collection => 'docs');
    $ok &&= $r->{status} == 200 && $j->{generation} == 2;
    sleep 0.03;
}
ok($ok, 'corrupt index refused, previous generation still served');
ok(RagTest::wait_for(sub { RagTest::error_log($ng) =~ /cannot open index/ }, 3),
    'corrupt index logged');
like(reindex('docs'), qr/generation 3/, 'reindex after corruption');
ok(RagTest::wait_for(sub {
    my ($r2, $j2) = get('/lex', q => 'pg_dump', collection => 'docs');
    return $j2 && $j2->{generation} == 3;
}, 5), 'generation 3 served');

# hot swap under load: a client loop while the index is rebuilt 5 times
my $res = "$ixdir/load.txt";
my $child = fork // die;
if ($child == 0) {
    my $h = HTTP::Tiny->new(timeout => 10, keep_alive => 1);
    open my $out, '>', $res or die;
    select((select($out), $| = 1)[0]);   # the parent reads it as it grows
    # runs until the parent's swaps are done (a stop file), bounded
    my $end = time + 60;
    while (time < $end && !-e "$ixdir/load.stop") {
        my $r2 = $h->get("$base/lex?q=pg_dump+backup&collection=docs&k=5");
        my $g = $r2->{content} =~ /"generation":(\d+)/ ? $1 : -1;
        my $n = () = $r2->{content} =~ /"rank":/g;
        my $w = $r2->{headers}{'x-worker'} // 0;
        print $out "$r2->{status} $g $n $w\n";
    }
    close $out;
    POSIX::_exit(0);
}
# slow searches hold the old generation across the swaps: its mapping
# must stay until they are done
my @held;
for my $i (1 .. 5) {
    for (1 .. 2) {
        my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
            PeerPort => $ng->{port}, Timeout => 5) or die;
        print $s "GET /slow?q=pg_dump&collection=docs HTTP/1.0\r\n\r\n";
        push @held, $s;
    }
    sleep 0.4;
    reindex('docs');
}
# the new mapping is opened on the (busy) pool: stop the client only once
# it has been served a newer generation itself (its keep-alive connection
# may stay on a worker whose pool the held searches keep busy longer than
# the other worker's, so asking the server is not enough)
RagTest::wait_for(sub {
    open my $fh, '<', $res or return 0;
    while (my $l = <$fh>) {
        my $g = (split ' ', $l)[1];
        return 1 if defined $g && $g > 3;
    }
    return 0;
}, 20);
sleep 0.5;
RagTest::write_file("$ixdir/load.stop", '');
waitpid($child, 0);
my $held_ok = 0;
for my $s (@held) {
    local $/;
    my $resp = <$s> // '';
    $held_ok++ if $resp =~ m{^HTTP/1\.\d 200} && $resp =~ m{backup#pg-dump};
}
is($held_ok, 10, 'searches in flight across a swap finish on their index');
my @lines = do { open my $fh, '<', $res or die; <$fh> };
my @non200 = grep { !/^200 / } @lines;
my @gens = map { (split)[1] } @lines;
my @empty = grep { (split)[2] == 0 } @lines;
ok(@lines > 50, scalar(@lines) . ' requests during the swaps');
is(scalar @non200, 0, 'zero non-200 responses during hot swaps');
is(scalar @empty, 0, 'every response had results');
# each nginx worker swaps on its own schedule (and a client may move
# between workers when its connection is renewed), so the order holds
# per worker
my (%last, $mono);
$mono = 1;
for my $l (@lines) {
    my (undef, $g, undef, $w) = split ' ', $l;
    $mono = 0 if defined $last{$w} && $g < $last{$w};
    $last{$w} = $g;
}
ok($mono, 'generations never go backwards within one worker')
    or diag join ' ', map { (split)[1] . '@' . (split)[3] } @lines;
my ($newest) = sort { $b <=> $a } @gens;
ok($newest > 3, "generation advanced under load (newest seen $newest)");
ok(RagTest::wait_for(sub {
    my ($r2, $j2) = get('/lex', q => 'pg_dump', collection => 'docs');
    return $j2 && $j2->{generation} == 8;
}, 5), 'final generation 8 served');

# deleted index: 404 within the check interval
rename "$ixdir/empty.idx", "$ixdir/empty.gone" or die;
ok(RagTest::wait_for(sub {
    my ($r2) = get('/lex', q => 'x', collection => 'empty');
    return $r2->{status} == 404;
}, 3), 'index removed: 404');

# a collection indexed while nginx runs: a burst of first requests, some
# arriving while a worker is still opening the file, all succeed
RagTest::psql($pg, "INSERT INTO collections (name) VALUES ('fresh');
    INSERT INTO documents (collection_id, url, title) SELECT id,
      'https://docs.example/fresh', 'Fresh' FROM collections WHERE name = 'fresh';
    INSERT INTO chunks (document_id, ordinal, anchor, body) SELECT id, 0, 'f',
      'freshly indexed text' FROM documents WHERE url = 'https://docs.example/fresh'");
reindex('fresh');
my @burst;
for (1 .. 24) {
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
        PeerPort => $ng->{port}, Timeout => 5) or die;
    print $s "GET /lex?q=freshly&collection=fresh HTTP/1.0\r\n\r\n";
    push @burst, $s;
}
my $burst_ok = 0;
for my $s (@burst) {
    local $/;
    my $resp = <$s> // '';
    $burst_ok++ if $resp =~ m{^HTTP/1\.\d 200} && $resp =~ m{docs.example/fresh#f};
}
is($burst_ok, 24, 'burst of first requests on a new collection: all 200');

# --- slow searches on a busy pool do not delay other locations --------------
my @slow;
for (1 .. 8) {   # twice the pool's 4 threads
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
        PeerPort => $ng->{port}, Timeout => 5) or die;
    print $s "GET /slow?q=pg_dump&collection=docs HTTP/1.0\r\n\r\n";
    push @slow, $s;
}
sleep 0.2;
my @lat;
for (1 .. 5) {
    my $t0 = time;
    my $p = HTTP::Tiny->new(timeout => 5)->get("$base/ping");
    push @lat, time - $t0;
    is($p->{status}, 200, 'ping 200 while the pool is busy');
}
my ($max) = sort { $b <=> $a } @lat;
ok($max < 0.2, sprintf('ping answered in < 200 ms (max %.1f ms)', $max * 1000));
my $pending = 0;
for my $s (@slow) {
    my $sel = IO::Select->new($s);
    $pending++ unless $sel->can_read(0);
}
ok($pending >= 4, "slow searches still running during the pings ($pending)");
my $slow_ok = 0;
for my $s (@slow) {
    local $/;
    my $resp = <$s> // '';
    $slow_ok++ if $resp =~ m{^HTTP/1\.\d 200} && $resp =~ /"results"/;
}
is($slow_ok, 8, 'slow searches completed with 200');

is($http->get("$base/ping")->{status}, 200, 'still serving at the end');
unlike(RagTest::error_log($ng), qr/\[(alert|emerg)\]|segfault|exited on signal/,
    'no alerts or crashes in the error log');

done_testing();
