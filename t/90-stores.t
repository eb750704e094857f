# SQL has one home (issue 15.1): lib/rag_store_*.c. Every statement of
# every store runs against the real, migrated schema: the t/unit/dbtest_*
# programs call each store function and check its effect on the rows
# while Postgres logs every statement; each SQL text found in the store
# sources must be among them, and each function a store header declares
# must be called by some dbtest. The daemons' (bot/ too) and the
# module's sources hold no SQL of their own outside the stores (the
# exceptions are named); none of dbtest_bot_sql's statements fails.
# (t/64-bot-sql.t's checks live here since the merge.)
use strict;
use warnings;
use Test::More;
use File::Basename qw(basename);
use lib 't/lib';
use RagTest;

my $ROOT = $RagTest::ROOT;
my @tests = map { basename($_, '.c') } glob("$ROOT/t/unit/dbtest_*.c");
ok(scalar(@tests) >= 2, 'the dbtest programs: ' . join(' ', @tests));

my $pg = RagTest::pg_start();
RagTest::psql($pg, "ALTER SYSTEM SET log_statement = 'all'");
RagTest::psql($pg, "ALTER SYSTEM SET log_line_prefix = '%a|'");
RagTest::psql($pg, 'SELECT pg_reload_conf()');
sleep 1;
local $ENV{ASAN_OPTIONS} = 'abort_on_error=0' if $ENV{RAG_ASAN};

for my $t (@tests) {
    my $bin = RagTest::bin("t/$t");
    ok(-x $bin, "$t is built (make unit)") or next;
    # each in a database of its own, migrated like the first
    (my $db = $t) =~ s/\W/_/g;
    RagTest::psql($pg, "CREATE DATABASE $db TEMPLATE rag");
    (my $ci = $pg->{conninfo}) =~ s/dbname=rag/dbname=$db/;
    my $out = `$bin '$ci' 2>&1`;
    is($? >> 8, 0, "$t: every check passed") or diag $out;
    like($out, qr/: [1-9]\d* passed, 0 failed/, "$t: tally printed");
    my ($n) = $out =~ /: (\d+) passed/;
    cmp_ok($n // 0, '>=', 60, "$t: checks run (" . ($n // 0) . ")");
    unlike($out, qr/ERROR: (Address|Leak)Sanitizer|runtime error:/,
        "$t: no sanitizer report");
}

# --- what Postgres ran ---------------------------------------------------------
my $norm = sub { my $s = shift; $s =~ s/\s+/ /g; $s =~ s/^ | $//g; $s };
my (@ran, @errors);
open my $log, '<', "$pg->{dir}/pg.log" or die "pg.log: $!";
while (my $l = <$log>) {
    push @ran, $norm->($1)
        if $l =~ /^dbtest\w*\|LOG:\s+(?:statement|execute [^:]*): (.*)$/;
    push @errors, $l if $l =~ /^dbtest_bot_sql\|(?:ERROR|FATAL):/;
}
close $log;
ok(scalar(@ran) > 100, scalar(@ran) . ' statements logged');
is(scalar(@errors), 0, 'no statement of dbtest_bot_sql failed')
    or diag join '', @errors;
my $ran = join "\n", @ran;

# --- the SQL in the sources: adjacent C string literals, concatenated -------
# A literal group may stop at a macro (the jobs store's FENCE): it must
# then be a piece of a statement that ran.
sub sql_literals {
    my ($file) = @_;
    my $src = RagTest::slurp($file);
    $src =~ s{/\*.*?\*/}{ }gs;
    $src =~ s{//[^\n]*}{ }g;
    my @sql;
    while ($src =~ /((?:"(?:[^"\\]|\\.)*"\s*)+)/g) {
        my $text = join '', $1 =~ /"((?:[^"\\]|\\.)*)"/g;
        $text =~ s/\\\\/\\/g;
        $text =~ s/\\"/"/g;
        push @sql, $norm->($text)
            if $text =~ /^\s*(?:SELECT|INSERT|UPDATE|DELETE|WITH|LISTEN)\s+\S/;
    }
    return @sql;
}
my @stores = glob("$ROOT/lib/rag_store_*.c");
ok(scalar(@stores) >= 10, scalar(@stores) . ' stores');
my $n = 0;
for my $f (@stores) {
    my $name = basename($f);
    for my $q (sql_literals($f)) {
        $n++;
        ok(index($ran, $q) >= 0, "$name: ran " . substr($q, 0, 60)) or diag $q;
    }
}
ok($n >= 100, "$n statements found in the stores (the extractor works)");

# --- every store function is called by a dbtest --------------------------------
my $callers = join '', map { RagTest::slurp($_) } glob("$ROOT/t/unit/dbtest_*.c");
for my $h (glob("$ROOT/lib/rag_store_*.h")) {
    my $decl = RagTest::slurp($h);
    $decl =~ s{/\*.*?\*/}{ }gs;
    for my $fn ($decl =~ /\b(rag_store_\w+)\s*\(/g) {
        like($callers, qr/\b\Q$fn\E\s*\(/, basename($h) . ": $fn called");
    }
}

# --- and no SQL elsewhere ----------------------------------------------------------
# Left where they are, on purpose: rag_db.c (migrations; its own table),
# eval_fts.c (rag-admin eval's temporary full-text tables).
my %exempt = map { $_ => 1 } qw(lib/rag_db.c worker/admin/eval_fts.c);
for my $f (map { s{^\Q$ROOT\E/}{}r }
    glob("$ROOT/{lib,worker,worker/*,ngx_rag_module,bot}/*.c")) {
    next if $exempt{$f} || $f =~ m{^lib/rag_store_};
    my @q = sql_literals("$ROOT/$f");
    is(scalar(@q), 0, "$f: no SQL of its own") or diag join "\n", @q;
}
done_testing();
