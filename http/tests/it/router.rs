//! The router of `RouterBuilder` over a board, served by axum on 127.0.0.1
//! and read by a real HTTP client.

use std::future::IntoFuture as _;

use parallel_scoreboard_http::RouterBuilder;

use crate::tower::{App, agent};

/// The router over the app's board, with `title` if given.
fn start(title: Option<&'static str>) -> App {
    App::with(move |runtime, listener, board, _| {
        let mut router = RouterBuilder::new(board);
        if let Some(title) = title {
            router = router.title(title);
        }
        runtime.spawn(axum::serve(listener, router.build()).into_future());
    })
}

/// GET `path` of `app`: the status code and the body.
fn get(app: &App, path: &str) -> (u16, String) {
    let mut response = agent().get(&app.url(path)).call().expect("GET");
    let body = response.body_mut().read_to_string().expect("body");
    (response.status().as_u16(), body)
}

#[test]
fn a_board_is_served_as_page_auto_json_and_metrics_with_totals_kept() {
    let app = start(Some("my <server>"));
    let mut w = app.board.worker_with_id("w1").expect("worker");
    w.update(br#"{"state":"busy","requests":7}"#)
        .expect("update");

    let (code, page) = get(&app, "/");
    assert_eq!(code, 200);
    assert!(page.contains("<title>my &lt;server&gt;</title>"), "{page}");
    assert!(page.contains("<td class=\"id\">w1</td>"), "{page}");
    let (_, same) = get(&app, "/server-status");
    assert!(same.contains("<td class=\"id\">w1</td>"), "{same}");

    let (_, json) = get(&app, "/json");
    assert_eq!(json, r#"{"w1":{"requests":7,"state":"busy"}}"#);
    let (_, auto) = get(&app, "/server-status?auto");
    assert!(auto.contains("Total Accesses: 7\n"), "{auto}");
    assert!(
        auto.ends_with("BusyWorkers: 1\nIdleWorkers: 0\nScoreboard: W\n"),
        "{auto}"
    );
    let (_, metrics) = get(&app, "/metrics");
    assert!(
        metrics.contains("\nscoreboard_requests_total 7\n"),
        "{metrics}"
    );
    let (code, raw) = get(&app, "/worker/w1");
    assert_eq!(
        (code, raw.as_str()),
        (200, r#"{"state":"busy","requests":7}"#)
    );

    // The worker leaves: its count stays in the totals.
    drop(w);
    let (code, _) = get(&app, "/worker/w1");
    assert_eq!(code, 404);
    let (_, json) = get(&app, "/json");
    assert_eq!(json, "{}");
    let (_, metrics) = get(&app, "/metrics");
    assert!(
        metrics.contains("\nscoreboard_requests_total 7\n"),
        "{metrics}"
    );
    let (code, _) = get(&app, "/nowhere");
    assert_eq!(code, 404);
}

#[test]
fn by_default_the_page_is_titled_with_the_board_directory() {
    let app = start(None);
    let (code, page) = get(&app, "/");
    assert_eq!(code, 200);
    let title = format!(
        "<title>scoreboard {}</title>",
        app.board.base_dir().display()
    );
    assert!(page.contains(&title), "{page}");
    assert!(page.contains("<p id=\"summary\">0 live workers"), "{page}");
}
