package Parallel::Scoreboard;

use strict;
use warnings;

use Carp ();

our $VERSION = '0.10';

require XSLoader;
XSLoader::load('Parallel::Scoreboard', $VERSION);

# The default worker id, as the accessor `worker_id` returns it. `update`
# never calls it: with the default id the board names the worker by the
# process id itself, kept current across forks without a system call.
sub _default_worker_id { $$ }

sub new {
    my $klass = shift;
    my %args = @_;
    die "mandatory parameter:base_dir is missing"
        unless $args{base_dir};
    my $custom = exists $args{worker_id};
    if ($custom && ref $args{worker_id} ne 'CODE') {
        Carp::croak("worker_id must be a code reference");
    }
    my $self = bless {
        worker_id => \&_default_worker_id,
        %args,
    }, $klass;
    # Opens (and creates, with missing parents) base_dir; the board and the
    # snapshot reads reuse live in C, attached to the hash.
    $self->_open("$self->{base_dir}", $custom ? $self->{worker_id} : undef);
    return $self;
}

# Read-only accessors, as the original's (Class::Accessor::Lite `ro`).
for my $name (qw(base_dir worker_id)) {
    no strict 'refs';
    *{$name} = sub {
        Carp::croak("'$name' is read-only on objects of class '" . ref($_[0]) . "'")
            if @_ > 1;
        return $_[0]->{$name};
    };
}

# Objects are never cloned into new ithreads (their board belongs to the
# thread that made it): the clone there is undef.
sub CLONE_SKIP { 1 }

# update, read_all, cleanup and DESTROY are XSUBs (Scoreboard.xs).

1;
__END__

=encoding utf8

=head1 NAME

Parallel::Scoreboard - a scoreboard for monitoring status of many workers

=head1 SYNOPSIS

  use Parallel::Scoreboard;

  my $scoreboard = Parallel::Scoreboard->new(
      base_dir => '/tmp/my_scoreboard'
  );

  # in each worker process
  $scoreboard->update('this is my current status');

  # to read status of all worker processes
  my $stats = $scoreboard->read_all();
  for my $pid (sort { $a <=> $b } keys %$stats) {
      print "status for pid:$pid is: ", $stats->{$pid}, "\n";
  }

=head1 DESCRIPTION

Parallel::Scoreboard keeps the status of many worker processes (the
children of a prefork server, say) where a monitor can read them all, like
the status module of the Apache HTTP server. Each worker publishes its
current status, any bytes of any length (plain text, JSON, a frozen Perl
object); the manager, or any process of the same user, reads the latest
status of every live worker.

This distribution is a drop-in replacement for the pure-Perl
Parallel::Scoreboard 0.09, with the same API and semantics, built on the
Rust library C<parallel-scoreboard> (an XS module over its C ABI). Each
worker owns a memory-mapped status file: an update is a few stores into
shared memory, with no system call; a read copies consistent snapshots of
every worker, so a torn status is impossible rather than detected, and a
worker that dies, however it dies, is gone from the next read. What differs
from the original is listed under L</DIFFERENCES FROM THE ORIGINAL>.

=head1 METHODS

=head2 new(%args)

Instantiation. Recognizes the following parameters. The parameters can be
read using the read-only accessors with the same name (called with an
argument, an accessor croaks).

=head3 base_dir => $base_dir

The directory name in which the scoreboard files will be stored. The
directory (and its missing parents) will be created, with mode 0700, if it
does not exist already; concurrent creation is not an error. Mandatory
parameter: without it C<new> dies with C<mandatory parameter:base_dir is
missing>. C<new> croaks with the reason if the directory cannot be created or
used (see L</Directories>).

=head3 worker_id => sub { ... }

A subref that returns the id of the worker (if omitted, the module uses C<$$>
(the process id) to distinguish between the workers, and the accessor
C<worker_id> returns a sub that returns C<$$>). The id may be any non-empty
string of up to 255 bytes (as UTF-8).

=head2 update($status)

Saves the status of the worker: any string of bytes, of any length. Numbers
and other scalars are stored as their string form (C<update(0)> stores
C<"0">). The first call makes the worker's status file.

With the default worker id, C<update> does not call the C<worker_id> sub: the
process id comes from the library, which keeps it current across C<fork>, so
an update that fits in the worker's file makes no system call. With a custom
C<worker_id>, the sub is called at every update with no arguments, as in the
original; if it dies, C<update> dies with the same error, and nothing is
changed. The sub runs on a stack of its own, called from inside the library:
a C<last> or C<next> in it cannot leave it for a loop of the caller's (as it
could in the original, with a warning), and makes C<update> die with Perl's
C<Can't "last" outside a loop block>. C<$@> is left as it was.

A string holding characters above 255 cannot be stored as bytes: see
L</Wide characters>.

=head2 read_all()

Reads the status of all worker processes that are alive and that have
called update() at least once, the caller's own included. Returned value is
a hashref with worker ids (process ids by default) as keys and the status of
each worker as the corresponding value. The files of dead workers are
removed on the way.

=head2 cleanup()

Removes obsolete status files found in base_dir (those of dead workers, and
temporaries abandoned by workers killed while making their file). The files
are normally removed upon the termination of the worker process, however
they might be left unremoved if the worker process was killed for some
reason. The detection and removal of the obsolete status files is performed
by read_all() as well. Returns the number of files removed.

=head1 DIFFERENCES FROM THE ORIGINAL

=head2 File format

The files in base_dir are named C<status_E<lt>idE<gt>> as the original's are,
but hold this project's format (a header with a seqlock and the status,
memory-mapped), not the original's MD5-checked record. The C<scoreboard>
command of the same project (C<scoreboard list DIR>, C<watch>, C<serve>)
reads boards written from Perl, and workers written in Rust (or through the
C ABI) and in Perl can share one board. A base_dir holding files of the
original module is read without them (they are left alone, never removed);
run both versions on separate directories. Temporaries are named
C<.sb-tmp-*>; other files, the original's C<status_*.tmp> included, are
neither returned nor removed.

Ids with characters that cannot appear in a file name (C</>, for instance)
are escaped in the name and returned exactly as given.

=head2 Wide characters

A status is stored as bytes. A string holding only characters up to 255 is
stored as those bytes (a UTF-8-flagged string is stored as its Latin-1
bytes, as the original stores it). A string holding a character above 255
makes C<update> croak with C<Wide character in subroutine entry at FILE line
N.>, FILE and N being the caller's; the original dies with the same message
(from its C<md5()>), located in its own source. In both, the worker's
previous status stays published, and the string passed is not changed.
Encode text first: C<update(Encode::encode_utf8($text))>.

Ids are strings of characters: they are stored as UTF-8, and C<read_all>
returns each key as the same string (keys with characters above 127 come
back as character strings), so C<< $stats->{$id} >> finds any id.

=head2 Fork

As in the original, after a C<fork> the child's first C<update> makes the
child's own entry under its own id (its process id by default), and the
parent's entry stays the parent's. Unlike the original, the child never keeps
the parent's entry alive: if the parent dies, its entry is gone from the next
read even though the child still runs; and an object destroyed in a child
(when the child exits) never removes the parent's file.

=head2 Liveness and removal

A worker is live while its process holds its file's lock. The files of dead
workers are removed by whichever read or cleanup finds them, in a way that
never removes the file of a new live worker that took the same id (the
original, by unlinking by name, could remove a fresh worker's file after a
process id was reused). A second object in the same process does not remove
the first one's file (the original's C<new> did); if both update with the
same id, the second's C<update> croaks (C<worker id is held by a live
worker>) and the first keeps its entry. Statuses shrink as well as grow: a read copies only the
current status. A worker killed while making its file leaves at most a
temporary that the next C<cleanup> removes.

With a custom C<worker_id> whose result changes within one process (not
across a fork), the object keeps an entry for each id it has updated, until
it is destroyed; the original let the earlier ids' entries go. The sub is
the one given to C<new> (the original called the C<worker_id> method at
every update, so a subclass could override it).

The object is destroyed as the original's is: its worker's file is removed
(during global destruction too, silently). When the process exits or is
killed, the file stays until the next read or cleanup removes it, as before.

=head2 Directories

base_dir is created with mode 0700 (the original used 0777 less the umask).
An existing base_dir that the group or others may write to (without the
sticky bit) is refused: C<new> croaks, since another user could replace
status files there. To let a monitor of another user read the board, give
the directory to a group (see the project's docs/deployment.md); such readers
only read, and never remove other users' files.

=head2 Speed

An update that fits in the worker's file is a few stores into shared
memory: no system call with the default worker id (the original made four:
getpid, two lseek and write). A read keeps the workers' files mapped and
watches base_dir, so a read while no worker starts or exits makes one system
call whatever the number of workers (the original made about 14 per
worker). C<read_all> builds its hash in XS from a snapshot kept in the
object between reads. The project's BENCHMARKS.md has the figures, measured
against the original.

=head2 Errors

Errors croak with the library's message (for instance C<failed to update the
scoreboard: ...>) and set C<$!> to the OS error when there is one. A read
never dies for a bad or foreign file in base_dir: it is skipped. When no
directory is at base_dir any more (removed since C<new>), C<read_all> returns
an empty hash and C<cleanup> 0, as the original's do; a directory made there
again is read. A read that fails otherwise (base_dir not readable, out of
file descriptors) croaks, where the original returned the workers it could
read.

The first C<update> of a worker makes its file; if other processes keep
creating and removing files of the same name meanwhile (the library then
reports contention), C<update> tries again, up to 20 times over about 20 ms,
before it croaks.

=head2 Threads

An object belongs to the interpreter thread that made it: objects are not
cloned into new threads (C<CLONE_SKIP>).

=head1 SEE ALSO

L<Parallel::Scoreboard::PSGI::App>, L<Parallel::Scoreboard::PSGI::App::JSON>,
L<Plack::Middleware::ServerStatus::Lite>

=head1 LICENSE

This program is free software, you can redistribute it and/or modify it under
the terms of the MIT license or the Apache License 2.0, at your option.

=cut
