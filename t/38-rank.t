# Lexical ranking end to end (issue 16.3): a small corpus written into
# Postgres, indexed with the real rag-reindex, searched through nginx's
# /search and through the answer path (rag-ask): both rank with
# lib/rag_search and must agree.
#   - page diversity: no page twice in the top while other pages matched
#   - a collection's language: its Snowball stemmer builds the index and
#     stems the queries of /search and the answer path alike; an unknown
#     language is refused with the list of known ones
use strict;
use warnings;
use Test::More;
use HTTP::Tiny;
use JSON::PP;
use lib 't/lib';
use RagTest;

my $J = JSON::PP->new->canonical->utf8;
my $pg = RagTest::pg_start();
my $ixdir = RagTest::tmpdir();
$ENV{RAG_DATABASE_URL} = $pg->{conninfo};

# One page (locking) whose three sections all say "row lock" often, and
# three pages that say it once.
my @docs = (
    ['https://docs.example/locking', 'Explicit Locking', [
        ['Row-Level Locks', 'row-locks',
         'A row lock is taken by UPDATE. Row lock modes: the row lock '
         . 'conflicts with another row lock on the same row.'],
        ['Row-Level Locks > Modes', 'row-lock-modes',
         'FOR UPDATE takes the strongest row lock; FOR SHARE a weaker row '
         . 'lock. Every row lock is held until the transaction ends.'],
        ['Deadlocks', 'deadlocks',
         'Two transactions that each hold a row lock the other wants '
         . 'deadlock: one row lock wait is cancelled.'],
    ]],
    ['https://docs.example/select', 'SELECT', [
        ['The Locking Clause', 'for-update',
         'SKIP LOCKED skips any row that cannot be locked at once; a row '
         . 'lock is taken on the rest.'],
    ]],
    ['https://docs.example/mvcc', 'Concurrency Control', [
        ['Introduction', 'mvcc-intro',
         'Readers never wait for writers: reading a row takes no lock of '
         . 'that kind, and writers take a row lock only on what they change.'],
    ]],
    ['https://docs.example/monitoring', 'Monitoring', [
        ['pg_locks', 'pg-locks',
         'The pg_locks view shows every lock held, including each row lock '
         . 'that makes a session wait.'],
    ]],
);

sub q_ { my $s = shift; $s =~ s/'/''/g; return "'$s'" }

RagTest::psql($pg, "INSERT INTO collections (name) VALUES ('docs')");
for my $d (@docs) {
    my ($url, $title, $chunks) = @$d;
    my $id = RagTest::psql($pg, "INSERT INTO documents (collection_id, url, "
        . "title) SELECT id, " . q_($url) . ", " . q_($title)
        . " FROM collections WHERE name = 'docs' RETURNING id");
    my $ord = 0;
    for my $c (@$chunks) {
        my ($hp, $anchor, $body) = @$c;
        RagTest::psql($pg, "INSERT INTO chunks (document_id, ordinal, "
            . "heading_path, anchor, body) VALUES ($id, " . $ord++ . ", "
            . q_($hp) . ", " . q_($anchor) . ", " . q_($body) . ")");
    }
}

my $out = `@{[RagTest::bin('rag-reindex')]} --dir $ixdir docs 2>&1`;
is($?, 0, 'rag-reindex') or diag $out;

my $ng = RagTest::nginx_start(pg => $pg,
    main => 'thread_pool ragpool threads=2 max_queue=100;',
    http => "rag_database \"%%DB%%\"; rag_thread_pool ragpool;"
        . " rag_index_dir $ixdir;",
    server => 'location /search { rag_search; }');
my $http = HTTP::Tiny->new(timeout => 10);

sub search {
    my (%a) = @_;
    my $qs = join '&', map {
        (my $v = $a{$_}) =~ s/([^A-Za-z0-9_.~-])/sprintf('%%%02X', ord $1)/ge;
        "$_=$v"
    } sort keys %a;
    my $r = $http->get("$ng->{url}/search?$qs");
    is($r->{status}, 200, "/search $qs") or diag $r->{content};
    my $j = eval { $J->decode($r->{content}) } || {};
    return map { $_->{url} } @{ $j->{results} || [] };
}

sub page { (my $u = shift) =~ s/#.*//; return $u }

# The answer path's passages, in order: extractive (no LLM), quoting
# every passage retrieved.
my $conf = "$ixdir/ask.conf";
RagTest::write_file($conf, "index_dir = $ixdir\nanswer_top_k = 5\n"
    . "answer_extract_passages = 5\nanswer_extract_min_ratio = 0\n"
    . "answer_min_score = 0\n");

sub ask {
    my ($q) = @_;
    my $o = `@{[RagTest::bin('rag-ask')]} -c $conf --collection docs '$q' 2>&1`;
    is($?, 0, "rag-ask '$q'") or diag $o;
    my ($src) = $o =~ /^Sources:\n(.*)\z/ms;
    return ($src // '') =~ /^    (\S+)  \(score/mg;
}

# --- page diversity -----------------------------------------------------------
{
    my @hits = search(q => 'row lock', collection => 'docs', k => 5,
        mode => 'bm25');
    is(scalar @hits, 5, 'five hits');
    my @pages = map { page($_) } @hits;
    is($pages[0], 'https://docs.example/locking', 'best page first');
    my %seen;
    my @first4 = grep { !$seen{$_}++ } @pages[0 .. 3];
    is(scalar @first4, 4, 'the first four hits are four pages')
        or diag explain \@hits;
    is($pages[4], 'https://docs.example/locking',
        "the page's other sections after every page matched once");
    my @asked = ask('row lock');
    is_deeply(\@asked, \@hits, 'the answer path ranks the same passages')
        or diag explain [\@asked, \@hits];
}

# --- a collection's language ------------------------------------------------
{
    my $admin = RagTest::bin('rag-admin');
    my $o = `$admin collection-add handbuch Handbuch --language klingon 2>&1`;
    is($? >> 8, 2, 'unknown language refused');
    like($o, qr/unknown language "klingon" \(default, or one of: .*german/,
        'names the languages there are');
    is(RagTest::psql($pg,
        "SELECT count(*) FROM collections WHERE name = 'handbuch'"), 0,
        'nothing created');
    $o = `$admin collection-add handbuch Handbuch --language german 2>&1`;
    is($?, 0, 'collection-add --language german') or diag $o;
    like($o, qr/language german/, 'says so');
    is(RagTest::psql($pg,
        "SELECT language FROM collections WHERE name = 'handbuch'"),
        'german', 'stored');
    my @de = (
        ['https://docs.example/de/haus', 'Häuser', 'Häuser bauen',
         'Jedes der Häuser braucht ein Fundament und ein Dach.'],
        ['https://docs.example/de/strasse', 'Straßen', 'Straßen planen',
         'Die Straße verbindet die Orte; jede Straße hat einen Namen.'],
        ['https://docs.example/de/auto', 'Autos', 'Fahren',
         'Ein Auto fährt auf der Straße.'],
    );
    for my $d (@de) {
        my ($url, $title, $hp, $body) = @$d;
        my $id = RagTest::psql($pg, "INSERT INTO documents (collection_id, "
            . "url, title) SELECT id, " . q_($url) . ", " . q_($title)
            . " FROM collections WHERE name = 'handbuch' RETURNING id");
        RagTest::psql($pg, "INSERT INTO chunks (document_id, ordinal, "
            . "heading_path, anchor, body) VALUES ($id, 0, " . q_($hp)
            . ", '', " . q_($body) . ")");
    }
    $o = `@{[RagTest::bin('rag-reindex')]} --dir $ixdir handbuch 2>&1`;
    is($?, 0, 'rag-reindex handbuch') or diag $o;
    # "Haus" meets "Häuser" only through the German stemmer; the light
    # English one keeps them apart
    my @hits = search(q => 'Haus', collection => 'handbuch', k => 5,
        mode => 'bm25');
    is_deeply(\@hits, ['https://docs.example/de/haus'],
        '/search stems the query in German') or diag explain \@hits;
    @hits = search(q => 'Strassen', collection => 'handbuch', k => 5,
        mode => 'bm25');
    is($hits[0], 'https://docs.example/de/strasse', 'Strassen finds Straße');
    my $c2 = "$ixdir/ask-de.conf";
    RagTest::write_file($c2, "index_dir = $ixdir\nanswer_top_k = 5\n"
        . "answer_extract_passages = 5\nanswer_extract_min_ratio = 0\n"
        . "answer_min_score = 0\n");
    my $a = `@{[RagTest::bin('rag-ask')]} -c $c2 --collection handbuch 'Strassen' 2>&1`;
    my ($src) = $a =~ /^Sources:\n(.*)\z/ms;
    my @asked = ($src // '') =~ /^    (\S+)  \(score/mg;
    is_deeply(\@asked, \@hits, 'the answer path ranks the same in German')
        or diag explain [\@asked, \@hits, $a];

    # back to the built-in English stemmer: "Haus" no longer finds it
    $o = `$admin collection-add handbuch Handbuch --language default 2>&1`;
    is($?, 0, '--language default') or diag $o;
    is(RagTest::psql($pg, "SELECT coalesce(language, 'NULL') FROM "
        . "collections WHERE name = 'handbuch'"), 'NULL', 'cleared');
    $o = `@{[RagTest::bin('rag-reindex')]} --dir $ixdir handbuch 2>&1`;
    is($?, 0, 'reindexed') or diag $o;
    ok(RagTest::wait_for(sub {
        !search(q => 'Haus', collection => 'handbuch', k => 5,
            mode => 'bm25') }, 10), 'English stemming: no hit for Haus');

    # a language written past rag-admin: the indexer refuses it, clearly
    RagTest::psql($pg, "UPDATE collections SET language = 'klingon' "
        . "WHERE name = 'handbuch'");
    $o = `@{[RagTest::bin('rag-reindex')]} --dir $ixdir handbuch 2>&1`;
    isnt($?, 0, 'rag-reindex fails on an unknown language');
    like($o, qr/collection handbuch: unknown stemmer language "klingon"/,
        'says which and why') or diag $o;
}

done_testing;
