package FakeOpenAI;

# A local OpenAI-compatible stand-in for the tests: POST /v1/chat/completions
# and POST /v1/embeddings on 127.0.0.1, validating request shapes the way
# the real API does (400 with OpenAI's error JSON otherwise), with fault
# injection the test controls. Core Perl only.
#
#   use lib 't/lib'; use FakeOpenAI;
#   my $ai = FakeOpenAI->start(api_key => 'sk-test');
#   $ai->{url}                      # http://127.0.0.1:PORT/v1
#   $ai->set(fail => [429, 500]);   # next two API requests fail
#   my @r = $ai->requests('/v1/chat/completions');  # logged bodies
#
# Options (to start() and set(); set() changes apply to the next request):
#   api_key        require "Authorization: Bearer <key>" (401 otherwise)
#   fail           [status, ...] for the next requests on any API path;
#                  an entry may be {status => 429, retry_after => 1,
#                  retry_after_ms => 200}
#   fail_chat, fail_embed   the same, for one endpoint only (used first)
#   retry_after    seconds sent with 429/503 (default 0); undef = none
#   retry_after_ms sent as retry-after-ms as well, when defined
#   delay_ms       delay every response by this much
#   delay_next     [ms, ...] extra delays for the next requests
#   drop           drop the connection mid-response for the next N requests
#   mode           'echo' (default): the answer cites every numbered
#                  passage "[n] ..." found in the prompt; 'fixed': reply
#                  with `reply`; 'nocover': reply with `nocover_text`
#   reply          fixed reply text (mode 'fixed', implied when set)
#   script         [text, ...] replies used once each, before `mode`
#   nocover_text   default "The docs do not cover this."
#   finish_reason  default "stop"
#   dims           default embedding size (64) when `dimensions` is absent
#
# Every request is logged as one JSON line {path, method, auth, status,
# body (parsed JSON or raw string)} in $ai->{log}. The server is a single
# select() loop process (state lives in one place; delayed responses are
# scheduled, not slept), stopped at END or by $ai->stop.

use strict;
use warnings;
use IO::Socket::INET;
use IO::Select;
use JSON::PP;
use Digest::MD5 qw(md5);
use File::Temp qw(tempdir);
use POSIX ();
use Socket qw(SOL_SOCKET SO_LINGER);
use Time::HiRes qw(time sleep);

my @servers;    # started in this process, stopped at END
my $owner = $$;
my $JSON = JSON::PP->new->canonical->allow_nonref;

sub start {
    my ($class, %opt) = @_;
    my $dir = tempdir('fakeopenai-XXXXXX', TMPDIR => 1, CLEANUP => !$ENV{RAG_KEEP});
    my $log = "$dir/requests.jsonl";
    my $lsn = IO::Socket::INET->new(LocalAddr => '127.0.0.1',
        LocalPort => $opt{port} || 0, Proto => 'tcp', Listen => 128,
        ReuseAddr => 1) or die "FakeOpenAI: listen: $!";
    my $port = $lsn->sockport;
    open my $lfh, '>', $log or die "FakeOpenAI: $log: $!";
    close $lfh;
    my $pid = fork // die "FakeOpenAI: fork: $!";
    if ($pid == 0) {
        $0 = "FakeOpenAI:$port";
        my $ok = eval { _serve($lsn, $log, \%opt); 1 };
        print STDERR "FakeOpenAI: $@" unless $ok;
        POSIX::_exit(0);
    }
    close $lsn;
    my $self = bless { pid => $pid, port => $port, dir => $dir, log => $log,
        url => "http://127.0.0.1:$port/v1",
        base => "http://127.0.0.1:$port" }, $class;
    push @servers, $self;
    return $self;
}

# Changes the behaviour; takes effect before the next request is served.
sub set {
    my ($self, %opt) = @_;
    my $r = $self->_control(\%opt);
    die "FakeOpenAI set: $r" unless $r eq 'ok';
    return $self;
}

sub _control {
    my ($self, $h) = @_;
    my $body = $JSON->encode($h);
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
        PeerPort => $self->{port}, Proto => 'tcp', Timeout => 5)
        or die "FakeOpenAI control: $!";
    print $s "POST /_control HTTP/1.1\r\nHost: x\r\nConnection: close\r\n",
        "Content-Type: application/json\r\nContent-Length: ",
        length($body), "\r\n\r\n", $body;
    local $/;
    my $resp = <$s> // '';
    close $s;
    return $resp =~ /\r\n\r\n(.*)\z/s ? $1 : "bad response: $resp";
}

# Logged requests (hashes), optionally only those for one path.
sub requests {
    my ($self, $path) = @_;
    open my $fh, '<', $self->{log} or return ();
    my @r;
    while (my $l = <$fh>) {
        my $e = eval { $JSON->decode($l) } or next;
        push @r, $e if !defined $path || $e->{path} eq $path;
    }
    close $fh;
    return @r;
}

sub clear_log {
    my ($self) = @_;
    $self->_control({ clear_log => 1 }) eq 'ok' or die "clear_log failed";
}

sub stop {
    my ($self) = @_;
    return unless $self->{pid};
    kill 'TERM', $self->{pid};
    waitpid($self->{pid}, 0);
    $self->{pid} = 0;
}

END {
    if ($$ == $owner) {
        my $st = $?;
        $_->stop for @servers;
        $? = $st;
    }
}

# --- deterministic embeddings -------------------------------------------------

# Hashed bag of words: each lower-cased word adds +-1 to one of dims
# buckets (MD5-based, so stable across runs and machines), then the
# vector is L2-normalised. Texts sharing words have high cosine.
sub embed_text {
    my ($text, $dims) = @_;
    my @v = (0) x $dims;
    my @words = lc($text) =~ /([[:alnum:]]+)/g;
    @words = ($text) unless @words;
    for my $w (@words) {
        my ($a, $b) = unpack('NN', md5($w));
        $v[$a % $dims] += ($b & 1) ? 1 : -1;
    }
    my $n = 0;
    $n += $_ * $_ for @v;
    if ($n == 0) { $v[0] = 1; $n = 1 }
    $n = sqrt($n);
    return [map { 0 + sprintf('%.6f', $_ / $n) } @v];
}

# --- server ---------------------------------------------------------------------

sub _serve {
    my ($lsn, $log, $opt) = @_;
    my %st = (mode => 'echo', retry_after => 0, delay_ms => 0,
        nocover_text => 'The docs do not cover this.', finish_reason => 'stop',
        dims => 64, fail => [], fail_chat => [], fail_embed => [],
        delay_next => [], drop => 0, script => [], seq => 0);
    _apply(\%st, $opt);
    $SIG{PIPE} = 'IGNORE';
    $SIG{TERM} = sub { POSIX::_exit(0) };
    my $sel = IO::Select->new($lsn);
    my %c;    # fileno => {sock, in, out, due, drop, close}
    while (1) {
        my $now = time;
        my $timeout = 1;
        for my $k (keys %c) {
            my $x = $c{$k};
            $timeout = 0 if $x->{reparse};
            next unless $x->{out_pending};
            my $d = $x->{due} - $now;
            $timeout = $d if $d < $timeout;
        }
        $timeout = 0 if $timeout < 0;
        my @ready = $sel->can_read($timeout);
        for my $s (@ready) {
            if ($s == $lsn) {
                my $n = $lsn->accept or next;
                $n->blocking(1);
                $sel->add($n);
                $c{fileno $n} = { sock => $n, in => '' };
                next;
            }
            my $x = $c{fileno $s} or next;
            my $got = sysread($s, my $buf, 65536);
            if (!$got) { _close(\%c, $sel, $s); next }
            $x->{in} .= $buf;
            if (length $x->{in} > 40 * 1024 * 1024) {
                _close(\%c, $sel, $s); next;
            }
        }
        # Parse complete requests on connections not waiting to answer.
        for my $k (keys %c) {
            my $x = $c{$k};
            next if $x->{out_pending};
            $x->{reparse} = 0;
            my $req = _parse($x) or next;
            if ($req eq 'bad') { _close(\%c, $sel, $x->{sock}); next }
            _handle(\%st, $log, $x, $req);
        }
        # Send responses that are due.
        $now = time;
        for my $k (keys %c) {
            my $x = $c{$k};
            next unless $x->{out_pending} && $x->{due} <= $now;
            my $s = $x->{sock};
            $x->{out_pending} = 0;
            if ($x->{drop}) {
                # headers and half the body, then a hard close (RST)
                my $cut = $x->{hlen} + int($x->{blen} / 2);
                syswrite($s, substr($x->{out}, 0, $cut));
                setsockopt($s, SOL_SOCKET, SO_LINGER, pack('ii', 1, 0));
                _close(\%c, $sel, $s);
                next;
            }
            my $off = 0;
            while ($off < length $x->{out}) {
                my $w = syswrite($s, $x->{out}, length($x->{out}) - $off, $off);
                last unless $w;
                $off += $w;
            }
            if ($x->{close}) { _close(\%c, $sel, $s); next }
            $x->{reparse} = 1 if length $x->{in};    # pipelined request
        }
    }
}

sub _close {
    my ($c, $sel, $s) = @_;
    delete $c->{fileno $s};
    $sel->remove($s);
    close $s;
}

sub _apply {
    my ($st, $o) = @_;
    for my $k (keys %$o) {
        my $v = $o->{$k};
        if ($k =~ /^(fail|fail_chat|fail_embed|delay_next|script)$/) {
            $st->{$k} = [ref $v eq 'ARRAY' ? @$v : ($v)];
        } elsif ($k eq 'reply') {
            $st->{reply} = $v;
            $st->{mode} = 'fixed' if defined $v;
        } else {
            $st->{$k} = $v;
        }
    }
}

# Returns a request hash, undef if incomplete, or 'bad'.
sub _parse {
    my ($x) = @_;
    my $end = index($x->{in}, "\r\n\r\n");
    return undef if $end < 0;
    my $head = substr($x->{in}, 0, $end);
    my ($line, @h) = split /\r\n/, $head;
    my ($method, $path, $ver) = $line =~ m{^(\S+) (\S+) (HTTP/1\.[01])$}
        or return 'bad';
    my %h;
    for (@h) {
        my ($n, $v) = /^([^:]+):\s*(.*?)\s*$/ or return 'bad';
        $h{lc $n} = $v;
    }
    if (($h{'transfer-encoding'} // '') =~ /chunked/i) {
        return 'bad';    # libcurl sends Content-Length for POSTFIELDS
    }
    my $len = $h{'content-length'} // 0;
    return 'bad' unless $len =~ /^\d+$/;
    if (($h{expect} // '') =~ /100-continue/i && !$x->{continued}) {
        syswrite($x->{sock}, "HTTP/1.1 100 Continue\r\n\r\n");
        $x->{continued} = 1;
    }
    return undef if length($x->{in}) < $end + 4 + $len;
    my $body = substr($x->{in}, $end + 4, $len);
    substr($x->{in}, 0, $end + 4 + $len) = '';
    $x->{continued} = 0;
    my $close = ($ver eq 'HTTP/1.0' && ($h{connection} // '') !~ /keep-alive/i)
        || ($h{connection} // '') =~ /close/i;
    return { method => $method, path => $path, headers => \%h,
        body => $body, close => $close };
}

sub _err {
    my ($status, $msg, $type, $param, $code) = @_;
    return ($status, { error => { message => $msg, type => $type,
        param => $param, code => $code } });
}

sub _is_num { defined $_[0] && !ref $_[0] && $_[0] =~ /^-?\d+(\.\d+)?([eE][-+]?\d+)?$/ }

sub _handle {
    my ($st, $log, $x, $req) = @_;
    my ($status, $resp, @hdr);
    my $path = $req->{path};
    my $parsed = eval { $JSON->decode($req->{body}) };
    my $api = $path eq '/v1/chat/completions' || $path eq '/v1/embeddings';
    my $extra_delay = 0;
    my $drop = 0;
    if ($path eq '/_control' && $req->{method} eq 'POST') {
        if (ref $parsed eq 'HASH' && $parsed->{clear_log}) {
            open my $fh, '>', $log; close $fh;
        } elsif (ref $parsed eq 'HASH') {
            _apply($st, $parsed);
        }
        _respond($x, 200, 'ok', 'text/plain', 0, $req->{close});
        return;
    }
    if (!$api) {
        ($status, $resp) = _err(404, "Invalid URL ($req->{method} $path)",
            'invalid_request_error', undef, undef);
    } elsif ($req->{method} ne 'POST') {
        ($status, $resp) = _err(405, "Method not allowed",
            'invalid_request_error', undef, undef);
    } elsif (defined $st->{api_key}
        && ($req->{headers}{authorization} // '') ne "Bearer $st->{api_key}") {
        ($status, $resp) = _err(401, 'Incorrect API key provided.',
            'invalid_request_error', undef, 'invalid_api_key');
    } else {
        my $which = $path =~ /chat/ ? 'fail_chat' : 'fail_embed';
        my $f = shift(@{ $st->{$which} }) // shift(@{ $st->{fail} });
        $extra_delay = shift(@{ $st->{delay_next} }) // 0;
        if ($st->{drop} > 0) { $st->{drop}--; $drop = 1 }
        if (defined $f) {
            my %f = ref $f ? %$f : (status => $f);
            $status = $f{status};
            my $ra = exists $f{retry_after} ? $f{retry_after} : $st->{retry_after};
            my $ram = exists $f{retry_after_ms} ? $f{retry_after_ms} : $st->{retry_after_ms};
            if ($status == 429 || $status == 503) {
                push @hdr, "Retry-After: $ra" if defined $ra;
                push @hdr, "retry-after-ms: $ram" if defined $ram;
            }
            if ($status == 429) {
                ($status, $resp) = _err(429, 'Rate limit reached for requests',
                    'requests', undef, 'rate_limit_exceeded');
            } else {
                ($status, $resp) = _err($status,
                    'The server had an error while processing your request.',
                    'server_error', undef, undef);
            }
        } elsif (!defined $parsed || ref $parsed ne 'HASH') {
            ($status, $resp) = _err(400, 'We could not parse the JSON body of '
                . 'your request.', 'invalid_request_error', undef, undef);
        } elsif ($path =~ /chat/) {
            ($status, $resp) = _chat($st, $parsed);
        } else {
            ($status, $resp) = _embeddings($st, $parsed);
        }
    }
    my $auth = $req->{headers}{authorization};
    my $entry = { seq => ++$st->{seq}, time => time, method => $req->{method},
        path => $path, status => $status,
        auth => defined $auth ? $auth : undef,
        body => defined $parsed ? $parsed : $req->{body} };
    if (open my $fh, '>>', $log) {
        print $fh $JSON->encode($entry), "\n";
        close $fh;
    }
    $x->{drop} = $drop;
    _respond($x, $status, $JSON->encode($resp), 'application/json',
        ($st->{delay_ms} + $extra_delay) / 1000, $req->{close}, @hdr);
}

sub _respond {
    my ($x, $status, $body, $ctype, $delay, $close, @hdr) = @_;
    my %reason = (200 => 'OK', 400 => 'Bad Request', 401 => 'Unauthorized',
        404 => 'Not Found', 405 => 'Method Not Allowed',
        429 => 'Too Many Requests', 500 => 'Internal Server Error',
        502 => 'Bad Gateway', 503 => 'Service Unavailable');
    my $out = "HTTP/1.1 $status " . ($reason{$status} // 'Status') . "\r\n"
        . "Content-Type: $ctype\r\nContent-Length: " . length($body) . "\r\n"
        . join('', map { "$_\r\n" } @hdr)
        . ($close ? "Connection: close\r\n" : '') . "\r\n" . $body;
    $x->{out} = $out;
    $x->{hlen} = length($out) - length($body);
    $x->{blen} = length($body);
    $x->{close} = $close;
    $x->{due} = time + $delay;
    $x->{out_pending} = 1;
}

my %CHAT_KEYS = map { $_ => 1 } qw(model messages temperature max_tokens
    max_completion_tokens top_p n stop presence_penalty frequency_penalty
    user seed response_format stream);

sub _chat {
    my ($st, $b) = @_;
    for my $k (sort keys %$b) {
        return _err(400, "Unrecognized request argument supplied: $k",
            'invalid_request_error', undef, undef) unless $CHAT_KEYS{$k};
    }
    return _err(400, "you must provide a model parameter",
        'invalid_request_error', undef, undef)
        unless defined $b->{model} && !ref $b->{model} && length $b->{model};
    my $m = $b->{messages};
    return _err(400, "'messages' must be a non-empty array",
        'invalid_request_error', 'messages', undef)
        unless ref $m eq 'ARRAY' && @$m;
    for my $i (0 .. $#$m) {
        my $e = $m->[$i];
        return _err(400, "Invalid type for 'messages[$i]': expected an object",
            'invalid_request_error', "messages[$i]", 'invalid_type')
            unless ref $e eq 'HASH';
        return _err(400, "Invalid value for 'messages[$i].role'",
            'invalid_request_error', "messages[$i].role", 'invalid_value')
            unless defined $e->{role} && !ref $e->{role}
            && $e->{role} =~ /^(system|user|assistant|tool)$/;
        return _err(400, "Invalid type for 'messages[$i].content': expected a string",
            'invalid_request_error', "messages[$i].content", 'invalid_type')
            unless defined $e->{content} && !ref $e->{content};
        for my $k (keys %$e) {
            return _err(400, "Unrecognized field messages[$i].$k",
                'invalid_request_error', "messages[$i].$k", undef)
                unless $k =~ /^(role|content|name|tool_call_id)$/;
        }
    }
    if (exists $b->{temperature}) {
        return _err(400, "Invalid 'temperature': expected a number in [0, 2]",
            'invalid_request_error', 'temperature', 'invalid_value')
            unless _is_num($b->{temperature}) && $b->{temperature} >= 0
            && $b->{temperature} <= 2;
    }
    for my $k (qw(max_tokens max_completion_tokens)) {
        next unless exists $b->{$k};
        return _err(400, "Invalid '$k': expected a positive integer",
            'invalid_request_error', $k, 'invalid_value')
            unless defined $b->{$k} && !ref $b->{$k} && $b->{$k} =~ /^\d+$/
            && $b->{$k} > 0;
    }
    return _err(400, "stream is not supported by this stand-in",
        'invalid_request_error', 'stream', undef)
        if $b->{stream} && !(JSON::PP::is_bool($b->{stream}) && !$b->{stream});

    my $content;
    if (@{ $st->{script} }) {
        $content = shift @{ $st->{script} };
    } elsif ($st->{mode} eq 'fixed') {
        $content = $st->{reply} // '';
    } elsif ($st->{mode} eq 'nocover') {
        $content = $st->{nocover_text};
    } else {
        $content = _echo($m);
    }
    my $ptok = 0;
    $ptok += int(length($_->{content}) / 4) + 4 for @$m;
    my $ctok = int(length($content) / 4) + 1;
    return (200, {
        id => sprintf('chatcmpl-fake%06d', $st->{seq} + 1),
        object => 'chat.completion', created => int(time), model => $b->{model},
        system_fingerprint => 'fp_fake',
        choices => [{ index => 0, logprobs => undef,
            message => { role => 'assistant', content => $content,
                refusal => undef },
            finish_reason => $st->{finish_reason} }],
        usage => { prompt_tokens => $ptok, completion_tokens => $ctok,
            total_tokens => $ptok + $ctok } });
}

# The echo answer: one sentence per numbered passage "[n] ..." found at a
# line start in the system/user messages, each citing [n], so tests can
# check that citations map to what the worker retrieved.
sub _echo {
    my ($m) = @_;
    my (@n, %seen);
    for my $e (@$m) {
        next unless $e->{role} eq 'system' || $e->{role} eq 'user';
        while ($e->{content} =~ /^\[(\d+)\][ \t]*([^\n]*)/mg) {
            push @n, [$1, $2] unless $seen{$1}++;
        }
    }
    return 'I found no numbered passages.' unless @n;
    return join(' ', map {
        my $t = substr($_->[1], 0, 60);
        $t =~ s/[\[\]]//g;
        "Passage $_->[0] says: $t [$_->[0]]."
    } @n);
}

sub _embeddings {
    my ($st, $b) = @_;
    for my $k (sort keys %$b) {
        return _err(400, "Unrecognized request argument supplied: $k",
            'invalid_request_error', undef, undef)
            unless $k =~ /^(input|model|dimensions|encoding_format|user)$/;
    }
    return _err(400, "you must provide a model parameter",
        'invalid_request_error', undef, undef)
        unless defined $b->{model} && !ref $b->{model} && length $b->{model};
    my $in = $b->{input};
    my @in = ref $in eq 'ARRAY' ? @$in : ($in);
    return _err(400, "'\$.input' is invalid. Please check the API reference",
        'invalid_request_error', 'input', undef)
        unless defined $in && (!ref $in || ref $in eq 'ARRAY') && @in
        && @in <= 2048 && !grep { !defined $_ || ref $_ || $_ eq '' } @in;
    my $dims = $st->{dims};
    if (exists $b->{dimensions}) {
        return _err(400, "Invalid 'dimensions': expected a positive integer",
            'invalid_request_error', 'dimensions', 'invalid_value')
            unless defined $b->{dimensions} && $b->{dimensions} =~ /^\d+$/
            && $b->{dimensions} > 0 && $b->{dimensions} <= 4096;
        $dims = $b->{dimensions};
    }
    return _err(400, "encoding_format must be 'float' in this stand-in",
        'invalid_request_error', 'encoding_format', undef)
        if defined $b->{encoding_format} && $b->{encoding_format} ne 'float';
    my $tok = 0;
    $tok += int(length($_) / 4) + 1 for @in;
    return (200, { object => 'list', model => $b->{model},
        data => [map { { object => 'embedding', index => $_,
            embedding => embed_text($in[$_], $dims) } } 0 .. $#in],
        usage => { prompt_tokens => $tok, total_tokens => $tok } });
}

1;
