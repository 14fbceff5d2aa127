//! The layer and the router in real servers on 127.0.0.1 (axum, hyper
//! through hyper-util, tonic), driven by real HTTP and gRPC clients; the
//! board is read by the test.
//!
//! Helper processes are this test binary re-executed in a role
//! (`helper.rs`).

// Test modules share their helpers with `pub`; this crate exports nothing.
#![allow(unreachable_pub)]

mod grpc;
mod helper;
mod router;
mod tools;
mod tower;

testkit::helper_entry!(helper::run);
