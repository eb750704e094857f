package FakeDiscord;

# A Discord stand-in on 127.0.0.1 for the rag-bot tests: the gateway
# (WebSocket, API v10 JSON) and the REST endpoints the bot uses, on one
# port, in a forked child running a select loop. Core Perl only.
#
#   my $fd = FakeDiscord->start(dir => $tmp, token => 'T', bot_id => '9',
#                               app_id => '8', heartbeat_interval => 45000,
#                               gateway_base => 'wss://localhost:PORT');
#   $fd->api_base  # http://127.0.0.1:PORT/api/v10 (discord_api_base)
#   $fd->channel(id => ..., guild_id => ..., parent_id => ..., name => ...,
#                owner_id => ...);   # a thread (type 10-12, the default 11)
#                                    # needs owner_id, as Discord's always has
#   $fd->dispatch('MESSAGE_CREATE', {...});   # sent (or kept for RESUME)
#   $fd->fault(withhold_acks => 1) / (drop => 1) / (op7 => 1)
#       / (op9 => JSON::PP::false) / (close => 4014)
#       / (rest => {method => 'POST', path => qr, status => 429,
#                   body => {...}, delay_ms => N, count => 1})
#       / (rest => {path => qr, headers => {'X-RateLimit-Remaining' => 0,
#                   'X-RateLimit-Reset-After' => 1.5}})  # a normal answer
#       / (delete_channel => ID) / (delete_message => ID) / (forget_nonces => 1)
#       / (clear_faults => 1) / (token => 'new')  # the old one gets 401
#   $fd->channel(id => ..., no_access => 1)  # 50001 on every request there
#   $fd->channel(id => ..., no_send => 1)    # 50013 on POST .../messages
#   $fd->records  # everything received, as hashes (JSON lines file)
#   $fd->messages # the bot's messages that exist now, { id => message }
#   $fd->channels # the channels as Discord has them now, { id => channel }
#   $fd->guild(id => G, owner_id => U, roles => [{id, permissions}],
#              members => {user_id => [role ids]})  # for GET /guilds/...
#   $fd->app(flags => N)   # GET /applications/@me flags (default: the
#                          # Message Content intent, limited, 1 << 19)
#
# It validates what the docs require of a client: masked frames,
# IDENTIFY / RESUME / heartbeat shapes, the Bot token, a DiscordBot
# User-Agent, embed limits (4096 description, 256 title, 6000 total, 10
# per message), nonce length (<= 25) and enforce_nonce deduplication
# (the existing message is returned). Like Discord it enforces its rate
# limits: a request on a route still inside a 429's retry_after, on an
# exhausted bucket, or beyond 50 requests/s (interaction callbacks
# excepted) gets a 429. An interaction must be answered once, within 3 s
# of its dispatch (10062 Unknown interaction, 40060 already
# acknowledged). Command sets are checked against the application
# commands rules (names, lengths, option order and types, 25 options,
# 100 commands; 400 with Discord's nested errors) and the 200 creates a
# day per guild. Messages and reactions follow Discord's thread rules:
# an empty message is refused (50006), reactions need the message to be
# in that channel (10008) and an URL-encoded emoji (10014), nothing but a
# new message may touch an archived thread (50083; a new message
# unarchives it, with a THREAD_UPDATE, unless it is locked: 160005).
# DELETE of a message: the bot's own only (another user's: 50013 and a
# violation), 10008 when unknown, 204 and a MESSAGE_DELETE dispatch; in
# an archived thread too, unless it is locked and the bot lacks Manage
# Threads (50083). PATCH of a thread follows the docs' permissions
# (archived: creator or Manage Threads, but unarchiving an unlocked
# thread is free; locked: Manage Threads; 50013) and fires THREAD_UPDATE.
# Violations are recorded with kind => 'violation'.
#
# Sharding (start(shards => N, max_concurrency => M, guild_ids => [...],
# min_shards => K)): GET /gateway/bot recommends N shards and M
# concurrent identifies; several gateway connections live at once, each
# an IDENTIFY with "shard": [id, count] (0 <= id < count, else close 4010
# Invalid shard; count < K, or none, closes 4011 Sharding required); a
# guild's events go only to the session of shard (guild_id >> 22) % count
# (others, and DMs, to shard 0), READY lists that shard's guilds; more
# than one IDENTIFY per bucket (id % M) in 5 s is a violation answered
# with op 9, as Discord invalidates such sessions. Like Discord, it does
# not stop two sessions identified for one shard: each gets the shard's
# events (state: identified => {shard => [session ids]}, shard_live =>
# {shard => connections live on it}); a close with 1000/1001 ends the
# session (no RESUME).

use strict;
use warnings;
use IO::Socket::INET;
use IO::Select;
use Digest::SHA qw(sha1);
use MIME::Base64 qw(encode_base64);
use JSON::PP;
use Time::HiRes qw(time sleep);
use POSIX qw(:sys_wait_h);
use HTTP::Tiny;

my $JSON = JSON::PP->new->utf8->canonical->allow_nonref;
my $GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';
my @servers;
my $owner = $$;

sub start {
    my ($class, %o) = @_;
    my $sock = IO::Socket::INET->new(LocalAddr => '127.0.0.1',
        LocalPort => 0, Listen => 64, Proto => 'tcp', ReuseAddr => 1)
        or die "listen: $!";
    my $self = bless {
        port => $sock->sockport, dir => $o{dir},
        records_file => "$o{dir}/discord-records.jsonl",
        token => $o{token} // 'test-token',
        bot_id => $o{bot_id} // '900000000000000001',
        app_id => $o{app_id} // '800000000000000001',
        guild_id => $o{guild_id} // '100000000000000001',
        heartbeat_interval => $o{heartbeat_interval} // 45000,
        # what GET /gateway/bot and READY advertise (e.g. a TLS front)
        gateway_base => $o{gateway_base},
        shards => $o{shards} // 1, max_concurrency => $o{max_concurrency} // 1,
        min_shards => $o{min_shards} // 0, guild_ids => $o{guild_ids},
    }, $class;
    open my $fh, '>', $self->{records_file} or die;
    close $fh;
    my $pid = fork // die "fork: $!";
    if ($pid == 0) {
        $self->_serve($sock);
        POSIX::_exit(0);
    }
    close $sock;
    $self->{pid} = $pid;
    push @servers, $self;
    return $self;
}

sub url { "http://127.0.0.1:$_[0]{port}" }
sub api_base { $_[0]->url . '/api/v10' }
sub gateway_url { "ws://127.0.0.1:$_[0]{port}/gw" }

sub _ctl {
    my ($self, %req) = @_;
    my $r = HTTP::Tiny->new(timeout => 10)->post($self->url . '/_ctl',
        { content => $JSON->encode(\%req),
          headers => { 'content-type' => 'application/json' } });
    die "control failed: $r->{status} $r->{content}" unless $r->{success};
    return $JSON->decode($r->{content});
}

sub dispatch { my ($s, $t, $d) = @_; $s->_ctl(action => 'dispatch', t => $t, d => $d) }
sub fault    { my ($s, %f) = @_; $s->_ctl(action => 'fault', %f) }
sub channel {
    my ($s, %c) = @_;
    # Discord's thread objects always carry their creator; a stand-in
    # thread without one let the bot track it with no author (t/59)
    die "FakeDiscord: thread channel $c{id} needs owner_id\n"
        if defined $c{parent_id} && ($c{type} // 11) =~ /^1[012]$/
        && !defined $c{owner_id};
    $s->_ctl(action => 'channel', channel => \%c);
}
sub state    { my ($s) = @_; $s->_ctl(action => 'state') }
sub channels { my ($s) = @_; $s->_ctl(action => 'channels')->{channels} }
# A user's message in a thread, as the gateway dispatches it:
#   $fd->user_message(id => M, thread => T, user => U, text => '...',
#                     [guild => G], [mention => 1], [username => 'u'])
# A new forum post as Discord announces it: the thread channel,
# THREAD_CREATE, then its starter message (whose id is the thread's):
#   $fd->forum_post(id => T, guild => G, forum => F, user => U,
#                   text => '...', [title => '...'], [username => 'u'])
sub forum_post {
    my ($s, %p) = @_;
    my $g = $p{guild} // $s->{guild_id};
    my $title = $p{title} // "q$p{id}";
    $s->channel(id => $p{id}, guild_id => $g, parent_id => $p{forum}, name => $title,
        owner_id => $p{user});
    $s->dispatch(THREAD_CREATE => { id => $p{id}, guild_id => $g, parent_id => $p{forum},
        name => $title, owner_id => $p{user}, type => 11, newly_created => JSON::PP::true });
    $s->user_message(id => $p{id}, thread => $p{id}, guild => $g, user => $p{user},
        username => $p{username}, text => $p{text});
}
sub user_message {
    my ($s, %m) = @_;
    $s->dispatch(MESSAGE_CREATE => { id => $m{id}, channel_id => $m{thread},
        guild_id => $m{guild} // $s->{guild_id},
        author => { id => $m{user}, username => $m{username} // "u$m{user}" },
        content => $m{text},
        mentions => $m{mention} ? [ { id => $s->{bot_id} } ] : [] });
}
sub guild    { my ($s, %g) = @_; $s->_ctl(action => 'guild', guild => \%g) }
sub app      { my ($s, %a) = @_; $s->_ctl(action => 'app', app => \%a) }
# the bot's messages that exist now, by id
sub messages { my ($s) = @_; $s->_ctl(action => 'messages')->{messages} }

sub records {
    my ($self, %f) = @_;
    open my $fh, '<', $self->{records_file} or return ();
    my @r;
    while (my $l = <$fh>) {
        my $x = eval { $JSON->decode($l) } or next;
        next if $f{kind} && $x->{kind} ne $f{kind};
        push @r, $x;
    }
    return @r;
}

# Environment for rag-bot pointed at this stand-in.
sub bot_env {
    my ($self, $pg, %extra) = @_;
    return { RAG_DATABASE_URL => $pg->{conninfo},
        RAG_DISCORD_TOKEN => $self->{token},
        RAG_DISCORD_API_BASE => $self->api_base,
        RAG_OUTBOX_POLL_MS => 200, RAG_OUTBOX_LEASE_S => 3,
        RAG_GATEWAY_BACKOFF_MS => 200, RAG_LOG_LEVEL => 'debug', %extra };
}

# Records matching a predicate, e.g. rest(method => 'POST', path => qr).
sub rest {
    my ($self, %m) = @_;
    return grep {
        (!$m{method} || $_->{method} eq $m{method})
            && (!$m{path} || $_->{path} =~ $m{path})
    } $self->records(kind => 'rest');
}

sub gw { my ($self, $op) = @_; grep { $_->{op} == $op } $self->records(kind => 'gw') }

sub stop {
    my ($self) = @_;
    return unless $self->{pid};
    kill 'TERM', $self->{pid};
    waitpid($self->{pid}, 0);
    delete $self->{pid};
}

END { return unless $$ == $owner; $_->stop for @servers }

# --- server (child) ---------------------------------------------------------

sub _record {
    my ($st, $rec) = @_;
    $rec->{t} = sprintf('%.3f', time);
    open my $fh, '>>', $st->{records_file} or return;
    print $fh $JSON->encode($rec), "\n";
    close $fh;
}

sub _serve {
    my ($self, $lsock) = @_;
    $SIG{TERM} = sub { POSIX::_exit(0) };
    $SIG{PIPE} = 'IGNORE';   # a client gone mid-write must not kill us
    my $st = $self;
    $st->{conns} = {};
    $st->{sel} = IO::Select->new($lsock);
    $st->{channels} = {};
    $st->{messages} = {};   # id -> message
    $st->{nonces} = {};     # "channel:nonce" -> message id
    $st->{sessions} = {};   # session_id -> {seq, log => [payloads]}
    $st->{next_id} = 1200000000000000000;
    $st->{faults} = [];
    $st->{bucket} = {};
    $lsock->blocking(0);
    while (1) {
        my $now = time;
        my $timeout = 0.05;
        for my $c (values %{ $st->{conns} }) {
            for my $p (@{ $c->{pending} }) {
                my $left = $p->[0] - $now;
                $timeout = $left if $left < $timeout;
            }
        }
        $timeout = 0 if $timeout < 0;
        my @ready = $st->{sel}->can_read($timeout);
        for my $fh (@ready) {
            if ($fh == $lsock) {
                while (my $c = $lsock->accept) {
                    $c->blocking(0);
                    $st->{sel}->add($c);
                    $st->{conns}{fileno $c} = { fh => $c, in => '',
                        mode => 'http', pending => [] };
                }
                next;
            }
            my $c = $st->{conns}{fileno $fh} or next;
            my $n = sysread($fh, my $buf, 65536);
            if (!defined $n) { next if $!{EAGAIN}; _drop($st, $c); next }
            if ($n == 0) { _drop($st, $c); next }
            $c->{in} .= $buf;
            if ($c->{mode} eq 'http') { _http($st, $c) }
            else { _ws_in($st, $c) }
        }
        # delayed responses whose time has come
        $now = time;
        for my $c (values %{ $st->{conns} }) {
            while (@{ $c->{pending} } && $c->{pending}[0][0] <= $now) {
                my $p = shift @{ $c->{pending} };
                _write($st, $c, $p->[1]);
            }
        }
    }
}

sub _write {
    my ($st, $c, $data) = @_;
    return if $c->{closed};
    my $fh = $c->{fh};
    $fh->blocking(1);
    my $off = 0;
    while ($off < length $data) {
        my $w = syswrite($fh, $data, length($data) - $off, $off);
        if (!defined $w) { _drop($st, $c); return }
        $off += $w;
    }
    $fh->blocking(0);
}

sub _drop {
    my ($st, $c) = @_;
    return if $c->{closed};
    $c->{closed} = 1;
    if ($c->{mode} eq 'ws') {
        _record($st, { kind => 'gw_conn', event => 'closed', conn => $c->{id},
            last_s => $c->{last_s} // 0 });
        delete $st->{ws_conn} if $st->{ws_conn} && $st->{ws_conn} == $c;
        delete $st->{ws_conns}{ $c->{id} };
    }
    $st->{sel}->remove($c->{fh});
    delete $st->{conns}{fileno $c->{fh}};
    close $c->{fh};
}

# --- HTTP -------------------------------------------------------------------

sub _http {
    my ($st, $c) = @_;
    while (1) {
        my $end = index($c->{in}, "\r\n\r\n");
        return if $end < 0;
        my $head = substr($c->{in}, 0, $end);
        my ($line, @h) = split /\r\n/, $head;
        my ($method, $target) = $line =~ m{^(\S+) (\S+) HTTP/1\.[01]$}
            or return _drop($st, $c);
        my %h;
        for (@h) { my ($k, $v) = /^([^:]+):\s*(.*)$/ or next; $h{lc $k} = $v }
        my $len = $h{'content-length'} // 0;
        return if length($c->{in}) < $end + 4 + $len;
        my $body = substr($c->{in}, $end + 4, $len);
        substr($c->{in}, 0, $end + 4 + $len) = '';
        if (($h{upgrade} // '') =~ /websocket/i) {
            return _ws_upgrade($st, $c, $target, \%h);
        }
        _rest($st, $c, $method, $target, \%h, $body);
    }
}

sub _respond {
    my ($st, $c, $status, $body, %o) = @_;
    my $content = defined $body ? (ref $body ? $JSON->encode($body) : $body) : '';
    my %reason = (200 => 'OK', 204 => 'No Content', 400 => 'Bad Request',
        401 => 'Unauthorized', 404 => 'Not Found', 429 => 'Too Many Requests',
        500 => 'Internal Server Error', 502 => 'Bad Gateway');
    my $resp = "HTTP/1.1 $status " . ($reason{$status} // 'X') . "\r\n"
        . "Content-Type: application/json\r\n"
        . "Content-Length: " . length($content) . "\r\n";
    for my $k (sort keys %{ $o{headers} || {} }) {
        $resp .= "$k: $o{headers}{$k}\r\n";
    }
    $resp .= "\r\n" . $content;
    if ($o{delay_ms}) {
        push @{ $c->{pending} }, [ time + $o{delay_ms} / 1000, $resp ];
    } else {
        _write($st, $c, $resp);
    }
}

sub _route_key {
    my ($method, $path) = @_;
    my @s = split m{/}, $path;
    my @k;
    for my $i (0 .. $#s) {
        my $x = $s[$i];
        if ($i > 0 && ($s[$i - 1] eq 'channels' || $s[$i - 1] eq 'guilds')) { push @k, $x }
        elsif ($x =~ /^\d+$/) { push @k, ':id' }
        else { push @k, $x }
        last if $x eq 'reactions';
    }
    return "$method " . join('/', @k);
}

# Why a request must be refused with a 429 now, or undef.
sub _over_limit {
    my ($st, $key, $path) = @_;
    my $now = time;
    return 'request inside retry_after' if $now < ($st->{limited}{$key} // 0);
    return 'request inside global retry_after' if $now < ($st->{global_until} // 0);
    my $b = $st->{bucket}{$key};
    return 'request on an exhausted bucket'
        if $b && $now < $b->{reset} && $b->{used} >= 50;
    return undef if $path =~ m{^/api/v10/(?:interactions|webhooks)/};
    my $w = $st->{global_window} //= [];
    shift @$w while @$w && $w->[0] <= $now - 1;
    return 'more than 50 requests/s (global limit)' if @$w >= 50;
    push @$w, $now;
    return undef;
}

sub _ratelimit_headers {
    my ($st, $key) = @_;
    my $b = $st->{bucket}{$key} //= { reset => time + 1, used => 0 };
    if (time >= $b->{reset}) { $b->{reset} = time + 1; $b->{used} = 0 }
    $b->{used}++;
    my $remaining = 50 - $b->{used};
    $remaining = 0 if $remaining < 0;
    (my $bucket = unpack('H*', substr(sha1($key), 0, 8)));
    return ('X-RateLimit-Limit' => 50, 'X-RateLimit-Remaining' => $remaining,
        'X-RateLimit-Reset-After' => sprintf('%.3f', $b->{reset} - time),
        'X-RateLimit-Bucket' => $bucket);
}

# Real snowflakes: milliseconds since the Discord epoch << 22, plus a
# counter, so ids order by time like Discord's.
sub _snowflake {
    my ($st) = @_;
    my $ms = int(time * 1000) - 1420070400000;
    return '' . (($ms << 22) | ($st->{id_counter}++ & 0x3fffff));
}

sub _chars { my ($s) = @_; return defined $s ? length $s : 0 }  # decoded text

# Validates a message body per Discord's documented limits; returns a
# list of problems.
sub _check_message {
    my ($b) = @_;
    my @bad;
    push @bad, 'content > 2000' if _chars($b->{content}) > 2000;
    my $embeds = $b->{embeds} || [];
    push @bad, 'more than 10 embeds' if @$embeds > 10;
    my $total = 0;
    for my $e (@$embeds) {
        push @bad, 'title > 256' if _chars($e->{title}) > 256;
        push @bad, 'description > 4096' if _chars($e->{description}) > 4096;
        $total += _chars($e->{title}) + _chars($e->{description})
            + _chars($e->{footer} && $e->{footer}{text});
        for my $f (@{ $e->{fields} || [] }) {
            push @bad, 'field value > 1024' if _chars($f->{value}) > 1024;
            $total += _chars($f->{name}) + _chars($f->{value});
        }
    }
    push @bad, "embeds total $total > 6000" if $total > 6000;
    if (defined $b->{nonce}) {
        push @bad, 'nonce > 25' if length($b->{nonce}) > 25;
    }
    return @bad;
}

sub _rest {
    my ($st, $c, $method, $target, $h, $raw) = @_;
    my ($path, $query) = $target =~ m{^([^?]*)(?:\?(.*))?$};
    my %q = map { my ($k, $v) = split /=/, $_, 2; ($k => $v // '') } split /&/, $query // '';
    if ($path eq '/_ctl') { return _control($st, $c, $raw) }
    my $body = length $raw ? eval { $JSON->decode($raw) } : undef;
    my $rec = { kind => 'rest', method => $method, path => $path,
        body => $body, raw_len => length $raw, (%q ? (query => \%q) : ()) };
    my $key = _route_key($method, $path);
    $rec->{ua_ok} = ($h->{'user-agent'} // '') =~ /^DiscordBot \(.+, .+\)$/ ? 1 : 0;
    if (($h->{authorization} // '') ne "Bot $st->{token}") {
        $rec->{status} = 401;
        _record($st, $rec);
        return _respond($st, $c, 401, { message => '401: Unauthorized', code => 0 });
    }
    # Discord's own limits: a client that reads the headers never hits
    # these (interaction callbacks are outside the global limit)
    if (my $why = _over_limit($st, $key, $path)) {
        $rec->{status} = 429;
        _record($st, $rec);
        _record($st, { kind => 'violation', what => "$why: $method $path" });
        my $ra = $why =~ /global/ ? 1 : ($st->{limited}{$key} // time + 1) - time;
        $ra = 0.1 if $ra < 0.1;
        return _respond($st, $c, 429, { message => 'You are being rate limited.',
            retry_after => 0 + sprintf('%.3f', $ra),
            global => $why =~ /global/ ? JSON::PP::true : JSON::PP::false },
            headers => { 'Retry-After' => int($ra + 0.999),
                'X-RateLimit-Scope' => $why =~ /global/ ? 'global' : 'user',
                ($why =~ /global/ ? ('X-RateLimit-Global' => 'true') : ()) });
    }
    # injected faults, first match wins
    for my $f (@{ $st->{faults} }) {
        next unless $f->{count} > 0;
        next if $f->{method} && $f->{method} ne $method;
        next if $f->{path} && $path !~ /$f->{path}/;
        next if $f->{status} == 0;  # delay-only faults apply below
        $f->{count}--;
        $rec->{status} = $f->{status};
        $rec->{fault} = 1;
        _record($st, $rec);
        my %hd = _ratelimit_headers($st, $key);
        if ($f->{status} == 429) {
            my $ra = $f->{body}{retry_after} // 1;
            if ($f->{body}{global}) { $st->{global_until} = time + $ra }
            else { $st->{limited}{$key} = time + $ra }
            %hd = (%hd, 'Retry-After' => int($ra + 0.999),
                'X-RateLimit-Remaining' => 0,
                'X-RateLimit-Reset-After' => $ra,
                'X-RateLimit-Scope' => 'user');
            $hd{'X-RateLimit-Global'} = 'true' if $f->{body}{global};
        }
        return _respond($st, $c, $f->{status}, $f->{body} // { message => 'fault', code => 0 },
            headers => \%hd, delay_ms => $f->{delay_ms});
    }
    my ($delay, $hdr) = (0, {});
    for my $f (@{ $st->{faults} }) {
        next unless $f->{count} > 0 && $f->{status} == 0;
        next if $f->{method} && $f->{method} ne $method;
        next if $f->{path} && $path !~ /$f->{path}/;
        $f->{count}--;
        $delay = $f->{delay_ms} // 0;
        $hdr = $f->{headers} || {};   # e.g. an exhausted bucket
        # an advertised exhausted bucket is enforced like Discord does
        $st->{limited}{$key} = time + ($hdr->{'X-RateLimit-Reset-After'} // 1)
            if defined $hdr->{'X-RateLimit-Remaining'} && $hdr->{'X-RateLimit-Remaining'} == 0;
        $rec->{delayed} = $delay if $delay;
        last;
    }
    my ($status, $resp) = _route($st, $method, $path, $body, $rec, \%q);
    $rec->{status} = $status;
    _record($st, $rec);
    my %hd = (_ratelimit_headers($st, $key), %$hdr);
    _respond($st, $c, $status, $resp, headers => \%hd, delay_ms => $delay);
}

# Bulk overwrite body, as the application commands docs constrain it:
# returns Discord-style nested errors ({} when fine).
sub _check_commands {
    my ($b) = @_;
    my %e;
    my $err = sub { my ($where, $code, $msg) = @_;
        my $h = \%e; $h = $h->{$_} //= {} for @$where;
        push @{ $h->{_errors} }, { code => $code, message => $msg } };
    return { _errors => [ { code => 'BASE_TYPE_ARRAY', message => 'Must be an array' } ] }
        unless ref $b eq 'ARRAY';
    $err->([], 'BASE_TYPE_MAX_LENGTH', 'Must be 100 or fewer in length') if @$b > 100;
    my %names;
    for my $i (0 .. $#$b) {
        my $c = $b->[$i];
        if (ref $c ne 'HASH') { $err->([$i], 'MODEL_TYPE_CONVERT', 'Only dictionaries'); next }
        my $n = $c->{name} // '';
        $err->([$i, 'name'], 'APPLICATION_COMMAND_INVALID_NAME', 'Command name is invalid')
            unless $n =~ /^[-_'\p{Ll}\p{Lo}\p{N}]{1,32}$/;
        $err->([$i, 'name'], 'APPLICATION_COMMANDS_DUPLICATE_NAME',
            'Application command names must be unique') if $names{$n}++;
        my $d = $c->{description} // '';
        $err->([$i, 'description'], 'BASE_TYPE_BAD_LENGTH', 'Must be between 1 and 100 in length')
            unless length $d >= 1 && length $d <= 100;
        my $opts = $c->{options} // [];
        $err->([$i, 'options'], 'BASE_TYPE_MAX_LENGTH', 'Must be 25 or fewer in length')
            if @$opts > 25;
        my (%on, $optional);
        for my $j (0 .. $#$opts) {
            my $o = $opts->[$j];
            my @w = ($i, 'options', $j);
            $err->([@w, 'type'], 'BASE_TYPE_CHOICES', 'Value must be one of 1..11')
                unless ($o->{type} // 0) =~ /^(?:[1-9]|10|11)$/;
            $err->([@w, 'name'], 'APPLICATION_COMMAND_INVALID_NAME', 'Option name is invalid')
                unless ($o->{name} // '') =~ /^[-_'\p{Ll}\p{Lo}\p{N}]{1,32}$/;
            $err->([@w, 'name'], 'APPLICATION_COMMAND_OPTIONS_NAME_ALREADY_EXISTS',
                'Option names must be unique') if $on{ $o->{name} // '' }++;
            $err->([@w, 'description'], 'BASE_TYPE_BAD_LENGTH',
                'Must be between 1 and 100 in length')
                unless length($o->{description} // '') >= 1 && length($o->{description}) <= 100;
            if ($o->{required}) {
                $err->([@w, 'required'], 'APPLICATION_COMMAND_OPTIONS_REQUIRED_INVALID',
                    'Required options must be placed before non-required options') if $optional;
            } else { $optional = 1 }
            my $t = $o->{type} // 0;
            $err->([@w, 'max_length'], 'BASE_TYPE_BAD_INT', 'max_length: 1 to 6000, strings only')
                if defined $o->{max_length} && ($t != 3 || $o->{max_length} < 1 || $o->{max_length} > 6000);
            for my $k (qw(min_value max_value)) {
                $err->([@w, $k], 'BASE_TYPE_BAD_VALUE', "$k is for INTEGER and NUMBER options")
                    if defined $o->{$k} && $t != 4 && $t != 10;
            }
            $err->([@w, 'choices'], 'BASE_TYPE_MAX_LENGTH', 'Must be 25 or fewer in length')
                if $o->{choices} && @{ $o->{choices} } > 25;
        }
    }
    return \%e;
}

sub _archived { my ($ch) = @_; return $ch->{thread_metadata} && $ch->{thread_metadata}{archived} }

sub _cmp_id { length($_[0]) <=> length($_[1]) || $_[0] cmp $_[1] }
sub _by_id_desc { _cmp_id($b->{id}, $a->{id}) }  # package $a/$b

sub _route {
    my ($st, $method, $path, $b, $rec, $q) = @_;
    $path =~ s{^/api/v10}{} or return (404, { message => 'bad version', code => 0 });
    if ($method eq 'GET' && $path eq '/gateway/bot') {
        return (200, { url => ($st->{gateway_base} // "ws://127.0.0.1:$st->{port}") . '/gw',
            shards => $st->{shards} + 0,
            session_start_limit => { total => 1000, remaining => 999,
                reset_after => 14400000, max_concurrency => $st->{max_concurrency} + 0 } });
    }
    # the bot's view of a channel: gone, out of reach, or read-only
    if ($path =~ m{^/channels/(\d+)(/.*)?$} && (my $ch0 = $st->{channels}{$1})) {
        my $rest = $2 // '';
        return (403, { message => 'Missing Access', code => 50001 }) if $ch0->{no_access};
        return (403, { message => 'Missing Permissions', code => 50013 })
            if $ch0->{no_send} && $method eq 'POST' && $rest eq '/messages';
    }
    if ($method eq 'GET' && $path =~ m{^/guilds/(\d+)/threads/active$}) {
        my $g = $1;
        return (200, { members => [], threads => [ grep { ($_->{guild_id} // '') eq $g
            && ($_->{type} // 0) == 11 && !$_->{deleted}
            && !($_->{thread_metadata} && $_->{thread_metadata}{archived}) }
            map { $st->{channels}{$_} } sort keys %{ $st->{channels} } ] });
    }
    if ($method eq 'GET' && $path =~ m{^/channels/(\d+)/messages(?:/(\d+))?$}) {
        my ($chid, $mid) = ($1, $2);
        my $ch = $st->{channels}{$chid};
        return (404, { message => 'Unknown Channel', code => 10003 }) if !$ch || $ch->{deleted};
        my @all = (@{ $st->{history}{$chid} || [] },
            grep { $_->{channel_id} eq $chid } values %{ $st->{messages} });
        if (defined $mid) {
            my ($m) = grep { $_->{id} eq $mid } @all;
            return $m ? (200, $m) : (404, { message => 'Unknown Message', code => 10008 });
        }
        my $limit = $q->{limit} || 50;
        return (400, { message => 'bad limit', code => 50035 }) if $limit < 1 || $limit > 100;
        my @sel = sort _by_id_desc grep {
            !defined $q->{after} || _cmp_id($_->{id}, $q->{after}) > 0 } @all;
        @sel = reverse((reverse @sel)[0 .. $limit - 1]) if @sel > $limit;  # oldest after `after`
        return (200, \@sel);
    }
    if ($method eq 'GET' && $path eq '/users/@me') {
        return (200, { id => $st->{bot_id}, username => 'ragbot',
            discriminator => '0', bot => JSON::PP::true });
    }
    if ($method eq 'GET' && $path eq '/applications/@me') {
        return (200, { id => $st->{app_id}, name => 'ragbot',
            bot_public => JSON::PP::true,
            flags => $st->{app_flags} // (1 << 19) });
    }
    if ($method eq 'GET' && $path =~ m{^/guilds/(\d+)(?:/members/(\d+))?$}) {
        my ($gid, $uid) = ($1, $2);
        my $g = $st->{guilds}{$gid}
            or return (404, { message => 'Unknown Guild', code => 10004 });
        return (403, { message => 'Missing Access', code => 50001 })
            unless $g->{members}{ $st->{bot_id} };
        if (defined $uid) {
            my $roles = $g->{members}{$uid}
                or return (404, { message => 'Unknown Member', code => 10007 });
            return (200, { user => { id => $uid }, roles => $roles,
                joined_at => '2026-01-01T00:00:00+00:00' });
        }
        return (200, { id => $gid, name => $g->{name} // 'Test',
            owner_id => $g->{owner_id} // '1',
            roles => [ map { { %$_, permissions => "$_->{permissions}" } }
                @{ $g->{roles} || [] } ] });
    }
    if ($path =~ m{^/channels/(\d+)$}) {
        my $ch = $st->{channels}{$1};
        return (404, { message => 'Unknown Channel', code => 10003 })
            if !$ch || $ch->{deleted};
        # a channel of a registered guild the bot may not view: 403
        return (403, { message => 'Missing Access', code => 50001 })
            unless _can_view($st, $ch);
        if ($method eq 'PATCH' && $ch->{thread_metadata}) {
            # Modify Channel (thread), as the docs say: archived may be
            # changed by the thread's creator or with Manage Threads,
            # except that unarchiving an unlocked thread needs only Send
            # Messages; unarchiving a locked one, the creator or Manage
            # Threads; locked, Manage Threads. An archived thread takes
            # nothing but archived = false. Fires THREAD_UPDATE.
            my $tm = $ch->{thread_metadata};
            my $mod = _manage_threads($st, $ch);
            my $creator = ($ch->{owner_id} // '') eq $st->{bot_id};
            my $unarchive = exists $b->{archived} && !$b->{archived};
            return (400, { message => 'Thread is archived', code => 50083 })
                if $tm->{archived} && !$unarchive;
            return (403, { message => 'Missing Permissions', code => 50013 })
                if (exists $b->{locked} && !$mod)
                || (exists $b->{archived} && !$unarchive && !$mod && !$creator)
                || ($unarchive && $tm->{locked} && !$mod && !$creator);
            for my $k (qw(archived locked)) {
                $tm->{$k} = $b->{$k} ? JSON::PP::true : JSON::PP::false if exists $b->{$k};
            }
            _dispatch($st, 'THREAD_UPDATE', { %$ch });
        }
        return (200, $ch);
    }
    if ($path =~ m{^/channels/(\d+)/messages$} && $method eq 'POST') {
        my $chid = $1;
        my $ch = $st->{channels}{$chid};
        return (404, { message => 'Unknown Channel', code => 10003 })
            if !$ch || $ch->{deleted};
        my @bad = _check_message($b || {});
        if (@bad) {
            _record($st, { kind => 'violation', what => join('; ', @bad), path => $path });
            return (400, { message => 'Invalid Form Body', code => 50035, errors => \@bad });
        }
        return (400, { message => 'Cannot send an empty message', code => 50006 })
            unless length($b->{content} // '') || @{ $b->{embeds} || [] };
        if (_archived($ch)) {
            return (403, { message => 'Thread is locked', code => 160005 })
                if $ch->{thread_metadata}{locked};
            # a new message unarchives the thread
            $ch->{thread_metadata}{archived} = JSON::PP::false;
            _dispatch($st, 'THREAD_UPDATE', { %$ch });
        }
        my $nonce = $b->{nonce};
        if (defined $nonce && $b->{enforce_nonce}) {
            my $mid = $st->{nonces}{"$chid:$nonce"};
            if ($mid) {
                $rec->{dedupe} = 1;
                return (200, $st->{messages}{$mid});
            }
        }
        my $m = { id => _snowflake($st), channel_id => $chid, type => 0,
            content => $b->{content} // '', embeds => $b->{embeds} || [],
            author => { id => $st->{bot_id}, username => 'ragbot', bot => JSON::PP::true },
            (defined $nonce ? (nonce => $nonce) : ()) };
        $st->{messages}{$m->{id}} = $m;
        $st->{nonces}{"$chid:$nonce"} = $m->{id} if defined $nonce;
        $rec->{created} = $m->{id};
        return (200, $m);
    }
    if ($path =~ m{^/channels/(\d+)/messages/(\d+)$} && $method eq 'PATCH') {
        my ($chid, $mid) = ($1, $2);
        my $ch = $st->{channels}{$chid};
        return (404, { message => 'Unknown Channel', code => 10003 }) if !$ch || $ch->{deleted};
        return (403, { message => 'Cannot edit a message authored by another user',
            code => 50005 }) if ($st->{user_messages}{$mid} // '') eq $chid;
        my $m = $st->{messages}{$mid};
        return (404, { message => 'Unknown Message', code => 10008 })
            if !$m || $m->{channel_id} ne $chid;
        return (400, { message => 'Thread is archived', code => 50083 }) if _archived($ch);
        my @bad = _check_message($b || {});
        if (@bad) {
            _record($st, { kind => 'violation', what => join('; ', @bad), path => $path });
            return (400, { message => 'Invalid Form Body', code => 50035 });
        }
        $m->{embeds} = $b->{embeds} if $b->{embeds};
        $m->{content} = $b->{content} if defined $b->{content};
        return (200, $m);
    }
    # Delete Message: the bot's own messages need no permission; another
    # user's need Manage Messages (the bot is never given it here: 50013,
    # and a violation, since it has no business deleting users' posts);
    # deleting is the one thing an archived thread allows, but a locked
    # one only to Manage Threads while archived (50083 until reopened);
    # 204, and a MESSAGE_DELETE to the gateway, as Discord fires one
    if ($path =~ m{^/channels/(\d+)/messages/(\d+)$} && $method eq 'DELETE') {
        my ($chid, $mid) = ($1, $2);
        my $ch = $st->{channels}{$chid};
        return (404, { message => 'Unknown Channel', code => 10003 }) if !$ch || $ch->{deleted};
        if (($st->{user_messages}{$mid} // '') eq $chid) {
            _record($st, { kind => 'violation', what => "deleted a user's message $mid",
                path => $path });
            return (403, { message => 'Missing Permissions', code => 50013 });
        }
        my $m = $st->{messages}{$mid};
        return (404, { message => 'Unknown Message', code => 10008 })
            if !$m || $m->{channel_id} ne $chid;
        return (400, { message => 'Thread is archived', code => 50083 })
            if _archived($ch) && $ch->{thread_metadata}{locked} && !_manage_threads($st, $ch);
        delete $st->{messages}{$mid};
        $rec->{deleted} = $mid;
        _dispatch($st, 'MESSAGE_DELETE', { id => $mid, channel_id => $chid,
            (defined $ch->{guild_id} ? (guild_id => $ch->{guild_id}) : ()) });
        return (204, undef);
    }
    if ($path =~ m{^/channels/(\d+)/messages/(\d+)/reactions/([^/]+)/\@me$}
        && $method eq 'PUT') {
        my ($chid, $mid, $emoji) = ($1, $2, $3);
        my $ch = $st->{channels}{$chid};
        return (400, { message => 'Unknown Emoji', code => 10014 })
            if $emoji =~ /[^\x21-\x7e]/;   # not URL-encoded
        $emoji =~ s/%([0-9A-Fa-f]{2})/chr hex $1/ge;
        $rec->{emoji} = $emoji;
        utf8::decode($rec->{emoji});
        return (404, { message => 'Unknown Channel', code => 10003 }) if !$ch || $ch->{deleted};
        return (404, { message => 'Unknown Message', code => 10008 })
            unless ($st->{messages}{$mid} && $st->{messages}{$mid}{channel_id} eq $chid)
                || ($st->{user_messages}{$mid} // '') eq $chid;
        return (400, { message => 'Thread is archived', code => 50083 }) if _archived($ch);
        return (204, undef);
    }
    if ($path =~ m{^/applications/(\d+)(?:/guilds/(\d+))?/commands$} && $method eq 'PUT') {
        my ($app, $guild) = ($1, $2 // 'global');
        return (403, { message => 'You are not authorized to perform this action on this application',
            code => 20012 }) if $app ne $st->{app_id};
        my $errors = _check_commands($b);
        if (%$errors) {
            _record($st, { kind => 'violation', what => 'commands refused: '
                . $JSON->encode($errors) });
            return (400, { message => 'Invalid Form Body', code => 50035, errors => $errors });
        }
        # 200 command creates per day per guild; overwriting is free
        my $known = $st->{commands}{$guild} //= {};
        my $new = grep { !$known->{ $_->{name} } } @$b;
        $st->{creates}{$guild} += $new;
        return (429, { message => 'Max number of daily application command creates has '
            . 'been reached (200)', code => 30034, retry_after => 86400, global => JSON::PP::false })
            if $st->{creates}{$guild} > 200;
        $st->{commands}{$guild} = { map { $_->{name} => 1 } @$b };
        return (200, [ map { { %$_, id => _snowflake($st), application_id => $app } } @$b ]);
    }
    if ($path =~ m{^/interactions/(\d+)/([^/]+)/callback$} && $method eq 'POST') {
        my ($iid, $tok) = ($1, $2);
        my $it = $st->{interactions}{$iid};
        if (!$it || $it->{token} ne $tok) {
            return (404, { message => 'Unknown interaction', code => 10062 });
        }
        if (time - $it->{t} > 3) {
            _record($st, { kind => 'violation', what => sprintf(
                'interaction %s answered after %.1f s (3 s limit)', $iid, time - $it->{t}) });
            return (404, { message => 'Unknown interaction', code => 10062 });
        }
        return (400, { message => 'Interaction has already been acknowledged.',
            code => 40060 }) if $it->{acked};
        return (400, { message => 'bad callback', code => 50035 })
            unless ref $b eq 'HASH' && defined $b->{type};
        $it->{acked} = 1;
        $rec->{latency} = sprintf('%.3f', time - $it->{t});
        return (204, undef);
    }
    if ($path =~ m{^/webhooks/(\d+)/([^/]+)/messages/\@original$} && $method eq 'PATCH') {
        my @bad = _check_message($b || {});
        return (400, { message => 'Invalid Form Body', code => 50035 }) if @bad;
        return (200, { id => _snowflake($st), embeds => $b->{embeds} || [] });
    }
    return (404, { message => '404: Not Found', code => 0 });
}

# The bot's permissions in a channel of a guild registered with guild(),
# computed as Discord does (roles, Administrator, owner, then @everyone /
# role / member overwrites; a thread without overwrites of its own takes
# its parent's). Channels of unregistered guilds allow everything (the
# older tests never register one).
my $ALL = ~0;
sub _perms {
    my ($st, $ch) = @_;
    my $g = $st->{guilds}{ $ch->{guild_id} // '' } or return $ALL;
    my $bot = $st->{bot_id};
    my $mine = $g->{members}{$bot} or return 0;
    return $ALL if ($g->{owner_id} // '') eq $bot;
    my %has = map { $_ => 1 } @$mine, $ch->{guild_id};
    my $p = 0;
    $p |= 0 + "$_->{permissions}" for grep { $has{ $_->{id} } } @{ $g->{roles} || [] };
    return $ALL if $p & (1 << 3);
    my $par = $st->{channels}{ $ch->{parent_id} // '' };
    my @ow = @{ $ch->{permission_overwrites}
        || ($par && ($ch->{type} // 0) =~ /^1[012]$/ && $par->{permission_overwrites}) || [] };
    for my $pass (0 .. 2) {
        my ($allow, $deny) = (0, 0);
        for my $o (@ow) {
            my $m = $pass == 0 ? ($o->{type} == 0 && $o->{id} eq $ch->{guild_id})
                : $pass == 1 ? ($o->{type} == 0 && $o->{id} ne $ch->{guild_id}
                    && $has{ $o->{id} })
                : ($o->{type} == 1 && $o->{id} eq $bot);
            next unless $m;
            # copies: numeric use would turn the stored strings into
            # numbers in later JSON, and Discord sends strings
            $allow |= 0 + "$o->{allow}";
            $deny |= 0 + "$o->{deny}";
        }
        $p = ($p & ~$deny) | $allow;
    }
    return $p;
}

# View Channel (1 << 10)
sub _can_view { return (_perms(@_) & (1 << 10)) ? 1 : 0 }

# Manage Threads (1 << 34)
sub _manage_threads { return (_perms(@_) & (1 << 34)) ? 1 : 0 }

sub _control {
    my ($st, $c, $raw) = @_;
    my $r = $JSON->decode($raw);
    my $a = $r->{action};
    if ($a eq 'channel') {
        my $ch = $r->{channel};
        $ch->{type} //= 11;
        $ch->{thread_metadata} //= { archived => JSON::PP::false, locked => JSON::PP::false };
        $st->{channels}{$ch->{id}} = { %{ $st->{channels}{$ch->{id}} || {} }, %$ch };
    } elsif ($a eq 'dispatch') {
        my $d = $r->{d};
        if ($r->{t} eq 'MESSAGE_CREATE') {
            $st->{user_messages}{ $d->{id} } = $d->{channel_id};
            # the channel's history, for GET .../messages (catch-up)
            my %m = %$d;
            delete $m{guild_id};
            delete $m{member};
            push @{ $st->{history}{ $d->{channel_id} } }, \%m;
        } elsif ($r->{t} eq 'INTERACTION_CREATE') {
            # the token is valid for an initial response within 3 s
            $st->{interactions}{ $d->{id} } = { t => time, token => $d->{token} // '' };
        } elsif ($r->{t} eq 'THREAD_CREATE' || $r->{t} eq 'THREAD_UPDATE') {
            my $ch = $st->{channels}{ $d->{id} } ||= {};
            %$ch = (%$ch, %$d);
            $ch->{thread_metadata} //= { archived => JSON::PP::false, locked => JSON::PP::false };
        } elsif ($r->{t} eq 'THREAD_DELETE') {
            # gone: from the active list, for every request
            $st->{channels}{ $d->{id} }{deleted} = 1 if $st->{channels}{ $d->{id} };
        } elsif ($r->{t} eq 'MESSAGE_DELETE' || $r->{t} eq 'MESSAGE_DELETE_BULK') {
            my %gone = map { $_ => 1 } $r->{t} eq 'MESSAGE_DELETE' ? ($d->{id}) : @{ $d->{ids} || [] };
            my $h = $st->{history}{ $d->{channel_id} // '' } || [];
            @$h = grep { !$gone{ $_->{id} } } @$h;
            delete $st->{user_messages}{$_} for keys %gone;
        }
        _dispatch($st, $r->{t}, $r->{d});
    } elsif ($a eq 'fault') {
        my $ws = $st->{ws_conn};
        $st->{withhold_acks} = $r->{withhold_acks} if exists $r->{withhold_acks};
        $st->{heartbeat_interval} = $r->{heartbeat_interval} if $r->{heartbeat_interval};
        if ($r->{rest}) {
            my $f = $r->{rest};
            $f->{count} //= 1;
            $f->{status} //= 0;
            push @{ $st->{faults} }, $f;
        }
        if ($ws) {
            if ($r->{drop}) { _drop($st, $ws) }
            elsif ($r->{op7}) { _ws_send($st, $ws, { op => 7, d => undef }) }
            elsif (exists $r->{op9}) { _ws_send($st, $ws, { op => 9, d => $r->{op9} ? JSON::PP::true : JSON::PP::false }) }
            elsif ($r->{close}) {
                _ws_frame($st, $ws, 0x8, pack('n', $r->{close}) . 'test close');
                _drop($st, $ws);
            }
        }
        # Discord remembers nonces only for a few minutes
        $st->{nonces} = {} if $r->{forget_nonces};
        $st->{faults} = [] if $r->{clear_faults};
        $st->{token} = $r->{token} if defined $r->{token};   # token reset
        # the bot outgrew its shards: a new recommendation (and requirement)
        $st->{shards} = $r->{shards} if $r->{shards};
        $st->{min_shards} = $r->{min_shards} if exists $r->{min_shards};
        if ($r->{delete_channel}) { $st->{channels}{ $r->{delete_channel} }{deleted} = 1 }
        delete $st->{messages}{ $r->{delete_message} } if $r->{delete_message};
    } elsif ($a eq 'guild') {
        $st->{guilds}{ $r->{guild}{id} } = $r->{guild};
    } elsif ($a eq 'app') {
        $st->{app_flags} = $r->{app}{flags};
    } elsif ($a eq 'messages') {
        return _respond($st, $c, 200, { messages => $st->{messages} });
    } elsif ($a eq 'channels') {
        return _respond($st, $c, 200, { channels => $st->{channels} });
    } elsif ($a eq 'state') {
    }
    my $ws = $st->{ws_conn};
    my @live = grep { $_->{ready} && !$_->{closed} } values %{ $st->{ws_conns} // {} };
    my $ready = @live;
    my %live;
    for (@live) {
        my $s = $st->{sessions}{ $_->{session} // '' } or next;
        $live{ $s->{shard} }++;
    }
    return _respond($st, $c, 200, { ok => 1, connected => (_sharded($st) ? $ready : $ws && $ws->{ready} ? 1 : 0),
        shard_live => \%live, identified => $st->{shard_sessions} // {},
        session => $ws ? $ws->{session} : undef,
        messages => scalar(keys %{ $st->{messages} }) });
}

# --- WebSocket / gateway ------------------------------------------------------

sub _ws_upgrade {
    my ($st, $c, $target, $h) = @_;
    my $key = $h->{'sec-websocket-key'} // '';
    my $ok = $key =~ m{^[A-Za-z0-9+/]{22}==$} && ($h->{'sec-websocket-version'} // '') eq '13'
        && ($h->{connection} // '') =~ /upgrade/i;
    $st->{conn_seq}++;
    $c->{id} = $st->{conn_seq};
    _record($st, { kind => 'gw_conn', event => 'open', conn => $c->{id},
        target => $target, ok => $ok ? 1 : 0 });
    unless ($ok && $target =~ m{^/(gw|resume)\?v=10&encoding=json$}) {
        _record($st, { kind => 'violation', what => "bad upgrade $target" });
        _write($st, $c, "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n");
        return _drop($st, $c);
    }
    my $accept = encode_base64(sha1($key . $GUID), '');
    _write($st, $c, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
        . "Connection: Upgrade\r\nSec-WebSocket-Accept: $accept\r\n\r\n");
    $c->{mode} = 'ws';
    _drop($st, $st->{ws_conn}) if $st->{ws_conn} && !_sharded($st);
    $st->{ws_conn} = $c;
    $st->{ws_conns}{ $c->{id} } = $c;
    _ws_send($st, $c, { op => 10, d => { heartbeat_interval => $st->{heartbeat_interval} + 0 } });
    _ws_in($st, $c) if length $c->{in};
}

sub _ws_frame {
    my ($st, $c, $op, $payload) = @_;
    my $len = length $payload;
    my $hdr = chr(0x80 | $op);
    if ($len < 126) { $hdr .= chr($len) }
    elsif ($len < 65536) { $hdr .= chr(126) . pack('n', $len) }
    else { $hdr .= chr(127) . pack('Q>', $len) }
    _write($st, $c, $hdr . $payload);
}

sub _ws_send {
    my ($st, $c, $obj) = @_;
    $c->{last_s} = $obj->{s} if defined $obj->{s};
    _ws_frame($st, $c, 0x1, $JSON->encode($obj));
}

sub _ws_in {
    my ($st, $c) = @_;
    while (!$c->{closed}) {
        my $buf = $c->{in};
        return if length $buf < 2;
        my ($b0, $b1) = unpack('CC', $buf);
        my $op = $b0 & 0x0f;
        my $masked = $b1 & 0x80;
        my $len = $b1 & 0x7f;
        my $off = 2;
        if ($len == 126) { return if length $buf < 4; $len = unpack('n', substr($buf, 2, 2)); $off = 4 }
        elsif ($len == 127) { return if length $buf < 10; $len = unpack('Q>', substr($buf, 2, 8)); $off = 10 }
        unless ($masked) {
            _record($st, { kind => 'violation', what => 'unmasked client frame' });
            _ws_frame($st, $c, 0x8, pack('n', 1002));
            return _drop($st, $c);
        }
        return if length $buf < $off + 4 + $len;
        my $mask = substr($buf, $off, 4);
        my $data = substr($buf, $off + 4, $len);
        substr($c->{in}, 0, $off + 4 + $len) = '';
        my $m = $mask x (int($len / 4) + 1);
        $data = $data ^ substr($m, 0, $len);
        if ($op == 0x8) {
            my $code = $len >= 2 ? unpack('n', $data) : 0;
            _record($st, { kind => 'gw_close', code => $code, conn => $c->{id} });
            _end_session($st, $c->{session}) if ($code == 1000 || $code == 1001) && $c->{session};
            _ws_frame($st, $c, 0x8, pack('n', $code || 1000));
            return _drop($st, $c);
        }
        if ($op == 0x9) { _ws_frame($st, $c, 0xA, $data); next }
        next unless $op == 0x1;
        my $p = eval { $JSON->decode($data) };
        unless ($p && ref $p eq 'HASH' && defined $p->{op}) {
            _record($st, { kind => 'violation', what => 'bad gateway payload' });
            _ws_frame($st, $c, 0x8, pack('n', 4002));
            return _drop($st, $c);
        }
        _gw($st, $c, $p);
    }
}

sub _gw {
    my ($st, $c, $p) = @_;
    my $op = $p->{op};
    my $d = $p->{d};
    my $rec = { kind => 'gw', op => $op, conn => $c->{id} };
    if ($op == 1) {
        $rec->{d} = $d;
        $rec->{ok} = (!defined $d || $d =~ /^\d+$/) ? 1 : 0;
        _record($st, $rec);
        _ws_send($st, $c, { op => 11 }) unless $st->{withhold_acks};
    } elsif ($op == 2) {
        my $props = ref $d eq 'HASH' ? $d->{properties} : undef;
        my $ok = ref $d eq 'HASH' && defined $d->{token} && defined $d->{intents}
            && $d->{intents} =~ /^\d+$/ && ref $props eq 'HASH'
            && defined $props->{os} && defined $props->{browser} && defined $props->{device};
        $rec->{intents} = $d->{intents} if ref $d eq 'HASH';
        $rec->{ok} = $ok ? 1 : 0;
        $rec->{token_ok} = ($ok && $d->{token} eq $st->{token}) ? 1 : 0;
        $rec->{shard} = ref $d eq 'HASH' && exists $d->{shard} ? $d->{shard} : [ 0, 1 ];
        _record($st, $rec);
        if (!$ok) { _ws_frame($st, $c, 0x8, pack('n', 4002)); return _drop($st, $c) }
        if (!$rec->{token_ok}) { _ws_frame($st, $c, 0x8, pack('n', 4004)); return _drop($st, $c) }
        my ($shard, $count) = (0, 1);
        if (exists $d->{shard}) {
            my $sh = $d->{shard};
            unless (ref $sh eq 'ARRAY' && @$sh == 2 && "$sh->[0]$sh->[1]" =~ /^\d+$/
                    && $sh->[1] >= 1 && $sh->[0] < $sh->[1]) {
                _record($st, { kind => 'gw_close', code => 4010, conn => $c->{id} });
                _ws_frame($st, $c, 0x8, pack('n', 4010) . 'Invalid shard');
                return _drop($st, $c);
            }
            ($shard, $count) = map { $_ + 0 } @$sh;
        }
        if ($st->{min_shards} && $count < $st->{min_shards}) {
            _record($st, { kind => 'gw_close', code => 4011, conn => $c->{id} });
            _ws_frame($st, $c, 0x8, pack('n', 4011) . 'Sharding required');
            return _drop($st, $c);
        }
        # one IDENTIFY per bucket (shard % max_concurrency) per 5 s
        my $bucket = $shard % $st->{max_concurrency};
        my $last = $st->{identified_at}{$bucket};
        $st->{identified_at}{$bucket} = time;
        if (defined $last && time - $last < 5) {
            _record($st, { kind => 'violation', what => sprintf(
                'IDENTIFY %.2fs after the last one in bucket %d', time - $last, $bucket) });
            return _ws_send($st, $c, { op => 9, d => JSON::PP::false });
        }
        my $sid = sprintf('sess%04d', ++$st->{session_seq});
        $st->{sessions}{$sid} = { seq => 0, log => [], shard => $shard, count => $count };
        $st->{session} = $sid;
        $st->{shard_session}{$shard} = $sid;
        push @{ $st->{shard_sessions}{$shard} }, $sid;
        $st->{shard_count} = $count;
        $c->{session} = $sid;
        $c->{ready} = 1;
        my @mine = grep { _guild_shard($st, $_, $count) == $shard }
            @{ $st->{guild_ids} // [ $st->{guild_id} ] };
        _dispatch($st, 'READY', { v => 10, session_id => $sid,
            resume_gateway_url => ($st->{gateway_base} // "ws://127.0.0.1:$st->{port}") . '/resume',
            user => { id => $st->{bot_id}, username => 'ragbot', bot => JSON::PP::true },
            guilds => [ map { { id => $_, unavailable => JSON::PP::true } } @mine ],
            ($count > 1 ? (shard => [ $shard, $count ]) : ()),
            application => { id => $st->{app_id}, flags => 0 } }, $sid);
        _dispatch($st, 'GUILD_CREATE', { id => $_, name => "Test $_",
            threads => [], channels => [] }, $sid) for @mine;
    } elsif ($op == 6) {
        my $ok = ref $d eq 'HASH' && defined $d->{token} && defined $d->{session_id}
            && defined $d->{seq} && $d->{seq} =~ /^\d+$/;
        $rec->{ok} = $ok ? 1 : 0;
        $rec->{session_id} = $d->{session_id} if ref $d eq 'HASH';
        $rec->{seq} = $d->{seq} if ref $d eq 'HASH';
        _record($st, $rec);
        my $s = $ok && $d->{token} eq $st->{token} ? $st->{sessions}{ $d->{session_id} } : undef;
        if (!$s) { return _ws_send($st, $c, { op => 9, d => JSON::PP::false }) }
        $st->{session} = $d->{session_id};
        $c->{session} = $d->{session_id};
        for my $ev (@{ $s->{log} }) {
            _ws_send($st, $c, $ev) if $ev->{s} > $d->{seq};
        }
        $c->{ready} = 1;
        _dispatch($st, 'RESUMED', undef, $d->{session_id});
    } else {
        $rec->{d} = $d;
        _record($st, $rec);
    }
}

# Sends a dispatch on the current session; kept in the session's log so a
# RESUME replays what the client missed.
sub _dispatch {
    my ($st, $t, $d, $sid) = @_;
    if (!defined $sid && _sharded($st)) {
        # the shard that receives the guild's events (DMs: shard 0), on
        # every session identified for it
        my $g = ref $d eq 'HASH' ? ($d->{guild_id} // ($t =~ /^GUILD_/ ? $d->{id} : undef)) : undef;
        my @sids = @{ $st->{shard_sessions}{ _guild_shard($st, $g, $st->{shard_count} // 1) } || [] };
        _dispatch($st, $t, $d, $_) for @sids;
        return;
    }
    $sid //= $st->{session};
    return unless defined $sid && $st->{sessions}{$sid};
    my $s = $st->{sessions}{$sid};
    my $ev = { op => 0, t => $t, s => ++$s->{seq}, d => $d };
    push @{ $s->{log} }, $ev;
    for my $c (_sharded($st) ? values %{ $st->{ws_conns} } : ($st->{ws_conn})) {
        _ws_send($st, $c, $ev) if $c && $c->{ready} && ($c->{session} // '') eq $sid;
    }
}

sub _sharded { $_[0]{shards} > 1 || $_[0]{min_shards} > 1 }

# A session closed with 1000/1001 is over: no events, no RESUME.
sub _end_session {
    my ($st, $sid) = @_;
    my $s = delete $st->{sessions}{$sid} or return;
    my $l = $st->{shard_sessions}{ $s->{shard} } || [];
    @$l = grep { $_ ne $sid } @$l;
}

sub _guild_shard {
    my ($st, $g, $count) = @_;
    return 0 unless defined $g && $g =~ /^\d{1,20}$/ && $count > 1;
    return (($g >> 22) % $count);
}

1;
