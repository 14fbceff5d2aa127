#!/usr/bin/perl
# Copies the Rust sources the XS links against into a distribution directory
# as a standalone Cargo workspace, so that the tarball builds by itself:
#
#   DISTDIR/rust/Cargo.toml, src/      the core crate (parallel-scoreboard)
#   DISTDIR/rust/ffi/Cargo.toml, src/, include/   the C ABI crate
#   DISTDIR/rust/Cargo.lock            the repository's lock, pruned to them
#
# The core stays at the workspace's root and the C ABI crate in ffi/, so the
# latter's `path = ".."` dependency holds. Development-only parts (the
# dev-dependencies, benchmarks, the repository's other members) are left out
# of the manifests; dependencies are fetched from crates.io by cargo at build
# time. The files are added to DISTDIR/MANIFEST.
#
#   perl tools/dist_rust.pl RUST_ROOT DISTDIR
use strict;
use warnings;

use File::Basename qw(dirname);
use File::Copy qw(copy);
use File::Find qw(find);
use File::Path qw(make_path);

my ($root, $dist) = @ARGV;
die "usage: $0 RUST_ROOT DISTDIR\n" unless defined $dist && -d $root && -d $dist;

my @added;

sub put {
    my ($rel, $text) = @_;
    my $to = "$dist/rust/$rel";
    make_path(dirname($to));
    open my $fh, '>', $to or die "$to: $!\n";
    print $fh $text;
    close $fh or die "$to: $!\n";
    push @added, "rust/$rel";
}

# In a git checkout, the files git tracks (no editor backups, no build
# output); otherwise (a tarball's rust/) every file.
my $git = system("git -C '$root' rev-parse --is-inside-work-tree >/dev/null 2>&1") == 0;

sub put_tree {
    my ($rel) = @_;
    my $from = "$root/$rel";
    die "missing: $from\n" unless -d $from;
    my @files;
    if ($git) {
        open my $ls, '-|', 'git', '-C', $root, 'ls-files', '-z', '--', $rel or die "git ls-files: $!\n";
        local $/ = "\0";
        @files = map { chomp; $_ } <$ls>;
        close $ls or die "git ls-files failed in $root\n";
    } else {
        find({ no_chdir => 1, wanted => sub {
            push @files, substr($_, length("$root/")) if -f $_;
        } }, $from);
    }
    die "no files in $from\n" unless @files;
    for my $file (@files) {
        my $to = "$dist/rust/$file";
        make_path(dirname($to));
        copy("$root/$file", $to) or die "copy $root/$file to $to: $!\n";
        push @added, "rust/$file";
    }
}

sub slurp {
    my ($path) = @_;
    open my $fh, '<', $path or die "$path: $!\n";
    local $/;
    return scalar <$fh>;
}

# A manifest without the sections named by `$drop` (a regex on the header
# line); `$extra` appended.
sub manifest {
    my ($text, $drop, $extra) = @_;
    my ($out, $skipping) = ('', 0);
    for my $line (split /^/, $text) {
        if ($line =~ /^\[/) {
            $skipping = $line =~ $drop;
        }
        $out .= $line unless $skipping;
    }
    $out =~ s/\n{3,}/\n\n/g;
    return $out . $extra;
}

my $dev = qr/^\[(?:workspace(?:\..*)?|dev-dependencies(?:\..*)?|\[(?:bench|test|example)\]|target\..*\.dev-dependencies)\]/;

put('Cargo.toml', manifest(slurp("$root/Cargo.toml"), $dev,
    "\n# The workspace of this distribution: the core and its C ABI.\n"
    . "[workspace]\nmembers = [\".\", \"ffi\"]\n"));
put_tree('src');
put('ffi/Cargo.toml', manifest(slurp("$root/ffi/Cargo.toml"), $dev, ''));
put_tree('ffi/src');
put_tree('ffi/include');

# The repository's lock, pruned by cargo to this workspace's packages (no
# network: every package it keeps is in the lock already).
copy("$root/Cargo.lock", "$dist/rust/Cargo.lock") or die "Cargo.lock: $!\n";
push @added, 'rust/Cargo.lock';
my $cargo = $ENV{CARGO} // 'cargo';
{
    open my $saved, '>&', \*STDOUT or die "dup: $!\n";
    open STDOUT, '>', '/dev/null' or die "/dev/null: $!\n";
    my $rc = system($cargo, 'metadata', '--format-version', '1', '--offline', '--quiet',
                    '--manifest-path', "$dist/rust/Cargo.toml");
    open STDOUT, '>&', $saved or die "dup: $!\n";
    $rc == 0 or die "cargo metadata failed in $dist/rust\n";
}
# cargo metadata may leave a target directory behind: never shipped.
system('rm', '-rf', "$dist/rust/target");

open my $mf, '>>', "$dist/MANIFEST" or die "$dist/MANIFEST: $!\n";
print $mf "$_\n" for sort @added;
close $mf or die "$dist/MANIFEST: $!\n";
