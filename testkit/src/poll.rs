//! Waiting for something another process does.

use std::time::{Duration, Instant};

/// Tries `attempt` every `every` until it returns `Ok`, and returns that
/// value; once `limit` has passed, fails the test with the last `Err`.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// let mut tries = 0;
/// let n = testkit::eventually(Duration::from_secs(5), Duration::from_millis(1), || {
///     tries += 1;
///     if tries == 3 { Ok(tries) } else { Err(format!("only {tries} tries")) }
/// });
/// assert_eq!(n, 3);
/// ```
pub fn eventually<T>(
    limit: Duration,
    every: Duration,
    mut attempt: impl FnMut() -> Result<T, String>,
) -> T {
    let deadline = Instant::now() + limit;
    loop {
        match attempt() {
            Ok(v) => return v,
            Err(e) => assert!(Instant::now() < deadline, "not within {limit:?}: {e}"),
        }
        std::thread::sleep(every);
    }
}
