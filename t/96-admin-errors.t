# rag-admin with bad arguments and broken surroundings (issue 12, coverage
# of what users reach): forum-add maps a forum (and refuses a collection
# that does not exist, leaving nothing behind); every subcommand given
# bad arguments exits 2 with its usage; a missing migrations directory,
# an unwritable --out, a broken -c file and a database that does not
# answer exit 1 with the reason; eval refuses a bad collection name.
use strict;
use warnings;
use Test::More;
use lib 't/lib';
use RagTest;

my $pg = RagTest::pg_start();
my $dir = RagTest::tmpdir();

sub admin {
    my ($env, @args) = @_;
    local %ENV = (%ENV, RAG_DATABASE_URL => $pg->{conninfo}, %$env);
    my $cmd = join ' ', map { "'$_'" } RagTest::bin('rag-admin'), @args;
    my $out = `$cmd 2>&1`;
    return ($? >> 8, $out);
}

# --- forum-add ----------------------------------------------------------------
my ($rc, $out) = admin({}, 'collection-add', 'acme', 'Acme Widget');
is($rc, 0, 'collection-add: exit 0') or diag $out;
($rc, $out) = admin({}, 'forum-add', '111', '222', 'acme');
is($rc, 0, 'forum-add: exit 0') or diag $out;
like($out, qr/^forum 222 in guild 111 answers from acme$/m, 'forum-add says what it did');
is(RagTest::psql($pg, "SELECT guild_id || ' ' || forum_channel_id || ' ' || collection
    FROM guild_forums"), '111 222 acme', 'the forum is mapped');
is(RagTest::psql($pg, "SELECT count(*) FROM guild_config WHERE guild_id = '111'"), 1,
    'and the guild has a config row');
($rc, $out) = admin({}, 'forum-add', '333', '444', 'nosuch');
is($rc, 1, 'forum-add with a collection that does not exist: exit 1');
like($out, qr/guild_forums|foreign key|nosuch/, 'with the database\'s reason');
is(RagTest::psql($pg, "SELECT count(*) FROM guild_config WHERE guild_id = '333'"), 0,
    'and nothing is left behind (one transaction)');
($rc, $out) = admin({}, 'forum-add', '111', '222');
is($rc, 2, 'forum-add with two arguments: exit 2');

# --- bad arguments: exit 2 ----------------------------------------------------
for my $bad (
    [[], 'no command'],
    [['frobnicate'], 'an unknown command'],
    [['collection-add'], 'collection-add without a name'],
    [['collection-add', 'a', 'b', 'c'], 'collection-add with three names'],
    [['collection-add', 'a', '--colour', 'red'], 'collection-add with an unknown option'],
    [['collection-add', 'a', '--language', 'klingon'], 'collection-add with an unknown language'],
    [['export', '--bogus'], 'export with an unknown option'],
    [['gaps', '--bogus'], 'gaps with an unknown option'],
    [['config', 'rag-worker', 'extra'], 'config with two programs'],
    [['config', 'rag-nothing'], 'config of an unknown program'],
    [['config', '--check'], 'config --check without a program'],
    [['eval'], 'eval without a set'],
    [['eval', '--k'], 'eval --k without a value'],
) {
    ($rc, $out) = admin({}, @{ $bad->[0] });
    is($rc, 2, "$bad->[1]: exit 2") or diag $out;
}
($rc, $out) = admin({}, 'collection-add', 'a', '--language', 'klingon');
like($out, qr/unknown language "klingon" \(default, or one of: .*german/,
    'an unknown language lists the ones there are');
is(RagTest::psql($pg, "SELECT count(*) FROM collections WHERE name = 'a'"), 0,
    'and creates nothing');
($rc, $out) = admin({}, 'config', 'rag-nothing');
like($out, qr/rag-admin: config: no program rag-nothing/, 'config names the unknown program');
($rc, $out) = admin({}, '--help');
is($rc, 0, '--help: exit 0');
like($out, qr/forum-add GUILD FORUM COLL/, '--help lists the commands');

# --- eval with files that are not there ------------------------------------------
($rc, $out) = admin({}, 'eval', "$dir/no-set.txt", '--collection', 'acme');
is($rc, 1, 'eval with a missing question set: exit 1');
like($out, qr/rag-admin eval: \Q$dir\E\/no-set\.txt: No such file/, 'and names it');

# --- broken surroundings: exit 1 with the reason --------------------------------
($rc, $out) = admin({}, 'migrate', '--dir', "$dir/no-sql");
is($rc, 1, 'migrate --dir that does not exist: exit 1');
like($out, qr/^rag-admin: migrate: .*no-sql/m, 'and names it');
($rc, $out) = admin({}, 'export', '--out', "$dir/no/such/dir/out.jsonl");
is($rc, 1, 'export to a directory that does not exist: exit 1');
like($out, qr/rag-admin export: \Q$dir\E\/no\/such\/dir\/out\.jsonl: No such file/, 'and says why');
RagTest::write_file("$dir/bad.conf", "database_url = $pg->{conninfo}\nllm_max_tokens = lots\n");
($rc, $out) = admin({}, '-c', "$dir/bad.conf", 'gaps');
is($rc, 1, 'a -c file with a bad value: exit 1');
like($out, qr/^rag-admin: .*llm_max_tokens/m, 'naming the key');
($rc, $out) = admin({}, '-c', "$dir/none.conf", 'gaps');
is($rc, 1, 'a -c file that does not exist: exit 1');
RagTest::write_file("$dir/bad-worker.conf", "log_level = chatty\n");
($rc, $out) = admin({}, '-c', "$dir/bad-worker.conf", 'config', '--check', 'rag-worker');
is($rc, 1, 'config --check of a bad file: exit 1');
like($out, qr/^rag-admin: config: .*log_level = "chatty"/m, 'naming the key and value');
RagTest::write_file("$dir/good.conf", "log_level = debug\n");
($rc, $out) = admin({}, '-c', "$dir/good.conf", 'config', '--check', 'rag-worker');
is($rc, 0, 'config --check of a good file: exit 0') or diag $out;
like($out, qr/config: \Q$dir\E\/good\.conf suits rag-worker/, 'and says so');
my $nodb = "host=$dir port=1 dbname=rag connect_timeout=2";
for my $cmd (['gaps'], ['export'], ['migrate'], ['forum-add', '1', '2', 'acme']) {
    ($rc, $out) = admin({ RAG_DATABASE_URL => $nodb }, @$cmd);
    is($rc, 1, "$cmd->[0] without a database: exit 1");
    like($out, qr/^rag-admin: database: /m, "$cmd->[0] says it is the database");
}

done_testing();
