# The module's build description (config) against its sources and the
# built library: every module source is compiled; every header a compiled
# file includes (directly or not) is in ngx_module_deps, so changing it
# rebuilds the objects; the lib/ files left out are really unused (the
# .so needs no rag_* symbol it does not define, and holds none of theirs);
# and the module's infrastructure stays layered without cycles
# (metrics, log <- util <- task <- pg <- endpoints).
use strict;
use warnings;
use Test::More;
use File::Basename qw(basename);
use lib 't/lib';
use RagTest;

my $root = $RagTest::ROOT;
my $so = RagTest::module_path();
my $objs = "$RagTest::BUILD/nginx/addon";
plan skip_all => "module not built ($so)" unless -f $so;   # make all first

# --- what nginx's configure gets from config ---------------------------------
my $tmp = RagTest::tmpdir();
mkdir "$tmp/auto";
RagTest::write_file("$tmp/auto/module", '');
my $sh = 'cd "$1" && ngx_addon_dir="$2" && . "$2/config" && printf "%s\n" '
    . '"$ngx_module_srcs" "$ngx_module_deps" "$ngx_module_name"';
open my $cfg, '-|', 'sh', '-c', $sh, 'sh', $tmp, $root or die "sh: $!";
my $out = do { local $/; <$cfg> };
close $cfg;
is($?, 0, 'config runs under sh');
my ($srcs, $deps, $names) = split /\n/, $out;
my @srcs = map { s{^\Q$root\E/}{}r } split ' ', $srcs;
my %deps = map { (s{^\Q$root\E/}{}r) => 1 } split ' ', $deps;

for my $f (map { s{^\Q$root\E/}{}r } glob("$root/ngx_rag_module/*.c")) {
    ok((grep { $_ eq $f } @srcs), "$f is compiled");
}

# the #include "..." closure of every compiled file
my %seen;
sub includes {
    my ($file) = @_;
    my @found;
    open my $fh, '<', "$root/$file" or die "$file: $!";
    while (my $line = <$fh>) {
        next unless $line =~ /^\s*#\s*include\s+"([^"]+)"/;
        my ($h) = grep { -f "$root/$_" } ("ngx_rag_module/$1", "lib/$1");
        next unless $h;   # nginx's own headers
        push @found, $h;
        push @found, includes($h) unless $seen{$h}++;
    }
    return @found;
}
my %needed = map { $_ => 1 } map { includes($_) } @srcs;
ok(scalar(keys %needed) > 5, 'found the headers the sources include');
for my $h (sort keys %needed) {
    ok($deps{$h}, "$h is in ngx_module_deps");
}

# --- the library: lib/ files left out are not needed -----------------------
my @libc = map { basename($_, '.c') } glob("$root/lib/*.c");
my %compiled = map {; basename($_, '.c') => 1 } grep { m{^lib/} } @srcs;
my @left_out = grep { !$compiled{$_} } @libc;
ok(scalar(grep { $_ eq 'rag_html' } @left_out), 'rag_html.c (HTML to Markdown) is not compiled in');

my @undef = grep { /\b(?:ngx_)?rag_\w+$/ }
    map { (split)[-1] } grep { /\bU\b/ } `nm -D --undefined-only '$so'`;
is(join(' ', @undef), '', 'the .so calls no rag_ function it does not define');
my %defined = map { (split)[-1] => 1 } `nm -D --defined-only '$so'`;
for my $m (split ' ', $names) {
    ok($defined{$m}, "module $m is defined");
}
for my $f (@left_out) {
    my $o = "$RagTest::BUILD/lib/$f.o";
    next unless -f $o;
    my @theirs = grep { $defined{$_} }
        map { (split)[-1] } grep { / T / } `nm --defined-only '$o'`;
    is(join(' ', @theirs), '', "nothing of lib/$f.c is in the .so");
}

# --- layering: who may call whom among the infrastructure files --------------
my %may = (
    metrics => [],
    log     => [],
    util    => [qw(metrics)],
    task    => [qw(metrics util log)],
    pg      => [qw(task)],
);
my %defines;
for my $o (glob("$objs/ngx_rag_module/*.o")) {
    my ($name) = basename($o, '.o') =~ /^ngx_rag_(\w+)$/;
    $defines{$_} = $name for map { (split)[-1] }
        grep { / [TDB] ngx_rag_/ } `nm --defined-only '$o'`;
}
for my $file (sort keys %may) {
    my $o = "$objs/ngx_rag_module/ngx_rag_$file.o";
    my %ok = map { $_ => 1 } @{ $may{$file} }, $file, 'module';
    my @bad = grep { !$ok{ $defines{$_} // 'module' } }
        map { (split)[-1] } grep { /\bU ngx_rag_/ } `nm --undefined-only '$o'`;
    is(join(' ', map { "$_ ($defines{$_})" } @bad), '',
        "ngx_rag_$file.c calls only " . (join(', ', @{ $may{$file} }) || 'nginx'));
}
done_testing();
