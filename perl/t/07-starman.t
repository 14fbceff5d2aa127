# Our PSGI::App under a real Starman: the workers (forked by Starman) update
# the board on every request; the status page shows each with its status,
# and a killed worker is gone from it.
use strict;
use warnings;

use File::Spec;
use HTTP::Tiny;
use Test::More;

use lib 't/lib';
use PSBTest;

BEGIN {
    my @missing = grep { !eval "require $_; 1" } qw(Plack Test::TCP HTML::Entities);
    my $starman = grep { -x "$_/starman" } File::Spec->path;
    push @missing, 'starman' unless $starman;
    if (@missing) {
        die "missing: @missing\n" if $ENV{CI};
        plan skip_all => "missing: @missing";
    }
}
use Test::TCP ();

my $dir = board_dir();
my $psgi = "$dir-app.psgi";
open my $fh, '>', $psgi or die $!;
print $fh <<'PSGI';
use strict;
use warnings;
use Plack::Builder;
use Parallel::Scoreboard;
use Parallel::Scoreboard::PSGI::App;

# Made in Starman's master; each worker (a fork) updates its own entry.
my $sb = Parallel::Scoreboard->new(base_dir => $ENV{PSB_BOARD});
my $requests = 0;
builder {
    mount '/status' => Parallel::Scoreboard::PSGI::App->new(scoreboard => $sb)->to_app;
    mount '/' => sub {
        my $env = shift;
        $requests++;
        $sb->update("worker $$ served $env->{PATH_INFO} ($requests)");
        return [200, ['Content-Type' => 'text/plain'], ["$$"]];
    };
};
PSGI
close $fh;
END { unlink $psgi, "$dir-starman.log" if $psgi }

local $ENV{PSB_BOARD} = $dir;
my $server = Test::TCP->new(
    code => sub {
        my $port = shift;
        exec 'starman', '--preload-app', '--error-log', "$dir-starman.log", '--workers', '3', '--listen', "127.0.0.1:$port",
             (map { ('-I', $_) } @INC), $psgi;
        die "exec starman: $!";
    },
);
my $base = 'http://127.0.0.1:' . $server->port;
my $http = HTTP::Tiny->new(keep_alive => 0, timeout => 30);

# Requests until every worker has served one.
my %workers;
my $seen = eventually {
    my $res = $http->get("$base/hello");
    $workers{ $res->{content} } = 1 if $res->{success};
    keys %workers == 3;
} 60;
ok($seen, 'three Starman workers served requests') or diag explain \%workers;

sub rows {
    my $res = $http->get("$base/status");
    return undef unless $res->{success};
    return { $res->{content} =~ m{<tr><td>(\d+)</td><td>([^<]*)</td>}g };
}

my $rows = eventually {
    my $r = rows();
    $r && (grep { exists $r->{$_} } keys %workers) == 3 && $r;
};
ok($rows, 'the status page lists every worker that served');
for my $pid (sort keys %workers) {
    like($rows->{$pid} // '', qr{^worker $pid served /(?:hello|status) \(\d+\)\z}, "worker $pid: its status");
}
is(scalar(keys %$rows), 3, 'and nothing else (the master never updated)');

# A killed worker: gone from the page (Starman forks a new one).
my ($victim) = sort keys %workers;
kill 'KILL', $victim;
my $after = eventually { my $r = rows(); $r && !exists $r->{$victim} && $r };
ok($after, 'a killed worker is gone from the page');
ok(!-e "$dir/status_$victim", 'and its file removed');

undef $server;
sub files { opendir my $d, $dir or die $!; return [grep { !/^\.\.?\z/ } readdir $d] }
my $left = eventually { !@{ files() } };
is_deeply(files(), [], 'Starman stopped: no file left');

done_testing;
