//! The contract every protocol parser follows and the stream driver they share: a port of
//! `parsers/base.py`, behaviour for behaviour (framing, buffering, resynchronisation, error
//! bounds), so that both implementations recover the same messages from the same bytes.

use crate::json::{Map, Text};

/// `frame` answers: the header is incomplete.
pub const NEED_MORE: i64 = 0;
/// `frame` answers: these bytes cannot start a message.
pub const NOT_PROTOCOL: i64 = -1;
/// Errors kept for the sensor to drain (it counts and logs them); beyond this they are dropped.
pub const MAX_ERRORS: usize = 1000;

/// A message that cannot be decoded. `reason` is a short snake_case key used for counting.
#[derive(Debug, Clone, PartialEq)]
pub struct ParseError {
    pub reason: Text,
    pub detail: String,
}

impl ParseError {
    pub fn new(reason: impl Into<Text>, detail: impl Into<String>) -> Self {
        ParseError {
            reason: reason.into(),
            detail: detail.into(),
        }
    }
}

pub type Decoded<T = ()> = Result<T, ParseError>;

/// One application message, ready to become an event (see `parsers.base.Message`).
#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    pub dataset: &'static str,
    pub action: Text,
    pub fields: Map,
    pub to_server: bool,
}

impl Message {
    pub fn new(
        dataset: &'static str,
        action: impl Into<Text>,
        fields: Map,
        to_server: bool,
    ) -> Self {
        Message {
            dataset,
            action: action.into(),
            fields,
            to_server,
        }
    }
}

/// The soft errors of a flow's parser (Python's `self.error(...)`), bounded.
#[derive(Debug, Default)]
pub struct Errors(pub Vec<ParseError>);

impl Errors {
    pub fn error(&mut self, reason: impl Into<Text>, detail: impl Into<String>) {
        self.keep(ParseError::new(reason, detail));
    }

    pub fn keep(&mut self, e: ParseError) {
        if self.0.len() < MAX_ERRORS {
            self.0.push(e);
        }
    }
}

/// What a protocol implements (Python: a `StreamParser` subclass's own methods).
pub trait Protocol {
    /// `event.dataset` of the parser's errors (its messages name their own dataset).
    fn dataset(&self) -> &'static str;
    /// The largest message accepted; a longer length field is hostile and triggers a resync.
    fn max_message(&self) -> usize {
        65536
    }
    /// `NEED_MORE`, `NOT_PROTOCOL` or the total length of the message starting at `pos`.
    fn frame(&self, buf: &[u8], pos: usize, end: usize) -> i64;
    /// Decodes `buf[pos..end]` (exactly one framed message), appending messages to `out`.
    fn decode(
        &mut self,
        buf: &[u8],
        pos: usize,
        end: usize,
        to_server: bool,
        out: &mut Vec<Message>,
        errors: &mut Errors,
    ) -> Decoded;
    /// During resync: does a message of `length` bytes really start at `pos`?
    fn plausible(&self, _buf: &[u8], _pos: usize, _end: usize, _length: usize) -> bool {
        true
    }
    /// Bytes are missing in this direction: drop per-direction state beyond the driver's.
    fn gap(&mut self, _to_server: bool) {}
}

/// A flow's parser as the sensor sees it.
pub trait Parser {
    fn dataset(&self) -> &'static str;
    /// Takes the next in-order bytes of one direction; appends the messages they complete.
    fn feed(&mut self, data: &[u8], to_server: bool, out: &mut Vec<Message>);
    fn gap(&mut self, to_server: bool);
    /// The flow was picked up without its beginning: resync both directions.
    fn start_midstream(&mut self);
    fn errors(&mut self) -> &mut Errors;
    /// Bytes skipped while resynchronising: (to client, to server).
    fn skipped(&self) -> [u64; 2];
}

/// Per-flow parser state plus the shared incremental driver (Python: `StreamParser`).
pub struct StreamParser<P: Protocol> {
    pub proto: P,
    // per direction (index 1 = to server): pending bytes of an incomplete message
    buf: [Vec<u8>; 2],
    // per direction: true while looking for the next message boundary
    resync: [bool; 2],
    pub errors: Errors,
    pub skipped: [u64; 2],
}

impl<P: Protocol> StreamParser<P> {
    pub fn new(proto: P) -> Self {
        StreamParser {
            proto,
            buf: [Vec::new(), Vec::new()],
            resync: [false, false],
            errors: Errors::default(),
            skipped: [0, 0],
        }
    }

    /// Runs the framing loop over `buf`; returns the offset of the first byte not consumed.
    fn run(&mut self, buf: &[u8], d: usize, to_server: bool, out: &mut Vec<Message>) -> usize {
        let end = buf.len();
        let limit = self.proto.max_message() as i64;
        let mut pos = 0;
        while pos < end {
            if self.resync[d] {
                let (found, complete) = self.find_boundary(buf, pos, end);
                self.skipped[d] += (found - pos) as u64;
                pos = found;
                if !complete {
                    break; // keep the bytes from `found` on: a header may straddle two chunks
                }
                self.resync[d] = false;
            }
            let n = self.proto.frame(buf, pos, end);
            if n == NEED_MORE {
                break;
            }
            if n < 0 || n > limit {
                let reason = if n > limit {
                    "bad_length"
                } else {
                    "not_protocol"
                };
                self.errors.error(reason, format!("at offset {pos}"));
                self.resync[d] = true;
                pos += 1;
                continue;
            }
            let n = n as usize;
            if pos + n > end {
                break;
            }
            if let Err(e) = self
                .proto
                .decode(buf, pos, pos + n, to_server, out, &mut self.errors)
            {
                self.errors.keep(e);
            }
            pos += n;
        }
        pos
    }

    /// (offset, true) of the next plausible message, or (offset to keep from, false).
    fn find_boundary(&self, buf: &[u8], mut pos: usize, end: usize) -> (usize, bool) {
        let limit = self.proto.max_message() as i64;
        while pos < end {
            let n = self.proto.frame(buf, pos, end);
            if n == NEED_MORE {
                return (pos, false);
            }
            if 0 < n && n <= limit && self.proto.plausible(buf, pos, end, n as usize) {
                return (pos, true);
            }
            pos += 1;
        }
        (end, false)
    }
}

impl<P: Protocol> Parser for StreamParser<P> {
    fn dataset(&self) -> &'static str {
        self.proto.dataset()
    }

    fn feed(&mut self, data: &[u8], to_server: bool, out: &mut Vec<Message>) {
        let d = to_server as usize;
        if self.buf[d].is_empty() {
            let pos = self.run(data, d, to_server, out);
            if pos < data.len() {
                self.buf[d] = data[pos..].to_vec();
            }
        } else {
            let mut buf = std::mem::take(&mut self.buf[d]);
            buf.extend_from_slice(data);
            let pos = self.run(&buf, d, to_server, out);
            buf.drain(..pos);
            self.buf[d] = buf;
        }
    }

    fn gap(&mut self, to_server: bool) {
        let d = to_server as usize;
        self.buf[d].clear();
        self.resync[d] = true;
        self.proto.gap(to_server);
    }

    fn start_midstream(&mut self) {
        self.resync = [true, true];
    }

    fn errors(&mut self) -> &mut Errors {
        &mut self.errors
    }

    fn skipped(&self) -> [u64; 2] {
        self.skipped
    }
}
