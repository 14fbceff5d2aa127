//! JSON renderings: id → status (the original's JSON app) and the full list.

use serde_json::{Value, json};

use super::{Record, rfc3339};

/// A JSON object id → status, like the original's JSON app: a status that
/// parses as JSON is embedded as that JSON value, any other as a string
/// (lossily decoded when it is not UTF-8).
///
/// # Examples
/// ```
/// # use std::time::{Duration, UNIX_EPOCH};
/// # use parallel_scoreboard_http::Record;
/// let at = UNIX_EPOCH + Duration::from_secs(1_800_000_000);
/// let records = [Record {
///     id: "w1".into(),
///     status: br#"{"state":"busy","queue":3}"#.to_vec(),
///     pid: Some(42),
///     updates: Some(7),
///     updated_at: at,
///     started_at: at - Duration::from_secs(60),
/// }];
/// assert_eq!(
///     parallel_scoreboard_http::json_map(&records),
///     r#"{"w1":{"queue":3,"state":"busy"}}"#
/// );
/// ```
#[must_use]
pub fn json_map(records: &[Record]) -> String {
    // Written entry by entry into one buffer (a map of values first would
    // hold every status twice more): sorted by id, the last of equal ids
    // kept, as an object's keys are.
    let mut order: Vec<usize> = (0..records.len()).collect();
    order.sort_by(|&a, &b| records[a].id.cmp(&records[b].id));
    order.dedup_by(|later, kept| {
        let same = records[*later].id == records[*kept].id;
        if same {
            *kept = *later;
        }
        same
    });
    let bytes: usize = order.iter().map(|&i| records[i].status.len() + 8).sum();
    let mut out = Vec::with_capacity(bytes + 2);
    out.push(b'{');
    for (n, &i) in order.iter().enumerate() {
        if n > 0 {
            out.push(b',');
        }
        write_json(&mut out, &records[i].id);
        out.push(b':');
        let status = &records[i].status;
        match serde_json::from_slice::<Value>(status) {
            Ok(value) => write_json(&mut out, &value),
            Err(_) => write_json(&mut out, &*String::from_utf8_lossy(status)),
        }
    }
    out.push(b'}');
    String::from_utf8(out).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}

/// Appends `value` as compact JSON; writing into a `Vec` cannot fail, and
/// the serializer's output is UTF-8.
fn write_json(out: &mut Vec<u8>, value: &(impl serde::Serialize + ?Sized)) {
    let _ = serde_json::to_writer(out, value);
}

/// A JSON array of one object per record, in the records' order:
/// `{"id", "pid", "status", "status_base64", "bytes", "updates", "updated_at",
/// "started_at"}`. `status` is the status as a string, or `null` when it is
/// not UTF-8, in which case `status_base64` (present only then) has its bytes.
/// `pid` and `updates` are `null` when unknown; times are RFC 3339 (UTC).
///
/// # Examples
/// ```
/// # use std::time::{Duration, UNIX_EPOCH};
/// # use parallel_scoreboard_http::Record;
/// let at = UNIX_EPOCH + Duration::from_secs(1_800_000_000);
/// let records = [Record {
///     id: "w1".into(),
///     status: br#"{"state":"busy","queue":3}"#.to_vec(),
///     pid: Some(42),
///     updates: Some(7),
///     updated_at: at,
///     started_at: at - Duration::from_secs(60),
/// }];
/// let json = parallel_scoreboard_http::json_list(&records);
/// assert!(json.starts_with(r#"[{"bytes":26,"id":"w1","pid":42,"started_at":"2027-01-15T07:59:00.000000Z""#));
/// ```
#[must_use]
pub fn json_list(records: &[Record]) -> String {
    let list: Vec<Value> = records.iter().map(list_entry).collect();
    Value::Array(list).to_string()
}

fn list_entry(r: &Record) -> Value {
    let mut v = json!({
        "id": r.id,
        "pid": r.pid,
        "status": std::str::from_utf8(&r.status).ok(),
        "bytes": r.status.len(),
        "updates": r.updates,
        "updated_at": rfc3339(r.updated_at),
        "started_at": rfc3339(r.started_at),
    });
    if std::str::from_utf8(&r.status).is_err() {
        use base64::Engine as _;
        let b64 = base64::engine::general_purpose::STANDARD.encode(&r.status);
        v["status_base64"] = Value::String(b64);
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::tests::record;

    #[test]
    fn map_embeds_json_statuses() {
        let r = [
            record("a", br#"{"n":1}"#),
            record("b", b"plain \"text\""),
            record("c", b"\xff\xfe"),
            record("d", b"12"),
            record("a", br#"{"n":2}"#),
        ];
        let v: Value = serde_json::from_str(&json_map(&r)).unwrap();
        assert_eq!(
            v,
            json!({"a": {"n": 2}, "b": "plain \"text\"", "c": "\u{fffd}\u{fffd}", "d": 12})
        );
    }

    #[test]
    fn list_has_every_field() {
        let r = [record("a", b"ok"), record("b", b"\x00\xff")];
        let v: Value = serde_json::from_str(&json_list(&r)).unwrap();
        assert_eq!(
            v[0],
            json!({"id": "a", "pid": 9, "status": "ok", "bytes": 2, "updates": 3,
                   "updated_at": "1970-01-01T00:00:01.000000Z", "started_at": "1970-01-01T00:00:00.000000Z"})
        );
        assert_eq!(v[1]["status"], Value::Null);
        assert_eq!(v[1]["status_base64"], "AP8=");
        assert_eq!(v[1]["bytes"], 2);
    }
}
