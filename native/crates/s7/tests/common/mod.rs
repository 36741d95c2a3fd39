//! Helpers of the S7 parser tests: feed bytes, read what came out.
#![allow(dead_code)] // each test file uses its own subset

use icssa_core::{Message, Parser, Value};

/// What one feed gave: the messages and the errors it added.
pub struct Fed {
    pub msgs: Vec<Message>,
    pub errors: Vec<(String, String)>,
}

impl Fed {
    /// The only message: (dataset, action, fields as JSON).
    pub fn one(&self) -> (&'static str, String, String) {
        assert_eq!(self.msgs.len(), 1, "messages: {:?}", self.msgs);
        let m = &self.msgs[0];
        (m.dataset, m.action.to_string(), json(m))
    }
}

pub fn feed(parser: &mut dyn Parser, to_server: bool, data: &[u8]) -> Fed {
    let mut msgs = Vec::new();
    parser.feed(data, to_server, &mut msgs);
    let errors = parser
        .errors()
        .0
        .drain(..)
        .map(|e| (e.reason.into_owned(), e.detail))
        .collect();
    Fed { msgs, errors }
}

/// A message's fields as the JSON the sensor writes.
pub fn json(m: &Message) -> String {
    String::from_utf8(Value::Map(m.fields.clone()).to_json()).expect("UTF-8")
}

/// `tsdu` in one TPKT packet with a COTP DT header marked EOT.
pub fn dt(tsdu: &[u8]) -> Vec<u8> {
    let len = (tsdu.len() + 7) as u16;
    let mut out = vec![
        0x03,
        0x00, // TPKT version 3, reserved
        (len >> 8) as u8,
        len as u8, // TPKT length
        0x02,      // COTP LI
        0xF0,      // DT
        0x80,      // EOT, TPDU number 0
    ];
    out.extend_from_slice(tsdu);
    out
}

/// The same without EOT: a first segment of a longer TSDU.
pub fn dt_segment(tsdu: &[u8]) -> Vec<u8> {
    let mut out = dt(tsdu);
    out[6] = 0x00;
    out
}
