# /rag/health and /rag/metrics through the real nginx with the module:
# JSON shape, database reachability, and 503 + Retry-After when the
# database is gone — while nginx keeps serving other locations.
use strict;
use warnings;
use Test::More;
use HTTP::Tiny;
use lib 't/lib';
use RagTest;

my $pg = RagTest::pg_start();
RagTest::psql($pg, "INSERT INTO collections (name, index_generation)
                    VALUES ('docs', 3), ('api', 7)");
my $ng = RagTest::nginx_start(pg => $pg,
    http => 'rag_database "%%DB%%"; rag_db_timeout 2s;',
    server => '
        location = /rag/health { rag_health; }
        location = /rag/metrics { rag_metrics; }
        location = /ping { return 200 "pong"; }
    ');
my $http = HTTP::Tiny->new(timeout => 10);

my $r = $http->get("$ng->{url}/rag/health");
is($r->{status}, 200, 'health 200');
like($r->{headers}{'content-type'}, qr{^application/json}, 'JSON');
like($r->{content}, qr/"status":"ok"/, 'status ok');
like($r->{content}, qr/"version":"\d+\.\d+\.\d+"/, 'version');
like($r->{content}, qr/"database":"ok"/, 'database ok');
like($r->{content}, qr/"index_generation":7/, 'highest generation');
like($r->{content}, qr/"indexes":\{"api":7,"docs":3\}/, 'per collection');

$r = $http->post("$ng->{url}/rag/health");
is($r->{status}, 405, 'POST not allowed');

$r = $http->get("$ng->{url}/rag/metrics");
is($r->{status}, 200, 'metrics 200');
like($r->{content}, qr/rag_requests_total\{endpoint="health",code="2xx"\} 1/,
    'health request counted');
like($r->{content}, qr/rag_database_up 1/, 'db up gauge');
like($r->{content}, qr/rag_index_generation\{collection="api"\} 7/,
    'generation gauge');

RagTest::psql($pg, "INSERT INTO jobs (kind) VALUES ('answer'), ('answer')");
$r = $http->get("$ng->{url}/rag/metrics");
like($r->{content}, qr/rag_queue_jobs\{state="queued"\} 2/, 'queue depth');

# Database down: health says so with 503 + Retry-After, nginx stays up.
RagTest::pg_ctl($pg, 'stop');
$r = $http->get("$ng->{url}/rag/health");
is($r->{status}, 503, 'health 503 without database');
is($r->{headers}{'retry-after'}, '5', 'Retry-After');
like($r->{content}, qr/"database":"down"/, 'database down reported');
is($http->get("$ng->{url}/ping")->{status}, 200, 'other locations fine');
$r = $http->get("$ng->{url}/rag/metrics");
like($r->{content}, qr/rag_database_up 0/, 'metrics still served');

# Database back: the next request reconnects.
RagTest::pg_ctl($pg, 'start');
ok(RagTest::wait_for(sub {
    $http->get("$ng->{url}/rag/health")->{status} == 200 }, 15),
    'health recovers after restart');
unlike(RagTest::error_log($ng), qr/\[(alert|emerg|crit)\]/,
    'no alerts in error log');
done_testing();
