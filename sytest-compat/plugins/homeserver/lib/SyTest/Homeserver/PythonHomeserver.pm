package SyTest::Homeserver::PythonHomeserver;

# One instance of our homeserver for SyTest: a TLS listener on one port serving the
# client, federation and key APIs, its own fresh database, open registration, guests, no
# rate limits. Started with `homeserver run --config`, stopped with SIGINT.

use strict;
use warnings;

use base qw( SyTest::Homeserver );

use Carp;
use Cwd ();
use JSON ();
use SyTest::SSL qw( ensure_ssl_key create_ssl_cert );

sub _init
{
   my $self = shift;
   my ( $args ) = @_;

   $self->{$_} = delete $args->{$_} for qw( python admin_dsn db_prefix );
   defined $self->{python} or croak "Need a python";

   $self->SUPER::_init( $args );

   my $idx = $self->{hs_index};
   $self->{port} = main::alloc_port( "homeserver[$idx]" );
}

sub server_name
{
   my $self = shift;
   return "$self->{bind_host}:$self->{port}";
}

sub federation_host
{
   my $self = shift;
   return $self->{bind_host};
}

sub federation_port
{
   my $self = shift;
   return $self->{port};
}

sub secure_port
{
   my $self = shift;
   return $self->{port};
}

sub public_baseurl
{
   my $self = shift;
   return "https://$self->{bind_host}:$self->{port}";
}

sub _fresh_database_url
{
   my $self = shift;
   my $name = "$self->{db_prefix}_$self->{hs_index}";
   ( my $url = $self->{admin_dsn} ) =~ s{/[^/]*$}{/$name};
   foreach my $sql ( "DROP DATABASE IF EXISTS $name WITH (FORCE)", "CREATE DATABASE $name" ) {
      system( "psql", "-q", "-X", $self->{admin_dsn}, "-c", $sql ) == 0
         or die "psql failed: $sql\n";
   }
   return $url;
}

sub start
{
   my $self = shift;
   my $hs_dir = $self->{hs_dir};
   my $output = $self->{output};

   my $cert = "$hs_dir/tls.crt";
   my $key = "$hs_dir/tls.key";
   ensure_ssl_key( $key );
   create_ssl_cert( $cert, $key, $self->{bind_host} );

   my $config = {
      server_name => $self->server_name,
      data_dir => $hs_dir,
      http => {
         bind_address => $self->{bind_host},
         port => $self->{port},
         tls_certificate_path => $cert,
         tls_private_key_path => $key,
      },
      database => { url => $self->_fresh_database_url },
      registration => { enabled => JSON::true, allow_guests => JSON::true },
      password => { hash_cost => "min" },
      rate_limiting => { enabled => JSON::false },
      logging => { level => "info", format => "console" },
      # SyTest's push gateway listens on localhost with a certificate of its own CA.
      outbound => {
         allowed_private_ranges => [ "127.0.0.0/8", "::1/128" ],
         extra_ca_certificates_path => Cwd::abs_path( "keys/ca.crt" ),
      },
   };
   my $config_path = $self->write_yaml_file( "homeserver.yaml" => $config );

   $output->diag( "Starting homeserver on port $self->{port}" );
   return $self->_start_process_and_await_connectable(
      command => [ $self->{python}, "-m", "homeserver", "run", "--config", $config_path ],
      connect_host => $self->{bind_host},
      connect_port => $self->{port},
      name => "homeserver-$self->{hs_index}",
   )->else( sub {
      die "Unable to start the homeserver: $_[0]\n";
   })->on_done( sub {
      $output->diag( "Started homeserver on port $self->{port}" );
   });
}

1;
