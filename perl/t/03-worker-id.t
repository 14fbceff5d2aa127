# worker_id: the default is never called by update; a custom one is called at
# every update, as in the original, and its errors come back as they were.
use strict;
use warnings;

use Test::More;

use lib 't/lib';
use PSBTest;
use Parallel::Scoreboard;

my $dir = board_dir();

# The default id: update does not call the sub the accessor returns.
{
    my $sb = Parallel::Scoreboard->new(base_dir => "$dir/default");
    no warnings 'redefine';
    local *Parallel::Scoreboard::_default_worker_id = sub { die "called\n" };
    ok(eval { $sb->update('no sub called'); 1 }, 'update with the default id calls no Perl sub')
        or diag $@;
    is_deeply($sb->read_all, { $$ => 'no sub called' }, 'named by the pid');
}

# A custom id, called at every update.
my $calls = 0;
my $id = 'worker-a';
my $sb = Parallel::Scoreboard->new(base_dir => "$dir/custom", worker_id => sub { $calls++; $id });
is($sb->worker_id->(), 'worker-a', 'the accessor returns the custom sub');
$calls = 0;
$sb->update("update $_") for 1 .. 5;
is($calls, 5, 'the custom sub is called once per update');
is_deeply($sb->read_all, { 'worker-a' => 'update 5' }, 'the entry is under its id');
is($calls, 5, 'reads do not call it');
ok(-f "$dir/custom/status_worker-a", 'the file is status_<id>');

# A die in the sub comes back from update unchanged; nothing changes.
my $error = { code => 42 };
my $die_with;
my $failing = Parallel::Scoreboard->new(
    base_dir  => "$dir/custom",
    worker_id => sub { die $die_with if $die_with; 'worker-b' },
);
$failing->update('good');
$die_with = $error;
ok(!eval { $failing->update('bad'); 1 }, 'a die in worker_id makes update die');
is($@, $error, 'with the very error object');
$die_with = "no id today\n";
ok(!eval { $failing->update('bad'); 1 }, 'a string error too');
is($@, "no id today\n", 'the same string');
is_deeply($failing->read_all, { 'worker-a' => 'update 5', 'worker-b' => 'good' },
          'the previous status stays');
$die_with = undef;
$failing->update('good again');
is($failing->read_all->{'worker-b'}, 'good again', 'the object works after the error');

# A die inside an eval inside the sub is the sub's own business.
my $nested = Parallel::Scoreboard->new(
    base_dir  => "$dir/custom",
    worker_id => sub { eval { die "inner\n" }; 'worker-c' },
);
eval { die "earlier error\n" };
$nested->update('fine');
is($nested->read_all->{'worker-c'}, 'fine', 'an eval inside the sub is not an error');
is($@, "earlier error\n", "update leaves the caller's \$@ as it was");

# The sub gets no arguments, as the original's `$self->worker_id->()`.
my @args_seen;
my $args = Parallel::Scoreboard->new(
    base_dir  => "$dir/custom",
    worker_id => sub { @args_seen = @_; 'worker-d' },
);
sub call_with_args { $args->update('from a sub with arguments') }
call_with_args('caller', 'arguments');
is_deeply(\@args_seen, [], 'worker_id is called with no arguments');

# Loop control cannot leave the sub across the library: it is an error.
my $looping = Parallel::Scoreboard->new(
    base_dir  => "$dir/custom",
    worker_id => sub { no warnings 'exiting'; last; 'worker-e' },
);
my $iterations = 0;
for (1 .. 2) {
    $iterations++;
    ok(!eval { $looping->update('x'); 1 }, "'last' in worker_id makes update die");
    like($@, qr/^Can't "last" outside a loop block/, 'with Perl\'s error');
}
is($iterations, 2, "the caller's loop was not left");

# Ids the library cannot take: clear errors.
for my $bad ([undef, 'undef'], ['', 'empty'], ['x' x 256, '256 bytes']) {
    my $b = Parallel::Scoreboard->new(base_dir => "$dir/bad", worker_id => sub { $bad->[0] });
    ok(!eval { $b->update('x'); 1 }, "an id that is $bad->[1] croaks");
    like($@, qr/^failed to update the scoreboard: /, 'with a clear message');
}

# Any string: ids with characters above 127 come back as the same string.
my $uni = "caf\x{e9}-\x{263a}";
my $u = Parallel::Scoreboard->new(base_dir => "$dir/uni", worker_id => sub { $uni });
$u->update('unicode id');
my $stats = $u->read_all;
is_deeply([keys %$stats], [$uni], 'the id comes back as the same characters');
is($stats->{$uni}, 'unicode id', 'found by its id');
my $latin = "caf\xe9";
my $l = Parallel::Scoreboard->new(base_dir => "$dir/latin", worker_id => sub { $latin });
$l->update('latin-1 id');
is($l->read_all->{$latin}, 'latin-1 id', 'a byte-string id comes back equal');
my $slash = Parallel::Scoreboard->new(base_dir => "$dir/slash", worker_id => sub { '../a/b' });
$slash->update('slashes');
is_deeply($slash->read_all, { '../a/b' => 'slashes' }, 'an id with slashes stays inside base_dir');

# The sub may use the board itself.
my $self_reader;
$self_reader = Parallel::Scoreboard->new(
    base_dir  => "$dir/reentrant",
    worker_id => sub { my $n = keys %{ $self_reader->read_all }; "reader" },
);
$self_reader->update('reads in worker_id');
is_deeply($self_reader->read_all, { reader => 'reads in worker_id' }, 'worker_id may read the board');
undef $self_reader; # the closure refers to it: break the cycle (DESTROY removes the file)

done_testing;
