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

# Torn reads are impossible: two writers alternate 64 KiB statuses and a
# short one as fast as they can; every read must hold both writers, each with
# one of them, whole (the original, checking an MD5 and retrying ten times,
# left a busy writer out of a few per cent of its reads).
{
    # Two long statuses that differ in every byte, so that a long one half
    # written over the other is torn wherever it is cut.
    my $long = join '', map { chr(65 + $_ % 26) } 0 .. 65535;
    (my $long2 = $long) =~ tr/A-Z/a-z/;
    my $short = 'short';
    my %whole = map { $_ => 1 } $long, $long2, $short;
    my @writers = map {
        my $id = "writer-$_";
        spawn {
            my $sb = Parallel::Scoreboard->new(base_dir => "$dir/torn", worker_id => sub { $id });
            while (1) { $sb->update($long); $sb->update($short); $sb->update($long2) }
        };
    } 1 .. 2;
    my $writer = $writers[0];
    my $sb = Parallel::Scoreboard->new(base_dir => "$dir/torn");
    eventually { keys %{ $sb->read_all } == 2 } or die 'the writers never started';
    my ($reads, $bad, $longs, $shorts) = (0, 0, 0, 0);
    my @warnings;
    local $SIG{__WARN__} = sub { push @warnings, @_ };
    my $end = Time::HiRes::time() + 3;
    while (Time::HiRes::time() < $end || $reads < 200) {
        my $all = $sb->read_all;
        $reads++;
        for my $s (@{$all}{qw(writer-1 writer-2)}) {
            if (!defined $s || !$whole{$s}) { $bad++ }
            elsif ($s eq $short) { $shorts++ }
            else { $longs++ }
        }
    }
    is($bad, 0, "no torn or missing status in $reads reads of 2 writers ($longs long, $shorts short)");
    is_deeply(\@warnings, [], 'no warnings');

    # A writer stopped at any point, mid-update included: every read still
    # gives its last complete status (the original's reader, finding the
    # record torn ten times, warned and left the worker out).
    my ($stops, $complete) = (0, 0);
    @warnings = ();
    for my $round (1 .. 40) {
        Time::HiRes::sleep(0.0001 * ($round % 13));
        kill 'STOP', $writer;
        $stops++;
        my $s = $sb->read_all->{'writer-1'};
        $complete++ if defined $s && $whole{$s};
        kill 'CONT', $writer;
    }
    is($complete, $stops, "a writer stopped $stops times, anywhere: its last complete status every time");
    is_deeply(\@warnings, [], 'no warnings');
    stop($_) for @writers;
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
        my $s = $reader->read_all->{getppid()};
        exit(defined $s && $s eq 'tiny' ? 0 : 3);
    };
    waitpid $other, 0;
    is($? >> 8, 0, 'another process reads the short one');

    # What reads copy is the current status, not the largest the file held:
    # the bytes this process reads through read(2) (/proc/self/io, rchar)
    # over 20 reads stay far below one 8 MiB copy (the original read the
    # whole record each time: 160 MiB).
    SKIP: {
        skip 'no /proc/self/io', 2 unless -r '/proc/self/io';
        pipe my $r, my $w or die $!;
        my $parent = $$;
        my $reader = spawn {
            close $r;
            my $rchar = sub {
                open my $io, '<', '/proc/self/io' or die $!;
                while (<$io>) { return $1 if /^rchar:\s*(\d+)/ }
                die 'no rchar';
            };
            my $board = Parallel::Scoreboard->new(base_dir => "$dir/shrink");
            my $first = $board->read_all->{$parent};
            my $before = $rchar->();
            $board->read_all for 1 .. 20;
            my $read = $rchar->() - $before;
            print $w defined $first && $first eq 'tiny' ? "$read\n" : "wrong status\n";
            close $w;
        };
        close $w;
        chomp(my $read = <$r> // 'nothing');
        waitpid $reader, 0;
        like($read, qr/^\d+\z/, 'a reader process reads the short status');
        cmp_ok($read =~ /^\d+\z/ ? $read : 1 << 30, '<', 1 << 20,
               "20 reads after the shrink read $read bytes through read(2)");
    }
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
    # Each worker says when it starts its first update (which makes its
    # file); it is SIGKILLed 0 to 200 µs later, so that many die while
    # making the file.
    for my $n (1 .. 60) {
        pipe my $r, my $w or die $!;
        my $pid = spawn {
            close $r;
            my $me = Parallel::Scoreboard->new(base_dir => $board);
            syswrite $w, '.';
            $me->update("worker $n") while 1;
        };
        close $w;
        sysread $r, my $buf, 1 or die 'worker failed';
        my $until = Time::HiRes::time() + 0.00001 * ($n % 21);
        1 while Time::HiRes::time() < $until;
        stop($pid);
    }
    $sb->cleanup;
    opendir my $dh, $board or die $!;
    my @left = sort grep { !/^\.\.?\z/ } readdir $dh;
    is_deeply(\@left, ['status_99999.tmp'], 'only the foreign .tmp is left');
    is_deeply($sb->read_all, {}, 'and it is not read');
}

done_testing;
