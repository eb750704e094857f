package RawHTTP;

# A raw HTTP/1.1 client for the module's HTTP-layer tests: it sends bytes
# exactly as given (chunked bodies, pipelined requests, Expect:
# 100-continue, bodies trickled byte by byte) and parses every response
# the server sends back on that connection, interim 1xx ones included.
# Core Perl only.
#
#   my @res = RawHTTP::exchange($port, [ $req1, $req2 ], heads => [0, 1]);
#   $res[0]{status}, $res[0]{headers}{'content-type'}, $res[0]{body}
#
#   RawHTTP::request(method => 'POST', path => '/search', body => '{}',
#                    headers => [ 'Content-Type' => 'application/json' ],
#                    chunked => [3, 5])        # chunk sizes, cycled
#   returns the request bytes.

use strict;
use warnings;
use IO::Select;
use IO::Socket::INET;
use Time::HiRes qw(time sleep);

# request(method, path, headers => [k, v, ...], body => BYTES,
#         chunked => [sizes] | undef, no_length => 1, close => 1)
sub request {
    my (%o) = @_;
    my $method = $o{method} || 'GET';
    my $body = $o{body};
    my @h = ('Host' => 'localhost', @{ $o{headers} || [] });
    my $req = "$method $o{path} HTTP/1.1\r\n";
    if ($o{chunked}) {
        push @h, 'Transfer-Encoding' => 'chunked';
    } elsif (defined $body && !$o{no_length}) {
        push @h, 'Content-Length' => length $body;
    }
    push @h, 'Connection' => 'close' if $o{close};
    for (my $i = 0; $i < @h; $i += 2) {
        $req .= "$h[$i]: $h[$i + 1]\r\n";
    }
    $req .= "\r\n";
    if ($o{chunked}) {
        my @sizes = @{ $o{chunked} };
        my ($off, $i) = (0, 0);
        $body //= '';
        while ($off < length $body) {
            my $n = $sizes[$i++ % @sizes] || 1;
            my $part = substr($body, $off, $n);
            $req .= sprintf("%x\r\n%s\r\n", length $part, $part);
            $off += length $part;
        }
        $req .= "0\r\n\r\n";
    } elsif (defined $body) {
        $req .= $body;
    }
    return $req;
}

# Parses as many complete responses as $$buf holds; $heads->[i] is true
# when the i-th final response answers a HEAD (it has no body).
sub _parse {
    my ($buf, $heads, $out) = @_;
    while (1) {
        my $end = index($$buf, "\r\n\r\n");
        return if $end < 0;
        my $head = substr($$buf, 0, $end);
        my ($status_line, @lines) = split /\r\n/, $head;
        my ($status) = $status_line =~ m{^HTTP/1\.[01] (\d{3})} or
            die "bad status line: $status_line";
        my %h;
        for (@lines) {
            my ($k, $v) = /^([^:]+):\s*(.*)$/ or next;
            $k = lc $k;
            $h{$k} = exists $h{$k} ? "$h{$k}, $v" : $v;
        }
        my $rest = $end + 4;
        my $body = '';
        my $final = grep({ !$_->{interim} } @$out);
        my $is_head = $heads->[$final];
        if ($status < 200 || $status == 204 || $status == 304 || $is_head) {
            # no body
        } elsif (($h{'transfer-encoding'} // '') =~ /chunked/i) {
            my $p = $rest;
            while (1) {
                my $le = index($$buf, "\r\n", $p);
                return if $le < 0;
                my $n = hex substr($$buf, $p, $le - $p);
                return if length($$buf) < $le + 2 + $n + 2;
                $body .= substr($$buf, $le + 2, $n);
                $p = $le + 2 + $n + 2;
                if ($n == 0) { last }
            }
            $rest = $p;
        } elsif (defined $h{'content-length'}) {
            return if length($$buf) < $rest + $h{'content-length'};
            $body = substr($$buf, $rest, $h{'content-length'});
            $rest += $h{'content-length'};
        } else {
            return unless $h{'x-eof'};   # body until close
            $body = substr($$buf, $rest);
            $rest = length $$buf;
        }
        push @$out, { status => $status, headers => \%h, body => $body,
            interim => $status < 200 ? 1 : 0 };
        substr($$buf, 0, $rest) = '';
    }
}

# exchange($port, [chunks], %o): connects, writes each chunk in turn
# (o{gap}: seconds to sleep between chunks; o{trickle}: write the bytes
# one at a time with that many seconds between them; o{wait_continue}:
# after the first chunk wait for "100 Continue" or a final response
# before sending the rest), then reads until the server closes or
# o{timeout} (5 s) passes without data, or o{expect} final responses
# arrived. Returns the list of responses (interim ones flagged).
sub exchange {
    my ($port, $chunks, %o) = @_;
    my $timeout = $o{timeout} || 5;
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port,
        Proto => 'tcp', Timeout => 5) or die "connect: $!";
    $s->autoflush(1);
    binmode $s;
    my $sel = IO::Select->new($s);
    my ($buf, @out) = ('');
    my $heads = $o{heads} || [];
    my $read = sub {
        my ($wait) = @_;
        return 0 unless $sel->can_read($wait);
        my $n = sysread($s, my $data, 65536);
        if (!$n) { $buf .= ''; return -1 }
        $buf .= $data;
        _parse(\$buf, $heads, \@out);
        return 1;
    };
    my $eof = 0;
    my $i = 0;
    for my $c (@$chunks) {
        if ($o{trickle}) {
            for my $byte (split //, $c) {
                last unless defined syswrite($s, $byte);
                sleep $o{trickle};
            }
        } else {
            last unless defined syswrite($s, $c);
        }
        if ($i == 0 && $o{wait_continue} && @$chunks > 1) {
            my $end = time + $timeout;
            while (!@out && time < $end) {
                my $r = $read->(0.1);
                if ($r < 0) { $eof = 1; last }
            }
            last if $eof || grep { !$_->{interim} } @out;
        }
        sleep $o{gap} if $o{gap} && $i < $#$chunks;
        $i++;
    }
    my $want = $o{expect};
    my $last = time;
    while (!$eof && time - $last < $timeout) {
        last if $want && grep({ !$_->{interim} } @out) >= $want;
        my $r = $read->(0.2);
        if ($r < 0) { $eof = 1; last }
        $last = time if $r > 0;
    }
    if ($eof && length $buf) {
        # a response delimited by the close
        my ($hdr) = $buf =~ /^(.*?\r\n\r\n)/s;
        if ($hdr && $hdr !~ /content-length|transfer-encoding/i) {
            $buf =~ s/\r\n\r\n/\r\nX-Eof: 1\r\n\r\n/;
        }
        _parse(\$buf, $heads, \@out);
    }
    close $s;
    return @out;
}

# burst($port, [requests], timeout): sends every request on its own
# connection at once (each should say Connection: close), then reads all
# of them; returns the first final response of each, in order (undef for
# a connection that closed without one).
sub burst {
    my ($port, $reqs, $timeout) = @_;
    $timeout ||= 10;
    my (@socks, %buf, %done);
    for my $req (@$reqs) {
        my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
            PeerPort => $port, Proto => 'tcp', Timeout => 5) or die "connect: $!";
        binmode $s;
        syswrite($s, $req);
        push @socks, $s;
        $buf{$s} = '';
    }
    my $sel = IO::Select->new(@socks);
    my $end = time + $timeout;
    while ($sel->count && time < $end) {
        for my $s ($sel->can_read(0.2)) {
            my $n = sysread($s, my $data, 65536);
            if ($n) { $buf{$s} .= $data; next }
            $sel->remove($s);
        }
    }
    my @out;
    for my $s (@socks) {
        my @r;
        my $b = $buf{$s};
        eval { _parse(\$b, [], \@r) };
        push @out, (finals(@r))[0];
        close $s;
    }
    return @out;
}

# Final (non-1xx) responses only.
sub finals { return grep { !$_->{interim} } @_ }

1;
