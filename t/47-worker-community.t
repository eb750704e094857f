# Community answers close the loop: solving a thread enqueues a
# 'community' job (threads trigger, sql/007_community.sql), rag-worker
# syncs the guild's community-<guild> collection and index, and later
# questions in the guild retrieve those threads beside the docs: merged by
# rank, at most two community passages, marked as community answers,
# never citing the asking thread itself. Unsolving re-syncs and removes.
# With an LLM and embeddings: the community index gets vectors, the
# question is embedded once for both indexes, and the prompt names the
# community answer as such.
use strict;
use warnings;
use Test::More;
use JSON::PP;
use lib 't/lib';
use RagTest;
use FakeOpenAI;
use WorkerTest;

my $pg = RagTest::pg_start();
my $ixdir = RagTest::tmpdir();
my $J = JSON::PP->new;
WorkerTest::load_corpus($pg);
WorkerTest::reindex($pg, $ixdir, 'acme');
WorkerTest::guild($pg, helper_role => '777');

sub q1 { RagTest::psql($pg, $_[0]) }
sub community_jobs {
    return q1("SELECT string_agg(state, ',' ORDER BY id) FROM jobs "
        . "WHERE kind = 'community'");
}
sub community_docs {
    return q1("SELECT string_agg(d.url, ' ' ORDER BY d.url) FROM documents d "
        . "JOIN collections c ON c.id = d.collection_id "
        . "WHERE c.name = 'community-g1' AND d.url ~ '/s[0-9]+\$'");
}
sub sources {
    my ($r) = @_;
    return $J->decode($r && $r->{sources} ? $r->{sources} : '[]');
}
sub tlink { "https://discord.com/channels/g1/$_[0]" }

# --- solving enqueues one low-priority job per guild while it waits ------
WorkerTest::solved_thread($pg, 's1', 'acmed exits with error E42',
    'acmed exits with error E42 right after start. What does E42 mean?',
    'Error E42 means the snapshot volume is full. Free space with '
    . '`acmectl snapshot prune --keep 3` and start acmed again.',
    'acmectl snapshot prune --keep 3 fixed the E42 exit for me.');
is(q1("SELECT kind || ' ' || priority || ' ' || payload::text FROM jobs "
    . "WHERE dedupe_key LIKE 'community:g1:s1:%'"),
    'community 150 {"guild": "g1"}', 'solve enqueued a community job');
WorkerTest::solved_thread($pg, 's2', 'E42 error when the disk is full',
    'The daemon stops with error E42 every night. Disk full?',
    'Error E42 is raised when the snapshot volume has no space left; prune '
    . 'old snapshots.',
    'Pruning snapshots solved the E42 error.');
WorkerTest::solved_thread($pg, 's3', 'Error E42 after upgrade',
    'Since the upgrade acmed exits with error E42.',
    'Error E42: the snapshot volume is full after the upgrade copied data.',
    'Deleting old E42 snapshots worked.');
# other solved threads of the guild, on other topics (a realistic
# collection: "E42" is then a rare, telling term)
my @other = (
    ['Change the port', 'How do I move acmed off port 7070?',
     'Set listen_port in acme.conf.', 'listen_port = 8080 worked.'],
    ['Verbose logs', 'Where are the debug logs?',
     'Set log_level = debug; logs go to the journal.', 'journalctl -u acmed.'],
    ['Build from source', 'configure fails on Alpine.',
     'Install a C compiler and make first.', 'apk add build-base fixed it.'],
    ['Backups to S3', 'Can snapshots be copied to S3?',
     'Copy /var/lib/acme/snap with any S3 tool.', 'rclone works fine.'],
);
WorkerTest::solved_thread($pg, 'o' . $_, @{ $other[$_] }) for 0 .. $#other;
is(community_jobs(), 'queued', 'later solves ride on the queued job');
# a question asked before any community index exists
my $m0 = WorkerTest::ask($pg, 'q0', 'Error E42',
    'acmed exits with error E42, what does E42 mean?');

my ($pid, $log) = WorkerTest::worker($pg, index_dir => $ixdir,
    concurrency => 1, answer_top_k => 8, answer_extract_passages => 8);
ok(RagTest::wait_for(sub { community_jobs() eq 'done' }, 20),
    'community job done') or diag(RagTest::slurp($log));
ok(-s "$ixdir/community-g1.idx", 'community-g1.idx written');
is(community_docs(), join(' ', map { tlink($_) } qw(s1 s2 s3)),
    'one document per solved thread, linking back');
is(q1("SELECT count(*) FROM documents d JOIN collections c "
    . "ON c.id = d.collection_id WHERE c.name = 'community-g1' "
    . "AND d.source = 'community'"), 3 + @other, 'the other topics too');

# the answer job (priority 100) ran before the community job (150)
my $r0 = WorkerTest::reply_row($pg, 'q0', $m0);
ok($r0, 'question answered while the community index was missing');
unlike($r0->{sources} // '', qr/discord\.com/, 'no community source then');
unlike(RagTest::slurp($log), qr/no index for collection.*community/,
    'a missing community index is not an error');

# --- a new question in the guild cites the community threads -------------
my $m1 = WorkerTest::ask($pg, 'q1', 'acmed exits with E42',
    'acmed exits with error E42 after start. What does error E42 mean?');
ok(RagTest::wait_for(sub { WorkerTest::reply_row($pg, 'q1', $m1) }, 15),
    'answered') or diag(RagTest::slurp($log));
my $r1 = WorkerTest::reply_row($pg, 'q1', $m1);
is($r1->{abstained}, 'f', 'not an abstain');
my @src = @{ sources($r1) };
my @comm = grep { ($_->{kind} // '') eq 'community' } @src;
ok(@comm >= 1 && @comm <= 2, 'one or two community sources (' . scalar(@comm)
    . ' of 3 matching threads)') or diag $r1->{sources};
ok(!(grep { $_->{url} !~ m{^https://discord\.com/channels/g1/s[123]$} } @comm),
    'community sources link back to their threads');
ok(!(grep { $_->{title} !~ /^Community answer: / } @comm),
    'titled "Community answer: ..."');
ok(!(grep { $_->{url} =~ /discord/ && ($_->{kind} // '') ne 'community' } @src),
    'every thread link is marked community');
like($r1->{content}, qr{\Qhttps://discord.com/channels/g1/s\E[123]},
    'the reply quotes a community answer with its link');
like($r1->{content}, qr/snapshot/i, 'and its content');
like($r1->{content}, qr/^Here is what the Acme Widget docs and solved community threads say:/,
    'the extractive reply says where the quotes come from');
unlike($r0->{content}, qr/community/, 'docs-only replies unchanged');
like(RagTest::slurp($log), qr/thread=q1 .*community=2 /,
    'two community passages retrieved (capped at 2 of 3)');

# --- unsolve + a follow-up in the same thread: never cites itself --------
# one transaction: the follow-up's answer job (priority 100) runs before
# the re-sync (150) on this one-slot worker, so s1 is still indexed
q1("UPDATE threads SET solved = false, open = true WHERE thread_id = 's1';"
    . "INSERT INTO messages (thread_id, message_id, author_id, content, "
    . "mentions_bot) VALUES ('s1', 's1-f', 'a-s1', 'It exits with error "
    . "E42 again, what does E42 mean?', true)");
ok(RagTest::wait_for(sub { WorkerTest::reply_row($pg, 's1', 's1-f') }, 15),
    'follow-up in s1 answered') or diag(RagTest::slurp($log));
my $rs = WorkerTest::reply_row($pg, 's1', 's1-f');
my @ssrc = @{ sources($rs) };
ok(!(grep { $_->{url} eq tlink('s1') } @ssrc), 'does not cite its own thread')
    or diag $rs->{sources};
ok((grep { $_->{url} eq tlink('s2') || $_->{url} eq tlink('s3') } @ssrc),
    'cites the other solved threads') or diag $rs->{sources};

# --- ... and the unsolve re-synced the collection without s1 -------------
ok(RagTest::wait_for(sub { community_jobs() eq 'done,done' }, 20),
    'unsolve enqueued a second community job, done')
    or diag(community_jobs(), RagTest::slurp($log));
is(community_docs(), join(' ', map { tlink($_) } qw(s2 s3)), 's1 removed');
is(q1("SELECT index_generation FROM collections WHERE name = 'community-g1'"),
    2, 'community index rebuilt');
my $m2 = WorkerTest::ask($pg, 'q2', 'E42 again',
    'acmed exits with error E42, what does E42 mean?');
ok(RagTest::wait_for(sub { WorkerTest::reply_row($pg, 'q2', $m2) }, 15),
    'answered');
my @src2 = @{ sources(WorkerTest::reply_row($pg, 'q2', $m2)) };
ok(!(grep { $_->{url} eq tlink('s1') } @src2), 'unsolved thread no longer cited');
ok((grep { ($_->{kind} // '') eq 'community' } @src2), 'others still are');

# --- re-solving is a new event (new dedupe key), replay is not -----------
q1("UPDATE threads SET solved = true, open = false WHERE thread_id = 's1'");
ok(RagTest::wait_for(sub { community_jobs() eq 'done,done,done' }, 20),
    're-solve synced again');
is(community_docs(), join(' ', map { tlink($_) } qw(s1 s2 s3)), 's1 is back');
is(q1("SELECT count(DISTINCT dedupe_key) FROM jobs WHERE kind = 'community' "
    . "AND dedupe_key LIKE 'community:g1:s1:%'"), 3, 'one key per event');
q1("UPDATE threads SET title = title WHERE thread_id = 's2';"
    . "UPDATE threads SET solved_votes = solved_votes + 1 WHERE thread_id = 's2'");
is(q1("SELECT count(*) FROM jobs WHERE kind = 'community' AND state <> 'done'"),
    0, 'unrelated thread updates enqueue nothing');

# --- a bad payload is dead at once, with the reason ----------------------
q1(q{SELECT rag_enqueue('community', '{"guild":"a b"}', 'community:bad')});
ok(RagTest::wait_for(sub { q1("SELECT state || ' ' || attempts FROM jobs "
    . "WHERE dedupe_key = 'community:bad'") eq 'dead 1' }, 15),
    'bad guild id: dead after one attempt');
like(q1("SELECT last_error FROM jobs WHERE dedupe_key = 'community:bad'"),
    qr/bad guild id/, 'says why');
is(RagTest::stop($pid, 'TERM', 10), 0, 'clean exit');

# --- with an LLM and embeddings ------------------------------------------
for my $row (split /\n/, q1("SELECT c.id || E'\\t' || c.body FROM chunks c "
        . "JOIN documents d ON d.id = c.document_id JOIN collections k "
        . "ON k.id = d.collection_id WHERE k.name = 'acme'")) {
    my ($id, $body) = split /\t/, $row, 2;
    my $v = join(',', @{ FakeOpenAI::embed_text($body, 64) });
    q1("UPDATE chunks SET embedding = '{$v}', embed_model = 'fake-embed' "
        . "WHERE id = $id");
}
like(WorkerTest::reindex($pg, $ixdir, 'acme'), qr/5 chunks/,
    'docs indexed with vectors');
my $ai = FakeOpenAI->start(api_key => 'sk-t');
($pid, $log) = WorkerTest::worker($pg, index_dir => $ixdir, concurrency => 1,
    llm_base_url => $ai->{url}, llm_api_key => 'sk-t', llm_model => 'm',
    embed_base_url => $ai->{url}, embed_api_key => 'sk-t',
    embed_model => 'fake-embed', embed_dimensions => 64,
    embed_max_retries => 0);
q1(q{SELECT rag_enqueue('community', '{"guild":"g1"}', 'community:manual')});
ok(RagTest::wait_for(sub { q1("SELECT state FROM jobs WHERE dedupe_key = "
    . "'community:manual'") eq 'done' }, 20), 'manual re-sync done')
    or diag(RagTest::slurp($log));
is(q1("SELECT count(*) FROM chunks c JOIN documents d ON d.id = c.document_id "
    . "JOIN collections k ON k.id = d.collection_id WHERE k.name = "
    . "'community-g1' AND c.embedding IS NULL"), 0,
    'community chunks embedded by the job');
$ai->clear_log;
my $m3 = WorkerTest::ask($pg, 'q3', 'E42 exit',
    'acmed exits with error E42 after start. What does error E42 mean?');
ok(RagTest::wait_for(sub { WorkerTest::reply_row($pg, 'q3', $m3) }, 15),
    'answered by the LLM') or diag(RagTest::slurp($log));
is(scalar(my @e = $ai->requests('/v1/embeddings')), 1,
    'question embedded once for both indexes');
my @chat = $ai->requests('/v1/chat/completions');
is(scalar @chat, 1, 'one chat call');
my $sys = @chat ? $chat[0]{body}{messages}[0]{content} : '';
like($sys, qr/^\[\d\] Community answer: .*\(https:\/\/discord\.com\/channels\/g1\/s[123]\)$/m,
    'the prompt names the community answer and its thread');
like($sys, qr/Passages titled "Community answer:" come from solved threads/,
    'the prompt tells the model what community passages are');
my @src3 = @{ sources(WorkerTest::reply_row($pg, 'q3', $m3)) };
my @c3 = grep { ($_->{kind} // '') eq 'community' } @src3;
ok(@c3 >= 1 && @c3 <= 2, scalar(@c3) . ' community sources (cited)');
ok((grep { $_->{cosine} > 0 } @c3), 'community passages scored by vectors too');
like(RagTest::slurp($log), qr/thread=q3 .*community=2 /, 'two community passages');
is(RagTest::stop($pid, 'TERM', 10), 0, 'clean exit');
done_testing();
