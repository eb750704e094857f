package PgManual;

# The PostgreSQL 15 manual (postgresql-doc-15's HTML) as a benchmark
# corpus, written straight into a collection: pages cut into sections at
# h1-h4 headings, each section's anchor being the id of its enclosing
# div, sections over ~1500 characters split further — a simple stand-in
# for rag-ingest, good enough for retrieval and index-building figures.
# Used by bench/search.pl and bench/follow.pl.
#
#   my ($pages, $chunks, $bytes) = PgManual::load($pg, $html_dir, 'pg');

use strict;
use warnings;
use RagTest;

my %ent = (lt => '<', gt => '>', amp => '&', quot => '"', nbsp => ' ', apos => "'");

sub text_of {
    my $s = shift;
    $s =~ s{<(script|style)\b.*?</\1>}{}gsi;
    $s =~ s{<pre\b[^>]*>(.*?)</pre>}{my $c = $1; "\n```\n$c\n```\n"}gsie;
    $s =~ s{<[^>]+>}{ }g;
    $s =~ s{&(#x[0-9a-f]+|#\d+|\w+);}{
        my $e = $1;
        $e =~ /^#x(.*)/i ? chr(hex $1) : $e =~ /^#(\d+)/ ? chr($1)
            : exists $ent{$e} ? $ent{$e} : "&$e;" }ge;
    $s =~ s/[ \t\r]+/ /g;
    $s =~ s/\n\s*\n\s*/\n\n/g;
    $s =~ s/^\s+|\s+$//g;
    return $s;
}

sub tsv { my $s = shift; $s =~ s/\\/\\\\/g; $s =~ s/\t/\\t/g; $s =~ s/\n/\\n/g; $s =~ s/\r/\\r/g; return $s }

# Loads every page of $html into a new collection $name (id 1: an empty
# database). Returns (pages, chunks, bytes of chunk text).
sub load {
    my ($pg, $html, $name) = @_;
    my $dir = RagTest::tmpdir();
    open my $docf, '>:utf8', "$dir/docs.tsv" or die;
    open my $chf, '>:utf8', "$dir/chunks.tsv" or die;
    my ($ndoc, $nchunk, $bytes) = (0, 0, 0);
    for my $file (sort glob("$html/*.html")) {
        open my $fh, '<:utf8', $file or next;
        local $/;
        my $page = <$fh>;
        close $fh;
        my ($title) = $page =~ m{<title>(.*?)</title>}si;
        $title = text_of($title // '');
        (my $base = $file) =~ s{.*/}{};
        my $url = "https://www.postgresql.org/docs/15/$base";
        $ndoc++;
        print $docf join("\t", $ndoc, 1, tsv($url), tsv($title)), "\n";
        my @parts = split m{(<h[1-4]\b[^>]*>.*?</h[1-4]>)}si, $page;
        my ($heading, $anchor, $ord) = ($title, '', 0);
        my $before = '';
        for my $p (@parts) {
            if ($p =~ m{^<h[1-4]}i) {
                my @ids = $before =~ /\bid="([^"]+)"/g;
                $anchor = @ids ? $ids[-1] : '';
                $heading = text_of($p);
                next;
            }
            $before = substr($p, -400);
            my $text = text_of($p);
            next if length($text) < 40;
            while (length $text) {
                my $piece;
                if (length($text) <= 2000) {
                    $piece = $text;
                    $text = '';
                } else {
                    my $cut = rindex($text, ' ', 1500);
                    $cut = 1500 if $cut < 500;
                    $piece = substr($text, 0, $cut);
                    $text = substr($text, $cut);
                    $text =~ s/^\s+//;
                }
                $nchunk++;
                $bytes += length $piece;
                print $chf join("\t", $ndoc, $ord++, tsv("$title > $heading"),
                    tsv(lc $anchor), tsv($piece)), "\n";
            }
        }
    }
    close $docf;
    close $chf;
    RagTest::psql($pg, "INSERT INTO collections (id, name) VALUES (1, '$name')");
    RagTest::psql($pg, "\\copy documents (id, collection_id, url, title) FROM '$dir/docs.tsv'");
    RagTest::psql($pg, "\\copy chunks (document_id, ordinal, heading_path, anchor, body) FROM '$dir/chunks.tsv'");
    return ($ndoc, $nchunk, $bytes);
}

1;
