# rag-bot end to end against the Discord stand-in: a forum post becomes
# thread + message rows (and an answer job), the controller message and
# the 👀 reaction appear, a reply from the outbox is delivered once with
# the right embeds, the controller is edited and gets ✅/❌, votes count
# once per user, the author's ✅ solves without closing, a banned user
# gets one notice, archive syncs open=false, slash commands answer.
use strict;
use warnings;
use utf8;
use Test::More;
use JSON::PP;
use lib 't/lib';
use RagTest;
use FakeDiscord;
binmode(Test::More->builder->$_, ':encoding(UTF-8)')
    for qw(output failure_output todo_output);

my $G = '100000000000000001';   # guild
my $F = '200000000000000001';   # forum channel
my $T = '300000000000000001';   # thread (= starter message id)
my $U = '400000000000000001';   # author
my $V = '400000000000000002';   # another user
my $B = '400000000000000003';   # banned user
my $MOD = '500000000000000001'; # mod role
my $LOGCH = '600000000000000001'; # logging channel

my $pg = RagTest::pg_start();
RagTest::psql($pg, qq{
    INSERT INTO collections (name) VALUES ('docs');
    INSERT INTO guild_config (guild_id, mod_role_id, banned_user_ids,
        logging_channel_id) VALUES ('$G', '$MOD', ARRAY['$B'], '$LOGCH');
    INSERT INTO guild_forums VALUES ('$G', '$F', 'docs');
});
my $dir = RagTest::tmpdir();
my $fd = FakeDiscord->start(dir => $dir, guild_id => $G);
my $bot_id = $fd->{bot_id};
$fd->channel(id => $LOGCH, guild_id => $G, type => 0, name => 'bot-log');
my $log = "$dir/bot.log";
my $pid = RagTest::spawn([RagTest::bin('rag-bot')],
    env => $fd->bot_env($pg), log => $log);

ok(RagTest::wait_for(sub { scalar $fd->gw(2) }, 20), 'bot identified')
    or diag(RagTest::slurp($log));
my ($id) = $fd->gw(2);
is($id->{intents}, 1 | 512 | 1024 | 32768, 'intents GUILDS|GUILD_MESSAGES|REACTIONS|MESSAGE_CONTENT');
ok($id->{ok} && $id->{token_ok}, 'IDENTIFY well-formed with the token');
ok(RagTest::wait_for(sub { scalar $fd->rest(method => 'PUT',
    path => qr{/applications/\d+/guilds/$G/commands$}) }, 10),
    'slash commands registered for the configured guild');
ok(RagTest::wait_for(sub { grep { $_->{body}{embeds}[0]{description} =~ /logged in as <\@$bot_id>/ }
    $fd->rest(method => 'POST', path => qr{/channels/$LOGCH/messages$}) }, 5),
    'login announced in the logging channel');
unlike(RagTest::slurp($log), qr/$fd->{token}/, 'token never logged');

# --- a new forum post -----------------------------------------------------
$fd->channel(id => $T, guild_id => $G, parent_id => $F, name => 'How do I X?',
    owner_id => $U);
$fd->dispatch(THREAD_CREATE => { id => $T, guild_id => $G, parent_id => $F,
    name => 'How do I X?', owner_id => $U, type => 11, newly_created => JSON::PP::true });
$fd->dispatch(MESSAGE_CREATE => { id => $T, channel_id => $T, guild_id => $G,
    author => { id => $U, username => 'u' }, content => 'How do I configure X?',
    mentions => [] });
ok(RagTest::wait_for(sub { RagTest::psql($pg,
    "SELECT thread_controller_id FROM threads WHERE thread_id='$T'") }, 10),
    'thread row with controller id') or diag(RagTest::slurp($log));
is(RagTest::psql($pg, "SELECT title || '|' || collection || '|' || author_id || '|' || open
    FROM threads WHERE thread_id='$T'"), "How do I X?|docs|$U|true", 'thread fields');
is(RagTest::psql($pg, "SELECT first_message FROM messages WHERE message_id='$T'"),
    't', 'first message stored');
is(RagTest::psql($pg, "SELECT count(*) FROM jobs WHERE kind='answer'"), '1',
    'trigger enqueued one answer job');
my $ctl = RagTest::psql($pg, "SELECT thread_controller_id FROM threads WHERE thread_id='$T'");
my ($cpost) = grep { ($_->{created} // '') eq $ctl } $fd->rest(method => 'POST');
is($cpost->{body}{embeds}[0]{title}, 'Help Bot Thread Information', 'controller embed');
ok(RagTest::wait_for(sub { grep { $_->{emoji} eq '👀' && $_->{path} =~ m{/messages/$T/} }
    $fd->rest(method => 'PUT', path => qr{/reactions/}) }, 5), '👀 on the question');

# replaying the same dispatches (as after a RESUME) changes nothing
$fd->dispatch(MESSAGE_CREATE => { id => $T, channel_id => $T, guild_id => $G,
    author => { id => $U }, content => 'How do I configure X?', mentions => [] });
sleep 1;
is(scalar(grep { $_->{body}{embeds} && ($_->{body}{embeds}[0]{title} // '') eq
    'Help Bot Thread Information' && !$_->{dedupe} } $fd->rest(method => 'POST')), 1,
    'one controller message even when the dispatch is replayed');

# --- the worker's reply is delivered once ----------------------------------
my $sources = '[{"n":1,"url":"https://docs.example.com/x","title":"Configure X",'
    . '"heading":"Setup","anchor":"setup","score":0.5312},'
    . '{"n":2,"url":"https://docs.example.com/y#z","title":"Y","score":0.41}]';
RagTest::psql($pg, qq{INSERT INTO messages (thread_id, message_id, content,
    from_bot, sources, reply_to) VALUES ('$T', 'reply-1',
    E'Set **x = 1** in the config.\\n\\n```ini\\nx = 1\\n```', true, '$sources', '$T')});
ok(RagTest::wait_for(sub { RagTest::psql($pg,
    "SELECT processed AND discord_message_id IS NOT NULL FROM messages
     WHERE message_id='reply-1'") eq 't' }, 10), 'reply delivered and recorded')
    or diag(RagTest::slurp($log));
my @posts = grep { $_->{body}{nonce} && $_->{path} eq "/api/v10/channels/$T/messages"
    && $_->{body}{embeds}[0]{title} eq 'Help Response' } $fd->rest(method => 'POST');
is(scalar @posts, 1, 'one POST for the reply');
my $p = $posts[0]{body};
is(length $p->{nonce}, 25, 'nonce is 25 characters');
ok($p->{enforce_nonce}, 'enforce_nonce set');
like($p->{embeds}[0]{description}, qr/```ini\nx = 1\n```/, 'answer with its code fence and newlines');
is($p->{embeds}[1]{title}, 'Sources', 'sources in their own embed');
is($p->{embeds}[1]{color}, 0x2ecc71, 'sources embed is green');
like($p->{embeds}[1]{description},
    qr{\*\*1\.\*\* \[Configure X › Setup\]\(<https://docs\.example\.com/x#setup>\) · 53%},
    'numbered link with anchor and percentage');
like($p->{embeds}[1]{description}, qr{y#z>\) · 41%}, 'existing anchor kept');
is(RagTest::psql($pg, "SELECT discord_message_id FROM messages WHERE message_id='reply-1'"),
    $posts[0]{created}, 'discord message id stored');
ok(RagTest::wait_for(sub { my @e = map { $_->{emoji} } grep { $_->{path} =~ m{/messages/$ctl/} }
    $fd->rest(method => 'PUT', path => qr{/reactions/});
    (grep { $_ eq '✅' } @e) && (grep { $_ eq '❌' } @e) }, 5), '✅ and ❌ on the controller');
my ($edit) = reverse $fd->rest(method => 'PATCH', path => qr{/messages/$ctl$});
like($edit->{body}{embeds}[0]{description}, qr/<\@$U> can vote/, 'controller shows the voting instructions');

# --- follow-ups ------------------------------------------------------------
$fd->dispatch(MESSAGE_CREATE => { id => '310000000000000001', channel_id => $T,
    guild_id => $G, author => { id => $U }, content => "<\@$bot_id> and Y?",
    mentions => [ { id => $bot_id } ] });
$fd->dispatch(MESSAGE_CREATE => { id => '310000000000000002', channel_id => $T,
    guild_id => $G, author => { id => $V }, content => 'thanks',
    mentions => [], message_reference => { message_id => $posts[0]{created} },
    referenced_message => { id => $posts[0]{created}, author => { id => $bot_id } } });
$fd->dispatch(MESSAGE_CREATE => { id => '310000000000000003', channel_id => $T,
    guild_id => $G, author => { id => $V }, content => 'just chatting', mentions => [] });
ok(RagTest::wait_for(sub { RagTest::psql($pg, "SELECT count(*) FROM messages
    WHERE thread_id='$T' AND NOT from_bot") eq '4' }, 5), 'follow-ups stored');
is(RagTest::psql($pg, "SELECT string_agg(message_id || ':' || mentions_bot || replies_to_bot, ',' ORDER BY message_id)
    FROM messages WHERE message_id LIKE '31%'"),
    '310000000000000001:truefalse,310000000000000002:falsetrue,310000000000000003:falsefalse', 'mention / reply flags');
is(RagTest::psql($pg, "SELECT count(*) FROM jobs WHERE kind='answer'"), '3',
    'mention and reply enqueue answers, chatter does not');

# --- an older post the bot never saw: a mention brings it in ------------------
my $T0 = '300000000000000009';
$fd->channel(id => $T0, guild_id => $G, parent_id => $F, name => 'Old post', owner_id => $V);
$fd->dispatch(MESSAGE_CREATE => { id => '390000000000000001', channel_id => $T0,
    guild_id => $G, author => { id => $V }, content => "<\@$bot_id> still stuck",
    mentions => [ { id => $bot_id } ] });
ok(RagTest::wait_for(sub { RagTest::psql($pg, "SELECT count(*) FROM threads
    WHERE thread_id = '$T0' AND thread_controller_id IS NOT NULL") eq '1' }, 5),
    'mention in an unknown forum thread tracks it, with a controller');
is(RagTest::psql($pg, "SELECT count(*) FROM jobs WHERE payload->>'thread_id' = '$T0'"), '1',
    'and asks for an answer');
# a mention in a channel outside the forums is looked up once, then skipped
my $OT = '300000000000000008';
$fd->channel(id => $OT, guild_id => $G, parent_id => '999000000000000001', name => 'elsewhere',
    owner_id => $U);
for my $i (1 .. 2) {
    $fd->dispatch(MESSAGE_CREATE => { id => "38000000000000000$i", channel_id => $OT,
        guild_id => $G, author => { id => $V }, content => "<\@$bot_id> hi",
        mentions => [ { id => $bot_id } ] });
}
sleep 1;
is(scalar $fd->rest(method => 'GET', path => qr{/channels/$OT$}), 1, 'one lookup for a foreign channel');
is(RagTest::psql($pg, "SELECT count(*) FROM threads WHERE thread_id = '$OT'"), '0', 'not tracked');

# --- banned user: one notice ---------------------------------------------
for my $i (1 .. 3) {
    $fd->dispatch(MESSAGE_CREATE => { id => "32000000000000000$i", channel_id => $T,
        guild_id => $G, author => { id => $B }, content => "spam $i",
        mentions => [ { id => $bot_id } ] });
}
ok(RagTest::wait_for(sub { RagTest::psql($pg, "SELECT count(*) FROM ban_notices") eq '1' }, 5),
    'ban notice recorded');
sleep 1;
is(scalar(grep { ($_->{body}{embeds}[0]{title} // '') eq 'Banned' } $fd->rest(method => 'POST')),
    1, 'one ban notice for three messages');
is(RagTest::psql($pg, "SELECT count(*) FROM messages WHERE author_id='$B'"), '0',
    'banned messages not stored');

# --- votes -----------------------------------------------------------------
my %r = (channel_id => $T, message_id => $ctl, guild_id => $G);
sub react { my ($t, $user, $emoji, %m) = @_;
    $fd->dispatch($t => { %r, user_id => $user, emoji => { name => $emoji, id => undef }, %m }) }
react(MESSAGE_REACTION_ADD => $V, '✅', member => { roles => [] });
react(MESSAGE_REACTION_ADD => $V, '✅', member => { roles => [] });  # replay
react(MESSAGE_REACTION_ADD => $V, '❌', member => { roles => [] });
react(MESSAGE_REACTION_ADD => $bot_id, '✅');                         # our own
react(MESSAGE_REACTION_ADD => $V, '👍', member => { roles => [] });
ok(RagTest::wait_for(sub { RagTest::psql($pg, "SELECT solved_votes || '/' || failed_votes
    FROM threads WHERE thread_id='$T'") eq '1/1' }, 5), 'one vote per user per kind');
react(MESSAGE_REACTION_REMOVE => $V, '❌');
ok(RagTest::wait_for(sub { RagTest::psql($pg, "SELECT failed_votes FROM threads
    WHERE thread_id='$T'") eq '0' }, 5), 'removal decrements');
is(RagTest::psql($pg, "SELECT solved FROM threads WHERE thread_id='$T'"), 'f',
    "another user's ✅ does not solve");
react(MESSAGE_REACTION_ADD => $U, '✅', member => { roles => [] });
ok(RagTest::wait_for(sub { RagTest::psql($pg, "SELECT solved FROM threads
    WHERE thread_id='$T'") eq 't' }, 5), "author's ✅ solves");
is(RagTest::psql($pg, "SELECT open || '|' || solved_by || '|' || solved_votes FROM threads
    WHERE thread_id='$T'"), "true|$U|2", 'solved without closing; vote counted');
is(RagTest::psql($pg, "SELECT count(*) FROM feedback WHERE thread_id='$T'"), '2', 'feedback rows');
ok(RagTest::wait_for(sub { my ($e) = reverse $fd->rest(method => 'PATCH', path => qr{/messages/$ctl$});
    ($e->{body}{embeds}[1]{description} // '') =~ /marked as solved/ }, 5),
    'controller shows the solved status');
my ($e) = reverse $fd->rest(method => 'PATCH', path => qr{/messages/$ctl$});
like($e->{body}{embeds}[0]{description}, qr/can vote/, 'and keeps the voting instructions');

# --- slash commands over the gateway -------------------------------------
sub interaction { my ($iid, $name, $user, $roles, $opts) = @_;
    $fd->dispatch(INTERACTION_CREATE => { id => $iid, token => "tok$iid", type => 2,
        application_id => $fd->{app_id}, guild_id => $G, channel_id => $T,
        member => { user => { id => $user }, roles => $roles },
        data => { name => $name, options => $opts || [] } }) }
sub callback { my ($iid) = @_; my ($c) = $fd->rest(method => 'POST',
    path => qr{/interactions/$iid/tok$iid/callback$}); $c }
interaction('700000000000000001', 'status', $V, []);
ok(RagTest::wait_for(sub { callback('700000000000000001') }, 5), '/status answered');
my $st = callback('700000000000000001')->{body};
is($st->{type}, 4, 'callback type 4');
like($st->{data}{embeds}[0]{description}, qr/Solved:\*\* Yes.*✅ votes:\*\* 2/s, 'status content');
interaction('700000000000000002', 'close', $V, []);
ok(RagTest::wait_for(sub { callback('700000000000000002') }, 5), '/close by a stranger answered');
is(callback('700000000000000002')->{body}{data}{flags}, 64, 'ephemeral error');
like(callback('700000000000000002')->{body}{data}{embeds}[0]{description}, qr/permission/, 'permission denied');
is(RagTest::psql($pg, "SELECT open FROM threads WHERE thread_id='$T'"), 't', 'still open');
interaction('700000000000000003', 'close', $V, [$MOD]);
ok(RagTest::wait_for(sub { RagTest::psql($pg, "SELECT open FROM threads WHERE thread_id='$T'") eq 'f' }, 5),
    'mod closes');
ok(RagTest::wait_for(sub { grep { $_->{body} && $_->{body}{archived} }
    $fd->rest(method => 'PATCH', path => qr{^/api/v10/channels/$T$}) }, 5), 'thread archived');
($e) = reverse $fd->rest(method => 'PATCH', path => qr{/messages/$ctl$});
is(scalar @{ $e->{body}{embeds} }, 3, 'controller: info + solved + closed');
interaction('700000000000000004', 'search', $V, [], [ { name => 'query', value => 'x' },
    { name => 'limit', value => 30 } ]);
ok(RagTest::wait_for(sub { callback('700000000000000004') }, 5), '/search answered');
like(callback('700000000000000004')->{body}{data}{embeds}[0]{description}, qr/between 1 and 25/,
    'limit bound checked');

# THREAD_UPDATE unarchived -> open again
$fd->dispatch(THREAD_UPDATE => { id => $T, guild_id => $G, parent_id => $F, type => 11,
    thread_metadata => { archived => JSON::PP::false, locked => JSON::PP::false } });
ok(RagTest::wait_for(sub { RagTest::psql($pg, "SELECT open FROM threads WHERE thread_id='$T'") eq 't' }, 5),
    'unarchive syncs open=true');
$fd->dispatch(THREAD_UPDATE => { id => $T, guild_id => $G, parent_id => $F, type => 11,
    name => 'How do I X? [renamed]',
    thread_metadata => { archived => JSON::PP::true, locked => JSON::PP::false } });
ok(RagTest::wait_for(sub { RagTest::psql($pg, "SELECT open FROM threads WHERE thread_id='$T'") eq 'f' }, 5),
    'archive syncs open=false');
ok(RagTest::wait_for(sub { RagTest::psql($pg, "SELECT title FROM threads WHERE thread_id='$T'")
    eq 'How do I X? [renamed]' }, 5), 'rename syncs the title');

# --- a deferred interaction from the module's HTTP endpoint ----------------
RagTest::psql($pg, qq{INSERT INTO interactions (interaction_id, application_id, token,
    guild_id, channel_id, user_id, command, options) VALUES ('710000000000000001',
    '$fd->{app_id}', 'deferredtok', '$G', '$T', '$V', 'info', '{}')});
ok(RagTest::wait_for(sub { RagTest::psql($pg, "SELECT state FROM interactions") eq 'done' }, 10),
    'deferred interaction finished');
my ($wh) = $fd->rest(method => 'PATCH', path => qr{/webhooks/$fd->{app_id}/deferredtok/messages/\@original$});
is($wh->{body}{embeds}[0]{title}, 'Bot Info', 'webhook edit carries the answer');
# the module queues the interaction's whole "data" object: its options
# are read from inside it
RagTest::psql($pg, qq{INSERT INTO interactions (interaction_id, application_id, token,
    guild_id, channel_id, user_id, command, options) VALUES ('710000000000000002',
    '$fd->{app_id}', 'deferredtok2', '$G', '$T', '$V', 'search',
    '{"id": "1", "name": "search", "type": 1, "options": [{"name": "query",
      "type": 3, "value": "configure x"}, {"name": "limit", "type": 4, "value": 3}]}')});
ok(RagTest::wait_for(sub { RagTest::psql($pg, "SELECT state FROM interactions
    WHERE interaction_id = '710000000000000002'") eq 'done' }, 10), 'deferred /search finished');
($wh) = $fd->rest(method => 'PATCH', path => qr{/webhooks/$fd->{app_id}/deferredtok2/messages/\@original$});
is($wh->{body}{embeds}[0]{title}, 'Search Results', 'with its options (query, limit) read')
    or diag(explain($wh->{body}));
like($wh->{body}{embeds}[0]{description} // '', qr/\*\*Query:\*\* configure x/, 'the query it was given');

is(scalar($fd->records(kind => 'violation')), 0, 'no protocol violations')
    or diag(explain([ $fd->records(kind => 'violation') ]));
is(scalar(grep { !$_->{ua_ok} } $fd->records(kind => 'rest')), 0, 'DiscordBot User-Agent on every request');
is(RagTest::stop($pid, 'TERM'), 0, 'clean exit on SIGTERM');
done_testing();
