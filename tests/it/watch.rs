//! Warm reads: a board that watches `base_dir` sees every start, exit, death
//! and takeover in the very next read, exactly as a board that lists the
//! directory every time; lost events, fork children and 10,000 workers.

use std::collections::BTreeMap;
use std::io::Write;

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
    let watching = Scoreboard::open(&dir).unwrap();
    let listing = Scoreboard::builder(&dir).watch(false).open().unwrap();
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
    let board = Scoreboard::open(&dir).unwrap();
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
    assert_eq!(entries(&dir), ["sb-b"]);
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
    let tmp = tempdir();
    let dir = tmp.path().join("board");
    let mut holder = Helper::spawn("script", &dir);
    holder.ok("hold 10000 w");
    let mut reader = Helper::spawn("low-fd-reader", &dir);
    assert_eq!(reader.line(), "counts 10000 10000 10000");
    assert!(reader.finish().success());
    assert!(holder.finish().success());
    let board = Scoreboard::open(&dir).unwrap();
    assert!(board.read_all().unwrap().is_empty());
}

fn pick(rng: &mut Rng, ids: &[String]) -> Option<String> {
    (!ids.is_empty()).then(|| ids[rng.below(ids.len() as u64) as usize].clone())
}

fn keys(m: &BTreeMap<String, Vec<u8>>) -> Vec<&str> {
    m.keys().map(String::as_str).collect()
}
