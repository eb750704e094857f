# rag_dashboard through the real nginx: token auth (bearer, or the sign-in
# form and a signed session cookie; never in a URL or the access log;
# 401/403), the JSON APIs checked against fixture rows (rates,
# median time to first answer, votes, queue depth, collections, recent
# threads with sources, gap clusters with closest pages from a real
# index), and the page itself rendered by headless Chromium: the DOM after
# the JS ran must show the fixture numbers, and a screenshot is taken.
use strict;
use warnings;
use Test::More;
use HTTP::Tiny;
use JSON::PP;
use lib 't/lib';
use RagTest;

my $TOKEN = 'dash-s3cret-token';
my $pg = RagTest::pg_start();
my $tmp = RagTest::tmpdir();
my $ixdir = "$tmp/index";
mkdir $ixdir;

# --- fixtures ----------------------------------------------------------------
RagTest::psql($pg, <<'SQL');
INSERT INTO collections (name) VALUES ('docs');
INSERT INTO documents (collection_id, url, title, body)
SELECT id, u, t, b FROM collections, (VALUES
  ('https://docs.example/replication', 'Replication',
   'Replication slots keep WAL for a standby server. Configure primary_slot_name on the standby.'),
  ('https://docs.example/backup', 'Backups',
   'Run the backup as a user with permission to read the data directory.'),
  ('https://docs.example/install', 'Install', 'Install the package with apt.')) v(u, t, b)
WHERE name = 'docs';
INSERT INTO chunks (document_id, ordinal, heading_path, anchor, body)
SELECT id, 0, title, 'top', body FROM documents;
INSERT INTO chunks (document_id, ordinal, heading_path, anchor, body)
SELECT id, 1, title || ' > More', 'more', 'More about ' || lower(title) || '.'
FROM documents WHERE url LIKE '%replication';

INSERT INTO threads (thread_id, guild_id, title, collection, author_id, open,
                     solved, solved_at, solved_votes, failed_votes, created_at)
VALUES
 ('t1', 'g1', 'Install on Debian', 'docs', 'u1', true, true,
  now() - interval '2 days' + interval '1 hour', 2, 0, now() - interval '2 days'),
 ('t2', 'g1', 'Backup fails', 'docs', 'u2', true, false, NULL, 0, 1,
  now() - interval '1 day'),
 ('t3', 'g1', 'Upgrade question', 'docs', 'u3', true, true,
  now() - interval '1 day' + interval '1 hour', 1, 0, now() - interval '1 day'),
 ('t4', 'g1', 'Slots', 'docs', 'u4', true, false, NULL, 0, 0,
  now() - interval '3 hours'),
 ('t5', 'g1', 'Replication slots on standby', 'docs', 'u5', true, false, NULL,
  0, 0, now() - interval '10 days');
INSERT INTO messages (thread_id, message_id, author_id, content, first_message,
                      created_at)
SELECT thread_id, thread_id || '-q', author_id, q, true, created_at
FROM threads JOIN (VALUES
  ('t1', 'How do I install it on Debian?'),
  ('t2', 'Backup fails with permission denied on the data directory'),
  ('t3', 'How do I upgrade to the next major version?'),
  ('t4', 'How do I configure replication slots for a standby server?'),
  ('t5', 'How to configure replication slots for a standby server?'))
  v(tid, q) ON v.tid = thread_id;
INSERT INTO messages (thread_id, message_id, content, from_bot, processed,
                      abstained, sources, created_at)
SELECT t.thread_id, t.thread_id || '-a', a, true, true, ab, s::jsonb,
       t.created_at + make_interval(secs => d)
FROM threads t JOIN (VALUES
  ('t1', 'Use apt install [1].', false,
   '[{"n":1,"url":"https://docs.example/install#top","title":"Install"}]', 60),
  ('t2', 'Check the permissions [1].', false,
   '[{"n":1,"url":"https://docs.example/backup#top","title":"Backups"}]', 120),
  ('t3', 'Use pg_upgrade.', false, '[]', 300),
  ('t4', 'I could not find this in the docs.', true, NULL, 5))
  v(tid, a, ab, s, d) ON v.tid = t.thread_id;
INSERT INTO feedback (thread_id, user_id, vote) VALUES
  ('t1', 'u9', 'up'), ('t3', 'u9', 'up'), ('t2', 'u8', 'down');
INSERT INTO gaps (thread_id, message_id, collection, question, reason)
VALUES ('t4', 't4-q', 'docs',
        'How do I configure replication slots for a standby server?', 'abstain');
DELETE FROM jobs;
INSERT INTO jobs (kind, state) VALUES ('answer', 'queued'), ('answer', 'queued'),
  ('answer', 'running'), ('ingest', 'dead'), ('answer', 'done');
SQL

{
    local $ENV{RAG_DATABASE_URL} = $pg->{conninfo};
    my $out = `@{[RagTest::bin('rag-reindex')]} --dir $ixdir docs 2>&1`;
    is($?, 0, 'docs index built') or diag $out;
}

my $ng = RagTest::nginx_start(pg => $pg,
    http => 'rag_database "%%DB%%";',
    server => "
        location /dash/ { rag_dashboard; rag_dashboard_token \"$TOKEN\"; }
        location = /signin.html { root %%DIR%%/html; }
        location /dash { rag_dashboard; rag_dashboard_token \"$TOKEN\"; }
        location /open/ { rag_dashboard; }
    ");
my $http = HTTP::Tiny->new(timeout => 10, max_redirect => 0);
my $base = "$ng->{url}/dash/";
my %bearer = (headers => { Authorization => "Bearer $TOKEN" });

# --- auth --------------------------------------------------------------------
# The README's flow: open the page, sign in with the token through the
# form (a POST: the token is never in a URL, so never in the access log),
# then the browser holds a signed, expiring session cookie — never the
# token itself.
my $r = $http->get($base);
is($r->{status}, 401, 'page without a session: 401');
like($r->{headers}{'content-type'}, qr{^text/html}, '... the sign-in page');
like($r->{content}, qr{<form method="post" action="login">}, '... with a form that POSTs the token');
like($r->{content}, qr{<input type="password" name="token"}, '... in a password field');
like($r->{headers}{'content-security-policy'} // '', qr/form-action 'self'/, '... CSP lets it post here only');
is($http->get("${base}api/summary")->{status}, 401, 'api without token: 401');
is($http->get($base, { headers => { Authorization => 'Bearer nope' } })->{status},
    401, 'wrong bearer: 401');
is($http->get("${base}api/summary",
    { headers => { Cookie => 'rag_dashboard=nope' } })->{status}, 401,
    'wrong cookie: 401');
is($http->get("${base}api/summary",
    { headers => { Authorization => "Bearer ${TOKEN}x" } })->{status}, 401,
    'token with a suffix: 401');
is($http->get("$ng->{url}/open/", { headers => { Authorization => 'Bearer x' } })
    ->{status}, 403, 'no rag_dashboard_token configured: 403');
is($http->post("${base}api/summary", \%bearer)->{status}, 405, 'POST to the API: 405');

sub login {
    my ($token, %h) = @_;
    return $http->post("${base}login", { content => "token=$token",
        headers => { 'Content-Type' => 'application/x-www-form-urlencoded', %h } });
}
$r = login('nope');
is($r->{status}, 401, 'sign in with a wrong token: 401');
like($r->{content}, qr/Wrong token/, '... says so on the sign-in page');
ok(!$r->{headers}{'set-cookie'}, '... and sets no cookie');
is(login($TOKEN, 'Content-Type' => 'application/json')->{status}, 415,
    'sign in with a JSON body: 415');
is($http->get("${base}login")->{status}, 405, 'GET login: 405');

$r = login($TOKEN);
is($r->{status}, 303, 'sign in: 303');
is($r->{headers}{location}, '/dash/', '... back to the dashboard');
my $set = $r->{headers}{'set-cookie'} // '';
like($set, qr{^rag_dashboard=1\.\d+\.[0-9a-f]{64}; Path=/dash/; Max-Age=43200; HttpOnly; SameSite=Strict$},
    'a session cookie: version, expiry, HMAC; scoped, HttpOnly, SameSite');
unlike($set, qr/\Q$TOKEN\E/, 'the cookie is not the token');
my ($session) = $set =~ /^rag_dashboard=([^;]+)/;
my ($exp) = $session =~ /^1\.(\d+)\./;
cmp_ok(abs($exp - (time + 43200)), '<', 60, 'it expires in 12 hours (rag_dashboard_session)');
my %cookie = (headers => { Cookie => "a=b; rag_dashboard=$session" });

$r = $http->get($base, \%cookie);
is($r->{status}, 200, 'page with the session');
like($r->{headers}{'content-type'}, qr{^text/html}, 'HTML');
ok(!$r->{headers}{'set-cookie'}, 'no new cookie');
like($r->{headers}{'content-security-policy'} // '', qr/default-src 'none'/, 'CSP');
like($r->{content}, qr/<svg|createElementNS/, 'page draws SVG charts');
unlike($r->{content}, qr/Authorization|qs\.get\("token"\)/, 'the page never handles the token');
is($http->get("${base}api/summary", \%cookie)->{status}, 200, 'cookie auth for the API');
is($http->get($base, \%bearer)->{status}, 200, 'bearer auth still works');

# The session is an HMAC (key derived from the token) over version, expiry
# and path: tampering, extending, expiring or replaying the raw token fail.
use Digest::SHA qw(hmac_sha256 hmac_sha256_hex);
my $skey = hmac_sha256('ngx_rag dashboard session v1', $TOKEN);
my $mint = sub { my ($e) = @_; "1.$e." . hmac_sha256_hex("1.$e|/dash/", $skey) };
is($mint->($exp), $session, 'the session is exactly the documented HMAC');
my $api = sub { $http->get("${base}api/summary",
    { headers => { Cookie => "rag_dashboard=$_[0]" } })->{status} };
(my $tampered = $session) =~ s/([0-9a-f])$/$1 eq '0' ? '1' : '0'/e;
is($api->($tampered), 401, 'a tampered MAC: 401');
(my $longer = $session) =~ s/^1\.(\d+)/'1.' . ($1 + 86400)/e;
is($api->($longer), 401, 'an extended expiry with the old MAC: 401');
is($api->($mint->(time - 5)), 401, 'an expired session: 401');
is($api->($mint->(time + 86400 * 30)), 401, 'a session longer than rag_dashboard_session: 401');
is($api->($mint->(time + 600)), 200, 'any session minted with the key works (every worker, every reload)');
is($api->($TOKEN), 401, 'the raw token as the cookie: 401');
my $e2 = time + 600;
is($api->("1.$e2." . hmac_sha256_hex("1.$e2|/open/", $skey)), 401,
    'a session for another path: 401');
RagTest::nginx_reload($ng);
sleep 1;
is($api->($session), 200, 'the session survives nginx -s reload');

$r = $http->post("${base}logout", \%cookie);
is($r->{status}, 303, 'sign out: 303');
like($r->{headers}{'set-cookie'} // '', qr{^rag_dashboard=; Path=/dash/; Max-Age=0}, '... clears the cookie');

$r = $http->get("$ng->{url}/dash", \%bearer);
is($r->{status}, 301, 'location without slash redirects');
like($r->{headers}{location} // '', qr{/dash/$}, '... to the slash');
is($http->get("${base}api/nope", \%bearer)->{status}, 404, 'unknown api: 404');

# --- JSON --------------------------------------------------------------------
sub api {
    my ($path) = @_;
    my $res = $http->get("${base}api/$path", \%bearer);
    is($res->{status}, 200, "api/$path 200") or diag $res->{content};
    like($res->{headers}{'content-type'}, qr{^application/json}, "api/$path JSON");
    return decode_json($res->{content});
}

my $s = api('summary');
is($s->{window_days}, 30, 'window 30 days');
is($s->{threads}, 5, '5 questions');
is($s->{answered}, 3, '3 answered');
is($s->{abstained}, 1, '1 abstained');
is($s->{solved}, 2, '2 solved');
is($s->{open}, 3, '3 open');
cmp_ok(abs($s->{answer_rate} - 0.6), '<', 1e-9, 'answer rate 0.6');
cmp_ok(abs($s->{solved_rate} - 0.4), '<', 1e-9, 'solved rate 0.4');
cmp_ok(abs($s->{median_first_answer_s} - 120), '<', 0.01, 'median 120 s');
is_deeply($s->{reactions}, { solved => 3, failed => 1 }, 'reaction votes');
is_deeply($s->{feedback}, { up => 2, down => 1 }, 'feedback votes');
is_deeply($s->{queue}, { queued => 2, running => 1, retry => 0, dead => 1, done => 1 },
    'queue by state');
is($s->{outbox_pending}, 0, 'outbox empty');
is(scalar @{ $s->{collections} }, 1, 'one collection');
my $c = $s->{collections}[0];
is($c->{name}, 'docs', 'collection name');
is($c->{generation}, 1, 'generation from rag-reindex');
is($c->{documents}, 3, '3 documents');
is($c->{chunks}, 4, '4 chunks');
ok($c->{indexed_at}, 'indexed_at');
is(scalar @{ $s->{daily} }, 30, '30 days of series');
my ($qsum, $asum, $ssum) = (0, 0, 0);
for (@{ $s->{daily} }) { $qsum += $_->{questions}; $asum += $_->{answers}; $ssum += $_->{solved} }
is($qsum, 5, 'daily questions add up');
is($asum, 3, 'daily answers add up (abstentions excluded)');
is($ssum, 2, 'daily solved add up');
is(api('summary?days=1')->{threads}, 1, 'days=1 window: one question');

my $t = api('threads')->{threads};
is(scalar @$t, 5, '5 threads');
is($t->[0]{thread_id}, 't4', 'newest first');
ok($t->[0]{answers}[0]{abstained}, 'abstained answer flagged');
my ($t1) = grep { $_->{thread_id} eq 't1' } @$t;
is($t1->{question}, 'How do I install it on Debian?', 'question text');
is($t1->{answers}[0]{sources}[0]{url}, 'https://docs.example/install#top', 'answer sources');
is($t1->{up}, 1, 'thumbs up counted');
ok(!grep({ exists $_->{author_id} } @$t), 'no author ids in threads API');
is(scalar @{ api('threads?limit=2')->{threads} }, 2, 'limit');
is(scalar @{ api('threads?guild=g2')->{threads} }, 0, 'guild filter');
is($http->get("${base}api/threads?guild=x'y", \%bearer)->{status}, 400, 'bad guild: 400');

my $g = api('gaps');
is($g->{questions}, 3, 'gap questions: abstain + downvote + unsolved');
is(scalar @{ $g->{clusters} }, 2, 'two clusters');
my $big = $g->{clusters}[0];
is($big->{count}, 2, 'replication-slot questions clustered');
is_deeply($big->{reasons}, { abstain => 1, unsolved => 1 }, 'cluster reasons');
like($big->{pages}[0]{url} // '', qr{^https://docs\.example/replication}, 'closest page');
is($g->{clusters}[1]{reasons}{downvote}, 1, 'downvoted thread is a gap');
like($g->{clusters}[1]{pages}[0]{url} // '', qr{^https://docs\.example/backup},
    'its closest page');
is(api('gaps?days=30')->{questions}, 2, 'days=30: the 10-day-old thread is not yet a gap');

# --- the page in a real browser -------------------------------------------------
SKIP: {
    my $chromium = `sh -c 'command -v chromium || command -v chromium-browser' 2>/dev/null`;
    chomp $chromium;
    skip 'chromium not installed (apt-get install chromium)', 6 unless $chromium;
    my @flags = ('--headless', '--no-sandbox', '--disable-gpu', '--disable-quic',
        '--no-first-run', '--disable-background-networking',
        '--disable-component-update', '--disable-sync',
        '--disable-dev-shm-usage', '--virtual-time-budget=10000',
        '--window-size=1280,900');
    # a browser signs in the README's way: the form, posted
    RagTest::write_file("$ng->{dir}/html/signin.html",
        qq{<!doctype html><form method="post" action="/dash/login">}
        . qq{<input type="password" name="token" value="$TOKEN"></form>}
        . qq{<script>document.forms[0].submit()</script>});
    my $url = "$ng->{url}/signin.html";
    my $profile = "$tmp/chrome-dom";
    my $dom = `$chromium @flags --user-data-dir=$profile --dump-dom '$url' 2>$tmp/chrome.log`;
    like($dom, qr/data-ready="1"/, 'JS ran and all APIs answered');
    like($dom, qr{id="k-answer-rate">60\.0%<}, 'answer rate rendered');
    like($dom, qr{id="k-solved-rate">40\.0%<}, 'solved rate rendered');
    like($dom, qr{id="k-median">2m 0s<}, 'median rendered');
    like($dom, qr{<svg[^>]*aria-label="questions and answers per day"}, 'daily chart drawn');
    my $png = $ENV{RAG_DASH_SHOT} || "$tmp/dashboard.png";  # keep it: set RAG_DASH_SHOT
    system("$chromium @flags --user-data-dir=$tmp/chrome-shot --screenshot=$png '$url' >>$tmp/chrome.log 2>&1");
    cmp_ok(-s $png // 0, '>', 30_000, 'screenshot is a real picture') or diag RagTest::slurp("$tmp/chrome.log");
}

# --- the token never reaches the access log ----------------------------------
my $access = RagTest::slurp("$ng->{dir}/logs/access.log");
like($access, qr{"POST /dash/login HTTP/1\.1" 303}, 'the sign-in is in the access log');
unlike($access, qr/\Q$TOKEN\E/, 'the token is not');

# A token in the URL is refused (nginx has already logged it by then):
# the operator is told to change it.
$r = $http->get("$base?token=$TOKEN");
is($r->{status}, 401, '?token= is not accepted');
like($r->{content}, qr/not accepted in the address/, '... and the page says why');
ok(!$r->{headers}{'set-cookie'}, '... no session for it');
is($http->get("${base}api/summary?token=$TOKEN", \%cookie)->{status}, 401,
    '?token= with a valid session: still 401');
like(RagTest::error_log($ng), qr/\[warn\][^\n]*dashboard token was sent in a URL[^\n]*change rag_dashboard_token/,
    'a warning in the error log to change the token');
unlike(RagTest::error_log($ng), qr/\Q$TOKEN\E/, 'the error log does not hold the token');

done_testing;
