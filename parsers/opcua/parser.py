"""Per-connection state of OPC UA binary: negotiated limits, secure channels, chunk reassembly,
request/response pairing; turns each complete message into one ``Message``.

State kept per TCP connection (all bounded):

- limits from HEL/ACK: the largest message and chunk count each side accepts, and buffer sizes;
- secure channels (``MAX_CHANNELS``): policy URI and security mode, which decide whether a body is
  in clear (see ``secure``);
- per direction, messages being reassembled from chunks (``secure.Reassembler``) and the last
  sequence number (a jump is flagged);
- requests waiting for their response (``MAX_PENDING``), keyed by request id, so a response carries
  its request's service and targets (nodes, attributes, values written, user name).
"""

from __future__ import annotations

import struct
from typing import Any

from parsers.base import Message, ParseError, StreamParser
from parsers.opcua.ids import ACTIONS
from parsers.opcua.secure import (
    MAX_CHANNELS,
    MAX_CHUNKS,
    MAX_MESSAGE,
    POLICY_NONE,
    SEQUENCE_WRAP,
    Channel,
    Partial,
    Reassembler,
    first_service_id,
    negotiated,
    plain_service_id,
    sequence_follows,
)
from parsers.opcua.services import SERVICE_FAULT, decode_service
from parsers.opcua.statuscodes import status_name
from parsers.opcua.transport import (
    HEADER,
    MAX_CHUNK,
    decode_acknowledge,
    decode_error,
    decode_hello,
    decode_reverse_hello,
    header_size,
)
from parsers.opcua.types import Reader

Fields = dict[str, Any]

#: requests waiting for a response, per connection (Suricata caps Modbus at 500)
MAX_PENDING = 512
#: request fields a response inherits when paired
CONTEXT_KEYS = (
    "nodes", "node_count", "attribute_ids", "attributes", "values", "object_ids", "method_ids",
    "endpoint_url", "session_name", "identity_token_type", "user_name", "subscription_id",
)
_SECURE = {b"OPN": "OPN", b"MSG": "MSG", b"CLO": "CLO"}
_SYMMETRIC = struct.Struct("<II")  # SecureChannelId, TokenId (OPN: the asymmetric header's first bytes)
_SEQUENCE = struct.Struct("<II")  # SequenceNumber, RequestId
#: a MSG chunk's headers in one read: type+chunk, size, channel id, token id, sequence number, request id
_MSG_HEAD = struct.Struct("<IIIIII")
_MSG_FINAL = int.from_bytes(b"MSGF", "little")
_CHANNEL_ACTIONS = {"OPN": "open_secure_channel", "CLO": "close_secure_channel", "MSG": "protected_message"}


class OpcUaParser(StreamParser):
    dataset = "opcua"
    max_message = MAX_CHUNK

    __slots__ = ("_client", "_limits", "_chunk_limit", "_channels", "_opening", "_reasm", "_pending",
                 "_last_seq", "_hidden", "_body")

    def __init__(self) -> None:
        super().__init__()
        #: direction index (1 = to server) of the OPC UA client, once known
        self._client: int | None = None
        #: per sending direction: (largest message body, most chunks) the receiver accepts
        self._limits = [(MAX_MESSAGE, MAX_CHUNKS), (MAX_MESSAGE, MAX_CHUNKS)]
        #: per sending direction: the receiver's buffer size, the largest chunk allowed
        self._chunk_limit = [MAX_CHUNK, MAX_CHUNK]
        self._channels: dict[int, Channel] = {}
        #: an OpenSecureChannel request (channel id 0) waiting for the server to assign the id
        self._opening: Channel | None = None
        self._reasm = (Reassembler(), Reassembler())
        self._pending: dict[int, Fields] = {}
        self._last_seq: list[int | None] = [None, None]
        #: encrypted intermediate chunks since the last final chunk, per direction
        self._hidden = [0, 0]
        self._body = Reader(b"", 0, 0)

    # -- framing --------------------------------------------------------------------------------
    frame = staticmethod(header_size)

    def plausible(self, buf: bytes, pos: int, end: int, length: int) -> bool:
        """After a gap: the chunk must fit the negotiated buffers, a secure chunk must name a
        channel of this connection (when any is known), and the header after this message, when
        buffered, must be valid too."""
        if length > max(self._chunk_limit):
            return False
        if self._channels and buf[pos : pos + 3] in _SECURE and pos + 12 <= end:
            channel = int.from_bytes(buf[pos + 8 : pos + 12], "little")
            if channel not in self._channels and not (channel == 0 and buf[pos] == 0x4F):  # 'O'PN
                return False
        nxt = pos + length
        if nxt >= end:
            return True
        return header_size(buf, nxt, end) >= 0

    def gap(self, to_server: bool) -> None:
        super().gap(to_server)
        d = 1 if to_server else 0
        self._reasm[d].clear()
        self._last_seq[d] = None
        self._hidden[d] = 0

    # -- decoding -------------------------------------------------------------------------------
    def decode(self, buf: bytes, pos: int, end: int, to_server: bool, out: list[Message]) -> None:
        if end - pos >= 24:
            code, _, channel_id, token, seq, request_id = _MSG_HEAD.unpack_from(buf, pos)
            if code == _MSG_FINAL:
                channel = self._channels.get(channel_id)
                d = 1 if to_server else 0
                # the common case: a final MSG chunk of a known channel in clear and unsigned, no
                # earlier chunks: what ``_secure`` does, in fewer steps
                if (channel is not None and channel.mode == "None" and channel.policy is not None
                        and request_id not in self._reasm[d].partials):
                    fields: Fields = {
                        "message_type": "MSG", "secure_channel_id": channel_id, "token_id": token,
                        "security_policy": channel.policy, "security_mode": "None", "encrypted": False,
                        "protected": False, "sequence_number": seq, "request_id": request_id,
                    }
                    flags: list[str] = []
                    if end - pos > self._chunk_limit[d]:
                        flags.append("chunk_exceeds_buffer_size")
                    last = self._last_seq[d]
                    if last is not None and (seq >= 1024 if last >= SEQUENCE_WRAP else seq != last + 1):
                        flags.append("sequence_number_jump")
                    self._last_seq[d] = seq
                    body = self._body  # one reader per connection, reset per message
                    body.buf = buf
                    body.pos = pos + 24
                    body.end = end
                    body.depth = 0
                    try:
                        action = decode_service(body, fields)
                    except ParseError as exc:
                        self.error(exc.reason, exc.detail)
                        flags.append("malformed_body")
                        action = ACTIONS.get(fields.get("service_id", -1)) or "protected_message"
                    body.buf = b""
                    action = self._pair(request_id, d, fields, flags, action)
                    if flags:
                        fields["flags"] = flags
                    out.append(Message("opcua", action, fields, to_server))
                    return
        mtype, chunk, _ = HEADER.unpack_from(buf, pos)
        d = 1 if to_server else 0
        name = _SECURE.get(mtype)
        if name is not None:
            self._secure(name, chunk.decode("latin-1"), buf, pos, end, d, to_server, out)
            return
        r = Reader(buf, pos + 8, end)
        if mtype == b"HEL":
            fields = decode_hello(r)
            action, is_response = "hello", False
            self._negotiate(1 - d, fields)
            self._client = d
        elif mtype == b"ACK":
            fields = decode_acknowledge(r)
            action, is_response = "acknowledge", True
            self._negotiate(1 - d, fields, ack=True)
            self._client = 1 - d
        elif mtype == b"ERR":
            fields = decode_error(r)
            action, is_response = "error", True
        else:
            fields = decode_reverse_hello(r)
            action, is_response = "reverse_hello", False
            self._client = 1 - d
        if r.pos != end:
            fields.setdefault("flags", []).append("trailing_bytes")
        fields["message_type"] = mtype.decode()
        fields["is_response"] = is_response
        out.append(Message("opcua", action, fields, to_server))

    def _negotiate(self, d: int, fields: Fields, ack: bool = False) -> None:
        """HEL (from the client) bounds what the server sends (direction ``d``), ACK what the
        client sends; each also states the peer's buffer sizes."""
        self._limits[d] = (
            negotiated(fields["max_message_size"], MAX_MESSAGE), negotiated(fields["max_chunk_count"], MAX_CHUNKS)
        )
        self._chunk_limit[d] = negotiated(fields["receive_buffer_size"], MAX_CHUNK)
        if not ack:
            self._chunk_limit[1 - d] = negotiated(fields["send_buffer_size"], MAX_CHUNK)

    def _secure(self, name: str, chunk: str, buf: bytes, pos: int, end: int, d: int, to_server: bool,
                out: list[Message]) -> None:
        channel_id, token = _SYMMETRIC.unpack_from(buf, pos + 8)  # the smallest chunk has both
        fields: Fields = {"message_type": name, "secure_channel_id": channel_id}
        flags: list[str] = []
        if end - pos > self._chunk_limit[d]:
            flags.append("chunk_exceeds_buffer_size")
        if name == "OPN":
            r = Reader(buf, pos + 12, end)
            policy = r.string()
            fields["security_policy"] = policy
            fields["sender_certificate_length"] = max(r.bytestring_length(), 0)
            fields["receiver_thumbprint_length"] = max(r.bytestring_length(), 0)
            seq_pos = r.pos
            channel: Channel | None = self._open_channel(channel_id, policy)
            plain = policy == POLICY_NONE or plain_service_id(buf, seq_pos, end) is not None
        else:
            seq_pos = pos + 16
            fields["token_id"] = token
            channel = self._channels.get(channel_id)
            if channel is None:
                plain = plain_service_id(buf, seq_pos, end) is not None
            else:
                plain = channel.in_clear(buf, seq_pos, end)
            if channel is not None and channel.policy is not None:
                fields["security_policy"] = channel.policy
        mode = channel.mode if channel is not None else None
        if mode is not None:
            fields["security_mode"] = mode
        if chunk != "F":
            fields["chunk_type"] = chunk
        if not plain:
            self._hidden_message(name, chunk, channel, fields, flags, d, to_server, out)
            return
        fields["encrypted"] = False
        if mode is not None:
            fields["protected"] = mode != "None"
        if seq_pos + 8 > end:
            raise ParseError("truncated", f"sequence header at offset {seq_pos}, {end - seq_pos} left")
        seq, request_id = _SEQUENCE.unpack_from(buf, seq_pos)
        body_pos = seq_pos + 8
        fields["sequence_number"] = seq
        fields["request_id"] = request_id
        last = self._last_seq[d]
        if last is not None and not sequence_follows(last, seq):
            flags.append("sequence_number_jump")
        self._last_seq[d] = seq
        body_end = end
        if mode == "Sign" and channel is not None:
            sig = channel.signature_length()
            if sig is None:
                flags.append("signature_length_unknown")
            else:
                body_end = max(body_pos, end - sig)
        reasm = self._reasm[d]
        if chunk == "A":
            self._abort(reasm.abort(request_id), Reader(buf, body_pos, body_end), fields, flags, to_server, out)
            return
        if chunk == "C":
            partial, problem = reasm.add(request_id, bytes(buf[body_pos:body_end]), *self._limits[d])
            if problem == "too_many_partials":
                self.error(problem, f"request {request_id}")
            elif problem and partial is not None:
                fields["chunks"] = partial.chunks
                self._emit(name, first_service_id(partial.parts), fields, flags + [problem], to_server, out)
            return
        if request_id in reasm.partials:
            data, chunks = reasm.finish(request_id, bytes(buf[body_pos:body_end]))
            body = Reader(data, 0, len(data))
            fields["chunks"] = chunks
        else:
            body = Reader(buf, body_pos, body_end)
        try:
            action = decode_service(body, fields)
        except ParseError as exc:
            self.error(exc.reason, exc.detail)
            flags.append("malformed_body")
            action = ACTIONS.get(fields.get("service_id", -1)) or _CHANNEL_ACTIONS[name]
        if action == "unknown_service" and name != "MSG":
            action = _CHANNEL_ACTIONS[name]
        action = self._pair(request_id, d, fields, flags, action)
        if name == "OPN" and channel is not None:
            self._learn_channel(channel, fields, flags)
        if flags:
            fields["flags"] = flags
        out.append(Message("opcua", action, fields, to_server))

    # -- secure channel state ---------------------------------------------------------------------
    def _open_channel(self, channel_id: int, policy: str | None) -> Channel:
        mode = "None" if policy == POLICY_NONE else None
        if channel_id == 0:
            self._opening = Channel(policy, mode)
            return self._opening
        channel = self._channels.get(channel_id)
        if channel is None or channel.policy != policy:
            opening = self._opening
            if opening is not None and opening.policy == policy and opening.mode is not None:
                mode = opening.mode
            channel = Channel(policy, mode)
            if channel_id not in self._channels and len(self._channels) >= MAX_CHANNELS:
                del self._channels[next(iter(self._channels))]
            self._channels[channel_id] = channel
        return channel

    def _learn_channel(self, channel: Channel, fields: Fields, flags: list[str]) -> None:
        """A readable OpenSecureChannel request states the mode; under policy None it must be None."""
        if fields.get("service_id") == 449 and fields.get("token_channel_id") != fields["secure_channel_id"]:
            flags.append("channel_id_mismatch")
        mode = fields.get("security_mode")
        if fields.get("service_id") == 446 and mode is not None:
            if channel.policy == POLICY_NONE and mode != "None":
                flags.append("security_mode_policy_mismatch")
            else:
                channel.mode = mode

    def _hidden_message(self, name: str, chunk: str, channel: Channel | None, fields: Fields,
                        flags: list[str], d: int, to_server: bool, out: list[Message]) -> None:
        """A chunk whose sequence header and body cannot be read: one event per message."""
        if chunk == "C":
            self._hidden[d] += 1
            return
        chunks = self._hidden[d] + 1
        self._hidden[d] = 0
        if chunks > 1:
            fields["chunks"] = chunks
        if channel is None:
            # no OpenSecureChannel seen (picked up mid-stream): unreadable, but not known encrypted
            fields["decoded"] = False
            action = "unknown_service" if name == "MSG" else _CHANNEL_ACTIONS[name]
        else:
            fields["encrypted"] = True
            fields["protected"] = True
            action = "abort" if chunk == "A" else _CHANNEL_ACTIONS[name]
        if self._client is not None:
            fields["is_response"] = d != self._client
        if flags:
            fields["flags"] = flags
        out.append(Message("opcua", action, fields, to_server))

    # -- chunks and pairing -----------------------------------------------------------------------
    def _abort(self, partial: Partial | None, body: Reader, fields: Fields, flags: list[str],
               to_server: bool, out: list[Message]) -> None:
        code = body.u32()
        fields["status_code"] = code
        fields["status"] = status_name(code)
        fields["reason"] = body.string()
        if partial is not None:
            fields["chunks"] = partial.chunks + 1
            service = first_service_id(partial.parts)
            if service is not None:
                fields["service_id"] = service
        if flags:
            fields["flags"] = flags
        out.append(Message("opcua", "abort", fields, to_server))

    def _emit(self, name: str, service: int | None, fields: Fields, flags: list[str], to_server: bool,
              out: list[Message]) -> None:
        """An event for a message dropped at a bound (too large, too many chunks)."""
        action = _CHANNEL_ACTIONS[name] if name != "MSG" else "unknown_service"
        if service is not None:
            fields["service_id"] = service
            action = ACTIONS.get(service, action)
        fields["flags"] = flags
        out.append(Message("opcua", action, fields, to_server))

    def _pair(self, request_id: int, d: int, fields: Fields, flags: list[str], action: str) -> str:
        """Remember a request's context; give a response its request's context. Returns the action
        (a ServiceFault takes the action of the request it answers)."""
        is_response = fields.get("is_response")
        if is_response is None:
            return action
        pending = self._pending
        if not is_response:
            self._client = d
            if len(pending) >= MAX_PENDING and request_id not in pending:
                del pending[next(iter(pending))]
                flags.append("pending_requests_overflow")
            if fields.get("service_id") == 452:  # CloseSecureChannel has no response
                return action
            ctx: Fields = {}
            for k in CONTEXT_KEYS:  # a plain loop: cheaper than a comprehension here
                if k in fields:
                    ctx[k] = fields[k]
            ctx["request_service"] = fields["service"]
            ctx["request_action"] = action
            pending[request_id] = ctx
            return action
        request = pending.pop(request_id, None)
        fields["matched"] = request is not None
        if request is None:
            return action
        fields["request_service"] = request.pop("request_service")
        request_action = request.pop("request_action")
        for k, v in request.items():
            fields.setdefault(k, v)
        return request_action if fields.get("service_id") == SERVICE_FAULT else action

