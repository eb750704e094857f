# Several nginx machines without a shared filesystem: one rag-worker
# writes index files in its own directory; two nginx instances each read
# their own directory, kept current by a `rag-reindex --follow DIR`.
# After an ingest both serve the new generation within 2 s (the
# followers' fallback poll is set to a minute, so this is LISTEN at
# work); a follower that was down catches up when it starts (including a
# collection it never saw); a Postgres restart is survived; and no search
# fails meanwhile (a load generator queries both nginx throughout).
use strict;
use warnings;
use Test::More;
use HTTP::Tiny;
use JSON::PP;
use POSIX ();
use Time::HiRes qw(time sleep);
use lib 't/lib';
use RagTest;

my $pg = RagTest::pg_start();
my $tmp = RagTest::tmpdir();
my ($wdir, $adir, $bdir) = map { my $d = "$tmp/$_"; mkdir $d; $d } qw(w a b);
my $TOKEN = 'tok-follow-123456';

sub nginx {
    my ($dir) = @_;
    return RagTest::nginx_start(pg => $pg,
        main => 'thread_pool rag threads=2;',
        http => qq{rag_database "%%DB%%"; rag_thread_pool rag;
                   rag_index_dir $dir;},
        server => qq{location = /search { rag_search; }
            location = /upload_documents { rag_upload;
                rag_upload_token "$TOKEN";
                rag_upload_create_collections on; }});
}
my $na = nginx($adir);
my $nb = nginx($bdir);

my $worker = RagTest::spawn([RagTest::bin('rag-worker')],
    env => { RAG_DATABASE_URL => $pg->{conninfo}, RAG_INDEX_DIR => $wdir,
        RAG_POLL_INTERVAL_MS => 100 },
    log => "$tmp/worker.log");

my %fpid;
sub follower {
    my ($name, $dir) = @_;
    $fpid{$name} = RagTest::spawn(
        [RagTest::bin('rag-reindex'), '--follow', $dir],
        env => { RAG_DATABASE_URL => $pg->{conninfo},
            RAG_FOLLOW_POLL_MS => 60000, RAG_FOLLOW_RETRY_MS => 200 },
        log => "$tmp/follow-$name.log");
}
follower(a => $adir);
follower(b => $bdir);

my $http = HTTP::Tiny->new(timeout => 10);
sub recorded {
    my ($c) = @_;
    return $pg->sql("SELECT index_generation FROM collections WHERE name = '$c'") || 0;
}
sub served {
    my ($ng, $c, $q) = @_;
    my $r = $http->get("$ng->{url}/search?collection=$c&k=3&q=" . ($q // 'install'));
    return (0, $r) unless $r->{status} == 200;
    my $j = eval { decode_json($r->{content}) } || {};
    return ($j->{generation} // 0, $r, $j);
}
sub upload {
    my ($coll, $docs) = @_;
    my $body = encode_json({ collection => $coll, documents => $docs });
    my $r;
    # 503 is the module's "retry" answer when its Postgres connection
    # broke (after the restart below); a client retries it
    for (1 .. 3) {
        $r = $http->post("$na->{url}/upload_documents", { content => $body,
            headers => { 'Content-Type' => 'application/json',
                Authorization => "Bearer $TOKEN" } });
        last unless $r->{status} == 503;
        sleep 0.2;
    }
    is($r->{status}, 202, "upload to $coll accepted") or diag $r->{content};
}
# Uploads, waits for the new generation to be recorded, then returns how
# long until every listed nginx serves it (undef past 10 s).
sub ingest_and_time {
    my ($coll, $docs, @ngs) = @_;
    my $before = recorded($coll);
    upload($coll, $docs);
    RagTest::wait_for(sub { recorded($coll) > $before }, 30)
        or do { diag RagTest::slurp("$tmp/worker.log"); return (undef, 0) };
    my $t0 = time;
    my $gen = recorded($coll);
    my $ok = RagTest::wait_for(sub {
        !grep { (served($_, $coll))[0] != $gen } @ngs }, 10);
    return ($ok ? time - $t0 : undef, $gen);
}
sub doc {
    my ($url, $title, $text) = @_;
    return { url => "https://docs.example.com/$url", title => $title,
        body => "# $title\n\n$text" };
}

# --- first generation ------------------------------------------------------
my ($dt, $gen) = ingest_and_time('guide', [
    doc('install', 'Install', 'Run apt-get install acme to install it.'),
    doc('config', 'Config', 'Edit /etc/acme.conf and restart.')], $na, $nb);
ok(defined $dt, "both nginx serve generation $gen") or diag_logs();
cmp_ok($dt // 99, '<=', 2, sprintf('within 2 s of the ingest (%.3f s)', $dt // -1));
ok(-f "$wdir/guide.idx" && -f "$adir/guide.idx" && -f "$bdir/guide.idx",
    'each machine has its own file');

# --- load on both nginx from here on ---------------------------------------
my $stopfile = "$tmp/stop-load";
my $loadlog = "$tmp/load.log";
my $load = fork // die;
if ($load == 0) {
    my $h = HTTP::Tiny->new(timeout => 10, keep_alive => 1);
    my ($n, $bad) = (0, 0);
    my @bad;
    until (-e $stopfile) {
        for my $ng ($na, $nb) {
            my $r = $h->get("$ng->{url}/search?collection=guide&k=3&q=install+config");
            $n++;
            if ($r->{status} != 200) {
                $bad++;
                push @bad, "$r->{status} $r->{content}" if @bad < 5;
            }
        }
    }
    RagTest::write_file($loadlog, join("\n", "$n $bad", @bad) . "\n");
    POSIX::_exit(0);
}

# --- second generation, under load -----------------------------------------
($dt, $gen) = ingest_and_time('guide', [
    doc('install', 'Install', 'Run apt-get install acme to install it.'),
    doc('config', 'Config', 'Edit /etc/acme.conf and restart.'),
    doc('backup', 'Backup', 'Take a zephyrsnapshot before upgrades.')], $na, $nb);
ok(defined $dt, "both nginx serve generation $gen under load");
cmp_ok($dt // 99, '<=', 2, sprintf('within 2 s (%.3f s)', $dt // -1));
for my $ng ($na, $nb) {
    my (undef, undef, $j) = served($ng, 'guide', 'zephyrsnapshot');
    like(($j->{results}[0] || {})->{url} // '', qr/backup/,
        "new document searchable on :$ng->{port}");
}
is(recorded('guide'), $gen, 'followers record nothing (generation unchanged)');

# --- a follower that was down catches up -------------------------------------
is(RagTest::stop($fpid{b}, 'TERM', 10) >> 8, 0, 'follower b stops on SIGTERM (exit 0)');
my $gen_b_before = (served($nb, 'guide'))[0];
($dt, $gen) = ingest_and_time('guide', [
    doc('install', 'Install', 'Run apt-get install acme to install it.'),
    doc('upgrade', 'Upgrade', 'Run acme-upgrade --quasar to move on.')], $na);
ok(defined $dt && $dt <= 2, sprintf('a (followed) serves %d in %.3f s', $gen, $dt // -1));
ok(RagTest::wait_for(sub { recorded('other') }, 0.1) == 0, 'no "other" yet');
upload('other', [doc('faq', 'FAQ', 'The answer is fortytwo.')]);
RagTest::wait_for(sub { recorded('other') > 0 }, 30) or diag_logs();
is((served($nb, 'guide'))[0], $gen_b_before,
    'b, follower down, keeps serving its generation');
my $t0 = time;
follower(b => $bdir);
my $caught = RagTest::wait_for(sub {
    (served($nb, 'guide'))[0] == $gen && (served($nb, 'other', 'fortytwo'))[0]
        == recorded('other') }, 10);
ok($caught, sprintf('restarted follower b caught up (guide %d, new collection'
    . ' other) in %.3f s', $gen, time - $t0)) or diag_logs();

# --- Postgres restart: followers reconnect and keep following --------------
RagTest::pg_ctl($pg, 'restart');
($dt, $gen) = ingest_and_time('guide', [
    doc('install', 'Install', 'Run apt-get install acme to install it.'),
    doc('restart', 'Restart', 'After a database restart, run acme-check.')],
    $na, $nb);
ok(defined $dt, sprintf('after a Postgres restart both serve %d (%.3f s)',
    $gen, $dt // -1)) or diag_logs();

# --- no request failed -------------------------------------------------------
RagTest::write_file($stopfile, '');
waitpid($load, 0);
my ($n, $bad, @why) = split /\n/, RagTest::slurp($loadlog);
($n, $bad) = split / /, $n // '0 0';
cmp_ok($n, '>', 50, "load generator made $n searches");
is($bad, 0, 'no search failed during the switches') or diag join "\n", @why;

# files on each machine carry the recorded generation
for my $d ($adir, $bdir) {
    open my $fh, '<:raw', "$d/guide.idx" or die;
    read($fh, my $h, 64);
    my (undef, undef, undef, $g) = unpack('a8 V V Q<', $h);
    is($g, recorded('guide'), "$d/guide.idx is the recorded generation");
}
like(RagTest::slurp("$tmp/follow-a.log"), qr/msg="index followed" collection=guide/,
    'follower logs each rebuild');

# bad usage
my $out = `@{[RagTest::bin('rag-reindex')]} --follow $adir extra 2>&1`;
is($? >> 8, 2, '--follow takes no collections');
$out = `RAG_DATABASE_URL='$pg->{conninfo}' @{[RagTest::bin('rag-reindex')]} --follow $tmp/missing 2>&1`;
is($? >> 8, 1, 'missing directory: exit 1');
like($out, qr/index directory not writable.*missing/, 'and says so');

sub diag_logs {
    diag "worker:\n" . RagTest::slurp("$tmp/worker.log");
    diag "follow-$_:\n" . RagTest::slurp("$tmp/follow-$_.log") for qw(a b);
}
done_testing();
