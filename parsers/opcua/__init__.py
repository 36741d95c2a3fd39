"""OPC UA binary (UA TCP, UA Secure Conversation, UA Binary encoding; OPC 10000-4 and 10000-6).

One module per layer, as in Wireshark's OPC UA plugin:

- ``transport``: the 8-byte header, HEL, ACK, ERR, RHE;
- ``secure``: security headers, sequence header, chunk reassembly, what is readable;
- ``types``, ``values``: the built-in types, every length bounded; Variant, DataValue and
  DiagnosticInfo nesting depth-bounded;
- ``services``, ``discovery``, ``nodes``, ``subscriptions``: headers and service bodies;
- ``ids``, ``statuscodes``: identifiers and names as data;
- ``parser``: per-connection state and the ``Message`` values handed to the sensor.

``probe`` recognises the protocol on a non-standard port from the first bytes of a direction.
"""

from __future__ import annotations

import struct

from parsers import ProtocolSpec
from parsers.opcua.parser import OpcUaParser
from parsers.opcua.secure import POLICY_PREFIX, plain_service_id
from parsers.opcua.transport import HEADER, MAX_CHUNK, MAX_URL, header_size

_U32 = struct.Struct("<I")
_I32 = struct.Struct("<i")
_POLICY_PREFIX = POLICY_PREFIX.encode()


def probe(data: bytes, to_server: bool) -> bool:
    """A strict signature of the first bytes of a direction:

    - ``HELF``: size 32..4128, ProtocolVersion 0, and an EndpointUrl filling the message exactly;
    - ``ACKF``: size 28 and ProtocolVersion 0;
    - ``ERRF``/``RHEF``: the first String fits in the message;
    - ``OPNF``: a SecurityPolicyUri under ``http://opcfoundation.org/UA/SecurityPolicy#``;
    - ``MSG``/``CLO``, chunk ``F`` or ``C`` (picked up mid-stream): a standard service in clear
      after the headers, or a chunk that ends exactly where the data or a next valid header begins.
    """
    size = header_size(data, 0, len(data))
    if size <= 0 or size > MAX_CHUNK:
        return False
    mtype, chunk, _ = HEADER.unpack_from(data, 0)
    n = len(data)
    if mtype == b"HEL":
        if size > 32 + MAX_URL or n < 32 or _U32.unpack_from(data, 8)[0] != 0:
            return False
        url_length = _I32.unpack_from(data, 28)[0]
        return url_length == size - 32 or (url_length == -1 and size == 32)
    if mtype == b"ACK":
        return size == 28 and n >= 12 and _U32.unpack_from(data, 8)[0] == 0
    if mtype in (b"ERR", b"RHE"):
        at = 12 if mtype == b"ERR" else 8
        if size > 16 + 2 * MAX_URL or n < at + 4:
            return False
        return -1 <= _I32.unpack_from(data, at)[0] <= size - at - 4
    if mtype == b"OPN":
        if n < 16 + len(_POLICY_PREFIX):
            return False
        length = _I32.unpack_from(data, 12)[0]
        return len(_POLICY_PREFIX) <= length <= 255 and size >= 32 + length and data.startswith(_POLICY_PREFIX, 16)
    if chunk != b"F" and chunk != b"C":
        return False
    if plain_service_id(data, 16, n) is not None:
        return True
    return size == n or (size + 8 <= n and header_size(data, size, n) > 0)


SPEC = ProtocolSpec("opcua", frozenset({4840, 4843}), probe, OpcUaParser)

__all__ = ["SPEC", "OpcUaParser", "probe"]
