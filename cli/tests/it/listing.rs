//! `PARALLEL_SCOREBOARD_NO_WATCH`: the library reads no environment
//! variable; the tool reads this one and opens its boards in listing mode.

use crate::common::{Server, agent, get, tempdir};

/// The inotify instances process `pid` has open.
fn inotify_instances(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .unwrap()
        .filter_map(|e| std::fs::read_link(e.ok()?.path()).ok())
        .filter(|target| target.as_os_str() == "anon_inode:inotify")
        .count()
}

#[test]
fn the_no_watch_variable_makes_the_tool_list() {
    const VAR: &str = "PARALLEL_SCOREBOARD_NO_WATCH";
    let dir = tempdir();
    for (value, instances) in [(None, 1), (Some("1"), 0), (Some("0"), 1)] {
        let server = Server::start_with(dir.path(), &[], |c| {
            c.env_remove(VAR);
            if let Some(v) = value {
                c.env(VAR, v);
            }
        });
        // A read sets the watch up, where there is one to set up.
        let (status, _, body) = get(&agent(), &server.url("/json"));
        assert_eq!(status, 200, "{body}");
        assert_eq!(
            inotify_instances(server.pid()),
            instances,
            "{VAR}={value:?}"
        );
        assert!(server.stop());
    }
}
