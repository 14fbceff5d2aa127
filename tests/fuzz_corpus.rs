//! Replays every committed corpus and regression input of the fuzz targets
//! (`fuzz/corpus/<target>/`, `fuzz/regressions/<target>/`) through the
//! targets' own checks (`fuzz/checks.rs`, included here), on stable, without
//! cargo-fuzz.

#[path = "../fuzz/checks.rs"]
mod checks;

use std::any::Any;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::thread;
use std::time::Duration;

/// Longest a single input may take; a hang fails the test instead of stalling it.
const PER_INPUT: Duration = Duration::from_secs(20);

/// The files of `fuzz/<kind>/<target>/`, sorted; `None` if there is no such
/// directory.
fn files(kind: &str, target: &str) -> Option<Vec<PathBuf>> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz")
        .join(kind)
        .join(target);
    let entries = std::fs::read_dir(&dir).ok()?;
    let mut files: Vec<PathBuf> = entries
        .map(|e| {
            e.unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
                .path()
        })
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    Some(files)
}

fn panic_message(payload: &(dyn Any + Send)) -> &str {
    payload
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("(a panic without a message)")
}

/// Runs `check` on every input of `target`, each on its own thread with a
/// time limit; fails naming every input that failed.
fn replay(target: &str, check: fn(&[u8])) {
    let corpus = files("corpus", target).unwrap_or_else(|| {
        panic!("fuzz/corpus/{target}/ is missing: the corpus must be committed")
    });
    assert!(
        !corpus.is_empty(),
        "fuzz/corpus/{target}/ is empty: the corpus must be committed"
    );
    let inputs: Vec<PathBuf> = corpus
        .into_iter()
        .chain(files("regressions", target).unwrap_or_default())
        .collect();
    let mut failures = Vec::new();
    for (n, path) in inputs.iter().enumerate() {
        let data = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let (done, finished) = mpsc::channel();
        let runner = thread::Builder::new()
            .name(format!("{target}: {}", path.display()))
            .spawn(move || {
                check(&data);
                let _ = done.send(());
            })
            .expect("spawning a replay thread");
        match finished.recv_timeout(PER_INPUT) {
            Ok(()) => runner.join().expect("the replay thread finished"),
            Err(RecvTimeoutError::Disconnected) => {
                let payload = runner.join().expect_err("the replay thread panicked");
                failures.push(format!("{}: {}", path.display(), panic_message(&*payload)));
            }
            // The runner is left behind, and may hold the scratch directory:
            // stop here.
            Err(RecvTimeoutError::Timeout) => panic!(
                "{}: no result after {PER_INPUT:?} (a hang); failed before it: {failures:#?}; \
                 not run after it: {:#?}",
                path.display(),
                &inputs[n + 1..]
            ),
        }
    }
    checks::remove_scratch(target);
    assert!(
        failures.is_empty(),
        "{} of {} inputs of {target} failed:\n{}",
        failures.len(),
        inputs.len(),
        failures.join("\n")
    );
}

#[test]
fn parse_status_file_corpus_and_regressions_pass() {
    replay("parse_status_file", checks::check_status_file);
}

#[test]
fn ops_model_corpus_and_regressions_pass() {
    replay("ops_model", checks::check_ops);
}
