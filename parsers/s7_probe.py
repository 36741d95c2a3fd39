"""Payload signature of S7 on ISO-on-TCP, for finding it on ports other than 102.

Strict on purpose: a TPKT v3 packet whose COTP DT carries S7comm (0x32, a known ROSCTR, header
lengths that add up to the TPKT length) or S7comm-plus (0x72, a known version, data length that
fits with or without the trailer); or a connection request (from the client) / confirm (from
the server) whose called TSAP is an S7 one: connection type PG/OP/S7 basic with rack and slot,
or the ``SIMATIC-ROOT-...`` name S7-1200/1500 use. MMS/ICCP on the same transport use other
TSAPs and are left alone.
"""

from __future__ import annotations

import struct

from parsers.cotp import DT

_S7_ROSCTR = frozenset({1, 2, 3, 7})
_PLUS_VERSIONS = frozenset({1, 2, 3, 0xFE, 0xFF})


def _s7_tsap(value: bytes) -> bool:
    """An S7 destination TSAP: connection type PG/OP/S7 basic (+ rack/slot) or SIMATIC-ROOT-*."""
    if len(value) == 2:
        return 1 <= value[0] <= 0x10
    return value.startswith(b"SIMATIC-ROOT")


def probe(data: bytes, to_server: bool) -> bool:
    """TPKT v3 + COTP DT carrying S7comm/S7comm-plus whose lengths agree, or a CR (client) / CC
    (server) with an S7 called TSAP."""
    if len(data) < 9 or data[0] != 3 or data[1] != 0:
        return False
    length = (data[2] << 8) | data[3]
    li = data[4]
    ptype = data[5] >> 4
    if length < 7:
        return False
    if ptype == DT:
        if li != 2:
            return False
        if data[7] == 0x32:
            rosctr = data[8]
            if rosctr not in _S7_ROSCTR:
                return False
            hlen = 12 if rosctr in (2, 3) else 10
            if not data[6] & 0x80 or len(data) < 17:
                return True  # a first segment, or too short to check the lengths
            plen, dlen = struct.unpack_from("!HH", data, 13)
            return length == 7 + hlen + plen + dlen
        if data[7] != 0x72 or data[8] not in _PLUS_VERSIONS:
            return False
        if data[8] == 0xFF or len(data) < 11:
            return True
        dlen = (data[9] << 8) | data[10]
        return length in (11 + dlen, 15 + dlen)  # without (fragment) or with the trailer
    if ptype != (0xE if to_server else 0xD) or li < 6 or length < li + 5 or len(data) < li + 5:
        return False
    pos, end = 11, 5 + li
    tsap = b""
    while pos + 2 <= end:  # every step consumes at least 2 bytes
        code, plen = data[pos], data[pos + 1]
        if pos + 2 + plen > end:
            return False
        if code == 0xC2:
            tsap = data[pos + 2 : pos + 2 + plen]
        pos += 2 + plen
    return pos == end and _s7_tsap(tsap)
