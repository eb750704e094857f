# Index format 2 through the real nginx and rag-reindex: a 5 MB
# collection keeps its bodies plain (under RAG_INDEX_PLAIN_MAX) and serves
# correct snippets; a file whose bodies are zstd-compressed with a
# dictionary (t/fixtures/index/zstd.idx, as rag-reindex wrote collections
# of 1,000 chunks and 4 MB before) still opens and serves them; an
# index file of an older or a newer major format is refused with a log
# line that says which and what to do, while the loaded generation keeps
# serving; a collection that only has such a file answers 503.
use strict;
use warnings;
use Test::More;
use HTTP::Tiny;
use JSON::PP;
use lib 't/lib';
use RagTest;

my $J = JSON::PP->new->utf8;
my $pg = RagTest::pg_start();
my $ixdir = RagTest::tmpdir();
$ENV{RAG_DATABASE_URL} = $pg->{conninfo};

# 1,500 chunks of ~3.5 KB: over the 1,000 records / 4 MB that used to
# get a trained dictionary, under RAG_INDEX_PLAIN_MAX (32 MB), so bodies
# are stored plain. Every chunk names its own number, so a search for it
# has one right answer.
RagTest::psql($pg, q{
    INSERT INTO collections (name) VALUES ('big'), ('old'), ('new');
    INSERT INTO documents (collection_id, url, title)
      SELECT c.id, 'https://docs.example/p' || g, 'Page ' || g
      FROM collections c, generate_series(1, 150) g WHERE c.name = 'big';
    INSERT INTO chunks (document_id, ordinal, heading_path, anchor, body)
      SELECT d.id, o, 'Page > Part ' || o, 'part-' || o,
             'Chunk marker zq' || (d.id * 10 + o) || 'x. '
             || repeat('The planner estimates the cost of each plan from '
                || 'table statistics and picks the cheapest one. ', 35)
             || 'Closing words about vacuum and checkpoints.'
      FROM documents d, generate_series(0, 9) o;
    INSERT INTO documents (collection_id, url, title)
      SELECT id, 'https://docs.example/' || name, name FROM collections
      WHERE name IN ('old', 'new');
    INSERT INTO chunks (document_id, ordinal, heading_path, anchor, body)
      SELECT d.id, 0, 'Only', '', 'a single chunk about replication slots'
      FROM documents d JOIN collections c ON c.id = d.collection_id
      WHERE c.name IN ('old', 'new')});

my $reindex = RagTest::bin('rag-reindex');
my $out = `$reindex --dir $ixdir big old new 2>&1`;
is($?, 0, 'reindexed') or diag $out;
like($out, qr/big: generation 1, 1500 chunks/, 'big collection indexed');

sub sections {
    my ($path) = @_;
    my $b = RagTest::slurp($path);
    my ($major, $nsect) = unpack('x8 v x2 x4 x8 x8 x4 V', $b);
    my %s;
    for my $i (0 .. $nsect - 1) {
        my ($name, undef, undef, undef, $off, $len) =
            unpack('Z8 v v V Q< Q<', substr($b, 64 + 32 * $i, 32));
        $s{$name} = [$off, $len];
    }
    return ($major, \%s, length $b);
}
my ($major, $sect, $size) = sections("$ixdir/big.idx");
is($major, 2, 'format 2 written');
ok(!$sect->{BODYDICT}, '5 MB of bodies: no dictionary');
cmp_ok($sect->{STRINGS}[1], '>', 1500 * 3350,
    'bodies (3,355+ bytes each) stored whole, plain');
ok(!(sections("$ixdir/old.idx"))[1]{BODYDICT}, 'small collection: plain');
# a file with compressed bodies, as the writer made them before
system('cp', "$RagTest::ROOT/t/fixtures/index/zstd.idx", "$ixdir/zold.idx") == 0
    or die "cp: $!";
ok((sections("$ixdir/zold.idx"))[1]{BODYDICT}, 'fixture: compressed bodies');

my $ng = RagTest::nginx_start(pg => $pg,
    main => 'thread_pool ragpool threads=2 max_queue=100;',
    http => "rag_database \"%%DB%%\"; rag_thread_pool ragpool;"
        . " rag_index_dir $ixdir;",
    server => "location /search { rag_search; }\n");
my $http = HTTP::Tiny->new(timeout => 10);

sub search {
    my ($coll, $q) = @_;
    $q =~ s/ /+/g;
    my $r = $http->get("$ng->{url}/search?collection=$coll&mode=bm25&k=3&q=$q");
    return ($r, eval { $J->decode($r->{content}) });
}

my ($r, $j) = search('big', 'zq1234x');
is($r->{status}, 200, 'search over plain bodies') or diag $r->{content};
is($j->{results}[0]{url}, 'https://docs.example/p123#part-4',
    'the one chunk that names it');
like($j->{results}[0]{snippet}, qr/Chunk marker zq1234x\. The planner/,
    'snippet from the plain body');
my $all = 1;
for my $n (11, 507, 1509) {
    my ($r2, $j2) = search('big', "zq${n}x");
    $all &&= $j2 && $j2->{results}[0]{snippet} =~ /zq${n}x/;
}
ok($all, 'bodies across the collection come back');

($r, $j) = search('zold', 'zz123y');
is($r->{status}, 200, 'search over compressed bodies') or diag $r->{content};
is($j->{results}[0]{url}, 'https://docs.example/z123#part',
    'the one chunk that names it');
like($j->{results}[0]{snippet}, qr/^Zstd marker zz123y\. The planner estimates/,
    'snippet from the decompressed body');
$all = 1;
for my $n (1, 150, 300) {
    my ($r2, $j2) = search('zold', "zz${n}y");
    $all &&= $j2 && $j2->{results}[0]{snippet} =~ /zz${n}y/;
}
ok($all, 'compressed bodies across the file come back');

# served, then replaced by a file of an older / a newer major format
($r, $j) = search('old', 'replication');
is($j->{generation}, 1, 'old collection served (generation 1)');
for my $case ([1, qr/unsupported index version 1: written by an older ngx_rag; this build reads format 2: rebuild it \(rag-reindex COLLECTION\)/],
              [3, qr/unsupported index version 3: written by a newer ngx_rag; this build reads format 2/]) {
    my ($ver, $want) = @$case;
    my $b = RagTest::slurp("$ixdir/old.idx");
    substr($b, 8, 2) = pack('v', $ver);
    RagTest::write_file("$ixdir/old.tmp", $b);
    rename "$ixdir/old.tmp", "$ixdir/old.idx" or die;
    # a request notices the new file and tries it
    ok(RagTest::wait_for(sub {
        search('old', 'replication');
        RagTest::error_log($ng) =~ $want }, 5),
        "format $ver refused with a clear log line");
    ($r, $j) = search('old', 'replication');
    ok($r->{status} == 200 && $j->{generation} == 1,
        "format $ver: the loaded generation keeps serving");
}

# a collection whose only file is of another format: 503, not a crash
{
    my $b = RagTest::slurp("$ixdir/new.idx");
    substr($b, 8, 2) = pack('v', 3);
    RagTest::write_file("$ixdir/new.tmp", $b);
    rename "$ixdir/new.tmp", "$ixdir/new.idx" or die;
}
($r, $j) = search('new', 'replication');
is($r->{status}, 503, 'unreadable-only index: 503') or diag $r->{content};
ok(RagTest::wait_for(sub {
    RagTest::error_log($ng) =~ /new\.idx: unsupported index version 3/ }, 5),
    'and logged');
unlike(RagTest::error_log($ng), qr/\[(alert|emerg)\]|AddressSanitizer/,
    'no alerts');

done_testing();
