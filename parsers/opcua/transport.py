"""UA TCP transport layer (OPC 10000-6 7.1.2): the message header and HEL, ACK, ERR, RHE.

Every message (and every chunk of a secure message) starts with an 8-byte header:

| field       | width | meaning                                                            |
|-------------|-------|--------------------------------------------------------------------|
| MessageType | 3     | ``HEL`` ``ACK`` ``ERR`` ``RHE`` ``OPN`` ``MSG`` ``CLO``            |
| ChunkType   | 1     | ``F`` final, ``C`` intermediate, ``A`` abort (HEL/ACK/ERR/RHE: F)  |
| MessageSize | 4     | UInt32 LE, the whole chunk including this header                   |

Bodies of the connection-level messages:

| message | fields                                                                                   |
|---------|------------------------------------------------------------------------------------------|
| HEL     | ProtocolVersion, ReceiveBufferSize, SendBufferSize, MaxMessageSize, MaxChunkCount (UInt32 |
|         | each), EndpointUrl String (at most 4096 bytes)                                           |
| ACK     | ProtocolVersion, ReceiveBufferSize, SendBufferSize, MaxMessageSize, MaxChunkCount         |
| ERR     | Error StatusCode (UInt32), Reason String (at most 4096 bytes)                             |
| RHE     | ServerUri String, EndpointUrl String (reverse connect: sent by the server)                |
"""

from __future__ import annotations

import struct
from typing import Any

from parsers.base import NEED_MORE, NOT_PROTOCOL
from parsers.opcua.statuscodes import status_name
from parsers.opcua.types import Reader

HEADER = struct.Struct("<3scI")
_LIMITS = struct.Struct("<5I")

#: the largest chunk accepted whatever was negotiated (a longer size field is hostile)
MAX_CHUNK = 1 << 21
#: spec floor for ReceiveBufferSize / SendBufferSize
MIN_BUFFER = 8192
#: spec ceiling for EndpointUrl and Reason
MAX_URL = 4096

#: smallest legal size of each message type (header included)
MIN_SIZE: dict[bytes, int] = {
    b"HEL": 32,  # header 8 + five UInt32 + String length
    b"ACK": 28,  # header 8 + five UInt32
    b"ERR": 16,  # header 8 + Error + Reason length
    b"RHE": 16,  # header 8 + two String lengths
    b"OPN": 32,  # header 8 + channel id 4 + three lengths 12 + sequence header 8
    b"MSG": 24,  # header 8 + channel id 4 + token id 4 + sequence header 8
    b"CLO": 24,
}
_CHUNKS: dict[bytes, bytes] = {
    b"HEL": b"F", b"ACK": b"F", b"ERR": b"F", b"RHE": b"F", b"OPN": b"FCA", b"MSG": b"FCA", b"CLO": b"FCA",
}
#: MessageType and ChunkType as one UInt32 (a legal pair) -> smallest legal size of the message
_MIN_BY_KIND = {int.from_bytes(m + bytes([c]), "little"): MIN_SIZE[m] for m, cs in _CHUNKS.items() for c in cs}
_KIND_SIZE = struct.Struct("<II")
#: every prefix (1 to 4 bytes) a header can start with, to reject garbage before 8 bytes arrive
_PREFIXES = frozenset(
    t[:i] for t in (m + bytes([c]) for m, cs in _CHUNKS.items() for c in cs) for i in range(1, 5)
)


def header_size(buf: bytes, pos: int, end: int) -> int:
    """``NEED_MORE``, ``NOT_PROTOCOL`` or the MessageSize of the header at ``pos``."""
    if end - pos < 8:
        if end > pos and bytes(buf[pos : pos + min(end - pos, 4)]) not in _PREFIXES:
            return NOT_PROTOCOL
        return NEED_MORE
    kind, size = _KIND_SIZE.unpack_from(buf, pos)
    minimum = _MIN_BY_KIND.get(kind)
    if minimum is None or size < minimum:
        return NOT_PROTOCOL
    return size


def _limits(r: Reader) -> dict[str, Any]:
    """The five uint32 fields HEL and ACK share: version and the buffer/message limits."""
    p = r.pos
    r.skip(20)
    version, rbs, sbs, mms, mcc = _LIMITS.unpack_from(r.buf, p)
    return {
        "version": version,
        "receive_buffer_size": rbs,
        "send_buffer_size": sbs,
        "max_message_size": mms,
        "max_chunk_count": mcc,
    }


def decode_hello(r: Reader) -> dict[str, Any]:
    fields = _limits(r)
    n_pos = r.pos
    fields["endpoint_url"] = r.string()
    flags = _limit_flags(fields["version"], fields["receive_buffer_size"], fields["send_buffer_size"])
    if r.pos - n_pos - 4 > MAX_URL:
        flags.append("endpoint_url_too_long")
    if flags:
        fields["flags"] = flags
    return fields


def decode_acknowledge(r: Reader) -> dict[str, Any]:
    fields = _limits(r)
    flags = _limit_flags(fields["version"], fields["receive_buffer_size"], fields["send_buffer_size"])
    if flags:
        fields["flags"] = flags
    return fields


def decode_error(r: Reader) -> dict[str, Any]:
    code = r.u32()
    return {"status_code": code, "status": status_name(code), "reason": r.string()}


def decode_reverse_hello(r: Reader) -> dict[str, Any]:
    server_uri = r.string()
    return {"server_uri": server_uri, "endpoint_url": r.string()}


def _limit_flags(version: int, rbs: int, sbs: int) -> list[str]:
    flags = []
    if version != 0:
        flags.append("unknown_protocol_version")
    if rbs < MIN_BUFFER or sbs < MIN_BUFFER:
        flags.append("buffer_size_below_minimum")
    return flags
