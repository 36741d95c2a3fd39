"""Modbus PDU bodies per function code (Application Protocol Specification V1.1b3, section 6).

Each decoder fills the event fields in place and appends spec violations to ``flags``; a PDU
too short for its function is flagged ``bad_length`` and decoded as far as it goes.

| fc | request | response |
|---|---|---|
| 1, 2 | address(2) quantity(2) 1..2000 | byte count(1) bits |
| 3, 4 | address(2) quantity(2) 1..125 | byte count(1) registers |
| 5 | address(2) value(2) 0xFF00/0x0000 | echo |
| 6 | address(2) value(2) | echo |
| 7, 11, 12, 17 | (empty) | status / counters / log / server id |
| 8 | subfunction(2) data | echo |
| 15 | address(2) quantity(2) 1..1968 byte count(1) bits | address(2) quantity(2) |
| 16 | address(2) quantity(2) 1..123 byte count(1) registers | address(2) quantity(2) |
| 20 | byte count(1) {ref type 6, file(2), record(2), length(2)}* | byte count(1) {len(1) ref(1) data}* |
| 21 | byte count(1) {ref type 6, file(2), record(2), length(2), data}* | echo |
| 22 | address(2) and mask(2) or mask(2) | echo |
| 23 | read addr(2) read qty(2) 1..125 write addr(2) write qty(2) 1..121 byte count(1) registers | byte count(1) registers |
| 24 | FIFO pointer address(2) | byte count(2) FIFO count(2) registers |
| 43 | MEI type(1): 13 CANopen, 14 device id: code(1) object id(1) | MEI type, code, conformity, more, next id, count, objects |
"""

from __future__ import annotations

from typing import Any

FUNCTION_NAMES = {
    1: "READ_COILS",
    2: "READ_DISCRETE_INPUTS",
    3: "READ_HOLDING_REGISTERS",
    4: "READ_INPUT_REGISTERS",
    5: "WRITE_SINGLE_COIL",
    6: "WRITE_SINGLE_REGISTER",
    7: "READ_EXCEPTION_STATUS",
    8: "DIAGNOSTICS",
    11: "GET_COMM_EVENT_COUNTER",
    12: "GET_COMM_EVENT_LOG",
    15: "WRITE_MULTIPLE_COILS",
    16: "WRITE_MULTIPLE_REGISTERS",
    17: "REPORT_SERVER_ID",
    20: "READ_FILE_RECORD",
    21: "WRITE_FILE_RECORD",
    22: "MASK_WRITE_REGISTER",
    23: "READ_WRITE_MULTIPLE_REGISTERS",
    24: "READ_FIFO_QUEUE",
    43: "ENCAPSULATED_INTERFACE_TRANSPORT",
}
ACTIONS = {fc: name.lower() for fc, name in FUNCTION_NAMES.items()}
ACTIONS[43] = "encapsulated_interface_transport"
ACTIONS[17] = "report_server_id"

DIAGNOSTIC_SUBFUNCTIONS = {
    0: "RETURN_QUERY_DATA",
    1: "RESTART_COMMUNICATIONS_OPTION",
    2: "RETURN_DIAGNOSTIC_REGISTER",
    3: "CHANGE_ASCII_INPUT_DELIMITER",
    4: "FORCE_LISTEN_ONLY_MODE",
    10: "CLEAR_COUNTERS_AND_DIAGNOSTIC_REGISTER",
    11: "RETURN_BUS_MESSAGE_COUNT",
    12: "RETURN_BUS_COMMUNICATION_ERROR_COUNT",
    13: "RETURN_BUS_EXCEPTION_ERROR_COUNT",
    14: "RETURN_SERVER_MESSAGE_COUNT",
    15: "RETURN_SERVER_NO_RESPONSE_COUNT",
    16: "RETURN_SERVER_NAK_COUNT",
    17: "RETURN_SERVER_BUSY_COUNT",
    18: "RETURN_BUS_CHARACTER_OVERRUN_COUNT",
    20: "CLEAR_OVERRUN_COUNTER_AND_FLAG",
}
DEVICE_ID_OBJECTS = {
    0: "vendor_name",
    1: "product_code",
    2: "revision",
    3: "vendor_url",
    4: "product_name",
    5: "model_name",
    6: "user_application_name",
}
MEI_TYPES = {13: "CANOPEN_GENERAL_REFERENCE", 14: "READ_DEVICE_IDENTIFICATION"}
MAX_DEVICE_ID_OBJECTS = 256

_READ_LIMITS = {1: 2000, 2: 2000, 3: 125, 4: 125}


def _u16(b: bytes, i: int) -> int:
    return (b[i] << 8) | b[i + 1]


def _regs(b: bytes, start: int, count: int) -> list[int]:
    end = min(len(b), start + 2 * count)
    return [(b[i] << 8) | b[i + 1] for i in range(start, end - 1, 2)]


def _bits(b: bytes, start: int, count: int) -> list[int]:
    data = b[start : start + (count + 7) // 8]
    return [(data[i >> 3] >> (i & 7)) & 1 for i in range(min(count, 8 * len(data)))]


def decode_request(fc: int, p: bytes, f: dict[str, Any], flags: list[str]) -> None:
    n = len(p)
    if fc in _READ_LIMITS or fc in (5, 6, 15, 16, 22):
        if n < 4:
            flags.append("bad_length")
            return
        f["address"] = _u16(p, 0)
    if fc in _READ_LIMITS:
        q = f["quantity"] = _u16(p, 2)
        if not 1 <= q <= _READ_LIMITS[fc]:
            flags.append("bad_quantity")
        if n != 4:
            flags.append("bad_length")
    elif fc == 5:
        v = _u16(p, 2)
        f["quantity"] = 1
        f["values"] = [1 if v == 0xFF00 else 0]
        if v not in (0xFF00, 0x0000):
            flags.append("bad_coil_value")
        if n != 4:
            flags.append("bad_length")
    elif fc == 6:
        f["quantity"] = 1
        f["values"] = [_u16(p, 2)]
        if n != 4:
            flags.append("bad_length")
    elif fc in (15, 16):
        q = f["quantity"] = _u16(p, 2)
        count = p[4] if n > 4 else 0
        if fc == 15:
            f["values"] = _bits(p, 5, q)
            ok = 1 <= q <= 1968 and count == (q + 7) // 8
        else:
            f["values"] = _regs(p, 5, q)
            ok = 1 <= q <= 123 and count == 2 * q
        if not ok:
            flags.append("bad_quantity")
        if n != 5 + count:
            flags.append("bad_length")
    elif fc == 8:
        _diagnostics(p, f, flags)
    elif fc == 22:
        if n != 6:
            flags.append("bad_length")
            return
        f["and_mask"] = _u16(p, 2)
        f["or_mask"] = _u16(p, 4)
    elif fc == 23:
        if n < 9:
            flags.append("bad_length")
            return
        f["read_address"] = f["address"] = _u16(p, 0)
        f["read_quantity"] = f["quantity"] = _u16(p, 2)
        f["write_address"] = _u16(p, 4)
        wq = f["write_quantity"] = _u16(p, 6)
        f["values"] = _regs(p, 9, wq)
        if not (1 <= f["read_quantity"] <= 125 and 1 <= wq <= 121 and p[8] == 2 * wq):
            flags.append("bad_quantity")
        if n != 9 + p[8]:
            flags.append("bad_length")
    elif fc == 24:
        if n != 2:
            flags.append("bad_length")
            return
        f["address"] = _u16(p, 0)
    elif fc in (20, 21):
        _file_records(p, f, flags, request=True, write=fc == 21)
    elif fc == 43:
        _mei_request(p, f, flags)
    elif fc in (7, 11, 12, 17):
        if n:
            flags.append("bad_length")
    else:
        f["data"] = p[:64].hex()


def decode_response(
    fc: int, p: bytes, f: dict[str, Any], flags: list[str], req: dict[str, Any] | None
) -> None:
    n = len(p)
    if req is not None:
        for key in ("address", "quantity", "subfunction", "read_address", "read_quantity", "write_address"):
            if key in req:
                f[key] = req[key]
    if fc in _READ_LIMITS or fc in (12, 17, 23):
        count = p[0] if n else 0
        if n != 1 + count:
            flags.append("bad_length")
        if fc in (1, 2):
            q = req.get("quantity", 8 * count) if req else 8 * count
            f["values"] = _bits(p, 1, min(q, 8 * count))
            if req and count != (q + 7) // 8:
                flags.append("bad_byte_count")
        elif fc in (3, 4, 23):
            f["values"] = _regs(p, 1, count // 2)
            if count % 2 or (req and count != 2 * req.get("quantity", count // 2)):
                flags.append("bad_byte_count")
        elif fc == 17:
            f["data"] = p[1 : 1 + count][:64].hex()
        elif fc == 12 and n >= 7:
            f["status"] = _u16(p, 1)
            f["event_count"] = _u16(p, 3)
            f["message_count"] = _u16(p, 5)
    elif fc in (5, 6):
        if n != 4:
            flags.append("bad_length")
            return
        f["address"] = _u16(p, 0)
        v = _u16(p, 2)
        f["values"] = [1 if v == 0xFF00 else 0] if fc == 5 else [v]
    elif fc in (15, 16):
        if n != 4:
            flags.append("bad_length")
            return
        f["address"] = _u16(p, 0)
        f["quantity"] = _u16(p, 2)
    elif fc == 22:
        if n != 6:
            flags.append("bad_length")
            return
        f["address"] = _u16(p, 0)
        f["and_mask"] = _u16(p, 2)
        f["or_mask"] = _u16(p, 4)
    elif fc == 7:
        if n != 1:
            flags.append("bad_length")
            return
        f["values"] = [p[0]]
    elif fc == 8:
        _diagnostics(p, f, flags)
    elif fc == 11:
        if n != 4:
            flags.append("bad_length")
            return
        f["status"] = _u16(p, 0)
        f["event_count"] = _u16(p, 2)
    elif fc == 24:
        if n < 4:
            flags.append("bad_length")
            return
        count = _u16(p, 2)
        f["values"] = _regs(p, 4, min(count, 31))
        if count > 31 or _u16(p, 0) != 2 + 2 * count:
            flags.append("bad_byte_count")
    elif fc in (20, 21):
        _file_records(p, f, flags, request=False, write=fc == 21)
    elif fc == 43:
        _mei_response(p, f, flags)
    else:
        f["data"] = p[:64].hex()


def _diagnostics(p: bytes, f: dict[str, Any], flags: list[str]) -> None:
    if len(p) < 2:
        flags.append("bad_length")
        return
    sub = f["subfunction"] = _u16(p, 0)
    f["subfunction_name"] = DIAGNOSTIC_SUBFUNCTIONS.get(sub, "UNKNOWN")
    f["data"] = p[2:66].hex()


def _file_records(p: bytes, f: dict[str, Any], flags: list[str], *, request: bool, write: bool) -> None:
    if not p:
        flags.append("bad_length")
        return
    count = p[0]
    end = min(len(p), 1 + count)
    if len(p) != 1 + count:
        flags.append("bad_length")
    records: list[dict[str, int]] = []
    pos = 1
    while pos < end and len(records) < 64:
        if request or write:
            if pos + 7 > end:
                flags.append("bad_length")
                break
            ref, file_no, rec_no, length = p[pos], _u16(p, pos + 1), _u16(p, pos + 3), _u16(p, pos + 5)
            records.append({"file": file_no, "record": rec_no, "length": length})
            if ref != 6:
                flags.append("bad_reference_type")
            pos += 7 + (2 * length if write else 0)
        else:
            sub_len = p[pos]
            if sub_len < 1 or pos + 1 + sub_len > end:
                flags.append("bad_length")
                break
            records.append({"length": (sub_len - 1) // 2})
            pos += 1 + sub_len
    f["records"] = records
    f["quantity"] = len(records)


def _mei_request(p: bytes, f: dict[str, Any], flags: list[str]) -> None:
    if not p:
        flags.append("bad_length")
        return
    mei = f["mei_type"] = p[0]
    f["mei"] = MEI_TYPES.get(mei, "UNKNOWN")
    if mei == 14:
        if len(p) != 3:
            flags.append("bad_length")
        if len(p) >= 3:
            f["read_device_id_code"] = p[1]
            f["object_id"] = p[2]
    else:
        f["data"] = p[1:65].hex()


def _mei_response(p: bytes, f: dict[str, Any], flags: list[str]) -> None:
    if not p:
        flags.append("bad_length")
        return
    mei = f["mei_type"] = p[0]
    f["mei"] = MEI_TYPES.get(mei, "UNKNOWN")
    if mei != 14:
        f["data"] = p[1:65].hex()
        return
    if len(p) < 6:
        flags.append("bad_length")
        return
    f["read_device_id_code"] = p[1]
    f["conformity_level"] = p[2]
    f["more_follows"] = p[3] == 0xFF
    count = p[5]
    objects: dict[str, str] = {}
    pos = 6
    for _ in range(min(count, MAX_DEVICE_ID_OBJECTS)):
        if pos + 2 > len(p) or pos + 2 + p[pos + 1] > len(p):
            flags.append("bad_length")
            break
        oid, olen = p[pos], p[pos + 1]
        value = p[pos + 2 : pos + 2 + olen].decode("utf-8", "replace")
        objects[DEVICE_ID_OBJECTS.get(oid, f"object_{oid:#04x}")] = value
        pos += 2 + olen
    else:
        if pos != len(p):
            flags.append("bad_length")
    f["device_id"] = objects
