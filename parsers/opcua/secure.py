"""UA Secure Conversation (OPC 10000-6 6.7): security headers, sequence header, chunk reassembly.

After the transport header, OPN, MSG and CLO chunks carry:

| field                         | width      | meaning                                           |
|-------------------------------|------------|---------------------------------------------------|
| SecureChannelId               | UInt32     | 0 in the first OpenSecureChannel request          |
| OPN: SecurityPolicyUri        | String     | asymmetric header, at most 255 bytes              |
| OPN: SenderCertificate        | ByteString | DER chain, null under policy None                 |
| OPN: ReceiverCertThumbprint   | ByteString | SHA-1 of the receiver's certificate, or null      |
| MSG/CLO: TokenId              | UInt32     | symmetric header: the channel's security token    |
| SequenceNumber                | UInt32     | +1 per chunk per direction                        |
| RequestId                     | UInt32     | pairs a request with its response, and chunks     |
| body                          |            | NodeId of the service encoding, then the service  |

An abort chunk (``A``) carries Error (StatusCode) and Reason (String) as its body.

Protection (6.7.2): under policy ``None`` everything is in clear. Otherwise OPN is signed and
encrypted after the asymmetric header; MSG and CLO are either signed (mode ``Sign``: sequence header
and body in clear, a signature appended) or signed and encrypted (``SignAndEncrypt``: everything
after the symmetric header is AES-CBC ciphertext). The mode travels inside the encrypted OPN body,
so the parser establishes it from facts, never from a guess:

- the encrypted part of an AES-CBC chunk is a whole number of 16-byte blocks, so a chunk of a
  channel with a known policy whose size minus 16 is not a multiple of 16 is in clear (``Sign``);
- a chunk whose sequence header is followed by the encoding NodeId of a standard service
  (``plain_service_id``) is in clear; ciphertext matches that by chance with odds below 1e-7;
- otherwise the chunk is ciphertext: its body is marked ``encrypted`` and not decoded.
"""

from __future__ import annotations

import struct

from parsers.base import ParseError
from parsers.opcua.ids import SERVICES
from parsers.opcua.types import Reader

_FOUR_BYTE = struct.Struct("<BBH")  # NodeId encoding 0x01, namespace (Byte), identifier (UInt16)
_NUMERIC = struct.Struct("<BHI")  # NodeId encoding 0x02, namespace (UInt16), identifier (UInt32)

POLICY_PREFIX = "http://opcfoundation.org/UA/SecurityPolicy#"
POLICY_NONE = POLICY_PREFIX + "None"
#: symmetric signature length (HMAC) of the standard policies; all encrypt with AES-CBC
SIGNATURE_LENGTHS: dict[str, int] = {
    POLICY_PREFIX + "Basic128Rsa15": 20,  # HMAC-SHA1
    POLICY_PREFIX + "Basic256": 20,  # HMAC-SHA1
    POLICY_PREFIX + "Basic256Sha256": 32,  # HMAC-SHA256
    POLICY_PREFIX + "Aes128_Sha256_RsaOaep": 32,
    POLICY_PREFIX + "Aes256_Sha256_RsaPss": 32,
}
AES_BLOCK = 16

#: reassembly hard caps, used when HEL/ACK negotiate 0 (no limit) or more than this
MAX_MESSAGE = 8 << 20
MAX_CHUNKS = 4096
#: messages being reassembled at once, per direction
MAX_PARTIALS = 8
#: secure channels remembered per connection
MAX_CHANNELS = 16


def plain_service_id(buf: bytes, seq_pos: int, end: int) -> int | None:
    """The service encoding id after the sequence header at ``seq_pos`` if it is a standard
    service in clear, else None."""
    p = seq_pos + 8
    if p + 4 <= end and buf[p] == 0x01:
        _, ns, ident = _FOUR_BYTE.unpack_from(buf, p)
        if ns == 0 and ident in SERVICES:
            return ident
    elif p + 7 <= end and buf[p] == 0x02:
        _, ns, ident32 = _NUMERIC.unpack_from(buf, p)
        if ns == 0 and ident32 in SERVICES:
            return ident32
    return None


#: past this sequence number the sender may wrap to below 1024
SEQUENCE_WRAP = 4294966271


def negotiated(value: int, cap: int) -> int:
    """A negotiated limit: 0 means no limit, so the hard cap applies."""
    return value if 0 < value <= cap else cap


def first_service_id(parts: list[bytes]) -> int | None:
    """The service encoding id at the start of a message's first chunk, if readable."""
    if not parts:
        return None
    try:
        return Reader(parts[0], 0, len(parts[0])).numeric_node_id()
    except ParseError:
        return None


def sequence_follows(prev: int, seq: int) -> bool:
    """Is ``seq`` the sequence number after ``prev``: +1, or a wrap to below 1024 once past
    4294966271 (OPC 10000-6 6.7.2.4)?"""
    if prev >= SEQUENCE_WRAP:
        return seq < 1024
    return seq == prev + 1


class Channel:
    """What is known about one secure channel of a connection."""

    __slots__ = ("policy", "mode")

    def __init__(self, policy: str | None, mode: str | None) -> None:
        #: SecurityPolicyUri from the asymmetric header
        self.policy = policy
        #: ``None`` / ``Sign`` / ``SignAndEncrypt``, or None while not established
        self.mode = mode

    def in_clear(self, buf: bytes, seq_pos: int, end: int) -> bool:
        """Is this channel's chunk after its symmetric header (at ``seq_pos``) in clear? Establishes
        the mode from facts when the OPN body was encrypted (see above)."""
        if self.policy == POLICY_NONE or self.mode in ("None", "Sign"):
            return True
        if self.mode == "SignAndEncrypt":
            return False
        aes = self.policy in SIGNATURE_LENGTHS
        if (aes and (end - seq_pos) % AES_BLOCK) or plain_service_id(buf, seq_pos, end) is not None:
            self.mode = "Sign"
            return True
        if aes:
            self.mode = "SignAndEncrypt"
        return False

    def signature_length(self) -> int | None:
        if self.policy == POLICY_NONE:
            return 0
        return SIGNATURE_LENGTHS.get(self.policy or "")


class Partial:
    """A message being reassembled from its chunks."""

    __slots__ = ("parts", "size", "chunks")

    def __init__(self) -> None:
        self.parts: list[bytes] = []
        self.size = 0
        self.chunks = 0


class Reassembler:
    """Chunks of the messages in progress in one direction, keyed by request id (bounded)."""

    __slots__ = ("partials",)

    def __init__(self) -> None:
        self.partials: dict[int, Partial] = {}

    def add(self, request_id: int, body: bytes, max_size: int, max_chunks: int) -> tuple[Partial | None, str]:
        """Add an intermediate chunk's body. Returns (partial, problem) where problem is ``""``,
        ``message_too_large``, ``too_many_chunks`` (the partial is dropped) or ``too_many_partials``
        (the oldest other partial was dropped to make room)."""
        problem = ""
        partial = self.partials.get(request_id)
        if partial is None:
            if len(self.partials) >= MAX_PARTIALS:
                del self.partials[next(iter(self.partials))]
                problem = "too_many_partials"
            partial = self.partials[request_id] = Partial()
        partial.parts.append(body)
        partial.size += len(body)
        partial.chunks += 1
        if partial.size > max_size:
            del self.partials[request_id]
            return partial, "message_too_large"
        if partial.chunks >= max_chunks:
            del self.partials[request_id]
            return partial, "too_many_chunks"
        return partial, problem

    def finish(self, request_id: int, body: bytes) -> tuple[bytes, int]:
        """The whole body once the final chunk arrives, and the number of chunks."""
        partial = self.partials.pop(request_id, None)
        if partial is None:
            return body, 1
        partial.parts.append(body)
        return b"".join(partial.parts), partial.chunks + 1

    def abort(self, request_id: int) -> Partial | None:
        return self.partials.pop(request_id, None)

    def clear(self) -> None:
        self.partials.clear()
