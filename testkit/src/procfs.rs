//! `/proc/PID/stat`, as proc(5) describes it.

/// The fields of `/proc/PID/stat` after the command name (which may hold
/// spaces and parentheses): index 0 is the state (field 3 in proc(5)),
/// index 11 `utime` (field 14); `None` once the process is gone.
#[must_use]
pub fn stat_fields(pid: u32) -> Option<Vec<String>> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let (_, rest) = stat.rsplit_once(')')?;
    Some(rest.split_whitespace().map(str::to_owned).collect())
}

/// The state letter of process `pid` (`R`, `S`, `T` stopped, `Z` zombie...),
/// or `None` once it is gone.
#[must_use]
pub fn state(pid: u32) -> Option<char> {
    stat_fields(pid)?.first()?.chars().next()
}

/// The process's CPU time (user + system) in clock ticks.
///
/// # Panics
///
/// If the process is gone or its stat cannot be parsed.
#[must_use]
pub fn cpu_ticks(pid: u32) -> u64 {
    let fields = stat_fields(pid).expect("/proc/PID/stat");
    fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The state of `pid` once it is `want`, waiting for up to 10 s.
    fn becomes(pid: u32, want: Option<char>) -> Option<char> {
        let t0 = std::time::Instant::now();
        while state(pid) != want && t0.elapsed() < std::time::Duration::from_secs(10) {
            std::thread::sleep(std::time::Duration::from_millis(2));
        }
        state(pid)
    }

    #[test]
    fn a_child_sleeps_stops_dies_and_is_gone() {
        let mut child = std::process::Command::new("sleep")
            .arg("30")
            .spawn()
            .unwrap();
        let pid = child.id();
        let fields = stat_fields(pid).unwrap();
        assert!(fields.len() > 20, "{fields:?}");
        assert_eq!(becomes(pid, Some('S')), Some('S'));
        let _ = cpu_ticks(pid);
        let target = nix::unistd::Pid::from_raw(pid.cast_signed());
        nix::sys::signal::kill(target, nix::sys::signal::Signal::SIGSTOP).unwrap();
        assert_eq!(becomes(pid, Some('T')), Some('T'));
        child.kill().unwrap();
        assert_eq!(becomes(pid, Some('Z')), Some('Z'));
        child.wait().unwrap();
        assert_eq!(state(pid), None);
    }
}
