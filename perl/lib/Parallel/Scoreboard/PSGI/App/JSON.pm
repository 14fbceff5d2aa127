package Parallel::Scoreboard::PSGI::App::JSON;

use strict;
use warnings;

use JSON ();
use Parallel::Scoreboard::PSGI::App;

# `new` and `scoreboard` are the HTML app's.
our @ISA = ('Parallel::Scoreboard::PSGI::App');

sub to_app {
    my $self = shift;
    return sub {
        my $stats = $self->scoreboard->read_all;
        # A status that is JSON (UTF-8, any value) goes in as its value;
        # any other stays a string.
        for my $id (keys %$stats) {
            my $value = eval { JSON::decode_json($stats->{$id}) };
            $stats->{$id} = $value unless $@;
        }
        return [
            200,
            ['Content-Type' => 'application/json; charset=utf-8'],
            [JSON::encode_json($stats)],
        ];
    };
}

1;
__END__

=head1 NAME

Parallel::Scoreboard::PSGI::App::JSON - a simple PSGI app for monitoring the output of Parallel::Scoreboard in JSON format

=head1 SYNOPSIS

  use Parallel::Scoreboard;
  use Parallel::Scoreboard::PSGI::App::JSON;

  my $scoreboard = Parallel::Scoreboard->new(
      base_dir => '/tmp/my_scoreboard',
  );
  # return psgi app
  Parallel::Scoreboard::PSGI::App::JSON->new(
      scoreboard => $scoreboard,
  )->to_app;

=head1 DESCRIPTION

A JSON object of every live worker's id and status, as the original
module's app gives it: a status that is itself JSON is decoded into the
object, any other is a string.

=head1 SEE ALSO

L<Parallel::Scoreboard>, L<Parallel::Scoreboard::PSGI::App>, L<PSGI>

=head1 LICENSE

This program is free software, you can redistribute it and/or modify it under
the terms of the MIT license or the Apache License 2.0, at your option.

=cut
