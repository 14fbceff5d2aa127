#!/usr/bin/perl
# The drop-in against the original Parallel::Scoreboard, same workloads, one
# run: each implementation runs in a process of its own (both are the
# package Parallel::Scoreboard), and this prints a table with their ratio.
#
#   perl bench/bench.pl --original /path/to/original/lib [--workers 10,100,1000] [--syscalls]
#
# (or PSB_ORIGINAL_LIB=/path/to/original/lib). Run from perl/ after `make`:
# the drop-in is loaded from ./blib. Workloads: `update` of 64 B, 4 KiB, and
# alternating 16 B / 64 KiB, and of 64 B with a custom worker_id; `read_all` of N workers, each a child process
# that made its own object and updated a 64-byte status (the first read,
# then warm reads: the median). Times are CPU times of the measuring process
# (user and system) per operation, the median of 5 batches of at least 0.2 s
# each (Perl's loop included, for both).
# --syscalls counts the system calls of 100,000 updates with strace -f -c
# (less those of a run with none).
use strict;
use warnings;

use File::Temp qw(tempdir);
use Getopt::Long;
use Time::HiRes qw(clock_gettime CLOCK_PROCESS_CPUTIME_ID);

# The process's CPU time (user and system), in seconds: on a busy machine
# a single-threaded loop's CPU time moves far less than its wall time.
sub cpu { clock_gettime(CLOCK_PROCESS_CPUTIME_ID) }

my ($child, $original, $workers, $syscalls, $strace_updates) =
    (undef, $ENV{PSB_ORIGINAL_LIB}, '10,100,1000', 0, undef);
GetOptions(
    'child=s'          => \$child,
    'original=s'       => \$original,
    'workers=s'        => \$workers,
    'syscalls'         => \$syscalls,
    'strace-updates=i' => \$strace_updates,
) or die "usage: $0 --original LIB [--workers N,N] [--syscalls]\n";

if (defined $strace_updates) { strace_child($strace_updates); exit 0 }
if ($child) { run_child(); exit 0 }

die "the original module's lib directory: --original LIB or PSB_ORIGINAL_LIB\n"
    unless $original && -f "$original/Parallel/Scoreboard.pm";
die "run from perl/ after make (./blib is missing)\n" unless -d 'blib/arch';

my %inc = (original => ["-I$original"], ours => ['-Iblib/lib', '-Iblib/arch']);
my %result;
for my $impl (qw(original ours)) {
    open my $out, '-|', $^X, @{ $inc{$impl} }, $0, '--child', $impl, '--workers', $workers
        or die "$impl: $!";
    while (<$out>) {
        chomp;
        my ($name, $value) = split /\t/;
        $result{$name}{$impl} = $value;
        print STDERR "$impl\t$name\t$value\n";
    }
    close $out or die "$impl: the benchmark failed\n";
}
if ($syscalls) {
    for my $impl (qw(original ours)) {
        my $per = strace_count($inc{$impl});
        $result{'system calls per update (64 B)'}{$impl} = $per;
    }
}

print "| workload | original | drop-in | original / drop-in |\n|---|---|---|---|\n";
for my $name (sort { order($a) <=> order($b) || $a cmp $b } keys %result) {
    my ($o, $n) = @{ $result{$name} }{qw(original ours)};
    my $ratio = $name !~ /system calls/ && $n && $n > 0 ? sprintf('%.1fx', $o / $n) : '-';
    printf "| %s | %s | %s | %s |\n", $name, human($name, $o), human($name, $n), $ratio;
}

sub order {
    my ($name) = @_;
    my @order = ('update, 64 B', 'update, 4 KiB', 'update, alternating 16 B / 64 KiB',
                 'update, 64 B, custom worker_id');
    for my $i (0 .. $#order) { return $i if $name eq $order[$i] }
    return $name =~ /^read_all, (\d+) workers( \(first)?/ ? 10 + log($1) + ($2 ? 0.5 : 0) : 99;
}

sub human {
    my ($name, $v) = @_;
    return '-' unless defined $v;
    return sprintf('%.2f', abs($v) < 0.005 ? 0 : $v) if $name =~ /system calls/;
    return $v >= 1e6 ? sprintf('%.2f ms', $v / 1e6) : $v >= 1e3 ? sprintf('%.2f µs', $v / 1e3)
         : sprintf('%.0f ns', $v);
}

# Nanoseconds per call of `$code` (which runs `$n` operations): the median
# of 5 batches of at least 0.2 s.
sub per_op {
    my ($code) = @_;
    my $n = 1;
    while (1) {
        my $t = cpu();
        $code->($n);
        last if cpu() - $t >= 0.2;
        $n *= 4;
    }
    my @ns;
    for (1 .. 5) {
        my $t = cpu();
        $code->($n);
        push @ns, (cpu() - $t) * 1e9 / $n;
    }
    @ns = sort { $a <=> $b } @ns;
    return $ns[2];
}

sub run_child {
    require Parallel::Scoreboard;
    $| = 1;
    my $base = -d '/dev/shm' ? '/dev/shm' : undef;
    my $dir = tempdir('psb-bench-perl-XXXXXX', ($base ? (DIR => $base) : (TMPDIR => 1)), CLEANUP => 1);

    my $sb = Parallel::Scoreboard->new(base_dir => "$dir/update");
    for my $case ([ 'update, 64 B', ['x' x 64] ], [ 'update, 4 KiB', ['x' x 4096] ],
                  [ 'update, alternating 16 B / 64 KiB', ['s' x 16, 'L' x 65536] ]) {
        my ($name, $statuses) = @$case;
        $sb->update($statuses->[-1]);
        my $ns = @$statuses == 1
            ? per_op(sub { my $s = $statuses->[0]; $sb->update($s) for 1 .. $_[0] })
            : per_op(sub { my ($a, $b) = @$statuses; for (1 .. $_[0] / 2) { $sb->update($a); $sb->update($b) } });
        print "$name\t$ns\n";
    }
    undef $sb;

    # A custom worker_id: the sub is called at every update, in both.
    my $custom = Parallel::Scoreboard->new(base_dir => "$dir/custom", worker_id => sub { 'w-1' });
    $custom->update('x' x 64);
    print "update, 64 B, custom worker_id\t",
        per_op(sub { my $s = 'x' x 64; $custom->update($s) for 1 .. $_[0] }), "\n";
    undef $custom;

    for my $n (split /,/, $workers) {
        my $board = "$dir/read-$n";
        my $reader = Parallel::Scoreboard->new(base_dir => $board);
        pipe my $ready_r, my $ready_w or die $!;
        pipe my $hold_r, my $hold_w or die $!;
        my @pids;
        for my $i (1 .. $n) {
            my $pid = fork // die "fork: $!";
            if (!$pid) {
                close $ready_r;
                close $hold_w;
                my $me = Parallel::Scoreboard->new(base_dir => $board);
                $me->update(sprintf '%-64.64s', "worker $i busy GET /index.html");
                syswrite $ready_w, '.';
                sysread $hold_r, my $buf, 1; # until the reader is done
                require POSIX;
                POSIX::_exit(0);
            }
            push @pids, $pid;
        }
        close $ready_w;
        close $hold_r;
        my $got = 0;
        while ($got < $n) {
            my $r = sysread $ready_r, my $buf, $n - $got;
            die "workers failed" unless $r;
            $got += $r;
        }
        my $t = cpu();
        my $count = keys %{ $reader->read_all };
        my $first = (cpu() - $t) * 1e9;
        die "read $count of $n workers\n" unless $count == $n;
        print "read_all, $n workers (first read)\t$first\n";
        my $ns = per_op(sub {
            for (1 .. $_[0]) {
                my $all = $reader->read_all;
                die "read " . keys(%$all) . " of $n\n" unless keys %$all == $n;
            }
        });
        print "read_all, $n workers\t$ns\n";
        close $hold_w;
        waitpid $_, 0 for @pids;
    }
}

# Under strace: makes the board, updates once (the file is made), then
# `$n` more 64-byte updates.
sub strace_child {
    my ($n) = @_;
    require Parallel::Scoreboard;
    my $dir = tempdir('psb-bench-perl-XXXXXX', DIR => (-d '/dev/shm' ? '/dev/shm' : '/tmp'), CLEANUP => 1);
    my $sb = Parallel::Scoreboard->new(base_dir => $dir);
    my $s = 'x' x 64;
    $sb->update($s);
    $sb->update($s) for 1 .. $n;
}

# System calls per update: strace -f -c of 100,000 updates less a run of 0.
sub strace_count {
    my ($inc) = @_;
    my %total;
    for my $n (0, 100_000) {
        my $out = "/tmp/psb-bench-strace-$$-$n";
        system('strace', '-f', '-c', '-o', $out, $^X, @$inc, $0, '--strace-updates', $n) == 0
            or die "strace failed (is it installed?)\n";
        open my $fh, '<', $out or die "$out: $!";
        while (<$fh>) {
            # % time, seconds, usecs/call, calls, [errors,] "total"
            my @f = split;
            $total{$n} = $f[3] if @f >= 5 && $f[-1] eq 'total';
        }
        close $fh;
        unlink $out;
        die "no strace total for $n updates\n" unless defined $total{$n};
    }
    return ($total{100_000} - $total{0}) / 100_000;
}
