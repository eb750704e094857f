# rag-admin export / community-sync / gaps against fixture threads:
# which threads are exported and how (roles, no user ids), the
# community-<guild> collection (documents, chunks, index, link back,
# incremental re-sync, pruning), and the gap report's text and JSON.
use strict;
use warnings;
use Test::More;
use JSON::PP;
use lib 't/lib';
use RagTest;
use FakeOpenAI;

my $pg = RagTest::pg_start();
my $tmp = RagTest::tmpdir();
my $ixdir = "$tmp/index";
mkdir $ixdir;
local $ENV{RAG_DATABASE_URL} = $pg->{conninfo};
local $ENV{RAG_INDEX_DIR} = $ixdir;
my $admin = RagTest::bin('rag-admin');

sub run {
    my (@cmd) = @_;
    my $out = `$admin @cmd 2>$tmp/stderr`;
    return ($? >> 8, $out, RagTest::slurp("$tmp/stderr"));
}

RagTest::psql($pg, <<'SQL');
INSERT INTO collections (name) VALUES ('docs');
INSERT INTO threads (thread_id, guild_id, title, collection, author_id, open,
                     solved, solved_by, solved_at, solved_votes, failed_votes,
                     created_at) VALUES
 ('100', 'g1', 'Nginx reload drops connections', 'docs', 'asker1', false, true,
  'asker1', now() - interval '5 days', 1, 0, now() - interval '6 days'),
 ('101', 'g1', 'Worker crashes on startup', 'docs', 'asker2', true, false,
  NULL, NULL, 2, 0, now() - interval '2 days'),
 ('102', 'g1', 'TLS certificate renewal', 'docs', 'asker3', true, false,
  NULL, NULL, 0, 0, now() - interval '1 day'),
 ('103', 'g1', 'Cannot find the config', 'docs', 'asker4', true, true,
  'helper9', now(), 0, 0, now() - interval '1 day'),
 ('104', 'g1', 'Unanswered one', 'docs', 'asker5', true, false, NULL, NULL,
  0, 0, now() - interval '20 days'),
 ('200', 'g2', 'Other guild question', 'docs', 'asker6', false, true,
  'asker6', now(), 0, 0, now() - interval '40 days');
INSERT INTO messages (thread_id, message_id, author_id, content, first_message,
                      from_bot, abstained, processed, created_at) VALUES
 ('100', 'm1', 'asker1', 'Reloading nginx drops my websocket connections.', true, false, false, false, now() - interval '6 days'),
 ('100', 'm2', 'bot', 'Use a graceful reload: nginx -s reload keeps old workers until connections close.', false, true, false, true, now() - interval '6 days' + interval '1 minute'),
 ('100', 'm3', 'asker1', 'Thanks, worker_shutdown_timeout 30s fixed it for me.', false, false, false, false, now() - interval '5 days'),
 ('101', 'm4', 'asker2', 'The worker crashes with SIGSEGV on startup.', true, false, false, false, now() - interval '2 days'),
 ('101', 'm5', 'bot', 'Check the index_dir permissions.', false, true, false, true, now() - interval '2 days' + interval '1 minute'),
 ('102', 'm6', 'asker3', 'How do I renew the TLS certificate?', true, false, false, false, now() - interval '1 day'),
 ('102', 'm7', 'bot', 'I could not find this in the documentation.', false, true, true, true, now() - interval '1 day' + interval '1 minute'),
 ('103', 'm8', 'asker4', 'Where is the config file?', true, false, false, false, now() - interval '1 day'),
 ('103', 'm9', 'bot', 'It is /etc/ngx_rag/worker.conf.', false, true, false, true, now() - interval '1 day' + interval '2 minutes'),
 ('103', 'm10', 'helper9', 'Also check RAG_CONFIG in the unit file.', false, false, false, false, now() - interval '1 day' + interval '3 minutes'),
 ('104', 'm11', 'asker5', 'How do I renew certificates for TLS?', true, false, false, false, now() - interval '20 days'),
 ('200', 'm12', 'asker6', 'Other guild?', true, false, false, false, now() - interval '40 days'),
 ('200', 'm13', 'bot', 'Yes.', false, true, false, true, now() - interval '40 days' + interval '1 minute');
INSERT INTO feedback (thread_id, user_id, vote) VALUES ('102', 'x', 'up');
INSERT INTO gaps (thread_id, message_id, collection, question, reason)
VALUES ('102', 'm6', 'docs', 'How do I renew the TLS certificate?', 'abstain');
SQL

# --- export --------------------------------------------------------------------
my ($rc, $out, $err) = run('export', '--out', "$tmp/all.jsonl");
is($rc, 0, 'export ok') or diag $err;
like($err, qr/export: 4 threads/, 'four threads exported');
my @lines = split /\n/, RagTest::slurp("$tmp/all.jsonl");
is(scalar @lines, 4, 'one JSONL line per thread');
my %by = map { my $j = decode_json($_); ($j->{thread_id} => $j) } @lines;
is_deeply([sort keys %by], [qw(100 101 103 200)],
    'solved + net-upvoted threads with a bot answer; not the abstained one');
my $t = $by{100};
is($t->{url}, 'https://discord.com/channels/g1/100', 'link back');
is_deeply([map { $_->{role} } @{ $t->{messages} }],
    [qw(system user assistant user)], 'roles: system, user, assistant, user');
is($t->{messages}[2]{content},
    'Use a graceful reload: nginx -s reload keeps old workers until connections close.',
    'assistant turn is the bot answer');
my $all = RagTest::slurp("$tmp/all.jsonl");
unlike($all, qr/asker\d|helper9|"bot"/, 'no user ids anywhere');
($rc, $out) = run('export', '--guild', 'g2');
is(scalar(split /\n/, $out), 1, '--guild filters');
($rc, $out) = run('export', '--since', '2000-01-01', '--guild', 'g1');
is(scalar(split /\n/, $out), 3, '--since (old) keeps all of g1');
my $since = RagTest::psql($pg, "SELECT (now() - interval '3 days')::date");
$since =~ s/\s+//g;
($rc, $out) = run('export', '--since', $since);
is_deeply([sort map { decode_json($_)->{thread_id} } split /\n/, $out],
    [qw(101 103)], '--since drops older threads');

# --- community-sync --------------------------------------------------------------
($rc, $out, $err) = run('community-sync', '--guild', 'g1');
is($rc, 0, 'community-sync ok') or diag $err;
like($out, qr/community-sync: 2 solved threads/, 'two solved threads in g1');
ok(-s "$ixdir/community-g1.idx", 'index file written');
my $docs = RagTest::psql($pg, "SELECT d.url || '|' || d.title || '|' || d.source
    FROM documents d JOIN collections c ON c.id = d.collection_id
    WHERE c.name = 'community-g1' ORDER BY d.url");
is($docs, "https://discord.com/channels/g1/100|Nginx reload drops connections|community\n"
        . "https://discord.com/channels/g1/103|Cannot find the config|community",
    'one document per solved thread, linking back');
my $body = RagTest::psql($pg, "SELECT body FROM documents
    WHERE url = 'https://discord.com/channels/g1/103'");
like($body, qr/## Question\s+Where is the config file\?/, 'question');
like($body, qr/## Answer\s+It is \/etc\/ngx_rag\/worker\.conf\./, 'bot answer');
like($body, qr/## Notes from the solver\s+Also check RAG_CONFIG/, "solver's notes");
$body = RagTest::psql($pg, "SELECT body FROM documents
    WHERE url = 'https://discord.com/channels/g1/100'");
like($body, qr/worker_shutdown_timeout/, 'asker who solved it: notes kept');
my $chunks = RagTest::psql($pg, "SELECT count(*) FROM chunks ch JOIN documents d
    ON d.id = ch.document_id WHERE d.url LIKE 'https://discord.com/%'");
cmp_ok($chunks, '>=', 2, 'chunked');
is(RagTest::psql($pg, "SELECT index_generation FROM collections
    WHERE name = 'community-g1'"), 1, 'generation 1');

# searchable: the thread is found for a paraphrased question
RagTest::write_file("$tmp/c.tsv",
    "websocket connections dropped on nginx reload\thttps://discord.com/channels/g1/100\n");
($rc, $out) = run('eval', "$tmp/c.tsv", '--collection', 'community-g1');
like($out, qr/^c\s+bm25\s+1\s+1\.000/m, 'community thread retrieved first');

# incremental: unchanged threads keep their chunks; unsolved ones leave
my $ids = RagTest::psql($pg, "SELECT string_agg(ch.id::text, ',' ORDER BY ch.id)
    FROM chunks ch JOIN documents d ON d.id = ch.document_id
    WHERE d.url = 'https://discord.com/channels/g1/100'");
RagTest::psql($pg, "UPDATE threads SET solved = false WHERE thread_id = '103'");
($rc, $out) = run('community-sync');
is($rc, 0, 'sync of all guilds') or diag $out;
like($out, qr/community-sync: 2 solved threads/, 'g1 now 1 + g2 1');
is(RagTest::psql($pg, "SELECT count(*) FROM documents d JOIN collections c
    ON c.id = d.collection_id WHERE c.name = 'community-g1'"), 1,
    'unsolved thread pruned');
is(RagTest::psql($pg, "SELECT string_agg(ch.id::text, ',' ORDER BY ch.id)
    FROM chunks ch JOIN documents d ON d.id = ch.document_id
    WHERE d.url = 'https://discord.com/channels/g1/100'"), $ids,
    'unchanged thread kept its chunks');
is(RagTest::psql($pg, "SELECT index_generation FROM collections
    WHERE name = 'community-g1'"), 2, 'reindexed: generation 2');
ok(-s "$ixdir/community-g2.idx", 'g2 collection too');
($rc, $out, $err) = run('community-sync', '--guild', 'bad/guild');
is($rc, 1, 'bad guild id refused');

# the worker's job entry (same code, payload JSON)
($rc, $out, $err) = run('community-sync', '--job', q('{"guild":"g2"}'));
is($rc, 0, 'job entry') or diag $err;
is(RagTest::psql($pg, "SELECT index_generation FROM collections
    WHERE name = 'community-g2'"), 2, 'job re-synced g2');
($rc, $out, $err) = run('community-sync', '--job', q('{"guild":"a b"}'));
is($rc, 1, 'job with a bad guild fails');
like($err, qr/bad guild id in community payload/, 'says why');
($rc, $out, $err) = run('community-sync', '--job', q('[1]'));
is($rc, 1, 'job payload must be an object');

# with an embeddings endpoint the community index gets vectors too
{
    my $ai = FakeOpenAI->start(api_key => 'sk-c');
    local $ENV{RAG_EMBED_BASE_URL} = $ai->{url};
    local $ENV{RAG_EMBED_API_KEY} = 'sk-c';
    local $ENV{RAG_EMBED_MODEL} = 'text-embedding-3-small';
    ($rc, $out, $err) = run('community-sync', '--guild', 'g1');
    is($rc, 0, 'sync with embeddings') or diag $err;
    is(RagTest::psql($pg, "SELECT count(*) FILTER (WHERE ch.embedding IS NULL)
        || '/' || count(*) FROM chunks ch JOIN documents d ON d.id = ch.document_id
        JOIN collections c ON c.id = d.collection_id WHERE c.name = 'community-g1'"),
        '0/' . RagTest::psql($pg, "SELECT count(*) FROM chunks ch JOIN documents d
        ON d.id = ch.document_id JOIN collections c ON c.id = d.collection_id
        WHERE c.name = 'community-g1'"), 'every community chunk embedded');
    ($rc, $out) = run('eval', "$tmp/c.tsv", '--collection', 'community-g1');
    like($out, qr/^c\s+vector\s+1\s+1\.000/m, 'vector leg finds the thread');
    # endpoint down: logged, lexical index still rebuilt
    RagTest::psql($pg, "UPDATE chunks SET embedding = NULL");
    local $ENV{RAG_EMBED_BASE_URL} = 'http://127.0.0.1:9/v1';
    local $ENV{RAG_EMBED_MAX_RETRIES} = 0;
    ($rc, $out, $err) = run('community-sync', '--guild', 'g1');
    is($rc, 0, 'embeddings down: sync still succeeds') or diag $err;
    like($err, qr/community embeddings failed, lexical index/, 'logged');
}

# --- gaps ----------------------------------------------------------------------
($rc, $out, $err) = run('gaps', '--json', '--days', '7');
is($rc, 0, 'gaps --json') or diag $err;
my $g = decode_json($out);
# 102 abstained (its 'up' vote does not hide the gap), 104 open 20 days;
# both ask about renewing TLS certificates -> one cluster. 101 is open
# only 2 days and has a net positive vote: no gap.
is($g->{questions}, 2, 'two gap questions');
is(scalar @{ $g->{clusters} }, 1, 'one cluster');
is_deeply($g->{clusters}[0]{reasons}, { abstain => 1, unsolved => 1 }, 'reasons');
is_deeply([sort map { $_->{thread_id} } @{ $g->{clusters}[0]{examples} }],
    [qw(102 104)], 'examples');
($rc, $out) = run('gaps', '--json', '--days', '7', '--threshold', '0.99');
is(scalar @{ decode_json($out)->{clusters} }, 2, 'strict threshold splits them');
($rc, $out) = run('gaps', '--days', '30');
is($rc, 0, 'text report');
like($out, qr/gap report: 1 questions in 1 clusters/, 'days=30: only the abstain');
like($out, qr/\[abstain\] How do I renew the TLS certificate\?/, 'example listed');
($rc, $out) = run('gaps', '--guild', 'g2', '--json');
is(decode_json($out)->{questions}, 0, 'guild filter');

done_testing;
