//! The one module that turns mapped memory into atomics.
//!
//! Status files are shared between processes, so every access to their bytes is
//! an atomic access to an aligned 64-bit word; no `&[u8]` or `&mut [u8]` is ever
//! formed over them. [`ReadMap`] maps a file read-only and only makes Relaxed
//! loads; [`WriteMap`] maps the owner's file read-write. Payloads are copied
//! in and out with one byte-wise atomic copy (`atomic_copy`), bounds checked
//! once per copy. One function, [`atomic_at`], turns a pointer into the
//! mapping into an atomic word, for every word access of the crate.

use std::collections::TryReserveError;
use std::fs::File;
use std::io;

use std::marker::PhantomData;
use std::mem::ManuallyDrop;

use memmap2::{MmapOptions, MmapRaw};

use crate::fork;
use crate::layout::HEADER_LEN;
use crate::sys;

mod atomic_copy;
mod words;

pub(crate) use words::{Words, WordsMut, for_each_word};
// Always std's atomics: loom cannot place its own in a mapped file. The protocol
// is generic over `Words`, so loom checks it on its own atomics instead.
use std::sync::atomic::{AtomicU64, Ordering};

// Only Relaxed loads of at most 8 bytes are defined on read-only mapped memory,
// and only on 64-bit targets (see "Atomic accesses to read-only memory" in
// `core::sync::atomic`).
#[cfg(not(target_pointer_width = "64"))]
compile_error!("parallel-scoreboard needs a 64-bit target");

/// Words of the header, mapped in every `WriteMap`: stores to them need no
/// bounds check.
const HEADER_WORDS: usize = (HEADER_LEN / 8) as usize;

/// The one place a pointer into shared memory becomes an atomic word: the
/// word accessors below ([`word`], [`Writable::word`]) and the odd words of
/// `atomic_copy` all come through here.
///
/// # Safety
/// `ptr` must be 8-byte aligned and point to 8 bytes of a mapping that stays
/// mapped for all of `'a`, and every access to those bytes, by any process,
/// must be atomic (64-bit atomic word accesses, or this module's byte-wise
/// atomic copies). Where the bytes are mapped read-only, the caller may only
/// make Relaxed loads through the result.
#[allow(clippy::inline_always)]
#[inline(always)]
unsafe fn atomic_at<'a>(ptr: *mut u8) -> &'a AtomicU64 {
    debug_assert!(ptr.addr().is_multiple_of(8));
    // All accesses to the bytes are atomic (the caller's contract), so there
    // is no mixed-size or non-atomic race. A read-only mapping is not valid
    // for writes as `from_ptr` asks, but the core docs define Relaxed loads
    // of 8 bytes on read-only memory on 64-bit targets (the `compile_error!`
    // above rules out the others), and the caller makes no other access there.
    // SAFETY: aligned, valid for `'a`, atomic-only access: the contract above.
    unsafe { AtomicU64::from_ptr(ptr.cast()) }
}

/// The word `i` of a mapping.
///
/// # Safety
/// `map` must be at least `(i + 1) * 8` bytes long, and every process must
/// access these bytes only atomically (the module contract). Where `map` is
/// mapped read-only, the caller may only make Relaxed loads.
#[inline]
unsafe fn word(map: &MmapRaw, i: usize) -> &AtomicU64 {
    debug_assert!((i + 1) * 8 <= map.len());
    // SAFETY: in bounds by the caller's contract, 8-byte aligned (a mapping's
    // base is page aligned), atomic-only access; the lifetime is bounded by
    // the borrow of `map`, which stays mapped while borrowed.
    unsafe { atomic_at(map.as_mut_ptr().add(i * 8)) }
}

/// The whole words in the first `len` bytes of a file, which must hold at
/// least the header: every mapping has it, and `load` and `store` rely on
/// that (their bounds checks fold away for the header's words).
fn mapped_words(len: u64) -> io::Result<usize> {
    let words = usize::try_from(len / 8).map_err(|_| io::ErrorKind::FileTooLarge)?;
    if words < HEADER_WORDS {
        return Err(io::ErrorKind::UnexpectedEof.into());
    }
    Ok(words)
}

/// A read-only mapping of a status file.
#[derive(Debug)]
pub(crate) struct ReadMap {
    map: MmapRaw,
    words: usize,
}

impl ReadMap {
    /// Maps the first `len` bytes of `file` (rounded down to whole words),
    /// at least the header.
    ///
    /// `len` must not exceed the file's size: pages past the end of a file fault.
    pub(crate) fn new(file: &File, len: u64) -> io::Result<Self> {
        let words = mapped_words(len)?;
        let map = MmapOptions::new().len(words * 8).map_raw_read_only(file)?;
        Ok(Self { map, words })
    }

    /// Where the mapping starts, for [`prefetch`] hints only.
    #[inline]
    pub(crate) fn base(&self) -> *const u8 {
        self.map.as_ptr()
    }
}

/// Asks the CPU to start bringing the cache line at `addr` into its caches,
/// so that a load made a little later finds it there. A hint only: nothing
/// is loaded for the program, and any address may be given (a stale one, one
/// no longer mapped).
#[inline(always)]
pub(crate) fn prefetch(addr: usize) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: `prefetcht0` is a hint: it never faults, whatever the address,
    // and it is no memory access of the abstract machine (no load, no race).
    unsafe {
        use std::arch::x86_64::{_MM_HINT_T0, _mm_prefetch};
        _mm_prefetch::<_MM_HINT_T0>(addr as *const i8);
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = addr;
}

impl Words for ReadMap {
    #[inline]
    fn len_words(&self) -> usize {
        self.words
    }

    #[inline]
    fn load(&self, i: usize) -> u64 {
        // The header is always mapped (`new`), so for the header's words,
        // whose indices the compiler knows, this check folds away.
        assert!(
            i < HEADER_WORDS || i < self.words,
            "word {i} beyond a {}-word mapping",
            self.words
        );
        // SAFETY: `i` is in bounds (checked above); this read-only mapping is
        // only ever loaded from, with Relaxed ordering.
        unsafe { word(&self.map, i) }.load(Ordering::Relaxed)
    }
    #[inline]
    fn load_bytes(
        &self,
        first: usize,
        len: usize,
        out: &mut Vec<u8>,
    ) -> Result<(), TryReserveError> {
        let whole = len & !7;
        let end = first + len.div_ceil(8);
        // The one bounds check of the copy.
        assert!(
            first <= end && end <= self.words,
            "words {first}..{end} beyond a {}-word mapping",
            self.words
        );
        // Room for the tail too: one reservation per copy.
        out.try_reserve(len)?;
        // The mapping lives as long as `self`, every access to it is atomic
        // (the module contract), and `copy_out` only loads, as a read-only
        // mapping allows.
        // SAFETY: words `first..end` are within the mapping (checked above),
        // page aligned: `src` is aligned and valid for `whole` bytes of reads.
        unsafe { atomic_copy::copy_out(self.map.as_ptr().add(first * 8), whole, out) };
        if whole < len {
            // SAFETY: word `end - 1` is within the mapping (checked above);
            // a Relaxed load, as a read-only mapping allows.
            let last = unsafe { word(&self.map, end - 1) }.load(Ordering::Relaxed);
            out.extend_from_slice(&last.to_le_bytes()[..len - whole]);
        }
        Ok(())
    }
}

/// The owner's read-write mapping of its status file.
///
/// Made with `MADV_DONTFORK`: a mapping holds a reference to the file's open
/// description (the worker maps through one of its own, never the one that
/// holds its `flock`), and a fork child must neither write the parent's status
/// nor keep its file referenced. In a child, the handle's address range no longer holds this
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
        // `grow` only grows, so the header stays mapped.
        let words = mapped_words(len)?;
        // No fork between the mapping and its advice.
        let map = fork::exclusive(|| sys::map_unforked(file, words * 8))?;
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
        assert!(words >= self.words, "a status file never shrinks");
        let map = &mut *self.map;
        // No reference into the old mapping survives: `word` borrows the map,
        // and the `&mut` borrow here rules out any such borrow.
        // SAFETY: the caller allocated the file up to `len` bytes, so no page
        // of the new mapping lies beyond its end; no reference into it (above).
        fork::exclusive(|| unsafe { sys::remap_unforked(map, words * 8) })?;
        self.words = words;
        Ok(())
    }

    /// Stores the static header words, before the file is published.
    pub(crate) fn store_words(&self, first: usize, values: &[u64]) {
        let w = self.writable();
        for (k, v) in values.iter().enumerate() {
            w.store(first + k, *v, Ordering::Relaxed);
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

/// The words of a [`WriteMap`] for one update: its base address and length
/// as plain values in the caller's frame. Stores through `&WriteMap` make the
/// compiler load the base again after each one (as far as it knows, a store
/// to shared memory may change the handle's fields); a copy of these two
/// values, whose address never escapes, stays in registers.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Writable<'a> {
    base: *mut u8,
    words: usize,
    /// Borrowed from the mapping: it cannot move or go while this exists.
    _map: PhantomData<&'a WriteMap>,
}

impl WriteMap {
    /// The words to update, as plain values (see [`Writable`]).
    #[inline]
    pub(crate) fn writable(&self) -> Writable<'_> {
        Writable {
            base: self.map.as_mut_ptr(),
            words: self.words,
            _map: PhantomData,
        }
    }
}

impl Writable<'_> {
    /// The word `i`.
    ///
    /// # Safety
    /// `i` must be below `self.words`.
    #[inline]
    unsafe fn word(&self, i: usize) -> &AtomicU64 {
        debug_assert!(i < self.words);
        // The mapping is read-write and borrowed for as long as `self`.
        // SAFETY: `i` is in bounds (the caller's contract), the base page
        // aligned, and every access to these bytes is atomic (the module
        // contract).
        unsafe { atomic_at(self.base.add(i * 8)) }
    }
}

impl Words for Writable<'_> {
    #[inline]
    fn len_words(&self) -> usize {
        self.words
    }

    #[inline]
    fn load(&self, i: usize) -> u64 {
        assert!(i < self.words);
        // SAFETY: `i < self.words`, asserted above.
        unsafe { self.word(i) }.load(Ordering::Relaxed)
    }
}

impl WordsMut for Writable<'_> {
    #[inline]
    fn store(&self, i: usize, value: u64, order: Ordering) {
        // The header is always mapped (`WriteMap::new`), so for the
        // descriptor words, whose indices the compiler knows are below
        // `HEADER_WORDS`, this check folds away.
        assert!(
            i < HEADER_WORDS || i < self.words,
            "word {i} beyond a {}-word mapping",
            self.words
        );
        // SAFETY: `i < self.words`: checked above, and every mapping holds
        // at least the header's words (`mapped_words`; `grow` only grows).
        unsafe { self.word(i) }.store(value, order);
    }

    // Always: left to itself the compiler keeps this out of line in
    // `Scoreboard::update` (measured: BENCHMARKS.md, "Second pass: the store
    // of the payload inlined, and three changes taken up again").
    #[allow(clippy::inline_always)]
    #[inline(always)]
    fn store_bytes(&self, first: usize, data: &[u8]) {
        let whole = data.len() & !7;
        let end = first + data.len().div_ceil(8);
        // The one bounds check of the copy.
        assert!(
            first <= end && end <= self.words,
            "words {first}..{end} beyond a {}-word mapping",
            self.words
        );
        // The mapping is read-write, borrowed for as long as `self`, and every
        // access to it is atomic (the module contract), as `copy_in` asks.
        // SAFETY: words `first..end` are within the mapping (checked above),
        // page aligned: `dst` is aligned and valid for `whole` bytes of writes.
        unsafe {
            let dst = self.base.add(first * 8);
            atomic_copy::copy_in(dst, &data[..whole]);
        }
        if whole < data.len() {
            let mut last = [0u8; 8];
            last[..data.len() - whole].copy_from_slice(&data[whole..]);
            // SAFETY: `end - 1 < self.words` (checked above; `end > first`
            // here, as `data` has a tail).
            unsafe { self.word(end - 1) }.store(u64::from_le_bytes(last), Ordering::Relaxed);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A real file of `len` bytes, mapped read-write and read-only.
    fn maps(len: u64) -> (tempfile::NamedTempFile, WriteMap, ReadMap) {
        let file = tempfile::NamedTempFile::new().unwrap();
        file.as_file().set_len(len).unwrap();
        let w = WriteMap::new(file.as_file(), len).unwrap();
        let r = ReadMap::new(&File::open(file.path()).unwrap(), len).unwrap();
        (file, w, r)
    }

    #[test]
    fn copies_of_every_kind_of_length_round_trip_through_a_file() {
        let (_file, w, r) = maps(256 * 1024);
        // Around the word size, the bulk threshold and pages, at two offsets.
        for len in [
            0,
            1,
            7,
            8,
            9,
            63,
            64,
            511,
            512,
            513,
            4095,
            4096,
            4097,
            65536 + 3,
        ] {
            for first in [HEADER_WORDS, 4096 / 8 + 3] {
                let data: Vec<u8> = (0..len).map(|b| (b * 7 + len) as u8).collect();
                w.writable().store_bytes(first, &data);
                let mut out = b"kept".to_vec();
                r.load_bytes(first, len, &mut out).unwrap();
                assert_eq!(&out[..4], b"kept", "{len} bytes at word {first}");
                assert_eq!(&out[4..], &data[..], "{len} bytes at word {first}");
                // The padding of the last word is zero.
                if len % 8 != 0 {
                    let last = r.load(first + len / 8).to_le_bytes();
                    assert!(last[len % 8..].iter().all(|&b| b == 0));
                }
            }
        }
    }

    #[test]
    #[should_panic(expected = "beyond a 512-word mapping")]
    fn a_copy_past_the_mapping_panics_before_storing() {
        let (_file, w, _r) = maps(4096);
        w.writable().store_bytes(500, &[1u8; 100]);
    }

    #[test]
    fn racing_copies_see_only_bytes_that_were_written() {
        // A writer thread fills 64 KiB with one byte value per round while
        // this thread copies it: once the first round is written, every byte
        // read is one that some round wrote (1..=250), none is lost or zero.
        let len = 65536;
        let (_file, w, r) = maps(HEADER_LEN + len as u64);
        let stop = std::sync::atomic::AtomicBool::new(false);
        let started = std::sync::atomic::AtomicBool::new(false);
        std::thread::scope(|s| {
            s.spawn(|| {
                let mut round = 0u8;
                while !stop.load(Ordering::Relaxed) {
                    round = round % 250 + 1;
                    w.writable().store_bytes(HEADER_WORDS, &vec![round; len]);
                    // Release: pairs with the Acquire load below.
                    started.store(true, Ordering::Release);
                }
            });
            while !started.load(Ordering::Acquire) {
                std::hint::spin_loop();
            }
            let mut out = Vec::new();
            for _ in 0..200 {
                out.clear();
                r.load_bytes(HEADER_WORDS, len, &mut out).unwrap();
                assert_eq!(out.len(), len);
                assert!(
                    out.iter().all(|&b| (1..=250).contains(&b)),
                    "a byte no round wrote"
                );
            }
            stop.store(true, Ordering::Relaxed);
        });
    }
}
