//! Writes the seed corpora: real status files made by the library for
//! `parse_status_file`, and op sequences for `ops_model`.
//!
//! `cargo run --example make_seeds` (from `fuzz/`); run once, the seeds are
//! committed under `corpus/`.

#[allow(dead_code)]
#[path = "../checks.rs"]
mod checks;

use std::fs;
use std::path::Path;

use parallel_scoreboard::Scoreboard;

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus");
    status_files(&root.join("parse_status_file"));
    op_sequences(&root.join("ops_model"));
}

/// Live workers' status files, copied while they are live, each prefixed with
/// the name choice 0 (the name the header's id maps to).
fn status_files(out: &Path) {
    fs::create_dir_all(out).unwrap();
    let dir = tempfile_dir("seeds");
    let board = Scoreboard::open(&dir).unwrap();
    let cases: [(&str, &str, usize, u32); 7] = [
        ("fresh", "w1", 0, 0),
        ("short", "acceptor-3", 20, 1),
        ("many", "a", 64, 7),
        ("escaped", "../x", 5, 2),
        ("hashed", &"é".repeat(127), 100, 1),
        ("grown", "big", 6000, 1),
        ("grown-back", "big2", 9000, 3),
    ];
    for (tag, id, len, updates) in cases {
        let mut w = board.worker_with_id(id).unwrap();
        for k in 0..updates {
            let n = if k + 1 == updates { len } else { len / 3 + 1 };
            let status: Vec<u8> = (0..n).map(|i| b"status "[i % 7]).collect();
            w.update(&status).unwrap();
        }
        let mut bytes = vec![0u8];
        bytes.extend(fs::read(w.path()).unwrap());
        fs::write(out.join(format!("seed-{tag}")), &bytes).unwrap();
        // The seed must parse as the library wrote it.
        checks::check_status_file(&bytes);
    }
    drop(board);
    fs::remove_dir_all(&dir).unwrap();
}

/// Byte strings (from a fixed xorshift) that decode to sequences using every
/// kind of operation, the first few of them.
fn op_sequences(out: &Path) {
    fs::create_dir_all(out).unwrap();
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut kept = 0;
    for attempt in 0..100_000 {
        let len = 48 + attempt % 200;
        let bytes: Vec<u8> = (0..len)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x.to_le_bytes()[0]
            })
            .collect();
        let ops = checks::decode_ops(&bytes);
        let kinds: std::collections::HashSet<_> = ops.iter().map(std::mem::discriminant).collect();
        if kinds.len() >= 6 {
            println!("seed-ops-{kept}: {ops:?}");
            checks::check_ops(&bytes);
            fs::write(out.join(format!("seed-ops-{kept}")), &bytes).unwrap();
            kept += 1;
            if kept == 8 {
                return;
            }
        }
    }
}

fn tempfile_dir(tag: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("psb-{tag}-{}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    dir
}
