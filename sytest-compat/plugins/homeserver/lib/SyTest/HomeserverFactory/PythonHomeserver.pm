package SyTest::HomeserverFactory::PythonHomeserver;

# Selected with `run-tests.pl -I PythonHomeserver` when SYTEST_PLUGINS names
# sytest-compat/plugins: creates SyTest::Homeserver::PythonHomeserver instances.

use strict;
use warnings;

require SyTest::Homeserver::PythonHomeserver;

use base qw( SyTest::HomeserverFactory );

sub _init
{
   my $self = shift;
   $self->{args} = {
      python    => $ENV{HOMESERVER_PYTHON} // "python3",
      admin_dsn => $ENV{HOMESERVER_SYTEST_ADMIN_DSN}
         // "postgresql://postgres\@127.0.0.1:5432/postgres",
      db_prefix => $ENV{HOMESERVER_SYTEST_DB_PREFIX} // "sytest_homeserver",
   };
   $self->SUPER::_init( @_ );
}

sub implementation_name
{
   return "homeserver";
}

sub get_options
{
   my $self = shift;
   return (
      'python=s'        => \$self->{args}{python},
      'admin-dsn=s'     => \$self->{args}{admin_dsn},
      'db-prefix=s'     => \$self->{args}{db_prefix},
      $self->SUPER::get_options(),
   );
}

sub print_usage
{
   print STDERR "   --python PATH         - a Python with the homeserver installed\n";
   print STDERR "   --admin-dsn URL       - Postgres URL of a user that may create databases\n";
   print STDERR "   --db-prefix NAME      - prefix of the per-server database names\n";
}

sub create_server
{
   my $self = shift;
   return SyTest::Homeserver::PythonHomeserver->new( @_, %{ $self->{args} } );
}

1;
