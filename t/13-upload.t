# POST /upload_documents: bearer auth, validation, upsert by URL (not by
# position), one ingest job per distinct batch, 202 with the job id.
use strict;
use warnings;
use Test::More;
use HTTP::Tiny;
use lib 't/lib';
use RagTest;

my $pg = RagTest::pg_start();
my $ng = RagTest::nginx_start(pg => $pg,
    http => 'rag_database "%%DB%%";',
    server => '
        location = /upload_documents {
            rag_upload;
            rag_upload_token "tok-123456";
            rag_max_body 256k;
            client_body_buffer_size 8k;  # larger bodies spool to a file
        }
        location = /upload-create {
            rag_upload;
            rag_upload_token "tok-123456";
            rag_upload_create_collections on;
            rag_max_body 256k;
            client_body_buffer_size 8k;
        }
        location = /open-upload { rag_upload; }
    ');
my $http = HTTP::Tiny->new(timeout => 10);
my $url = "$ng->{url}/upload_documents";
my %auth = ('Content-Type' => 'application/json', Authorization => 'Bearer tok-123456');
sub up {
    my ($body, %h) = @_;
    my %all = (%auth, %h);
    delete $all{$_} for grep { !defined $all{$_} } keys %all;
    return $http->post($url, { content => $body, headers => \%all });
}

my $batch = '{"collection":"guide","documents":['
  . '{"url":"https://docs.example.com/install","title":"Install","body":"# Install\n\nRun apt-get install.","tags":["v1"]},'
  . '{"url":"https://docs.example.com/config","title":"Config","body":"# Config\n\nEdit the file."}]}';

is(up($batch, Authorization => 'Bearer wrong')->{status}, 401, 'wrong token: 401');
is(up($batch, Authorization => undef)->{status}, 401, 'no token: 401');
is($http->post("$ng->{url}/open-upload", { content => $batch,
    headers => \%auth })->{status}, 403, 'endpoint without token configured: 403');

# An upload does not create a collection unless its location says so: a
# typo in the name must not make a collection no forum searches.
my $r = up($batch);
is($r->{status}, 404, 'unknown collection: 404');
is($r->{content}, '{"error":"unknown collection \\"guide\\" (create it with '
    . 'rag-admin collection-add, or set rag_upload_create_collections on)"}',
    '... naming the collection and the two ways out');
is(RagTest::psql($pg, "SELECT (SELECT count(*) FROM collections) || ' ' || "
    . "(SELECT count(*) FROM documents) || ' ' || (SELECT count(*) FROM jobs)"),
    '0 0 0', '... and stores nothing');
RagTest::psql($pg, "INSERT INTO collections (name) VALUES ('guide')");

$r = up($batch);
is($r->{status}, 202, 'upload accepted');
like($r->{content}, qr/^\{"job_id":\d+,"collection":"guide","documents":2,"changed":2,"duplicates":0,"duplicate_urls":\[\]\}$/,
    'job id and counts');
my ($job) = $r->{content} =~ /"job_id":(\d+)/;
is(RagTest::psql($pg, "SELECT kind || ' ' || (payload->'source'->>'type') FROM jobs WHERE id = $job"),
    'ingest rechunk', 'ingest job enqueued');
is(RagTest::psql($pg, "SELECT string_agg(url || '|' || title || '|' || source || '|' "
    . "|| array_to_string(tags, ','), ' ' ORDER BY url) FROM documents"),
    'https://docs.example.com/config|Config|upload| https://docs.example.com/install|Install|upload|v1',
    'documents stored with titles, source and tags');

$r = up($batch);
like($r->{content}, qr/"job_id":$job,.*"changed":0/, 'same batch again: same job, nothing changed');
is(RagTest::psql($pg, 'SELECT count(*) FROM jobs'), '1', 'one job');

(my $edited = $batch) =~ s/Edit the file\./Edit the file and reload./;
$r = up($edited);
like($r->{content}, qr/"documents":2,"changed":1,"duplicates":0,/, 'one changed document detected');
is(RagTest::psql($pg, 'SELECT count(*) FROM documents'), '2', 'upsert by URL: still 2 rows');
like($r->{content}, qr/"job_id":$job,/,
    'new batch while the first ingest still waits: joins that job');
is(RagTest::psql($pg, 'SELECT count(*) FROM jobs'), '1', 'still one job');

# The original's single-document shape still works.
$r = up('{"collection":"guide","document":{"uid":7,"body":"Legacy body",'
    . '"source":"Docs V3","url":"https://docs.example.com/legacy","tags":[]}}');
is($r->{status}, 202, 'legacy shape accepted');
is(RagTest::psql($pg, "SELECT array_to_string(tags, ',') FROM documents WHERE url LIKE '%legacy'"),
    'Docs V3', 'legacy source kept as a tag');

# The same URL twice in one batch: the last occurrence wins, every time,
# and the response says which URLs were repeated.
for my $order ([qw(first second)], [qw(second first)], [qw(one two three)]) {
    my $docs = join ',', map {
        qq({"url":"https://docs.example.com/dup","title":"T-$_","body":"body $_"})
    } @$order;
    $r = up(qq({"collection":"guide","documents":[$docs,)
        . qq({"url":"https://docs.example.com/other","body":"other @$order"}]}));
    is($r->{status}, 202, "duplicate URL (@$order): 202");
    my $n = @$order;
    like($r->{content}, qr/"documents":@{[$n + 1]},"changed":2,"duplicates":@{[$n - 1]},"duplicate_urls":\["https:\/\/docs\.example\.com\/dup"\]\}$/,
        "duplicate URL (@$order): reported");
    is(RagTest::psql($pg, "SELECT title || '|' || body FROM documents "
        . "WHERE url = 'https://docs.example.com/dup'"),
        "T-$order->[-1]|body $order->[-1]", "duplicate URL (@$order): the last one stored");
}

# Large batch spooled to a temp file by nginx still works.
my $big = '{"collection":"big","documents":[' . join(',', map {
    qq({"url":"https://docs.example.com/p$_","title":"P$_","body":") . ('word ' x 200) . qq("})
} 1 .. 100) . ']}';
$r = $http->post("$ng->{url}/upload-create", { content => $big, headers => \%auth });
is($r->{status}, 202, 'large batch (spooled body) accepted');
is(RagTest::psql($pg, "SELECT count(*) FROM collections WHERE name = 'big'"), '1',
    'rag_upload_create_collections on: the collection is created');
like($r->{content}, qr/"documents":100/, '100 documents');

# Validation
for my $case (
    [ '{"collection":"bad name!","documents":[{"url":"https://x/a","body":"b"}]}', 'collection name' ],
    # names the worker refuses (lib/rag_collection.h) are refused here too,
    # not accepted and left to die in the ingest job
    [ '{"collection":"a..b","documents":[{"url":"https://x/a","body":"b"}]}', 'collection name with ..' ],
    [ '{"collection":".","documents":[{"url":"https://x/a","body":"b"}]}', 'collection name .' ],
    [ '{"collection":"c","documents":[]}', 'empty batch' ],
    [ '{"collection":"c","documents":[{"url":"ftp://x/a","body":"b"}]}', 'non-http url' ],
    [ '{"collection":"c","documents":[{"url":"https://x/a","body":""}]}', 'empty body' ],
    [ '{"collection":"c","documents":[{"url":"https://x/a","body":"b","tags":"x"}]}', 'tags not array' ],
    [ '{"collection":"c","documents":[{"url":"https://x/a","body":"b","title":5}]}', 'title not string' ],
    [ '{"collection":"c"}', 'no documents' ],
    [ '{"collection":', 'malformed JSON' ],
) {
    my $x = up($case->[0]);
    is($x->{status}, 400, "400: $case->[1]");
    like($x->{content}, qr/^\{"error":"/, "JSON error: $case->[1]");
}
is(up('{"collection":"c","documents":[{"url":"https://x/a","body":"' . ('b' x 300_000) . '"}]}')->{status},
    413, 'oversized: 413');
is(up($batch, 'Content-Type' => 'application/x-www-form-urlencoded')->{status}, 415,
    'form post: 415');
is(RagTest::psql($pg, "SELECT count(*) FROM collections WHERE name IN"
    . " ('c', 'a..b', '.')"), '0', 'rejected uploads stored nothing');
done_testing();
