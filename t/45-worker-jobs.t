# The worker's other job kinds: 'reindex' rebuilds the index file and the
# answer path picks up the new file without a restart; unknown/unbuilt
# kinds are dead-lettered with a clear error, never faked.
use strict;
use warnings;
use Test::More;
use JSON::PP;
use lib 't/lib';
use RagTest;
use WorkerTest;

my $pg = RagTest::pg_start();
my $ixdir = RagTest::tmpdir();
WorkerTest::load_corpus($pg);
WorkerTest::reindex($pg, $ixdir, 'acme');
WorkerTest::guild($pg, helper_role => '777');
RagTest::psql($pg, q{
    INSERT INTO jobs (kind, state, dedupe_key, finished_at) VALUES
        ('embed', 'done', 'old-done', now() - interval '30 days'),
        ('embed', 'dead', 'old-dead', now() - interval '30 days'),
        ('embed', 'done', 'new-done', now() - interval '1 day');
});
my $root = RagTest::tmpdir();
RagTest::write_file("$root/faq.json", '[{"url": "https://faq.test/licence", '
    . '"title": "Licence", "body": "# Licence\n\nThe gizmo is licensed under '
    . 'the Apache 2.0 licence."}]');
my ($pid, $log) = WorkerTest::worker($pg, index_dir => $ixdir,
    ingest_file_root => $root);
ok(RagTest::wait_for(sub { RagTest::psql($pg,
    "SELECT count(*) FROM jobs WHERE dedupe_key = 'old-done'") == 0 }, 10),
    'done jobs older than job_retention_days (7) purged');
is(RagTest::psql($pg, "SELECT string_agg(dedupe_key, ',' ORDER BY dedupe_key) FROM jobs "
    . "WHERE dedupe_key IN ('old-dead', 'new-done')"), 'new-done,old-dead',
    'dead and recent jobs kept');

# a question the index cannot answer yet
my $m1 = WorkerTest::ask($pg, 'j1', 'Upgrade', 'How do I upgrade acmed to version 3 with acmectl upgrade?');
ok(RagTest::wait_for(sub { WorkerTest::reply_row($pg, 'j1', $m1) }, 15), 'first reply');
my $before = WorkerTest::reply_row($pg, 'j1', $m1);
unlike($before->{sources}, qr/upgrading/, 'no upgrade section yet');
my $gen0 = RagTest::psql($pg, "SELECT index_generation FROM collections WHERE name = 'acme'");

# new docs arrive; a reindex job rebuilds the file
RagTest::psql($pg, q{
    INSERT INTO documents (collection_id, url, title) SELECT id,
        'https://docs.acme.test/upgrade', 'Upgrading' FROM collections WHERE name = 'acme';
    INSERT INTO chunks (document_id, ordinal, heading_path, anchor, body)
        SELECT id, 0, 'Upgrading > Major versions', 'upgrading',
        'To upgrade acmed to version 3, run acmectl upgrade --to 3 and restart the service.'
        FROM documents WHERE url = 'https://docs.acme.test/upgrade';
    SELECT rag_enqueue('reindex', '{"collection":"acme"}', 'reindex:1');
});
ok(RagTest::wait_for(sub { RagTest::psql($pg, "SELECT state FROM jobs WHERE dedupe_key = 'reindex:1'") eq 'done' }, 15),
    'reindex job done') or diag(RagTest::slurp($log));
is(RagTest::psql($pg, "SELECT index_generation FROM collections WHERE name = 'acme'"), $gen0 + 1,
    'generation bumped');

WorkerTest::follow_up($pg, 'j1', 'j1-m2', 'So how do I upgrade acmed to version 3?');
ok(RagTest::wait_for(sub { WorkerTest::reply_row($pg, 'j1', 'j1-m2') }, 15), 'second reply');
my $after = WorkerTest::reply_row($pg, 'j1', 'j1-m2');
like($after->{sources}, qr/upgrade#upgrading/, 'the new section is retrieved (index reopened)');
like($after->{content}, qr/acmectl upgrade --to 3/, 'and quoted');
like(RagTest::slurp($log), qr/index reopened/, 'reopen logged');

# an 'ingest' job runs the ingestion code (JSON file source), which
# also rebuilds the index: the new collection is answerable at once
RagTest::psql($pg, "SELECT rag_enqueue('ingest', '{\"collection\":\"gizmo\","
    . "\"source\":{\"type\":\"json\",\"file\":\"$root/faq.json\"}}', 'ingest:1')");
ok(RagTest::wait_for(sub { RagTest::psql($pg, "SELECT state FROM jobs WHERE dedupe_key = 'ingest:1'") eq 'done' }, 20),
    'ingest job done') or diag(RagTest::psql($pg, "SELECT state || ' ' || coalesce(last_error, '') FROM jobs WHERE dedupe_key = 'ingest:1'"));
is(RagTest::psql($pg, "SELECT count(*) FROM documents d JOIN collections c ON c.id = d.collection_id WHERE c.name = 'gizmo'"),
    1, 'document stored');
{
    local $ENV{RAG_DATABASE_URL} = $pg->{conninfo};
    my $bin = RagTest::bin('rag-ask');
    my $out = `$bin --index-dir $ixdir --collection gizmo "Which licence is the gizmo under?" 2>&1`;
    like($out, qr/Apache 2\.0.*https:\/\/faq\.test\/licence/s, 'answerable from the ingested docs');
}

# bad reindex payload and an unbuilt kind: dead, with the reason
RagTest::psql($pg, q{SELECT rag_enqueue('reindex', '{"collection":"../etc"}', 'reindex:bad')});
RagTest::psql($pg, q{SELECT rag_enqueue('embed', '{}', 'embed:1')});
ok(RagTest::wait_for(sub { RagTest::psql($pg,
    "SELECT count(*) FROM jobs WHERE dedupe_key IN ('reindex:bad', 'embed:1') AND state = 'dead'") == 2 }, 15),
    'both dead-lettered');
like(RagTest::psql($pg, "SELECT last_error FROM jobs WHERE dedupe_key = 'embed:1'"),
    qr/not built/, 'unbuilt kind says so');
is(RagTest::psql($pg, "SELECT attempts FROM jobs WHERE dedupe_key = 'reindex:bad'"), 1,
    'permanent errors are not retried');
is(RagTest::stop($pid, 'TERM', 10), 0, 'clean exit');
done_testing();
