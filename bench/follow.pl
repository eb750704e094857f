#!/usr/bin/env perl
# Scale-out figures for nginx followers (rag-reindex --follow), on the
# PostgreSQL 15 manual written into one collection (bench/PgManual.pm):
#   1. the primary's rebuild (rag-reindex: read rows, write, record);
#   2. a follower catching up from an empty directory (start -> file);
#   3. propagation with 1, 2 and 4 followers: a new generation recorded
#      by rag-reindex -> every follower's file carries it (median of 3);
#   4. baseline in the same run: copying the finished file (cp + rename),
#      what shipping the bytes over a shared filesystem would cost here.
# Prints figures; not a test.
#
#   perl bench/follow.pl
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../t/lib";
use RagTest;
use lib $FindBin::Bin;
use PgManual;
use Time::HiRes qw(time sleep);

my $html = '/usr/share/doc/postgresql-doc-15/html';
-d $html or die "$html missing (apt-get install postgresql-doc-15)\n";
chomp(my $cpus = `nproc`);
my ($load) = `cat /proc/loadavg` =~ /^(\S+)/;

my $t0 = time;
my $pg = RagTest::pg_start();
my ($ndoc, $nchunk, $bytes) = PgManual::load($pg, $html, 'pg');
printf "follow bench: %s CPUs, load average %s at start\n", $cpus, $load;
printf "corpus: %d pages, %d chunks, %.1f MB of text (%.1f s to load)\n\n",
    $ndoc, $nchunk, $bytes / 1e6, time - $t0;

my $tmp = RagTest::tmpdir();
my $wdir = "$tmp/w";
mkdir $wdir;
$ENV{RAG_DATABASE_URL} = $pg->{conninfo};
$ENV{RAG_LOG_LEVEL} = 'warn';
my $reindex = RagTest::bin('rag-reindex');

sub file_gen {
    my ($path) = @_;
    open my $fh, '<:raw', $path or return 0;
    read($fh, my $h, 64) == 64 or return 0;
    return (unpack('a8 V V Q<', $h))[3];
}
sub recorded { RagTest::psql($pg, "SELECT index_generation FROM collections WHERE name = 'pg'") }
sub median { my @s = sort { $a <=> $b } @_; return $s[$#s / 2] }

# 1. primary rebuild
my @prim;
for (1 .. 3) {
    my $t = time;
    system("$reindex --dir $wdir pg >/dev/null 2>&1") == 0 or die "rag-reindex failed";
    push @prim, time - $t;
}
my $size = -s "$wdir/pg.idx";
printf "primary rebuild (rag-reindex):   %.2f s median of 3, file %.1f MB\n",
    median(@prim), $size / 1e6;

# 4. baseline: copy the finished file
my @cp;
for (1 .. 3) {
    my $t = time;
    system("cp $wdir/pg.idx $tmp/copy.tmp && sync -f $tmp/copy.tmp && mv $tmp/copy.tmp $tmp/copy.idx") == 0 or die;
    push @cp, time - $t;
}
printf "baseline (cp + fsync + rename):  %.3f s median of 3\n", median(@cp);

# 2. catch-up from empty
my $fdir = "$tmp/f0";
mkdir $fdir;
my $gen = recorded();
$t0 = time;
my $pid = RagTest::spawn([$reindex, '--follow', $fdir], log => "$tmp/f0.log");
RagTest::wait_for(sub { file_gen("$fdir/pg.idx") == $gen }, 120) or die "no catch-up";
my $catch = time - $t0;
RagTest::stop($pid, 'TERM', 10);
printf "follower catch-up (empty dir):   %.2f s (%.1fx the copy)\n\n", $catch,
    $catch / median(@cp);

# 3. propagation with N followers
print "propagation: new generation recorded -> every follower's file has it\n";
for my $n (1, 2, 4) {
    my @pids;
    my @dirs = map { my $d = "$tmp/n$n-$_"; mkdir $d; $d } 1 .. $n;
    push @pids, RagTest::spawn([$reindex, '--follow', $_],
        env => { RAG_FOLLOW_POLL_MS => 600000 }, log => "$_.log") for @dirs;
    my $g = recorded();
    RagTest::wait_for(sub { !grep { file_gen("$_/pg.idx") != $g } @dirs }, 300)
        or die "followers did not catch up";
    my @lat;
    for (1 .. 3) {
        system("$reindex --dir $wdir pg >/dev/null 2>&1") == 0 or die;
        my $t = time;
        my $want = recorded();
        RagTest::wait_for(sub { !grep { file_gen("$_/pg.idx") != $want } @dirs }, 300)
            or die "no propagation";
        push @lat, time - $t;
    }
    printf "  %d follower%s: %.2f s median of 3 (%.1fx the primary's rebuild)\n",
        $n, $n > 1 ? 's' : ' ', median(@lat), median(@lat) / median(@prim);
    RagTest::stop($_, 'TERM', 10) for @pids;
}
