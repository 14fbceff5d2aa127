//! `scoreboard watch`: a live view like `top`, in the terminal's alternate
//! screen, or as plain text frames when stdout is not a terminal.

use std::io::{self, IsTerminal as _, Write as _};
use std::time::{Duration, Instant};

use anyhow::Result;
use crossterm::event::{self, Event};
use crossterm::style::{Attribute, Print, SetAttribute};
use crossterm::terminal::{self, ClearType};
use crossterm::{cursor, execute, queue};

use crate::signal;
use crate::source::{Source, is_missing};
pub(crate) use crate::view::WatchOptions;
use crate::view::{Action, View};

/// Called before every refresh; `demo` uses it to run its workers. Returns
/// `false` to stop.
pub(crate) trait Hook {
    fn tick(&mut self, view: &mut View) -> Result<bool>;
}

/// The hook of plain `watch`: nothing to do.
#[derive(Debug)]
pub(crate) struct NoHook;

impl Hook for NoHook {
    fn tick(&mut self, _: &mut View) -> Result<bool> {
        Ok(true)
    }
}

/// Runs the view over `source` until `q`, Ctrl-C, SIGTERM, `frames`
/// refreshes, or `hook` says stop.
pub(crate) fn run(source: &Source, options: &WatchOptions, hook: &mut dyn Hook) -> Result<()> {
    signal::install()?;
    let mut view = View::new(source.describe(), options);
    if io::stdout().is_terminal() {
        let screen = Screen::enter()?;
        let result = live(source, options, hook, &mut view);
        drop(screen);
        result
    } else {
        plain(source, options, hook, &mut view)
    }
}

/// The full-screen view; keys are read between refreshes.
fn live(
    source: &Source,
    options: &WatchOptions,
    hook: &mut dyn Hook,
    view: &mut View,
) -> Result<()> {
    let mut out = io::stdout();
    for frame in 1.. {
        if !hook.tick(view)? {
            return Ok(());
        }
        refresh(source, view)?;
        draw(&mut out, view)?;
        if options.frames.is_some_and(|n| frame >= n) {
            return Ok(());
        }
        let deadline = Instant::now() + view.interval;
        loop {
            if signal::stopped() {
                return Ok(());
            }
            let Some(left) = deadline.checked_duration_since(Instant::now()) else {
                break;
            };
            if !event::poll(left.min(Duration::from_millis(100)))? {
                continue;
            }
            match event::read()? {
                Event::Key(key) => match view.key(key) {
                    Action::Quit => return Ok(()),
                    Action::Redraw => draw(&mut out, view)?,
                    Action::Nothing => {}
                },
                Event::Resize(..) => draw(&mut out, view)?,
                _ => {}
            }
        }
    }
    Ok(())
}

/// Reads the board into the view; a missing board is shown, not an error
/// (the view waits for it to come back).
fn refresh(source: &Source, view: &mut View) -> Result<()> {
    match source.read_noting_skipped() {
        Ok((records, note)) => view.update(records, note),
        Err(e) if is_missing(&e) => view.missing(format!("{e:#}")),
        Err(e) => return Err(e),
    }
    Ok(())
}

fn draw(out: &mut impl io::Write, view: &View) -> io::Result<()> {
    let (w, h) = terminal::size().unwrap_or((100, 30));
    let (lines, header) = view.lines(usize::from(w), usize::from(h));
    queue!(out, cursor::MoveTo(0, 0))?;
    for (i, line) in lines.iter().enumerate() {
        let y = u16::try_from(i).unwrap_or(u16::MAX);
        queue!(out, cursor::MoveTo(0, y))?;
        if i == header {
            queue!(
                out,
                SetAttribute(Attribute::Reverse),
                Print(format!("{line:<width$}", width = usize::from(w))),
                SetAttribute(Attribute::Reset)
            )?;
        } else {
            queue!(out, Print(line))?;
        }
        queue!(out, terminal::Clear(ClearType::UntilNewLine))?;
    }
    queue!(out, terminal::Clear(ClearType::FromCursorDown))?;
    out.flush()
}

/// Plain text frames, one per refresh, for pipes and logs.
fn plain(
    source: &Source,
    options: &WatchOptions,
    hook: &mut dyn Hook,
    view: &mut View,
) -> Result<()> {
    let mut out = io::stdout().lock();
    for frame in 1.. {
        if !hook.tick(view)? {
            break;
        }
        refresh(source, view)?;
        let (lines, _) = view.lines(160, usize::MAX);
        // The key help means nothing without a terminal.
        for line in &lines[..lines.len() - 1] {
            writeln!(out, "{line}")?;
        }
        out.flush()?;
        if options.frames.is_some_and(|n| frame >= n) {
            break;
        }
        let deadline = Instant::now() + view.interval;
        while let Some(left) = deadline.checked_duration_since(Instant::now()) {
            if signal::stopped() {
                return Ok(());
            }
            std::thread::sleep(left.min(Duration::from_millis(50)));
        }
    }
    Ok(())
}

/// The terminal in raw mode on the alternate screen with the cursor hidden;
/// dropping it restores all three (errors are ignored: nothing more can be
/// done about a terminal that is gone).
struct Screen;

impl Screen {
    fn enter() -> io::Result<Self> {
        terminal::enable_raw_mode()?;
        let screen = Self;
        execute!(io::stdout(), terminal::EnterAlternateScreen, cursor::Hide)?;
        Ok(screen)
    }
}

impl Drop for Screen {
    fn drop(&mut self) {
        let _ = execute!(io::stdout(), cursor::Show, terminal::LeaveAlternateScreen);
        let _ = terminal::disable_raw_mode();
    }
}
