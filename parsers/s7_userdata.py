"""S7comm userdata (ROSCTR 7): parameter head and the per-group data, pure functions.

Parameter part (Wireshark ``s7comm_decode_ud``):

| field | width | meaning |
|---|---|---|
| function | 1 | 0x00; 0x01 marks a mode-transition push |
| item count | 1 | 1 |
| variable specification | 1 | 0x12 |
| length | 1 | 4 (request) or 8 (response) bytes follow |
| syntax id / method | 1 | 0x11 request, 0x12 response |
| type, group | 1 | bits 6-7 type (0 push, 1 request, 2 response), bits 0-5 function group |
| subfunction | 1 | per group (4/1 = read SZL, 3/1 = list blocks, 7/1 = read clock, ...) |
| sequence number | 1 | pairs fragments of one answer |
| data unit reference | 1 | only when method is 0x12 |
| last data unit | 1 | 0 = last, 1 = more follow |
| error code | 2 | see ``ERROR_CODE`` |

Data part: return code (1), transport size (1), length (2), then the group's payload, which a
PLC splits over several PDUs when it is longer than the negotiated PDU size.
"""

from __future__ import annotations

import struct
from typing import Any, NamedTuple

from parsers.s7_job import block_name, data_items, var_items
from parsers.s7_names import BLOCK_TYPES, CPU_MODES, ERROR_CODE, USERDATA_GROUPS, USERDATA_TYPES
from parsers.s7_szl import szl_request, szl_response

_PARAM = struct.Struct("!BBBBBBBB")
_TAIL = struct.Struct("!BBH")
_BLOCK_ENTRY = struct.Struct("!HBB")
#: block numbers listed per event at most (a list-of-type answer can hold thousands)
MAX_BLOCK_NUMBERS = 1024
#: entries of a list-blocks answer read at most (a CPU knows about 8 block types)
MAX_BLOCK_TYPES = 32


class UdHead(NamedTuple):
    group: int
    subfunction: int
    type: int
    sequence: int
    data_unit_ref: int
    last_data_unit: int
    mode_transition: bool


def userdata_param(buf: bytes, p: int, p_end: int, f: dict[str, Any], flags: list[str]) -> UdHead | None:
    """Decode the userdata parameter head into ``f["userdata"]``; None when too short."""
    if p_end - p < 8:
        flags.append("truncated_parameter")
        return None
    fn, count, spec, _plen, method, tg, sub, seq = _PARAM.unpack_from(buf, p)
    if count != 1 or spec != 0x12:
        flags.append("bad_parameter_head")
    group = tg & 0x3F
    if fn == 0x01 or group == 0:  # mode transition
        word, full = CPU_MODES.get(sub, ("unknown", "Unknown"))
        f["mode"] = word
        f["mode_name"] = full
        f["mode_code"] = sub
        f["userdata"] = {
            "method": method, "group": 0, "group_name": "Mode transition", "subfunction": sub, "type": "push",
            "type_code": 0, "sequence": seq,
        }
        return UdHead(0, sub, 0, seq, 0, 0, True)
    utype = tg >> 6
    ud: dict[str, Any] = {
        "method": method, "type": USERDATA_TYPES.get(utype, "unknown"), "type_code": utype, "group": group,
        "group_name": USERDATA_GROUPS.get(group, "unknown"), "subfunction": sub, "sequence": seq,
    }
    dur = last = 0
    if method == 0x12:
        if p_end - p < 12:
            flags.append("truncated_parameter")
        else:
            dur, last, err = _TAIL.unpack_from(buf, p + 8)
            ud["data_unit_ref"] = dur
            ud["last_data_unit"] = last == 0
            ud["error_code"] = err
            if err:
                f["error"] = ERROR_CODE.get(err, "unknown")
    f["userdata"] = ud
    return UdHead(group, sub, utype, seq, dur, last, False)


def _clock(raw: bytes) -> str | None:
    """S7 DATE_AND_TIME (BCD): reserved, century, year, month, day, hour, minute, second, ms."""
    if len(raw) < 10:
        return None
    d = raw.hex()
    if not d[4:19].isdigit():
        return None
    year = int(d[4:6])
    year += 2000 if year < 90 else 1900
    return f"{year:04d}-{d[6:8]}-{d[8:10]}T{d[10:12]}:{d[12:14]}:{d[14:16]}.{d[16:19]}"


def _blocks(
    group_sub: int, utype: int, buf: bytes, pos: int, end: int, f: dict[str, Any], flags: list[str]
) -> None:
    if group_sub == 1 and utype == 2:
        counts: dict[str, int] = {}
        for off in range(pos, min(end - 3, pos + 4 * MAX_BLOCK_TYPES), 4):
            code = buf[off : off + 2].decode("latin-1")
            counts[BLOCK_TYPES.get(code, code)] = (buf[off + 2] << 8) | buf[off + 3]
        f["block_counts"] = counts
    elif group_sub == 2 and utype == 1 and end - pos >= 2:
        code = buf[pos : pos + 2].decode("latin-1")
        f["block_type_code"] = code
        f["block_type"] = BLOCK_TYPES.get(code, "unknown")
    elif group_sub == 2 and utype == 2:
        n = (end - pos) // 4
        f["block_count"] = n
        f["block_numbers"] = [
            _BLOCK_ENTRY.unpack_from(buf, pos + 4 * i)[0] for i in range(min(n, MAX_BLOCK_NUMBERS))
        ]
    elif group_sub == 3 and utype == 1 and end - pos >= 7:
        block_name(buf[pos : min(end, pos + 8)], f, flags)


def _cyclic(
    sub: int, utype: int, buf: bytes, pos: int, end: int, f: dict[str, Any], flags: list[str]
) -> None:
    if sub in (1, 5, 7) and end - pos >= 2:
        count = buf[pos + 1]
        if utype == 1 and end - pos >= 4:
            f["cycle_timebase"] = buf[pos + 2]
            f["cycle_time"] = buf[pos + 3]
            f["items"], _ = var_items(buf, pos + 4, end, count, flags)
        elif utype in (0, 2):
            f["items"], f["values"], _ = data_items(buf, pos + 2, end, count, flags)
    elif sub == 4 and utype == 1 and end - pos >= 2:
        f["cyclic_job_id"] = buf[pos + 1]


def userdata_data(
    head: UdHead, ret: int, buf: bytes, pos: int, end: int, f: dict[str, Any], flags: list[str]
) -> None:
    """Decode one complete (reassembled) userdata payload ``buf[pos:end]`` for its group."""
    group, sub, utype = head.group, head.subfunction, head.type
    ok = ret == 0xFF
    if group == 4 and sub == 1:
        if utype == 1:
            szl_request(buf, pos, end, f, flags)
        elif ok:
            szl_response(buf, pos, end, f, flags)
    elif group == 3:
        if utype == 1 or ok:
            _blocks(sub, utype, buf, pos, end, f, flags)
    elif group == 7:
        if (sub in (1, 3) and utype == 2 and ok) or (sub in (2, 4) and utype == 1):
            clock = _clock(buf[pos : pos + 10])
            if clock is None:
                flags.append("bad_clock")
            else:
                f["clock"] = clock
    elif group == 2:
        _cyclic(sub, utype, buf, pos, end, f, flags)
    elif group == 5 and utype == 1:
        f["password_length"] = end - pos  # the (weakly encoded) password itself is never logged
