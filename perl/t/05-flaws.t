# The original's flaws stay fixed from Perl: torn reads, statuses that never
# shrink, pid reuse, a second object removing the first one's file (in
# 04-destroy.t), leaked temporaries.
use strict;
use warnings;

use Test::More;
use Time::HiRes ();

use lib 't/lib';
use PSBTest;
use Parallel::Scoreboard;

my $dir = board_dir();

# Torn reads are impossible: a writer alternates a 64 KiB status and a short
# one as fast as it can; every read must hold the writer with one of them,
# whole.
{
    my $long = join '', map { chr(65 + $_ % 26) } 0 .. 65535;
    my $short = 'short';
    my $writer = spawn {
        my $sb = Parallel::Scoreboard->new(base_dir => "$dir/torn", worker_id => sub { 'writer' });
        while (1) { $sb->update($long); $sb->update($short) }
    };
    my $sb = Parallel::Scoreboard->new(base_dir => "$dir/torn");
    eventually { exists $sb->read_all->{writer} } or die 'the writer never started';
    my ($reads, $bad, $longs, $shorts) = (0, 0, 0, 0);
    my $end = Time::HiRes::time() + 3;
    while (Time::HiRes::time() < $end || $reads < 200) {
        my $s = $sb->read_all->{writer};
        $reads++;
        if (!defined $s) { $bad++ }
        elsif ($s eq $long) { $longs++ }
        elsif ($s eq $short) { $shorts++ }
        else { $bad++ }
    }
    is($bad, 0, "no torn or missing status in $reads reads ($longs long, $shorts short)");
    stop($writer);
}

# Statuses shrink: after a large status, a short one is what every reader
# gets, and all they copy.
{
    my $sb = Parallel::Scoreboard->new(base_dir => "$dir/shrink");
    $sb->update('x' x (8 << 20));
    is(length $sb->read_all->{$$}, 8 << 20, 'an 8 MiB status');
    $sb->update('tiny');
    is_deeply($sb->read_all, { $$ => 'tiny' }, 'then a short one');
    my $other = spawn {
        my $reader = Parallel::Scoreboard->new(base_dir => "$dir/shrink");
        my $s = $reader->read_all->{$$ == getppid() ? 0 : getppid()};
        exit(defined $s && $s eq 'tiny' ? 0 : 3);
    };
    waitpid $other, 0;
    is($? >> 8, 0, 'another process reads the short one');
}

# Pid (id) reuse: a dead worker's file is removed by readers without ever
# removing the file of a new worker that took the same id. Readers remove
# dead files as fast as they can while workers with one id die and start.
{
    my $board = "$dir/reuse";
    Parallel::Scoreboard->new(base_dir => $board); # makes the directory
    my @readers = map {
        spawn {
            my $sb = Parallel::Scoreboard->new(base_dir => $board);
            while (1) { $sb->read_all; $sb->cleanup }
        }
    } 1 .. 2;
    my $sb = Parallel::Scoreboard->new(base_dir => $board);
    my ($rounds, $lost) = (30, 0);
    for my $round (1 .. $rounds) {
        pipe my $r, my $w or die $!;
        my $worker = spawn {
            close $r;
            my $me = Parallel::Scoreboard->new(base_dir => $board, worker_id => sub { 'same-id' });
            $me->update("round $round");
            print $w "ready\n";
            close $w;
            sleep 1 while 1;
        };
        close $w;
        my $ready = <$r>;
        defined $ready or die "worker of round $round failed";
        for (1 .. 20) {
            my $s = $sb->read_all->{'same-id'};
            $lost++ unless defined $s && $s eq "round $round";
        }
        stop($worker); # SIGKILL: its file is left for the readers
    }
    is($lost, 0, "a live worker's file was never removed ($rounds workers, each read 20 times)");
    stop($_) for @readers;
    is_deeply(eventually { my $s = $sb->read_all; !%$s && $s }, {}, 'the last dead one is gone');
}

# No leaked temporaries: workers killed at any point of making their file
# leave nothing that cleanup does not remove; the original's foreign
# status_*.tmp is neither read nor removed.
{
    my $board = "$dir/tmp";
    my $sb = Parallel::Scoreboard->new(base_dir => $board);
    open my $foreign, '>', "$board/status_99999.tmp" or die $!;
    close $foreign;
    for my $n (1 .. 40) {
        my $pid = spawn {
            my $w = Parallel::Scoreboard->new(base_dir => $board);
            $w->update("worker $n") while 1;
        };
        Time::HiRes::sleep(0.0005 * ($n % 20));
        stop($pid);
    }
    $sb->cleanup;
    opendir my $dh, $board or die $!;
    my @left = sort grep { !/^\.\.?\z/ } readdir $dh;
    is_deeply(\@left, ['status_99999.tmp'], 'only the foreign .tmp is left');
    is_deeply($sb->read_all, {}, 'and it is not read');
}

done_testing;
