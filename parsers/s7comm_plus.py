"""S7comm-plus (protocol id 0x72), as used by S7-1200/1500, inside COTP DT.

Header, then data, then (on the last fragment only) a trailer repeating the header with length 0
(layout from Thomas Wiens' ``s7comm_plus`` Wireshark plugin and Zeek ICSNPP):

| field | width | meaning |
|---|---|---|
| protocol id | 1 | 0x72 |
| protocol version | 1 | 1, 2, 3; 0xFE system event; 0xFF keep-alive |
| data length | 2 | bytes of data after the header, trailer excluded |
| integrity (V3) | 1 + n | digest length (32) and the digest, before the data |
| opcode | 1 | 0x31 request, 0x32 response, 0x33 notification, 0x02 response2 |
| reserved | 2 | request/response only |
| function | 2 | 0x04CA CreateObject, 0x04F2 SetVariable, 0x054C GetMultiVariables, ... |
| reserved | 2 | |
| sequence number | 2 | pairs a response with its request |
| session id | 4 | requests only |
| transport flags | 1 | |
| payload | n | object/attribute lists; not decoded (V3 payloads are integrity protected) |
| trailer | 4 | 0x72, version, 0x0000 |

A message without a trailer is a fragment; the fragments up to the one with a trailer form one
message (each V3 fragment carries its own integrity part). Notifications carry a subscription
object id (4) instead of reserved/function/sequence. V2 places the integrity part at the end of
the data; it is reported when a 32-byte digest is found there. Values inside the payload are
never guessed.
"""

from __future__ import annotations

import struct
from typing import Any

from parsers.base import Message, ParseError
from parsers.s7_names import PLUS_FUNCTIONS, PLUS_OPCODES, PLUS_VERSIONS

_HDR = struct.Struct("!BBH")
_REQ = struct.Struct("!BHHHHIB")  # opcode, reserved, function, reserved, sequence, session, flags
_RES = struct.Struct("!BHHHH")  # opcode, reserved, function, reserved, sequence
_U32 = struct.Struct("!I")
#: requests waiting for their response per flow
MAX_PENDING = 500
#: fragments of one message at most before it is emitted as it is
MAX_FRAGMENTS = 1024


def _opcode(buf: bytes, pos: int, end: int, f: dict[str, Any], flags: list[str]) -> str:
    """Opcode and function part of a first (or only) fragment; returns event.action."""
    if pos >= end:
        flags.append("truncated_data")
        return "unknown_opcode"
    op = buf[pos]
    f["opcode"] = op
    f["opcode_name"] = PLUS_OPCODES.get(op, "unknown")
    if op == 0x33:
        if end - pos >= 5:
            f["subscription_id"] = _U32.unpack_from(buf, pos + 1)[0]
        return "notification"
    if op not in (0x31, 0x32, 0x02):
        flags.append("unknown_opcode")
        return "unknown_opcode"
    if end - pos < 9:
        flags.append("truncated_data")
        return "unknown_function"
    _op, _r1, fn, _r2, seq = _RES.unpack_from(buf, pos)
    action, fname = PLUS_FUNCTIONS.get(fn, ("unknown_function", "unknown"))
    f["function_code"] = fn
    f["function"] = fname
    f["sequence"] = seq
    if op == 0x31:
        if end - pos >= 14:
            f["session_id"] = _U32.unpack_from(buf, pos + 9)[0]
            f["transport_flags"] = buf[pos + 13]
        else:
            flags.append("truncated_data")
    elif end - pos >= 10:
        f["transport_flags"] = buf[pos + 9]
    return action


class PlusState:
    """Per-flow S7comm-plus state: fragments per direction and requests awaiting a response."""

    __slots__ = ("_frag", "_pending", "_pending_hit")

    def __init__(self) -> None:
        # per direction (index 1 = to server): [fields, action, fragment count] of an open message
        self._frag: list[list[Any] | None] = [None, None]
        self._pending: dict[tuple[bool, int], dict[str, Any]] = {}
        self._pending_hit = False

    def reset(self, to_server: bool) -> None:
        self._frag[1 if to_server else 0] = None

    def decode(self, buf: bytes, pos: int, end: int, to_server: bool, out: list[Message]) -> None:
        if end - pos < 4:
            raise ParseError("truncated_s7comm_plus", f"{end - pos} bytes")
        _pid, ver, dlen = _HDR.unpack_from(buf, pos)
        f: dict[str, Any] = {
            "protocol_version": ver,
            "protocol_version_name": PLUS_VERSIONS.get(ver, "unknown"),
            "data_length": dlen,
        }
        flags: list[str] = []
        if ver == 0xFF:
            f["keep_alive_sequence"] = buf[pos + 2]
            out.append(Message("s7comm_plus", "keep_alive", f, to_server))
            return
        if ver == 0xFE:
            out.append(Message("s7comm_plus", "system_event", f, to_server))
            return
        data = pos + 4
        data_end = data + dlen
        trailer = False
        if data_end > end:
            flags.append("length_mismatch")
            data_end = end
        elif end - data_end >= 4 and buf[data_end] == 0x72:
            trailer = True
            if end - data_end > 4:
                flags.append("trailing_bytes")
        elif end != data_end:
            flags.append("trailing_bytes")
        integrity = False
        if ver == 3 and data < data_end:
            dig = buf[data]
            if data + 1 + dig <= data_end:
                integrity = dig > 0
                f["digest_length"] = dig
                data += 1 + dig
            else:
                flags.append("bad_integrity_length")
        elif ver == 2 and data_end - data >= 34 and buf[data_end - 33] == 0x20:
            integrity = True
            f["digest_length"] = 32
        d = 1 if to_server else 0
        frag = self._frag[d]
        if frag is not None:
            frag[2] += 1
            if not trailer and frag[2] < MAX_FRAGMENTS:
                return
            self._frag[d] = None
            first, action = frag[0], frag[1]
            first["fragments"] = frag[2]
            if not trailer:
                first.setdefault("flags", []).append("too_many_fragments")
            self._emit(first, action, to_server, out)
            return
        f["integrity"] = integrity
        f["trailer"] = trailer
        action = _opcode(buf, data, data_end, f, flags)
        if flags:
            f["flags"] = flags
        if not trailer and not flags:
            self._frag[d] = [f, action, 1]  # first fragment: wait for the one with the trailer
            return
        self._emit(f, action, to_server, out)

    def _emit(self, f: dict[str, Any], action: str, to_server: bool, out: list[Message]) -> None:
        op = f.get("opcode")
        seq = f.get("sequence")
        f["is_response"] = op in (0x32, 0x02)
        if op == 0x31 and seq is not None:
            pending = self._pending
            if len(pending) >= MAX_PENDING:
                pending.pop(next(iter(pending)))
                if not self._pending_hit:
                    self._pending_hit = True
                    f.setdefault("flags", []).append("pending_requests_bound_hit")
            pending[(to_server, seq)] = {
                "function_code": f.get("function_code"),
                "session_id": f.get("session_id"),
            }
        elif f["is_response"] and seq is not None:
            req = self._pending.pop((not to_server, seq), None)
            f["matched"] = req is not None
            if req is not None:
                if req["function_code"] != f.get("function_code"):
                    f.setdefault("flags", []).append("function_code_mismatch")
                if req["session_id"] is not None:
                    f["session_id"] = req["session_id"]
                    f["inherited"] = ["session_id"]
        out.append(Message("s7comm_plus", action, f, to_server))
