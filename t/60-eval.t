# Retrieval evaluation over a real corpus: the PostgreSQL 15 manual
# (Debian's postgresql-doc-15) is served by nginx, crawled and indexed
# with rag-ingest, and `rag-admin eval eval/postgresql.jsonl` must keep
# BM25/hybrid recall@5 at or above the figure recorded in eval/README.md
# (minus a small margin), printing the Postgres full-text baseline beside
# it. Also: eval's argument and file errors. The user-question sets over
# six corpora are in t/65-eval-corpora.t.
use strict;
use warnings;
use Test::More;
use lib 't/lib';
use RagTest;
use FakeOpenAI;

my $DOCS = $ENV{RAG_EVAL_DOCS} || '/usr/share/doc/postgresql-doc-15/html';
plan skip_all => "$DOCS missing (apt-get install postgresql-doc-15)"
    unless -f "$DOCS/index.html";

# Recorded in eval/README.md: BM25 (= hybrid without vectors) recall@5
# 0.804 on 56 questions; 0.911 (51/56) with page evidence and question
# words (issue 16.1). The gate is that minus a margin of ~3 questions,
# so chunker/ranking changes that cost more than that fail CI.
my $MIN_RECALL5 = 0.85;

my $tmp = RagTest::tmpdir();
my $pg = RagTest::pg_start();
my $ng = RagTest::nginx_start(server => "
    location / { root $DOCS; index index.html; }");
my $ixdir = "$tmp/index";
mkdir $ixdir;
my %env = (RAG_DATABASE_URL => $pg->{conninfo}, RAG_INDEX_DIR => $ixdir);
local @ENV{keys %env} = values %env;
delete local $ENV{RAG_EMBED_BASE_URL};

my $admin = RagTest::bin('rag-admin');
my ($rc, $out) = RagTest::run_cmd($admin, 'collection-add', 'postgresql', 'PG15');
is($rc, 0, 'collection added') or diag $out;

my $t0 = time;
($rc, $out) = RagTest::run_cmd(RagTest::bin('rag-ingest'), '--collection', 'postgresql',
    '--site', "$ng->{url}/index.html", '--include', "$ng->{url}/",
    '--allow-private', '--delay', '0',
    '--quiet');
is($rc, 0, 'manual ingested') or diag $out;
note "ingest: ", time - $t0, " s: $out";
ok(-s "$ixdir/postgresql.idx", 'index written');

($rc, $out) = RagTest::run_cmd($admin, 'eval', 'eval/postgresql.jsonl',
    '--collection', 'postgresql', '--base', $ng->{url},
    '--min-recall5', $MIN_RECALL5, '--verbose');
is($rc, 0, "hybrid recall\@5 >= $MIN_RECALL5") or diag $out;
note $out;
like($out,
    qr/^postgresql\s+bm25\s+\d+\s+\d\.\d{3}\s+\d\.\d{3}\s+\d\.\d{3}\s+\d\.\d{3}$/m,
    'bm25 row');
like($out, qr/no semantic leg: hybrid = bm25/, 'no semantic leg without embeddings or a trained model');
unlike($out, qr/^postgresql\s+(vector|hybrid)\s/m, 'so no vector/hybrid rows');
like($out, qr/^postgresql\s+fts-or\s+\d+\s+\d\.\d{3}/m, 'full-text baseline');
my ($q) = $out =~ /^set postgresql: \S+, (\d+) questions/m;
cmp_ok($q // 0, '>=', 40, 'at least 40 questions');

# The gate really gates: an impossible floor fails with exit 3.
($rc, $out) = RagTest::run_cmd($admin, 'eval', 'eval/postgresql.jsonl',
    '--collection', 'postgresql', '--base', $ng->{url},
    '--min-recall5', '1.01');
is($rc, 3, 'below --min-recall5 exits 3');
like($out, qr/recall\@5 \d\.\d+ below 1\.010/, 'says why');

# Wrong base: nothing matches, so every recall is zero (no fake hits).
($rc, $out) = RagTest::run_cmd($admin, 'eval', 'eval/postgresql.jsonl',
    '--collection', 'postgresql', '--base', 'http://elsewhere.invalid');
like($out, qr/^postgresql\s+bm25\s+\d+\s+0\.000\s+0\.000\s+0\.000\s+0\.000$/m,
    'other site: zero recall');

# TSV input and errors.
RagTest::write_file("$tmp/q.tsv",
    "# comment\nCREATE INDEX CONCURRENTLY\tsql-createindex.html\n");
($rc, $out) = RagTest::run_cmd($admin, 'eval', "$tmp/q.tsv", '--collection',
    'postgresql', '--base', "$ng->{url}/");
is($rc, 0, 'TSV eval runs') or diag $out;
like($out, qr/^set q: \S+, 1 questions/m, 'one TSV question');
RagTest::write_file("$tmp/bad.jsonl", "{\"q\":\"x\"}\n");
($rc, $out) = RagTest::run_cmd($admin, 'eval', "$tmp/bad.jsonl", '--collection',
    'postgresql');
is($rc, 1, 'question without urls rejected');
like($out, qr/bad\.jsonl:1: no expected urls/, 'names the line');
($rc, $out) = RagTest::run_cmd($admin, 'eval', 'eval/postgresql.jsonl', '--collection',
    'nope');
is($rc, 1, 'missing index fails');

# The vector leg: the SQL command reference pages (sql-*.html) ingested
# with embeddings from the FakeOpenAI stand-in (hashed bag-of-words
# vectors: deterministic, lexical — this checks the plumbing, query
# embedding and the three rows, not semantic quality).
my $ai = FakeOpenAI->start(api_key => 'sk-eval');
{
    local $ENV{RAG_EMBED_BASE_URL} = $ai->{url};
    local $ENV{RAG_EMBED_API_KEY} = 'sk-eval';
    local $ENV{RAG_EMBED_MODEL} = 'text-embedding-3-small';
    ($rc, $out) = RagTest::run_cmd($admin, 'collection-add', 'pgsql', 'SQL commands');
    $t0 = time;
    ($rc, $out) = RagTest::run_cmd(RagTest::bin('rag-ingest'), '--collection', 'pgsql',
        '--site', "$ng->{url}/sql-commands.html", '--include',
        "$ng->{url}/sql-", '--allow-private', '--delay', '0', '--quiet');
    is($rc, 0, 'SQL reference ingested with embeddings') or diag $out;
    note "ingest with vectors: ", time - $t0, " s";
    my @sub = grep { /"sql-[a-z]+\.html"/ }
        split /\n/, RagTest::slurp('eval/postgresql.jsonl');
    my $subset = join "\n", map {
        my $j = JSON::PP::decode_json($_);
        $j->{urls} = [grep { /^sql-/ } @{ $j->{urls} }];
        JSON::PP::encode_json($j) } @sub;
    RagTest::write_file("$tmp/sql.jsonl", "$subset\n");
    my $n = () = $subset =~ /\n/g;
    ($rc, $out) = RagTest::run_cmd($admin, 'eval', "$tmp/sql.jsonl", '--collection',
        'pgsql', '--base', $ng->{url}, '--min-recall5', '0.5');
    is($rc, 0, 'eval with vectors') or diag $out;
    note $out;
    like($out, qr/^set sql: \S+, @{[$n + 1]} questions/m, 'the sql-* questions');
    for my $m (qw(bm25 vector hybrid fts-and fts-or)) {
        like($out,
            qr/^sql\s+$m\s+\d+\s+\d\.\d{3}\s+\d\.\d{3}\s+\d\.\d{3}\s+\d\.\d{3}$/m,
            "$m row measured");
    }
    my @q = $ai->requests('/v1/embeddings');
    ok(scalar(grep { ref $_->{body}{input} eq 'ARRAY'
        && grep { /without blocking inserts/ } @{ $_->{body}{input} } } @q),
        'questions were embedded');
    ($rc, $out) = RagTest::run_cmd($admin, 'eval', "$tmp/sql.jsonl", '--collection',
        'pgsql', '--base', $ng->{url}, '--min-recall5', '1.01');
    like($out, qr/hybrid recall\@5 \d\.\d+ below/, 'gate uses hybrid when vectors ran');

    local $ENV{RAG_EMBED_BASE_URL} = 'http://127.0.0.1:9/v1';
    local $ENV{RAG_EMBED_MAX_RETRIES} = 0;
    ($rc, $out) = RagTest::run_cmd($admin, 'eval', "$tmp/sql.jsonl", '--collection',
        'pgsql', '--base', $ng->{url});
    is($rc, 0, 'embeddings down: still evaluates');
    like($out, qr/vector leg skipped/, 'says the vector leg was skipped');
    unlike($out, qr/^sql\s+vector\s/m, 'no vector row');
}

done_testing;
