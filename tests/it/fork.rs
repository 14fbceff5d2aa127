//! `fork()`: a child's inherited handles never write to, remove, or keep alive
//! the parent's files; `update` in the child makes the child's own entry.

use std::time::{Duration, Instant};

use crate::common::{Helper, entries, tempdir};

/// Starts the `fork` helper and returns it with the parent's and child's pids.
fn forked(dir: &std::path::Path, drop_in_child: bool) -> (Helper, String, String) {
    let env: &[(&str, &str)] = if drop_in_child {
        &[("PSB_DROP_IN_CHILD", "1")]
    } else {
        &[]
    };
    let mut h = Helper::spawn_with("fork", dir, env);
    let parent = h.line();
    let parent = parent
        .strip_prefix("parent ")
        .expect("parent line")
        .to_owned();
    let child = h.line();
    let fields: Vec<&str> = child.split(' ').collect();
    assert_eq!(fields[0], "child", "{child}");
    // The inherited Worker refuses to write; the board makes the child's own entry.
    assert_eq!(
        fields[2], "Forked",
        "inherited handle must refuse to update: {child}"
    );
    assert_eq!(fields[3], "ok", "board.update in the child: {child}");
    (h, parent, fields[1].to_owned())
}

/// SIGKILLs a process that is not our child and waits until it has exited
/// (a zombie has already closed its files).
fn kill_and_wait(pid: &str) {
    let pid: i32 = pid.parse().unwrap();
    // SAFETY: kill has no memory-safety preconditions.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGKILL) }, 0);
    let t0 = Instant::now();
    loop {
        if matches!(
            testkit::procfs::state(pid.cast_unsigned()),
            None | Some('Z')
        ) {
            return;
        }
        assert!(t0.elapsed() < Duration::from_secs(10), "{pid} did not die");
        std::thread::sleep(Duration::from_millis(2));
    }
}

#[test]
fn fork_after_update_keeps_parent_and_child_apart() {
    let tmp = tempdir();
    let board = crate::common::open(tmp.path()).unwrap();
    let (h, parent, child) = forked(tmp.path(), false);
    let all = board.read_all().unwrap();
    assert_eq!(all.len(), 3, "{all:?}");
    assert_eq!(all[&parent], b"parent");
    assert_eq!(
        all["inherited"], b"parent's handle",
        "the child never wrote the parent's file"
    );
    assert_eq!(all[&child], b"child");

    // The child dies: only its own entry goes.
    kill_and_wait(&child);
    let all = board.read_all().unwrap();
    assert_eq!(all.keys().cloned().collect::<Vec<_>>(), {
        let mut v = vec![parent.clone(), "inherited".to_owned()];
        v.sort();
        v
    });
    assert!(h.finish().success());
    assert!(board.read_all().unwrap().is_empty());
    assert!(entries(tmp.path()).is_empty());
}

#[test]
fn a_parent_killed_while_its_child_lives_is_seen_dead() {
    let tmp = tempdir();
    let board = crate::common::open(tmp.path()).unwrap();
    let (h, parent, child) = forked(tmp.path(), false);
    assert_eq!(board.read_all().unwrap().len(), 3);
    // The child still holds the inherited Worker and Scoreboard objects.
    h.kill();
    let all = board.read_all().unwrap();
    assert_eq!(
        all.keys().cloned().collect::<Vec<_>>(),
        vec![child.clone()],
        "parent {parent} must be gone"
    );
    assert_eq!(
        entries(tmp.path()),
        vec![format!("status_{child}")],
        "the parent's files are removed"
    );
    kill_and_wait(&child);
    assert!(board.read_all().unwrap().is_empty());
    assert!(entries(tmp.path()).is_empty());
}

#[test]
fn a_child_dropping_inherited_handles_leaves_the_parents_files() {
    let tmp = tempdir();
    let board = crate::common::open(tmp.path()).unwrap();
    let (h, parent, child) = forked(tmp.path(), true);
    let all = board.read_all().unwrap();
    // The child dropped its board (removing its own entry) and the inherited
    // Worker (which must not remove the parent's).
    assert!(!all.contains_key(&child), "{all:?}");
    assert_eq!(all[&parent], b"parent");
    assert_eq!(all["inherited"], b"parent's handle");
    kill_and_wait(&child);
    assert!(h.finish().success());
    assert!(entries(tmp.path()).is_empty());
}

/// Workers created and dropped in one thread while another forks children
/// that outlive their parent: once the parent is killed by SIGKILL, none of its
/// workers may still look alive through a child.
///
/// The kernel drops a dead process's locks when the last reference to each
/// locked file goes, which is as its descriptors are closed, before `wait`
/// returns, unless another task holds a passing reference to the file then
/// (a scanner of `/proc/PID/fd`): then the lock goes when that task lets go,
/// a moment later. So the workers must vanish within a second; a child
/// holding a lock would keep them for the minute it lives.
#[test]
fn forks_racing_worker_creation_never_keep_a_dead_parents_workers() {
    let tmp = tempdir();
    let board = crate::common::open(tmp.path()).unwrap();
    let mut h = Helper::spawn("fork-storm", tmp.path());
    let ready = h.line();
    let children: Vec<String> = ready
        .strip_prefix("ready ")
        .expect("ready line")
        .split(' ')
        .map(str::to_owned)
        .collect();
    assert_eq!(children.len(), 40);
    assert!(
        !board.read_all().unwrap().is_empty(),
        "the parent's workers are listed while it lives"
    );
    h.kill();
    let killed = Instant::now();
    let mut all = board.read_all().unwrap();
    while !all.is_empty() && killed.elapsed() < Duration::from_secs(1) {
        std::thread::sleep(Duration::from_millis(1));
        all = board.read_all().unwrap();
    }
    assert!(
        all.is_empty(),
        "{} workers of a dead parent still look alive after 1 s: {:?}",
        all.len(),
        all.keys()
    );
    assert!(entries(tmp.path()).is_empty(), "{:?}", entries(tmp.path()));
    for child in &children {
        kill_and_wait(child);
    }
}

/// A fork child reads the board it inherited while another thread of its
/// parent was reading it: the reader's lock, held by a thread the child does
/// not have, must not hang the child (a `std::sync::Mutex` did, for good).
/// 20 children, all done within 5 s of the first fork, each having read
/// every worker twice.
#[test]
fn fork_children_read_although_another_thread_was_reading() {
    let tmp = tempdir();
    let mut holder = Helper::spawn("script", tmp.path());
    holder.ok("hold 200 w");
    let mut h = Helper::spawn("fork-reading", tmp.path());
    assert_eq!(h.line(), "forks 20 stuck 0 failed 0");
    assert!(h.finish().success());
    assert!(holder.finish().success());
    assert!(entries(tmp.path()).is_empty());
}
