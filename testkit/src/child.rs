//! A child process that a failed test does not leave running.

use std::ops::{Deref, DerefMut};
use std::process::{Child, Output};

/// A child process killed and reaped when dropped unless waited for with
/// [`output`](Self::output) or [`Child::wait`] first (then the kill finds a
/// zombie or nothing, and is ignored).
#[derive(Debug)]
pub struct Reaped(Option<Child>);

impl Reaped {
    /// Guards `child`.
    #[must_use]
    pub fn new(child: Child) -> Self {
        Self(Some(child))
    }

    /// Waits for it to exit, collecting what is left of its stdout and
    /// stderr (as [`Child::wait_with_output`]).
    #[must_use]
    pub fn output(mut self) -> Output {
        let child = self.0.take().expect("not yet waited for");
        child.wait_with_output().expect("wait")
    }
}

impl Deref for Reaped {
    type Target = Child;

    fn deref(&self) -> &Child {
        self.0.as_ref().expect("not yet waited for")
    }
}

impl DerefMut for Reaped {
    fn deref_mut(&mut self) -> &mut Child {
        self.0.as_mut().expect("not yet waited for")
    }
}

impl Drop for Reaped {
    fn drop(&mut self) {
        if let Some(child) = &mut self.0 {
            // A child already reaped by `wait` is not signalled again (std
            // remembers its status); no panic in a drop.
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}
