//! The slots [`Scoreboard::update`](crate::Scoreboard::update) makes, and when
//! they go.
//!
//! The rules, implemented in this order below:
//! 1. The default id (the process id) has one slot per board and process. No
//!    thread's exit releases it; the board's drop does (as in the original).
//! 2. A custom id's slot is *held* by every thread that updated through it,
//!    each thread counting once per slot. A thread records its holds in the
//!    thread-local [`HELD`]; the slot counts its holders.
//! 3. When a thread exits, the destructor of its `HELD` releases each hold: the
//!    slot's count goes down, and at zero the slot leaves the board and its
//!    worker is dropped (file unlinked, descriptor closed). So a slot lives
//!    while any thread that used it runs, and a thread keeps every slot it has
//!    updated through until it exits.
//! 4. A hold points at its board weakly: a board dropped first drops its slots
//!    at once, and the exiting thread's hold then finds nothing. A board kept
//!    alive by nobody but an exiting thread's hold is dropped by that thread.
//! 5. After `fork()` the child's board drops the inherited slots (see
//!    `crate::fork`), and every new slot gets a new serial, so the holds a
//!    forking thread carries over match nothing in the child.
//! 6. An update made where the thread's `HELD` is already destroyed (from
//!    another thread-local's destructor, late in the thread's exit) records no
//!    hold: a slot it creates is released with the board, or when a thread
//!    that later holds it exits. The main thread's thread-locals may never be
//!    destroyed: its slots go with the board, or with the process (whose exit
//!    releases every lock, so readers see them dead at once).
//!
//! Lock order: a board's table, then the fork registry (creating or dropping a
//! worker takes it). `HELD` is borrowed only inside the table lock and calls
//! nothing while borrowed; its destructor takes the holds out first and locks
//! each board's table in turn, dropping released workers after unlocking.
//!
//! The table's lock is `lock::Lock`, a spin lock released by a plain store
//! (its docs say why, and what a waiter does). It does not poison: a panic
//! under it (in `Worker::create` or `Worker::update`, or allocating) leaves
//! the table as before the change being made, since every change is one call
//! into a std container or one counter increment, after whatever can fail;
//! the next holder uses it as it is. In a fork child, a table whose lock a
//! parent's thread held at the fork is taken over and leaked
//! (`forget_inherited`); a `std::sync::Mutex` would stay locked there for
//! good.
//!
//! The common case, a thread updating a slot it already holds, costs the table
//! lock that `update` always took, a hash lookup, and a scan of the thread's
//! own few holds: no other lock, no allocation, no system call
//! (`tests/alloc.rs` and `benches/syscalls.sh` check the last two). The id
//! function is called before the lock is taken, so it may use the board.
//! `tests/it/threads.rs` checks the rules with real threads and a fork.

use std::cell::RefCell;
use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Weak};

use crate::dir::BaseDir;
use crate::error::Result;
use crate::fork;
use crate::worker::Worker;

pub(crate) mod lock;

use lock::{Guard, Lock};

/// A board's slots for [`Scoreboard::update`](crate::Scoreboard::update).
#[derive(Debug, Default)]
pub(crate) struct Slots(Arc<Lock<Table>>);

#[derive(Debug, Default)]
struct Table {
    /// The fork generation these slots belong to.
    generation: u64,
    /// The slot of the default id (this process's id). Rule 1.
    own: Option<Worker>,
    /// Slots of ids returned by a custom `worker_id`. Rule 2.
    by_id: HashMap<String, Slot>,
}

#[derive(Debug)]
struct Slot {
    worker: Worker,
    /// Unique in the process, never reused: what holds match on. Rule 5.
    serial: u64,
    /// How many running threads hold it.
    threads: usize,
}

/// The source of [`Slot::serial`]. Relaxed: only uniqueness matters, and
/// every slot is created and matched under its table's lock.
static NEXT_SERIAL: AtomicU64 = AtomicU64::new(0);

/// One thread's hold on one slot.
#[derive(Debug)]
struct Hold {
    table: Weak<Lock<Table>>,
    id: String,
    serial: u64,
}

/// A thread's holds; releasing them is its destructor's job. Rule 3.
#[derive(Debug)]
struct ThreadHolds(RefCell<Vec<Hold>>);

thread_local! {
    static HELD: ThreadHolds = const { ThreadHolds(RefCell::new(Vec::new())) };
}

impl Slots {
    /// Publishes `status` in the calling worker's slot, made on first use:
    /// `worker_id()`'s, held by the calling thread, or the process's own.
    /// `dir` gives the directory a new slot's file is made in.
    ///
    /// Inline, with everything but the update of an existing slot out of line:
    /// the common case is the table lock and the worker's update.
    #[inline]
    pub(crate) fn update(
        &self,
        dir: &dyn Fn() -> Result<Arc<BaseDir>>,
        worker_id: Option<&(dyn Fn() -> String + Send + Sync)>,
        status: &[u8],
    ) -> Result<()> {
        let Some(f) = worker_id else {
            let mut table = lock(&self.0);
            return match &mut table.own {
                // `lock` made the table anew if it was of another generation.
                Some(worker) => worker.update_unforked(status),
                own @ None => first_own(own, dir, status),
            };
        };
        self.update_by_id(dir, f, status)
    }

    /// [`update`](Self::update) of the slot of the id `f` returns.
    #[inline(never)]
    fn update_by_id(
        &self,
        dir: &dyn Fn() -> Result<Arc<BaseDir>>,
        f: &(dyn Fn() -> String + Send + Sync),
        status: &[u8],
    ) -> Result<()> {
        // Called unlocked: `worker_id` may itself use the board.
        let id = f();
        let mut table = lock(&self.0);
        let slot = match table.by_id.entry(id) {
            Entry::Occupied(e) => e.into_mut(),
            Entry::Vacant(e) => {
                let worker = Worker::create(dir()?, e.key().clone())?;
                e.insert(Slot {
                    worker,
                    serial: NEXT_SERIAL.fetch_add(1, Ordering::Relaxed),
                    threads: 0,
                })
            }
        };
        hold(&self.0, slot);
        slot.worker.update_unforked(status)
    }
}

/// The first update of the process's own slot: makes it, then updates it.
/// Called with the table locked. Rule 1.
#[cold]
#[inline(never)]
fn first_own(
    own: &mut Option<Worker>,
    dir: &dyn Fn() -> Result<Arc<BaseDir>>,
    status: &[u8],
) -> Result<()> {
    let worker = own.insert(Worker::create(dir()?, fork::pid().to_string())?);
    worker.update(status)
}

/// Locks `table`, first dropping slots inherited through `fork()` (which
/// leaves the parent's files alone). Rule 5.
#[inline]
fn lock(table: &Lock<Table>) -> Guard<'_, Table> {
    let generation = fork::generation();
    let mut t = table.lock(generation);
    if t.abandoned() || t.generation != generation {
        forget_inherited(&mut t, generation);
    }
    t
}

/// Drops the slots of another fork generation (inherited from the parent).
/// A table a fork caught mid-change (its lock held by a thread the child
/// does not have) is leaked instead: nothing of it is read, and its
/// descriptors stay open in the child (their locks were already let go by
/// `crate::fork`'s child handler).
#[cold]
#[inline(never)]
fn forget_inherited(t: &mut Guard<'_, Table>, generation: u64) {
    let fresh = Table {
        generation,
        ..Table::default()
    };
    let old = std::mem::replace(&mut **t, fresh);
    if t.abandoned() {
        std::mem::forget(old);
    }
}

/// Records that the calling thread holds `slot`, unless it already does.
/// Called with the table locked. Rules 2 and 6.
fn hold(table: &Arc<Lock<Table>>, slot: &mut Slot) {
    let serial = slot.serial;
    let added = HELD.try_with(|held| {
        // Never borrowed twice: nothing below calls out of this module.
        let mut held = held.0.borrow_mut();
        // The latest hold first: most threads hold one slot, or use the
        // latest most.
        if held.iter().rev().any(|h| h.serial == serial) {
            return false;
        }
        // Holds on dropped boards only take memory; forget them.
        held.retain(|h| h.table.strong_count() > 0);
        held.push(Hold {
            table: Arc::downgrade(table),
            id: slot.worker.id().to_owned(),
            serial,
        });
        true
    });
    if added == Ok(true) {
        slot.threads += 1;
    }
}

impl Drop for ThreadHolds {
    fn drop(&mut self) {
        for hold in std::mem::take(self.0.get_mut()) {
            // Rule 4: a dropped board has nothing left to release.
            let Some(table) = hold.table.upgrade() else {
                continue;
            };
            let released = release(&table, &hold);
            // Unlinked and closed with no lock held.
            drop(released);
        }
    }
}

/// Ends `hold`; returns its slot if that was the last hold on it. Rule 3.
fn release(table: &Lock<Table>, hold: &Hold) -> Option<Slot> {
    let mut t = lock(table);
    let slot = t.by_id.get_mut(&hold.id)?;
    if slot.serial != hold.serial {
        return None;
    }
    slot.threads = slot.threads.saturating_sub(1);
    if slot.threads > 0 {
        return None;
    }
    t.by_id.remove(&hold.id)
}
