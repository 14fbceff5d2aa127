//! The external programs the tests drive: outside CI a missing one makes its
//! tests *ignored* (with the reason, `cli/build.rs` decides); in CI (`CI`
//! set) this test, never ignored, fails instead.

use testkit::tools::{
    CHROMIUM, CURL, FAKETIME, HTPASSWD, OPENSSL, PERL, PROMETHEUS, PROMTOOL, SYSTEMD_ANALYZE, TMUX,
    Tool,
};

/// Each program, with whether the build found it (and so runs its tests).
/// (`ab` is the HTTP crate's: `http/tests/it/tools.rs`.)
const BUILT_WITH: [(&Tool, bool); 10] = [
    (&CHROMIUM, cfg!(has_chromium)),
    (&TMUX, cfg!(has_tmux)),
    (&PERL, cfg!(has_perl)),
    (&PROMETHEUS, cfg!(has_prometheus)),
    (&PROMTOOL, cfg!(has_promtool)),
    (&CURL, cfg!(has_curl)),
    (&OPENSSL, cfg!(has_openssl)),
    (&HTPASSWD, cfg!(has_htpasswd)),
    (&SYSTEMD_ANALYZE, cfg!(has_systemd_analyze)),
    (&FAKETIME, cfg!(has_faketime)),
];

#[test]
fn ci_has_every_tool_the_tests_use() {
    let missing: Vec<String> = BUILT_WITH
        .iter()
        .filter(|(tool, built)| !built || tool.find().is_none())
        .map(|(tool, _)| tool.missing())
        .collect();
    if std::env::var_os("CI").is_some() {
        assert!(
            missing.is_empty(),
            "CI runs every test; their tests were ignored: {}",
            missing.join("; ")
        );
    }
    for m in &missing {
        eprintln!("{m}: its tests are ignored");
    }
}
