//! The C ABI through its Rust signatures, the header, and the C programs
//! (the parity test and the example of docs/c.md) built against the static
//! library.

mod c;
mod callback;
mod common;
mod errors;
mod fork;
mod header;
mod reads;
