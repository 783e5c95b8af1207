package Crypt::Ed25519;

# The four functions SyTest calls from Crypt::Ed25519 (not packaged for Debian), written
# over CryptX's Crypt::PK::Ed25519 (libcryptx-perl). Keys are raw 32-byte strings and
# signatures raw 64-byte strings, as in the original module.

use strict;
use warnings;

use Crypt::PK::Ed25519;
use Crypt::PRNG qw( random_bytes );

our $VERSION = '1.05';

sub _private
{
   my ( $secret ) = @_;
   return Crypt::PK::Ed25519->new->import_key_raw( $secret, 'private' );
}

sub eddsa_secret_key
{
   return random_bytes( 32 );
}

sub eddsa_public_key
{
   my ( $secret ) = @_;
   return _private( $secret )->export_key_raw( 'public' );
}

sub eddsa_sign
{
   my ( $message, $public, $secret ) = @_;
   return _private( $secret )->sign_message( $message );
}

sub verify
{
   my ( $message, $public, $signature ) = @_;
   my $key = eval { Crypt::PK::Ed25519->new->import_key_raw( $public, 'public' ) } or return 0;
   return $key->verify_message( $signature, $message ) ? 1 : 0;
}

*eddsa_verify = \&verify;

1;
