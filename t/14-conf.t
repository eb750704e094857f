# The example configuration in conf/ is accepted by the stock nginx with
# the built module (nginx -t), with its TLS server and every location.
use strict;
use warnings;
use Test::More;
use lib 't/lib';
use RagTest;

my $dir = RagTest::tmpdir();
mkdir "$dir/tls";
system("openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=rag.example.com "
    . "-keyout $dir/tls/privkey.pem -out $dir/tls/fullchain.pem 2>/dev/null") == 0
    or die "openssl req failed";

my $secrets = RagTest::slurp("$RagTest::ROOT/conf/secrets.conf.example");
my $hex = join '', map { sprintf '%02x', int rand 256 } 1 .. 32;
$secrets =~ s/rag_discord_public_key 0+;/rag_discord_public_key $hex;/;
RagTest::write_file("$dir/secrets.conf", $secrets);

my $conf = RagTest::slurp("$RagTest::ROOT/conf/nginx.conf");
my $module = RagTest::module_path();
ok($conf =~ s{^load_module \S+;}{load_module $module;}m, 'load_module line present');
ok($conf =~ s{/etc/ngx_rag/}{$dir/}g, 'paths relocated');
$conf =~ s{/var/log/nginx/}{$dir/}g;
$conf =~ s{^pid \S+;}{pid $dir/nginx.pid;}m;
like($conf, qr/listen 443 ssl/, 'TLS listener in the example');
like($conf, qr/ssl_certificate /, 'certificate configured');
for my $d (qw(rag_health rag_metrics rag_search rag_upload rag_event_webhook
              rag_discord_interactions rag_database rag_thread_pool rag_index_dir
              rag_dashboard)) {
    like($conf, qr/\b$d\b/, "example uses $d");
}
RagTest::write_file("$dir/nginx.conf", $conf);

my ($ok, $out) = RagTest::nginx_test_conf("$dir/nginx.conf", $dir);
ok($ok, 'nginx -t accepts conf/nginx.conf') or diag $out;
like($out, qr/syntax is ok/, 'syntax is ok');

# A broken value is rejected with a clear message.
(my $bad = $secrets) =~ s/rag_discord_public_key \S+;/rag_discord_public_key nothex;/;
RagTest::write_file("$dir/secrets.conf", $bad);
($ok, $out) = RagTest::nginx_test_conf("$dir/nginx.conf", $dir);
ok(!$ok, 'bad public key rejected');
like($out, qr/rag_discord_public_key.*64 hex digit/, 'clear error');
done_testing();
