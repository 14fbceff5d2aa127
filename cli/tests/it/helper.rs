//! Helper processes: the roles this test binary plays when re-executed.

use std::collections::HashMap;
use std::io::BufRead;

use parallel_scoreboard::{Scoreboard, Worker};

use crate::common::{DIR_VAR, legacy_file, unhex, write_legacy};

pub fn run(role: &str) {
    let dir = std::env::var(DIR_VAR).expect("board dir");
    match role {
        "workers" => workers(&dir),
        "legacy" => legacy(&dir),
        other => panic!("unknown helper role {other}"),
    }
}

/// Holds workers of the board in `dir`. Commands, one per line:
/// `worker ID`, `update ID HEX`, `busy ID` (updates 1000 times), `pid`,
/// `truncate ID LEN` (cuts the worker's file to LEN bytes, and keeps it open
/// so that no close event follows), `now` (this process's wall clock, in
/// seconds since the Unix epoch).
fn workers(dir: &str) {
    let board = Scoreboard::open(dir).expect("open board");
    let mut workers: HashMap<String, Worker> = HashMap::new();
    let mut cut = HashMap::new();
    for line in std::io::stdin().lock().lines() {
        let line = line.expect("stdin");
        let mut words = line.split(' ');
        match (words.next(), words.next(), words.next()) {
            (Some("worker"), Some(id), None) => {
                workers.insert(id.to_owned(), board.worker_with_id(id).expect("worker"));
                println!("@@ ok");
            }
            (Some("update"), Some(id), Some(status)) => {
                let w = workers.get_mut(id).expect("no such worker");
                w.update(&unhex(status)).expect("update");
                println!("@@ ok");
            }
            (Some("pid"), None, None) => println!("@@ ok {}", std::process::id()),
            (Some("truncate"), Some(id), Some(len)) => {
                let file = std::fs::OpenOptions::new()
                    .write(true)
                    .open(std::path::Path::new(dir).join(format!("status_{id}")))
                    .expect("open own file");
                file.set_len(len.parse().expect("length"))
                    .expect("ftruncate");
                cut.insert(id.to_owned(), file);
                println!("@@ ok");
            }
            (Some("now"), None, None) => println!(
                "@@ ok {}",
                std::time::UNIX_EPOCH
                    .elapsed()
                    .map_or(0.0, |d| d.as_secs_f64())
            ),
            _ => println!("@@ err unknown command {line:?}"),
        }
    }
}

/// Holds legacy status files of `dir` with their exclusive `flock`, as live
/// Perl workers do. Commands: `create ID HEX`, `update ID HEX`, `pid`.
fn legacy(dir: &str) {
    let mut files = HashMap::new();
    for line in std::io::stdin().lock().lines() {
        let line = line.expect("stdin");
        let mut words = line.split(' ');
        match (words.next(), words.next(), words.next()) {
            (Some("create"), Some(id), Some(status)) => {
                let file = legacy_file(std::path::Path::new(dir), id, &unhex(status));
                file.lock().expect("flock");
                files.insert(id.to_owned(), file);
                println!("@@ ok");
            }
            (Some("update"), Some(id), Some(status)) => {
                write_legacy(files.get_mut(id).expect("no such file"), &unhex(status));
                println!("@@ ok");
            }
            (Some("pid"), None, None) => println!("@@ ok {}", std::process::id()),
            _ => println!("@@ err unknown command {line:?}"),
        }
    }
}
