//! Helpers shared by the integration tests: feed bytes, read the messages back as JSON text.

use icssa_core::json::{write, Value};
use icssa_core::{Message, Parser};

/// A fresh flow's parser.
pub fn flow() -> Box<dyn Parser> {
    icssa_modbus::parser()
}

/// One message as `action {fields}` (the fields as the event writes them).
pub fn show(m: &Message) -> String {
    let mut out = Vec::new();
    write(&mut out, &Value::Map(m.fields.clone()));
    format!(
        "{} {}",
        m.action,
        String::from_utf8(out).expect("JSON is UTF-8")
    )
}

/// Feeds `data` in one direction; returns the messages it completed, one line each.
pub fn feed(p: &mut Box<dyn Parser>, data: &[u8], to_server: bool) -> Vec<String> {
    let mut out = Vec::new();
    p.feed(data, to_server, &mut out);
    for m in &out {
        assert_eq!(m.dataset, "modbus");
        assert_eq!(m.to_server, to_server);
    }
    out.iter().map(show).collect()
}

/// Feeds one ADU that must give exactly one message; returns it.
pub fn one(p: &mut Box<dyn Parser>, data: &[u8], to_server: bool) -> String {
    let got = feed(p, data, to_server);
    assert_eq!(got.len(), 1, "{got:?}");
    got.into_iter().next().unwrap_or_default()
}

/// The errors the parser kept, as (reason, detail), drained.
pub fn errors(p: &mut Box<dyn Parser>) -> Vec<(String, String)> {
    p.errors()
        .0
        .drain(..)
        .map(|e| (e.reason.into_owned(), e.detail))
        .collect()
}

/// Sends `req` then `resp` on a fresh flow; checks both messages and that no error was kept.
pub fn pair(req: &[u8], want_req: &str, resp: &[u8], want_resp: &str) {
    let mut p = flow();
    assert_eq!(one(&mut p, req, true), want_req);
    assert_eq!(one(&mut p, resp, false), want_resp);
    assert!(errors(&mut p).is_empty());
}
