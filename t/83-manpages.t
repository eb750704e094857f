# Manual pages (man/): every program the Makefile builds (worker/*_main.c,
# bot/*_main.c) has exactly one page, in section 1 or 8, that groff
# renders with every warning on and none given, and that man-db's lexgrog
# reads a whatis entry from (lintian's checks). Each page is then held to
# the program and its source:
#   - `PROG --help` prints the usage on stdout and exits 0; every option
#     and rag-admin command that usage names, and every option the
#     argument parsing accepts (strcmp/getopt literals and getopt_long
#     tables of the main file, and of worker/admin/admin_*.c for rag-admin), is
#     described under a .TP tag (OPTIONS, SOURCES, COMMANDS);
#   - the exit status of bad usage is one the EXIT STATUS section lists;
#   - every signal the program handles is in its SIGNALS section;
#   - every configuration key the program's own files read is named,
#     every environment variable they getenv() too;
# and ngx-rag.conf(5) documents every key read anywhere (worker/, bot/,
# lib/), as a .TP tag, and no key that nothing reads.
# The systemd units name their page (Documentation=man:...), and
# `make install-man` installs each page under $(MANDIR)/manN.
use strict;
use warnings;
use Test::More;
use File::Basename qw(basename);
use lib 't/lib';
use RagTest;

my $ROOT = $RagTest::ROOT;
chdir $ROOT or die "chdir $ROOT: $!";
plan skip_all => 'groff (groff-base) not installed'
    unless -x '/usr/bin/groff';

sub run {    # (exit status, stdout, stderr)
    my ($cmd) = @_;
    my $tmp = RagTest::tmpdir();
    system("$cmd >$tmp/out 2>$tmp/err </dev/null");
    return ($? >> 8, RagTest::slurp("$tmp/out"), RagTest::slurp("$tmp/err"));
}

# The page's text with roff escapes that only change fonts removed and
# \- made '-', so options can be matched as written on a terminal.
sub plain {
    my ($s) = @_;
    $s =~ s/\\f(?:\[[^\]]*\]|\(..|.)//g;
    $s =~ s/\\-/-/g;
    $s =~ s/\\&//g;
    $s =~ s/\\\(dq/"/g;
    return $s;
}

sub has_word {
    my ($text, $w) = @_;
    return $text =~ /(?<![\w-])\Q$w\E(?![\w-])/;
}

# Lines of the roff source, comments dropped, per section (.SH NAME).
sub sections {
    my ($src) = @_;
    my (%sec, $cur);
    for (split /\n/, $src) {
        next if /^\.\\"/;
        if (/^\.SH\s+"?([^"]+?)"?\s*$/) { $cur = $1; next }
        push @{ $sec{$cur} }, $_ if defined $cur;
    }
    return \%sec;
}

# The tag line of every .TP in the page (the line after it).
sub tp_tags {
    my ($src) = @_;
    my @l = grep { !/^\.\\"/ } split /\n/, $src;
    return map { $l[$_ + 1] // '' } grep { $l[$_] =~ /^\.TP\b/ } 0 .. $#l;
}

# Configuration keys read in files: rag_conf_get/int/double/bool(c, "key",
# the config tables' accessors rag_conf_str/long/num/on(c, &section, "key"
# and the tables' entries {"key", RAG_CONF_...} (rag_conf.h).
sub conf_keys {
    my %k;
    for my $f (@_) {
        my $s = RagTest::slurp($f);
        $k{$1} = 1 while $s =~ /rag_conf_(?:get|int|double|bool)\(\s*[^,()]+,\s*"([a-z0-9_]+)"/g;
        $k{$1} = 1 while $s =~ /rag_conf_(?:str|long|num|on)\(\s*[^,()]+,\s*[^,()]+,\s*"([a-z0-9_]+)"/g;
        $k{$1} = 1 while $s =~ /\{\s*"([a-z0-9_]+)",\s*RAG_CONF_[A-Z]+\b/g;
    }
    return \%k;
}

# Options a source file parses: "-x"/"--long" string literals, getopt
# option strings and getopt_long tables.
sub src_options {
    my %o;
    for my $f (@_) {
        my $s = RagTest::slurp($f);
        $o{$1} = 1 while $s =~ /"(--?[a-zA-Z][a-zA-Z0-9-]*)"/g;
        while ($s =~ /getopt(?:_long)?\(\s*argc,\s*argv,\s*"([^"]*)"/g) {
            $o{"-$_"} = 1 for grep { /[a-zA-Z]/ } split //, $1;
        }
        $o{"--$1"} = 1
            while $s =~ /\{\s*"([a-z][a-z0-9-]*)",\s*(?:no|required|optional)_argument/g;
    }
    return \%o;
}

# --- programs and their files ------------------------------------------
my %progs;    # name -> main source
for my $m (glob('worker/*_main.c'), glob('worker/*/*_main.c'),
    glob('bot/*_main.c')) {
    (my $n = basename($m, '.c')) =~ s/_main$//;
    $n =~ tr/_/-/;
    $progs{$n} = $m;
}
cmp_ok(scalar keys %progs, '>=', 6, 'programs found: ' . join ' ', sort keys %progs);

# Beyond its main file, the files whose keys, options, signals and
# environment are a program's own (the rest it shares through
# ngx-rag.conf(5)).
my %own = (
    'rag-worker'  => [qw(worker/jobs.c worker/queue_runner.c worker/answer.c
                         worker/llm.c worker/ingest/ingest.c
                         lib/rag_index_write.c)],
    'rag-bot'     => [glob('bot/*.c'), 'lib/rag_conf_bot.c'],
    'rag-admin'   => [glob('worker/admin/admin_*.c'), 'lib/rag_paths.c'],
    'rag-reindex' => [qw(worker/ft_train.c lib/rag_index_write.c)],
    'rag-ingest'  => [qw(worker/ingest/ingest.c lib/rag_index_write.c)],
    'rag-ask'     => [qw(worker/llm.c)],
);

my @pages = sort glob('man/*.[1-8]');

# --- every page renders cleanly ---------------------------------------
for my $p (@pages) {
    my ($rc, $out, $err) = run("LC_ALL=C.UTF-8 groff -man -Tutf8 -ww -z $p");
    is("$rc $err", '0 ', "$p: groff -man -ww, no warning");
    ($rc, $out, $err) = run("LC_ALL=C.UTF-8 MANWIDTH=80 man --warnings "
        . "-E UTF-8 -l $p");
    ok($rc == 0 && $err eq '' && length($out) > 500, "$p: man -l renders it")
        or diag "rc=$rc\n$err";
  SKIP: {
        skip 'lexgrog (man-db) missing', 1 unless -x '/usr/bin/lexgrog';
        my $name = basename($p) =~ s/\.[1-8]$//r;
        ($rc, $out) = run("lexgrog $p");
        like($out, qr/"\Q$name\E - \S/, "$p: whatis entry for $name");
    }
    my $src = RagTest::slurp($p);
    my ($th, $sec) = $src =~ /^\.TH\s+(\S+)\s+(\d)/m;
    is("$th $sec", uc(basename($p) =~ s/\.(\d)$//r) . " $1",
        "$p: .TH names the page and its section");
}

# --- each program against its page -------------------------------------
for my $prog (sort keys %progs) {
    my @p = grep { basename($_) =~ /^\Q$prog\E\.[18]$/ } @pages;
    is(scalar @p, 1, "$prog: one page in section 1 or 8") or next;
    my $page = $p[0];
    my $src = RagTest::slurp($page);
    my $text = plain($src);
    my $sec = sections($src);
    my $tags = plain(join "\n", tp_tags($src));
    my @files = ($progs{$prog}, @{ $own{$prog} || [] });

    # --help: the usage, on stdout, status 0
    my $bin = RagTest::bin($prog);
    my ($rc, $usage, $err) = run("$bin --help");
    ok($rc == 0 && $usage =~ /^usage: \Q$prog\E /m && $err eq '',
        "$prog --help: usage on stdout, exit 0")
        or diag "rc=$rc stdout=[$usage] stderr=[$err]";
    ($rc, my $u2) = run("$bin -h");
    is($rc, 0, "$prog -h: exit 0");
    $usage .= $u2;

    my %opts = map { $_ => 'usage' } $usage =~ /(?<![\w-])(--?[a-zA-Z][\w-]*)/g;
    my $so = src_options($progs{$prog},
        $prog eq 'rag-admin' ? glob('worker/admin/admin_*.c') : ());
    $opts{$_} //= 'source' for keys %$so;
    for my $o (sort keys %opts) {
        ok(has_word($tags, $o), "$prog: $o ($opts{$o}) described in $page");
    }
    if ($prog eq 'rag-admin') {
        my @cmds = $usage =~ /^  ([a-z][a-z-]+)\s/mg;
        cmp_ok(scalar @cmds, '>=', 8, 'rag-admin: commands in its usage');
        ok(has_word($tags, $_), "rag-admin: command $_ documented")
            for @cmds;
    }

    # bad usage: its exit status is documented
    ($rc, undef, $err) = run("$bin --no-such-option");
    ok($rc != 0 && $err =~ /usage:/, "$prog: bad option gives usage ($rc)");
    my $exit = plain(join "\n", @{ $sec->{'EXIT STATUS'} || [] });
    like($exit, qr/^\.B \Q$rc\E$/m, "$prog: exit status $rc is documented");

    # signals handled
    my %sigs;
    for my $f (@files) {
        my $s = RagTest::slurp($f);
        $sigs{$1} = 1 while $s =~ /sigaction\((SIG[A-Z]+)/g;
    }
    my $sigsec = plain(join "\n", @{ $sec->{SIGNALS} || [] });
    ok(has_word($sigsec, $_), "$prog: $_ in SIGNALS") for sort keys %sigs;

    # configuration keys and environment
    my $keys = conf_keys(@files);
    ok(has_word($text, $_), "$prog: key $_ named") for sort keys %$keys;
    my %env;
    for my $f (@files) {
        my $s = RagTest::slurp($f);
        $env{$1} = 1 while $s =~ /getenv\("([A-Z_]+)"\)/g;
    }
    my $envsec = plain(join "\n", @{ $sec->{ENVIRONMENT} || [] });
    ok(has_word($envsec, $_), "$prog: $_ in ENVIRONMENT") for sort keys %env;
    like($envsec, qr/RAG_/, "$prog: RAG_<KEY> overrides in ENVIRONMENT");
}

# rag-admin: an unknown command is bad usage before any database is asked
{
    my ($rc, $out, $err) = run('env RAG_DATABASE_URL=host=/nonexistent '
        . RagTest::bin('rag-admin') . ' no-such-command');
    ok($rc == 2 && $err =~ /^usage: rag-admin/ && $err !~ /database:/,
        'rag-admin no-such-command: usage, exit 2, no database error')
        or diag "rc=$rc\n$err";
}

# --- ngx-rag.conf(5): every key read anywhere, and only those -----------
{
    my $conf = 'man/ngx-rag.conf.5';
    ok(-f $conf, "$conf exists") or last;
    my $src = RagTest::slurp($conf);
    my $all = conf_keys(glob('worker/*.c'), glob('worker/*/*.c'),
        glob('bot/*.c'), glob('lib/*.c'));
    cmp_ok(scalar keys %$all, '>', 60, 'keys read by the programs');
    my @tags = grep { /^\.BR?\s/ } tp_tags($src);
    my %doc;
    for my $t (@tags) {
        (my $s = plain($t)) =~ s/"[^"]*"//g;    # drop ", " separators
        $s =~ s/^\.BR?\s+//;
        $doc{$_} = 1 for grep { /^[a-z][a-z0-9_]*$/ } split /\s+/, $s;
    }
    ok($doc{$_}, "$conf: key $_ documented") for sort keys %$all;
    ok($all->{$_}, "$conf: documented key $_ is read by the source")
        for sort keys %doc;
}

# --- the systemd units point at the pages (Documentation=, lintian) -----
for my $u (sort glob('conf/systemd/*.service')) {
    my ($name, $sec) = RagTest::slurp($u) =~ /^Documentation=man:([\w.-]+)\((\d)\)$/m;
    ok($name && -f "man/$name.$sec", "$u: Documentation=man:"
        . ($name // '?') . '(' . ($sec // '?') . ') is a page of man/');
}

# --- make install-man -------------------------------------------------
{
    my $dest = RagTest::tmpdir();
    my ($rc, $out, $err) = run("make -s install-man DESTDIR=$dest PREFIX=/usr");
    is($rc, 0, 'make install-man') or diag $err;
    for my $p (@pages) {
        my ($n) = $p =~ /\.(\d)$/;
        my $f = "$dest/usr/share/man/man$n/" . basename($p);
        ok(-f $f && (stat $f)[2] % 512 == 0644,
            "installed $f (0644)");
    }
}

done_testing();
