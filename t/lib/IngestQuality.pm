package IngestQuality;

# What ingestion kept of a crawled site, measured the same way by the
# tests (t/26) and by bench/ingest_quality.pl:
#
#   pages       documents stored
#   chunks      chunks stored
#   dup         pages stored twice: documents whose Markdown equals
#               another document's (/ and /index.html, / and git.html)
#   boiler      boilerplate lines: distinct chunk lines (outside code,
#               headings, table rows and pure punctuation; link targets
#               ignored) in
#               the chunks of more than half of the pages (sites of 10+)
#   fences      chunks whose code fences do not balance (fences inside
#               "> " quotes count)
#   generated   generated index and source-listing pages stored
#               (genindex, py-modindex, search, _modules/, _sources/)
#   repeats     chunks whose heading path names a heading twice in a row
#
# measure($pg, $collection) returns a hash of those (plus
# boiler_examples). Core Perl only.

use strict;
use warnings;
use MIME::Base64 qw(decode_base64);
use RagTest;

# Prose lines of a chunk, normalised for comparison.
sub prose_lines {
    my ($text) = @_;
    my (@out, $fence);
    for my $l (split /\n/, $text) {
        (my $s = $l) =~ s/^[\s>]*//;
        if ($s =~ /^(`{3,}|~{3,})(.*)$/) {
            my ($run, $rest) = ($1, $2);
            if (!defined $fence) { $fence = $run }
            elsif (substr($run, 0, 1) eq substr($fence, 0, 1)
                && length $run >= length $fence && $rest =~ /^\s*$/) { undef $fence }
            next;
        }
        next if defined $fence;
        next if $s =~ /^#{1,6}(?:\s|$)/ || $s =~ /^\|/;
        next unless $s =~ /[[:alnum:]]|[^\x00-\x7f]/;
        $s =~ s/\]\([^)]*\)/]/g;
        $s =~ s/\s+$//;
        push @out, $s;
    }
    return @out;
}

sub fences_broken {
    my ($text) = @_;
    my $fence;
    for my $l (split /\n/, $text) {
        (my $s = $l) =~ s/^[\s>]*//;
        next unless $s =~ /^(`{3,}|~{3,})(.*)$/;
        my ($run, $rest) = ($1, $2);
        next if !defined $fence && substr($run, 0, 1) eq '`' && $rest =~ /`/;
        if (!defined $fence) { $fence = $run }
        elsif (substr($run, 0, 1) eq substr($fence, 0, 1)
            && length $run >= length $fence && $rest =~ /^\s*$/) { undef $fence }
    }
    return defined $fence ? 1 : 0;
}

sub measure {
    my ($pg, $coll) = @_;
    my $q = sub { RagTest::psql($pg, $_[0]) };
    my $cid = $q->("SELECT id FROM collections WHERE name = '$coll'");
    my %m;
    $m{pages} = $q->("SELECT count(*) FROM documents WHERE collection_id = $cid");
    $m{chunks} = $q->("SELECT count(*) FROM chunks c JOIN documents d ON
        d.id = c.document_id WHERE d.collection_id = $cid");
    $m{dup} = $q->("SELECT count(*) - count(DISTINCT md5(body)) FROM documents
        WHERE collection_id = $cid");
    $m{generated} = $q->("SELECT count(*) FROM documents WHERE collection_id = $cid
        AND (url ~ '/(genindex[^/]*|py-modindex|modindex|search)\\.html\$'
             OR url ~ '/_(modules|sources)/')");
    $m{repeats} = $q->("SELECT count(*) FROM chunks c JOIN documents d ON
        d.id = c.document_id WHERE d.collection_id = $cid AND EXISTS (
        SELECT 1 FROM (SELECT x, lag(x) OVER (ORDER BY n) AS p FROM
        unnest(string_to_array(c.heading_path, ' > ')) WITH ORDINALITY
        AS t(x, n)) s WHERE s.x = s.p)");
    my $rows = $q->("SELECT c.document_id, encode(convert_to(c.body, 'UTF8'),
        'base64') FROM chunks c JOIN documents d ON d.id = c.document_id
        WHERE d.collection_id = $cid ORDER BY 1, c.ordinal");
    my (%df, %seen);
    my $cur = -1;
    $m{fences} = 0;
    for my $row (split /\n(?=\d+\|)/, $rows) {
        my ($doc, $b64) = split /\|/, $row, 2;
        my $text = decode_base64($b64 // '');
        if ($doc != $cur) { %seen = (); $cur = $doc }
        $m{fences} += fences_broken($text);
        $df{$_}++ for grep { !$seen{$_}++ } prose_lines($text);
    }
    my @bp = grep { $df{$_} * 2 > ($m{pages} || 1) } keys %df;
    @bp = () if $m{pages} < 10;
    $m{boiler} = scalar @bp;
    $m{boiler_examples} = join ' | ', map { substr($_, 0, 60) }
        (sort { $df{$b} <=> $df{$a} } @bp)[0 .. ($#bp < 2 ? $#bp : 2)];
    return \%m;
}

1;
