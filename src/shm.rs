//! The one module that turns mapped memory into atomics.
//!
//! Status files are shared between processes, so every access to their bytes is
//! an atomic access to an aligned 64-bit word; no `&[u8]` or `&mut [u8]` is ever
//! formed over them. [`ReadMap`] maps a file read-only and only makes Relaxed
//! loads; [`WriteMap`] maps the owner's file read-write.

use std::fs::File;
use std::io;

use std::mem::ManuallyDrop;

use memmap2::{Advice, MmapOptions, MmapRaw, RemapOptions};

use crate::fork;

use crate::protocol::{Words, WordsMut};
// Always std's atomics: loom cannot place its own in a mapped file. The protocol
// is generic over `Words`, so loom checks it on its own atomics instead.
use std::sync::atomic::{AtomicU64, Ordering};

// Only Relaxed loads of at most 8 bytes are defined on read-only mapped memory,
// and only on 64-bit targets (see "Atomic accesses to read-only memory" in
// `core::sync::atomic`).
#[cfg(not(target_pointer_width = "64"))]
compile_error!("parallel-scoreboard needs a 64-bit target");

/// The word `i` of a mapping.
///
/// # Safety
/// `map` must be at least `(i + 1) * 8` bytes long, its base 8-byte aligned,
/// and every process must access these bytes only through 64-bit atomics.
/// Where `map` is mapped read-only, the caller may only make Relaxed loads.
#[inline]
unsafe fn word(map: &MmapRaw, i: usize) -> &AtomicU64 {
    debug_assert!((i + 1) * 8 <= map.len());
    // The mapping lives as long as `map`, which bounds the returned lifetime.
    // All accesses to the file are atomic word accesses (the module contract),
    // so there is no mixed-size or non-atomic race. A read-only mapping is not
    // valid for writes as `from_ptr` asks, but the core docs define Relaxed
    // loads of 8 bytes on read-only memory on 64-bit targets, and the caller
    // makes no other access there.
    // SAFETY: in bounds by the caller's contract, 8-byte aligned (page-aligned
    // base), atomic-only access, lifetime bounded by `map` (see above).
    unsafe { AtomicU64::from_ptr(map.as_mut_ptr().add(i * 8).cast()) }
}

/// A read-only mapping of a status file.
#[derive(Debug)]
pub(crate) struct ReadMap {
    map: MmapRaw,
    words: usize,
}

impl ReadMap {
    /// Maps the first `len` bytes of `file` (rounded down to whole words).
    ///
    /// `len` must not exceed the file's size: pages past the end of a file fault.
    pub(crate) fn new(file: &File, len: u64) -> io::Result<Self> {
        let words = usize::try_from(len / 8).map_err(|_| io::ErrorKind::FileTooLarge)?;
        if words == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        let map = MmapOptions::new().len(words * 8).map_raw_read_only(file)?;
        Ok(Self { map, words })
    }
}

impl Words for ReadMap {
    #[inline]
    fn len_words(&self) -> usize {
        self.words
    }

    #[inline]
    fn load(&self, i: usize) -> u64 {
        assert!(
            i < self.words,
            "word {i} beyond a {}-word mapping",
            self.words
        );
        // SAFETY: `i` is in bounds (checked above); this read-only mapping is
        // only ever loaded from, with Relaxed ordering.
        unsafe { word(&self.map, i) }.load(Ordering::Relaxed)
    }
}

/// The owner's read-write mapping of its status file.
///
/// Made with `MADV_DONTFORK`: a mapping holds a reference to the file's open
/// description, and with it the worker's `flock`, so a fork child must not
/// inherit it. In a child, the handle's address range no longer holds this
/// mapping (it may hold anything), so an inherited `WriteMap` is never unmapped
/// nor accessed (`Worker` checks the fork generation first).
#[derive(Debug)]
pub(crate) struct WriteMap {
    map: ManuallyDrop<MmapRaw>,
    words: usize,
    generation: u64,
}

impl WriteMap {
    /// Maps the first `len` bytes of `file`, which must be open read-write and
    /// have its blocks allocated up to `len`.
    pub(crate) fn new(file: &File, len: u64) -> io::Result<Self> {
        let words = usize::try_from(len / 8).map_err(|_| io::ErrorKind::FileTooLarge)?;
        // No fork between the mapping and its advice.
        let map = fork::exclusive(|| {
            let map = MmapOptions::new().len(words * 8).map_raw(file)?;
            map.advise(Advice::DontFork)?;
            io::Result::Ok(map)
        })?;
        Ok(Self {
            map: ManuallyDrop::new(map),
            words,
            generation: fork::generation(),
        })
    }

    /// Resizes the mapping to `len` bytes, moving it if it must.
    ///
    /// The file must already be `len` bytes long with its blocks allocated.
    pub(crate) fn grow(&mut self, len: u64) -> io::Result<()> {
        let words = usize::try_from(len / 8).map_err(|_| io::ErrorKind::FileTooLarge)?;
        let map = &mut *self.map;
        fork::exclusive(|| {
            // No reference into the old mapping survives: `word` borrows the
            // map, and the `&mut` borrow here rules out any such borrow.
            // SAFETY: the caller allocated the file up to `len` bytes, so no
            // page of the new mapping lies beyond its end.
            unsafe { map.remap(words * 8, RemapOptions::new().may_move(true)) }?;
            // mremap keeps the advice; setting it again costs one call per growth.
            map.advise(Advice::DontFork)
        })?;
        self.words = words;
        Ok(())
    }

    /// Stores the static header words, before the file is published.
    pub(crate) fn store_words(&self, first: usize, values: &[u64]) {
        for (k, v) in values.iter().enumerate() {
            self.store(first + k, *v, Ordering::Relaxed);
        }
    }
}

impl Drop for WriteMap {
    fn drop(&mut self) {
        if fork::generation() == self.generation {
            // SAFETY: `self.map` is not used again: this is the end of `self`.
            unsafe { ManuallyDrop::drop(&mut self.map) };
        }
        // Inherited through fork: the range was not inherited with it (see the
        // type's docs), so there is nothing of ours to unmap.
    }
}

impl Words for WriteMap {
    #[inline]
    fn len_words(&self) -> usize {
        self.words
    }

    #[inline]
    fn load(&self, i: usize) -> u64 {
        assert!(i < self.words);
        // SAFETY: `i` is in bounds; the mapping is read-write.
        unsafe { word(&self.map, i) }.load(Ordering::Relaxed)
    }
}

impl WordsMut for WriteMap {
    #[inline]
    fn store(&self, i: usize, value: u64, order: Ordering) {
        assert!(
            i < self.words,
            "word {i} beyond a {}-word mapping",
            self.words
        );
        // SAFETY: `i` is in bounds; the mapping is read-write.
        unsafe { word(&self.map, i) }.store(value, order);
    }
}
