//! The one copy between process memory and shared memory: a byte-wise atomic
//! memcpy (the semantics of C++ P1478's `atomic_store_per_byte_memcpy` and
//! `atomic_load_per_byte_memcpy`, Relaxed).
//!
//! # Why not `ptr::copy`
//!
//! A payload region may be written by its worker while a reader copies it:
//! that is how a seqlock works, and the reader throws such a copy away once
//! its sequence re-check fails. A plain `ptr::copy` racing with a write is a
//! data race, undefined behaviour even when the result is discarded. Per-word
//! `AtomicU64` accesses are defined, but the compiler may not merge or
//! vectorize atomics, so a 4 KiB copy then takes 512 loads and 512 stores.
//!
//! # What is done instead, and why it is sound
//!
//! On `x86_64`, copies of [`BULK`] bytes or more are one `rep movsb` in inline
//! assembly, shorter ones a loop of 16-byte `movdqu` moves in inline assembly
//! (and one Relaxed `AtomicU64` access for an odd last word); a copy of one
//! word is an `AtomicU64` access. Either way there is no bounds check per
//! word. Why the assembly is sound:
//!
//! 1. Inline assembly is opaque to the Rust abstract machine: the compiler
//!    treats it like a call to unknown code that may access the memory its
//!    pointers reach, so it can neither assume the bytes are unchanged by
//!    others nor move other memory accesses across it (the block is not
//!    `nomem`/`readonly`/`pure`). No Rust reference to the bytes exists.
//! 2. What the assembly does is defined by the hardware: on x86 every byte
//!    access is single-copy atomic, so `rep movsb` is a sequence of Relaxed
//!    byte-wise atomic accesses in some order, exactly what a byte-wise atomic
//!    memcpy is allowed to be (likewise each `movdqu` is 16 byte accesses).
//!    A racing writer can only make a reader see a
//!    mix of old and new bytes, which the seqlock detects and discards.
//! 3. The protocol's fences order the copy as they order word stores. The
//!    Intel SDM (vol. 3A, "Out-of-Order Stores for String Operations") lets a
//!    fast string operation's *stores* complete out of order among
//!    themselves, but "string operations are not reordered with other store
//!    operations": the writer's odd mark before the copy and its Release even
//!    mark after it (plain `mov`s on x86) stay on either side of every store
//!    of the copy. The string operation's loads follow the ordinary rule
//!    (loads are not reordered with other loads), so a reader's copy happens
//!    before its sequence re-check load. `movdqu` loads and stores are
//!    ordinary ones, ordered as every x86 load and store is (x86-TSO). The
//!    compiler side of all this is point 1.
//!
//! Other targets use the per-word path for every length (see [`copy_in`]):
//! portable, defined, and slower.

use std::sync::atomic::Ordering;

use super::atomic_at;

/// From this many bytes on, a copy is one `rep movsb` (`x86_64`), as fast as
/// `memcpy` there; below it, smaller moves win, where `rep movsb`'s start-up
/// costs more than the copy, and 16-byte moves beat word stores (measured:
/// BENCHMARKS.md, "Updates", "The fixed cost of a 64 B update" and "What did
/// not pay").
const BULK: usize = 512;

/// Copies `src` into shared memory at `dst`, as byte-wise Relaxed atomic
/// stores. `src.len()` is a multiple of 8.
///
/// # Safety
/// `dst` must be 8-byte aligned, valid for writes of `src.len()` bytes for
/// the duration of the call, and every access to those bytes by anyone must
/// be atomic (word accesses of this crate, or this module's copies; another
/// process's accesses to its own mapping of the same file count as such).
#[inline]
pub(super) unsafe fn copy_in(dst: *mut u8, src: &[u8]) {
    debug_assert!(src.len().is_multiple_of(8) && dst.addr().is_multiple_of(8));
    #[cfg(target_arch = "x86_64")]
    if src.len() >= BULK {
        // `rep movsb` reads DF, which is clear on entry to an asm block, and
        // leaves the flags alone; racing with atomic accesses: module docs.
        // SAFETY: `dst` and `src` valid for `src.len()` bytes (the contract).
        unsafe {
            std::arch::asm!(
                "rep movsb",
                inout("rcx") src.len() => _,
                inout("rdi") dst => _,
                inout("rsi") src.as_ptr() => _,
                options(nostack, preserves_flags)
            );
        }
        return;
    }
    #[cfg(target_arch = "x86_64")]
    if src.len() >= 16 {
        // Racing with other atomic accesses: the module docs' argument.
        // SAFETY: both valid for `16 * (len / 16) <= len` bytes (the contract).
        unsafe { move16(dst, src.as_ptr(), src.len() / 16) };
        if !src.len().is_multiple_of(16) {
            let k = src.len() / 8 - 1;
            let value = u64::from_le_bytes(src[k * 8..].try_into().expect("8 bytes"));
            // SAFETY: word `k` is the last of the caller's `src.len()` bytes
            // at `dst`, 8-byte aligned, only ever accessed atomically.
            unsafe { atomic_at(dst.add(k * 8)) }.store(value, Ordering::Relaxed);
        }
        return;
    }
    for (k, chunk) in src.chunks_exact(8).enumerate() {
        let value = u64::from_le_bytes(chunk.try_into().expect("chunks_exact(8)"));
        // SAFETY: word `k` is within the caller's `src.len()` bytes at `dst`,
        // 8-byte aligned, and only ever accessed atomically (the contract).
        unsafe { atomic_at(dst.add(k * 8)) }.store(value, Ordering::Relaxed);
    }
}

/// Appends `len` bytes of shared memory at `src` to `out`, as byte-wise
/// Relaxed atomic loads. `len` is a multiple of 8.
///
/// # Panics
/// If `out` has no room for `len` more bytes (the caller reserves it, so
/// that running out of memory is an error, not an abort).
///
/// # Safety
/// `src` must be 8-byte aligned, valid for reads of `len` bytes for the
/// duration of the call, and every access to those bytes by anyone must be
/// atomic (as for [`copy_in`]). Where the bytes are mapped read-only, only
/// loads are made: `rep movsb` only reads its source, and Relaxed
/// `AtomicU64` loads are defined on read-only memory (`core::sync::atomic`).
#[inline]
pub(super) unsafe fn copy_out(src: *const u8, len: usize, out: &mut Vec<u8>) {
    debug_assert!(len.is_multiple_of(8) && src.addr().is_multiple_of(8));
    assert!(
        out.capacity() - out.len() >= len,
        "no room reserved for the copy"
    );
    #[cfg(target_arch = "x86_64")]
    if len >= BULK {
        let dst = out.spare_capacity_mut().as_mut_ptr();
        // `dst`: the spare capacity, checked above, no other reference to
        // it; racing with atomic accesses to `src`: the module docs.
        // SAFETY: `src` valid for `len` bytes of reads (the contract), `dst` writes.
        unsafe {
            std::arch::asm!(
                "rep movsb",
                inout("rcx") len => _,
                inout("rdi") dst => _,
                inout("rsi") src => _,
                options(nostack, preserves_flags)
            );
        }
        // SAFETY: the copy initialised the `len` bytes after the old length,
        // within the capacity checked above.
        unsafe { out.set_len(out.len() + len) };
        return;
    }
    let dst = out.spare_capacity_mut()[..len].as_mut_ptr().cast::<u8>();
    let mut k = 0;
    #[cfg(target_arch = "x86_64")]
    if len >= 16 {
        // `dst` is sliced from the spare capacity above; racing: module docs.
        // SAFETY: `src` valid for `len` bytes of reads (the contract), `dst` writes.
        unsafe { move16(dst, src, len / 16) };
        k = len / 16 * 2;
    }
    // The words left: all of them on other targets, an odd last one here.
    while k < len / 8 {
        // Only loaded (Relaxed) here, as a read-only mapping allows.
        // SAFETY: word `k` is in the caller's `len` bytes, aligned, atomic-only.
        let word = unsafe { atomic_at(src.add(k * 8).cast_mut()) }.load(Ordering::Relaxed);
        // SAFETY: bytes `k * 8..k * 8 + 8` of the `len` spare bytes sliced
        // above; an unaligned write, as `Vec<u8>`'s buffer is byte aligned.
        unsafe {
            dst.add(k * 8)
                .cast::<[u8; 8]>()
                .write_unaligned(word.to_le_bytes());
        }
        k += 1;
    }
    // SAFETY: the moves and the loop initialised the `len` bytes after the
    // old length, within the capacity checked above.
    unsafe { out.set_len(out.len() + len) };
}

/// Copies `16 * pairs` bytes from `src` to `dst` (`pairs > 0`) with ordinary
/// 16-byte `movdqu` moves, four at a time: each byte access single-copy
/// atomic, loads and stores each in program order (x86-TSO), no bounds check
/// per move. The one loop both directions share.
///
/// # Safety
/// `src` must be valid for reads and `dst` for writes of `16 * pairs` bytes,
/// and whichever of them is shared memory must only ever be accessed
/// atomically (the module's contract).
#[cfg(target_arch = "x86_64")]
#[inline]
unsafe fn move16(dst: *mut u8, src: *const u8, pairs: usize) {
    debug_assert!(pairs > 0);
    // SAFETY: the caller's contract; the block touches no other memory, and
    // its registers are all declared.
    unsafe {
        std::arch::asm!(
            "test {quads}, {quads}",
            "jz 3f",
            "2:",
            "movdqu {a}, [{src}]",
            "movdqu {b}, [{src} + 16]",
            "movdqu {c}, [{src} + 32]",
            "movdqu {d}, [{src} + 48]",
            "movdqu [{dst}], {a}",
            "movdqu [{dst} + 16], {b}",
            "movdqu [{dst} + 32], {c}",
            "movdqu [{dst} + 48], {d}",
            "add {src}, 64",
            "add {dst}, 64",
            "dec {quads}",
            "jnz 2b",
            "3:",
            "test {rest}, {rest}",
            "jz 5f",
            "4:",
            "movdqu {a}, [{src}]",
            "movdqu [{dst}], {a}",
            "add {src}, 16",
            "add {dst}, 16",
            "dec {rest}",
            "jnz 4b",
            "5:",
            src = inout(reg) src => _,
            dst = inout(reg) dst => _,
            quads = inout(reg) pairs / 4 => _,
            rest = inout(reg) pairs % 4 => _,
            a = out(xmm_reg) _,
            b = out(xmm_reg) _,
            c = out(xmm_reg) _,
            d = out(xmm_reg) _,
            options(nostack)
        );
    }
}
