package RagTest;

# Test harness for ngx_rag: throwaway PostgreSQL clusters, the real nginx
# with the built module, and helper processes. Everything started here is
# stopped in END, whatever happened. Core Perl only.
#
#   use lib 't/lib'; use RagTest;
#   my $pg = RagTest::pg_start();            # migrated schema
#   RagTest::psql($pg, "SELECT 1");          # -At output, dies on error
#   my $ng = RagTest::nginx_start(pg => $pg, server => 'location ...');
#   my $pid = RagTest::spawn([RagTest::bin('rag-worker')], env => {...});
#   RagTest::wait_for(sub { ... }, 10) or fail(...);

use strict;
use warnings;
use Cwd qw(abs_path);
use File::Basename qw(dirname);
use File::Temp qw(tempdir);
use IO::Socket::INET;
use POSIX qw(:sys_wait_h);
use Time::HiRes qw(sleep time);

our $ROOT  = abs_path(dirname(__FILE__) . '/../..');
our $BUILD = $ENV{RAG_BUILD} || "$ROOT/build";
our $PGBIN = $ENV{RAG_PGBIN} || (sort glob('/usr/lib/postgresql/*/bin'))[-1];
our $NGINX = $ENV{RAG_NGINX} || '/usr/sbin/nginx';

my @children;   # pids we spawned
my @pg_dirs;    # clusters to stop
my @nginx_dirs; # nginx prefixes to stop
my @logs;       # child logs scanned for sanitizer reports at the end
my @vg_logs;    # valgrind log globs (RAG_VALGRIND)
my $owner_pid = $$;

sub bin { my ($name) = @_; return "$BUILD/$name" }
sub module_path { return "$BUILD/nginx/ngx_rag_module.so" }

sub tmpdir {
    my $d = tempdir('ragtest-XXXXXX', TMPDIR => 1, CLEANUP => !$ENV{RAG_KEEP});
    chmod 0755, $d;
    return $d;
}

sub free_port {
    for (1 .. 50) {
        my $port = 20000 + int(rand(30000));
        my $s = IO::Socket::INET->new(LocalAddr => '127.0.0.1',
            LocalPort => $port, Proto => 'tcp', ReuseAddr => 1) or next;
        close $s;
        return $port;
    }
    die "no free port";
}

sub wait_for {
    my ($cond, $timeout) = @_;
    my $end = time + ($timeout || 10);
    while (time < $end) {
        my $v = $cond->();
        return $v if $v;
        sleep 0.05;
    }
    return $cond->();
}

sub port_open {
    my ($port) = @_;
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port,
        Proto => 'tcp', Timeout => 1);
    return $s ? 1 : 0;
}

# --- PostgreSQL ------------------------------------------------------------

sub _as_postgres {
    my @cmd = @_;
    return $> == 0 ? ('runuser', '-u', 'postgres', '--', @cmd) : @cmd;
}

sub pg_start {
    my (%o) = @_;
    my $dir = tmpdir();
    my $port = free_port();
    my $data = "$dir/data";
    if ($> == 0) {
        system('chown', 'postgres:postgres', $dir) == 0 or die "chown: $?";
    }
    my @initdb = _as_postgres("$PGBIN/initdb", '-D', $data, '-A', 'trust',
        '-U', 'postgres', '-E', 'UTF8', '--no-sync');
    my $out = `@{[join ' ', map { "'$_'" } @initdb]} 2>&1`;
    die "initdb failed: $out" unless -f "$data/PG_VERSION";
    open my $fh, '>>', "$data/postgresql.conf" or die;
    print $fh "listen_addresses = ''\nunix_socket_directories = '$dir'\n",
        "port = $port\nfsync = off\nmax_connections = 200\n",
        "log_min_messages = warning\n";
    close $fh;
    my $pg = bless { dir => $dir, data => $data, port => $port, host => $dir },
        'RagTest::Pg';
    push @pg_dirs, $pg;
    pg_ctl($pg, 'start');
    $pg->{conninfo} = "host=$dir port=$port dbname=rag user=postgres";
    _psql_raw($pg, 'postgres', 'CREATE DATABASE rag');
    unless ($o{no_migrate}) {
        local $ENV{RAG_DATABASE_URL} = $pg->{conninfo};
        my $m = `@{[bin('rag-admin')]} migrate 2>&1`;
        die "migrate failed: $m" if $?;
    }
    return $pg;
}

sub pg_ctl {
    my ($pg, $action) = @_;
    my @cmd = _as_postgres("$PGBIN/pg_ctl", '-D', $pg->{data}, '-w',
        '-t', '30', '-l', "$pg->{dir}/pg.log",
        ($action eq 'stop' ? ('-m', 'fast') : ()), $action);
    my $out = `@{[join ' ', map { "'$_'" } @cmd]} 2>&1`;
    die "pg_ctl $action: $out" if $? && $action ne 'stop';
}

sub _psql_raw {
    my ($pg, $db, $sql) = @_;
    open my $fh, '-|', "$PGBIN/psql", '-X', '-q', '-At', '-v',
        'ON_ERROR_STOP=1', '-h', $pg->{host}, '-p', $pg->{port}, '-U',
        'postgres', '-d', $db, '-c', $sql or die "psql: $!";
    local $/;
    my $out = <$fh>;
    close $fh;
    die "psql failed ($?): $sql" if $?;
    $out = "" unless defined $out;
    $out =~ s/\n\z//;
    return $out;
}

sub psql { my ($pg, $sql) = @_; return _psql_raw($pg, 'rag', $sql) }

# $pg->sql("SELECT ..."): psql on the test's database, as a method of
# what pg_start returns (the tests' one-line sqlv() copies)
sub RagTest::Pg::sql { my ($pg, $sql) = @_; return psql($pg, $sql) }

# Erasure checks (issue 12): every text, json and array column of every
# table, as [table, column] pairs.
sub text_columns {
    my ($pg) = @_;
    $pg->{text_columns} //= [ map { [ split /\|/ ] } split /\n/, psql($pg, q{
        SELECT c.table_name, c.column_name FROM information_schema.columns c
          JOIN information_schema.tables t USING (table_schema, table_name)
         WHERE c.table_schema = 'public' AND t.table_type = 'BASE TABLE'
           AND (c.data_type IN ('text', 'jsonb', 'json', 'character varying',
                                'character') OR c.data_type = 'ARRAY')
         ORDER BY 1, 2}) ];
    return @{ $pg->{text_columns} };
}

# "table.column(rows) ..." for the columns holding $marker (case-
# insensitive: stems and lowercased copies count), "" when none does. One
# query: a psql per column is too slow on a loaded machine.
sub holders {
    my ($pg, $marker) = @_;
    my $sql = join "\nUNION ALL ", map {
        my ($t, $col) = @$_;
        qq{SELECT '$t.$col' AS c, count(*) AS n FROM "$t" WHERE "$col"::text ILIKE '%$marker%'}
    } text_columns($pg);
    return join ' ', map { my ($c, $n) = split /\|/; "$c($n)" }
        split /\n/, psql($pg, "SELECT c, n FROM ($sql) x WHERE n > 0 ORDER BY c");
}

# --- nginx -------------------------------------------------------------------

# nginx_start(pg => $pg, server => '...', http => '...', main => '...',
#             port => N) — writes nginx.conf around the snippets and starts
# nginx in the foreground (daemon off) as our child. %%PORT%%, %%DIR%%,
# %%DB%% and %%ROOT%% are expanded in the snippets.
sub nginx_start {
    my (%o) = @_;
    my $dir = $o{dir} || tmpdir();
    my $port = $o{port} || free_port();
    mkdir "$dir/$_" for qw(logs tmp html);
    my $db = $o{pg} ? $o{pg}{conninfo} : '';
    my $expand = sub {
        my $s = shift // '';
        $s =~ s/%%PORT%%/$port/g; $s =~ s/%%DIR%%/$dir/g;
        $s =~ s/%%DB%%/$db/g; $s =~ s/%%ROOT%%/$ROOT/g;
        return $s;
    };
    # load => '...' replaces the load_module line (an installed module);
    # user => 'www-data' runs the workers as that user when root.
    my $load = $o{load} // 'load_module ' . module_path() . ';';
    my $user = $o{user} ? "user $o{user};" : $> == 0 ? 'user root root;' : '';
    my $conf = <<"EOF";
$load
daemon off;
master_process on;
worker_processes @{[$o{workers} || 2]};
error_log $dir/logs/error.log @{[$o{log_level} || 'info']};
pid $dir/nginx.pid;
$user
@{[$expand->($o{main})]}
events { worker_connections 1024; }
http {
    access_log $dir/logs/access.log;
    client_body_temp_path $dir/tmp/body;
    proxy_temp_path $dir/tmp/proxy;
    fastcgi_temp_path $dir/tmp/fastcgi;
    uwsgi_temp_path $dir/tmp/uwsgi;
    scgi_temp_path $dir/tmp/scgi;
    @{[$expand->($o{http})]}
    server {
        listen 127.0.0.1:$port;
        server_name localhost;
        @{[$expand->($o{server})]}
    }
}
EOF
    open my $fh, '>', "$dir/nginx.conf" or die;
    print $fh $conf;
    close $fh;
    my %env = %{ $o{env} || {} };
    $env{LD_PRELOAD} = asan_runtime() if $ENV{RAG_ASAN} && asan_runtime();
    $env{ASAN_OPTIONS} = 'detect_leaks=0:abort_on_error=0' if $ENV{RAG_ASAN};
    my $pid = spawn([$NGINX, '-p', $dir, '-c', "$dir/nginx.conf"],
        env => \%env, log => "$dir/logs/stderr.log");
    my $ng = { dir => $dir, port => $port, pid => $pid,
        url => "http://127.0.0.1:$port" };
    push @nginx_dirs, $ng;
    unless (wait_for(sub { port_open($port) }, 15)) {
        my $err = slurp("$dir/logs/error.log") . slurp("$dir/logs/stderr.log");
        die "nginx did not start:\n$err";
    }
    return $ng;
}

# Runs nginx -t on a config file; returns (ok, output).
sub nginx_test_conf {
    my ($conf, $prefix) = @_;
    local $ENV{LD_PRELOAD} = asan_runtime() if $ENV{RAG_ASAN} && asan_runtime();
    local $ENV{ASAN_OPTIONS} = 'detect_leaks=0' if $ENV{RAG_ASAN};
    my $out = `$NGINX -t -p $prefix -c $conf 2>&1`;
    return ($? == 0, $out);
}

sub nginx_reload {
    my ($ng) = @_;
    kill 'HUP', $ng->{pid};
}

sub asan_runtime {
    my $p = `gcc -print-file-name=libasan.so 2>/dev/null`;
    chomp $p;
    return ($p && -e $p) ? $p : '';
}

sub error_log { my ($ng) = @_; return slurp("$ng->{dir}/logs/error.log") }

# --- processes ---------------------------------------------------------------

# spawn([argv], env => {...}, log => FILE) — starts a child process; it is
# killed in END unless it has exited.
sub spawn {
    my ($argv, %o) = @_;
    # RAG_VALGRIND=1: run our daemons under memcheck; a definite leak or
    # memory error shows up in <log>.vg.<pid> and fails the test file.
    if ($ENV{RAG_VALGRIND} && $argv->[0] =~ m{^\Q$BUILD\E/rag-}) {
        my $vlog = ($o{log} || tmpdir() . '/daemon') . '.vg.%p';
        $argv = ['valgrind', '--quiet', '--leak-check=full',
            '--errors-for-leak-kinds=definite', '--show-leak-kinds=definite',
            '--track-fds=no', "--log-file=$vlog", @$argv];
        (my $glob = $vlog) =~ s/%p/*/;
        push @vg_logs, $glob;
    }
    my $pid = fork // die "fork: $!";
    if ($pid == 0) {
        setpgrp(0, 0);
        $ENV{$_} = $o{env}{$_} for keys %{ $o{env} || {} };
        if ($o{log}) {
            open STDOUT, '>>', $o{log} or die;
            open STDERR, '>&', \*STDOUT or die;
        }
        open STDIN, '<', '/dev/null';
        exec @$argv or die "exec $argv->[0]: $!";
    }
    push @children, $pid;
    push @logs, $o{log} if $o{log};
    return $pid;
}

# Stops one child: signal, wait up to $timeout seconds, then SIGKILL.
# Returns the exit status.
sub stop {
    my ($pid, $sig, $timeout) = @_;
    kill($sig || 'TERM', $pid);
    my $end = time + ($timeout || 10);
    while (time < $end) {
        my $r = waitpid($pid, WNOHANG);
        return $? if $r == $pid;
        return -1 if $r < 0;
        sleep 0.05;
    }
    kill 'KILL', $pid;
    waitpid($pid, 0);
    return $?;
}

sub slurp {
    my ($f) = @_;
    open my $fh, '<', $f or return '';
    local $/;
    my $s = <$fh>;
    return defined $s ? $s : '';
}

# Runs a command line through the shell, stderr with stdout: (exit code,
# output); a command killed by a signal gives 128 + the signal.
sub run_cmd {
    my (@cmd) = @_;
    my $out = `@cmd 2>&1`;
    return ($? & 127 ? 128 + ($? & 127) : $? >> 8, $out);
}

sub write_file {
    my ($f, $content) = @_;
    open my $fh, '>', $f or die "$f: $!";
    print $fh $content;
    close $fh;
}

END {
    return unless $$ == $owner_pid;
    my $status = $?;
    for my $ng (@nginx_dirs) {
        stop($ng->{pid}, 'QUIT', 10) if $ng->{pid};
    }
    for my $pid (reverse @children) {
        next unless kill 0, $pid;
        stop($pid, 'TERM', 5);
    }
    for my $pg (@pg_dirs) {
        eval { pg_ctl($pg, 'stop') };
    }
    # A sanitizer report in any child's log fails the test file.
    for my $log (@logs, map { "$_->{dir}/logs/error.log" } @nginx_dirs) {
        my $text = slurp($log);
        if ($text =~ /(ERROR: (?:Address|Leak)Sanitizer.*|runtime error: .*)/) {
            print STDERR "# sanitizer report in $log: $1\n";
            $status ||= 1;
        }
    }
    for my $vlog (map { glob } @vg_logs) {
        my $text = slurp($vlog);
        if ($text =~ /(definitely lost: [1-9][\d,]* bytes|Invalid (?:read|write)|uninitialised|Mismatched free)/) {
            print STDERR "# valgrind report in $vlog: $1\n$text\n";
            $status ||= 1;
        }
    }
    $? = $status;
}

1;
