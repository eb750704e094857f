#!/usr/bin/env perl
# Webhook throughput and idempotency under load (prints figures; not a
# test). Starts a throwaway Postgres and nginx with the module, inserts
# N messages, then wrk POSTs Hasura events for them for DURATION seconds,
# cycling through the N message ids so every event is redelivered many
# times. Reports events/s, latency percentiles, non-2xx count, jobs made
# (must equal N) and nginx worker RSS before/after.
#
#   perl bench/webhook.pl [N=10000] [DURATION=30] [CONNECTIONS=32]
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../t/lib";
use RagTest;
use HTTP::Tiny;

my ($n, $duration, $conns) = (@ARGV, 10000, 30, 32)[0 .. 2];
system('which wrk >/dev/null') == 0 or die "wrk not installed (apt-get install wrk)\n";

my $pg = RagTest::pg_start();
RagTest::psql($pg, "INSERT INTO collections (name) VALUES ('docs');
    INSERT INTO threads (thread_id, collection) SELECT 't' || g, 'docs' FROM generate_series(0, 99) g;
    INSERT INTO messages (thread_id, message_id, content, first_message)
      SELECT 't' || (g % 100), 'm' || g, 'question ' || g, true FROM generate_series(1, $n) g;
    DELETE FROM jobs;  -- the trigger enqueued them; measure the webhook alone");
# Pool threads = Postgres connections. On this 2-core box (Postgres and
# wrk included) 8 of them left backends waiting for a CPU: p99 in the
# hundreds of ms. About one per core plus one keeps p99 at a few ms.
my $threads = $ENV{RAG_BENCH_THREADS} || 3;
my $ng = RagTest::nginx_start(pg => $pg, workers => 1, log_level => 'warn',
    main => "thread_pool rag threads=$threads max_queue=65536;",
    http => 'rag_database "%%DB%%"; rag_thread_pool rag;',
    server => 'location = /hooks { rag_event_webhook; rag_event_secret "s"; }');

my $lua = "$ng->{dir}/events.lua";
RagTest::write_file($lua, <<"LUA");
local counter = 0
local offset = 0
function setup(thread) thread:set("offset", math.random(0, $n)) end
function init(args) counter = offset end
function request()
  counter = counter + 1
  local m = (counter % $n) + 1
  local body = string.format('{"id":"ev-%d-%d","created_at":"2026-11-24T00:00:00Z",'
    .. '"delivery_info":{"max_retries":3,"current_retry":0},"trigger":{"name":"new_message_event"},'
    .. '"table":{"schema":"public","name":"messages"},"event":{"op":"INSERT","data":{"old":null,'
    .. '"new":{"thread_id":"t%d","message_id":"m%d","from_bot":false}}}}', m, counter, m % 100, m)
  return wrk.format("POST", "/hooks", {["Content-Type"] = "application/json", ["X-Rag-Secret"] = "s"}, body)
end
LUA

sub worker_rss {
    my @pids = map { /(\d+)/ ? $1 : () } `pgrep -P $ng->{pid}`;
    my $kb = 0;
    for my $p (@pids) { my $s = RagTest::slurp("/proc/$p/status"); $kb += $1 if $s =~ /VmRSS:\s+(\d+)/ }
    return $kb;
}

# warm up: every message once, so all N jobs exist before measuring RSS
system("wrk -t2 -c$conns -d3s -s $lua $ng->{url}/hooks >/dev/null");
my $rss0 = worker_rss();
my $out = `wrk -t2 -c$conns -d${duration}s --latency -s $lua $ng->{url}/hooks`;
my $rss1 = worker_rss();
my $jobs = RagTest::psql($pg, "SELECT count(*) FROM jobs");
my $distinct = RagTest::psql($pg, "SELECT count(DISTINCT dedupe_key) FROM jobs");

my ($rps) = $out =~ /Requests\/sec:\s+([\d.]+)/;
my ($p50) = $out =~ /^\s+50%\s+(\S+)/m;
my ($p99) = $out =~ /^\s+99%\s+(\S+)/m;
my ($non2xx) = $out =~ /Non-2xx or 3xx responses:\s+(\d+)/;
my ($total) = $out =~ /(\d+) requests in/;
my $sockerr = $out =~ /Socket errors:(.*)/ ? $1 : ' none';
printf "webhook: %d events in %ds over %d connections, %d pool threads, %d distinct messages\n",
    $total, $duration, $conns, $threads, $n;
printf "webhook: %.0f events/s, p50 %s, p99 %s, non-2xx %d, socket errors:%s\n",
    $rps, $p50, $p99, $non2xx || 0, $sockerr;
printf "webhook: jobs %d (distinct %d, expected %d) — %s\n", $jobs, $distinct, $n,
    $jobs == $n ? 'exactly one per message' : 'MISMATCH';
printf "webhook: nginx worker RSS %d kB -> %d kB (%+d kB)\n", $rss0, $rss1, $rss1 - $rss0;
