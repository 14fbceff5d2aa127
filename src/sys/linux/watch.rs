//! Directory change notifications with inotify: which names changed, and
//! whether the directory left its path.
//!
//! # One instance per process
//!
//! A user may have only `fs.inotify.max_user_instances` instances (128 by
//! default), shared by all their programs, so every [`Watch`] of the process
//! shares one instance, made by the first and closed with the last. Each
//! watch places its kernel watches in it (one on its directory, one on each
//! directory of its path) and is *subscribed* to their watch descriptors:
//!
//! 1. Placing: `inotify_add_watch` with `IN_MASK_ADD`. Two watches of one
//!    directory get the same descriptor from the kernel (which adds the
//!    masks): both are subscribed to it.
//! 2. Draining (a read): under the instance's lock, `read` the instance until
//!    it is empty (one call when nothing happened), and append each event to
//!    the queue of every subscriber of its descriptor (a subscriber for a
//!    directory of the path only gets the events about the next step's name,
//!    and the directory's own going: the rest cost a comparison, no copy, no
//!    allocation); `IN_Q_OVERFLOW`
//!    (events lost) marks every queue overflowed, and so does a queue grown
//!    past [`QUEUE_CAP`] (a watch nobody drains). Then take the caller's own
//!    queue (swapped with an empty buffer: no allocation once both have room)
//!    and, with the lock released, report its events as before. So one read
//!    by one board drains the events of every board, queued for the others.
//! 3. Letting go (a watch dropped): unsubscribe from each descriptor; the
//!    last subscriber of one removes the kernel watch (`inotify_rm_watch`),
//!    so a board never removes another's. The kernel's `IN_IGNORED` (a
//!    watched directory removed) ends the descriptor's subscriptions.
//!
//! # Fork
//!
//! A fork child shares its parent's instance (one open file description):
//! reading it would take the parent's events, and removing a watch would
//! remove the parent's. So the shared state records the fork generation that
//! made it; the first use in a child leaves the inherited instance alone
//! (closes its own descriptor of it; or, when a thread the fork left behind
//! held its lock mid-change, leaks it, never reading it) and makes a new one.
//! A watch made in another generation does nothing when dropped.
//!
//! The lock is a spin lock tagged with its holder's fork generation, as the
//! slot table's (`crate::slots::lock`, which a `static` cannot hold: it is
//! written against loom's atomics under `cfg(loom)`): a child takes it over
//! from a holder that does not exist there. It is held for a `read` of the
//! instance and the copying of its events, or to place or remove watches.

use std::cell::UnsafeCell;
use std::collections::HashMap;
use std::ffi::{OsStr, OsString};
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};

use crossbeam_utils::Backoff;
use nix::errno::Errno;
use nix::sys::inotify::{AddWatchFlags as F, InitFlags, Inotify};

use crate::fork;

/// What happened in a watched directory, from [`Watch::drain`].
#[derive(Debug)]
pub(crate) enum Change<'a> {
    /// The entry `name` was created, renamed, removed, truncated or written
    /// to with `write(2)`, or had its metadata changed; `closed` when a descriptor opened for writing on it was closed
    /// (which is how a worker's death shows: its lock goes with that close).
    Entry { name: &'a OsStr, closed: bool },
    /// Events were lost (the kernel's queue overflowed): look at everything.
    Overflow,
    /// The watched directory may no longer be at its path: it, or its entry
    /// in its parent, was removed, renamed or replaced, or a watch is gone.
    Lost,
}

/// The most bytes of events queued for one watch; past it they are dropped
/// and the watch told to look at everything (as the kernel does past its
/// own queue's limit).
const QUEUE_CAP: usize = 1 << 20;

/// The events the kernel sends for a directory that is gone from its path.
const GONE: u32 = libc::IN_DELETE_SELF | libc::IN_MOVE_SELF | libc::IN_IGNORED | libc::IN_UNMOUNT;

/// An inotify watch on a directory: tells which names changed since the last
/// [`drain`](Self::drain), so a reader need not look at the others; and,
/// when given its ancestry, whether the directory left its path. Its kernel
/// watches live in the process's one instance (see the module docs).
#[derive(Debug)]
pub(crate) struct Watch {
    /// This watch's subscriptions and queue (its slot in [`Instance::queues`]),
    /// in the instance of `generation`.
    id: usize,
    generation: u64,
    /// The watch descriptor of the directory itself.
    dir: i32,
    /// The watches on the directories of the path, each with the name of the
    /// next step of the path in it.
    ancestors: Vec<(i32, OsString)>,
    /// Whether every one of them could be placed.
    follows_path: bool,
    /// The events taken from the queue, swapped with it on each drain.
    taken: Vec<u8>,
}

impl Watch {
    /// Watches the directory open as `dir`. The watch is placed through
    /// `/proc/self/fd`, so it is on that very directory even if its path has
    /// since been replaced. With `ancestry` (each directory of the path with
    /// the name of the next step in it), those directories are watched too,
    /// in the same inotify instance, for that name being removed or renamed:
    /// a removed directory that is still open raises no event of its own (its
    /// `IN_DELETE_SELF` waits for the last descriptor). Fails where inotify
    /// or `/proc` is unavailable, or the user's inotify instances are used
    /// up; callers then list the directory on every read instead.
    pub(crate) fn new(
        dir: BorrowedFd<'_>,
        ancestry: Option<&[(PathBuf, OsString)]>,
    ) -> io::Result<Self> {
        let mask = F::IN_CREATE
            | F::IN_MOVED_TO
            | F::IN_MOVED_FROM
            | F::IN_DELETE
            | F::IN_CLOSE_WRITE
            | F::IN_ATTRIB
            // Truncation (and any write(2)): never raised by updates, which
            // store through the mapping; lets readers see a shrunk file
            // before they copy from it.
            | F::IN_MODIFY
            | F::IN_DELETE_SELF
            | F::IN_MOVE_SELF
            | F::IN_ONLYDIR
            // Nothing about a name once it is unlinked: its IN_DELETE said it all.
            | F::from_bits_retain(libc::IN_EXCL_UNLINK);
        let path = format!("/proc/self/fd/{}", dir.as_raw_fd());
        let steps = ancestry.unwrap_or_default();
        let step_mask = F::IN_DELETE
            | F::IN_MOVED_FROM
            | F::IN_MOVED_TO
            | F::IN_DELETE_SELF
            | F::IN_MOVE_SELF
            | F::IN_ONLYDIR;
        let generation = fork::generation();
        with_state(generation, |state| {
            let instance = match &mut state.instance {
                Some(instance) => instance,
                none @ None => none.insert(Instance::new()?),
            };
            let id = instance.new_queue();
            let dir = instance.place(id, None, path.as_str(), mask);
            let dir = match dir {
                Ok(wd) => wd,
                Err(e) => {
                    instance.queues[id] = None;
                    state.close_if_unused();
                    return Err(e);
                }
            };
            // A step that cannot be watched (no access, the user's watches
            // used up) leaves the path to callers to check.
            let ancestors: Vec<_> = steps
                .iter()
                .filter_map(|(at, name)| {
                    let wd = instance.place(id, Some(name), at, step_mask).ok()?;
                    Some((wd, name.clone()))
                })
                .collect();
            let follows_path = ancestry.is_some() && ancestors.len() == steps.len();
            Ok(Self {
                id,
                generation,
                dir,
                ancestors,
                follows_path,
                taken: Vec::new(),
            })
        })
    }

    /// Whether this watch tells when the directory leaves its path.
    pub(crate) fn follows_path(&self) -> bool {
        self.follows_path
    }

    /// Reports every change queued since the last call; one `read` of the
    /// process's instance when there is none. Allocates nothing once its
    /// buffers have room: the events are read into the instance's own
    /// buffer, queued, and names are lent to `f` (events in the directories
    /// of the path, which other programs may fill, cost a comparison each).
    pub(crate) fn drain(&mut self, mut f: impl FnMut(Change<'_>)) -> io::Result<()> {
        let generation = fork::generation();
        if generation != self.generation {
            // Inherited: the instance is the parent's (callers set up their
            // own watch first; see `crate::reader::track`).
            return Err(io::Error::other("an inotify watch inherited through fork"));
        }
        let overflowed = with_state(generation, |state| {
            let instance = state
                .instance
                .as_mut()
                .ok_or_else(|| io::Error::other("the inotify instance is gone"))?;
            instance.read_all()?;
            let queue = instance
                .queues
                .get_mut(self.id)
                .and_then(Option::as_mut)
                .ok_or_else(|| io::Error::other("this watch's queue is gone"))?;
            std::mem::swap(&mut queue.events, &mut self.taken);
            Ok::<_, io::Error>(std::mem::take(&mut queue.overflowed))
        })?;
        if overflowed {
            f(Change::Overflow);
        }
        let mut events = &self.taken[..];
        while let Some(ev) = RawEvent::take(&mut events) {
            if ev.mask & GONE != 0 {
                f(Change::Lost);
            } else if ev.wd != self.dir {
                // A directory of the path: only the next step's name matters.
                let step = self.ancestors.iter().find(|(wd, _)| *wd == ev.wd);
                if step.is_some_and(|(_, step)| ev.name == Some(step.as_os_str())) {
                    f(Change::Lost);
                }
            } else if let Some(name) = ev.name {
                f(Change::Entry {
                    name,
                    closed: ev.mask & libc::IN_CLOSE_WRITE != 0,
                });
            }
        }
        self.taken.clear();
        Ok(())
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        if fork::generation() != self.generation {
            // Inherited: its kernel watches are the parent's.
            return;
        }
        with_state(self.generation, |state| {
            if let Some(instance) = &mut state.instance {
                instance.unsubscribe(self.id, self.dir);
                for &(wd, _) in &self.ancestors {
                    instance.unsubscribe(self.id, wd);
                }
                if let Some(queue) = instance.queues.get_mut(self.id) {
                    *queue = None;
                }
            }
            state.close_if_unused();
        });
    }
}

/// The events queued for one watch, as the kernel wrote them.
#[derive(Debug, Default)]
struct Queue {
    events: Vec<u8>,
    /// Events were lost: the watch must look at everything.
    overflowed: bool,
}

/// The process's inotify instance and who listens to what in it.
#[derive(Debug)]
struct Instance {
    inotify: Inotify,
    /// The watches subscribed to each watch descriptor.
    subscribers: HashMap<i32, Vec<Subscriber>>,
    /// Each watch's events not drained yet, by the watch's id (a free slot
    /// is taken by the next new watch).
    queues: Vec<Option<Queue>>,
    /// Where events are read into: room for many, and at least one with
    /// the longest name.
    buf: Box<[u8]>,
}

impl Instance {
    fn new() -> io::Result<Self> {
        Ok(Self {
            inotify: Inotify::init(InitFlags::IN_NONBLOCK | InitFlags::IN_CLOEXEC)?,
            subscribers: HashMap::new(),
            queues: Vec::new(),
            buf: vec![0; 4096].into_boxed_slice(),
        })
    }

    /// A new watch's id: a free queue slot, now taken.
    fn new_queue(&mut self) -> usize {
        let id = self
            .queues
            .iter()
            .position(Option::is_none)
            .unwrap_or_else(|| {
                self.queues.push(None);
                self.queues.len() - 1
            });
        self.queues[id] = Some(Queue::default());
        id
    }

    /// Step 1: watches `path` for `mask` (added to what others asked for the
    /// same directory) and subscribes watch `id` to its descriptor: to every
    /// event, or with `step` only to those about that name (and the
    /// directory's own going).
    fn place(
        &mut self,
        id: usize,
        step: Option<&OsString>,
        path: &(impl nix::NixPath + ?Sized),
        mask: F,
    ) -> io::Result<i32> {
        let mask = mask | F::from_bits_retain(libc::IN_MASK_ADD);
        let wd = self.inotify.add_watch(path, mask)?.as_raw();
        let step = step.cloned();
        self.subscribers
            .entry(wd)
            .or_default()
            .push(Subscriber { id, step });
        Ok(wd)
    }

    /// Step 3: ends watch `id`'s subscription to `wd`, removing the kernel
    /// watch if nobody else is subscribed.
    fn unsubscribe(&mut self, id: usize, wd: i32) {
        let Some(subs) = self.subscribers.get_mut(&wd) else {
            // Ended by the kernel (IN_IGNORED).
            return;
        };
        subs.retain(|s| s.id != id);
        if subs.is_empty() {
            self.subscribers.remove(&wd);
            // An error means the kernel removed it already.
            // SAFETY: inotify_rm_watch takes two integers; the descriptor is
            // this instance's, open while `self` lives.
            let _ = unsafe { libc::inotify_rm_watch(self.inotify.as_fd().as_raw_fd(), wd) };
        }
    }

    /// Step 2: reads every event of the instance into its subscribers' queues.
    fn read_all(&mut self) -> io::Result<()> {
        loop {
            let n = match nix::unistd::read(self.inotify.as_fd(), &mut self.buf) {
                Ok(n) => n,
                Err(Errno::EAGAIN) => return Ok(()),
                Err(Errno::EINTR) => continue,
                Err(e) => return Err(e.into()),
            };
            if n == 0 {
                return Ok(());
            }
            let mut events = &self.buf[..n];
            loop {
                let start = events;
                let Some(ev) = RawEvent::take(&mut events) else {
                    break;
                };
                let raw = &start[..start.len() - events.len()];
                route(&mut self.subscribers, &mut self.queues, &ev, raw);
            }
        }
    }
}

/// A watch's subscription to a watch descriptor.
#[derive(Debug)]
struct Subscriber {
    id: usize,
    /// For a directory of the path: the only name whose events matter (the
    /// others, which other programs may make by the thousand, are never
    /// queued: a comparison each).
    step: Option<OsString>,
}

/// Queues the event `ev` (`raw`, as the kernel wrote it) for the watches it
/// concerns.
fn route(
    subscribers: &mut HashMap<i32, Vec<Subscriber>>,
    queues: &mut [Option<Queue>],
    ev: &RawEvent<'_>,
    raw: &[u8],
) {
    if ev.mask & libc::IN_Q_OVERFLOW != 0 {
        for queue in queues.iter_mut().flatten() {
            queue.overflowed = true;
            queue.events.clear();
        }
        return;
    }
    let Some(subs) = subscribers.get(&ev.wd) else {
        // A watch removed since (its IN_IGNORED), or never ours.
        return;
    };
    for sub in subs {
        if let Some(step) = &sub.step
            && ev.mask & GONE == 0
            && ev.name != Some(step.as_os_str())
        {
            continue;
        }
        let Some(Some(queue)) = queues.get_mut(sub.id) else {
            continue;
        };
        if queue.overflowed {
            continue;
        }
        if queue.events.len() + raw.len() > QUEUE_CAP
            || queue.events.try_reserve(raw.len()).is_err()
        {
            queue.overflowed = true;
            queue.events = Vec::new();
            continue;
        }
        queue.events.extend_from_slice(raw);
    }
    if ev.mask & libc::IN_IGNORED != 0 {
        // The kernel removed the watch: the descriptor is dead.
        subscribers.remove(&ev.wd);
    }
}

/// What the lock guards: the instance, and the fork generation it is of.
struct State {
    generation: u64,
    instance: Option<Instance>,
}

impl State {
    /// Closes the instance once no watch uses it.
    fn close_if_unused(&mut self) {
        let unused = |i: &Instance| i.queues.iter().all(Option::is_none);
        if self.instance.as_ref().is_some_and(unused) {
            self.instance = None;
        }
    }
}

/// The process's shared state behind its lock (see the module docs).
struct Shared {
    /// 0: free; else the holder's fork generation plus one.
    held: AtomicU64,
    state: UnsafeCell<State>,
}

// SAFETY: `state` is only reached by the holder of `held` (see `with_state`).
unsafe impl Sync for Shared {}

static SHARED: Shared = Shared {
    held: AtomicU64::new(0),
    state: UnsafeCell::new(State {
        generation: 0,
        instance: None,
    }),
};

/// Releases the lock when dropped (unwinding included).
struct Held;

impl Drop for Held {
    fn drop(&mut self) {
        // Release: pairs with the Acquire in `with_state`, so the next holder
        // sees the state as this one left it.
        SHARED.held.store(0, Ordering::Release);
    }
}

/// Runs `f` on the shared state, holding its lock, in fork generation
/// `generation`; first leaves behind a state of another generation.
fn with_state<R>(generation: u64, f: impl FnOnce(&mut State) -> R) -> R {
    let tag = generation.wrapping_add(1).max(1);
    let backoff = Backoff::new();
    let abandoned = loop {
        let held = SHARED.held.load(Ordering::Relaxed);
        // Free, or held by a thread of an older generation, which does not
        // exist in this process.
        if held == 0 || held != tag {
            // Acquire: pairs with the Release store in `Held::drop`.
            if SHARED
                .held
                .compare_exchange_weak(held, tag, Ordering::Acquire, Ordering::Relaxed)
                .is_ok()
            {
                break held != 0;
            }
        }
        backoff.snooze();
    };
    let _held = Held;
    // SAFETY: we hold the lock, so this is the only reference.
    let state = unsafe { &mut *SHARED.state.get() };
    if abandoned || state.generation != generation {
        let inherited = std::mem::replace(
            state,
            State {
                generation,
                instance: None,
            },
        );
        if abandoned {
            // Caught mid-change by the fork: never read, never dropped.
            std::mem::forget(inherited);
        }
        // Else dropped: closes this process's descriptor of the parent's
        // instance, touching none of its watches.
    }
    f(state)
}

/// One `struct inotify_event` as the kernel writes it: `wd`, `mask`, `cookie`
/// and `len` (native-endian 32-bit words), then `len` bytes of name padded
/// with NULs.
struct RawEvent<'a> {
    wd: i32,
    mask: u32,
    name: Option<&'a OsStr>,
}

impl<'a> RawEvent<'a> {
    /// Size of the fixed part.
    const HEADER: usize = 16;

    /// Takes the first event off `bytes` (None when none is left whole: the
    /// kernel only ever returns whole events).
    fn take(bytes: &mut &'a [u8]) -> Option<Self> {
        let word = |i: usize| -> Option<[u8; 4]> { bytes.get(i..i + 4)?.try_into().ok() };
        let wd = i32::from_ne_bytes(word(0)?);
        let mask = u32::from_ne_bytes(word(4)?);
        let len = u32::from_ne_bytes(word(12)?) as usize;
        let raw = bytes.get(Self::HEADER..Self::HEADER + len)?;
        let name = raw.split(|&b| b == 0).next().filter(|n| !n.is_empty());
        *bytes = &bytes[Self::HEADER + len..];
        Some(Self {
            wd,
            mask,
            name: name.map(OsStr::from_bytes),
        })
    }
}
