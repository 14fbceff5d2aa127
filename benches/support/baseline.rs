//! Independent references for the benchmarks: they share no code with the
//! crate, so they bound what the crate's protocol itself costs.
//!
//! - [`Seqlock`]: the least a seqlock update can do: one sequence word, a
//!   length and the payload as 8-byte Relaxed stores, in process memory.
//! - [`Placed`]: a buffer at a chosen offset modulo 4096, so that a `memcpy`
//!   between two of them never suffers 4K aliasing (a load whose address
//!   matches a recent store's in its low 12 bits waits for it: on this CPU a
//!   4 KiB copy is then about 6x slower).
//! - [`coarse_ns`]: one `CLOCK_MONOTONIC_COARSE` read through the vDSO.

use std::sync::atomic::{AtomicU64, Ordering, fence};

/// A minimal single-writer seqlock in process memory.
pub(crate) struct Seqlock {
    seq: u64,
    /// Word 0: the sequence; word 1: the length; then the payload.
    words: Box<[AtomicU64]>,
}

impl Seqlock {
    /// Room for statuses of up to `max_len` bytes.
    pub(crate) fn new(max_len: usize) -> Self {
        let words = (0..2 + max_len.div_ceil(8))
            .map(|_| AtomicU64::new(0))
            .collect();
        Self { seq: 0, words }
    }

    /// Publishes `data`: odd mark, length and payload, even mark.
    #[inline]
    pub(crate) fn write(&mut self, data: &[u8]) {
        let odd = self.seq + 1;
        self.words[0].store(odd, Ordering::Relaxed);
        // Orders the odd mark before the stores below (a reader's re-check).
        fence(Ordering::Release);
        self.words[1].store(data.len() as u64, Ordering::Relaxed);
        // One bounds check for the whole payload.
        let payload = &self.words[2..2 + data.len().div_ceil(8)];
        let mut chunks = data.chunks_exact(8);
        for (w, c) in payload.iter().zip(&mut chunks) {
            w.store(
                u64::from_le_bytes(c.try_into().expect("8 bytes")),
                Ordering::Relaxed,
            );
        }
        let tail = chunks.remainder();
        if !tail.is_empty() {
            let mut last = [0u8; 8];
            last[..tail.len()].copy_from_slice(tail);
            payload[payload.len() - 1].store(u64::from_le_bytes(last), Ordering::Relaxed);
        }
        // Release: a reader that sees the even mark sees the payload.
        self.words[0].store(odd + 1, Ordering::Release);
        self.seq = odd + 1;
    }
}

/// One `CLOCK_MONOTONIC_COARSE` read, in ns (the clock updates are stamped
/// with).
#[inline]
pub(crate) fn coarse_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes one timespec we own.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC_COARSE, &raw mut ts) };
    ts.tv_sec.cast_unsigned() * 1_000_000_000 + ts.tv_nsec.cast_unsigned()
}

/// A byte buffer whose first byte sits at `phase` modulo 4096.
pub(crate) struct Placed {
    buf: Vec<u8>,
    start: usize,
    len: usize,
}

impl Placed {
    /// `len` bytes starting at an address that is `phase` modulo 4096.
    pub(crate) fn new(len: usize, phase: usize) -> Self {
        let buf = vec![0u8; len + 8192];
        let at = buf.as_ptr() as usize;
        let start = (phase + 4096 - at % 4096) % 4096;
        Self { buf, start, len }
    }

    /// `data` at `phase` modulo 4096.
    pub(crate) fn with(data: &[u8], phase: usize) -> Self {
        let mut p = Self::new(data.len(), phase);
        p.as_mut().copy_from_slice(data);
        p
    }

    pub(crate) fn as_mut(&mut self) -> &mut [u8] {
        &mut self.buf[self.start..self.start + self.len]
    }
}

impl std::ops::Deref for Placed {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        &self.buf[self.start..self.start + self.len]
    }
}

/// Where the benchmarks place the statuses they write: half a page away from
/// page-aligned destinations (a grown region of a status file, [`DST_PHASE`]),
/// so neither `Worker::update` nor the `memcpy` reference meets 4K aliasing.
/// Measured here: a 4 KiB copy whose destination is 16 B past its source
/// modulo 4096 took 3.2 µs, half a page away 53 ns.
pub(crate) const SRC_PHASE: usize = 2048;
/// Where the `memcpy` reference's destination starts, modulo 4096.
pub(crate) const DST_PHASE: usize = 0;

/// Statuses laid out in memory as status files are: each at byte 512 of a
/// 4 KiB page of its own, in process memory with huge pages turned off (so
/// that, as with one mapping per worker, every status costs a page and a TLB
/// entry of its own). The layout, with none of the crate's code.
pub(crate) struct Pages {
    base: *mut u8,
    n: usize,
}

impl Pages {
    const PAGE: usize = 4096;
    const AT: usize = 512;

    /// `n` pages, the `k`th holding `status(k)` (at most 3584 bytes).
    pub(crate) fn new(n: usize, status: impl Fn(usize) -> Vec<u8>) -> Self {
        // SAFETY: a fresh private anonymous mapping; no memory of ours is
        // touched by the call.
        let base = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                n * Self::PAGE,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        assert_ne!(base, libc::MAP_FAILED, "mmap");
        // SAFETY: advice on the mapping just made.
        let advised = unsafe { libc::madvise(base, n * Self::PAGE, libc::MADV_NOHUGEPAGE) };
        assert_eq!(advised, 0, "madvise");
        let pages = Self {
            base: base.cast(),
            n,
        };
        for k in 0..n {
            let s = status(k);
            assert!(Self::AT + 8 + s.len() <= Self::PAGE);
            // SAFETY: page `k` is within the mapping, which only `pages`
            // reaches; its first bytes after AT are the length, then the status.
            unsafe {
                let p = pages.base.add(k * Self::PAGE + Self::AT);
                p.cast::<usize>().write_unaligned(s.len());
                std::ptr::copy_nonoverlapping(s.as_ptr(), p.add(8), s.len());
            }
        }
        pages
    }

    /// The status in page `k`.
    pub(crate) fn get(&self, k: usize) -> &[u8] {
        assert!(k < self.n);
        // SAFETY: page `k` is within the mapping, written in `new` and never
        // again; the slice borrows `self`, which keeps the mapping.
        unsafe {
            let p = self.base.add(k * Self::PAGE + Self::AT);
            let len = p.cast::<usize>().read_unaligned();
            std::slice::from_raw_parts(p.add(8), len)
        }
    }
}

impl Drop for Pages {
    fn drop(&mut self) {
        // SAFETY: the mapping made in `new`, not used after this.
        unsafe { libc::munmap(self.base.cast(), self.n * Self::PAGE) };
    }
}
