# The original's API: new, the accessors, update, read_all, cleanup.
use strict;
use warnings;

use Errno ();
use Scalar::Util qw(reftype);
use Test::More;

use lib 't/lib';
use PSBTest;

use_ok('Parallel::Scoreboard');

my $dir = board_dir();

# base_dir is mandatory.
eval { Parallel::Scoreboard->new() };
like($@, qr/^mandatory parameter:base_dir is missing at /, 'base_dir is mandatory');

# base_dir and its missing parents are made (mkpath), mode 0700.
my $base = "$dir/a/b/board";
my $sb = Parallel::Scoreboard->new(base_dir => $base);
ok(-d $base, 'base_dir and its parents are made');
is((stat $base)[2] & 07777, 0700, 'base_dir is private (0700)');

# A blessed hash, as the original's.
isa_ok($sb, 'Parallel::Scoreboard');
is(reftype($sb), 'HASH', 'the object is a hash');
is($sb->{base_dir}, $base, 'base_dir is in the hash');
is(ref $sb->{worker_id}, 'CODE', 'worker_id is in the hash');

# The read-only accessors.
is($sb->base_dir, $base, 'base_dir accessor');
is(ref $sb->worker_id, 'CODE', 'worker_id accessor returns a sub');
is($sb->worker_id->(), $$, 'the default worker_id returns $$');
eval { $sb->base_dir('/elsewhere') };
like($@, qr/read-only/, 'base_dir is read-only');
is($sb->base_dir, $base, 'base_dir unchanged');
eval { $sb->worker_id(sub { 1 }) };
like($@, qr/read-only/, 'worker_id is read-only');

# Other arguments are kept in the hash, as the original keeps them.
my $extra = Parallel::Scoreboard->new(base_dir => "$dir/extra", color => 'blue');
is($extra->{color}, 'blue', 'other arguments are kept');
undef $extra;

# Nothing before the first update.
is_deeply($sb->read_all, {}, 'no status before the first update');

# Any bytes, numbers as their string form.
my @statuses = (
    'me manager', '', "\0\x01\x7f\x80\xff", 0, 42, 1.5, "line\nbreak",
    'x' x 70_000, join('', map { chr } 0 .. 255) x 300, 'short again',
);
for my $status (@statuses) {
    $sb->update($status);
    my $stats = $sb->read_all;
    is_deeply([keys %$stats], [$$], 'only the caller');
    is($stats->{$$}, "$status", 'status of ' . length($status) . ' bytes read back');
    ok(!utf8::is_utf8($stats->{$$}), 'read back as bytes');
}
ok(-f "$base/status_$$", "the file is status_$$");

# A second reader in the same process sees it too.
my $reader = Parallel::Scoreboard->new(base_dir => $base);
is_deeply($reader->read_all, { $$ => 'short again' }, 'another object reads it');
undef $reader;
ok(-f "$base/status_$$", 'a reader destroyed leaves the worker file');

# cleanup: nothing to remove here; returns a count.
is($sb->cleanup, 0, 'cleanup removes nothing while all live');
is_deeply($sb->read_all, { $$ => 'short again' }, 'cleanup keeps live workers');

# Destruction removes the worker's file.
undef $sb;
ok(!-e "$base/status_$$", 'the file is removed on destruction');

# base_dir removed: no workers (as the original's glob finds none), no error;
# made again: read again.
{
    my $gone = "$dir/gone";
    my $sb = Parallel::Scoreboard->new(base_dir => $gone);
    rmdir $gone or die $!;
    is_deeply($sb->read_all, {}, 'a removed base_dir reads as no workers');
    is($sb->cleanup, 0, 'and cleans up nothing');
    my $again = Parallel::Scoreboard->new(base_dir => $gone);
    $again->update('back');
    is_deeply($sb->read_all, { $$ => 'back' }, 'a base_dir made again is read');
}

# A directory others may write to is refused; so is a file.
my $open = "$dir/open";
mkdir $open or die $!;
chmod 0777, $open or die $!;
eval { Parallel::Scoreboard->new(base_dir => $open) };
like($@, qr/^failed to open the scoreboard in \Q$open\E: .*not private/,
     'a world-writable base_dir is refused');
open my $fh, '>', "$dir/file" or die $!;
close $fh;
eval { Parallel::Scoreboard->new(base_dir => "$dir/file") };
like($@, qr/^failed to open the scoreboard in \Q$dir\E\/file: /, 'a file as base_dir fails');
ok($!{EEXIST} || $!{ENOTDIR}, "\$! is set to the OS error ($!)");

eval { Parallel::Scoreboard->new(base_dir => "$dir/x", worker_id => 'not code') };
like($@, qr/^worker_id must be a code reference/, 'worker_id must be code');

done_testing;
