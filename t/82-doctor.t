# rag-admin doctor: a healthy deployment passes every check (exit 0);
# then each thing that can be wrong is broken on its own and doctor must
# exit 1, name it and say how to fix it: database, migrations, index
# directory permissions (worker / nginx user, parents, files), index
# generations, /rag/health, the Discord token, intent, guild membership,
# forum type and permissions (overwrites as Discord computes them), the
# LLM and embeddings endpoints and the embedding size. Discord and the
# OpenAI API are the strict stand-ins.
use strict;
use warnings;
use Test::More;
use lib 't/lib';
use RagTest;
use WorkerTest;
use FakeDiscord;
use FakeOpenAI;

plan skip_all => 'needs root (chown to the worker and nginx users)'
    unless $> == 0;
my ($WUSER, $NUSER) = ('nobody', 'www-data');
plan skip_all => "users $WUSER and $NUSER needed"
    unless defined getpwnam($WUSER) && defined getpwnam($NUSER);

my $pg = RagTest::pg_start();
my $tmp = RagTest::tmpdir();
my $parent = "$tmp/var";
my $ix = "$parent/index";
mkdir $parent;
mkdir $ix;
chmod 0755, $parent;

# corpus with 64-dimension vectors (FakeOpenAI's default size)
WorkerTest::load_corpus($pg);
RagTest::psql($pg, "UPDATE chunks SET embedding = array_fill(0.1::real, ARRAY[64])");
WorkerTest::reindex($pg, $ix, 'acme');
my ($wuid) = (getpwnam($WUSER))[2];
my $ngid = getgrnam($NUSER);
sub perms_ok {
    chmod 0755, $parent;
    chown $wuid, $ngid, $ix, glob("$ix/*.idx");
    chmod 02750, $ix;
    chmod 0640, glob("$ix/*.idx");
}
perms_ok();

my $fd = FakeDiscord->start(dir => $tmp, token => 'bot-token');
my ($G, $F, $ROLE) = ('100000000000000001', '300000000000000001', '555');
my $NEEDED = (1 << 10) | (1 << 11) | (1 << 38) | (1 << 14) | (1 << 6)
    | (1 << 16) | (1 << 34);
sub discord_ok {
    $fd->app(flags => 1 << 19);
    $fd->guild(id => $G, name => 'Acme', owner_id => '42',
        roles => [ { id => $G, permissions => '0' },
                   { id => $ROLE, permissions => "$NEEDED" } ],
        members => { $fd->{bot_id} => [$ROLE] });
    $fd->channel(id => $F, guild_id => $G, type => 15, name => 'help',
        permission_overwrites => []);
}
discord_ok();
RagTest::psql($pg, "INSERT INTO guild_config (guild_id) VALUES ('$G');"
    . "INSERT INTO guild_forums VALUES ('$G', '$F', 'acme')");
RagTest::write_file("$tmp/bot.conf", "discord_token = bot-token\n"
    . "discord_api_base = " . $fd->api_base . "\n");

my $ai = FakeOpenAI->start(api_key => 'sk-doc');
my $ng = RagTest::nginx_start(pg => $pg,
    http => 'rag_database "%%DB%%";',
    server => 'location = /rag/health { rag_health; }
               location = /other { return 200 "hello"; }');

my %base = (RAG_DATABASE_URL => $pg->{conninfo}, RAG_INDEX_DIR => $ix,
    RAG_WORKER_USER => $WUSER, RAG_NGINX_USER => $NUSER,
    RAG_HEALTH_URL => "$ng->{url}/rag/health",
    RAG_LLM_BASE_URL => $ai->{url}, RAG_LLM_API_KEY => 'sk-doc',
    RAG_EMBED_BASE_URL => $ai->{url}, RAG_EMBED_API_KEY => 'sk-doc',
    RAG_LOG_LEVEL => 'error');

# doctor(env overrides (undef deletes), extra args) -> (exit, output)
sub doctor {
    my ($over, @args) = @_;
    my %env = (%base, %{ $over || {} });
    delete $env{$_} for grep { !defined $env{$_} } keys %env;
    my $envs = join ' ', map { "$_='$env{$_}'" } sort keys %env;
    my $out = `env -i PATH=/usr/bin:/bin $envs @{[RagTest::bin('rag-admin')]} doctor --bot-conf $tmp/bot.conf @args 2>&1`;
    return ($? >> 8, $out);
}
# expect_fail(name, regex of the FAIL line, regex of its fix, env, args)
sub expect_fail {
    my ($name, $what, $fix, $over, @args) = @_;
    my ($rc, $out) = doctor($over, @args);
    is($rc, 1, "$name: exit 1");
    like($out, qr/^FAIL .*$what/m, "$name: says what is wrong") or diag $out;
    like($out, qr/^FAIL .*$what.*\n\s+fix: .*$fix/m, "$name: says how to fix it")
        if defined $fix;
    return $out;
}

# --- everything fine ---------------------------------------------------------
my ($rc, $out) = doctor();
is($rc, 0, 'healthy deployment: exit 0') or diag $out;
unlike($out, qr/^FAIL/m, 'no check failed');
for my $c ('database', 'migrations', 'index dir', 'indexes', 'health',
           'discord', 'llm', 'embeddings') {
    like($out, qr/^ok +\Q$c\E /m, "check ran and passed: $c");
}
like($out, qr/forum $F \(#help\) in guild $G: all needed permissions/, 'forum checked');
like($out, qr/64 dimensions, as the indexes/, 'embedding size matches the index');
like($out, qr/doctor: \d+ checks, 0 failed/, 'summary');
my @seen = map { $_->{path} } $fd->rest(method => 'GET');
ok((grep { $_ eq '/api/v10/users/@me' } @seen), 'GET /users/@me used');

# --- database -------------------------------------------------------------------
$out = expect_fail('database down', 'database +cannot connect', 'database_url',
    { RAG_DATABASE_URL => "host=$tmp port=1 dbname=rag user=postgres" });
like($out, qr/^ok +health /m, 'the other checks still run');

# --- migrations -------------------------------------------------------------------
RagTest::psql($pg, "DELETE FROM schema_migrations WHERE version = '060_pkg_index_notify.sql'");
expect_fail('pending migration', 'migrations +1 pending.*060_pkg_index_notify',
    'rag-admin migrate');
RagTest::psql($pg, "INSERT INTO schema_migrations (version) VALUES "
    . "('060_pkg_index_notify.sql'), ('999_future.sql')");
expect_fail('unknown migration', 'migrations .*999_future\.sql.*older than the schema',
    'upgrade ngx-rag');
RagTest::psql($pg, "DELETE FROM schema_migrations WHERE version = '999_future.sql'");

# --- index directory permissions ------------------------------------------------
chown 0, $ngid, $ix;
expect_fail('worker cannot write', "worker's user $WUSER cannot write \Q$ix\E",
    "chown $WUSER \Q$ix\E");
perms_ok();
chown $wuid, (getgrnam('nogroup'))[2] // 0, $ix;
expect_fail('nginx cannot read the dir', "nginx's user $NUSER cannot read \Q$ix\E",
    "chgrp $NUSER \Q$ix\E && chmod g\\+rxs");
perms_ok();
chown 0, 0, "$ix/acme.idx";
chmod 0600, "$ix/acme.idx";
expect_fail('nginx cannot read a file', "cannot read \Q$ix\E/acme\\.idx",
    "chgrp $NUSER");
perms_ok();
chmod 0700, $parent;
expect_fail('parent not searchable', "$NUSER cannot enter \Q$parent\E",
    "chmod o\\+x \Q$parent\E");
perms_ok();
expect_fail('missing dir', "index dir +\Q$tmp\E/nope: No such file",
    'install -d', { RAG_INDEX_DIR => "$tmp/nope" });
expect_fail('unknown worker user', 'the worker\'s user no-such-user does not exist',
    'worker_user', {}, '--worker-user', 'no-such-user');

# --- index generations --------------------------------------------------------
RagTest::psql($pg, "UPDATE collections SET index_generation = index_generation + 1");
expect_fail('stale index', 'collection acme: .*acme\.idx has generation 1, Postgres records 2',
    'rag-reindex acme');
RagTest::psql($pg, "UPDATE collections SET index_generation = 1");
rename "$ix/acme.idx", "$tmp/acme.idx.bak";
expect_fail('missing index', 'collection acme: Postgres records generation 1 but .* does not exist',
    'rag-reindex acme');
rename "$tmp/acme.idx.bak", "$ix/acme.idx";
RagTest::psql($pg, "INSERT INTO collections (name) VALUES ('fresh');"
    . "INSERT INTO documents (collection_id, url) SELECT id, 'https://x/' "
    . "FROM collections WHERE name = 'fresh'");
expect_fail('never indexed', 'collection fresh has documents but was never indexed',
    'rag-reindex fresh');
RagTest::psql($pg, "DELETE FROM collections WHERE name = 'fresh'");

# --- /rag/health ----------------------------------------------------------------
expect_fail('no health_url', 'health +no health_url', 'health_url',
    { RAG_HEALTH_URL => undef });
expect_fail('nginx not answering', 'health +http://127.0.0.1:1/rag/health',
    'start nginx', { RAG_HEALTH_URL => 'http://127.0.0.1:1/rag/health' });
expect_fail('not the health location', "health .*answered HTTP 200 without ngx_rag's health JSON",
    'rag_health', { RAG_HEALTH_URL => "$ng->{url}/other" });
my $ng2 = RagTest::nginx_start(
    http => "rag_database \"host=$tmp port=1 dbname=rag user=postgres\"; rag_db_timeout 1s;",
    server => 'location = /rag/health { rag_health; }');
expect_fail('nginx cannot reach Postgres', 'health .*HTTP 503, status degraded, database down',
    'rag_database', { RAG_HEALTH_URL => "$ng2->{url}/rag/health" });

# --- Discord -----------------------------------------------------------------------
RagTest::write_file("$tmp/bad.conf", "discord_token = wrong\n"
    . "discord_api_base = " . $fd->api_base . "\n");
($rc, $out) = doctor(undef, '--bot-conf', "$tmp/bad.conf");
is($rc, 1, 'bad token: exit 1');
like($out, qr{^FAIL +discord +GET /users/\@me: the token is invalid \(HTTP 401\)\n\s+fix: .*Reset Token}m,
    'bad token: what and fix') or diag $out;
RagTest::write_file("$tmp/none.conf", "log_level = error\n");
expect_fail('forums mapped, no token', 'discord +1 forums are mapped but no Discord token',
    '--bot-conf', {}, '--bot-conf', "$tmp/none.conf");
$fd->app(flags => 0);
expect_fail('intent off', 'discord +the Message Content intent is not enabled',
    'Message Content Intent');
discord_ok();
$fd->guild(id => $G, name => 'Acme', owner_id => '42', roles => [],
    members => {});
$out = expect_fail('bot not in the guild', "discord +guild $G: the bot cannot see it \\(HTTP 403 Missing Access\\)",
    'oauth2/authorize\?client_id=' . $fd->{app_id} . '&scope=bot\+applications\.commands&permissions=' . $NEEDED);
discord_ok();
# @everyone overwrite denies Add Reactions: missing
$fd->channel(id => $F, guild_id => $G, type => 15, name => 'help',
    permission_overwrites => [ { id => $G, type => 0, allow => '0', deny => '64' } ]);
expect_fail('permission denied by overwrite', "forum $F \\(#help\\) in guild $G: the bot lacks Add Reactions",
    'Edit Channel #help > Permissions');
# ... a role overwrite allowing it wins over @everyone's deny
$fd->channel(id => $F, guild_id => $G, type => 15, name => 'help',
    permission_overwrites => [ { id => $G, type => 0, allow => '0', deny => '64' },
        { id => $ROLE, type => 0, allow => '64', deny => '0' } ]);
($rc, $out) = doctor();
is($rc, 0, 'role overwrite allowing it wins over the @everyone deny') or diag $out;
# ... and a member overwrite denying it wins over the role's allow
$fd->channel(id => $F, guild_id => $G, type => 15, name => 'help',
    permission_overwrites => [ { id => $ROLE, type => 0, allow => '64', deny => '0' },
        { id => $fd->{bot_id}, type => 1, allow => '0', deny => '274877906944' } ]);
expect_fail('member overwrite', 'the bot lacks Send Messages in Threads', 'Permissions');
# View Channel denied: Discord answers 403 for the channel itself
$fd->channel(id => $F, guild_id => $G, type => 15, name => 'help',
    permission_overwrites => [ { id => $G, type => 0, allow => '0', deny => '1024' },
        { id => $ROLE, type => 0, allow => '0', deny => '1024' } ]);
expect_fail('forum not visible', "forum $F in guild $G: not visible to the bot \\(HTTP 403",
    'View Channel');
$fd->channel(id => $F, guild_id => $G, type => 0, name => 'general',
    permission_overwrites => []);
expect_fail('not a forum', "channel $F is not a forum of guild $G \\(type 0",
    'forum-add');
discord_ok();
# Administrator passes everything whatever the overwrites say
$fd->guild(id => $G, name => 'Acme', owner_id => '42',
    roles => [ { id => $G, permissions => '0' }, { id => $ROLE, permissions => '8' } ],
    members => { $fd->{bot_id} => [$ROLE] });
$fd->channel(id => $F, guild_id => $G, type => 15, name => 'help',
    permission_overwrites => [ { id => $G, type => 0, allow => '0', deny => "$NEEDED" } ]);
($rc, $out) = doctor();
is($rc, 0, 'Administrator role: all permissions') or diag $out;
discord_ok();

# --- LLM and embeddings ---------------------------------------------------------
expect_fail('LLM key refused', 'llm .*HTTP 401', 'check llm_api_key_file',
    { RAG_LLM_API_KEY => 'sk-wrong' });
expect_fail('LLM unreachable', 'llm +http://127.0.0.1:1/v1', 'check the base URL',
    { RAG_LLM_BASE_URL => 'http://127.0.0.1:1/v1' });
expect_fail('embeddings key refused', 'embeddings .*HTTP 401', 'check embed_api_key_file',
    { RAG_EMBED_API_KEY => 'sk-wrong' });
expect_fail('embedding size differs', 'embeddings .*returns 32 dimensions but index acme holds 64',
    'embed_dimensions = 64', { RAG_EMBED_DIMENSIONS => 32 });
expect_fail('vectors without endpoint', 'embeddings +1 indexes hold vectors but embed_base_url is not set',
    'embed_base_url', { RAG_EMBED_BASE_URL => undef });
($rc, $out) = doctor({ RAG_LLM_BASE_URL => undef });
is($rc, 0, 'no LLM configured is fine (extractive answers)') or diag $out;
like($out, qr/^skip +llm /m, 'and reported as skipped');

($rc, $out) = doctor(undef, '--bogus');
is($rc, 2, 'bad usage: exit 2');
done_testing();
