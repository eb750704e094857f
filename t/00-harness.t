# The harness itself: a throwaway cluster comes up with the schema, and
# migrations are idempotent.
use strict;
use warnings;
use Test::More;
use lib 't/lib';
use RagTest;

my $pg = RagTest::pg_start();
my @files = glob("$RagTest::ROOT/sql/[0-9]*.sql");
ok(@files >= 1, 'migrations exist');
is(RagTest::psql($pg, "SELECT count(*) FROM schema_migrations"), scalar(@files),
    'every migration file recorded once');
is(RagTest::psql($pg, "SELECT string_agg(version, ' ' ORDER BY version) FROM schema_migrations"),
    join(' ', map { m{([^/]+)$} } sort @files), 'applied in file order');
local $ENV{RAG_DATABASE_URL} = $pg->{conninfo};
my $out = `@{[RagTest::bin('rag-admin')]} migrate 2>&1`;
is($?, 0, 'second migrate succeeds');
like($out, qr/0 applied/, 'second migrate applies nothing');

# The SQL enqueue path: a first message in an open thread makes one job,
# and the same message inserted again (conflict) makes no second one.
RagTest::psql($pg, q{
    INSERT INTO collections (name) VALUES ('docs');
    INSERT INTO threads (thread_id, title, collection, author_id)
        VALUES ('t1', 'How?', 'docs', 'u1');
    INSERT INTO messages (thread_id, message_id, author_id, content,
        first_message) VALUES ('t1', 'm1', 'u1', 'How do I?', true);
    INSERT INTO messages (thread_id, message_id, author_id, content)
        VALUES ('t1', 'm2', 'u1', 'just chatting');
});
is(RagTest::psql($pg, "SELECT count(*) FROM jobs WHERE kind='answer'"), '1',
    'first message enqueued, plain follow-up not');
is(RagTest::psql($pg,
    "SELECT rag_enqueue('answer', '{}', rag_answer_dedupe_key('t1','m1'))"),
    RagTest::psql($pg, "SELECT id FROM jobs"), 'same dedupe key, same job');
is(RagTest::psql($pg, "SELECT count(*) FROM jobs"), '1', 'still one job');
done_testing();
