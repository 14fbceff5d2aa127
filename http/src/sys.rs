//! What the layer asks of the platform (Linux): the process's descriptor
//! limit and use.

use std::io;

use nix::sys::resource::{Resource, getrlimit};

/// This process's soft limit on open descriptors (`RLIMIT_NOFILE`), and how
/// many it has open: the entries of `/proc/self/fd`, less the one the
/// listing itself holds. One `getrlimit` and a directory listing: for rare
/// decisions (a new slot), never for a request that reuses one.
pub(crate) fn descriptors() -> io::Result<(u64, usize)> {
    let (soft, _) = getrlimit(Resource::RLIMIT_NOFILE)?;
    let open = std::fs::read_dir("/proc/self/fd")?
        .count()
        .saturating_sub(1);
    Ok((soft, open))
}
