//! `parallel_scoreboard_http::ScoreboardLayer` in a real tonic (gRPC)
//! server on 127.0.0.1, called by a real tonic client: the health service of
//! `tonic-health`, whose generated code needs no protoc.
//!
//! The server is the `App` of the tower tests (`tower.rs`), so the board is
//! read and waited for the same way.

use std::net::SocketAddr;
use std::time::Duration;

use parallel_scoreboard_http::ScoreboardLayer;
use serde_json::Value;
use tonic::transport::server::{TcpConnectInfo, TcpIncoming};
use tonic::transport::{Channel, Server};
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;

use crate::tower::{App, count};

const WATCH: &str = "/grpc.health.v1.Health/Watch";

/// The health service behind the layer (slots named `grpc-N`, the client
/// from tonic's `TcpConnectInfo`), served by tonic's own server.
fn start() -> App {
    App::with(|runtime, listener, board, _| {
        let layer = ScoreboardLayer::builder(board)
            .prefix("grpc-")
            .client_addr(|e| e.get::<TcpConnectInfo>()?.remote_addr())
            .build();
        let (_reporter, health) = tonic_health::server::health_reporter();
        let server = Server::builder()
            .layer(layer)
            .add_service(health)
            .serve_with_incoming(TcpIncoming::from(listener));
        runtime.spawn(server);
    })
}

/// A client runtime (the server has its own) and a channel to `app`. The
/// runtime has a thread of its own so that the channel's connection task
/// runs between calls too (it sends the reset of a dropped stream).
fn client(app: &App) -> (tokio::runtime::Runtime, HealthClient<Channel>) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("client runtime");
    let endpoint = Channel::from_shared(format!("http://{}", app.addr))
        .expect("endpoint")
        .connect_timeout(Duration::from_secs(10));
    let channel = runtime.block_on(endpoint.connect()).expect("connect");
    (runtime, HealthClient::new(channel))
}

fn request() -> tonic::Request<HealthCheckRequest> {
    tonic::Request::new(HealthCheckRequest {
        service: String::new(),
    })
}

#[test]
fn a_grpc_stream_is_busy_while_open_and_idle_once_dropped() {
    let app = start();
    let (runtime, mut health) = client(&app);

    // Watch answers the current status at once, then keeps the stream open.
    let mut stream = runtime
        .block_on(health.watch(request()))
        .expect("Watch")
        .into_inner();
    let first = runtime.block_on(stream.message()).expect("message");
    assert_eq!(
        first.map(|m| m.status()),
        Some(ServingStatus::Serving),
        "the first message of Watch"
    );
    let slots = app.wait_for("the stream busy", |s| count(s, "busy") == 1);
    let slot = &slots["grpc-1"];
    assert_eq!(
        (&slot["method"], &slot["path"]),
        (&Value::from("POST"), &Value::from(WATCH)),
        "{slot}"
    );
    let peer: SocketAddr = slot["client"]
        .as_str()
        .expect("client")
        .parse()
        .expect("addr");
    assert!(peer.ip().is_loopback(), "{slot}");
    assert_eq!(slot["requests"], 1, "{slot}");
    // Still open, still busy: the board is read again after the stream's
    // first message, with nothing else in flight.
    assert_eq!(crate::tower::state(&app.slots()["grpc-1"]), "busy");

    // The client drops the stream (a RST_STREAM): the server drops the body.
    drop(stream);
    let slots = app.wait_for("the stream's slot idle", |s| count(s, "idle") == 1);
    let slot = &slots["grpc-1"];
    assert_eq!(slot["requests"], 1, "{slot}");
    assert_eq!(slot["last_code"], 200, "{slot}");
    assert_eq!(slot["last_outcome"], "aborted", "{slot}");
    // Dropped before its trailers: no gRPC status was sent.
    assert!(slot.get("last_grpc_status").is_none(), "{slot}");
    assert_eq!(slots.len(), 1, "{slots:?}");
}

#[test]
fn a_unary_grpc_call_reuses_the_slot_and_completes() {
    let app = start();
    let (runtime, mut health) = client(&app);
    for i in 1..=3 {
        let reply = runtime.block_on(health.check(request())).expect("Check");
        assert_eq!(reply.into_inner().status(), ServingStatus::Serving);
        let slots = app.wait_for("the call counted and idle", |s| {
            s["grpc-1"]["requests"] == i && count(s, "idle") == 1
        });
        assert_eq!(slots.len(), 1, "{slots:?}");
        assert_eq!(slots["grpc-1"]["last_code"], 200);
        assert_eq!(slots["grpc-1"]["last_grpc_status"], 0, "{slots:?}");
        assert_eq!(slots["grpc-1"]["last_outcome"], "complete");
    }
    // A call for a service the server does not know fails with NOT_FOUND in
    // the trailers; over HTTP it is still a complete 200 response, and the
    // slot shows the gRPC status beside it.
    let status = runtime
        .block_on(health.check(tonic::Request::new(HealthCheckRequest {
            service: "nowhere".to_owned(),
        })))
        .expect_err("an unknown service");
    assert_eq!(status.code(), tonic::Code::NotFound, "{status:?}");
    let slots = app.wait_for("the failed call counted", |s| s["grpc-1"]["requests"] == 4);
    assert_eq!(slots["grpc-1"]["last_code"], 200, "{slots:?}");
    assert_eq!(
        slots["grpc-1"]["last_grpc_status"], 5,
        "NOT_FOUND: {slots:?}"
    );
    assert_eq!(slots["grpc-1"]["last_outcome"], "complete", "{slots:?}");
}
