//! A criterion measurement of this thread's CPU time instead of wall time.
//!
//! The machine the benchmarks run on is shared by several builds at once: a
//! wall-time sample then includes the time the benchmark thread waited for a
//! core, which says nothing about the code measured. This thread's CPU time
//! (`CLOCK_THREAD_CPUTIME_ID`) counts only the time it ran. Contention for
//! caches and memory bandwidth remains, which is why every figure is compared
//! with references measured in the same run.

use std::time::Duration;

use criterion::measurement::{Measurement, ValueFormatter, WallTime};

/// This thread's CPU time.
pub(crate) struct CpuTime;

fn now() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes one timespec we own.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &raw mut ts) };
    assert_eq!(rc, 0, "CLOCK_THREAD_CPUTIME_ID");
    Duration::new(ts.tv_sec.cast_unsigned(), ts.tv_nsec.cast_unsigned() as u32)
}

impl Measurement for CpuTime {
    type Intermediate = Duration;
    type Value = Duration;

    fn start(&self) -> Duration {
        now()
    }

    fn end(&self, start: Duration) -> Duration {
        now().saturating_sub(start)
    }

    fn add(&self, a: &Duration, b: &Duration) -> Duration {
        *a + *b
    }

    fn zero(&self) -> Duration {
        Duration::ZERO
    }

    fn to_f64(&self, value: &Duration) -> f64 {
        value.as_secs_f64() * 1e9
    }

    fn formatter(&self) -> &dyn ValueFormatter {
        // The values are nanoseconds, as wall time's are.
        static WALL: WallTime = WallTime;
        WALL.formatter()
    }
}
