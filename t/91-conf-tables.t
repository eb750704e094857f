# Config tables (issue 15.2): every key the worker programs and rag-bot
# read is in one table per program (worker/conf_tables.c, rag-bot's
# lib/rag_conf_bot.c, lib's common and embed sections) with its default,
# validator and doc line. README.md's tables are `rag-admin config`'s
# output; conf/worker.conf suits every worker program and conf/bot.conf
# rag-bot; a bad value is an error naming the key — at start (file or
# environment) and on SIGHUP, where the old config stays; and the sources
# read keys only through the tables (no default written at a call site).
use strict;
use warnings;
use Test::More;
use lib 't/lib';
use RagTest;

my $ROOT = $RagTest::ROOT;
my $admin = RagTest::bin('rag-admin');

# --- README.md carries the tables as rag-admin prints them --------------------
my $tables = `$admin config 2>&1`;
is($?, 0, 'rag-admin config exits 0');
my $readme = RagTest::slurp("$ROOT/README.md");
my ($block) = $readme =~ /<!-- rag-admin config -->\n(.*?)<!-- \/rag-admin config -->/s;
ok(defined $block, 'README.md has the generated block');
is($block, $tables, 'README.md tables == rag-admin config (regenerate: '
    . 'build/rag-admin config)');

my %keys;
$keys{$1} = 1 while $tables =~ /^\| `(\w+)` \|/mg;
ok(scalar(keys %keys) >= 60, scalar(keys %keys) . ' keys in the tables');

my @progs = qw(rag-worker rag-ingest rag-ask rag-reindex rag-admin rag-bot);
for my $p (@progs) {
    my $one = `$admin config $p 2>&1`;
    like($one, qr/^\| `\Q$p\E` \|/m, "$p: its table prints");
    my $file = $p eq 'rag-bot' ? 'bot.conf' : 'worker.conf';
    my $out = `$admin -c $ROOT/conf/$file config --check $p 2>&1`;
    is($?, 0, "conf/$file suits $p") or diag $out;
}
# conf/bot.conf sets (or shows commented out) every key of rag-bot's own
# table, and nothing else
{
    my $one = `$admin config rag-bot 2>&1`;
    my ($own) = $one =~ /\*\*rag-bot\*\*\n(.*?)(?:\n\*\*|\z)/s;
    my %table = map { $_ => 1 } ($own // '') =~ /^\| `(\w+)` \|/mg;
    my $example = RagTest::slurp("$ROOT/conf/bot.conf");
    my %file;
    $file{$1} = 1 while $example =~ /^#?(\w+) = /mg;
    $file{discord_token} = delete $file{discord_token_file};
    delete @file{qw(database_url index_dir)};
    is_deeply([sort keys %file], [sort keys %table],
        'conf/bot.conf shows every key of rag-bot\'s table')
        or diag explain [\%file, \%table];
}
like(`$admin config rag-nothing 2>&1`, qr/no program rag-nothing/,
    'an unknown program is named');

# --- bad values: refused at start, naming the key --------------------------------
my $dir = RagTest::tmpdir();
my $bad = "$dir/bad.conf";
RagTest::write_file($bad, "lease_seconds = 0\n");
my $out = `$admin -c $bad config --check rag-worker 2>&1`;
isnt($? >> 8, 0, 'config --check refuses lease_seconds = 0');
like($out, qr/lease_seconds = "0": out of range \(1 to 86400\)/, '... naming it and the range');
$out = `${\ RagTest::bin('rag-worker')} -c $bad 2>&1`;
is($? >> 8, 1, 'rag-worker will not start with it');
like($out, qr/\Q$bad\E: lease_seconds = "0": out of range/, '... and says why');
{
    local $ENV{RAG_LOG_LEVEL} = 'loud';
    $out = `${\ RagTest::bin('rag-ingest')} --collection x --rechunk 2>&1`;
    is($? >> 8, 1, 'rag-ingest refuses RAG_LOG_LEVEL=loud');
    like($out, qr/log_level = "loud": must be debug, info, warn or error/, '... naming the key');
    $out = `${\ RagTest::bin('rag-ask')} --collection x hello 2>&1`;
    like($out, qr/log_level = "loud"/, 'rag-ask too');
}
RagTest::write_file($bad, "crawl_concurrency = many\n");
$out = `$admin -c $bad config --check rag-ingest 2>&1`;
like($out, qr/crawl_concurrency = "many": must be a whole number/, 'a word for a number is refused');
RagTest::write_file($bad, "queue_listen = maybe\n");
$out = `$admin -c $bad config --check rag-worker 2>&1`;
like($out, qr/queue_listen = "maybe": must be on or off/, 'a switch must be on or off');

# rag-bot: a bad value stops the start (exit 1) naming the key, before
# any connection is tried
for my $case (['outbox_poll_ms = 5', qr/outbox_poll_ms = "5": out of range \(10 to/],
              ['outbox_max_attempts = 0', qr/outbox_max_attempts = "0": out of range/],
              ['shards = 0;1', qr/shards = "0;1": must list shard ids/],
              ['discord_gateway_url = https://gw', qr/discord_gateway_url = "https:\/\/gw": must be a ws/],
              ['discord_web_base = discord.com', qr/discord_web_base = "discord.com": not an absolute URL/],
              ['shard_count = -1', qr/shard_count = "-1": out of range \(0 to 65536\)/]) {
    RagTest::write_file($bad, "discord_token = t\ndatabase_url = host=/nonexistent\n$case->[0]\n");
    $out = `${\ RagTest::bin('rag-bot')} -c $bad 2>&1`;
    is($? >> 8, 1, "rag-bot will not start with $case->[0]");
    like($out, $case->[1], '... and names the key') or diag $out;
    unlike($out, qr/database connection/, '... before connecting');
}
{
    local $ENV{RAG_OUTBOX_LEASE_S} = '0';
    $out = `${\ RagTest::bin('rag-bot')} -c $ROOT/conf/bot.conf 2>&1`;
    like($out, qr/outbox_lease_s = "0": out of range/,
        'rag-bot: RAG_OUTBOX_LEASE_S=0 is refused too');
    is($? >> 8, 1, '... exit 1');
}

# --- SIGHUP with a bad value keeps the old config ----------------------------------
my $pg = RagTest::pg_start();
my $conf = "$dir/worker.conf";
my $log = "$dir/worker.log";
RagTest::write_file($conf, "poll_interval_ms = 200\n");
my $pid = RagTest::spawn([RagTest::bin('rag-worker'), '-c', $conf],
    env => { RAG_DATABASE_URL => $pg->{conninfo} }, log => $log);
ok(RagTest::wait_for(sub { RagTest::slurp($log) =~ /started|claim|listen/i }, 10),
    'rag-worker started') or diag RagTest::slurp($log);
RagTest::write_file($conf, "poll_interval_ms = 200\nanswer_top_k = 99\n");
kill 'HUP', $pid;
ok(RagTest::wait_for(sub { RagTest::slurp($log) =~ /reload failed/ }, 5),
    'a reload with answer_top_k = 99 is refused');
like(RagTest::slurp($log), qr/answer_top_k = \\?"99\\?": out of range \(1 to 20\)/,
    '... naming the key and the range');
ok(kill(0, $pid), 'the worker runs on (with the old config)');
RagTest::write_file($conf, "poll_interval_ms = 200\nanswer_top_k = 8\n");
kill 'HUP', $pid;
ok(RagTest::wait_for(sub { RagTest::slurp($log) =~ /config reloaded/ }, 5),
    'a good one is taken');
is(RagTest::stop($pid, 'TERM', 10), 0, 'clean exit');

# --- the sources read keys through the tables only -----------------------------------
my @src = grep { !m{/rag_conf\.c$} }
    (glob("$ROOT/worker/*.c"), glob("$ROOT/worker/*/*.c"), glob("$ROOT/lib/*.c"),
     glob("$ROOT/bot/*.c"));
my ($calls, $stray) = (0, 0);
for my $f (@src) {
    my $s = RagTest::slurp($f);
    (my $name = $f) =~ s{^\Q$ROOT\E/}{};
    while ($s =~ /\brag_conf_(?:str|long|num|on)\s*\(\s*[^,;]+,\s*[^,;]+,\s*"(\w+)"/g) {
        $calls++;
        ok($keys{$1}, "$name: $1 is in a table");
    }
    # the old accessors carry a default at the call site
    while ($s =~ /\brag_conf_(?:get|int|double|bool)\s*\(\s*(\w+),\s*"(\w+)"/g) {
        $stray++;
        fail("$name: $2 read with a default of its own");
    }
}
ok($calls >= 60, "$calls table reads found (the pattern works)");
is($stray, 0, 'no key read around the tables');
done_testing();
