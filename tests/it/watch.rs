//! Warm reads: a board that watches `base_dir` sees every start, exit, death
//! and takeover in the very next read, exactly as a board that lists the
//! directory every time; lost events, fork children and 10,000 workers.

use std::collections::BTreeMap;
use std::io::{BufRead, Write};
use std::path::Path;

use parallel_scoreboard::Scoreboard;

use crate::common::{Helper, Rng, entries, tempdir};

/// A worker process and the ids of the workers it holds.
struct Proc {
    helper: Helper,
    ids: Vec<String>,
}

/// Random starts, updates (growing files), drops, SIGKILLs and takeovers of
/// a dead worker's id; after every step a watching board and a listing board
/// must both read exactly the live workers' latest statuses.
#[test]
fn watching_and_listing_boards_agree_with_the_truth_after_every_step() {
    let tmp = tempdir();
    let dir = tmp.path().join("board");
    let watching = crate::common::open(&dir).unwrap();
    let listing = crate::common::builder(&dir).watch(false).open().unwrap();
    let mut truth: BTreeMap<String, Vec<u8>> = BTreeMap::new();
    let mut procs: Vec<Proc> = Vec::new();
    let mut rng = Rng(0x003a_7c11);
    let mut next_id = 0;
    let (mut kills, mut takeovers, mut grown) = (0, 0, 0);

    assert!(watching.read_all().unwrap().is_empty());
    for step in 0..160 {
        let action = if procs.is_empty() { 0 } else { rng.below(10) };
        match action {
            0 if procs.len() < 4 => procs.push(Proc {
                helper: Helper::spawn("script", &dir),
                ids: Vec::new(),
            }),
            0..=3 => {
                let p = rng.below(procs.len() as u64) as usize;
                let id = format!("w{next_id}");
                next_id += 1;
                procs[p].helper.ok(&format!("worker {id}"));
                let text = format!("started {step}");
                procs[p].helper.ok(&format!("wupdate {id} {text}"));
                procs[p].ids.push(id.clone());
                truth.insert(id, text.into_bytes());
            }
            4..=6 => {
                let p = rng.below(procs.len() as u64) as usize;
                if let Some(id) = pick(&mut rng, &procs[p].ids) {
                    // Up to 6000 bytes: files grow past their first page.
                    let len = rng.below(6000) as usize;
                    if len > 1792 {
                        grown += 1;
                    }
                    let text: String = std::iter::repeat_n('x', len)
                        .chain(format!(" {step}").chars())
                        .collect();
                    procs[p].helper.ok(&format!("wupdate {id} {text}"));
                    truth.insert(id, text.into_bytes());
                }
            }
            7 => {
                let p = rng.below(procs.len() as u64) as usize;
                if let Some(id) = pick(&mut rng, &procs[p].ids) {
                    procs[p].helper.ok(&format!("drop {id}"));
                    procs[p].ids.retain(|i| *i != id);
                    truth.remove(&id);
                }
            }
            _ => {
                // SIGKILL a worker process; sometimes another one takes over
                // one of its ids before anyone reads.
                let p = rng.below(procs.len() as u64) as usize;
                let dead = procs.remove(p);
                dead.helper.kill();
                kills += 1;
                for id in &dead.ids {
                    truth.remove(id);
                }
                if let (Some(id), false) = (dead.ids.first(), procs.is_empty()) {
                    let q = rng.below(procs.len() as u64) as usize;
                    procs[q].helper.ok(&format!("worker {id}"));
                    procs[q].helper.ok(&format!("wupdate {id} took over"));
                    procs[q].ids.push(id.clone());
                    truth.insert(id.clone(), b"took over".to_vec());
                    takeovers += 1;
                }
            }
        }
        let (w, l) = if step % 2 == 0 {
            (watching.read_all().unwrap(), listing.read_all().unwrap())
        } else {
            let l = listing.read_all().unwrap();
            (watching.read_all().unwrap(), l)
        };
        assert_eq!(keys(&w), keys(&truth), "watching board, step {step}");
        assert_eq!(w, truth, "watching board, step {step}");
        assert_eq!(l, truth, "listing board, step {step}");
    }
    assert!(
        kills >= 5 && takeovers >= 3 && grown >= 10,
        "{kills} {takeovers} {grown}"
    );
    for p in procs {
        assert!(p.helper.finish().success());
    }
    assert!(watching.read_all().unwrap().is_empty());
    assert!(entries(&dir).is_empty(), "{:?}", entries(&dir));
}

/// More events than the kernel queues (a directory churning with unrelated
/// files) while a worker dies and another starts: the watching board notices
/// the overflow, lists the directory, and reads the truth.
#[test]
fn a_lost_event_queue_falls_back_to_listing() {
    let tmp = tempdir();
    let dir = tmp.path().join("board");
    let board = crate::common::open(&dir).unwrap();
    let mut a = Helper::spawn("script", &dir);
    a.ok("worker a");
    a.ok("wupdate a alive");
    assert_eq!(keys(&board.read_all().unwrap()), ["a"]);

    let max: usize = std::fs::read_to_string("/proc/sys/fs/inotify/max_queued_events")
        .map_or(16384, |s| s.trim().parse().unwrap());
    a.kill();
    // Each round queues a create, a close after writing and a delete.
    for i in 0..max / 2 + 64 {
        let p = dir.join(format!("churn-{i}"));
        std::fs::File::create(&p).unwrap().write_all(b"x").unwrap();
        std::fs::remove_file(&p).unwrap();
    }
    let mut b = Helper::spawn("script", &dir);
    b.ok("worker b");
    b.ok("wupdate b started");
    assert_eq!(
        board.read_all().unwrap(),
        BTreeMap::from([("b".to_owned(), b"started".to_vec())])
    );
    assert_eq!(entries(&dir), ["status_b"]);
    // And the watch is back in use: the next start is seen too.
    b.ok("worker c");
    b.ok("wupdate c too");
    assert_eq!(keys(&board.read_all().unwrap()), ["b", "c"]);
    assert!(b.finish().success());
}

/// A fork child that reads with its parent's board sets up its own watch: it
/// does not take the parent's events, so the parent still sees a worker that
/// started while the child was reading.
#[test]
fn a_fork_child_reading_does_not_take_its_parents_events() {
    let tmp = tempdir();
    let dir = tmp.path().join("board");
    std::fs::create_dir(&dir).unwrap();
    let mut reader = Helper::spawn("fork-reader", &dir);
    assert_eq!(reader.line(), "ready");
    reader.tell("go");
    let mut w = Helper::spawn("script", &dir);
    w.ok("worker late");
    w.ok("wupdate late here");
    assert_eq!(reader.line(), "child late");
    assert_eq!(reader.line(), "parent late");
    assert!(w.finish().success());
}

/// 10,000 live workers held by another process are read by a process limited
/// to 64 open files, cold, warm and by listing: the reader keeps no
/// descriptor per worker.
#[test]
fn ten_thousand_workers_read_within_64_open_files() {
    let _heavy = crate::common::heavy();
    let tmp = tempdir();
    let dir = tmp.path().join("board");
    let mut holder = Helper::spawn("script", &dir);
    holder.ok("hold 10000 w");
    let mut reader = Helper::spawn("low-fd-reader", &dir);
    assert_eq!(reader.line(), "counts 10000 10000 10000");
    assert!(reader.finish().success());
    assert!(holder.finish().success());
    let board = crate::common::open(&dir).unwrap();
    assert!(board.read_all().unwrap().is_empty());
}

fn pick(rng: &mut Rng, ids: &[String]) -> Option<String> {
    (!ids.is_empty()).then(|| ids[rng.below(ids.len() as u64) as usize].clone())
}

fn keys(m: &BTreeMap<String, Vec<u8>>) -> Vec<&str> {
    m.keys().map(String::as_str).collect()
}

/// The boards of `PSB_BOARDS` (paths separated by `:`).
fn boards_of_env() -> Vec<Scoreboard> {
    std::env::var("PSB_BOARDS")
        .expect("PSB_BOARDS")
        .split(':')
        .map(|p| crate::common::open(p).expect("open"))
        .collect()
}

/// The `everywhere` helper: a worker `PSB_TAG` with status `s-PSB_TAG` on
/// every board of `PSB_BOARDS`; answers `@@ ready`, then waits for EOF.
pub fn everywhere() {
    let tag = std::env::var("PSB_TAG").expect("PSB_TAG");
    let boards = boards_of_env();
    let workers: Vec<_> = boards
        .iter()
        .map(|b| {
            let mut w = b.worker_with_id(tag.as_str()).expect("worker");
            w.update(format!("s-{tag}").as_bytes()).expect("update");
            w
        })
        .collect();
    println!("@@ ready");
    for line in std::io::stdin().lock().lines() {
        if line.is_err() {
            break;
        }
    }
    drop(workers);
}

/// For the helpers of the tests of the shared watch: their boards watch even
/// in the suite's listing run (`PARALLEL_SCOREBOARD_NO_WATCH=1`), as what
/// these tests check is the watch.
const WATCHING: (&str, &str) = (testkit::NO_WATCH_VAR, "0");

/// The inotify instances this process has open.
fn inotify_instances() -> usize {
    std::fs::read_dir("/proc/self/fd")
        .unwrap()
        .filter_map(|e| std::fs::read_link(e.ok()?.path()).ok())
        .filter(|target| target.as_os_str() == "anon_inode:inotify")
        .count()
}

/// The `boards-watcher` helper: a board on each path of `PSB_BOARDS`; on
/// each `read` line, reads them all in turn and answers `@@ read INSTANCES
/// IDS...`: the inotify instances it then has open, and for each board its
/// workers' ids joined by `,` (`-` for none), each status checked to be
/// `s-ID`.
pub fn boards_watcher() {
    let boards = boards_of_env();
    for line in std::io::stdin().lock().lines() {
        let line = line.expect("stdin");
        assert_eq!(line, "read");
        let ids: Vec<String> = boards
            .iter()
            .map(|b| {
                let all = b.read_all().expect("read");
                for (id, status) in &all {
                    assert_eq!(status, format!("s-{id}").as_bytes(), "{id}");
                }
                let ids: Vec<&str> = all.keys().map(String::as_str).collect();
                if ids.is_empty() {
                    "-".to_owned()
                } else {
                    ids.join(",")
                }
            })
            .collect();
        println!("@@ read {} {}", inotify_instances(), ids.join(" "));
    }
}

/// 200 boards read by one process share one inotify instance (a user may
/// have only 128, for all their programs), and each reads its own truth:
/// with two workers on every board, after one of them is SIGKILLed, after a
/// lost event queue (another board's directory churning past the kernel's
/// limit) hid a start, and after the other is SIGKILLed.
#[test]
fn two_hundred_boards_share_one_inotify_instance_and_read_right() {
    const BOARDS: usize = 200;
    let _heavy = crate::common::heavy();
    let tmp = tempdir();
    let dirs: Vec<_> = (0..BOARDS)
        .map(|i| tmp.path().join(format!("b{i}")))
        .collect();
    let list = dirs
        .iter()
        .map(|d| d.to_str().unwrap())
        .collect::<Vec<_>>()
        .join(":");
    let spawn = |tag: &str| {
        let mut h = Helper::spawn_with(
            "everywhere",
            &dirs[0],
            &[("PSB_BOARDS", &list), ("PSB_TAG", tag), WATCHING],
        );
        assert_eq!(h.line(), "ready");
        h
    };
    let (a, b) = (spawn("a"), spawn("b"));
    let mut reader = Helper::spawn_with(
        "boards-watcher",
        &dirs[0],
        &[("PSB_BOARDS", &list), WATCHING],
    );
    let expect = |ids: &dyn Fn(usize) -> &'static str| {
        let ids: Vec<&str> = (0..BOARDS).map(ids).collect();
        format!("1 {}", ids.join(" "))
    };
    let read = |reader: &mut Helper| {
        let answer = reader.send("read");
        answer.strip_prefix("read ").expect("read line").to_owned()
    };
    // Cold, then warm: one instance, each board its two workers.
    assert_eq!(read(&mut reader), expect(&|_| "a,b"));
    assert_eq!(read(&mut reader), expect(&|_| "a,b"));

    // A worker process dies: gone from every board at the next read.
    a.kill();
    assert_eq!(read(&mut reader), expect(&|_| "b"));

    // More events than the kernel queues, in the first board's directory,
    // then a start in the last board's: that start's events are lost with
    // the overflow, which the first board's read finds, and every board
    // lists its directory.
    let max: usize = std::fs::read_to_string("/proc/sys/fs/inotify/max_queued_events")
        .map_or(16384, |s| s.trim().parse().unwrap());
    for i in 0..max / 2 + 64 {
        let p = dirs[0].join(format!("churn-{i}"));
        std::fs::File::create(&p).unwrap().write_all(b"x").unwrap();
        std::fs::remove_file(&p).unwrap();
    }
    let mut c = Helper::spawn("script", &dirs[BOARDS - 1]);
    c.ok("worker c");
    c.ok("wupdate c s-c");
    let with_c = |i| if i == BOARDS - 1 { "b,c" } else { "b" };
    assert_eq!(read(&mut reader), expect(&with_c));
    assert_eq!(read(&mut reader), expect(&with_c));

    // The other dies too.
    b.kill();
    c.kill();
    assert_eq!(read(&mut reader), expect(&|_| "-"));
    assert!(reader.finish().success());
}

/// The kernel watches on the directory `dir` in this process's inotify
/// instances (from `/proc/self/fdinfo`, which lists each watch's inode), by
/// watch descriptor: `wd:N` joined by `,`, or `-` for none.
fn watches_on(dir: &str) -> String {
    use std::os::unix::fs::MetadataExt;
    let inode = format!(" ino:{:x} ", std::fs::metadata(dir).unwrap().ino());
    let mut wds = Vec::new();
    for e in std::fs::read_dir("/proc/self/fd").unwrap() {
        let e = e.unwrap();
        let Ok(target) = std::fs::read_link(e.path()) else {
            continue;
        };
        if target.as_os_str() != "anon_inode:inotify" {
            continue;
        }
        let fdinfo = std::fs::read_to_string(Path::new("/proc/self/fdinfo").join(e.file_name()));
        for line in fdinfo.unwrap().lines() {
            if let Some(rest) = line.strip_prefix("inotify ")
                && rest.contains(&inode)
            {
                wds.push(rest.split(' ').next().unwrap().to_owned());
            }
        }
    }
    if wds.is_empty() {
        "-".to_owned()
    } else {
        wds.join(",")
    }
}

/// The `same-dir-watches` helper: two boards on one directory, read, then
/// dropped one after the other; answers `@@ watches W1 W2 W3 instances N`:
/// the kernel watches on the directory with both boards, with the second
/// alone (a new worker read by it meanwhile), with neither; and the inotify
/// instances then open.
pub fn same_dir_watches(dir: &str) {
    let first = crate::common::open(dir).expect("open");
    let second = crate::common::open(dir).expect("open");
    first.read_all().expect("read");
    second.read_all().expect("read");
    let both = watches_on(dir);
    drop(first);
    let writer = crate::common::builder(dir)
        .watch(false)
        .open()
        .expect("open");
    writer.update(b"new").expect("update");
    let all = second.read_all().expect("read");
    assert_eq!(all.len(), 1, "{all:?}");
    let alone = watches_on(dir);
    drop(second);
    let neither = watches_on(dir);
    println!(
        "@@ watches {both} {alone} {neither} instances {}",
        inotify_instances()
    );
}

/// Two boards on one directory share the kernel's watch (which gives both
/// the same descriptor): dropping one keeps the other's, the very same (a
/// watch removed and placed again would get a new descriptor), and the last
/// one dropped closes the instance.
#[test]
fn boards_on_one_directory_share_its_watch_until_the_last_goes() {
    let tmp = tempdir();
    let dir = tmp.path().join("board");
    let mut h = Helper::spawn_with("same-dir-watches", &dir, &[WATCHING]);
    let line = h.line();
    let fields: Vec<&str> = line.split(' ').collect();
    assert_eq!(fields.len(), 6, "{line}");
    assert!(
        fields[1].starts_with("wd:") && !fields[1].contains(','),
        "one watch: {line}"
    );
    assert_eq!(
        fields[2], fields[1],
        "the second board keeps the watch: {line}"
    );
    assert_eq!(fields[3..], ["-", "instances", "0"], "{line}");
    assert!(h.finish().success());
}

/// The suite's mode reaches every board it opens, in helper processes too:
/// a board opened in this run's mode holds an inotify instance after a read
/// exactly when the run watches, and the variable set either way in a
/// helper's environment decides its boards' mode. The library reads no
/// environment variable: were the suite's helpers to ignore it, the listing
/// run (`PARALLEL_SCOREBOARD_NO_WATCH=1`) would watch, and this would fail.
#[test]
fn the_suite_mode_decides_whether_boards_watch() {
    let tmp = tempdir();
    let dir = tmp.path().join("board");
    let board = crate::common::open(&dir).unwrap();
    let mut w = board.worker_with_id("w").unwrap();
    w.update(b"s-w").unwrap();
    let list = dir.to_str().unwrap();
    let read = |env: &[(&str, &str)]| {
        let mut env = env.to_vec();
        env.push(("PSB_BOARDS", list));
        let mut reader = Helper::spawn_with("boards-watcher", &dir, &env);
        reader.send("read")
    };
    let this_run = usize::from(testkit::watching());
    // Inherited: this run's mode.
    assert_eq!(read(&[]), format!("read {this_run} w"));
    assert_eq!(read(&[(testkit::NO_WATCH_VAR, "1")]), "read 0 w");
    assert_eq!(read(&[(testkit::NO_WATCH_VAR, "0")]), "read 1 w");
}
