# HTML -> Markdown on real documentation pages (fixtures generated from
# postgresql-doc-15, mkdocs-doc, python3.11-doc (Sphinx) and a Docusaurus 3
# site, see
# t/fixtures/README), through `rag-ingest --convert`; then MkDocs' own
# sitemap.xml driving a crawl.
use strict;
use warnings;
use Test::More;
use lib 't/lib';
use RagTest;

my $fx = "$RagTest::ROOT/t/fixtures";

sub convert {
    my ($file, $url, @extra) = @_;
    my $cmd = join ' ', map { "'$_'" } RagTest::bin('rag-ingest'),
        '--convert', $file, '--url', $url, @extra;
    my $out = `$cmd 2>&1`;
    is($? >> 8, 0, "convert $file") or diag $out;
    my ($head, $md) = split /\n\n/, $out, 2;
    my ($title) = $head =~ /^title: (.*)$/m;
    my @links = $head =~ /^link: (.*)$/mg;
    return ($title, $md // '', \@links);
}

# --- PostgreSQL (DocBook) ------------------------------------------------------
{
    my $u = 'https://www.postgresql.org/docs/15/datatype-numeric.html';
    my ($t, $md, $links) = convert("$fx/pgdocs/datatype-numeric.html", $u);
    is($t, '8.1. Numeric Types', 'PG title');
    like($md, qr/^## 8\.1\. Numeric Types \{#DATATYPE-NUMERIC\}$/m,
        'heading with the id of its enclosing div.sect1');
    like($md, qr/^### 8\.1\.1\. Integer Types \{#DATATYPE-INT\}$/m,
        'sub-section id');
    like($md, qr/^\| Name \| Storage Size \| Description \| Range \|\n\|---\|---\|---\|---\|\n\| `smallint` \| 2 bytes \|/m,
        'table with header row and separator');
    like($md, qr/^```\nNUMERIC\(precision, scale\)\n```$/m, 'code fence');
    like($md, qr/^> \*\*Note:\*\* The maximum precision/m, 'admonition kept');
    like($md, qr{\[Chapter 9\]\(https://www\.postgresql\.org/docs/15/functions\.html\)},
        'relative link made absolute');
    like($md, qr{\(https://www\.postgresql\.org/docs/15/datatype-numeric\.html#DATATYPE-NUMERIC-TABLE\)},
        'fragment link resolved against the page');
    unlike($md, qr/Prev|Next|Home/, 'navheader/navfooter dropped');
    ok((grep { $_ eq 'https://www.postgresql.org/docs/15/datatype.html' } @$links),
        'navigation links still reported for the crawler');
}
{
    my ($t, $md) = convert("$fx/pgdocs/tutorial-accessdb.html",
        'https://www.postgresql.org/docs/15/tutorial-accessdb.html');
    like($md, qr/^```\n\$ psql mydb\n```$/m, 'screen example as code');
    like($md, qr/^- Running the PostgreSQL interactive terminal program/m,
        'itemized list');
}

# --- Docusaurus ------------------------------------------------------------------
{
    my $u = 'https://docs.example.com/docs/reference-sample';
    my ($t, $md) = convert("$fx/docusaurus/reference-sample.html", $u);
    is($t, 'Reference sample', 'Docusaurus title without the site name (" | My Site")');
    like($md, qr/^# Reference sample$/m, 'h1 inside <header> kept');
    like($md, qr/^## Options table \{#options-table\}$/m, 'heading id');
    like($md, qr/^## Install \{#custom-install\}$/m, 'custom heading id');
    like($md, qr/^\| Option \| Default \| Meaning \|\n\|---\|---\|---\|\n\| `timeout` \| 30 \| Seconds before giving up \|\n\| `retries` \| 2 \| Attempts on 5xx, a \\\| pipe \|$/m,
        'table, pipe escaped');
    like($md, qr/^```bash\napt-get install ngx-rag\necho "done"\n```$/m,
        'code fence with language, lines from <br>');
    like($md, qr/^> \*\*Warning:\*\* Back up the database before upgrading\.$/m,
        'admonition');
    like($md, qr/^1\. First step\n\n   1\. Nested one\n   2\. Nested two\n2\. Second step$/m,
        'nested ordered list numbered per level');
    like($md, qr{\[external\]\(https://example\.org/x\)}, 'external link as is');
    unlike($md, qr/\x{200b}|\xe2\x80\x8b/, 'zero-width characters stripped');
    unlike($md, qr/Edit this page|Previous|Skip to main content/,
        'page chrome dropped');
}
{
    my ($t, $md) = convert("$fx/docusaurus/markdown-features.html",
        'https://docs.example.com/docs/tutorial-basics/markdown-features');
    like($md, qr/^````md\n```jsx title="src\/components\/HelloDocusaurus\.js"$/m,
        'fence longer than the backticks inside');
    like($md, qr/^> \*\*Tip: My tip\*\*\n>\n> Use this awesome feature option$/m,
        'titled admonition keeps its kind');
    like($md, qr{\[Create a page\]\(https://docs\.example\.com/docs/tutorial-basics/create-a-page\)},
        'site-relative link made absolute');
}

# --- MkDocs -------------------------------------------------------------------------
{
    my ($t, $md) = convert("$fx/mkdocs/configuration.html",
        'https://www.mkdocs.org/user-guide/configuration.html');
    is($t, 'Configuration', 'MkDocs title without the site name');
    like($md, qr/^## Project information \{#project-information\}$/m,
        'div[role=main] content with heading ids');
    like($md, qr/^```yaml\nsite_name: Marshmallow Generator\n```$/m,
        'fence language from class language-yaml');
    like($md, qr/^> \*\*Note:\*\* On a few known hosts/m, 'admonition');
    unlike($md, qr/^Search$/m, 'navbar dropped');
}

# --- Sphinx (Python 3.11 docs) ------------------------------------------------------
{
    my ($t, $md) = convert("$fx/sphinx/json.html",
        'https://docs.python.org/3.11/library/json.html');
    like($t, qr/^json — JSON encoder and decoder/, 'Sphinx title');
    like($md, qr/^## Basic Usage \{#basic-usage\}$/m,
        'heading id from the enclosing <section>');
    like($md, qr/^```python3\n>>> import json$/m,
        'fence language from highlight-python3');
    like($md, qr/^> \*\*Warning:\*\* Be cautious when parsing JSON/m,
        'admonition');
    like($md, qr/^\| JSON \| Python \|\n\|---\|---\|\n\| object \| dict \|$/m,
        'table');
    unlike($md, qr/\x{b6}|\xc2\xb6|Quick search|Previous topic/,
        'sidebar and pilcrow links dropped');
}

# --- MkDocs' sitemap drives a crawl ----------------------------------------------------
{
    my $pg = RagTest::pg_start();
    my $www = RagTest::tmpdir();
    my $port = RagTest::free_port();
    my $base = "http://127.0.0.1:$port";
    mkdir "$www/user-guide";
    my $sm = RagTest::slurp("$fx/mkdocs/sitemap.xml");
    my $n = () = $sm =~ /<loc>/g;
    $sm =~ s{https://www\.mkdocs\.org/}{$base/}g;
    RagTest::write_file("$www/sitemap.xml", $sm);
    RagTest::write_file("$www/user-guide/configuration.html",
        RagTest::slurp("$fx/mkdocs/configuration.html"));
    RagTest::nginx_start(port => $port, server => "location / { root $www; }");
    local $ENV{RAG_DATABASE_URL} = $pg->{conninfo};
    local $ENV{RAG_INDEX_DIR} = RagTest::tmpdir();
    my $out = `@{[RagTest::bin('rag-ingest')]} --collection mk --site $base/ --allow-private --delay 0 2>&1`;
    is($? >> 8, 0, 'crawl from the MkDocs sitemap') or diag $out;
    like($out, qr/discovery=sitemap pages=$n\b/, "all $n sitemap URLs queued");
    is(RagTest::psql($pg, "SELECT url FROM documents"),
        "$base/user-guide/configuration.html", 'the page that exists stored');
}

done_testing();
