# Every statement of lib/rag_store_jobs.c (the one home of the jobs SQL)
# runs against the real, migrated schema: t/unit/dbtest_store_jobs.c
# claims, completes, fails, releases, extends, rescues and purges jobs
# and checks the rows after each. This file gives it a database.
use strict;
use warnings;
use Test::More;
use lib 't/lib';
use RagTest;

my $bin = RagTest::bin('t/dbtest_store_jobs');
ok(-x $bin, 'dbtest_store_jobs is built (make unit)') or BAIL_OUT("no $bin");
my $pg = RagTest::pg_start();
local $ENV{ASAN_OPTIONS} = 'abort_on_error=0' if $ENV{RAG_ASAN};
my $out = `$bin '$pg->{conninfo}' 2>&1`;
my $rc = $? >> 8;
is($rc, 0, 'every check passed') or diag $out;
like($out, qr/: (\d+) passed, 0 failed/, 'tally printed');
my ($n) = $out =~ /: (\d+) passed/;
cmp_ok($n // 0, '>=', 60, "checks run ($n)");
unlike($out, qr/ERROR: (Address|Leak)Sanitizer|runtime error:/,
    'no sanitizer report');
done_testing();
