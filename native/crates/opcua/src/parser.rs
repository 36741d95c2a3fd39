//! Per-connection state of OPC UA binary: negotiated limits, secure channels, chunk reassembly,
//! request/response pairing; turns each complete message into one `Message` (port of
//! `parsers/opcua/parser.py`).
//!
//! State kept per TCP connection (all bounded):
//!
//! - limits from HEL/ACK: the largest message and chunk count each side accepts, and buffer sizes;
//! - secure channels (`MAX_CHANNELS`): policy URI and security mode, which decide whether a body
//!   is in clear (see `secure`);
//! - per direction, messages being reassembled from chunks (`secure::Reassembler`) and the last
//!   sequence number (a jump is flagged);
//! - requests waiting for their response (`MAX_PENDING`), keyed by request id, so a response
//!   carries its request's service and targets (nodes, attributes, values written, user name).
//!
//! The Python `decode` has a shortcut for a final MSG chunk of a known channel in clear; it gives
//! what the general path (`_secure`) gives, so only the general path is ported.

use icssa_core::{Decoded, Errors, Map, Message, ParseError, Protocol, Text, Value};
use icssa_opcua_codec::ids::ACTIONS;
use icssa_opcua_codec::scalars::u32_at;
use icssa_opcua_codec::statuscodes::status_name;
use icssa_opcua_codec::types::Reader;

use crate::channels::{ChannelRef, Channels};
use crate::pairing::Pending;
use crate::secure::{
    negotiated, plain_service_id, policy_text, sequence_follows, Added, Partial, Reassembler,
    MAX_CHUNKS, MAX_MESSAGE, POLICY_NONE,
};
use crate::services::{decode_service, Service};
use crate::transport::{
    decode_acknowledge, decode_error, decode_hello, decode_reverse_hello, header_size, MAX_CHUNK,
};

const DATASET: &str = "opcua";

/// The action of a secure-channel message whose service is not known.
fn channel_action(name: &str) -> &'static str {
    match name {
        "OPN" => "open_secure_channel",
        "CLO" => "close_secure_channel",
        _ => "protected_message",
    }
}

/// The ChunkType as text (`chunk.decode("latin-1")`).
fn chunk_text(chunk: u8) -> Text {
    match chunk {
        b'C' => Text::Borrowed("C"),
        b'A' => Text::Borrowed("A"),
        _ => Text::Owned(char::from(chunk).to_string()),
    }
}

fn flag(name: &'static str) -> Value {
    Value::from(name)
}

/// The message being decoded: `buf[pos..end]`, sent in direction `d` (1 = to server), its
/// ChunkType byte.
#[derive(Clone, Copy)]
struct Span<'a> {
    chunk: u8,
    buf: &'a [u8],
    pos: usize,
    end: usize,
    d: usize,
    to_server: bool,
}

/// OPC UA binary, one instance per TCP connection (Python: `OpcUaParser`).
#[derive(Default)]
pub struct OpcUa {
    /// direction index (1 = to server) of the OPC UA client, once known
    client: Option<usize>,
    /// per sending direction: (largest message body, most chunks) the receiver accepts
    limits: [(u64, u64); 2],
    /// per sending direction: the receiver's buffer size, the largest chunk allowed
    chunk_limit: [u64; 2],
    channels: Channels,
    reasm: [Reassembler; 2],
    pending: Pending,
    last_seq: [Option<u32>; 2],
    /// encrypted intermediate chunks since the last final chunk, per direction
    hidden: [u64; 2],
}

impl OpcUa {
    pub fn new() -> Self {
        OpcUa {
            limits: [(MAX_MESSAGE, MAX_CHUNKS); 2],
            chunk_limit: [MAX_CHUNK; 2],
            ..Default::default()
        }
    }

    /// HEL (from the client) bounds what the server sends (direction `d`), ACK what the client
    /// sends; each also states the peer's buffer sizes. `l`: version, ReceiveBufferSize,
    /// SendBufferSize, MaxMessageSize, MaxChunkCount.
    fn negotiate(&mut self, d: usize, l: &[u32; 5], ack: bool) {
        self.limits[d] = (negotiated(l[3], MAX_MESSAGE), negotiated(l[4], MAX_CHUNKS));
        self.chunk_limit[d] = negotiated(l[1], MAX_CHUNK);
        if !ack {
            self.chunk_limit[1 - d] = negotiated(l[2], MAX_CHUNK);
        }
    }

    /// HEL, ACK, ERR, RHE.
    fn connection(&mut self, kind: &[u8], at: &Span, out: &mut Vec<Message>) -> Decoded {
        let (d, end) = (at.d, at.end);
        let mut r = Reader::new(at.buf, at.pos + 8, end);
        let (mut fields, action, is_response, mtype) = match kind {
            b"HEL" => {
                let (fields, l) = decode_hello(&mut r)?;
                self.negotiate(1 - d, &l, false);
                self.client = Some(d);
                (fields, "hello", false, "HEL")
            }
            b"ACK" => {
                let (fields, l) = decode_acknowledge(&mut r)?;
                self.negotiate(1 - d, &l, true);
                self.client = Some(1 - d);
                (fields, "acknowledge", true, "ACK")
            }
            b"ERR" => (decode_error(&mut r)?, "error", true, "ERR"),
            _ => {
                let fields = decode_reverse_hello(&mut r)?;
                self.client = Some(1 - d);
                (fields, "reverse_hello", false, "RHE")
            }
        };
        if r.pos != end {
            match fields.get_mut("flags") {
                Some(Value::List(flags)) => flags.push(flag("trailing_bytes")),
                _ => fields.push("flags", vec![flag("trailing_bytes")]),
            }
        }
        fields.push("message_type", mtype);
        fields.push("is_response", is_response);
        out.push(Message::new(DATASET, action, fields, at.to_server));
        Ok(())
    }

    /// OPN, MSG, CLO chunks.
    fn secure(
        &mut self,
        name: &'static str,
        at: &Span,
        out: &mut Vec<Message>,
        errors: &mut Errors,
    ) -> Decoded {
        let Span {
            chunk,
            buf,
            pos,
            end,
            d,
            to_server,
        } = *at;
        // the smallest chunk has both
        let channel_id = u32_at(buf, pos + 8);
        let token = u32_at(buf, pos + 12);
        let mut fields = Map::with_capacity(24);
        fields.push("message_type", name);
        fields.push("secure_channel_id", channel_id);
        let mut flags: Vec<Value> = Vec::new();
        if end.saturating_sub(pos) as u64 > self.chunk_limit[d] {
            flags.push(flag("chunk_exceeds_buffer_size"));
        }
        let seq_pos;
        let channel: Option<ChannelRef>;
        let plain;
        if name == "OPN" {
            let mut r = Reader::new(buf, pos + 12, end);
            let policy = r.string()?.map(|p| policy_text(&p));
            fields.push("security_policy", policy.clone());
            fields.push("sender_certificate_length", r.bytestring_length()?.max(0));
            fields.push("receiver_thumbprint_length", r.bytestring_length()?.max(0));
            seq_pos = r.pos;
            plain = policy.as_deref() == Some(POLICY_NONE)
                || plain_service_id(buf, seq_pos, end).is_some();
            channel = Some(self.channels.open(channel_id, policy));
        } else {
            seq_pos = pos + 16;
            fields.push("token_id", token);
            channel = self.channels.index(channel_id).map(ChannelRef::Known);
            match channel.and_then(|c| self.channels.get_mut(c)) {
                None => plain = plain_service_id(buf, seq_pos, end).is_some(),
                Some(c) => {
                    plain = c.in_clear(buf, seq_pos, end);
                    if let Some(policy) = &c.policy {
                        fields.push("security_policy", policy.clone());
                    }
                }
            }
        }
        let (mode, signature) = match channel.and_then(|c| self.channels.get_mut(c)) {
            Some(c) => (c.mode.clone(), c.signature_length()),
            None => (None, None),
        };
        if let Some(mode) = &mode {
            fields.push("security_mode", mode.clone());
        }
        if chunk != b'F' {
            fields.push("chunk_type", chunk_text(chunk));
        }
        if !plain {
            self.hidden_message(name, channel.is_some(), fields, flags, at, out);
            return Ok(());
        }
        fields.push("encrypted", false);
        if let Some(mode) = &mode {
            fields.push("protected", mode != "None");
        }
        if seq_pos + 8 > end {
            let left = end as i64 - seq_pos as i64;
            return Err(ParseError::new(
                "truncated",
                format!("sequence header at offset {seq_pos}, {left} left"),
            ));
        }
        let seq = u32_at(buf, seq_pos);
        let request_id = u32_at(buf, seq_pos + 4);
        let body_pos = seq_pos + 8;
        fields.push("sequence_number", seq);
        fields.push("request_id", request_id);
        if let Some(last) = self.last_seq[d] {
            if !sequence_follows(last, seq) {
                flags.push(flag("sequence_number_jump"));
            }
        }
        self.last_seq[d] = Some(seq);
        let mut body_end = end;
        if mode.as_deref() == Some("Sign") && channel.is_some() {
            match signature {
                None => flags.push(flag("signature_length_unknown")),
                Some(sig) => body_end = body_pos.max(end.saturating_sub(sig)),
            }
        }
        let body_bytes = buf.get(body_pos..body_end).unwrap_or(&[]);
        if chunk == b'A' {
            let partial = self.reasm[d].abort(request_id);
            let mut body = Reader::new(buf, body_pos, body_end);
            return abort(partial, &mut body, fields, flags, to_server, out);
        }
        if chunk == b'C' {
            let (max_size, max_chunks) = self.limits[d];
            match self.reasm[d].add(request_id, body_bytes, max_size, max_chunks) {
                Added::Kept {
                    too_many_partials: true,
                } => {
                    errors.error("too_many_partials", format!("request {request_id}"));
                }
                Added::Kept { .. } => {}
                Added::Dropped {
                    problem,
                    chunks,
                    service,
                } => {
                    fields.push("chunks", chunks);
                    flags.push(flag(problem));
                    emit(name, service, fields, flags, to_server, out);
                }
            }
            return Ok(());
        }
        let joined;
        let mut body = if self.reasm[d].contains(request_id) {
            let (data, chunks) = self.reasm[d].finish(request_id, body_bytes);
            joined = data;
            fields.push("chunks", chunks);
            Reader::new(&joined, 0, joined.len())
        } else {
            Reader::new(buf, body_pos, body_end)
        };
        let mut service = Service::default();
        let mut action: Text = match decode_service(&mut body, &mut fields, &mut service) {
            Ok(action) => action,
            Err(e) => {
                errors.keep(e);
                flags.push(flag("malformed_body"));
                let known = service.id.and_then(|id| ACTIONS.get(id));
                Text::Borrowed(known.unwrap_or(channel_action(name)))
            }
        };
        if action == "unknown_service" && name != "MSG" {
            action = Text::Borrowed(channel_action(name));
        }
        if let Some(is_response) = service.is_response {
            if !is_response {
                self.client = Some(d);
            }
            action = self.pending.pair(
                request_id,
                is_response,
                &service,
                &mut fields,
                &mut flags,
                action,
            );
        }
        if name == "OPN" {
            if let Some(channel) = channel {
                self.channels
                    .learn(channel, service.id, &fields, &mut flags);
            }
        }
        if !flags.is_empty() {
            fields.push("flags", flags);
        }
        out.push(Message::new(DATASET, action, fields, to_server));
        Ok(())
    }

    /// A chunk whose sequence header and body cannot be read: one event per message.
    fn hidden_message(
        &mut self,
        name: &'static str,
        known_channel: bool,
        mut fields: Map,
        flags: Vec<Value>,
        at: &Span,
        out: &mut Vec<Message>,
    ) {
        let (d, chunk) = (at.d, at.chunk);
        if chunk == b'C' {
            self.hidden[d] += 1;
            return;
        }
        let chunks = self.hidden[d] + 1;
        self.hidden[d] = 0;
        if chunks > 1 {
            fields.push("chunks", chunks);
        }
        let action = if !known_channel {
            // no OpenSecureChannel seen (picked up mid-stream): unreadable, not known encrypted
            fields.push("decoded", false);
            if name == "MSG" {
                "unknown_service"
            } else {
                channel_action(name)
            }
        } else {
            fields.push("encrypted", true);
            fields.push("protected", true);
            if chunk == b'A' {
                "abort"
            } else {
                channel_action(name)
            }
        };
        if let Some(client) = self.client {
            fields.push("is_response", d != client);
        }
        if !flags.is_empty() {
            fields.push("flags", flags);
        }
        out.push(Message::new(DATASET, action, fields, at.to_server));
    }
}

/// An abort chunk: Error and Reason, and what is known of the message it ends.
fn abort(
    partial: Option<Partial>,
    body: &mut Reader,
    mut fields: Map,
    flags: Vec<Value>,
    to_server: bool,
    out: &mut Vec<Message>,
) -> Decoded {
    let code = body.u32()?;
    fields.push("status_code", code);
    fields.push("status", status_name(code));
    fields.push("reason", body.string()?);
    if let Some(partial) = partial {
        fields.push("chunks", partial.chunks + 1);
        if let Some(service) = partial.first_service_id() {
            fields.push("service_id", service);
        }
    }
    if !flags.is_empty() {
        fields.push("flags", flags);
    }
    out.push(Message::new(DATASET, "abort", fields, to_server));
    Ok(())
}

/// An event for a message dropped at a bound (too large, too many chunks).
fn emit(
    name: &'static str,
    service: Option<u32>,
    mut fields: Map,
    flags: Vec<Value>,
    to_server: bool,
    out: &mut Vec<Message>,
) {
    let mut action = if name == "MSG" {
        "unknown_service"
    } else {
        channel_action(name)
    };
    if let Some(service) = service {
        fields.push("service_id", service);
        action = ACTIONS.get(service).unwrap_or(action);
    }
    fields.push("flags", flags);
    out.push(Message::new(DATASET, action, fields, to_server));
}

impl Protocol for OpcUa {
    fn dataset(&self) -> &'static str {
        DATASET
    }

    fn max_message(&self) -> usize {
        MAX_CHUNK as usize
    }

    fn frame(&self, buf: &[u8], pos: usize, end: usize) -> i64 {
        header_size(buf, pos, end)
    }

    /// After a gap: the chunk must fit the negotiated buffers, a secure chunk must name a channel
    /// of this connection (when any is known), and the header after this message, when buffered,
    /// must be valid too.
    fn plausible(&self, buf: &[u8], pos: usize, end: usize, length: usize) -> bool {
        if length as u64 > self.chunk_limit[0].max(self.chunk_limit[1]) {
            return false;
        }
        let kind = buf.get(pos..pos + 3).unwrap_or(&[]);
        if !self.channels.is_empty() && matches!(kind, b"OPN" | b"MSG" | b"CLO") && pos + 12 <= end
        {
            let channel = u32_at(buf, pos + 8);
            if self.channels.index(channel).is_none() && !(channel == 0 && kind[0] == b'O') {
                return false;
            }
        }
        let next = pos + length;
        if next >= end {
            return true;
        }
        header_size(buf, next, end) >= 0
    }

    fn gap(&mut self, to_server: bool) {
        let d = to_server as usize;
        self.reasm[d].clear();
        self.last_seq[d] = None;
        self.hidden[d] = 0;
    }

    fn decode(
        &mut self,
        buf: &[u8],
        pos: usize,
        end: usize,
        to_server: bool,
        out: &mut Vec<Message>,
        errors: &mut Errors,
    ) -> Decoded {
        let (kind, chunk) = match buf.get(pos..pos + 4) {
            Some(h) => (&h[..3], h[3]),
            None => return Ok(()),
        };
        let at = Span {
            chunk,
            buf,
            pos,
            end,
            d: to_server as usize,
            to_server,
        };
        let name = match kind {
            b"OPN" => "OPN",
            b"MSG" => "MSG",
            b"CLO" => "CLO",
            _ => return self.connection(kind, &at, out),
        };
        self.secure(name, &at, out, errors)
    }
}
