# Index format 2 through the real nginx and rag-reindex: a collection
# large enough to get zstd-compressed bodies serves correct snippets; an
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

# 1,500 chunks of ~3.5 KB: over the writer's 1,000 records / 4 MB, so
# bodies are stored compressed with a trained dictionary. Every chunk
# names its own number, so a search for it has one right answer.
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
ok($sect->{BODYDICT}, 'bodies compressed with a dictionary');
cmp_ok($sect->{STRINGS}[1], '<', 1500 * 3500 / 3,
    'strings stored in under a third of their size');
ok(!(sections("$ixdir/old.idx"))[1]{BODYDICT}, 'small collection: plain');

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
is($r->{status}, 200, 'search over compressed bodies') or diag $r->{content};
is($j->{results}[0]{url}, 'https://docs.example/p123#part-4',
    'the one chunk that names it');
like($j->{results}[0]{snippet}, qr/Chunk marker zq1234x\. The planner/,
    'snippet from the decompressed body');
my $all = 1;
for my $n (11, 507, 1509) {
    my ($r2, $j2) = search('big', "zq${n}x");
    $all &&= $j2 && $j2->{results}[0]{snippet} =~ /zq${n}x/;
}
ok($all, 'bodies across the collection come back');

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
