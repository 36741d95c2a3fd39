"""Modbus/TCP (MODBUS Application Protocol Specification V1.1b3, Messaging on TCP/IP V1.0b).

MBAP header (Messaging guide, section 3.1.3):

| field | width | meaning |
|---|---|---|
| transaction id | 2 | pairs a response with its request |
| protocol id | 2 | 0 for Modbus |
| length | 2 | bytes that follow: unit id + PDU (2..254) |
| unit id | 1 | addressed server behind a gateway |
| function code | 1 | bit 7 set on exception responses |

The PDU layouts per function code live in ``parsers/modbus_pdu.py``; this module frames ADUs,
pairs requests with responses (bounded pending table) and produces ``Message`` values.
"""

from __future__ import annotations

import struct
from typing import Any

from parsers import ProtocolSpec
from parsers.base import NEED_MORE, NOT_PROTOCOL, Message, StreamParser
from parsers.modbus_pdu import ACTIONS, FUNCTION_NAMES, decode_request, decode_response

_MBAP = struct.Struct("!HHHBB")
EXCEPTION_NAMES = {
    1: "ILLEGAL_FUNCTION",
    2: "ILLEGAL_DATA_ADDRESS",
    3: "ILLEGAL_DATA_VALUE",
    4: "SERVER_DEVICE_FAILURE",
    5: "ACKNOWLEDGE",
    6: "SERVER_DEVICE_BUSY",
    8: "MEMORY_PARITY_ERROR",
    10: "GATEWAY_PATH_UNAVAILABLE",
    11: "GATEWAY_TARGET_DEVICE_FAILED_TO_RESPOND",
}
#: requests waiting for a response per flow (Suricata uses the same bound)
MAX_PENDING = 500
MEI_ACTIONS = {13: "can_open_general_reference", 14: "read_device_identification"}


class ModbusParser(StreamParser):
    """Modbus/TCP: one instance per flow."""

    dataset = "modbus"
    max_message = 260
    __slots__ = ("_pending", "_pending_hit")

    def __init__(self) -> None:
        super().__init__()
        # (transaction id, unit id) -> request context for pairing
        self._pending: dict[tuple[int, int], dict[str, Any]] = {}
        self._pending_hit = False

    def frame(self, buf: bytes, pos: int, end: int) -> int:
        if end - pos < 7:
            return NEED_MORE
        if buf[pos + 2] or buf[pos + 3]:
            return NOT_PROTOCOL  # protocol id must be 0
        length = (buf[pos + 4] << 8) | buf[pos + 5]
        if length < 2 or length > 254:
            return NOT_PROTOCOL
        return length + 6

    def plausible(self, buf: bytes, pos: int, end: int, length: int) -> bool:
        fc = buf[pos + 7] if pos + 7 < end else 1
        if (fc & 0x7F) not in FUNCTION_NAMES:
            return False
        nxt = pos + length
        return nxt >= end or end - nxt < 7 or self.frame(buf, nxt, end) > 0

    def decode(self, buf: bytes, pos: int, end: int, to_server: bool, out: list[Message]) -> None:
        tid, _pid, _length, unit, raw_fc = _MBAP.unpack_from(buf, pos)
        fc = raw_fc & 0x7F
        f: dict[str, Any] = {
            "transaction_id": tid,
            "unit_id": unit,
            "function_code": fc,
            "function": FUNCTION_NAMES.get(fc, "UNKNOWN"),
            "is_response": not to_server,
        }
        flags: list[str] = []
        pdu = buf[pos + 8 : end]
        if to_server:
            if raw_fc & 0x80:
                flags.append("exception_bit_in_request")
            decode_request(fc, pdu, f, flags)
            pending = self._pending
            if len(pending) >= MAX_PENDING:
                pending.pop(next(iter(pending)))
                if not self._pending_hit:
                    self._pending_hit = True
                    flags.append("pending_requests_bound_hit")
            pending[(tid, unit)] = f
        else:
            req = self._pending.pop((tid, unit), None)
            f["matched"] = req is not None
            if req is not None and req["function_code"] != fc:
                flags.append("function_code_mismatch")
            if raw_fc & 0x80:
                code = pdu[0] if pdu else -1
                f["exception_code"] = code
                f["exception"] = EXCEPTION_NAMES.get(code, "UNKNOWN")
                if code not in EXCEPTION_NAMES:
                    flags.append("bad_exception_code")
                if len(pdu) != 1:
                    flags.append("bad_length")
                if req is not None:
                    _copy_request(req, f)
            else:
                decode_response(fc, pdu, f, flags, req)
        if flags:
            f["flags"] = flags
        if fc == 43:
            action = MEI_ACTIONS.get(f.get("mei_type", -1), "encapsulated_interface_transport")
        else:
            action = ACTIONS.get(fc, "unknown_function")
        out.append(Message("modbus", action, f, to_server))


def _copy_request(req: dict[str, Any], f: dict[str, Any]) -> None:
    for key in ("address", "quantity", "subfunction", "mei_type"):
        if key in req:
            f[key] = req[key]


def probe(data: bytes, to_server: bool) -> bool:
    """Modbus/TCP signature: the chunk splits exactly into plausible ADUs (at most 4 checked)."""
    pos = 0
    end = len(data)
    seen = 0
    while pos < end and seen < 4:
        if end - pos < 8 or data[pos + 2] or data[pos + 3]:
            return False
        length = (data[pos + 4] << 8) | data[pos + 5]
        fc = data[pos + 7]
        if length < 2 or length > 254 or (fc & 0x7F) not in FUNCTION_NAMES:
            return False
        if (fc & 0x80) and to_server:
            return False
        pos += 6 + length
        seen += 1
    return seen > 0 and (pos == end or seen == 4)


SPEC = ProtocolSpec("modbus", frozenset({502}), probe, ModbusParser)
