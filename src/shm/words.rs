//! The words of a status file as the protocol sees them: what a reader can
//! load ([`Words`]) and what the writer can also store ([`WordsMut`]).
//!
//! The protocol (`crate::protocol`) is generic over these traits, so the same
//! code runs on a mapped file (this module's parent), on a file read with
//! `pread` (the reader of another user's board), on process-local atomics
//! (the tests' model, and loom's under `--cfg loom`), and on the tests'
//! recording words, which count the writer's real stores.

use std::collections::TryReserveError;

use crate::sync::Ordering;

/// Words a reader can load.
pub(crate) trait Words {
    /// How many words there are.
    fn len_words(&self) -> usize;
    /// A Relaxed load of word `i`.
    ///
    /// # Panics
    /// If `i >= self.len_words()`.
    fn load(&self, i: usize) -> u64;

    /// Relaxed loads of the `out.len()` words from `first` on, in no
    /// particular order among themselves (a caller that needs an order
    /// between two words loads them apart). This default loads them one by
    /// one through [`load`](Self::load); a file read with `pread` reads them
    /// in one call.
    ///
    /// # Panics
    /// If the words do not all lie within `self.len_words()`.
    #[inline]
    fn load_words(&self, first: usize, out: &mut [u64]) {
        for (k, word) in out.iter_mut().enumerate() {
            *word = self.load(first + k);
        }
    }

    /// Appends the first `len` bytes of the words from `first` on to `out`,
    /// with Relaxed (byte-wise) atomic loads; fails, copying nothing, when
    /// there is no memory for them. This default loads word by word, each
    /// through [`load`](Self::load), so loom sees every one; a mapped file
    /// copies in bulk, checking bounds once.
    ///
    /// # Panics
    /// If the words do not all lie within `self.len_words()`.
    #[inline]
    fn load_bytes(
        &self,
        first: usize,
        len: usize,
        out: &mut Vec<u8>,
    ) -> Result<(), TryReserveError> {
        let end = out.len() + len;
        out.try_reserve(len.next_multiple_of(8))?;
        for k in 0..len.div_ceil(8) {
            out.extend_from_slice(&self.load(first + k).to_le_bytes());
        }
        out.truncate(end);
        Ok(())
    }
}

/// Words the writer can also store.
pub(crate) trait WordsMut: Words {
    /// An atomic store of `value` into word `i`, with `order` (Relaxed or Release).
    ///
    /// # Panics
    /// If `i >= self.len_words()`.
    fn store(&self, i: usize, value: u64, order: Ordering);

    /// Stores `data` into the words from `first` on, the last one zero
    /// padded, with Relaxed (byte-wise) atomic stores. This default stores
    /// word by word, each through [`store`](Self::store), so loom sees every
    /// one; a mapped file copies in bulk, checking bounds once.
    ///
    /// # Panics
    /// If the words do not all lie within `self.len_words()`.
    #[inline]
    fn store_bytes(&self, first: usize, data: &[u8]) {
        for_each_word(data, |k, word| {
            self.store(first + k, word, Ordering::Relaxed);
        });
    }
}

/// Calls `f(k, word)` for each 8-byte word `k` of `data`, the last one zero
/// padded: the payload as the words a status file holds.
#[inline]
pub(crate) fn for_each_word(data: &[u8], mut f: impl FnMut(usize, u64)) {
    let mut chunks = data.chunks_exact(8);
    let mut k = 0;
    for chunk in &mut chunks {
        f(
            k,
            u64::from_le_bytes(chunk.try_into().expect("chunks_exact(8)")),
        );
        k += 1;
    }
    let tail = chunks.remainder();
    if !tail.is_empty() {
        let mut last = [0u8; 8];
        last[..tail.len()].copy_from_slice(tail);
        f(k, u64::from_le_bytes(last));
    }
}
