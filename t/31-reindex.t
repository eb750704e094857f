# rag-reindex / rag_reindex_collection against a real Postgres: the file
# written, the generation recorded, concurrent reindexes serialised on the
# collections row (generations unique and monotonic), embedding sizes
# mixed, and failures that leave the recorded generation alone.
use strict;
use warnings;
use Test::More;
use lib 't/lib';
use RagTest;
use POSIX ();

my $pg = RagTest::pg_start();
my $dir = RagTest::tmpdir();
$ENV{RAG_DATABASE_URL} = $pg->{conninfo};
my $bin = RagTest::bin('rag-reindex');

RagTest::psql($pg, q{
    INSERT INTO collections (name) VALUES ('c');
    INSERT INTO documents (collection_id, url, title)
      SELECT id, 'https://d/' || g, 'Page ' || g FROM collections, generate_series(1, 2) g;
    INSERT INTO chunks (document_id, ordinal, anchor, body, embedding) VALUES
      (1, 0, 'a', 'alpha text', '{1,0,0}'), (1, 1, '', 'beta text', '{0,1,0}'),
      (1, 2, 'c', 'gamma text', '{0,0,1}'), (2, 0, 'd', 'delta text', '{1,1,0}'),
      (2, 1, 'e', 'odd size', '{1,1}'),     (2, 2, 'f', 'no vector', NULL)});

# the format-2 header and, through the section table, VINFO's dims
# (lib/rag_index_fmt.h)
sub header {
    my ($path) = @_;
    open my $fh, '<:raw', $path or return;
    local $/;
    my $b = <$fh>;
    length($b) >= 64 or return;
    my ($magic, $major, undef, undef, $gen, $size, $n, $nsect) =
        unpack('a8 v v V Q< Q< V V', $b);
    my $dims = 0;
    for my $i (0 .. $nsect - 1) {
        my ($name, undef, undef, undef, $off) =
            unpack('Z8 v v V Q<', substr($b, 64 + 32 * $i, 32));
        $dims = unpack('V', substr($b, $off, 4)) if $name eq 'VINFO';
    }
    return { magic => $magic, version => $major, gen => $gen, size => $size,
             n => $n, dims => $dims, actual => -s $path };
}

my $out = `$bin --dir $dir c 2>&1`;
is($?, 0, 'reindex ok') or diag $out;
like($out, qr/c: generation 1, 6 chunks/, 'summary line');
my $h = header("$dir/c.idx");
is($h->{magic}, "RAGIDX\r\n", 'magic');
is($h->{gen}, 1, 'generation in the file');
is($h->{n}, 6, 'all chunks indexed');
is($h->{dims}, 3, 'the most common embedding size wins');
is($h->{size}, $h->{actual}, 'size field matches the file');
is(RagTest::psql($pg, "SELECT index_generation || ' ' || index_path || ' ' ||"
    . " (indexed_at IS NOT NULL) FROM collections WHERE name = 'c'"),
    "1 $dir/c.idx true", 'generation, path and time recorded');
my @tmp = glob("$dir/*.tmp.*");
is(scalar @tmp, 0, 'no temp files left');

# concurrent reindexes serialise on the row: unique, gap-free generations
my @pids;
for my $i (1 .. 6) {
    my $pid = fork // die;
    if ($pid == 0) {
        exec "$bin --dir $dir c > $dir/out.$i 2>&1" or POSIX::_exit(127);
    }
    push @pids, $pid;
}
my $fails = 0;
for (@pids) { waitpid($_, 0); $fails++ if $? }
is($fails, 0, 'six concurrent reindexes succeeded');
my @gens = sort { $a <=> $b } map {
    RagTest::slurp("$dir/out.$_") =~ /generation (\d+)/ ? $1 : -1 } 1 .. 6;
is_deeply(\@gens, [2 .. 7], 'each got its own generation, none lost');
is(RagTest::psql($pg, "SELECT index_generation FROM collections WHERE name = 'c'"),
    7, 'recorded generation is the last');
is(header("$dir/c.idx")->{gen}, 7, 'file on disk is the last generation');

# failures leave the recorded generation alone
$out = `$bin --dir $dir nope 2>&1`;
isnt($?, 0, 'unknown collection fails');
like($out, qr/unknown collection nope/, 'unknown collection message');
$out = `$bin --dir $dir ../c 2>&1`;
isnt($?, 0, 'path traversal refused');
like($out, qr/invalid collection name/, 'invalid name message');
$out = `$bin --dir $dir/missing/sub c 2>&1`;
isnt($?, 0, 'unwritable index dir fails');
like($out, qr/open .*missing/, 'error names the file');
is(RagTest::psql($pg, "SELECT index_generation FROM collections WHERE name = 'c'"),
    7, 'failed write rolled back: generation unchanged');

# a collection with no chunks still gets a valid, empty index
RagTest::psql($pg, "INSERT INTO collections (name) VALUES ('void')");
$out = `$bin --dir $dir void 2>&1`;
is($?, 0, 'empty collection indexed') or diag $out;
$h = header("$dir/void.idx");
is($h->{n}, 0, 'empty index has no records');
is($h->{dims}, 0, 'and no vectors');

done_testing();
