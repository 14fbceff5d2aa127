# Wide characters: the original's md5() dies with "Wide character in
# subroutine entry"; update croaks the same, at the caller's line, changing
# nothing. Strings of characters up to 255 are stored as those bytes.
use strict;
use warnings;

use Test::More;

use lib 't/lib';
use PSBTest;
use Parallel::Scoreboard;

my $dir = board_dir();
my $sb = Parallel::Scoreboard->new(base_dir => $dir);

$sb->update('before');

my $wide = "snowman \x{2603}";
my $line = __LINE__ + 1;
my $ok = eval { $sb->update($wide); 1 };
ok(!$ok, 'a wide character croaks');
is($@, "Wide character in subroutine entry at $0 line $line.\n", 'the message, at the caller');
is_deeply($sb->read_all, { $$ => 'before' }, 'the previous status stays');
ok(utf8::is_utf8($wide), 'the string passed keeps its form');
is($wide, "snowman \x{2603}", 'and its value');

# As the first update: no entry is made.
my $fresh = Parallel::Scoreboard->new(base_dir => "$dir-2");
ok(!eval { $fresh->update("\x{100}"); 1 }, 'croaks on a first update too');
is_deeply($fresh->read_all, {}, 'no entry made');
ok(!-e "$dir-2/status_$$", 'no file made');
undef $fresh;
rmdir "$dir-2";

# Characters up to 255 in a UTF-8-flagged string: stored as bytes (Latin-1).
my $latin = "caf\x{e9}";
utf8::upgrade($latin);
ok(utf8::is_utf8($latin), 'an upgraded string');
$sb->update($latin);
my $got = $sb->read_all->{$$};
is($got, "caf\xe9", 'stored as its Latin-1 bytes');
is(length $got, 4, 'four bytes');
ok(utf8::is_utf8($latin), 'the string passed keeps its form');

# Encoded text is bytes.
my $text = "snowman \x{2603}";
utf8::encode($text);
$sb->update($text);
is($sb->read_all->{$$}, "snowman \xe2\x98\x83", 'UTF-8 encoded text is stored as is');

# undef: an empty status, with Perl's warning as the original gives one.
my @warnings;
{
    local $SIG{__WARN__} = sub { push @warnings, @_ };
    $sb->update(undef);
}
is($sb->read_all->{$$}, '', 'undef stores an empty status');
is(scalar @warnings, 1, 'one warning for undef');
like($warnings[0] // '', qr/^Use of uninitialized value/, 'an uninitialized-value warning');

# Magic values are read once, as any Perl function reads them.
{
    package Counter;
    sub TIESCALAR { my $n = 0; bless \$n }
    sub FETCH { my $self = shift; ++$$self; "fetch $$self" }
}
tie my $tied, 'Counter';
$sb->update($tied);
is($sb->read_all->{$$}, 'fetch 1', 'a tied scalar is fetched once');

# A wide character in a tied value croaks as well.
{
    package WideTie;
    sub TIESCALAR { bless [] }
    sub FETCH { "\x{263a}" }
}
tie my $wide_tied, 'WideTie';
ok(!eval { $sb->update($wide_tied); 1 }, 'a tied wide value croaks');
like($@, qr/^Wide character in subroutine entry/, 'with the same message');

# Objects: their string form, made once.
{
    package Stringy;
    use overload '""' => sub { $_[0]{calls}++; $_[0]{text} }, fallback => 1;
}
my $plain = bless { text => 'as text', calls => 0 }, 'Stringy';
$sb->update($plain);
is($sb->read_all->{$$}, 'as text', 'an object is stored as its string form');
is($plain->{calls}, 1, 'stringified once');
my $wide_object = bless { text => "\x{263a}", calls => 0 }, 'Stringy';
ok(!eval { $sb->update($wide_object); 1 }, 'an object whose string is wide croaks');
like($@, qr/^Wide character in subroutine entry/, 'with the same message');
is($sb->read_all->{$$}, 'as text', 'and changes nothing');

done_testing;
