# Destruction removes the worker's own file, silently, also in global
# destruction; a second object never removes the first one's file.
use strict;
use warnings;

use Test::More;

use lib 't/lib';
use PSBTest;
use Parallel::Scoreboard;

my $dir = board_dir();

# undef with base_dir deleted from the hash (as in global destruction).
{
    my $sb = Parallel::Scoreboard->new(base_dir => $dir);
    $sb->update('X');
    ok(-e "$dir/status_$$", 'the file exists');
    delete $sb->{base_dir};
    my @warnings;
    local $SIG{__WARN__} = sub { push @warnings, @_ };
    undef $sb;
    is_deeply(\@warnings, [], 'no warnings');
    ok(!-e "$dir/status_$$", 'the file is removed all the same');
}

# An emptied hash too.
{
    my $sb = Parallel::Scoreboard->new(base_dir => $dir);
    $sb->update('X');
    %$sb = ();
    my @warnings;
    local $SIG{__WARN__} = sub { push @warnings, @_ };
    undef $sb;
    is_deeply(\@warnings, [], 'no warnings for an emptied hash');
    ok(!-e "$dir/status_$$", 'the file is removed');
}

# Global destruction of a global object, in a process of its own.
{
    my $script = <<'PERL';
use strict; use warnings;
use Parallel::Scoreboard;
our $sb = Parallel::Scoreboard->new(base_dir => $ARGV[0]);
our $cycle = { sb => $sb }; $cycle->{self} = $cycle;
$sb->update('global');
print -e "$ARGV[0]/status_$$" ? "made $$\n" : "missing\n";
PERL
    my $file = "$dir/global.pl";
    open my $fh, '>', $file or die $!;
    print $fh $script;
    close $fh;
    my $q = sub { my $s = shift; $s =~ s/'/'\\''/g; "'$s'" };
    my $cmd = join ' ', map { $q->($_) } $^X, (map { "-I$_" } @INC), $file, "$dir/global";
    my $out = `$cmd 2>&1`;
    like($out, qr/^made (\d+)\n\z/, 'exited with no warning') or diag $out;
    my ($pid) = $out =~ /(\d+)/;
    ok(defined $pid && !-e "$dir/global/status_$pid", 'global destruction removed the file');
}

# Base dir removed before destruction (File::Temp's cleanup runs first).
{
    my $gone = "$dir/gone";
    my $sb = Parallel::Scoreboard->new(base_dir => $gone);
    $sb->update('X');
    unlink "$gone/status_$$" or die $!;
    rmdir $gone or die $!;
    my @warnings;
    local $SIG{__WARN__} = sub { push @warnings, @_ };
    undef $sb;
    is_deeply(\@warnings, [], 'no warnings when base_dir is gone');
}

# A second object with the same id: the first one's file stays.
{
    my $first = Parallel::Scoreboard->new(base_dir => $dir);
    $first->update('first');
    my $second = Parallel::Scoreboard->new(base_dir => $dir);
    ok(-e "$dir/status_$$", "a second object's new leaves the first one's file");
    is_deeply($second->read_all, { $$ => 'first' }, 'and reads it');
    ok(!eval { $second->update('second'); 1 }, "the second one's update croaks");
    like($@, qr/^failed to update the scoreboard: .*(?i:duplicate|live worker)/, 'a duplicate id');
    is_deeply($first->read_all, { $$ => 'first' }, 'the first keeps its entry');
    undef $second;
    is_deeply($first->read_all, { $$ => 'first' }, "the second one's destruction leaves it");
    $first->update('first again');
    is_deeply($first->read_all, { $$ => 'first again' }, 'and the first updates');
    undef $first;
    my $third = Parallel::Scoreboard->new(base_dir => $dir);
    $third->update('third');
    is_deeply($third->read_all, { $$ => 'third' }, 'after the first is gone, the id is free');
}

# Methods on a destroyed object croak clearly.
{
    my $sb = Parallel::Scoreboard->new(base_dir => $dir);
    $sb->DESTROY;
    ok(!eval { $sb->update('x'); 1 }, 'update after DESTROY croaks');
    like($@, qr/destroyed/, 'saying so');
}

# ithreads: an object is not cloned into a new thread (its clone there is an
# unblessed undef), so nothing is freed twice; a thread makes its own.
SKIP: {
    require Config;
    skip 'perl without ithreads', 3 unless $Config::Config{useithreads};
    require threads;
    my $sb = Parallel::Scoreboard->new(base_dir => "$dir/threads");
    $sb->update('main thread');
    my $t = threads->create(sub {
        my $clone = ref $sb eq 'SCALAR' && !defined $$sb ? 'undef' : 'cloned';
        my $own = Parallel::Scoreboard->new(base_dir => "$dir/threads", worker_id => sub { 'thread' });
        $own->update('in a thread');
        my $stats = $own->read_all;
        return join ',', $clone, map { "$_=$stats->{$_}" } sort keys %$stats;
    });
    is($t->join, "undef,$$=main thread,thread=in a thread", "the thread's clone is undef; it makes its own");
    is_deeply($sb->read_all, { $$ => 'main thread' }, "the thread's object went with it");
    $sb->update('still fine');
    is($sb->read_all->{$$}, 'still fine', 'the main thread goes on');
}

# Not an object made by new.
ok(!eval { Parallel::Scoreboard::update(bless({}, 'Parallel::Scoreboard'), 'x'); 1 },
   'a hash not made by new is refused');
like($@, qr/not a Parallel::Scoreboard object/, 'clearly');

done_testing;
