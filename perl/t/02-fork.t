# fork: a child's update makes its own entry under its own id; the parent's
# stays the parent's; a child never removes or keeps alive the parent's.
use strict;
use warnings;

use Test::More;

use lib 't/lib';
use PSBTest;
use Parallel::Scoreboard;

my $dir = board_dir();
my $sb = Parallel::Scoreboard->new(base_dir => $dir);
$sb->update('me manager');

# Children updating through the inherited object, each on SIGUSR1 too.
my @workers;
for my $n (0 .. 1) {
    push @workers, spawn {
        my $counter = 0;
        $sb->update($counter);
        local $SIG{USR1} = sub { $sb->update(++$counter) };
        sleep 1 while 1;
    };
}
my $stats = eventually { my $s = $sb->read_all; keys %$s == 3 && $s };
is_deeply($stats, { $$ => 'me manager', map { $_ => '0' } @workers },
          'the parent and each child under its own pid');

kill 'USR1', $workers[0];
$stats = eventually { my $s = $sb->read_all; $s->{$workers[0]} eq '1' && $s };
is_deeply($stats, { $$ => 'me manager', $workers[0] => '1', $workers[1] => '0' },
          'a child updates its own entry');

# A child killed by TERM (no DESTROY): its file stays until the next read.
stop($workers[1], 'TERM');
ok(-e "$dir/status_$workers[1]", 'a killed child leaves its file');
is_deeply($sb->read_all, { $$ => 'me manager', $workers[0] => '1' }, 'gone from the next read');
ok(!-e "$dir/status_$workers[1]", 'which removed the file');

# A child that exits normally destroys its copy of the object: its own file
# goes, the parent's stays.
my $pid = fork // die "fork: $!";
if (!$pid) {
    $sb->update('short-lived child');
    exit 0; # global destruction: DESTROY in the child
}
waitpid $pid, 0;
is($?, 0, 'the child exited cleanly');
ok(-e "$dir/status_$$", "the child's exit left the parent's file");
ok(!-e "$dir/status_$pid", "and removed the child's own");
is_deeply($sb->read_all, { $$ => 'me manager', $workers[0] => '1' }, 'the parent still reads itself');

# A child that never updates and exits: nothing of the parent's goes either.
$pid = fork // die "fork: $!";
if (!$pid) { undef $sb; exit 0 }
waitpid $pid, 0;
is($sb->read_all->{$$}, 'me manager', 'a child destroying the object removes nothing of the parent');
$sb->update('still mine');
is($sb->read_all->{$$}, 'still mine', 'the parent updates as before');

stop($workers[0]);

# The parent dies while its child lives on: the child does not keep the
# parent's entry alive (the original's child did, holding its lock).
pipe my $r, my $w or die $!;
my $middle = spawn {
    my $board = Parallel::Scoreboard->new(base_dir => "$dir/family");
    $board->update('parent');
    my $child = fork // die "fork: $!";
    if (!$child) {
        $board->update('child');
        sleep 1 while 1;
    }
    print $w "$child\n";
    close $w;
    sleep 1 while 1;
};
close $w;
chomp(my $grandchild = <$r>);
my $family = Parallel::Scoreboard->new(base_dir => "$dir/family");
$stats = eventually { my $s = $family->read_all; keys %$s == 2 && $s };
is_deeply($stats, { $middle => 'parent', $grandchild => 'child' }, 'parent and child');
stop($middle);
$stats = eventually { my $s = $family->read_all; keys %$s == 1 && $s };
is_deeply($stats, { $grandchild => 'child' }, "the dead parent is gone while its child lives");
kill 'KILL', $grandchild;
is_deeply(eventually { my $s = $family->read_all; !%$s && $s }, {}, 'then the child is gone');

# A custom worker_id across fork: the child's id, the child's entry.
my $custom = Parallel::Scoreboard->new(base_dir => "$dir/custom", worker_id => sub { "w-$$" });
$custom->update('parent');
my $kid = spawn { $custom->update('kid'); sleep 1 while 1 };
$stats = eventually { my $s = $custom->read_all; keys %$s == 2 && $s };
is_deeply($stats, { "w-$$" => 'parent', "w-$kid" => 'kid' }, 'custom ids across fork');
stop($kid);

done_testing;
