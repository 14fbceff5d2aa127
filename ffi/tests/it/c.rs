//! The C programs, compiled with the system's C compiler against the static
//! library this test run built: the parity test (`tests/c/parity.c`) and
//! the example of `docs/c.md`.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The directory of the library this test binary was built with (the
/// test's `deps/`, where cargo puts the static library of the same build).
fn lib_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("current_exe");
    let deps = exe.parent().expect("deps");
    assert!(
        deps.join("libparallel_scoreboard_ffi.a").exists(),
        "no libparallel_scoreboard_ffi.a beside {}",
        exe.display()
    );
    deps.to_path_buf()
}

/// Compiles `source` into `exe`, statically linked with the library;
/// fails the test with the compiler's output.
fn compile(source: &Path, exe: &Path) {
    let crate_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let out = Command::new(std::env::var_os("CC").unwrap_or_else(|| "cc".into()))
        .args(["-std=c11", "-Wall", "-Wextra", "-Werror", "-g", "-o"])
        .arg(exe)
        .arg("-I")
        .arg(crate_dir.join("include"))
        .arg(source)
        .arg(lib_dir().join("libparallel_scoreboard_ffi.a"))
        .args(["-lpthread", "-ldl", "-lm"])
        .output()
        .expect("run cc");
    assert!(
        out.status.success(),
        "cc {} failed:\n{}{}",
        source.display(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Runs `exe` with `args`; fails the test unless it exits 0 printing
/// `expect`.
fn run(exe: &Path, args: &[&Path], expect: &str) {
    let out = Command::new(exe)
        .args(args)
        .output()
        .expect("run the program");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains(expect),
        "{} exited with {}:\n{stdout}{}",
        exe.display(),
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn the_parity_scenario_passes_in_c() {
    let tmp = testkit::tempdir();
    let exe = tmp.path().join("parity");
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/c/parity.c");
    compile(&source, &exe);
    run(&exe, &[tmp.path()], "parity: all checks passed");
    assert_eq!(
        testkit::entries(tmp.path()),
        ["parity"],
        "the program removed its board"
    );
}

/// The one C block of `docs/c.md`.
fn doc_example() -> String {
    let doc = Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/c.md");
    let text = std::fs::read_to_string(doc).expect("docs/c.md");
    let blocks: Vec<&str> = text
        .split("```c\n")
        .skip(1)
        .map(|b| b.split("```").next().expect("a closed block"))
        .collect();
    let program: Vec<&&str> = blocks.iter().filter(|b| b.contains("int main(")).collect();
    assert_eq!(program.len(), 1, "one complete program in docs/c.md");
    (*program[0]).to_owned()
}

#[test]
fn the_example_of_the_c_guide_compiles_and_runs() {
    let tmp = testkit::tempdir();
    let source = tmp.path().join("example.c");
    std::fs::write(&source, doc_example()).unwrap();
    let exe = tmp.path().join("example");
    compile(&source, &exe);
    let board = tmp.path().join("board");
    run(&exe, &[&board], "live workers");
    assert!(
        testkit::entries(&board).is_empty(),
        "the example freed its workers"
    );
}
