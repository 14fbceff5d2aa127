# A board shared by a Rust writer and Perl writers, read by Perl's read_all
# and by the `scoreboard` command (no --legacy: the files are this project's).
use strict;
use warnings;

use IPC::Open2 qw(open2);
use Test::More;

use lib 't/lib';
use PSBTest;
use Parallel::Scoreboard;

my $cli = tool('scoreboard');
my $rust_writer = tool('examples/many_workers');
if (!$cli || !$rust_writer) {
    my $why = 'needs target/debug/scoreboard and target/debug/examples/many_workers '
            . '(cargo build -p scoreboard-cli; cargo build --example many_workers)';
    die "$why\n" if $ENV{CI} && in_repo();
    plan skip_all => $why;
}

my $dir = board_dir();

# The Rust writer: 3 workers rust-0..2 with statuses s-0..2, held until its
# stdin closes.
my $rust = open2(my $rust_out, my $rust_in, $rust_writer, 'hold', $dir, 3, 'rust');
my $sb = Parallel::Scoreboard->new(base_dir => $dir);
$sb->update('perl manager');
my $perl_worker = spawn {
    $sb->update('perl worker');
    sleep 1 while 1;
};

my %expected = (
    $$ => 'perl manager', $perl_worker => 'perl worker',
    'rust-0' => 's-0', 'rust-1' => 's-1', 'rust-2' => 's-2',
);
my $stats = eventually { my $s = $sb->read_all; keys %$s == 5 && $s };
is_deeply($stats, \%expected, 'Perl reads the Rust workers and the Perl ones');

# The command reads them all, Perl's included.
my $list = `'$cli' list '$dir' --json 2>&1`;
is($?, 0, 'scoreboard list --json succeeds') or diag $list;
SKIP: {
    eval { require JSON; 1 } or skip 'JSON is missing', 1;
    my $rows = eval { JSON::decode_json($list) } || [];
    my %got = map { $_->{id} => $_->{status} } @$rows;
    is_deeply(\%got, \%expected, 'scoreboard list --json shows every worker with its status')
        or diag $list;
}
my $table = `'$cli' list '$dir' 2>&1`;
is($?, 0, 'scoreboard list succeeds');
like($table, qr/^\Q$_\E\s.*\s\Q$expected{$_}\E$/m, "the table shows $_ with its status") for sort keys %expected;
# The pid column: a Perl worker's pid is its process's.
like($table, qr/^$perl_worker\s+$perl_worker\s/m, 'the Perl worker with its pid');

# `scoreboard serve`: the JSON endpoint has every worker, Perl's included.
SKIP: {
    eval { require JSON; require HTTP::Tiny; 1 } or skip 'JSON is missing', 2;
    my $serve = open(my $serve_out, '-|', $cli, 'serve', $dir, '--listen', '127.0.0.1:0')
        or die "scoreboard serve: $!";
    my $line = <$serve_out> // '';
    my ($url) = $line =~ m{^listening on (http://\S+/)$};
    ok($url, 'scoreboard serve listens') or diag $line;
    my $res = HTTP::Tiny->new(timeout => 30)->get("${url}json");
    my $got = $res->{success} ? eval { JSON::decode_json($res->{content}) } : undef;
    is_deeply($got, { map { $_ => $expected{$_} } keys %expected },
              'scoreboard serve /json shows every worker with its status')
        or diag $res->{content};
    kill 'TERM', $serve;
    waitpid $serve, 0;
}

# A Perl writer killed: gone for both readers.
stop($perl_worker);
delete $expected{$perl_worker};
$stats = eventually { my $s = $sb->read_all; keys %$s == 4 && $s };
is_deeply($stats, \%expected, 'a dead Perl worker is gone');
unlike(scalar `'$cli' list '$dir' 2>&1`, qr/perl worker/, 'from the command too');

# The Rust writer exits: its workers are gone.
close $rust_in;
waitpid $rust, 0;
is_deeply(eventually { my $s = $sb->read_all; keys %$s == 1 && $s }, { $$ => 'perl manager' },
          'the Rust workers are gone when it exits');

done_testing;
