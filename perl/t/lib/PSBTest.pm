package PSBTest;
# Test plumbing: board directories that are removed after the test, polling
# with generous limits, and child processes that are killed and reaped when
# the test ends (even when it fails).
use strict;
use warnings;

use Exporter 'import';
use File::Spec;
use File::Temp qw(tempdir);
use POSIX ();
use Time::HiRes ();

our @EXPORT = qw(board_dir eventually spawn stop in_repo tool);

my $parent = $$;
my @children;

# A fresh directory psb-test-perl-* (in /dev/shm where there is one),
# removed at exit.
sub board_dir {
    my $base = -d '/dev/shm' && -w _ ? '/dev/shm' : File::Spec->tmpdir;
    return tempdir('psb-test-perl-XXXXXX', DIR => $base, CLEANUP => 1);
}

# Polls `$cond` until it returns true or `$limit` seconds (default 30)
# have passed; returns its last result.
sub eventually(&;$) {
    my ($cond, $limit) = @_;
    my $end = Time::HiRes::time() + ($limit // 30);
    while (Time::HiRes::time() < $end) {
        my $r = $cond->();
        return $r if $r;
        Time::HiRes::sleep(0.01);
    }
    return $cond->();
}

# Forks a child running `$code`; the child then exits with _exit (no
# DESTROY, no END) unless `$code` exits itself. Killed and reaped at exit.
sub spawn(&) {
    my ($code) = @_;
    my $pid = fork;
    die "fork: $!" unless defined $pid;
    if (!$pid) {
        @children = ();
        my $ok = eval { $code->(); 1 };
        print STDERR "child $$: $@" unless $ok;
        POSIX::_exit($ok ? 0 : 1);
    }
    push @children, $pid;
    return $pid;
}

# Kills `$pid` with `$signal` (default KILL) and reaps it; returns $?.
sub stop {
    my ($pid, $signal) = @_;
    kill $signal // 'KILL', $pid;
    waitpid $pid, 0;
    @children = grep { $_ != $pid } @children;
    return $?;
}

# Whether the tests run in the project's repository (not from a tarball).
sub in_repo { -f 'Makefile.PL' && -f '../ffi/Cargo.toml' }

# A program of the Rust workspace (`scoreboard`, `examples/many_workers`),
# from PSB_TARGET_DIR or ../target, debug then release; undef if absent.
sub tool {
    my ($rel) = @_;
    my $target = $ENV{PSB_TARGET_DIR} // $ENV{CARGO_TARGET_DIR} // '../target';
    for my $profile (qw(debug release)) {
        my $path = File::Spec->rel2abs("$target/$profile/$rel");
        return $path if -x $path;
    }
    return undef;
}

END {
    if ($$ == $parent) {
        my $status = $?;
        kill 'KILL', @children;
        waitpid $_, 0 for @children;
        $? = $status;
    }
}

1;
