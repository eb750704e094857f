#!/usr/bin/env perl
# /search throughput and latency on the PostgreSQL 15 manual, beside
# Postgres full-text search (ts_rank_cd over the same chunks) in the same
# run. Prints figures; not a test.
#
#   perl bench/search.pl [DURATION=20] [CONNECTIONS=16]
#
# Corpus: /usr/share/doc/postgresql-doc-15/html (apt-get install
# postgresql-doc-15). Pages are cut into sections at h1-h4 headings, each
# section's anchor being the id of its enclosing div, sections over ~1500
# characters split further — a simple stand-in for rag-ingest, good
# enough for a retrieval benchmark. Both sides see the same chunks and
# the same 50 queries, k = 10:
#   trivial   wrk, GET /ok on the same nginx (location /ok { return 200
#             "ok"; }): what nginx itself does on this machine, the
#             ceiling /search is measured against
#   /search   wrk, GET /search?q=..&collection=pg&k=10&mode=bm25 (BM25,
#             snippets and JSON included), nginx with one worker per CPU
#   Postgres  pgbench -f: websearch_to_tsquery + GIN index + ts_rank_cd,
#             ORDER BY rank LIMIT 10 (ids and ranks only)
#   baseline  with RAG_BENCH_BASELINE_MODULE=/path/ngx_rag_module.so (an
#             older build), /search once more on a second nginx loading
#             that module, in the same run, for before/after figures;
#             with RAG_BENCH_BASELINE_REINDEX=/path/rag-reindex (the same
#             build's) that nginx serves an index this one wrote (cached
#             as base.idx beside pg.idx), else the same file
# RAG_BENCH_PERF=FILE: `perf record -g` the nginx workers during the
# /search run (BM25 on the loop) into FILE, for `perf report -i FILE`.
# Every row prints the 1-minute load average at its end: the machine may
# be shared.
# Goals (issue 13.1): /search >= 35 % of trivial, >= 10x Postgres FTS,
# p99 < 2 ms; nginx workers' RSS flat under load.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../t/lib";
use RagTest;
use lib $FindBin::Bin;
use PgManual;
use HTTP::Tiny;
use Time::HiRes qw(time);

my ($duration, $conns) = (@ARGV, 20, 16)[0 .. 1];
my $html = '/usr/share/doc/postgresql-doc-15/html';
system('which wrk >/dev/null') == 0 or die "wrk not installed (apt-get install wrk)\n";
-d $html or die "$html missing (apt-get install postgresql-doc-15)\n";
my $ncpu = `nproc` + 0 || 1;

my @queries = (
    'pg_dump custom format', 'max_connections', 'create index concurrently',
    'vacuum full', 'autovacuum tuning', 'wal_level replica',
    'listen_addresses', 'pg_hba.conf authentication methods',
    'shared_buffers', 'explain analyze', 'foreign key constraint',
    'jsonb operators', 'window functions', 'streaming replication',
    'logical replication publication', 'pg_basebackup', 'checkpoint_timeout',
    'work_mem sort', 'sequence nextval', 'timestamp with time zone',
    'create role login', 'grant select on table', 'row level security policy',
    'partitioned table', 'trigger function plpgsql', 'copy from csv file',
    'pg_stat_activity', 'lock_timeout', 'deadlock detection',
    'serializable isolation level', 'tablespace', 'cluster table on index',
    'reindex', 'analyze statistics', 'gin index', 'brin index',
    'full text search tsvector', 'hstore extension', 'uuid type',
    'generate_series', 'array_agg', 'string_agg', 'regexp_replace',
    'to_char formatting', 'date_trunc', 'interval arithmetic',
    'create extension', 'pg_upgrade', 'initdb locale', 'point in time recovery',
);

# --- corpus -----------------------------------------------------------------
my $t0 = time;
my $pg = RagTest::pg_start();
my $dir = RagTest::tmpdir();
my ($ndoc, $nchunk, $bytes) = PgManual::load($pg, $html, 'pg');
printf "corpus: %d pages, %d chunks, %.1f MB of text (%.1f s to load)\n",
    $ndoc, $nchunk, $bytes / 1e6, time - $t0;

$t0 = time;
my $ixdir = "$dir/ix";
mkdir $ixdir;
# RAG_BENCH_INDEX_CACHE=DIR: reuse DIR/pg.idx (rag-reindex trains the
# fastText leg's model, minutes on a loaded machine), or keep it there
my $cache = $ENV{RAG_BENCH_INDEX_CACHE};
if ($cache && -f "$cache/pg.idx") {
    system('cp', "$cache/pg.idx", "$ixdir/pg.idx") == 0 or die "cp: $!";
    printf "index: reused %s/pg.idx, %.1f MB\n", $cache, (-s "$ixdir/pg.idx") / 1e6;
} else {
    local $ENV{RAG_DATABASE_URL} = $pg->{conninfo};
    # RAG_BENCH_FT_EPOCH=N: train the fastText model with fewer epochs
    # (same dimension, so the same query-time cost; for a loaded machine)
    my $cf = '';
    if (my $ep = $ENV{RAG_BENCH_FT_EPOCH}) {
        RagTest::write_file("$dir/reindex.conf",
            "database_url = $pg->{conninfo}\nfasttext_epoch = $ep\n");
        $cf = "-c $dir/reindex.conf";
    }
    my $out = `@{[RagTest::bin('rag-reindex')]} $cf --dir $ixdir pg 2>&1`;
    die "rag-reindex: $out" if $?;
    printf "index: rag-reindex %.2f s, %.1f MB\n", time - $t0, (-s "$ixdir/pg.idx") / 1e6;
    if ($cache) {
        mkdir $cache;
        system('cp', "$ixdir/pg.idx", "$cache/pg.idx");
    }
}
# the baseline build's own index file (its writer's choices: compressed
# bodies, say), in a directory of its own
my $baseix = $ixdir;
if (my $bre = $ENV{RAG_BENCH_BASELINE_REINDEX}) {
    $baseix = "$dir/ixbase";
    mkdir $baseix;
    if ($cache && -f "$cache/base.idx") {
        system('cp', "$cache/base.idx", "$baseix/pg.idx") == 0 or die "cp: $!";
        printf "baseline index: reused %s/base.idx, %.1f MB\n", $cache,
            (-s "$baseix/pg.idx") / 1e6;
    } else {
        local $ENV{RAG_DATABASE_URL} = $pg->{conninfo};
        my $cf = -f "$dir/reindex.conf" ? "-c $dir/reindex.conf" : '';
        $t0 = time;
        my $out = `$bre $cf --dir $baseix pg 2>&1`;
        die "baseline rag-reindex: $out" if $?;
        printf "baseline index: %s %.2f s, %.1f MB\n", $bre, time - $t0,
            (-s "$baseix/pg.idx") / 1e6;
        system('cp', "$baseix/pg.idx", "$cache/base.idx") if $cache;
    }
}
for my $f ("$ixdir/pg.idx", $baseix ne $ixdir ? "$baseix/pg.idx" : ()) {
    my $b = RagTest::slurp($f);
    printf "%s: bodies %s\n", $f,
        index(substr($b, 64, 64 * 32), "BODYDICT") >= 0
        ? 'zstd-compressed (BODYDICT)' : 'plain';
}
my $has_ft = `strings -n 7 $ixdir/pg.idx | head -c 100000` =~ /FTMODEL/ ? 1 : 0;
print "index: fastText leg (FTMODEL) ", ($has_ft ? "present" : "absent"), "\n";

$t0 = time;
RagTest::psql($pg, "ALTER TABLE chunks ADD COLUMN tsv tsvector GENERATED ALWAYS AS"
    . " (to_tsvector('english', heading_path || ' ' || body)) STORED");
RagTest::psql($pg, "CREATE INDEX chunks_tsv ON chunks USING gin (tsv); ANALYZE chunks");
RagTest::psql($pg, "CREATE TABLE bench_queries (id int PRIMARY KEY, q text)");
for my $i (0 .. $#queries) {
    (my $q = $queries[$i]) =~ s/'/''/g;
    RagTest::psql($pg, "INSERT INTO bench_queries VALUES (" . ($i + 1) . ", '$q')");
}
printf "postgres: tsvector column + GIN index %.2f s\n", time - $t0;

# --- trivial handler and /search with wrk ----------------------------------
my $threads = $ncpu < 2 ? 1 : 2;
sub paths_for {
    my ($loc, $mode) = @_;
    return map {
        (my $e = $_) =~ s/([^A-Za-z0-9_.-])/sprintf('%%%02X', ord $1)/ge;
        "$loc?collection=pg&k=10&mode=$mode&q=$e"
    } @queries;
}
my @paths = paths_for('/search', 'bm25');

# nginx with the module (the one under test, or another build's .so)
sub start_nginx {
    my ($module, $ix) = @_;
    $ix //= $ixdir;
    return RagTest::nginx_start(workers => $ncpu, log_level => 'warn',
        ($module ? (load => "load_module $module;") : ()),
        main => 'thread_pool rag threads=4 max_queue=65536;',
        http => "rag_thread_pool rag; rag_index_dir $ix;",
        server => "location /search { rag_search; }\n"
            . "location /pooled { rag_search; rag_search_inline_max 0; }\n"
            . "location /ok { return 200 \"ok\"; }");
}

sub check_search {
    my ($ng, @p) = @_;
    @p = @paths unless @p;
    my $http = HTTP::Tiny->new(timeout => 10);
    my $hits = 0;
    for my $p (@p) {
        my $r = $http->get("$ng->{url}$p");
        die "search failed: $r->{status} $r->{content}" unless $r->{status} == 200;
        $hits++ if $r->{content} =~ /"rank":1,/;
    }
    return $hits;
}

# A wrk script cycling through paths, reporting one parsable line.
sub wrk_script {
    my ($name, @p) = @_;
    my $lua = "$dir/$name.lua";
    open my $fh, '>', $lua or die;
    print $fh "local qs = {\n", map({ "  \"$_\",\n" } @p), "}\nlocal i = 0\n"
        . "function setup(thread) thread:set('i', math.random(0, #qs)) end\n"
        . "function request() i = i + 1; return wrk.format('GET', qs[(i % #qs) + 1]) end\n"
        . "function done(summary, latency, requests)\n"
        . "  io.write(string.format('WRK rps=%.1f p50=%.3f p99=%.3f errors=%d\\n',"
        . " summary.requests / (summary.duration / 1e6), latency:percentile(50) / 1000,"
        . " latency:percentile(99) / 1000, summary.errors.status + summary.errors.connect"
        . " + summary.errors.read + summary.errors.write + summary.errors.timeout))\n"
        . "end\n";
    close $fh;
    return $lua;
}

# nginx worker RSS: it must stay flat under load
sub worker_rss_kb {
    my ($ng) = @_;
    my $kb = 0;
    for my $p (map { /(\d+)/ ? $1 : () } `pgrep -P $ng->{pid}`) {
        # anonymous memory only: the mapped index file's pages come and
        # go with the page cache, heap growth is what would leak
        $kb += $1 if RagTest::slurp("/proc/$p/status") =~ /RssAnon:\s+(\d+)/;
    }
    return $kb;
}

# CPU seconds (user + system, every thread) the nginx workers used so
# far: per request, a figure the machine's other load barely moves
sub worker_cpu_s {
    my ($ng) = @_;
    my $ticks = 0;
    for my $p (map { /(\d+)/ ? $1 : () } `pgrep -P $ng->{pid}`) {
        my @f = split ' ', (RagTest::slurp("/proc/$p/stat") =~ /\)\s+(.*)/)[0] // '';
        $ticks += ($f[11] // 0) + ($f[12] // 0);
    }
    return $ticks / 100;
}

# Warms up for 2 s, then loads $ng for $duration; returns a hash of
# figures (rps, p50, p99, errors incl. non-2xx, rss0/rss1 in kB, cpu_us
# per request).
sub run_wrk {
    my ($ng, $lua, $perf) = @_;
    system("wrk -t$threads -c$conns -d2s -s $lua $ng->{url} >/dev/null 2>&1");
    my $rss0 = worker_rss_kb($ng);
    my $cpu0 = worker_cpu_s($ng);
    my $perf_pid;
    if ($perf) {
        my $pids = join ',', map { /(\d+)/ ? $1 : () } `pgrep -P $ng->{pid}`;
        $perf_pid = fork // die "fork: $!";
        if (!$perf_pid) {
            open STDOUT, '>', '/dev/null';
            open STDERR, '>', '/dev/null';
            exec 'perf', 'record', '-g', '-o', $perf, '-p', $pids, '--',
                'sleep', $duration;
            exit 127;
        }
    }
    my $out = `wrk -t$threads -c$conns -d${duration}s -s $lua $ng->{url} 2>&1`;
    waitpid $perf_pid, 0 if $perf_pid;
    my $cpu1 = worker_cpu_s($ng);
    my $rss1 = worker_rss_kb($ng);
    my ($load) = RagTest::slurp('/proc/loadavg') =~ /^(\S+)/;
    print $out if $ENV{BENCH_VERBOSE};
    my ($rps, $p50, $p99, $errs) =
        $out =~ /WRK rps=([\d.]+) p50=([\d.]+) p99=([\d.]+) errors=(\d+)/
        or die "wrk output not understood:\n$out";
    my ($non2xx) = $out =~ /Non-2xx or 3xx responses: (\d+)/;
    return { rps => $rps, p50 => $p50, p99 => $p99,
        errors => $errs + ($non2xx // 0), rss0 => $rss0, rss1 => $rss1,
        load => $load,
        cpu_us => $rps > 0 ? ($cpu1 - $cpu0) * 1e6 / ($rps * $duration) : 0 };
}

my $ng = start_nginx();
my $hits = check_search($ng);
print "search: $hits/" . scalar(@queries) . " queries have results\n";
my $ok = run_wrk($ng, wrk_script('ok', '/ok'));
my $se = run_wrk($ng, wrk_script('search', @paths), $ENV{RAG_BENCH_PERF});
# the same searches handed to the thread pool (the previous design)
my $sp = run_wrk($ng, wrk_script('pooled', paths_for('/pooled', 'bm25')));
# hybrid: BM25 + the in-process fastText leg, when the index has it
my ($hy, $hp);
if ($has_ft) {
    check_search($ng, paths_for('/search', 'hybrid'));
    $hy = run_wrk($ng, wrk_script('hybrid', paths_for('/search', 'hybrid')));
    $hp = run_wrk($ng, wrk_script('hybridp', paths_for('/pooled', 'hybrid')));
}
RagTest::stop($ng->{pid}, 'QUIT', 10);
$ng->{pid} = 0;

my $base;
if (my $mod = $ENV{RAG_BENCH_BASELINE_MODULE}) {
    -f $mod or die "RAG_BENCH_BASELINE_MODULE: $mod not found\n";
    my $bng = start_nginx($mod, $baseix);
    check_search($bng);
    $base = run_wrk($bng, wrk_script('search', @paths));
    RagTest::stop($bng->{pid}, 'QUIT', 10);
    $bng->{pid} = 0;
}

# --- Postgres full-text search with pgbench --------------------------------
my $script = "$dir/fts.sql";
RagTest::write_file($script, <<'SQL');
\set id random(1, 50)
SELECT c.id, ts_rank_cd(c.tsv, s.q) AS r
  FROM chunks c,
       (SELECT websearch_to_tsquery('english', q) AS q FROM bench_queries WHERE id = :id) s
 WHERE c.tsv @@ s.q ORDER BY r DESC LIMIT 10;
SQL
my $pgbench = "$RagTest::PGBIN/pgbench";
my $logp = "$dir/pgbench";
my $pb = `cd $dir && $pgbench -n -h $pg->{host} -p $pg->{port} -U postgres -f $script -c $conns -j $threads -T $duration -l --log-prefix=$logp rag 2>&1`;
my ($tps) = $pb =~ /tps = ([\d.]+)/ or die "pgbench output not understood:\n$pb";
my @lat;
for my $f (glob("$logp.*")) {
    open my $fh, '<', $f or next;
    while (<$fh>) { my @a = split; push @lat, $a[2] / 1000 }   # us -> ms
}
@lat = sort { $a <=> $b } @lat;
my $pct = sub { my $p = shift; @lat ? $lat[int($p / 100 * $#lat)] : 0 };

my ($load) = RagTest::slurp('/proc/loadavg') =~ /^(\S+)/;
print "\n";
printf "%-36s %10s %10s %10s %8s %12s %6s\n", "($conns connections, ${duration}s, $ncpu CPUs)",
    'req/s', 'p50 ms', 'p99 ms', 'errors', 'nginx CPU/req', 'load';
my $row = sub {
    my ($name, $f) = @_;
    printf "%-36s %10.0f %10.3f %10.3f %8d %9.1f us %6s\n", $name,
        @$f{qw(rps p50 p99 errors cpu_us load)};
};
$row->('nginx trivial (return 200 "ok")', $ok);
$row->('nginx /search (BM25, mmap index)', $se);
$row->('nginx /search, thread pool', $sp);
$row->('nginx /search hybrid (BM25+fastText)', $hy) if $hy;
$row->('nginx /search hybrid, thread pool', $hp) if $hp;
$row->('nginx /search, baseline module', $base) if $base;
printf "%-36s %10.0f %10.3f %10.3f %8s\n", 'Postgres FTS (GIN + ts_rank_cd)',
    $tps, $pct->(50), $pct->(99), '-';
print "\n";
my $ratio = sub { $_[1] > 0 ? $_[0] / $_[1] : 0 };
printf "/search vs trivial:        %5.1f %% of its req/s   (goal >= 35 %%)\n",
    100 * $ratio->($se->{rps}, $ok->{rps});
printf "/search vs Postgres FTS:   %5.1fx req/s           (goal >= 10x)\n",
    $ratio->($se->{rps}, $tps);
printf "/search p99:               %6.3f ms              (goal < 2 ms)\n", $se->{p99};
printf "/search on the loop vs thread pool: %.2fx req/s, p99 %.3f -> %.3f ms\n",
    $ratio->($se->{rps}, $sp->{rps}), $sp->{p99}, $se->{p99};
printf "nginx CPU per request: trivial %.1f us, /search loop %.1f us, pool %.1f us"
    . " (/search at %.1f %% of trivial by CPU; %.1fx Postgres FTS by req/s)\n",
    $ok->{cpu_us}, $se->{cpu_us}, $sp->{cpu_us},
    100 * $ratio->($ok->{cpu_us}, $se->{cpu_us}), $ratio->($se->{rps}, $tps);
printf "hybrid (fastText leg) vs trivial: %.1f %%, vs FTS %.1fx, p99 %.3f ms;"
    . " on the loop vs pool %.2fx\n",
    100 * $ratio->($hy->{rps}, $ok->{rps}), $ratio->($hy->{rps}, $tps),
    $hy->{p99}, $ratio->($hy->{rps}, $hp->{rps}) if $hy;
printf "/search vs baseline:       %5.2fx req/s, p99 %.3f -> %.3f ms, "
    . "nginx CPU %.1f -> %.1f us/req (baseline %.1f %% of trivial, %.1fx FTS)\n",
    $ratio->($se->{rps}, $base->{rps}), $base->{p99}, $se->{p99},
    $base->{cpu_us}, $se->{cpu_us},
    100 * $ratio->($base->{rps}, $ok->{rps}), $ratio->($base->{rps}, $tps)
    if $base;
printf "nginx workers RssAnon under /search: %d kB before, %d kB after %ds of load (%+d kB)\n",
    $se->{rss0}, $se->{rss1}, $duration, $se->{rss1} - $se->{rss0};
printf "load average at the end: %s\n", $load;
