"""TPKT (RFC 1006) framing and ISO 8073 COTP (class 0) as used by Siemens S7 on TCP port 102.

TPKT header (RFC 1006 section 6):

| field | width | meaning |
|---|---|---|
| version | 1 | always 3 |
| reserved | 1 | always 0 |
| length | 2 | whole packet including this header (7..65535 here) |

COTP header (ISO 8073 section 13): ``LI`` (1, header length without itself), PDU code (1, high
nibble is the type, low nibble the credit on CR/CC), then per type:

| type | code | fixed part after the code | variable part |
|---|---|---|---|
| CR connection request | 0xE0 | dst-ref 2, src-ref 2, class/options 1 | parameters |
| CC connection confirm | 0xD0 | dst-ref 2, src-ref 2, class/options 1 | parameters |
| DR disconnect request | 0x80 | dst-ref 2, src-ref 2, reason 1 | parameters |
| DC disconnect confirm | 0xC0 | dst-ref 2, src-ref 2 | parameters |
| ER TPDU error | 0x70 | dst-ref 2, reject cause 1 | parameters (0xC1 invalid TPDU) |
| DT data (class 0) | 0xF0 | EOT bit 0x80 + TPDU number 1 | user data follows the header |

Parameters are (code 1, length 1, value): 0xC0 TPDU size (2**value bytes), 0xC1 calling (source)
TSAP, 0xC2 called (destination) TSAP. For S7 the destination TSAP's first byte is the connection
type (1 PG, 2 OP, 3 S7 basic) and its second byte packs rack (bits 5-7) and slot (bits 0-4).
"""

from __future__ import annotations

import struct
from typing import Any

from parsers.base import NEED_MORE, NOT_PROTOCOL, ParseError

TPKT = struct.Struct("!BBH")
_REFS = struct.Struct("!HHB")  # dst-ref, src-ref, class/options or reason
_ER = struct.Struct("!HB")  # dst-ref, reject cause
_DC = struct.Struct("!HH")  # dst-ref, src-ref

#: shortest TPKT that can carry COTP: 4 (TPKT) + LI + DT code + EOT
MIN_TPKT = 7

CR, CC, DR, DC, ER, DT = 0xE, 0xD, 0x8, 0xC, 0x7, 0xF
#: PDU type (high nibble) -> (event.action, Zeek-style name)
PDU_TYPES = {
    0x1: ("expedited_data", "ED Expedited Data"),
    0x2: ("expedited_data_acknowledgement", "EA Expedited Data Acknowledgement"),
    0x5: ("reject", "RJ Reject"),
    0x6: ("data_acknowledgement", "AK Data Acknowledgement"),
    0x7: ("tpdu_error", "ER TPDU Error"),
    0x8: ("disconnect_request", "DR Disconnect Request"),
    0xC: ("disconnect_confirm", "DC Disconnect Confirm"),
    0xD: ("connection_confirm", "CC Connection Confirm"),
    0xE: ("connection_request", "CR Connection Request"),
    0xF: ("data", "DT Data"),
}
DISCONNECT_REASONS = {
    0: "Reason not specified",
    1: "Congestion at TSAP",
    2: "Session entity not attached to TSAP",
    3: "Address unknown",
    128: "Normal disconnect initiated by the session entity",
    129: "Remote transport entity congestion at connect request time",
    130: "Connection negotiation failed",
    131: "Duplicate source reference detected for the same pair of NSAPs",
    132: "Mismatched references",
    133: "Protocol error",
    135: "Reference overflow",
    136: "Connection request refused on this network connection",
    138: "Header or parameter length invalid",
}
REJECT_CAUSES = {
    0: "Reason not specified",
    1: "Invalid parameter code",
    2: "Invalid TPDU type",
    3: "Invalid parameter value",
}
S7_CONNECTION_TYPES = {1: "PG", 2: "OP", 3: "S7 basic"}


def tpkt_frame(buf: bytes, pos: int, end: int) -> int:
    """NEED_MORE, NOT_PROTOCOL, or the TPKT packet length starting at ``pos``."""
    if end - pos < 4:
        return NEED_MORE
    version, reserved, length = TPKT.unpack_from(buf, pos)
    if version != 3 or reserved != 0 or length < MIN_TPKT:
        return NOT_PROTOCOL
    return length


def plausible_cotp(buf: bytes, pos: int, end: int, length: int) -> bool:
    """Does the COTP header at ``pos`` (just after TPKT) fit in ``length`` and have a known type?"""
    if end - pos < 2:
        return True  # not buffered yet: the TPKT header alone has to do
    li = buf[pos]
    code = buf[pos + 1] >> 4
    if code == DT:
        return li == 2
    return code in PDU_TYPES and 2 <= li <= length - 1


def _params(buf: bytes, pos: int, end: int, f: dict[str, Any], flags: list[str]) -> None:
    """COTP variable part: (code, length, value) triples; every step consumes 2+ bytes."""
    while pos < end:
        if end - pos < 2:
            flags.append("truncated_parameter")
            return
        code = buf[pos]
        plen = buf[pos + 1]
        start = pos + 2
        pos = start + plen
        if pos > end:
            flags.append("truncated_parameter")
            return
        value = buf[start:pos]
        if code == 0xC0 and plen == 1:
            f["tpdu_size"] = 1 << value[0] if value[0] < 32 else -1
            f["tpdu_size_code"] = value[0]
        elif code == 0xC1:
            f["src_tsap"] = value.hex()
        elif code == 0xC2:
            f["dst_tsap"] = value.hex()
            if plen == 2:
                f["connection_type"] = value[0]
                f["connection_type_name"] = S7_CONNECTION_TYPES.get(value[0], "other")
                f["rack"] = value[1] >> 5
                f["slot"] = value[1] & 0x1F
        elif code == 0xC6:
            f["additional_options"] = value.hex()
        elif code == 0xE0:
            f["disconnect_info"] = value.hex()
        else:
            params = f.setdefault("other_parameters", [])
            if len(params) < 16:
                params.append({"code": code, "value": value[:64].hex()})


def decode_cotp(buf: bytes, pos: int, end: int) -> tuple[int, int, dict[str, Any] | None]:
    """Decode the COTP header of one TPKT packet whose payload is ``buf[pos:end]``.

    Returns ``(pdu_type, user_data_offset, fields)``: for DT ``fields`` is None (``is_eot`` reads
    its last-data-unit flag); for every other type it is the ``cotp`` dataset fields, with the
    event action under ``"action"``.
    """
    if end - pos < 2:
        raise ParseError("truncated_cotp", f"{end - pos} bytes")
    li = buf[pos]
    code = buf[pos + 1]
    ptype = code >> 4
    hdr_end = pos + 1 + li
    if li < 1 or hdr_end > end:
        raise ParseError("bad_cotp_length", f"LI {li} with {end - pos - 1} bytes")
    if ptype == DT:
        if li != 2:
            raise ParseError("bad_cotp_length", f"DT with LI {li}")
        return DT, hdr_end, None
    action, pdu_name = PDU_TYPES.get(ptype, ("unknown_pdu", f"Unknown COTP PDU-0x{ptype:02x}"))
    f: dict[str, Any] = {"pdu_type": ptype, "pdu_code": code, "pdu_name": pdu_name, "action": action}
    flags: list[str] = []
    var_start = pos + 2
    if ptype in (CR, CC, DR):
        if li < 6:
            raise ParseError("bad_cotp_length", f"{pdu_name} with LI {li}")
        dst_ref, src_ref, opt = _REFS.unpack_from(buf, pos + 2)
        f["dst_ref"] = dst_ref
        f["src_ref"] = src_ref
        if ptype == DR:
            f["reason"] = opt
            f["reason_name"] = DISCONNECT_REASONS.get(opt, "unknown")
        else:
            f["credit"] = code & 0x0F
            f["class"] = opt >> 4
            f["extended_formats"] = bool(opt & 0x02)
            f["no_explicit_flow_control"] = bool(opt & 0x01)
            if opt >> 4:
                flags.append("class_not_0")
        var_start = pos + 7
    elif ptype == DC:
        if li < 5:
            raise ParseError("bad_cotp_length", f"DC with LI {li}")
        f["dst_ref"], f["src_ref"] = _DC.unpack_from(buf, pos + 2)
        var_start = pos + 6
    elif ptype == ER:
        if li < 4:  # type, dst-ref (2), reject cause: the cause must lie inside the header
            raise ParseError("bad_cotp_length", f"ER with LI {li}")
        dst_ref, cause = _ER.unpack_from(buf, pos + 2)
        f["dst_ref"] = dst_ref
        f["reject_cause"] = cause
        f["reject_cause_name"] = REJECT_CAUSES.get(cause, "unknown")
        var_start = pos + 5
    else:
        var_start = hdr_end  # other classes' PDUs: keep only the type
    if ptype in (CR, CC, DR, DC, ER):
        _params(buf, var_start, hdr_end, f, flags)
    if hdr_end < end and ptype != DR:
        f["user_data_length"] = end - hdr_end
    if flags:
        f["flags"] = flags
    return ptype, hdr_end, f


def is_eot(buf: bytes, pos: int) -> bool:
    """For a DT header at ``pos`` (the LI byte): is this the last data unit?"""
    return bool(buf[pos + 2] & 0x80)


class Reassembler:
    """COTP DT segments of one direction until EOT; bounded, so a hostile stream cannot grow it.

    A TSDU that outgrows the bound is dropped whole: its remaining segments, up to and including
    the one with EOT, are discarded too.
    """

    __slots__ = ("_dropping", "_parts", "_size", "limit", "pending")

    def __init__(self, limit: int) -> None:
        self._parts: list[bytes] = []
        self._size = 0
        self._dropping = False
        self.limit = limit
        #: segments are held (or being discarded) for an unfinished TSDU
        self.pending = False

    def add(self, data: bytes) -> bool:
        """Keep a non-final segment; False when this segment makes the TSDU exceed the bound."""
        if self._dropping:
            return True
        self._size += len(data)
        if self._size > self.limit:
            self.reset()
            self._dropping = True
            self.pending = True
            return False
        self._parts.append(data)
        self.pending = True
        return True

    def finish(self, data: bytes) -> tuple[bytes, int]:
        """The whole TSDU ending with ``data`` and its segment count (0: the TSDU was dropped)."""
        if self._dropping:
            self._dropping = False
            self.pending = False
            return b"", 0
        if not self._parts:
            return data, 1
        self._parts.append(data)
        whole = b"".join(self._parts)
        count = len(self._parts)
        self.reset()
        return whole, count

    def reset(self) -> None:
        self._parts = []
        self._size = 0
        self._dropping = False
        self.pending = False
