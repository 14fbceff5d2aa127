# With the default worker id, an update makes no system call: strace -f -c
# counts a process making 100,000 updates and one making none.
use strict;
use warnings;

use File::Spec;
use Test::More;

use lib 't/lib';
use PSBTest;

my ($strace) = grep { -x } map { "$_/strace" } File::Spec->path;
if (!$strace) {
    die "strace is missing\n" if $ENV{CI};
    plan skip_all => 'strace is missing';
}

my $dir = board_dir();
my $script = "$dir-updates.pl";
open my $fh, '>', $script or die $!;
print $fh <<'PERL';
use strict;
use warnings;
use Parallel::Scoreboard;
my ($dir, $n) = @ARGV;
my $sb = Parallel::Scoreboard->new(base_dir => $dir);
my $status = 'x' x 64;
$sb->update($status); # makes the file
$sb->update($status) for 1 .. $n;
PERL
close $fh;
END { unlink $script if $script }

# The total number of system calls of the script making `$n` updates.
sub calls {
    my ($n) = @_;
    my $out = "$dir-strace-$n";
    system($strace, '-f', '-c', '-o', $out, $^X, (map { "-I$_" } @INC), $script, $dir, $n) == 0
        or die "strace failed: $?";
    open my $in, '<', $out or die "$out: $!";
    my $total;
    while (<$in>) {
        my @f = split;
        $total = $f[3] if @f >= 5 && $f[-1] eq 'total';
    }
    close $in;
    unlink $out;
    return $total;
}

my $none = calls(0);
my $many = calls(100_000);
ok(defined $none && defined $many, "strace counted ($none and $many calls)");
my $per_update = ($many - $none) / 100_000;
cmp_ok($per_update, '<', 0.001, "system calls per update: $per_update");

done_testing;
