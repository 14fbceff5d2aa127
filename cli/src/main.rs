//! `scoreboard`: list, show, watch, serve and clean up the workers of a
//! parallel-scoreboard board, or of a board written by Perl's
//! `Parallel::Scoreboard` (`--legacy`); `scoreboard demo` shows it all live.

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

use anyhow::{Context as _, Result, bail};
use clap::{Parser, Subcommand};

use crate::source::Source;
use crate::view::Sort;
use crate::watch::WatchOptions;

/// Monitor the workers of a parallel-scoreboard board.
#[derive(Debug, Parser)]
#[command(name = "scoreboard", version, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Start worker processes that play a busy prefork server and watch them live.
    Demo(demo::DemoArgs),
    /// Print a table (or, with --json, a JSON array) of the live workers.
    List {
        /// The board's directory.
        dir: PathBuf,
        /// Print a JSON array sorted by id instead of a table.
        #[arg(long)]
        json: bool,
        /// Cut statuses in the table to this many characters.
        #[arg(long, default_value_t = 60, value_name = "CHARS")]
        width: usize,
        /// Read a directory written by the original Perl module.
        #[arg(long)]
        legacy: bool,
    },
    /// Write one live worker's raw status to stdout.
    Show {
        /// The board's directory.
        dir: PathBuf,
        /// The worker's id.
        id: String,
        /// Read a directory written by the original Perl module.
        #[arg(long)]
        legacy: bool,
    },
    /// A live view like `top`: q or Ctrl-C quits, s changes the sort, / filters.
    /// Waits for a missing directory, saying so in its header.
    Watch {
        /// The board's directory.
        dir: PathBuf,
        #[command(flatten)]
        view: WatchArgs,
        /// Read a directory written by the original Perl module.
        #[arg(long)]
        legacy: bool,
    },
    /// Remove dead workers' files and print how many were removed.
    Cleanup {
        /// The board's directory.
        dir: PathBuf,
    },
    /// Serve an HTML page (/), JSON (/json), Prometheus metrics (/metrics)
    /// and each worker's raw status (/worker/ID). Waits for a missing
    /// directory, answering 503 meanwhile.
    Serve {
        /// The board's directory.
        dir: PathBuf,
        /// The address to listen on; port 0 picks a free port. The bound
        /// address is printed on stdout.
        #[arg(long, default_value = "127.0.0.1:8080", value_name = "ADDR:PORT")]
        listen: String,
        /// Read a directory written by the original Perl module.
        #[arg(long)]
        legacy: bool,
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
    /// Seconds between refreshes.
    #[arg(long, default_value_t = 1.0, value_name = "SECONDS")]
    interval: f64,
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
    pub(crate) fn options(&self) -> Result<WatchOptions> {
        let interval = Duration::try_from_secs_f64(self.interval)
            .ok()
            .filter(|d| *d >= Duration::from_millis(10))
            .with_context(|| format!("--interval {}: give at least 0.01 seconds", self.interval))?;
        Ok(WatchOptions {
            interval,
            sort: self.sort,
            filter: self.filter.clone().unwrap_or_default(),
            frames: self.frames,
        })
    }
}

fn main() -> ExitCode {
    match run() {
        Ok(code) => code,
        Err(e) if is_broken_pipe(&e) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("scoreboard: {e:#}");
            ExitCode::FAILURE
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
        Command::List {
            dir,
            json,
            width,
            legacy,
        } => {
            let (records, note) = Source::open(&dir, legacy)?.read_noting_skipped()?;
            if let Some(note) = note {
                eprintln!("scoreboard: {}: {note}", dir.display());
            }
            let mut out = io::stdout().lock();
            if json {
                writeln!(out, "{}", parallel_scoreboard::render::json_list(&records))?;
            } else {
                out.write_all(text::table(&records, width).as_bytes())?;
            }
            out.flush()?;
        }
        Command::Show { dir, id, legacy } => {
            let records = Source::open(&dir, legacy)?.read()?;
            let Some(r) = records.iter().find(|r| r.id == id) else {
                bail!("no live worker with id {id:?} in {}", dir.display());
            };
            let mut out = io::stdout().lock();
            out.write_all(&r.status)?;
            out.flush()?;
        }
        Command::Watch { dir, view, legacy } => {
            let source = Source::wait(&dir, legacy)?;
            watch::run(&source, &view.options()?, &mut watch::NoHook)?;
        }
        Command::Cleanup { dir } => {
            let done = Source::open(&dir, false)?.cleanup()?;
            let removed = done.removed;
            let s = if removed == 1 { "" } else { "s" };
            writeln!(io::stdout(), "removed {removed} dead worker file{s}")?;
            if let Some(first) = done.failed.first() {
                let n = done.failed.len();
                let s = if n == 1 { "" } else { "s" };
                let more = if n > 1 { " (and others)" } else { "" };
                let what = match (first.path(), first.io_error()) {
                    (Some(path), Some(e)) => format!("{}: {e}", path.display()),
                    _ => first.to_string(),
                };
                bail!("could not remove {n} dead worker file{s}: {what}{more}");
            }
        }
        Command::Serve {
            dir,
            listen,
            legacy,
            limits,
        } => serve::run(Source::wait(&dir, legacy)?, &listen, &limits)?,
    }
    Ok(ExitCode::SUCCESS)
}
