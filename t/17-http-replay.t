# The HTTP layer replayed: a corpus of odd but legal HTTP/1.x requests at
# every module endpoint (search GET and POST, upload, webhook,
# interactions, health, metrics, the dashboard page, API and sign-in),
# each checked for the one right status. The corpus: empty bodies,
# chunked bodies in 1-byte chunks and with chunk extensions and
# trailers, Expect: 100-continue, bodies trickled byte by byte, bodies
# nginx spools to a temp file (a second server with a 128-byte
# client_body_buffer_size), HEAD, HTTP/1.0, absolute-form targets, GET
# with a body, wrong methods (405 with Allow), and pipelined requests on
# one connection, including after a refused body. Run it under
# RAG_ASAN=1 too: any sanitizer report fails the file.
use strict;
use warnings;
use Test::More;
use lib 't/lib';
use RagTest;
use RawHTTP;
use Ed25519Signer;
use WorkerTest;

my $key = Ed25519Signer->new;
my $pub = $key->public_hex;
my $pg = RagTest::pg_start();
my $ix = RagTest::tmpdir();
WorkerTest::load_corpus($pg);
WorkerTest::reindex($pg, $ix, 'acme');
WorkerTest::ask($pg, 't1', 'Install', 'How do I install acme?');   # t1-m1

my $locations = "
        rag_index_dir $ix;
        location = /search { rag_search; }
        location = /upload { rag_upload; rag_upload_token \"ut\"; }
        location = /hooks { rag_event_webhook; rag_event_secret \"hs\"; }
        location = /discord {
            rag_discord_interactions;
            rag_discord_public_key $pub;
        }
        location = /rag/health { rag_health; }
        location = /rag/metrics { rag_metrics; }
        location /dash/ { rag_dashboard; rag_dashboard_token \"dt\"; }
";
my $spool_port = RagTest::free_port();
my $ng = RagTest::nginx_start(pg => $pg,
    http => 'rag_database "%%DB%%"; rag_db_timeout 5s;'
        . " server { listen 127.0.0.1:$spool_port;"
        . ' client_body_buffer_size 128; ' . $locations . ' }',
    server => $locations);
my %servers = (memory => $ng->{port}, spooled => $spool_port);

my $pad = ',"pad":"' . ('p' x 200) . '"';   # every valid body > 128 bytes
my $event = '{"id":"e1","created_at":"2026-11-24T10:00:00.000Z",'
  . '"trigger":{"name":"new_message_event"},'
  . '"table":{"schema":"public","name":"messages"},'
  . '"event":{"op":"INSERT","data":{"old":null,"new":{"thread_id":"t1",'
  . '"message_id":"t1-m1","content":"How do I install acme?",'
  . '"from_bot":false,"first_message":true}}}' . $pad . '}';

# POST endpoints: path, headers for a body, valid body, its status and
# content, the status of an empty body, content type.
my $json = 'application/json';
my @posts = (
    { name => 'search', path => '/search', hdr => sub { () },
      body => '{"query":"install debian","collection":"acme","k":2' . $pad . '}',
      ok => 200, re => qr/"url":"https:\/\/docs\.acme\.test\/install#/,
      empty => 400 },
    { name => 'upload', path => '/upload',
      hdr => sub { (Authorization => 'Bearer ut') },
      body => '{"collection":"acme","documents":[{"url":'
          . '"https://docs.acme.test/faq","body":"Questions."}]' . $pad . '}',
      ok => 202, re => qr/^\{"job_id":\d+,"collection":"acme"/, empty => 400 },
    { name => 'webhook', path => '/hooks',
      hdr => sub { ('X-Rag-Secret' => 'hs') },
      body => $event, ok => 200, re => qr/"enqueued":true/, empty => 400 },
    { name => 'interactions', path => '/discord',
      hdr => sub { my $ts = time; ('X-Signature-Ed25519' => $key->sign($ts, $_[0]),
          'X-Signature-Timestamp' => $ts) },
      body => '{"id":"1","application_id":"42","type":1,"token":"t"' . $pad . '}',
      ok => 200, re => qr/^\{"type":1\}$/, empty => 400 },
    { name => 'dashboard sign-in', path => '/dash/login', hdr => sub { () },
      ct => 'application/x-www-form-urlencoded',
      body => 'token=dt&pad=' . ('p' x 200), ok => 303, re => qr/^$/,
      empty => 401 },
);

# GET endpoints: path, headers, status, content.
my @gets = (
    { name => 'search GET', path => '/search?q=install+debian&collection=acme&k=2',
      ok => 200, re => qr/"results":\[\{"rank":1/ },
    { name => 'health', path => '/rag/health', ok => 200, re => qr/"status":"ok"/ },
    { name => 'metrics', path => '/rag/metrics', ok => 200,
      re => qr/rag_database_up 1/ },
    { name => 'dashboard page', path => '/dash/', ok => 200,
      hdr => [ Authorization => 'Bearer dt' ], re => qr/<!doctype html>/ },
    { name => 'dashboard API', path => '/dash/api/summary', ok => 200,
      hdr => [ Authorization => 'Bearer dt' ], re => qr/"window_days"/ },
);

# Methods each endpoint refuses, and the Allow header it must send.
my @wrong = (
    [ '/search', [qw(PUT DELETE PATCH OPTIONS)], 'GET, HEAD, POST' ],
    [ '/upload', [qw(GET PUT DELETE OPTIONS)], 'POST' ],
    [ '/hooks', [qw(GET PUT)], 'POST' ],
    [ '/discord', [qw(GET PATCH)], 'POST' ],
    [ '/rag/health', [qw(POST PUT DELETE OPTIONS)], 'GET, HEAD' ],
    [ '/rag/metrics', [qw(POST DELETE)], 'GET, HEAD' ],
    [ '/dash/', [qw(POST PUT)], 'GET, HEAD' ],
    [ '/dash/api/summary', [qw(POST DELETE)], 'GET, HEAD' ],
    [ '/dash/login', [qw(GET PUT)], 'POST' ],
);

sub one {
    my ($port, $req, %o) = @_;
    my @r = RawHTTP::finals(RawHTTP::exchange($port, [ ref $req ? @$req : $req ],
        expect => 1, %o));
    return $r[0] || { status => 'none', body => '', headers => {} };
}

sub post_req {
    my ($p, $body, %o) = @_;
    my $extra = delete $o{headers} || [];
    return RawHTTP::request(method => 'POST', path => $p->{path}, body => $body,
        headers => [ 'Content-Type' => $p->{ct} || $json, $p->{hdr}->($body),
            @$extra ],
        close => 1, %o);
}

sub check {
    my ($r, $status, $re, $what) = @_;
    is($r->{status}, $status, "$what: $status") or diag substr($r->{body}, 0, 300);
    like($r->{body}, $re, "$what: body") if $re;
}

for my $server (sort keys %servers) {
    my $port = $servers{$server};

    for my $p (@posts) {
        my $n = "$server: $p->{name}";
        my $b = $p->{body};
        check(one($port, post_req($p, $b)), $p->{ok}, $p->{re}, "$n Content-Length");
        check(one($port, post_req($p, $b, chunked => [1])), $p->{ok}, $p->{re},
            "$n 1-byte chunks");

        # chunk extensions, upper-case hex with leading zeros, a trailer
        my ($req) = split /\r\n\r\n/, post_req($p, $b, chunked => [1]), 2;
        $req .= "\r\n\r\n";
        my ($off, @parts) = (0);
        while ($off < length $b) {
            my $part = substr($b, $off, 37);
            push @parts, sprintf("%04X;ext=\"v\"\r\n%s\r\n", length $part, $part);
            $off += 37;
        }
        check(one($port, $req . join('', @parts) . "0\r\nX-Trailer: t\r\n\r\n"),
            $p->{ok}, $p->{re}, "$n chunk extensions and a trailer");

        # Expect: 100-continue: the body only after the interim response
        my $full = post_req($p, $b, headers => [ Expect => '100-continue' ]);
        my ($head, $body) = split /\r\n\r\n/, $full, 2;
        my @all = RawHTTP::exchange($port, [ "$head\r\n\r\n", $body ],
            wait_continue => 1, expect => 1);
        is(scalar(grep { $_->{status} == 100 } @all), 1, "$n Expect: one 100 Continue");
        check((RawHTTP::finals(@all))[0] || { status => 'none', body => '' },
            $p->{ok}, $p->{re}, "$n Expect: 100-continue");

        # the whole request trickled byte by byte
        check(one($port, post_req($p, $b), trickle => 0.002, timeout => 10),
            $p->{ok}, $p->{re}, "$n trickled byte by byte");

        check(one($port, post_req($p, '')), $p->{empty}, undef, "$n empty body");
        check(one($port, post_req($p, '', chunked => [1])), $p->{empty}, undef,
            "$n empty chunked body");
    }

    for my $g (@gets) {
        my $n = "$server: $g->{name}";
        my @h = @{ $g->{hdr} || [] };
        check(one($port, RawHTTP::request(path => $g->{path}, headers => \@h,
            close => 1)), $g->{ok}, $g->{re}, "$n GET");
        my $r = one($port, RawHTTP::request(method => 'HEAD', path => $g->{path},
            headers => \@h, close => 1), heads => [1]);
        check($r, $g->{ok}, qr/^$/, "$n HEAD");
        ok($r->{headers}{'content-length'}, "$n HEAD: Content-Length of the GET");

        my $h10 = "GET $g->{path} HTTP/1.0\r\n"
            . join('', map { "$h[$_ * 2]: $h[$_ * 2 + 1]\r\n" } 0 .. @h / 2 - 1)
            . "\r\n";
        check(one($port, $h10), $g->{ok}, $g->{re}, "$n HTTP/1.0 without Host");
        check(one($port, RawHTTP::request(path => "http://localhost$g->{path}",
            headers => \@h, close => 1)), $g->{ok}, $g->{re},
            "$n absolute-form target");

        # a body on a GET is read and dropped, not taken for the next request
        my @two = RawHTTP::finals(RawHTTP::exchange($port, [
            RawHTTP::request(path => $g->{path}, headers => \@h,
                body => 'GET /nope HTTP/1.1') .
            RawHTTP::request(path => '/rag/health', close => 1) ], expect => 2));
        is(join(',', map { $_->{status} } @two), "$g->{ok},200",
            "$n GET with a body, then a pipelined request");
    }

    for my $w (@wrong) {
        my ($path, $methods, $allow) = @$w;
        for my $m (@$methods) {
            my $r = one($port, RawHTTP::request(method => $m, path => $path,
                headers => [ Authorization => 'Bearer dt' ], close => 1));
            is($r->{status}, 405, "$server: $m $path: 405");
            is($r->{headers}{allow}, $allow, "$server: $m $path: Allow: $allow");
        }
    }

    # Pipelined: six requests in one write, answered in order.
    my @pipe = (
        RawHTTP::request(path => '/rag/health'),
        RawHTTP::request(path => $gets[0]{path}),
        post_req($posts[0], $posts[0]{body}, close => 0),
        RawHTTP::request(method => 'HEAD', path => '/rag/metrics'),
        post_req($posts[2], $posts[2]{body}),
        RawHTTP::request(path => '/dash/api/summary',
            headers => [ Authorization => 'Bearer dt' ], close => 1),
    );
    s/Connection: close\r\n// for @pipe[0 .. 4];
    my @res = RawHTTP::finals(RawHTTP::exchange($port, [ join '', @pipe ],
        heads => [0, 0, 0, 1, 0, 0], expect => 6));
    is(join(',', map { $_->{status} } @res), '200,200,200,200,200,200',
        "$server: six pipelined requests answered in order");
    like($res[2]{body} // '', $posts[0]{re}, "$server: pipelined POST searched");

    # A refused body (wrong content type, wrong secret, wrong method) is
    # discarded: the request after it on the connection is answered.
    for my $refused (
        [ 415, post_req({ %{ $posts[1] }, ct => 'text/plain' },
            $posts[1]{body}) ],
        [ 401, RawHTTP::request(method => 'POST', path => '/hooks',
            body => $event, headers => [ 'Content-Type' => $json,
                'X-Rag-Secret' => 'nope' ]) ],
        [ 405, RawHTTP::request(method => 'PUT', path => '/upload',
            body => $posts[1]{body}, headers => [ 'Content-Type' => $json ]) ],
    ) {
        my ($status, $req) = @$refused;
        $req =~ s/Connection: close\r\n//;
        my @r = RawHTTP::finals(RawHTTP::exchange($port, [ $req
            . RawHTTP::request(path => '/rag/health', close => 1) ], expect => 2));
        is(join(',', map { $_->{status} } @r), "$status,200",
            "$server: $status with its body discarded, then the next request");
    }

    # Past rag_max_body: 413, and the connection is closed rather than
    # the unread body parsed as requests.
    my $big = post_req($posts[2], '{"pad":"' . ('x' x (1024 * 1024 + 10)) . '"}');
    $big =~ s/Connection: close\r\n//;
    my ($head) = split /\r\n\r\n/, $big, 2;
    my @r = RawHTTP::exchange($port, [ "$head\r\n\r\n" ], expect => 1);
    is((RawHTTP::finals(@r))[0]{status} // 'none', 413,
        "$server: declared body over rag_max_body: 413 before reading it");
    is((RawHTTP::finals(@r))[0]{headers}{connection} // '', 'close',
        "$server: ... and the connection closes");
}

is(RagTest::psql($pg, "SELECT count(*) FROM jobs WHERE kind = 'answer'"), '1',
    'every webhook delivery made the same one job');
my $log = RagTest::error_log($ng);
unlike($log, qr/\[(alert|emerg|crit)\]/, 'no alerts in the error log');
unlike($log, qr/exited on signal/, 'no worker died');
done_testing();
