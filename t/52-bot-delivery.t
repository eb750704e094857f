# Reply delivery under stress: a ~15k-character answer with a code fence
# is split within Discord's limits with the fence closed and reopened;
# a 429 with retry_after is honoured; a 5xx is retried; the bot killed
# with SIGKILL between Discord receiving the POST and the database
# update posts no duplicate after restart (nonce + enforce_nonce, and,
# once Discord has forgotten the nonce, a look at the thread); a
# reply for a deleted thread fails once and does not stop the loop.
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
my @T = map { "30000000000000000$_" } 1 .. 5;
my $pg = RagTest::pg_start();
RagTest::psql($pg, qq{
    INSERT INTO collections (name) VALUES ('docs');
    INSERT INTO guild_config (guild_id) VALUES ('$G');
    INSERT INTO guild_forums VALUES ('$G', '$F', 'docs');
});
for my $t (@T) {
    RagTest::psql($pg, qq{INSERT INTO threads (thread_id, guild_id, title, collection, author_id)
        VALUES ('$t', '$G', 'q', 'docs', '4')});
}
my $dir = RagTest::tmpdir();
my $fd = FakeDiscord->start(dir => $dir, guild_id => $G,
    heartbeat_interval => 1000);
$fd->channel(id => $_, guild_id => $G, parent_id => $F, name => 'q',
    owner_id => '4') for @T;
my $log = "$dir/bot.log";
my $env = $fd->bot_env($pg);
my $pid = RagTest::spawn([RagTest::bin('rag-bot')], env => $env, log => $log);
ok(RagTest::wait_for(sub { $fd->state->{connected} }, 20), 'bot connected');

sub reply {
    my ($thread, $id, $content) = @_;
    $content =~ s/'/''/g;
    RagTest::psql($pg, qq{INSERT INTO messages (thread_id, message_id, content, from_bot)
        VALUES ('$thread', '$id', '$content', true)});
}
sub delivered {
    my ($id) = @_;
    RagTest::psql($pg, "SELECT processed AND discord_message_id IS NOT NULL
        FROM messages WHERE message_id='$id'") eq 't';
}
sub posts { my ($t) = @_; grep { $_->{body}{nonce} } $fd->rest(method => 'POST',
    path => qr{^/api/v10/channels/$t/messages$}) }

# --- long answer ----------------------------------------------------------------
my @para = map { "Paragraph $_: " . ('lorem ipsum dolor sit amet ' x 18) . "\n\n" } 1 .. 20;
my $code = "```python\n" . join('', map { "print('line $_ of a long example')\n" } 1 .. 150) . "```\n";
my $long = join('', @para[0 .. 9]) . $code . join('', @para[10 .. 19]);
ok(length($long) > 14000 && length($long) < 17000, 'answer is about 15k characters');
reply($T[0], 'long-1', $long);
ok(RagTest::wait_for(sub { delivered('long-1') }, 15), 'long answer delivered')
    or diag(RagTest::slurp($log));
my @p = posts($T[0]);
ok(@p >= 3, 'split over several messages (' . scalar(@p) . ')');
my (@desc, %nonces);
for my $m (@p) {
    my $total = 0;
    ok(@{ $m->{body}{embeds} } <= 10, 'at most 10 embeds');
    for my $e (@{ $m->{body}{embeds} }) {
        ok(length($e->{description}) <= 4096, 'description within 4096');
        $total += length($e->{description}) + length($e->{title} // '');
        my $fences = () = $e->{description} =~ /^```/mg;
        is($fences % 2, 0, 'fences balanced inside each embed');
        push @desc, $e->{description};
    }
    ok($total <= 6000, "message total $total within 6000");
    $nonces{ $m->{body}{nonce} }++;
}
is(scalar(keys %nonces), scalar(@p), 'one nonce per part');
is(scalar(grep { /\A```python\n/ } @desc[1 .. $#desc]) >= 1, 1,
    'the fence is reopened with its language in the next part');
my $strip = sub { my $s = shift; $s =~ s/^```[a-z]*\n?//mg; $s =~ s/\s+/ /g; $s =~ s/^ | $//g; $s };
is($strip->(join("\n", @desc)), $strip->($long), 'no text lost or reordered');
like($desc[0], qr/\A\QParagraph 1: lorem\E/, 'starts at the beginning');
like(join('', @desc), qr/Paragraph 1: lorem ipsum.*\n\nParagraph 2:/s, 'newlines preserved');

# --- 429 with retry_after ---------------------------------------------------------
$fd->fault(rest => { method => 'POST', path => "channels/$T[1]/messages", status => 429,
    body => { message => 'You are being rate limited.', retry_after => 1.5, global => JSON::PP::false } });
reply($T[1], 'rl-1', 'rate limited answer');
ok(RagTest::wait_for(sub { delivered('rl-1') }, 15), 'delivered after the 429');
my @rl = $fd->rest(method => 'POST', path => qr{channels/$T[1]/messages$});
is($rl[0]{status}, 429, 'first try got 429');
ok($rl[1]{t} - $rl[0]{t} >= 1.45, sprintf('retried after retry_after (%.2f s)', $rl[1]{t} - $rl[0]{t}));
is(scalar(grep { $_->{status} == 200 } @rl), 1, 'posted once');

# --- an exhausted bucket is waited out, not hit ----------------------------------------
$fd->fault(rest => { method => 'POST', path => "channels/$T[1]/messages",
    headers => { 'X-RateLimit-Remaining' => 0, 'X-RateLimit-Reset-After' => '1.5' } });
reply($T[1], 'rl-2', 'first of two');
reply($T[1], 'rl-3', 'second of two');
ok(RagTest::wait_for(sub { delivered('rl-2') && delivered('rl-3') }, 15), 'both delivered');
my @b = grep { $_->{status} == 200 } $fd->rest(method => 'POST', path => qr{channels/$T[1]/messages$});
ok($b[-1]{t} - $b[-2]{t} >= 1.4, sprintf('second POST waited for the bucket reset (%.2f s)',
    $b[-1]{t} - $b[-2]{t}));
is(scalar(grep { $_->{status} == 429 } $fd->rest(method => 'POST')), 1, 'no 429 provoked');

# --- 5xx retried --------------------------------------------------------------------
$fd->fault(rest => { method => 'POST', path => "channels/$T[2]/messages", status => 502 });
reply($T[2], 'err-1', 'after a bad gateway');
ok(RagTest::wait_for(sub { delivered('err-1') }, 15), 'delivered after a 502');
is(scalar(grep { $_->{status} == 200 } $fd->rest(method => 'POST', path => qr{channels/$T[2]/messages$})),
    1, 'posted once');

# --- a slash command is not kept waiting behind a batch of slow deliveries -------
$fd->fault(rest => { method => 'POST', path => "channels/$T[2]/messages",
    delay_ms => 700, count => 3 });
RagTest::psql($pg, join ';', map { qq{INSERT INTO messages (thread_id, message_id,
    content, from_bot) VALUES ('$T[2]', 'slow-$_', 'slow $_', true)} } 1 .. 3);
ok(RagTest::wait_for(sub { grep { $_->{delayed} } $fd->rest(method => 'POST',
    path => qr{channels/$T[2]/messages$}) }, 10), 'slow batch started');
$fd->dispatch(INTERACTION_CREATE => { id => '790000000000000001', token => 'tokslow',
    type => 2, application_id => $fd->{app_id}, guild_id => $G, channel_id => $T[2],
    member => { user => { id => '4' }, roles => [] }, data => { name => 'info' } });
ok(RagTest::wait_for(sub { delivered('slow-1') && delivered('slow-2') && delivered('slow-3') }, 15),
    'slow batch delivered');
my ($cb) = $fd->rest(method => 'POST', path => qr{/interactions/790000000000000001/tokslow/callback$});
my @slow = grep { $_->{delayed} } $fd->rest(method => 'POST', path => qr{channels/$T[2]/messages$});
ok($cb && $cb->{t} < $slow[-1]{t}, 'the interaction was answered between deliveries');

# --- kill -9 between the POST and the database update -------------------------------
$fd->fault(rest => { method => 'POST', path => "channels/$T[3]/messages", delay_ms => 30000 });
reply($T[3], 'kill-1', 'survives a crash');
ok(RagTest::wait_for(sub { grep { $_->{delayed} } $fd->rest(method => 'POST',
    path => qr{channels/$T[3]/messages$}) }, 10), 'Discord received the POST');
# REST blocks the main thread now; the gateway thread keeps beating
my ($held) = grep { $_->{delayed} } $fd->rest(method => 'POST', path => qr{channels/$T[3]/messages$});
sleep 2.6;
ok(scalar(grep { $_->{t} > $held->{t} } $fd->gw(1)) >= 2,
    'heartbeats stay on time while a REST call hangs');
kill 'KILL', $pid;
waitpid($pid, 0);
is(RagTest::psql($pg, "SELECT processed FROM messages WHERE message_id='kill-1'"), 'f',
    'the database never heard of it');
# the thread's history is unavailable for a moment (catch-up and the
# retry's own look), so this retry relies on the nonce alone (a 5xx: a
# 403 Missing Access would rightly mark the thread unreachable)
$fd->fault(rest => { method => 'GET', path => "channels/$T[3]/messages", status => 503,
    count => 6 });
$pid = RagTest::spawn([RagTest::bin('rag-bot')], env => $env, log => $log);
ok(RagTest::wait_for(sub { delivered('kill-1') }, 20), 'delivered after restart')
    or diag(RagTest::slurp($log));
my @k = $fd->rest(method => 'POST', path => qr{channels/$T[3]/messages$});
is(scalar(@k), 2, 'POSTed twice');
is($k[0]{body}{nonce}, $k[1]{body}{nonce}, 'with the same nonce');
ok($k[1]{dedupe}, 'the stand-in returned the existing message');
is(scalar(grep { $_->{created} } @k), 1, 'exactly one Discord message exists');
is(RagTest::psql($pg, "SELECT discord_message_id FROM messages WHERE message_id='kill-1'"),
    $k[0]{created}, 'the id of that one message is stored');

# --- the same crash, but restarted after Discord forgot the nonce ---------------------
$fd->fault(rest => { method => 'POST', path => "channels/$T[3]/messages", delay_ms => 30000 });
reply($T[3], 'kill-2', 'survives a long outage');
ok(RagTest::wait_for(sub { grep { $_->{delayed} && $_->{body}{embeds}[0]{description} eq
    'survives a long outage' } $fd->rest(method => 'POST', path => qr{channels/$T[3]/messages$}) }, 10),
    'Discord received the second POST');
kill 'KILL', $pid;
waitpid($pid, 0);
$fd->fault(forget_nonces => 1);
$pid = RagTest::spawn([RagTest::bin('rag-bot')], env => $env, log => $log);
ok(RagTest::wait_for(sub { delivered('kill-2') }, 20), 'delivered after restart')
    or diag(RagTest::slurp($log));
my @k2 = grep { $_->{body}{embeds}[0]{description} eq 'survives a long outage' }
    $fd->rest(method => 'POST', path => qr{channels/$T[3]/messages$});
is(scalar(@k2), 1, 'not posted again: found among the thread\'s recent messages');
is(RagTest::psql($pg, "SELECT discord_message_id FROM messages WHERE message_id='kill-2'"),
    $k2[0]{created}, 'and its id recorded');
like(RagTest::slurp($log), qr/reply part already posted.*message=kill-2/, 'logged');

# --- a deleted thread does not block the outbox -----------------------------------
$fd->fault(delete_channel => $T[4]);
reply($T[4], 'gone-1', 'nobody will read this');
reply($T[0], 'after-1', 'but this one goes out');
ok(RagTest::wait_for(sub { delivered('after-1') }, 15), 'later reply delivered');
ok(RagTest::wait_for(sub { RagTest::psql($pg, "SELECT processed FROM messages
    WHERE message_id='gone-1'") eq 't' }, 10), 'deleted-thread reply settled');
like(RagTest::psql($pg, "SELECT last_error || '|' || coalesce(discord_message_id, 'none')
    FROM messages WHERE message_id='gone-1'"), qr/status 404 code 10003: Unknown Channel \(10003\)\|none/, 'marked failed with the error');
my $n = scalar $fd->rest(method => 'POST', path => qr{channels/$T[4]/messages$});
sleep 1.5;
is(scalar($fd->rest(method => 'POST', path => qr{channels/$T[4]/messages$})), $n, 'not retried');
# --- the database restarts under the bot: reconnect, LISTEN again ------------------
RagTest::pg_ctl($pg, 'restart');
reply($T[0], 'after-restart', 'the database came back');
ok(RagTest::wait_for(sub { delivered('after-restart') }, 20), 'delivered after a database restart')
    or diag(RagTest::slurp($log));

is(RagTest::psql($pg, "SELECT message_id FROM outbox_failed"), 'gone-1',
    'listed in outbox_failed');
is(RagTest::psql($pg, "SELECT rag_outbox_requeue('$T[0]', 'after-1')"), 'f',
    'a delivered reply cannot be requeued');
is(scalar $fd->records(kind => 'violation'), 0, 'no limit violations')
    or diag(explain([ $fd->records(kind => 'violation') ]));
done_testing();
