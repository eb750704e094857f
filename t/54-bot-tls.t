# rag-bot over TLS: nginx terminates TLS (a test CA, certificate for
# "localhost" only) in front of the Discord stand-in. With the CA added
# through discord_ca_file the bot speaks wss:// and https:// (SNI +
# hostname verification) and resumes over TLS; without it, or with a
# name the certificate does not cover, the handshake is refused.
use strict;
use warnings;
use Test::More;
use lib 't/lib';
use RagTest;
use FakeDiscord;

plan skip_all => 'no nginx' unless -x $RagTest::NGINX;
my $dir = RagTest::tmpdir();
my $ssl = sub { my $out = `openssl @_ 2>&1`; die "openssl @_: $out" if $?; };
$ssl->("req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=ragtest-ca "
    . "-keyout $dir/ca.key -out $dir/ca.pem");
$ssl->("req -newkey rsa:2048 -nodes -subj /CN=localhost -keyout $dir/srv.key "
    . "-out $dir/srv.csr");
RagTest::write_file("$dir/ext.cnf", "subjectAltName=DNS:localhost\n");
$ssl->("x509 -req -in $dir/srv.csr -CA $dir/ca.pem -CAkey $dir/ca.key "
    . "-CAcreateserial -days 2 -extfile $dir/ext.cnf -out $dir/srv.pem");

my $G = '100000000000000001';
my $F = '200000000000000001';
my $T = '300000000000000001';
my $pg = RagTest::pg_start();
RagTest::psql($pg, qq{
    INSERT INTO collections (name) VALUES ('docs');
    INSERT INTO guild_config (guild_id) VALUES ('$G');
    INSERT INTO guild_forums VALUES ('$G', '$F', 'docs');
});
my $tls = RagTest::free_port();
my $fd = FakeDiscord->start(dir => $dir, guild_id => $G,
    gateway_base => "wss://localhost:$tls");
my $up = $fd->{port};
# a plain nginx as the TLS front (the module is not needed here)
mkdir "$dir/ng" or die;
mkdir "$dir/ng/$_" for qw(logs tmp);
RagTest::write_file("$dir/ng/nginx.conf", qq{
daemon off;
master_process off;
error_log $dir/ng/logs/error.log info;
pid $dir/ng/nginx.pid;
@{[$> == 0 ? 'user root root;' : '']}
events { worker_connections 64; }
http {
    access_log off;
    client_body_temp_path $dir/ng/tmp/body;
    proxy_temp_path $dir/ng/tmp/proxy;
    fastcgi_temp_path $dir/ng/tmp/fastcgi;
    uwsgi_temp_path $dir/ng/tmp/uwsgi;
    scgi_temp_path $dir/ng/tmp/scgi;
    server {
        listen 127.0.0.1:$tls ssl;
        server_name localhost;
        ssl_certificate $dir/srv.pem;
        ssl_certificate_key $dir/srv.key;
        location / {
            proxy_pass http://127.0.0.1:$up;
            proxy_http_version 1.1;
            proxy_set_header Upgrade \$http_upgrade;
            proxy_set_header Connection "upgrade";
            proxy_read_timeout 600s;
        }
    }
}
});
RagTest::spawn([$RagTest::NGINX, '-p', "$dir/ng", '-c', "$dir/ng/nginx.conf"],
    log => "$dir/ng/logs/stderr.log");
RagTest::wait_for(sub { RagTest::port_open($tls) }, 10)
    or die "nginx did not start: " . RagTest::slurp("$dir/ng/logs/error.log");

my $log = "$dir/bot.log";
my $pid = RagTest::spawn([RagTest::bin('rag-bot')], log => $log,
    env => $fd->bot_env($pg, RAG_DISCORD_API_BASE => "https://localhost:$tls/api/v10",
        RAG_DISCORD_CA_FILE => "$dir/ca.pem"));
ok(RagTest::wait_for(sub { $fd->state->{connected} }, 15), 'session over wss://')
    or diag(RagTest::slurp($log));
ok(scalar($fd->rest(method => 'GET', path => qr{/gateway/bot$})), 'gateway URL discovered over https://');
ok(RagTest::wait_for(sub { scalar $fd->rest(method => 'PUT', path => qr{/commands$}) }, 10),
    'REST over https://');
$fd->channel(id => $T, guild_id => $G, parent_id => $F, name => 'q', owner_id => '4');
my $opens_before = () = grep { $_->{event} eq 'open' } $fd->records(kind => 'gw_conn');
$fd->fault(drop => 1);
$fd->dispatch(THREAD_CREATE => { id => $T, guild_id => $G, parent_id => $F, name => 'q',
    owner_id => '4', type => 11 });
$fd->dispatch(MESSAGE_CREATE => { id => $T, channel_id => $T, guild_id => $G,
    author => { id => '4' }, content => 'over tls', mentions => [] });
ok(RagTest::wait_for(sub { RagTest::psql($pg, "SELECT count(*) FROM messages") eq '1' }, 15),
    'resumed over wss:// and got the missed dispatch') or diag(RagTest::slurp($log));
# the first connection after the drop resumes (a later one, e.g. after a
# missed heartbeat ACK on a loaded machine, may identify afresh)
my @opens = grep { $_->{event} eq 'open' } $fd->records(kind => 'gw_conn');
is($opens[$opens_before]{target}, '/resume?v=10&encoding=json', 'via resume_gateway_url')
    or diag(join "\n", map { "$_->{t} $_->{event} " . ($_->{target} // '') }
        $fd->records(kind => 'gw_conn'));
is(RagTest::stop($pid, 'TERM'), 0, 'clean exit');

# no extra CA: the system store does not know the test CA
my $log2 = "$dir/bot2.log";
my $pid2 = RagTest::spawn([RagTest::bin('rag-bot')], log => $log2,
    env => $fd->bot_env($pg, RAG_DISCORD_API_BASE => "https://localhost:$tls/api/v10",
        RAG_DISCORD_GATEWAY_URL => "wss://localhost:$tls/gw"));
ok(RagTest::wait_for(sub { RagTest::slurp($log2) =~ /gateway connect failed.*certificate/ }, 10),
    'untrusted certificate refused') or diag(RagTest::slurp($log2));
RagTest::stop($pid2, 'TERM');

# trusted CA but a name the certificate does not cover
my $log3 = "$dir/bot3.log";
my $pid3 = RagTest::spawn([RagTest::bin('rag-bot')], log => $log3,
    env => $fd->bot_env($pg, RAG_DISCORD_API_BASE => "https://localhost:$tls/api/v10",
        RAG_DISCORD_CA_FILE => "$dir/ca.pem",
        RAG_DISCORD_GATEWAY_URL => "wss://127.0.0.1:$tls/gw"));
ok(RagTest::wait_for(sub { RagTest::slurp($log3) =~ /gateway connect failed.*(hostname|certificate)/ }, 10),
    'hostname mismatch refused') or diag(RagTest::slurp($log3));
RagTest::stop($pid3, 'TERM');
is(scalar $fd->records(kind => 'violation'), 0, 'no violations');
done_testing();
