//! Helper processes: the roles this test binary plays when re-executed.

pub fn run(role: &str) {
    let dir = std::env::var(testkit::DIR_VAR).expect("board dir");
    match role {
        "layered" => crate::tower::layered(&dir),
        other => panic!("unknown helper role {other}"),
    }
}
