# Slash commands over the gateway: /search (Postgres full text without an
# index, then the collection's index file once rag-reindex wrote one),
# /collections, /commands, /ask in a thread (queues an answer), the
# wrong-channel error path (the original crashed there), /solve and
# /unsolve by the author, /open.
use strict;
use warnings;
use utf8;
use Test::More;
use Time::HiRes qw(time sleep);
use lib 't/lib';
use RagTest;
use FakeDiscord;
binmode(Test::More->builder->$_, ':encoding(UTF-8)')
    for qw(output failure_output todo_output);

my $G = '100000000000000001';
my $F = '200000000000000001';
my $T = '300000000000000001';
my $U = '400000000000000001';
my $pg = RagTest::pg_start();
RagTest::psql($pg, qq{
    INSERT INTO collections (name, description) VALUES ('docs', 'The manual');
    INSERT INTO guild_config (guild_id) VALUES ('$G');
    INSERT INTO guild_forums VALUES ('$G', '$F', 'docs');
    INSERT INTO documents (collection_id, url, title, body)
        VALUES (1, 'https://docs.example.com/install', 'Install', 'x');
    INSERT INTO chunks (document_id, ordinal, heading_path, anchor, body) VALUES
        (1, 0, 'Install > Debian', 'debian', 'Install the package with apt on Debian systems.'),
        (1, 1, 'Install > Source', 'source', 'Build from source with make and a compiler.');
    INSERT INTO threads (thread_id, guild_id, forum_channel_id, title, collection, author_id,
        thread_controller_id) VALUES ('$T', '$G', '$F', 'q', 'docs', '$U', '310000000000000001');
});
my $dir = RagTest::tmpdir();
my $fd = FakeDiscord->start(dir => $dir, guild_id => $G);
$fd->channel(id => $T, guild_id => $G, parent_id => $F, name => 'q', owner_id => $U);
my $log = "$dir/bot.log";
my $pid = RagTest::spawn([RagTest::bin('rag-bot')],
    env => $fd->bot_env($pg, RAG_INDEX_DIR => "$dir/index"), log => $log);
ok(RagTest::wait_for(sub { $fd->state->{connected} }, 20), 'connected');

my $n = 0;
sub cmd {
    my ($name, $opts, %o) = @_;
    my $iid = 700000000000000000 + ++$n;
    $fd->dispatch(INTERACTION_CREATE => { id => "$iid", token => "tok$iid", type => 2,
        application_id => $fd->{app_id}, guild_id => $G, channel_id => $o{channel} // $T,
        member => { user => { id => $o{user} // $U }, roles => [] },
        data => { name => $name, options => $opts || [] } });
    my $c;
    RagTest::wait_for(sub { ($c) = $fd->rest(method => 'POST',
        path => qr{/interactions/$iid/tok$iid/callback$}); $c }, 10);
    return $c ? $c->{body}{data} : {};
}

my $d = cmd('search', [ { name => 'query', value => 'install debian apt' } ]);
is($d->{embeds}[0]{title}, 'Search Results', '/search answered (full text)');
like($d->{embeds}[0]{description},
    qr{\*\*1\.\*\* \[Install › Install > Debian\]\(<https://docs\.example\.com/install#debian>\) · \d+%},
    'ranked link with anchor and a percentage');
unlike($d->{embeds}[0]{description}, qr/%0\./, 'no "%0.53" scores');

$d = cmd('search', [ { name => 'query', value => 'x' }, { name => 'collection', value => '../etc' } ]);
like($d->{embeds}[0]{description}, qr/No results/, 'odd collection names are just not found');

$d = cmd('collections');
like($d->{embeds}[0]{description}, qr/\*\*docs\*\* The manual/, '/collections');
$d = cmd('commands');
like($d->{embeds}[0]{description}, qr{/info.*/commands}s, '/commands lists /info too');
unlike($d->{embeds}[0]{description}, qr{/update}, 'no /update');

# /status links point at the configured Discord, not a hard-coded one:
# by default the web origin of discord_api_base (here the stand-in)
my $web = $fd->url;
$d = cmd('status');
like($d->{embeds}[0]{description}, qr{\*\*Link:\*\* \Q$web\E/channels/$G/$T\n},
    '/status thread link uses the configured base');
like($d->{embeds}[0]{description},
    qr{\*\*Controller:\*\* \Q$web\E/channels/$G/$T/310000000000000001\n},
    'and so does the controller link');
unlike($d->{embeds}[0]{description}, qr{discord\.com}, 'no hard-coded discord.com');

# wrong channel: a clear error embed, not a crash
$d = cmd('status', [], channel => '999999999999999999');
like($d->{embeds}[0]{description}, qr/only works inside a help forum thread/, 'wrong-channel error');
is($d->{flags}, 64, 'ephemeral');

# /ask inside the thread stores a question that the trigger turns into a job
$d = cmd('ask', [ { name => 'question', value => 'How do I build it?' } ]);
like($d->{embeds}[0]{description}, qr/answer will be posted/, '/ask acknowledged');
is(RagTest::psql($pg, "SELECT count(*) FROM jobs j JOIN messages m ON
    j.payload->>'message_id' = m.message_id WHERE m.content = 'How do I build it?'
    AND m.mentions_bot"), '1', '/ask enqueued an answer');

# author solves / unsolves; a second /solve changes nothing
$d = cmd('solve');
like($d->{embeds}[0]{description}, qr/marked as solved/, '/solve');
is(RagTest::psql($pg, "SELECT solved || '|' || open FROM threads"), 'true|true', 'solved, still open');
$d = cmd('solve');
like($d->{embeds}[0]{description}, qr/already/, 'idempotent /solve says so');
$d = cmd('unsolve');
is(RagTest::psql($pg, "SELECT solved FROM threads"), 'f', '/unsolve');
$d = cmd('close');
is(RagTest::psql($pg, "SELECT open FROM threads"), 'f', '/close by the author');
$d = cmd('open');
is(RagTest::psql($pg, "SELECT open FROM threads"), 't', '/open');
# the thread's archive state follows as a delivery, after the answer
ok(RagTest::wait_for(sub { grep { $_->{body} && exists $_->{body}{archived} && !$_->{body}{archived} }
    $fd->rest(method => 'PATCH', path => qr{^/api/v10/channels/$T$}) }, 5), 'unarchived on /open');

# configuration edits apply without a restart: a forum added now is
# served, a user banned now is ignored
my ($F2, $T2) = ('200000000000000002', '300000000000000002');
RagTest::psql($pg, "INSERT INTO guild_forums VALUES ('$G', '$F2', 'docs')");
$fd->channel(id => $T2, guild_id => $G, parent_id => $F2, name => 'new forum post',
    owner_id => $U);
$fd->dispatch(THREAD_CREATE => { id => $T2, guild_id => $G, parent_id => $F2,
    name => 'new forum post', owner_id => $U, type => 11 });
$fd->dispatch(MESSAGE_CREATE => { id => $T2, channel_id => $T2, guild_id => $G,
    author => { id => $U }, content => 'hello', mentions => [] });
ok(RagTest::wait_for(sub { RagTest::psql($pg, "SELECT count(*) FROM messages
    WHERE thread_id = '$T2'") eq '1' }, 5), 'forum added at runtime is served');
RagTest::psql($pg, "UPDATE guild_config SET banned_user_ids = ARRAY['$U']");
$fd->dispatch(MESSAGE_CREATE => { id => '330000000000000001', channel_id => $T2,
    guild_id => $G, author => { id => $U }, content => 'more', mentions => [] });
ok(RagTest::wait_for(sub { RagTest::psql($pg, "SELECT count(*) FROM ban_notices") eq '1' }, 5),
    'ban added at runtime applies');
is(RagTest::psql($pg, "SELECT count(*) FROM messages WHERE message_id = '330000000000000001'"),
    '0', 'banned message ignored');

# a guild configured while the bot runs gets its commands on GUILD_CREATE
my $G2 = '100000000000000002';
RagTest::psql($pg, "INSERT INTO guild_config (guild_id) VALUES ('$G2')");
$fd->dispatch(GUILD_CREATE => { id => $G2, name => 'Second', threads => [], channels => [] });
$fd->dispatch(GUILD_CREATE => { id => $G2, name => 'Second', threads => [], channels => [] });
ok(RagTest::wait_for(sub { scalar $fd->rest(method => 'PUT',
    path => qr{/applications/\d+/guilds/$G2/commands$}) }, 5), 'commands registered for the new guild');
sleep 0.5;
is(scalar $fd->rest(method => 'PUT', path => qr{/guilds/$G2/commands$}), 1, 'once');
is(scalar $fd->rest(method => 'PUT', path => qr{/guilds/$G/commands$}), 1,
    'the first guild was not registered again');

# with an index file the search runs over it
{
    mkdir "$dir/index";
    my $out = `RAG_DATABASE_URL='$pg->{conninfo}' @{[RagTest::bin('rag-reindex')]} --dir $dir/index docs 2>&1`;
    # a failed build is a failure, not a skip (issue 15.7)
    ok($? == 0 && -f "$dir/index/docs.idx", 'rag-reindex built the index') or diag($out);
    RagTest::psql($pg, "DELETE FROM chunks");   # only the index knows them now
    $d = cmd('search', [ { name => 'query', value => 'compiler make source' } ]);
    like($d->{embeds}[0]{description}, qr{\*\*1\.\*\* \[Install › Install > Source\]\(<https://docs\.example\.com/install},
        '/search over the index file');
    like($d->{embeds}[0]{description}, qr/· \d+%/, 'with a percentage');
}
# --- registration: once per READY, only when the command set changed ----------
my $env = $fd->bot_env($pg, RAG_INDEX_DIR => "$dir/index");
my @puts_before = $fd->rest(method => 'PUT', path => qr{/commands$});
is(RagTest::stop($pid, 'TERM'), 0, 'bot stopped');
my $t_restart = time;
$pid = RagTest::spawn([RagTest::bin('rag-bot')], env => $env, log => $log);
ok(RagTest::wait_for(sub { $fd->state->{connected} && RagTest::slurp($log) =~
    /catch-up done.*\n(?:.*\n)*.*catch-up done/ }, 20), 'restarted');
sleep 2;
is(scalar $fd->rest(method => 'PUT', path => qr{/commands$}), scalar(@puts_before),
    'the same command set is not registered again after a restart');

# Discord refuses: its reasons are logged, and the bot backs off instead
# of asking again on every poll (it used to: 44 PUTs in 101 s)
is(RagTest::stop($pid, 'TERM'), 0, 'bot stopped again');
eval { RagTest::psql($pg, "DELETE FROM command_registrations") };  # force a new PUT
$fd->fault(rest => { method => 'PUT', path => 'commands$', status => 400, count => 1000,
    body => { code => 50035, message => 'Invalid Form Body',
        errors => { _errors => [ { code => 'APPLICATION_COMMAND_TOO_LARGE',
            message => 'Command exceeds maximum size (8000)' } ] } } });
my $t_refused = time;
$pid = RagTest::spawn([RagTest::bin('rag-bot')], env => $env, log => $log);
ok(RagTest::wait_for(sub { grep { $_->{t} > $t_refused && $_->{status} == 400 }
    $fd->rest(method => 'PUT', path => qr{/commands$}) }, 20), 'registration refused');
sleep 4;
my @refused = grep { $_->{t} > $t_refused } $fd->rest(method => 'PUT', path => qr{/commands$});
ok(@refused >= 1 && @refused <= 4, 'backed off: ' . scalar(@refused) . ' PUTs in about 4 s');
like(RagTest::slurp($log), qr/APPLICATION_COMMAND_TOO_LARGE.*Command exceeds maximum size/,
    "Discord's JSON error body is in the log");
like(RagTest::slurp($log), qr/command registration failed.*retry_in_s=\d+/,
    'with when it will be tried again');
$fd->fault(clear_faults => 1);
ok(RagTest::wait_for(sub { grep { $_->{t} > $t_refused && $_->{status} == 200 }
    $fd->rest(method => 'PUT', path => qr{/guilds/$G/commands$}) }, 30),
    'registered once Discord accepts it') or diag(RagTest::slurp($log));
is(RagTest::psql($pg, "SELECT count(*) FROM command_registrations"), '2',
    'the registered set is remembered per guild');

is(scalar $fd->records(kind => 'violation'), 0, 'no violations');
done_testing();
