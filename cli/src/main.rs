//! `scoreboard`: list, show, watch, serve and clean up the workers of a
//! parallel-scoreboard board, or of a board written by Perl's
//! `Parallel::Scoreboard` (`--legacy`); `scoreboard demo` shows it all live.
//!
//! The reference of every subcommand, option and exit status is
//! `docs/cli.md` (checked against `--help` by the tests); the page and
//! metrics `serve` answers with are in `docs/monitoring.md`, and who may
//! read them in `docs/deployment.md`.

mod demo;
mod legacy;
mod serve;
mod signal;
mod source;
mod text;
mod view;
mod watch;

use std::io::{self, Write as _};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Result, bail};
use clap::{Parser, Subcommand};

use crate::source::Source;
use crate::view::Sort;
use crate::watch::WatchOptions;

/// What `--help` says about exit statuses.
const EXIT_STATUS: &str = "\
Exit status: 0 on success; 1 when `show` finds no live worker with that id;
2 on errors (bad arguments, a missing or unreadable DIR, a bad address, a
dead worker's file `cleanup` could not remove).

Environment: PARALLEL_SCOREBOARD_NO_WATCH=1 makes the boards this command
opens list their directory at every read instead of watching it with inotify
(more system calls per read, no inotify instance).";

/// Monitor the workers of a parallel-scoreboard board.
#[derive(Debug, Parser)]
#[command(name = "scoreboard", version, propagate_version = true, after_help = EXIT_STATUS)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// The board a subcommand reads: its directory, and whether the Perl module
/// wrote it.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct BoardArgs {
    /// The board's directory.
    dir: PathBuf,
    /// Read a directory written by the original Perl module.
    #[arg(long)]
    legacy: bool,
}

impl BoardArgs {
    /// Opens the board (see [`Source::open`]).
    fn open(&self) -> Result<Source> {
        Source::open(&self.dir, self.legacy)
    }

    /// The board, opened once its directory is there (see [`Source::wait`]).
    fn wait(&self) -> Result<Source> {
        Source::wait(&self.dir, self.legacy)
    }
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Start worker processes that play a busy prefork server and watch them live.
    Demo(demo::DemoArgs),
    /// Print a table (or, with --json, a JSON array) of the live workers.
    List {
        #[command(flatten)]
        board: BoardArgs,
        /// Print a JSON array sorted by id instead of a table.
        #[arg(long)]
        json: bool,
        /// Cut statuses in the table to this many columns (a CJK character
        /// or an emoji takes two); at least 8, so that an escaped control
        /// character (`\u{1b}`, `\u{202e}`) shows whole.
        #[arg(long, default_value_t = 60, value_name = "COLUMNS", value_parser = parse_width)]
        width: usize,
    },
    /// Write one live worker's raw status to stdout (exit status 1 if there
    /// is none with that id).
    #[command(after_help = EXIT_STATUS)]
    Show {
        #[command(flatten)]
        board: BoardArgs,
        /// The worker's id.
        id: String,
    },
    /// A live view like `top`: q or Ctrl-C quits, s changes the sort, / filters.
    /// Waits for a missing directory, saying so in its header.
    Watch {
        #[command(flatten)]
        board: BoardArgs,
        #[command(flatten)]
        view: WatchArgs,
    },
    /// Remove dead workers' files and print how many were removed.
    Cleanup {
        #[command(flatten)]
        board: BoardArgs,
    },
    /// Serve an HTML page (/), JSON (/json), Prometheus metrics (/metrics)
    /// and each worker's raw status (/worker/ID). Waits for a missing
    /// directory, answering 503 meanwhile.
    Serve {
        #[command(flatten)]
        board: BoardArgs,
        /// The address to listen on; port 0 picks a free port. The bound
        /// address is printed on stdout.
        #[arg(long, default_value = "127.0.0.1:8080", value_name = "ADDR:PORT")]
        listen: String,
        #[command(flatten)]
        limits: serve::ServeArgs,
    },
    /// One worker of `scoreboard demo` (started by it).
    #[command(hide = true)]
    DemoWorker(demo::WorkerArgs),
}

/// Options of the live view, shared by `watch` and `demo`.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct WatchArgs {
    /// Seconds between refreshes (0.01 to 86400).
    #[arg(long, default_value = "1", value_name = "SECONDS", value_parser = interval,
          allow_negative_numbers = true)]
    interval: Duration,
    /// Sort by this column (the `s` key cycles through them).
    #[arg(long, value_enum, default_value_t = Sort::Id)]
    sort: Sort,
    /// Show only workers whose id or status contains this text (the `/` key
    /// changes it).
    #[arg(long, value_name = "TEXT")]
    filter: Option<String>,
    /// Stop after this many refreshes (without a terminal, the view is
    /// printed as plain text at every refresh).
    #[arg(long, value_name = "N")]
    frames: Option<u64>,
}

impl WatchArgs {
    pub(crate) fn options(&self) -> WatchOptions {
        WatchOptions {
            interval: self.interval,
            sort: self.sort,
            filter: self.filter.clone().unwrap_or_default(),
            frames: self.frames,
        }
    }
}

/// `--interval`: a number of seconds from 0.01 to a day (longer would let
/// `Instant + interval` overflow, and nobody waits that long for a refresh).
fn interval(text: &str) -> Result<Duration, String> {
    let secs = text
        .parse::<f64>()
        .ok()
        .filter(|s| !s.is_nan())
        .ok_or("not a number of seconds (try 0.5)")?;
    if secs < 0.01 {
        return Err("give at least 0.01 seconds".to_owned());
    }
    if secs > 86_400.0 {
        return Err("give at most 86400 seconds (a day)".to_owned());
    }
    Ok(Duration::from_secs_f64(secs))
}

/// Exit status 1: `show` found no live worker with that id (as ripgrep
/// exits 1 when nothing matched).
const NOT_FOUND: u8 = 1;
/// Exit status 2: an error (as clap's usage errors, and ripgrep's errors).
const ERROR: u8 = 2;

fn main() -> ExitCode {
    match run() {
        Ok(code) => code,
        Err(e) if is_broken_pipe(&e) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("scoreboard: {e:#}");
            ExitCode::from(ERROR)
        }
    }
}

fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<io::Error>()
            .is_some_and(|e| e.kind() == io::ErrorKind::BrokenPipe)
    })
}

fn run() -> Result<ExitCode> {
    let cli = Cli::parse();
    match cli.command {
        Command::Demo(args) => demo::run(&args)?,
        Command::DemoWorker(args) => demo::run_worker(&args)?,
        Command::List { board, json, width } => {
            let (records, note) = board.open()?.read_noting_skipped()?;
            if let Some(note) = note {
                eprintln!("scoreboard: {}: {note}", board.dir.display());
            }
            let mut out = io::stdout().lock();
            if json {
                writeln!(out, "{}", parallel_scoreboard_http::json_list(&records))?;
            } else {
                out.write_all(text::table(&records, width).as_bytes())?;
            }
            out.flush()?;
        }
        Command::Show { board, id } => return show(&board, &id),
        Command::Watch { board, view } => {
            watch::run(&board.wait()?, &view.options(), &mut watch::NoHook)?;
        }
        Command::Cleanup { board } => {
            let done = board.open()?.cleanup()?;
            let removed = done.removed;
            let s = if removed == 1 { "" } else { "s" };
            writeln!(io::stdout(), "removed {removed} dead worker file{s}")?;
            if let Some(first) = done.failed.first() {
                let n = done.failed.len();
                let s = if n == 1 { "" } else { "s" };
                let more = if n > 1 { " (and others)" } else { "" };
                let what = match (first.path(), first.io_error()) {
                    (Some(path), Some(e)) => format!("{}: {e}", path.display()),
                    _ => text::chain(first),
                };
                bail!("could not remove {n} dead worker file{s}: {what}{more}");
            }
        }
        Command::Serve {
            board,
            listen,
            limits,
        } => serve::run(board.wait()?, &listen, &limits)?,
    }
    Ok(ExitCode::SUCCESS)
}

/// The narrowest `list --width`: the escapes of the control and
/// bidirectional characters (`\u{1b}`, `\u{202e}`) fit whole, so a status
/// shows more than `…`.
const MIN_WIDTH: usize = 8;

/// A `--width` of at least [`MIN_WIDTH`].
fn parse_width(s: &str) -> Result<usize, String> {
    match s.parse::<usize>() {
        Ok(n) if n >= MIN_WIDTH => Ok(n),
        Ok(n) => Err(format!(
            "{n} is too narrow: give at least {MIN_WIDTH} columns"
        )),
        Err(e) => Err(format!("{s:?}: {e}")),
    }
}

/// `show`: the raw status of worker `id`, or exit status 1 if there is no
/// such live worker.
fn show(board: &BoardArgs, id: &str) -> Result<ExitCode> {
    let records = board.open()?.read()?;
    let Some(r) = records.iter().find(|r| r.id == id) else {
        eprintln!(
            "scoreboard: no live worker with id {id:?} in {}",
            board.dir.display()
        );
        return Ok(ExitCode::from(NOT_FOUND));
    };
    let mut out = io::stdout().lock();
    out.write_all(&r.status)?;
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}
