//! The JSON a slot publishes, written by hand into the slot's own buffer so
//! that a request allocates nothing once the buffer has grown.
//!
//! Busy, while a request runs:
//! `{"state":"busy","method":"GET","path":"/a","client":"127.0.0.1:50114","requests":3}`
//! (`client` is `null` when the server gave no peer address; `requests`
//! counts this one). It carries no start time: the busy status is the
//! slot's only update while its request runs, so the update's own time, on
//! the monotonic clock, is when the request started, and a reader's age of
//! the update is how long it has run, whatever either wall clock says.
//!
//! Idle, once it has ended:
//! `{"state":"idle","requests":3,"last_code":200,"last_ms":1.204,"last_outcome":"complete"}`
//! (`last_code` is `null` when no response was made). After a gRPC call the
//! call's own status follows `last_code`, as `"last_grpc_status":5` (gRPC
//! answers a failed call with HTTP 200 and puts its status in the trailers,
//! or in the headers of a response that is nothing else).

use std::io::Write as _;
use std::net::SocketAddr;
use std::time::Duration;

/// The longest path a status shows, in bytes (cut at a character boundary):
/// a long URL must not grow every slot's file.
pub(crate) const MAX_PATH: usize = 1024;

/// How a request's slot was given back.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// The response body was sent to its end.
    Complete,
    /// The request was dropped before the service made a response (the
    /// client hung up, a timeout cancelled it).
    Cancelled,
    /// The response body was dropped before its end.
    Aborted,
    /// The service or the response body returned an error.
    Error,
}

/// What a busy status shows of the request.
pub(crate) struct Busy<'a> {
    pub(crate) method: &'a str,
    pub(crate) path: &'a str,
    pub(crate) client: Option<SocketAddr>,
    pub(crate) requests: u64,
}

/// Replaces `buf` with the busy status of `b`.
pub(crate) fn busy(buf: &mut Vec<u8>, b: &Busy<'_>) {
    buf.clear();
    buf.extend_from_slice(br#"{"state":"busy","method":"#);
    // The usual methods as constants: a copy of a known length is a few
    // stores, not a call to `memcpy`.
    match b.method {
        "GET" => buf.extend_from_slice(br#""GET""#),
        "POST" => buf.extend_from_slice(br#""POST""#),
        "HEAD" => buf.extend_from_slice(br#""HEAD""#),
        "PUT" => buf.extend_from_slice(br#""PUT""#),
        other => string(buf, other),
    }
    buf.extend_from_slice(br#","path":"#);
    string(buf, cut(b.path, MAX_PATH));
    buf.extend_from_slice(br#","client":"#);
    match b.client {
        // The usual case by hand (`write!` takes longer than the rest of the
        // status), the same text as `Display`.
        Some(SocketAddr::V4(addr)) => {
            buf.push(b'"');
            for (i, octet) in addr.ip().octets().into_iter().enumerate() {
                if i > 0 {
                    buf.push(b'.');
                }
                uint(buf, octet.into());
            }
            buf.push(b':');
            uint(buf, addr.port().into());
            buf.push(b'"');
        }
        // Writing into a Vec cannot fail.
        Some(addr) => {
            let _ = write!(buf, "\"{addr}\"");
        }
        None => buf.extend_from_slice(b"null"),
    }
    buf.extend_from_slice(br#","requests":"#);
    uint(buf, b.requests);
    buf.push(b'}');
}

/// How a request ended, as its idle status shows it.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Ended {
    pub(crate) requests: u64,
    /// The response's HTTP status code, if a response was made.
    pub(crate) code: Option<u16>,
    /// A gRPC call's status (`grpc-status`), if the response carried one.
    pub(crate) grpc: Option<u32>,
    pub(crate) took: Duration,
    pub(crate) outcome: Outcome,
    /// Requests the layer has served without a slot, shown once not 0.
    pub(crate) unrecorded: u64,
}

/// Replaces `buf` with the idle status after the request `e`.
pub(crate) fn idle(buf: &mut Vec<u8>, e: &Ended) {
    buf.clear();
    buf.extend_from_slice(br#"{"state":"idle","requests":"#);
    uint(buf, e.requests);
    buf.extend_from_slice(br#","last_code":"#);
    match e.code {
        Some(code) => uint(buf, code.into()),
        None => buf.extend_from_slice(b"null"),
    }
    if let Some(grpc) = e.grpc {
        buf.extend_from_slice(br#","last_grpc_status":"#);
        uint(buf, grpc.into());
    }
    let (took, outcome) = (e.took, e.outcome);
    buf.extend_from_slice(br#","last_ms":"#);
    millis(buf, took.saturating_mul(1000));
    buf.extend_from_slice(br#","last_outcome":"#);
    // Constants, as for the method.
    match outcome {
        Outcome::Complete => buf.extend_from_slice(br#""complete""#),
        Outcome::Cancelled => buf.extend_from_slice(br#""cancelled""#),
        Outcome::Aborted => buf.extend_from_slice(br#""aborted""#),
        Outcome::Error => buf.extend_from_slice(br#""error""#),
    }
    if e.unrecorded != 0 {
        buf.extend_from_slice(br#","unrecorded":"#);
        uint(buf, e.unrecorded);
    }
    buf.push(b'}');
}

/// The gRPC status a response's headers or trailers carry (`grpc-status`,
/// a decimal code), if any. Reads the header in place: nothing allocated.
pub(crate) fn grpc_status(headers: &http::HeaderMap) -> Option<u32> {
    // A name made once, not parsed from a string at each lookup.
    const GRPC_STATUS: http::HeaderName = http::HeaderName::from_static("grpc-status");
    if headers.is_empty() {
        return None;
    }
    headers.get(GRPC_STATUS)?.to_str().ok()?.parse().ok()
}

/// `d` in seconds with three decimals (`d * 1000` is then milliseconds with
/// microseconds, as `last_ms` uses it).
fn millis(buf: &mut Vec<u8>, d: Duration) {
    uint(buf, d.as_secs());
    let ms = d.subsec_millis();
    buf.extend_from_slice(&[
        b'.',
        b'0' + (ms / 100) as u8,
        b'0' + (ms / 10 % 10) as u8,
        b'0' + (ms % 10) as u8,
    ]);
}

/// `n` in decimal (`write!` costs more than the rest of a status): up to
/// three digits (octets, status codes, seconds) in place, as one copy of a
/// known length; longer numbers by `itoa`, two digits a step.
#[inline]
fn uint(buf: &mut Vec<u8>, n: u64) {
    let digit = |n: u64| b'0' + (n % 10) as u8;
    match n {
        0..10 => buf.push(digit(n)),
        10..100 => buf.extend_from_slice(&[digit(n / 10), digit(n)]),
        100..1000 => buf.extend_from_slice(&[digit(n / 100), digit(n / 10), digit(n)]),
        _ => buf.extend_from_slice(itoa::Buffer::new().format(n).as_bytes()),
    }
}

/// The longest prefix of `s` of at most `max` bytes ending at a character
/// boundary.
fn cut(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// `s` as a JSON string: quotes, backslashes and control characters escaped.
fn string(buf: &mut Vec<u8>, s: &str) {
    buf.push(b'"');
    let bytes = s.as_bytes();
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        if b == b'"' || b == b'\\' || b < 0x20 || b == 0x7f {
            buf.extend_from_slice(&bytes[start..i]);
            // Writing into a Vec cannot fail.
            let _ = match b {
                b'"' | b'\\' => write!(buf, "\\{}", char::from(b)),
                _ => write!(buf, "\\u{b:04x}"),
            };
            start = i + 1;
        }
    }
    buf.extend_from_slice(&bytes[start..]);
    buf.push(b'"');
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(buf: &[u8]) -> &str {
        std::str::from_utf8(buf).unwrap()
    }

    #[test]
    fn busy_status() {
        let mut buf = b"old".to_vec();
        busy(
            &mut buf,
            &Busy {
                method: "GET",
                path: "/a\"b\\c\u{1}é",
                client: Some("127.0.0.1:50114".parse().unwrap()),
                requests: 3,
            },
        );
        assert_eq!(
            text(&buf),
            r#"{"state":"busy","method":"GET","path":"/a\"b\\c\u0001é","client":"127.0.0.1:50114","requests":3}"#
        );
        busy(
            &mut buf,
            &Busy {
                method: "PUT",
                path: "/",
                client: None,
                requests: 1,
            },
        );
        assert!(text(&buf).contains(r#""method":"PUT","path":"/","#));
        assert!(text(&buf).contains(r#""client":null,"#));
        for client in [
            "0.0.0.0:0",
            "255.255.255.255:65535",
            "[::1]:8080",
            "10.1.20.3:443",
        ] {
            busy(
                &mut buf,
                &Busy {
                    method: "PATCH",
                    path: "/",
                    client: Some(client.parse().unwrap()),
                    requests: 1,
                },
            );
            assert!(
                text(&buf).contains(&format!(r#""client":"{client}","#)),
                "{}",
                text(&buf)
            );
            assert!(text(&buf).contains(r#""method":"PATCH","#));
        }
    }

    #[test]
    fn idle_status() {
        let mut buf = Vec::new();
        let ended = Ended {
            requests: 7,
            code: Some(404),
            grpc: None,
            took: Duration::from_micros(1_204),
            outcome: Outcome::Complete,
            unrecorded: 0,
        };
        idle(&mut buf, &ended);
        assert_eq!(
            text(&buf),
            r#"{"state":"idle","requests":7,"last_code":404,"last_ms":1.204,"last_outcome":"complete"}"#
        );
        let cancelled = Ended {
            requests: 8,
            code: None,
            took: Duration::from_secs(2),
            outcome: Outcome::Cancelled,
            ..ended
        };
        idle(&mut buf, &cancelled);
        assert_eq!(
            text(&buf),
            r#"{"state":"idle","requests":8,"last_code":null,"last_ms":2000.000,"last_outcome":"cancelled"}"#
        );
        let grpc = Ended {
            code: Some(200),
            grpc: Some(5),
            ..ended
        };
        idle(&mut buf, &grpc);
        assert_eq!(
            text(&buf),
            r#"{"state":"idle","requests":7,"last_code":200,"last_grpc_status":5,"last_ms":1.204,"last_outcome":"complete"}"#
        );
        let unrecorded = Ended {
            unrecorded: 12,
            ..ended
        };
        idle(&mut buf, &unrecorded);
        assert_eq!(
            text(&buf),
            r#"{"state":"idle","requests":7,"last_code":404,"last_ms":1.204,"last_outcome":"complete","unrecorded":12}"#
        );
    }

    #[test]
    fn grpc_status_from_headers() {
        let mut h = http::HeaderMap::new();
        assert_eq!(grpc_status(&h), None);
        h.insert("grpc-status", http::HeaderValue::from_static("0"));
        assert_eq!(grpc_status(&h), Some(0));
        h.insert("grpc-status", http::HeaderValue::from_static("14"));
        assert_eq!(grpc_status(&h), Some(14));
        h.insert("grpc-status", http::HeaderValue::from_static("fourteen"));
        assert_eq!(grpc_status(&h), None);
    }

    #[test]
    fn numbers() {
        for n in [
            0,
            7,
            9,
            10,
            99,
            100,
            404,
            999,
            1000,
            9999,
            10_000,
            1_000_001,
            u64::MAX,
        ] {
            let mut buf = Vec::new();
            uint(&mut buf, n);
            assert_eq!(text(&buf), n.to_string());
        }
        let mut buf = Vec::new();
        millis(&mut buf, Duration::from_millis(5_007));
        assert_eq!(text(&buf), "5.007");
    }

    #[test]
    fn long_paths_are_cut_at_a_character_boundary() {
        let long = format!("/{}", "é".repeat(MAX_PATH));
        let cut = cut(&long, MAX_PATH);
        assert!(cut.len() <= MAX_PATH && cut.len() > MAX_PATH - 2);
        assert!(long.starts_with(cut));
    }
}
