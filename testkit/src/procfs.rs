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

    #[test]
    fn this_process_runs_and_has_used_cpu() {
        assert_eq!(state(std::process::id()), Some('R'));
        let fields = stat_fields(std::process::id()).unwrap();
        assert!(fields.len() > 20, "{fields:?}");
        let _ = cpu_ticks(std::process::id());
    }
}
