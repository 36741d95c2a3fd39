"""S7comm job / ack_data parameter and data parts: pure functions, bytes -> fields.

Every decoder takes the whole S7 PDU ``buf`` with the parameter part at ``buf[p:p_end]`` and
the data part at ``buf[d:d_end]`` and fills ``f`` (the ``s7comm`` fields) and ``flags``. Layouts
(Wireshark ``packet-s7comm.c``):

Setup communication (0xF0), job and ack_data:

| field | width | meaning |
|---|---|---|
| function | 1 | 0xF0 |
| reserved | 1 | 0 |
| max AmQ calling | 2 | parallel jobs with acknowledgement, calling side |
| max AmQ called | 2 | same, called side |
| PDU size | 2 | negotiated PDU length |

Read / write var item (variable specification, syntax id 0x10 "S7ANY", 12 bytes):
spec type 0x12 (1), spec length 10 (1), syntax id (1), transport size (1), length (2),
DB number (2), area (1), address (3: byte address << 3 | bit). Data items: return code (1),
transport size (1), length (2, in bits for sizes 3/4/5), data, a fill byte after odd-length
items except the last.

Block control (0x1A..0x1F): function status (1), 2 unknown bytes, upload id or error code,
then a counted file name such as ``_0A00001P`` ('_' + block type '0A' + number '00001' +
filesystem 'P'). PI service (0x28): 7 unknown bytes, parameter block length (2), parameter
block, counted service name (``_INSE``, ``_DELE``, ``P_PROGRAM``, ``_MODU``, ``_GARB``, ...).
PLC stop (0x29): 5 unknown bytes, counted service name.
"""

from __future__ import annotations

import struct
from typing import Any

from parsers.s7_names import (
    AREAS,
    BLOCK_TYPES,
    DATA_TRANSPORT_SIZE,
    DATA_TS_BITS,
    FILESYSTEMS,
    ITEM_TRANSPORT_SIZE,
    NUMBER_AREAS,
    PI_SERVICES,
    RETURN_CODES,
    SYNTAX_IDS,
)

_SETUP = struct.Struct("!BBHHH")
_S7ANY = struct.Struct("!BHHBBH")  # transport size, length, db, area, address (hi byte, lo word)
_DATA_HDR = struct.Struct("!BBH")
_U16 = struct.Struct("!H")
_U32 = struct.Struct("!I")
#: bytes of one value rendered as hex at most (a PDU is rarely larger than 960 bytes)
MAX_VALUE_BYTES = 512


def setup_communication(buf: bytes, p: int, p_end: int, f: dict[str, Any], flags: list[str]) -> None:
    if p_end - p < 8:
        flags.append("truncated_parameter")
        return
    _fn, _res, calling, called, pdu = _SETUP.unpack_from(buf, p)
    f["max_amq_calling"] = calling
    f["max_amq_called"] = called
    f["pdu_size"] = pdu


def var_items(
    buf: bytes, pos: int, end: int, count: int, flags: list[str]
) -> tuple[list[dict[str, Any]], int]:
    """``count`` variable specifications from ``pos``; returns the items and the end offset."""
    items: list[dict[str, Any]] = []
    for i in range(count):
        if end - pos < 3:
            flags.append("truncated_item")
            break
        spec_len = buf[pos + 1]
        syntax = buf[pos + 2]
        nxt = pos + 2 + spec_len
        if nxt > end or spec_len < 1:
            flags.append("truncated_item")
            break
        item: dict[str, Any] = {"syntax_id": syntax, "syntax": SYNTAX_IDS.get(syntax, "unknown")}
        if buf[pos] != 0x12:
            flags.append("bad_variable_specification")
        if syntax == 0x10 and spec_len == 10:
            ts, length, db, area, hi, lo = _S7ANY.unpack_from(buf, pos + 3)
            address = (hi << 16) | lo
            item["transport_size"] = ts
            item["transport_size_name"] = ITEM_TRANSPORT_SIZE.get(ts, "unknown")
            item["length"] = length
            item["db"] = db
            item["area"] = AREAS.get(area, f"unknown_0x{area:02x}")
            item["area_code"] = area
            if area in NUMBER_AREAS:
                item["address"] = address & 0xFFFF
                item["bit"] = 0
            else:
                item["address"] = (address >> 3) & 0xFFFF
                item["bit"] = address & 0x07
        else:
            item["specification"] = buf[pos + 3 : nxt].hex()
        items.append(item)
        pos = nxt
        if (2 + spec_len) & 1 and i < count - 1:
            pos += 1  # fill byte after an odd-length item
    return items, pos


def _value(ts: int, data: bytes) -> int | str:
    n = len(data)
    if ts == 3 and n == 1:
        return data[0]
    if ts in (4, 5, 6) and n in (1, 2, 4):
        return int.from_bytes(data, "big", signed=ts != 4)
    return data[:MAX_VALUE_BYTES].hex()


def data_items(
    buf: bytes, pos: int, end: int, count: int, flags: list[str]
) -> tuple[list[dict[str, Any]], list[int | str | None], int]:
    """Data items (read response, write request, cyclic data): items, values, end offset."""
    items: list[dict[str, Any]] = []
    values: list[int | str | None] = []
    for i in range(count):
        if end - pos < 4:
            flags.append("truncated_data_item")
            break
        ret, ts, length = _DATA_HDR.unpack_from(buf, pos)
        pos += 4
        nbytes = (length + 7) >> 3 if ts in DATA_TS_BITS else length
        item: dict[str, Any] = {
            "return_code": ret,
            "return_name": RETURN_CODES.get(ret, "unknown"),
            "data_transport_size": ts,
            "data_transport_size_name": DATA_TRANSPORT_SIZE.get(ts, "unknown"),
            "length": nbytes,
        }
        value: int | str | None = None
        if ret in (0xFF, 0x00) and nbytes:
            if pos + nbytes > end:
                flags.append("truncated_data_item")
                nbytes = max(0, end - pos)
            value = _value(ts, buf[pos : pos + nbytes])
            if nbytes > MAX_VALUE_BYTES:
                flags.append("value_truncated")
            pos += nbytes
            if nbytes & 1 and i < count - 1:
                pos += 1
        items.append(item)
        values.append(value)
    return items, values, min(pos, end)


def return_codes(buf: bytes, pos: int, end: int, count: int, flags: list[str]) -> list[dict[str, Any]]:
    """Write var response: one return code per item."""
    n = min(count, end - pos)
    if n < count:
        flags.append("truncated_data_item")
    return [{"return_code": c, "return_name": RETURN_CODES.get(c, "unknown")} for c in buf[pos : pos + n]]


def _ascii(raw: bytes) -> str:
    return raw.decode("latin-1").rstrip("\x00 ")


def block_name(raw: bytes, f: dict[str, Any], flags: list[str]) -> None:
    """Block type code ('0A'), number ('00001') and filesystem ('P') -> fields."""
    code = raw[0:2].decode("latin-1")
    f["block_type_code"] = code
    f["block_type"] = BLOCK_TYPES.get(code, "unknown")
    num = raw[2:7]
    if num.isdigit():
        f["block_number"] = int(num)
    else:
        f["block_number_raw"] = num.decode("latin-1")
        flags.append("bad_block_number")
    if len(raw) > 7:
        fs = raw[7:8].decode("latin-1")
        f["filesystem"] = fs
        f["filesystem_name"] = FILESYSTEMS.get(fs, "unknown")


def _filename(buf: bytes, pos: int, end: int, f: dict[str, Any], flags: list[str]) -> int:
    if pos >= end:
        flags.append("truncated_parameter")
        return end
    n = buf[pos]
    raw = buf[pos + 1 : pos + 1 + n]
    if len(raw) < n:
        flags.append("truncated_parameter")
    f["filename"] = raw.decode("latin-1")
    if len(raw) == 9 and raw[0:1] in (b"_", b"$") and raw[1:3] in _BLOCK_CODES:
        block_name(raw[1:], f, flags)
    return pos + 1 + n


_BLOCK_CODES = frozenset(k.encode() for k in BLOCK_TYPES)


def block_control(
    fn: int,
    job: bool,
    buf: bytes,
    p: int,
    p_end: int,
    d: int,
    d_end: int,
    f: dict[str, Any],
    flags: list[str],
) -> None:
    """Request download / download block / download ended / start upload / upload / end upload."""
    plen = p_end - p
    if plen >= 2:
        status = buf[p + 1]
        f["function_status"] = status
        f["more_data"] = bool(status & 0x01)
        if status & 0x02:
            flags.append("function_status_error")
    if job:
        if plen < 8:
            flags.append("truncated_parameter")
            return
        if fn in (0x1C, 0x1F):
            f["block_error_code"] = _U16.unpack_from(buf, p + 2)[0]
        if fn in (0x1D, 0x1E, 0x1F):
            f["upload_id"] = _U32.unpack_from(buf, p + 4)[0]
        if fn in (0x1A, 0x1B, 0x1C, 0x1D):
            pos = _filename(buf, p + 8, p_end, f, flags)
            if fn == 0x1A and p_end - pos >= 14:
                # part 2: length, unknown char, load memory length and MC7 length as 6 digits each
                load, mc7 = buf[pos + 2 : pos + 8], buf[pos + 8 : pos + 14]
                if load.isdigit():
                    f["load_memory_length"] = int(load)
                if mc7.isdigit():
                    f["mc7_length"] = int(mc7)
        return
    if fn == 0x1D and plen >= 8:
        f["upload_id"] = _U32.unpack_from(buf, p + 4)[0]
        if plen > 8:
            n = buf[p + 8]
            text = buf[p + 9 : p + 9 + n]
            if text.isdigit() and int(text) < 1 << 64:  # events hold 64-bit integers at most
                f["block_length"] = int(text)
    if fn in (0x1B, 0x1E) and d_end - d >= 4:
        f["block_data_length"] = _U16.unpack_from(buf, d)[0]


def pi_service(buf: bytes, p: int, p_end: int, f: dict[str, Any], flags: list[str]) -> None:
    """PI service job: the service name and its parameters (blocks, argument, NC strings)."""
    if p_end - p < 11:
        flags.append("truncated_parameter")
        return
    blen = _U16.unpack_from(buf, p + 8)[0]
    b0 = p + 10
    b_end = b0 + blen
    if b_end >= p_end:
        flags.append("truncated_parameter")
        return
    n = buf[b_end]
    service = _ascii(buf[b_end + 1 : b_end + 1 + n])
    if b_end + 1 + n > p_end:
        flags.append("truncated_parameter")
    f["pi_service"] = service
    f["pi_service_description"] = PI_SERVICES.get(service, "unknown")
    if service in ("_INSE", "_INS2", "_DELE") and blen >= 2:
        count = buf[b0]
        blocks = []
        pos = b0 + 2
        for _ in range(count):
            if pos + 8 > b_end:
                flags.append("truncated_parameter")
                break
            blk: dict[str, Any] = {}
            block_name(buf[pos : pos + 8], blk, flags)
            blocks.append(blk)
            pos += 8
        f["blocks"] = blocks
    elif service.startswith("_N_"):
        args: list[str] = []
        pos = b0
        while pos < b_end and len(args) < 16:
            sl = buf[pos]
            args.append(_ascii(buf[pos + 1 : pos + 1 + sl]))
            pos += 1 + sl + (sl % 2 == 0)  # strings of even length carry a fill byte
        f["pi_arguments"] = args
    elif blen:
        f["pi_argument"] = _ascii(buf[b0:b_end])
    if service == "P_PROGRAM":
        arg = f.get("pi_argument", "")
        f["start_type"] = "hot" if arg == "" else "cold" if arg == "C" else arg


def plc_stop(buf: bytes, p: int, p_end: int, f: dict[str, Any], flags: list[str]) -> None:
    if p_end - p < 7:
        flags.append("truncated_parameter")
        return
    n = buf[p + 6]
    f["pi_service"] = _ascii(buf[p + 7 : p + 7 + n])
    if p + 7 + n > p_end:
        flags.append("truncated_parameter")
