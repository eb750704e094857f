# Every SQL statement of the bot runs against the real schema (issue 12):
# t/unit/dbtest_bot_sql.c calls each function of the bot's stores
# (lib/rag_store_{threads,messages,outbox,feedback,interactions}) and the
# bot's own reads (bot/bot.c, bot/commands.c) on a migrated database and
# checks their effects. Postgres logs every statement meanwhile; each SQL
# text found in those sources must be among them, none may fail, and each
# store function must be called by the test.
use strict;
use warnings;
use Test::More;
use lib 't/lib';
use RagTest;

my $bin = RagTest::bin('t/dbtest_bot_sql');
plan skip_all => "$bin not built (make unit)" unless -x $bin;
my $pg = RagTest::pg_start();
RagTest::psql($pg, "ALTER SYSTEM SET log_statement = 'all'");
RagTest::psql($pg, "ALTER SYSTEM SET log_line_prefix = '%a|'");
RagTest::psql($pg, "SELECT pg_reload_conf()");
sleep 1;

my $out = do {
    local $ENV{RAG_DATABASE_URL} = $pg->{conninfo};
    `$bin 2>&1`;
};
is($?, 0, 'dbtest_bot_sql exits 0') or diag($out);
like($out, qr/: [1-9]\d* passed, 0 failed/, 'and all its checks pass') or diag($out);

# --- what Postgres ran for it ------------------------------------------------
my $norm = sub { my $s = shift; $s =~ s/\s+/ /g; $s =~ s/^ | $//g; $s };
my (%ran, @errors);
open my $log, '<', "$pg->{dir}/pg.log" or die "pg.log: $!";
while (my $l = <$log>) {
    next unless $l =~ /^dbtest_bot_sql\|/;
    push @errors, $l if $l =~ /\|(ERROR|FATAL):/;
    $ran{ $norm->($1) } = 1 if $l =~ /\|LOG:\s+(?:statement|execute [^:]*): (.*)$/;
}
close $log;
is(scalar @errors, 0, 'no statement failed') or diag(join '', @errors);

# --- the SQL in the sources: adjacent C string literals, concatenated ----------
sub sql_literals {
    my ($file) = @_;
    open my $fh, '<', $file or die "$file: $!";
    local $/;
    my $src = <$fh>;
    $src =~ s{/\*.*?\*/}{ }gs;      # comments
    $src =~ s{//[^\n]*}{ }g;
    my @sql;
    while ($src =~ /((?:"(?:[^"\\]|\\.)*"\s*)+)/g) {
        my $group = $1;
        my $text = join '', $group =~ /"((?:[^"\\]|\\.)*)"/g;
        $text =~ s/\\(["\\])/$1/g;
        push @sql, $norm->($text)
            if $text =~ /^\s*(?:SELECT|INSERT|UPDATE|DELETE|WITH|LISTEN)\b/;
    }
    return @sql;
}
my @stores = map { "lib/rag_store_$_" } qw(threads messages outbox feedback interactions);
my @files = ((map { "$_.c" } @stores), grep { !/_main\.c$/ } glob('bot/*.c'));
my $n = 0;
for my $f (@files) {
    for my $q (sql_literals("$RagTest::ROOT/$f")) {
        $n++;
        ok($ran{$q}, "$f: ran " . substr($q, 0, 60)) or diag($q);
    }
}
ok($n >= 40, "$n statements found in the sources (the extractor works)");
# the daemon's main file has none left
is(scalar(sql_literals("$RagTest::ROOT/bot/rag_bot_main.c")), 0, 'no SQL in rag_bot_main.c');

# --- and every store function is called by the test ------------------------------
my $test = RagTest::slurp("$RagTest::ROOT/t/unit/dbtest_bot_sql.c");
for my $h (map { "$_.h" } @stores) {
    my $decl = RagTest::slurp("$RagTest::ROOT/$h");
    for my $fn ($decl =~ /\b(rag_store_\w+)\s*\(/g) {
        like($test, qr/\b\Q$fn\E\s*\(/, "$h: $fn called");
    }
}
done_testing();
