//! The external programs these tests drive: outside CI a missing one makes
//! its tests *ignored* (with the reason, `http/build.rs` decides); in CI
//! (`CI` set) this test, never ignored, fails instead.

use testkit::tools::AB;

#[test]
fn ci_has_every_tool_the_tests_use() {
    let missing = !cfg!(has_ab) || AB.find().is_none();
    if std::env::var_os("CI").is_some() {
        assert!(
            !missing,
            "CI runs every test; their tests were ignored: {}",
            AB.missing()
        );
    }
    if missing {
        eprintln!("{}: its tests are ignored", AB.missing());
    }
}
