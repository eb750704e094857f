# The OpenAI stand-in itself: request validation, response shapes,
# keep-alive, fault injection and the request log.
use strict;
use warnings;
use Test::More;
use HTTP::Tiny;
use JSON::PP;
use Time::HiRes qw(time);
use lib 't/lib';
use FakeOpenAI;

my $ai = FakeOpenAI->start(api_key => 'sk-test');
my $http = HTTP::Tiny->new(keep_alive => 1, timeout => 10);
my $J = JSON::PP->new->canonical;
sub post {
    my ($path, $body, $key) = @_;
    my $r = $http->post("$ai->{url}$path", {
        headers => { 'Content-Type' => 'application/json',
            ($key // 1) ? (Authorization => 'Bearer ' . ($key || 'sk-test')) : () },
        content => ref $body ? $J->encode($body) : $body });
    my $j = eval { $J->decode($r->{content}) };
    return ($r, $j);
}
my $chat = { model => 'm', temperature => 0.2, max_tokens => 100,
    messages => [{ role => 'system', content => "Passages:\n[1] Install with apt\n[2] Configure it" },
                 { role => 'user', content => 'How to install?' },
                 { role => 'assistant', content => 'Earlier answer' },
                 { role => 'user', content => 'And configure?' }] };

my ($r, $j) = post('/chat/completions', $chat);
is($r->{status}, 200, 'chat ok');
is($j->{object}, 'chat.completion', 'object');
like($j->{id}, qr/^chatcmpl-/, 'id');
is($j->{choices}[0]{message}{role}, 'assistant', 'assistant role');
like($j->{choices}[0]{message}{content}, qr/\[1\].*\[2\]/s, 'echo cites passages');
is($j->{choices}[0]{finish_reason}, 'stop', 'finish_reason');
ok($j->{usage}{total_tokens} > 0, 'usage');

($r, $j) = post('/chat/completions', $chat, 'wrong');
is($r->{status}, 401, 'wrong key 401');
is($j->{error}{code}, 'invalid_api_key', 'error shape');

for my $bad (
    [{ %$chat, model => undef }, 'model missing'],
    [{ %$chat, messages => [] }, 'empty messages'],
    [{ %$chat, messages => [{ role => 'bot', content => 'x' }] }, 'bad role'],
    [{ %$chat, messages => [{ role => 'user', content => [1] }] }, 'content not string'],
    [{ %$chat, temperature => 'hot' }, 'temperature not number'],
    [{ %$chat, max_tokens => -1 }, 'max_tokens negative'],
    [{ %$chat, bogus => 1 }, 'unknown field'],
    ['{not json', 'bad json']) {
    ($r, $j) = post('/chat/completions', $bad->[0]);
    is($r->{status}, 400, "400: $bad->[1]");
    ok($j->{error}{message} && $j->{error}{type}, "error json: $bad->[1]");
}

# embeddings: deterministic, normalised, similar texts closer
($r, $j) = post('/embeddings', { model => 'e', input => [
    'install the package with apt', 'install the package using apt',
    'the weather is cold today'], dimensions => 32 });
is($r->{status}, 200, 'embeddings ok');
is($j->{object}, 'list', 'list');
is(scalar @{ $j->{data} }, 3, 'three vectors');
is(scalar @{ $j->{data}[0]{embedding} }, 32, 'dimensions honoured');
is($j->{data}[2]{index}, 2, 'index');
my $dot = sub { my ($a, $b) = @_; my $s = 0; $s += $a->[$_] * $b->[$_] for 0 .. $#$a; $s };
my @v = map { $_->{embedding} } @{ $j->{data} };
ok(abs($dot->($v[0], $v[0]) - 1) < 1e-3, 'L2-normalised');
ok($dot->($v[0], $v[1]) > $dot->($v[0], $v[2]), 'similar texts more similar');
($r, $j) = post('/embeddings', { model => 'e', input => 'x' });
is(scalar @{ $j->{data}[0]{embedding} }, 64, 'default 64 dims');
($r) = post('/embeddings', { model => 'e', input => [''] });
is($r->{status}, 400, 'empty input rejected');

# faults
$ai->set(fail => [{ status => 429, retry_after => 2, retry_after_ms => 150 }, 500]);
($r) = post('/chat/completions', $chat);
is($r->{status}, 429, '429 injected');
is($r->{headers}{'retry-after'}, '2', 'Retry-After');
is($r->{headers}{'retry-after-ms'}, '150', 'retry-after-ms');
($r) = post('/embeddings', { model => 'e', input => 'x' });
is($r->{status}, 500, '500 injected on next request');
($r) = post('/chat/completions', $chat);
is($r->{status}, 200, 'then ok');

$ai->set(delay_next => [400]);
my $t0 = time;
($r) = post('/chat/completions', $chat);
ok(time - $t0 >= 0.35, 'delayed response');

$ai->set(drop => 1);
($r) = post('/chat/completions', $chat);
ok($r->{status} == 599, 'dropped mid-response');
($r) = post('/chat/completions', $chat);
is($r->{status}, 200, 'next one fine');

$ai->set(mode => 'nocover');
($r, $j) = post('/chat/completions', $chat);
like($j->{choices}[0]{message}{content}, qr/do not cover/, 'nocover mode');
$ai->set(reply => 'Fixed [1].');
($r, $j) = post('/chat/completions', $chat);
is($j->{choices}[0]{message}{content}, 'Fixed [1].', 'fixed reply');
$ai->set(script => ['one', 'two']);
(undef, $j) = post('/chat/completions', $chat);
is($j->{choices}[0]{message}{content}, 'one', 'script 1');
(undef, $j) = post('/chat/completions', $chat);
is($j->{choices}[0]{message}{content}, 'two', 'script 2');

# keep-alive with curl: several requests over one connection
SKIP: {
    skip 'no curl', 1 unless -x '/usr/bin/curl';
    my $b = $J->encode({ model => 'e', input => 'x' });
    my $out = `curl -sv -H 'Authorization: Bearer sk-test' -H 'Content-Type: application/json' -d '$b' $ai->{url}/embeddings -d '$b' --next -H 'Authorization: Bearer sk-test' -H 'Content-Type: application/json' -d '$b' $ai->{url}/embeddings 2>&1`;
    like($out, qr/Re-using existing connection|Reusing existing/i, 'curl reuses the connection');
}

my @log = $ai->requests('/v1/chat/completions');
ok(@log >= 10, 'requests logged');
is_deeply([map { $_->{role} } @{ $log[0]{body}{messages} }],
    [qw(system user assistant user)], 'roles logged');
is($log[0]{auth}, 'Bearer sk-test', 'auth logged');
$ai->clear_log;
is(scalar($ai->requests), 0, 'log cleared');
done_testing();
