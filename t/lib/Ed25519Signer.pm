package Ed25519Signer;

# Real Ed25519 keys and signatures for the interactions tests, made with
# the openssl command line (core Perl has no Ed25519).

use strict;
use warnings;
use File::Temp qw(tempdir);

sub new {
    my ($class) = @_;
    my $dir = tempdir('ed25519-XXXXXX', TMPDIR => 1, CLEANUP => 1);
    system('openssl', 'genpkey', '-algorithm', 'ed25519', '-out', "$dir/key.pem") == 0
        or die "openssl genpkey failed";
    my $pub = `openssl pkey -in $dir/key.pem -pubout -outform DER`;
    die "openssl pkey failed" if $? || length($pub) < 32;
    return bless { dir => $dir, public_hex => unpack('H*', substr($pub, -32)) }, $class;
}

sub public_hex { $_[0]{public_hex} }

# Signature (hex) of timestamp . body, as Discord computes it.
sub sign {
    my ($self, $timestamp, $body) = @_;
    my $msg = "$self->{dir}/msg";
    open my $fh, '>:raw', $msg or die;
    print $fh $timestamp, $body;
    close $fh;
    system('openssl', 'pkeyutl', '-sign', '-inkey', "$self->{dir}/key.pem",
        '-rawin', '-in', $msg, '-out', "$self->{dir}/sig") == 0
        or die "openssl pkeyutl failed";
    open $fh, '<:raw', "$self->{dir}/sig" or die;
    local $/;
    my $sig = <$fh>;
    close $fh;
    return unpack('H*', $sig);
}

1;
