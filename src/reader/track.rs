//! Tracking what changed in `base_dir` between reads: the inotify watch, the
//! names it reported (dirty), the names found live right after a close
//! (suspects), the entries skipped for a lasting reason, and the count of
//! listings that tells which cached names a listing no longer shows.

use std::collections::HashMap;
use std::ffi::{OsStr, OsString};
use std::time::{Duration, Instant};

use crate::dir::BaseDir;
use crate::error::{Error, OsClass};
use crate::fork;
use crate::sys::{Change, Watch};

/// How long a name found live right after its file was closed is looked at
/// again on every read (see the module docs of [`crate::reader`]). The kernel
/// drops the lock microseconds after it queues the close; this covers a dying
/// process that is descheduled in between, many times over.
const SUSPECT_FOR: Duration = Duration::from_secs(2);

#[derive(Debug)]
enum Watching {
    /// Not set up yet: the first read sets it up (a board used only for
    /// updates never spends an inotify instance).
    NotYet,
    On {
        watch: Watch,
        /// The fork generation that set it up: a fork child must not read its
        /// parent's events, so it sets up its own.
        generation: u64,
    },
    /// Turned off, or unavailable: every read lists the directory.
    Off,
}

/// What a read must do, after [`Tracker::drain`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Drained {
    /// The dirty names are every change since the last read.
    Complete,
    /// Changes may have been missed: list the whole directory.
    List,
    /// The directory may have left its path: find the one there now.
    Lost,
}

/// An entry skipped for a reason that lasts until the entry changes.
#[derive(Debug)]
struct Skipped {
    error: Error,
    seen: u64,
}

/// What changed since the last read, and what must be looked at again.
#[derive(Debug)]
pub(super) struct Tracker {
    watching: Watching,
    /// Entries skipped for a lasting reason, by name; looked at again when the
    /// watch reports them.
    lasting: HashMap<OsString, Skipped>,
    /// Names to look at before the next read, and whether a writer closed them.
    dirty: HashMap<OsString, bool>,
    /// Names found live right after a close, and until when to look again.
    suspects: HashMap<OsString, Instant>,
    /// Listings made, for dropping what a listing no longer shows.
    listing: u64,
}

impl Tracker {
    /// A tracker; `watch`: whether to watch `base_dir` with inotify.
    pub(super) fn new(watch: bool) -> Self {
        Self {
            watching: if watch {
                Watching::NotYet
            } else {
                Watching::Off
            },
            lasting: HashMap::new(),
            dirty: HashMap::new(),
            suspects: HashMap::new(),
            listing: 0,
        }
    }

    /// The number of the latest listing.
    pub(super) fn listing(&self) -> u64 {
        self.listing
    }

    /// Takes the watch's news into the dirty names, and says what the read
    /// must do.
    pub(super) fn drain(&mut self, dir: &BaseDir) -> Drained {
        let generation = fork::generation();
        if matches!(&self.watching, Watching::On { generation: g, .. } if *g != generation) {
            // Inherited through fork: its events are the parent's to read.
            self.watching = Watching::NotYet;
        }
        match &mut self.watching {
            Watching::Off => Drained::List,
            Watching::NotYet => {
                // Set up before the listing, so nothing between the two is missed.
                let ancestry = dir.ancestry();
                self.watching = match Watch::new(dir.fd(), ancestry.as_deref()) {
                    Ok(watch) => Watching::On { watch, generation },
                    // Out of descriptors or inotify instances for now (an
                    // error that may pass, see `OsClass`): list,
                    // and try again on the next read.
                    Err(e) if OsClass::of(&e).may_pass() => Watching::NotYet,
                    Err(_) => Watching::Off,
                };
                Drained::List
            }
            Watching::On { watch, .. } => {
                let (mut complete, mut lost) = (true, false);
                let dirty = &mut self.dirty;
                let drained = watch.drain(|change| match change {
                    Change::Entry { name, closed } => match dirty.get_mut(name) {
                        Some(c) => *c |= closed,
                        None => {
                            dirty.insert(name.to_owned(), closed);
                        }
                    },
                    Change::Overflow => complete = false,
                    Change::Lost => lost = true,
                });
                if lost {
                    return Drained::Lost;
                }
                if drained.is_err() {
                    // The watch broke: list from now on.
                    self.watching = Watching::Off;
                    return Drained::List;
                }
                if complete {
                    Drained::Complete
                } else {
                    Drained::List
                }
            }
        }
    }

    /// Whether the watch tells when `base_dir` leaves its path, at any of its
    /// components (else the reader checks the path on every read).
    pub(super) fn follows_path(&self) -> bool {
        matches!(&self.watching, Watching::On { watch, .. } if watch.follows_path())
    }

    /// Starts a listing: returns the dirty names (whether closed, by name),
    /// which the caller looks at with the listed ones, and hands back with
    /// [`end_listing`](Self::end_listing).
    pub(super) fn begin_listing(&mut self) -> HashMap<OsString, bool> {
        self.listing += 1;
        std::mem::take(&mut self.dirty)
    }

    /// Ends a listing: names the watch reported that the listing no longer
    /// shows are gone, and so are the lasting skips it did not see again.
    pub(super) fn end_listing(&mut self, mut dirty: HashMap<OsString, bool>) {
        dirty.clear();
        let listing = self.listing;
        self.lasting.retain(|_, s| s.seen == listing);
        self.give_back(dirty);
    }

    /// Takes the dirty names, to look at; hand them back with
    /// [`give_back`](Self::give_back).
    pub(super) fn take_dirty(&mut self) -> HashMap<OsString, bool> {
        std::mem::take(&mut self.dirty)
    }

    /// Keeps the allocation of `dirty`, emptied, unless looking put names back.
    pub(super) fn give_back(&mut self, mut dirty: HashMap<OsString, bool>) {
        if self.dirty.is_empty() {
            dirty.clear();
            self.dirty = dirty;
        }
    }

    /// Looks at `name` again before the next read.
    pub(super) fn mark(&mut self, name: &OsStr, closed: bool) {
        self.dirty.insert(name.to_owned(), closed);
    }

    /// The suspects still to look at again (dropping those whose time is up).
    pub(super) fn due_suspects(&mut self) -> Vec<OsString> {
        if self.suspects.is_empty() {
            return Vec::new();
        }
        let now = Instant::now();
        self.suspects.retain(|_, until| *until > now);
        self.suspects.keys().cloned().collect()
    }

    /// `name` was found live right after a close: look at it again for a while.
    pub(super) fn suspect(&mut self, name: &OsStr) {
        self.suspects
            .entry(name.to_owned())
            .or_insert_with(|| Instant::now() + SUSPECT_FOR);
    }

    /// `name` is looked at afresh: forget why it was skipped.
    pub(super) fn forget_skip(&mut self, name: &OsStr) {
        self.lasting.remove(name);
    }

    /// `name` is gone or could not be looked at: no longer a suspect.
    pub(super) fn unsuspect(&mut self, name: &OsStr) {
        self.suspects.remove(name);
    }

    /// `name` was skipped for a reason that lasts until it changes.
    pub(super) fn skip_lasting(&mut self, name: &OsStr, error: Error) {
        let seen = self.listing;
        self.lasting
            .insert(name.to_owned(), Skipped { error, seen });
    }

    /// Why each entry skipped for a lasting reason was skipped.
    pub(super) fn lasting_skips(&self) -> impl Iterator<Item = &Error> {
        self.lasting.values().map(|s| &s.error)
    }
}
