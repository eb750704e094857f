# Tables of contents are not answers (issue 16.4): a crawled page whose
# main content is mostly link text (a heading, a line, nested lists of
# links: Sphinx's contents.html, PostgreSQL's part pages) is not stored,
# but the pages it links to are crawled and stored, and the crawl
# summary counts it as skipped. A list of links each with a description
# (a command reference) is content and stored. --keep-generated keeps
# the table of contents too.
use strict;
use warnings;
use Test::More;
use lib 't/lib';
use RagTest;

my $pg = RagTest::pg_start();
my $idx = RagTest::tmpdir();
my $www = RagTest::tmpdir();
mkdir "$www/m" or die;

my @ch = ('Getting Started', 'Server Setup and Operation', 'Server Configuration',
    'Client Authentication', 'Database Roles', 'Managing Databases',
    'Localization', 'Routine Database Maintenance Tasks', 'Backup and Restore',
    'High Availability, Load Balancing, and Replication', 'Monitoring Database Activity',
    'Reliability and the Write-Ahead Log');
my ($toc, $cmds) = ('', '');
for my $i (0 .. $#ch) {
    $toc .= "<li><a href=\"c$i.html\">" . ($i + 16) . ". $ch[$i]</a><ul>"
        . "<li><a href=\"c$i.html#s1\">" . ($i + 16) . ".1. Overview</a></li>"
        . "</ul></li>";
    $cmds .= "<dt><a href=\"c$i.html\">ALTER THING$i</a></dt>"
        . "<dd>change the definition of thing number $i in the database</dd>";
    RagTest::write_file("$www/m/c$i.html", "<html><head><title>$ch[$i]</title>"
        . "</head><body><div class=nav><a href=\"toc.html\">Contents</a></div>"
        . "<div id=main><h1>$ch[$i]</h1><p>Chapter $i explains "
        . lc($ch[$i]) . " in prose a reader wants as an answer, with the"
        . " settings and commands it needs.</p><p>More text about chapter"
        . " $i, so that this page is plainly content.</p></div></body></html>\n");
}
RagTest::write_file("$www/m/toc.html", "<html><head><title>Part III. Server"
    . " Administration</title></head><body><div id=main><h1>Part III. Server"
    . " Administration</h1><p>This part covers administration.</p><ul>$toc"
    . "</ul><p><a href=\"cmds.html\">SQL Commands</a></p></div></body></html>\n");
RagTest::write_file("$www/m/cmds.html", "<html><head><title>SQL Commands"
    . "</title></head><body><div id=main><h1>SQL Commands</h1><p>This part"
    . " contains reference information.</p><dl>$cmds</dl></div></body></html>\n");

my $ng = RagTest::nginx_start(server => "location / { root $www; }");
my %env = (RAG_DATABASE_URL => $pg->{conninfo}, RAG_INDEX_DIR => $idx);

sub crawl {
    my ($coll, @extra) = @_;
    local @ENV{keys %env} = values %env;
    my $cmd = join ' ', map { "'$_'" } RagTest::bin('rag-ingest'),
        '--collection', $coll, '--site', "$ng->{url}/m/toc.html",
        '--allow-private', '--delay', '0', @extra;
    my $out = `$cmd 2>&1`;
    return ($? >> 8, $out);
}
sub stat_of { my ($o, $k) = @_; return $o =~ /^pages .*\b$k=(\d+)/m ? $1 : -1 }
sub urls {
    my ($coll) = @_;
    return $pg->sql("SELECT string_agg(regexp_replace(d.url, '.*/', ''), ' '
        ORDER BY d.url) FROM documents d JOIN collections c ON
        c.id = d.collection_id WHERE c.name = '$coll'");
}

my ($rc, $out) = crawl('toc');
is($rc, 0, 'crawl') or diag $out;
is(urls('toc'), join(' ', 'c0.html', 'c1.html', 'c10.html', 'c11.html',
    map({ "c$_.html" } 2 .. 9), 'cmds.html'),
    'the table of contents is not stored; every page it links to is, and'
    . ' the command list with descriptions too') or diag $out;
like($out, qr/listing page skipped.*toc\.html.*kind=toc/,
    'the skip is logged with its kind');
is(stat_of($out, 'skipped'), 1, 'the summary counts it as skipped') or diag $out;
is($pg->sql("SELECT count(*) FROM chunks WHERE body LIKE '%This part covers%'"),
    0, 'no chunk from the table of contents');

($rc, $out) = crawl('kept', '--keep-generated');
is($rc, 0, 'crawl --keep-generated') or diag $out;
like(urls('kept'), qr/(^| )toc\.html( |$)/,
    '--keep-generated stores the table of contents') or diag $out;
is(stat_of($out, 'skipped'), 0, '--keep-generated: nothing skipped') or diag $out;

done_testing();
