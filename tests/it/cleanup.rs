//! A failed test leaves no process behind: dropping a helper kills what it
//! forked too.

use crate::common::{Helper, tempdir};

/// A helper that forked a child (which sleeps up to 60 s) is dropped without
/// `kill` or `finish`, as when a test panics: the child goes with it.
#[test]
fn dropping_a_helper_kills_what_it_forked() {
    let tmp = tempdir();
    let mut h = Helper::spawn("fork", tmp.path());
    assert!(h.line().starts_with("parent "));
    let child = h.line();
    let pid: u32 = child.split(' ').nth(1).unwrap().parse().unwrap();
    assert_ne!(testkit::procfs::state(pid), None, "{child}");
    drop(h);
    let t0 = std::time::Instant::now();
    // Gone, or a zombie until its new parent reaps it.
    while !matches!(testkit::procfs::state(pid), None | Some('Z')) {
        assert!(
            t0.elapsed() < std::time::Duration::from_secs(10),
            "the forked child {pid} outlived its dropped helper"
        );
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
}
