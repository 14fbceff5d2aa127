//! SIGINT, SIGTERM and SIGHUP as a flag, so that `watch` and `demo` restore
//! the terminal and stop their workers before exiting.

use std::io;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, LazyLock, Mutex};

use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};

/// Set by the handlers `signal_hook::flag` installs (with a `SeqCst` store).
static STOP: LazyLock<Arc<AtomicBool>> = LazyLock::new(Arc::default);

/// Whether the handlers are installed: they are installed once per process,
/// however often [`install`] is called.
static INSTALLED: Mutex<bool> = Mutex::new(false);

/// Makes SIGINT, SIGTERM and SIGHUP set the flag [`stopped`] reads instead of
/// killing the process.
pub(crate) fn install() -> io::Result<()> {
    let mut installed = INSTALLED
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if !*installed {
        for sig in [SIGINT, SIGTERM, SIGHUP] {
            signal_hook::flag::register(sig, Arc::clone(&STOP))?;
        }
        *installed = true;
    }
    Ok(())
}

/// Whether SIGINT, SIGTERM or SIGHUP has arrived since [`install`].
pub(crate) fn stopped() -> bool {
    // SeqCst, as the handler's store: the flag carries no other data.
    STOP.load(Ordering::SeqCst)
}
