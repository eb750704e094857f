# The in-process semantic leg end to end (issue 16.5): with
# semantic_leg = fasttext, rag-ingest trains a fastText model on the
# collection (Debian's fasttext, a child process), stores it with the
# index generation, and /search ranks with it in nginx: hits carry the
# leg's cosine, and a word that appears in no document still finds the
# page through its character n-grams. A re-index with an unchanged
# corpus keeps the model; --retrain trains again (same seed: same file).
# The leg off (the default) leaves the index BM25 only.
#
# The corpus is 40 pages of the PostgreSQL manual, flattened to text, so
# training takes seconds (fasttext_min_tokens lowered, few epochs).
use strict;
use warnings;
use Test::More;
use HTTP::Tiny;
use JSON::PP qw(decode_json encode_json);
use Digest::SHA qw(sha256_hex);
use lib 't/lib';
use RagTest;

my $PGDOC = '/usr/share/doc/postgresql-doc-15/html';
plan skip_all => "$PGDOC missing (.ci/deps.sh installs postgresql-doc-15)"
    unless -d $PGDOC;
-x '/usr/bin/fasttext' or BAIL_OUT('/usr/bin/fasttext missing: .ci/deps.sh installs fasttext');

my $pg = RagTest::pg_start();
my $ixdir = RagTest::tmpdir();
my $tmp = RagTest::tmpdir();

# 40 pages about indexes, locking and backups, as JSON Lines
my @pages = (sort(glob("$PGDOC/indexes*.html")), sort(glob("$PGDOC/explicit-locking*.html")),
    sort(glob("$PGDOC/backup*.html")), sort(glob("$PGDOC/sql-create*.html")));
splice(@pages, 40) if @pages > 40;
cmp_ok(scalar @pages, '>=', 30, 'enough manual pages');
my $jsonl = '';
for my $f (@pages) {
    my $html = RagTest::slurp($f);
    my ($title) = $html =~ m{<title>(.*?)</title>}s;
    $html =~ s{<script.*?</script>|<style.*?</style>}{}gs;
    $html =~ s{<[^>]+>}{ }g;
    $html =~ s{&[a-z]+;|&#\d+;}{ }g;
    $html =~ s{\s+}{ }g;
    (my $name = $f) =~ s{.*/}{};
    $jsonl .= encode_json({url => "https://pg.example/$name",
        title => $title // $name, body => $html}) . "\n";
}
RagTest::write_file("$tmp/docs.jsonl", $jsonl);

my %env = (RAG_DATABASE_URL => $pg->{conninfo}, RAG_INDEX_DIR => $ixdir,
    RAG_FASTTEXT_MIN_TOKENS => 2000, RAG_FASTTEXT_EPOCH => 3,
    RAG_LOG_LEVEL => 'info');
sub run {
    my (@cmd) = @_;
    local @ENV{keys %env} = values %env;
    my $cmd = join ' ', map { "'$_'" } @cmd;
    my $out = `$cmd 2>&1`;
    return ($? & 127 ? 128 + ($? & 127) : $? >> 8, $out);
}

# --- the leg off (the default): BM25 only ----------------------------------
my ($rc, $out) = run(RagTest::bin('rag-ingest'), '--collection', 'plain',
    '--json', "$tmp/docs.jsonl");
is($rc, 0, 'ingested with the default settings') or diag $out;
unlike($out, qr/semantic model trained/, 'default: no training');

# --- the leg on ---------------------------------------------------------------
$env{RAG_SEMANTIC_LEG} = 'fasttext';
($rc, $out) = run(RagTest::bin('rag-ingest'), '--collection', 'sem',
    '--json', "$tmp/docs.jsonl");
is($rc, 0, 'ingested with semantic_leg = fasttext') or diag $out;
like($out, qr/semantic model trained.*collection=sem/, 'model trained') or diag $out;
my $f1 = sha256_hex(RagTest::slurp("$ixdir/sem.idx"));

my $ng = RagTest::nginx_start(pg => $pg,
    main => 'thread_pool ragpool threads=2 max_queue=100;',
    http => "rag_database \"%%DB%%\"; rag_thread_pool ragpool;"
        . " rag_index_dir $ixdir;",
    server => "location /search { rag_search; }");
my $http = HTTP::Tiny->new(timeout => 10);
sub search {
    my ($coll, $q) = @_;
    my $r = $http->get("$ng->{url}/search?collection=$coll&k=10&q="
        . join('+', map { s/([^A-Za-z0-9_.-])/sprintf('%%%02X', ord $1)/ger }
            split / /, $q));
    return ($r->{status}, $r->{status} == 200 ? decode_json($r->{content}) : $r->{content});
}
sub first_cosine {
    my ($j) = @_;
    my ($h) = @{ $j->{results} || [] };
    return $h ? $h->{cosine} : undef;
}

my ($st, $j) = search('sem', 'lock a table against concurrent writers');
is($st, 200, '/search on the semantic collection');
ok(@{ $j->{results} || [] } >= 3, 'results') or diag explain $j;
ok(defined first_cosine($j) && first_cosine($j) != 0,
    'hits carry the semantic leg\'s cosine') or diag explain $j;
($st, $j) = search('plain', 'lock a table against concurrent writers');
is($st, 200, '/search on the BM25-only collection');
is(first_cosine($j) // 0, 0, 'no semantic leg there: cosine 0');

# A misspelt word no page contains: BM25 finds nothing; the leg's
# character n-grams still place it near "locking".
($st, $j) = search('plain', 'lockinng');
is($st, 200, 'misspelt query, BM25 only');
is(scalar @{ $j->{results} || [] }, 0, 'BM25: no hit for a word in no page');
($st, $j) = search('sem', 'lockinng');
is($st, 200, 'misspelt query, semantic collection');
my @h = @{ $j->{results} || [] };
ok(@h > 0, 'the semantic leg finds pages for an unseen word') or diag explain $j;

# --- re-index: unchanged corpus keeps the model; --retrain is reproducible --
my $Q = 'lock a table against concurrent writers';
sub ranked {
    my ($st, $j) = search('sem', $Q);
    return $st == 200
        ? join(' ', map { "$_->{url}=" . sprintf('%.5f', $_->{cosine}) } @{ $j->{results} })
        : "status $st";
}
my $before = ranked();
($rc, $out) = run(RagTest::bin('rag-reindex'), 'sem');
is($rc, 0, 'rag-reindex') or diag $out;
like($out, qr/semantic model kept.*collection=sem/, 'unchanged corpus: model kept') or diag $out;
($rc, $out) = run(RagTest::bin('rag-reindex'), '--retrain', 'sem');
is($rc, 0, 'rag-reindex --retrain') or diag $out;
like($out, qr/semantic model trained.*collection=sem/, '--retrain trains') or diag $out;
isnt(sha256_hex(RagTest::slurp("$ixdir/sem.idx")), $f1, 'a new generation was written');
# the module checks for a new generation at most every 100 ms
select(undef, undef, undef, 0.5);
is(ranked(), $before,
    'same corpus, same seed: the retrained model ranks identically, same cosines');

# --- a training that cannot run never fails the build --------------------------
{
    local $env{RAG_FASTTEXT_BIN} = '/nonexistent/fasttext';
    ($rc, $out) = run(RagTest::bin('rag-reindex'), '--retrain', 'sem');
    is($rc, 0, 'missing fasttext binary: the index is still written') or diag $out;
    like($out, qr/semantic model training failed/, 'and the log says why') or diag $out;
    ($st, $j) = search('sem', 'lock a table against concurrent writers');
    is($st, 200, 'search still answers');
}

# --- a follower takes the leg's settings from its config file --------------
# (rag-reindex --follow read them from the environment only: a follower
# whose file said semantic_leg = fasttext built BM25-only files)
{
    my $fdir = RagTest::tmpdir();
    my $conf = "$tmp/follow.conf";
    RagTest::write_file($conf, "semantic_leg = fasttext\n"
        . "fasttext_min_tokens = 2000\nfasttext_epoch = 3\nlog_level = info\n");
    my $log = "$tmp/follow.log";
    my $pid = RagTest::spawn([RagTest::bin('rag-reindex'), '-c', $conf,
        '--follow', $fdir], log => $log,
        env => {RAG_DATABASE_URL => $pg->{conninfo}});
    ok(RagTest::wait_for(sub { -s "$fdir/sem.idx" && -s "$fdir/plain.idx" }, 120),
        'the follower built both collections');
    kill 'TERM', $pid;
    waitpid($pid, 0);
    my $fl = RagTest::slurp($log);
    like($fl, qr/semantic model trained.*collection=sem/,
        'the follower trained the leg its config file asks for') or diag $fl;
    unlike($fl, qr/semantic leg: collection too small/,
        'with the file\'s fasttext_min_tokens') or diag $fl;
}

done_testing();
