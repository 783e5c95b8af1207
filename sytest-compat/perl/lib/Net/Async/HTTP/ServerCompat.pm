package Net::Async::HTTP::ServerCompat;

# SyTest uses three things of Net::Async::HTTP::Server 0.09 that the public 0.07 copy
# lacks: a `request_class` parameter, a `make_request` method that servers may override,
# and `query_param` / `query_form` on requests. Loading this module (run.sh passes
# -MNet::Async::HTTP::ServerCompat) loads 0.07 and adds them.

use strict;
use warnings;

use Net::Async::HTTP::Server;
use Net::Async::HTTP::Server::Protocol;
use Net::Async::HTTP::Server::Request;
use HTTP::Request;
use URI;

no warnings 'redefine';

$Net::Async::HTTP::Server::VERSION = '0.09';

my $original_configure = \&Net::Async::HTTP::Server::configure;
*Net::Async::HTTP::Server::configure = sub {
   my ( $self, %params ) = @_;
   $self->{request_class} = delete $params{request_class} if exists $params{request_class};
   return $original_configure->( $self, %params );
};

# Servers may override this to build their own request objects.
*Net::Async::HTTP::Server::make_request = sub {
   my ( $self, @args ) = @_;
   my $class = $self->{request_class} // "Net::Async::HTTP::Server::Request";
   return $class->new( @args );
};

my $CRLF = "\x0d\x0a";

# As in 0.07, but the request object comes from the server's make_request.
*Net::Async::HTTP::Server::Protocol::on_read = sub {
   my ( $self, $buffref, $eof ) = @_;
   return 0 if $eof;
   return 0 unless $$buffref =~ s/^(.*?$CRLF$CRLF)//s;
   my $request = HTTP::Request->parse( $1 );
   my $length = $request->content_length || 0;
   return sub {
      my ( undef, $buffref, $eof ) = @_;
      return 0 unless length( $$buffref ) >= $length;
      $request->add_content( substr( $$buffref, 0, $length, "" ) );
      my $server = $self->parent;
      push @{ $self->{requests} }, my $req = $server->make_request( $self, $request );
      $server->_received_request( $req );
      return undef;
   };
};

*Net::Async::HTTP::Server::Request::query_form = sub {
   my ( $self ) = @_;
   my $query = $self->query_string;
   return () unless defined $query and length $query;
   return URI->new( "http://localhost/?$query" )->query_form;
};

*Net::Async::HTTP::Server::Request::query_param = sub {
   my ( $self, $name ) = @_;
   my %form = $self->query_form;
   return $form{$name};
};

1;
