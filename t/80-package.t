# The Debian packages end to end: build them with dpkg-buildpackage
# (scripts/build-deb.sh, lintian without errors), install them on this
# machine, check the layout (module enabled the dh_nginx way with the
# nginx ABI dependency, the ngx-rag user, permissions of secrets and the
# index directory), then run the demo's question through the installed
# programs as the ngx-rag user and an nginx (workers as www-data) that
# loads the installed module through /etc/nginx/modules-enabled, and
# finally purge them and check nothing is left.
#
# It installs packages, so it runs only from `make pkg-test` (part of
# `make check`: RAG_PKG_TEST=1), as root, on a machine where neither
# package is installed already (it would not touch a real installation).
use strict;
use warnings;
use Test::More;
use HTTP::Tiny;
use JSON::PP;
use Time::HiRes qw(time);
use lib 't/lib';
use RagTest;

plan skip_all => 'installs packages: run by make pkg-test (RAG_PKG_TEST=1)'
    unless $ENV{RAG_PKG_TEST};
plan skip_all => 'needs root (dpkg -i)' unless $> == 0;
for my $p (qw(ngx-rag libnginx-mod-http-rag)) {
    my $st = `dpkg-query -W -f='\${Status}' $p 2>/dev/null`;
    plan skip_all => "$p is already installed here; not touching it"
        if $st =~ /installed|config-files/;
}

my $t0 = time;
my $Q = 'How do I build an index without locking out writes to the table?';
my $DOCS = '/usr/share/doc/postgresql-doc-15/html';
my $tmp = RagTest::tmpdir();
my $user_existed = defined getpwnam('ngx-rag');
my $installed = 0;

sub sh {
    my ($cmd) = @_;
    my $out = `$cmd 2>&1`;
    return ($? >> 8, $out);
}

sub purge {
    return unless $installed;
    $installed = 0;
    return sh('dpkg --purge ngx-rag libnginx-mod-http-rag');
}
END { purge() }

# --- build ---------------------------------------------------------------
my ($rc, $out) = sh("$RagTest::ROOT/scripts/build-deb.sh $tmp/out");
is($rc, 0, 'dpkg-buildpackage -us -uc -b and lintian --fail-on error')
    or BAIL_OUT("package build failed:\n$out");
my $lintian = RagTest::slurp("$tmp/out/lintian.txt");
my @errors = $lintian =~ /^(E: .*)$/mg;
my @warnings = $lintian =~ /^(W: .*)$/mg;
is(scalar @errors, 0, 'lintian: no errors') or diag join "\n", @errors;
diag(sprintf "lintian: %d warnings\n%s", scalar @warnings, join "\n", @warnings);
my ($mod_deb) = glob("$tmp/out/libnginx-mod-http-rag_*_*.deb");
my ($bin_deb) = glob("$tmp/out/ngx-rag_*_*.deb");
ok($mod_deb && $bin_deb, 'both packages built');
diag(sprintf 'build took %.0f s', time - $t0);

# the module depends on the exact nginx ABI it was built against
my ($abi) = RagTest::slurp('/usr/share/nginx/src/debian/libnginx-mod.abisubstvars')
    =~ /^nginx:abi=(\S+)/m;
my $depends = `dpkg-deb -f $mod_deb Depends`;
like($depends, qr/(^|, )\Q$abi\E(,|$)/m, "module depends on $abi");
my $provider = `dpkg-query -W -f='\${Provides}' nginx 2>/dev/null`;
like($provider, qr/\Q$abi\E/, 'the installed nginx provides that ABI');

# --- install ---------------------------------------------------------------
($rc, $out) = sh("dpkg -i $mod_deb $bin_deb");
$installed = 1;
is($rc, 0, 'dpkg -i both packages') or BAIL_OUT($out);

ok(-x "/usr/bin/$_", "/usr/bin/$_") for qw(rag-worker rag-ingest rag-ask
    rag-admin rag-reindex rag-bot);
# every page of man/, compressed by dh_compress (t/83 checks the pages)
for my $p (glob("$RagTest::ROOT/man/*.[1-8]")) {
    my ($name, $sec) = $p =~ m{([^/]+)\.(\d)$};
    ok(-f "/usr/share/man/man$sec/$name.$sec.gz", "man page $name($sec)");
}
ok(-f '/usr/lib/nginx/modules/ngx_rag_module.so', 'module installed');
is(readlink('/etc/nginx/modules-enabled/50-mod-http-rag.conf'),
    '/usr/share/nginx/modules-available/mod-http-rag.conf',
    'module enabled through modules-enabled (dh_nginx)');
like(RagTest::slurp('/usr/share/nginx/modules-available/mod-http-rag.conf'),
    qr{^load_module /usr/lib/nginx/modules/ngx_rag_module\.so;$}m,
    'load snippet');
my @pw = getpwnam('ngx-rag');
ok(@pw && $pw[2] < 1000, 'ngx-rag is a system user');
my $gid = getgrnam('ngx-rag');
my $wgid = getgrnam('www-data');
my @st = stat('/etc/ngx_rag/secrets.conf');
is(sprintf('%04o %d %d', $st[2] & 07777, $st[4], $st[5]),
    sprintf('0640 0 %d', $gid), 'secrets.conf 0640 root:ngx-rag');
@st = stat('/var/lib/ngx_rag/index');
is(sprintf('%04o %d %d', $st[2] & 07777, $st[4], $st[5]),
    sprintf('2750 %d %d', $pw[2], $wgid),
    'index dir 2750 ngx-rag:www-data');
ok(-f "/etc/ngx_rag/$_", "/etc/ngx_rag/$_") for qw(worker.conf bot.conf);
for my $u (qw(rag-worker rag-bot rag-follow)) {
    my $unit = RagTest::slurp("/lib/systemd/system/$u.service");
    like($unit, qr{^ExecStart=/usr/bin/rag-}m, "$u.service runs /usr/bin");
    like($unit, qr{^User=ngx-rag$}m, "$u.service runs as ngx-rag");
}
ok(-f '/usr/share/ngx-rag/sql/001_init.sql', 'migrations installed');

# --- the demo's question through the installed programs ------------------
my $pg = RagTest::pg_start(no_migrate => 1);
my %env = (RAG_DATABASE_URL => $pg->{conninfo}, RAG_LOG_LEVEL => 'warn');
my $envs = join ' ', map { "$_='$env{$_}'" } sort keys %env;
sub as_rag { my ($cmd) = @_; return sh("runuser -u ngx-rag -- env $envs $cmd") }

($rc, $out) = as_rag('/usr/bin/rag-admin migrate');
is($rc, 0, 'rag-admin migrate') or diag $out;
like($out, qr{applied \(/usr/share/ngx-rag/sql\)},
    'migrations found in /usr/share/ngx-rag/sql by default');

# a slice of the PostgreSQL manual, served by the same nginx
my $docs = "$tmp/docs";
mkdir $docs;
my @pages = qw(sql-createindex sql-reindex sql-altertable sql-droptable
    sql-lock explicit-locking indexes indexes-types indexes-multicolumn
    routine-vacuuming sql-vacuum mvcc-intro backup-dump sql-cluster
    sql-analyze);
symlink("$DOCS/$_.html", "$docs/$_.html") for @pages;
RagTest::write_file("$docs/index.html", "<html><head><title>Docs</title>"
    . "</head><body>" . join('', map { "<a href=\"$_.html\">$_</a> " } @pages)
    . "</body></html>");
my $docs_port = RagTest::free_port();
my $ng = RagTest::nginx_start(pg => $pg,
    load => 'include /etc/nginx/modules-enabled/50-mod-http-rag.conf;',
    user => 'www-data',
    main => 'thread_pool rag threads=2;',
    http => qq{rag_database "%%DB%%"; rag_thread_pool rag;
        server { listen 127.0.0.1:$docs_port; root $docs; }},
    server => 'location = /rag/health { rag_health; }
               location = /search { rag_search; }');
like(`nginx -V 2>&1`, qr/nginx version/, 'stock nginx');

($rc, $out) = as_rag('/usr/bin/rag-admin collection-add postgresql "PostgreSQL 15"');
is($rc, 0, 'collection-add') or diag $out;
my $ti = time;
($rc, $out) = as_rag("/usr/bin/rag-ingest --collection postgresql --site "
    . "http://127.0.0.1:$docs_port/ --allow-private --delay 0 --quiet");
is($rc, 0, 'rag-ingest (as ngx-rag) crawled and indexed') or diag $out;
diag(sprintf 'ingest of %d pages took %.1f s', scalar @pages, time - $ti);
@st = stat('/var/lib/ngx_rag/index/postgresql.idx');
ok(@st, 'index written to /var/lib/ngx_rag/index by default');
is($st[5], $wgid, 'index file group www-data (setgid directory)') if @st;

($rc, $out) = as_rag("/usr/bin/rag-ask --collection postgresql '$Q'");
is($rc, 0, 'rag-ask answered');
like($out, qr/CONCURRENTLY/, 'answer explains CREATE INDEX CONCURRENTLY');
like($out, qr/sql-createindex\.html/, 'and cites the CREATE INDEX page');

my $http = HTTP::Tiny->new(timeout => 10);
(my $q = $Q) =~ s/ /+/g;
$q =~ s/\?//g;
my $r = $http->get("$ng->{url}/search?collection=postgresql&k=3&q=$q");
is($r->{status}, 200, '/search through the installed module (workers as www-data)')
    or diag $r->{content}, RagTest::error_log($ng);
my $res = eval { decode_json($r->{content}) } || {};
ok((grep { $_->{url} =~ /sql-createindex\.html/ } @{ $res->{results} || [] }),
    'search finds the CREATE INDEX page');
$r = $http->get("$ng->{url}/rag/health");
like($r->{content}, qr/"database":"ok"/, '/rag/health through the module');

# a forum question answered by the installed rag-worker from the queue
RagTest::psql($pg, "INSERT INTO threads (thread_id, title, collection, "
    . "author_id) VALUES ('pkg-1', 'Index without downtime?', 'postgresql', "
    . "'u1'); INSERT INTO messages (thread_id, message_id, author_id, "
    . "content, first_message) VALUES ('pkg-1', 'pkg-1-1', 'u1', "
    . "'$Q', true)");
my $wpid = RagTest::spawn(['runuser', '-u', 'ngx-rag', '--', 'env',
    (map { "$_=$env{$_}" } sort keys %env), 'RAG_POLL_INTERVAL_MS=200',
    '/usr/bin/rag-worker'], log => "$tmp/worker.log");
my $reply = RagTest::wait_for(sub { RagTest::psql($pg, "SELECT content || "
    . "coalesce(sources::text, '') FROM messages WHERE thread_id = 'pkg-1' "
    . "AND from_bot") }, 30);
ok($reply, 'rag-worker answered the forum question')
    or diag RagTest::slurp("$tmp/worker.log");
like($reply // '', qr/sql-createindex\.html/, 'the reply cites its source');
is(RagTest::stop($wpid, 'TERM', 20) >> 8, 0, 'rag-worker stops cleanly');

# doctor against this deployment (users, index, health, generations)
($rc, $out) = sh("env $envs /usr/bin/rag-admin doctor "
    . "--health-url $ng->{url}/rag/health");
is($rc, 0, 'rag-admin doctor: all checks pass') or diag $out;

# --- purge -----------------------------------------------------------------
RagTest::stop($ng->{pid}, 'QUIT', 10);
($rc, $out) = purge();
is($rc, 0, 'dpkg --purge both') or diag $out;
ok(!-e "/usr/bin/$_", "$_ removed") for qw(rag-worker rag-admin);
ok(!-e '/usr/share/man/man8/rag-worker.8.gz', 'man pages removed');
ok(!-e '/usr/lib/nginx/modules/ngx_rag_module.so', 'module removed');
ok(!-e '/etc/nginx/modules-enabled/50-mod-http-rag.conf'
    && !-l '/etc/nginx/modules-enabled/50-mod-http-rag.conf.removed',
    'modules-enabled link removed');
ok(!-e '/etc/ngx_rag', '/etc/ngx_rag removed');
ok(!-e '/var/lib/ngx_rag', '/var/lib/ngx_rag removed');
ok(!-e '/lib/systemd/system/rag-worker.service', 'units removed');
# Debian keeps system users on purge; the test removes the one it made
if (!$user_existed) {
    ($rc, $out) = sh('deluser --system --quiet ngx-rag');
    is($rc, 0, 'test user removed') or diag $out;
    sh('getent group ngx-rag >/dev/null && delgroup --system --quiet ngx-rag');
}
diag(sprintf 'package test took %.0f s', time - $t0);
done_testing();
