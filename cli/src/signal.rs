//! SIGINT, SIGTERM and SIGHUP as a flag, so that `watch` and `demo` restore
//! the terminal and stop their workers before exiting.

use std::io;
use std::sync::atomic::{AtomicBool, Ordering};

static STOP: AtomicBool = AtomicBool::new(false);

extern "C" fn on_signal(_: libc::c_int) {
    STOP.store(true, Ordering::Relaxed);
}

/// Makes SIGINT, SIGTERM and SIGHUP set the flag [`stopped`] reads instead of
/// killing the process.
pub(crate) fn install() -> io::Result<()> {
    let handler = on_signal as extern "C" fn(libc::c_int) as libc::sighandler_t;
    for sig in [libc::SIGINT, libc::SIGTERM, libc::SIGHUP] {
        // SAFETY: `on_signal` is async-signal-safe (it only stores to an
        // atomic) and has the signature `signal` expects.
        let previous = unsafe { libc::signal(sig, handler) };
        if previous == libc::SIG_ERR {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(())
}

/// Whether SIGINT, SIGTERM or SIGHUP has arrived since [`install`].
pub(crate) fn stopped() -> bool {
    STOP.load(Ordering::Relaxed)
}
