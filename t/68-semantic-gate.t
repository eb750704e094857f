# The in-process fastText leg must keep winning (issue 16.5): the
# Debian-shipped PostgreSQL manual is crawled and indexed with
# semantic_leg = fasttext (the default training: 5 epochs, one thread,
# fixed seed), and `rag-admin eval` scores the PostgreSQL user-question
# set and the tuned set with BM25 alone and with the leg, in one run.
# The leg fails the gate when, on either set, it recalls fewer questions
# at 5 than BM25 (one question of slack, as the README's rule: "loses no
# set by more than one question") or fewer in total at 1, 5 and 10.
# Measured when the gate was written (README): postgresql BM25 8/15/17
# questions at 1/5/10, with the leg 12/15/18; tuned set 35/46/50 and
# 34/46/51.
#
# Not under ASan (RAG_ASAN=1): the cost is fastText's own training (a
# child process, Debian's binary, not our code; about 3 CPU-minutes at
# 5 epochs), which ASan would not check, and the leg's search code runs
# under ASan in t/unit/test_ft.c and t/67. Training once here keeps the
# suite's two runs well under an hour.
use strict;
use warnings;
use Test::More;
use JSON::PP;
use lib 't/lib';
use RagTest;

plan skip_all => 'not under ASan: training is fastText\'s own CPU time '
    . '(see the header); t/67 and test_ft cover the leg under ASan'
    if $ENV{RAG_ASAN};
my $DOC = '/usr/share/doc/postgresql-doc-15/html';
plan skip_all => "$DOC missing (sh .ci/deps.sh installs it)"
    unless -f "$DOC/index.html";
-x '/usr/bin/fasttext' or BAIL_OUT('/usr/bin/fasttext missing: .ci/deps.sh installs fasttext');

my $tmp = RagTest::tmpdir();
my $pg = RagTest::pg_start();
my $ng = RagTest::nginx_start(server =>
    "location /postgresql/ { alias $DOC/; index index.html; }");
my $u = $ng->{url};
my $ixdir = "$tmp/index";
mkdir $ixdir or die;
local $ENV{RAG_DATABASE_URL} = $pg->{conninfo};
local $ENV{RAG_INDEX_DIR} = $ixdir;
local $ENV{RAG_SEMANTIC_LEG} = 'fasttext';
delete local $ENV{RAG_EMBED_BASE_URL};

my $admin = RagTest::bin('rag-admin');
my ($rc, $out) = RagTest::run_cmd($admin, 'collection-add', 'postgresql', 'postgresql');
is($rc, 0, 'collection added') or diag $out;
($rc, $out) = RagTest::run_cmd(RagTest::bin('rag-ingest'), '--collection', 'postgresql',
    '--site', "$u/postgresql/index.html", '--include', "$u/postgresql/",
    '--allow-private', '--delay', '0');
is($rc, 0, 'crawled, trained and indexed') or diag $out;
like($out, qr/semantic="trained"/, 'a fastText model was trained')
    or diag $out;

($rc, $out) = RagTest::run_cmd($admin, 'eval', '--no-fts', '--base',
    "postgresql=$u/postgresql/", 'eval/sets/postgresql.jsonl',
    '--collection', 'postgresql', 'eval/postgresql.jsonl', '--collection',
    'postgresql', '--name', 'postgresql-tuned', '--json', "$tmp/eval.json");
is($rc, 0, 'eval ran') or diag $out;
note $out;
my $j = decode_json(RagTest::slurp("$tmp/eval.json"));
my %by = map { $_->{name} => $_ } @{ $j->{sets} || [] };
for my $s (qw(postgresql postgresql-tuned)) {
    my $set = $by{$s};
    ok($set && $set->{modes}{hybrid} && $set->{modes}{bm25},
        "$s: BM25 and hybrid measured") or next;
    my $n = $set->{questions};
    my %q;
    for my $m (qw(bm25 hybrid)) {
        $q{$m}{$_} = int($set->{modes}{$m}{"recall\@$_"} * $n + 0.5)
            for 1, 5, 10;
    }
    note sprintf "%s: questions at 1/5/10: bm25 %d/%d/%d, with the leg %d/%d/%d",
        $s, map({ $q{bm25}{$_} } 1, 5, 10), map({ $q{hybrid}{$_} } 1, 5, 10);
    cmp_ok($q{hybrid}{5}, '>=', $q{bm25}{5} - 1,
        "$s: the leg loses at most one question at 5");
    cmp_ok($q{hybrid}{1} + $q{hybrid}{5} + $q{hybrid}{10}, '>=',
        $q{bm25}{1} + $q{bm25}{5} + $q{bm25}{10},
        "$s: the leg does not lose overall (at 1, 5 and 10)");
}
done_testing;
