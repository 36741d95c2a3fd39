"""Modbus/TCP parser unit tests: every public function code, exceptions, pairing, flags, bounds.

PDUs follow the examples of the MODBUS Application Protocol Specification V1.1b3 (section 6)
where the spec gives one, written as labelled byte constants. ``_adu`` only prepends the MBAP
header (transaction id, protocol 0, length, unit id) laid out in ``MBAP_EXAMPLE``.
"""

from __future__ import annotations

import struct
from typing import Any

import pytest

from parsers.base import Message
from parsers.modbus import MAX_PENDING, SPEC, ModbusParser, probe

MBAP_EXAMPLE = (
    b"\x12\x34"  # transaction id 0x1234
    b"\x00\x00"  # protocol id 0 (Modbus)
    b"\x00\x06"  # length: unit id + PDU = 6
    b"\xff"  # unit id 255
)
PDU_EXAMPLE = (
    b"\x03"  # function 3
    b"\x00\x00"  # address 0
    b"\x00\x0a"  # quantity 10
)


def _adu(pdu: bytes, tid: int = 1, unit: int = 1) -> bytes:
    return struct.pack("!HHHB", tid, 0, len(pdu) + 1, unit) + pdu


def _feed(parser: ModbusParser, data: bytes, to_server: bool) -> list[Message]:
    return parser.feed(data, to_server)


def _sub(fields: dict[str, Any], expected: dict[str, Any]) -> dict[str, Any]:
    return {k: fields.get(k, "<missing>") for k in expected}


def test_mbap_example_frames_as_one_message() -> None:
    (m,) = ModbusParser().feed(MBAP_EXAMPLE + PDU_EXAMPLE, True)
    assert m.fields["transaction_id"] == 0x1234
    assert m.fields["unit_id"] == 255
    assert m.fields["address"] == 0 and m.fields["quantity"] == 10
    assert _adu(PDU_EXAMPLE, tid=0x1234, unit=255) == MBAP_EXAMPLE + PDU_EXAMPLE


# (name, request PDU, response PDU, action, request fields, response fields)
FUNCTIONS: list[tuple[str, bytes, bytes, str, dict[str, Any], dict[str, Any]]] = [
    (
        "fc1_read_coils",
        b"\x01"  # function 1
        b"\x00\x13"  # address 19
        b"\x00\x13",  # quantity 19
        b"\x01"  # function 1
        b"\x03"  # byte count 3
        b"\xcd\x6b\x05",  # coils 19..37, LSB first
        "read_coils",
        {"function_code": 1, "function": "READ_COILS", "address": 19, "quantity": 19},
        {"values": [1, 0, 1, 1, 0, 0, 1, 1, 1, 1, 0, 1, 0, 1, 1, 0, 1, 0, 1], "address": 19, "quantity": 19},
    ),
    (
        "fc2_read_discrete_inputs",
        b"\x02"  # function 2
        b"\x00\xc4"  # address 196
        b"\x00\x16",  # quantity 22
        b"\x02"  # function 2
        b"\x03"  # byte count 3
        b"\xac\xdb\x35",  # inputs 196..217
        "read_discrete_inputs",
        {"address": 196, "quantity": 22},
        {"values": [0, 0, 1, 1, 0, 1, 0, 1, 1, 1, 0, 1, 1, 0, 1, 1, 1, 0, 1, 0, 1, 1]},
    ),
    (
        "fc3_read_holding_registers",
        b"\x03"  # function 3
        b"\x00\x6b"  # address 107
        b"\x00\x03",  # quantity 3
        b"\x03"  # function 3
        b"\x06"  # byte count 6
        b"\x02\x2b\x00\x00\x00\x64",  # 555, 0, 100
        "read_holding_registers",
        {"address": 107, "quantity": 3},
        {"values": [555, 0, 100], "address": 107, "quantity": 3},
    ),
    (
        "fc4_read_input_registers",
        b"\x04"  # function 4
        b"\x00\x08"  # address 8
        b"\x00\x01",  # quantity 1
        b"\x04"  # function 4
        b"\x02"  # byte count 2
        b"\x00\x0a",  # 10
        "read_input_registers",
        {"address": 8, "quantity": 1},
        {"values": [10]},
    ),
    (
        "fc5_write_single_coil",
        b"\x05"  # function 5
        b"\x00\xac"  # address 172
        b"\xff\x00",  # ON
        b"\x05"  # function 5
        b"\x00\xac"  # address 172
        b"\xff\x00",  # ON (echo)
        "write_single_coil",
        {"address": 172, "quantity": 1, "values": [1]},
        {"address": 172, "values": [1]},
    ),
    (
        "fc6_write_single_register",
        b"\x06"  # function 6
        b"\x00\x01"  # address 1
        b"\x00\x03",  # value 3
        b"\x06"  # function 6
        b"\x00\x01"  # address 1
        b"\x00\x03",  # value 3 (echo)
        "write_single_register",
        {"address": 1, "quantity": 1, "values": [3]},
        {"address": 1, "values": [3]},
    ),
    (
        "fc7_read_exception_status",
        b"\x07",  # function 7, no data
        b"\x07"  # function 7
        b"\x6d",  # status 0x6d
        "read_exception_status",
        {"function_code": 7},
        {"values": [0x6D]},
    ),
    (
        "fc8_diagnostics",
        b"\x08"  # function 8
        b"\x00\x00"  # subfunction 0: return query data
        b"\xa5\x37",  # data
        b"\x08"  # function 8
        b"\x00\x00"  # subfunction 0
        b"\xa5\x37",  # data (echo)
        "diagnostics",
        {"subfunction": 0, "subfunction_name": "RETURN_QUERY_DATA", "data": "a537"},
        {"subfunction": 0, "data": "a537"},
    ),
    (
        "fc11_get_comm_event_counter",
        b"\x0b",  # function 11
        b"\x0b"  # function 11
        b"\xff\xff"  # status: busy
        b"\x01\x08",  # event count 264
        "get_comm_event_counter",
        {"function_code": 11},
        {"status": 0xFFFF, "event_count": 264},
    ),
    (
        "fc12_get_comm_event_log",
        b"\x0c",  # function 12
        b"\x0c"  # function 12
        b"\x08"  # byte count 8
        b"\x00\x00"  # status
        b"\x01\x08"  # event count 264
        b"\x01\x21"  # message count 289
        b"\x20\x00",  # events
        "get_comm_event_log",
        {"function_code": 12},
        {"status": 0, "event_count": 264, "message_count": 289},
    ),
    (
        "fc15_write_multiple_coils",
        b"\x0f"  # function 15
        b"\x00\x13"  # address 19
        b"\x00\x0a"  # quantity 10
        b"\x02"  # byte count 2
        b"\xcd\x01",  # coils 19..28
        b"\x0f"  # function 15
        b"\x00\x13"  # address 19
        b"\x00\x0a",  # quantity 10
        "write_multiple_coils",
        {"address": 19, "quantity": 10, "values": [1, 0, 1, 1, 0, 0, 1, 1, 1, 0]},
        {"address": 19, "quantity": 10},
    ),
    (
        "fc16_write_multiple_registers",
        b"\x10"  # function 16
        b"\x00\x01"  # address 1
        b"\x00\x02"  # quantity 2
        b"\x04"  # byte count 4
        b"\x00\x0a\x01\x02",  # 10, 258
        b"\x10"  # function 16
        b"\x00\x01"  # address 1
        b"\x00\x02",  # quantity 2
        "write_multiple_registers",
        {"address": 1, "quantity": 2, "values": [10, 258]},
        {"address": 1, "quantity": 2},
    ),
    (
        "fc17_report_server_id",
        b"\x11",  # function 17
        b"\x11"  # function 17
        b"\x05"  # byte count 5
        b"\x01"  # server id
        b"\xff"  # run indicator: on
        b"\x41\x42\x43",  # device specific data "ABC"
        "report_server_id",
        {"function": "REPORT_SERVER_ID"},
        {"data": "01ff414243"},
    ),
    (
        "fc20_read_file_record",
        b"\x14"  # function 20
        b"\x0e"  # byte count 14
        b"\x06\x00\x04\x00\x01\x00\x02"  # ref 6, file 4, record 1, length 2
        b"\x06\x00\x03\x00\x09\x00\x02",  # ref 6, file 3, record 9, length 2
        b"\x14"  # function 20
        b"\x0c"  # response data length 12
        b"\x05\x06\x0d\xfe\x00\x20"  # sub-response: length 5, ref 6, 2 registers
        b"\x05\x06\x33\xcd\x00\x40",  # sub-response: length 5, ref 6, 2 registers
        "read_file_record",
        {"records": [{"file": 4, "record": 1, "length": 2}, {"file": 3, "record": 9, "length": 2}]},
        {"records": [{"length": 2}, {"length": 2}]},
    ),
    (
        "fc21_write_file_record",
        b"\x15"  # function 21
        b"\x0d"  # byte count 13
        b"\x06\x00\x04\x00\x07\x00\x03"  # ref 6, file 4, record 7, length 3
        b"\x06\xaf\x04\xbe\x10\x0d",  # record data
        b"\x15"  # function 21
        b"\x0d"  # byte count 13 (echo)
        b"\x06\x00\x04\x00\x07\x00\x03"  # ref 6, file 4, record 7, length 3
        b"\x06\xaf\x04\xbe\x10\x0d",  # record data
        "write_file_record",
        {"records": [{"file": 4, "record": 7, "length": 3}]},
        {"records": [{"file": 4, "record": 7, "length": 3}]},
    ),
    (
        "fc22_mask_write_register",
        b"\x16"  # function 22
        b"\x00\x04"  # address 4
        b"\x00\xf2"  # and mask
        b"\x00\x25",  # or mask
        b"\x16"  # function 22
        b"\x00\x04"  # address 4
        b"\x00\xf2"  # and mask
        b"\x00\x25",  # or mask (echo)
        "mask_write_register",
        {"address": 4, "and_mask": 0xF2, "or_mask": 0x25},
        {"address": 4, "and_mask": 0xF2, "or_mask": 0x25},
    ),
    (
        "fc23_read_write_multiple_registers",
        b"\x17"  # function 23
        b"\x00\x03"  # read address 3
        b"\x00\x06"  # read quantity 6
        b"\x00\x0e"  # write address 14
        b"\x00\x03"  # write quantity 3
        b"\x06"  # write byte count 6
        b"\x00\xff\x00\xff\x00\xff",  # 255, 255, 255
        b"\x17"  # function 23
        b"\x0c"  # byte count 12
        b"\x00\xfe\x0a\xcd\x00\x01\x00\x03\x00\x0d\x00\xff",  # six registers read
        "read_write_multiple_registers",
        {"read_address": 3, "read_quantity": 6, "write_address": 14, "values": [255, 255, 255]},
        {"values": [254, 2765, 1, 3, 13, 255], "read_address": 3, "write_address": 14},
    ),
    (
        "fc24_read_fifo_queue",
        b"\x18"  # function 24
        b"\x04\xde",  # FIFO pointer address 1246
        b"\x18"  # function 24
        b"\x00\x06"  # byte count 6
        b"\x00\x02"  # FIFO count 2
        b"\x01\xb8\x12\x84",  # 440, 4740
        "read_fifo_queue",
        {"address": 1246},
        {"values": [440, 4740]},
    ),
    (
        "fc43_13_canopen_general_reference",
        b"\x2b"  # function 43
        b"\x0d"  # MEI type 13
        b"\x00\x01\x02",  # CANopen data
        b"\x2b"  # function 43
        b"\x0d"  # MEI type 13
        b"\x00\x01\x02\x03",  # CANopen data
        "can_open_general_reference",
        {"mei_type": 13, "data": "000102"},
        {"mei_type": 13, "data": "00010203"},
    ),
    (
        "fc43_14_read_device_identification",
        b"\x2b"  # function 43
        b"\x0e"  # MEI type 14
        b"\x01"  # read device id code 1: basic
        b"\x00",  # object id 0
        b"\x2b"  # function 43
        b"\x0e"  # MEI type 14
        b"\x01"  # read device id code 1
        b"\x01"  # conformity level 1
        b"\x00"  # more follows: no
        b"\x00"  # next object id
        b"\x03"  # number of objects 3
        b"\x00\x16" b"Company identification"  # object 0 vendor name, 22 bytes
        b"\x01\x0f" b"Product code XX"  # object 1 product code, 15 bytes
        b"\x02\x05" b"V2.11",  # object 2 revision, 5 bytes
        "read_device_identification",
        {"mei_type": 14, "read_device_id_code": 1, "object_id": 0},
        {
            "mei_type": 14,
            "conformity_level": 1,
            "more_follows": False,
            "device_id": {"vendor_name": "Company identification", "product_code": "Product code XX", "revision": "V2.11"},
        },
    ),
]


@pytest.mark.parametrize("case", FUNCTIONS, ids=[c[0] for c in FUNCTIONS])
def test_public_function_request_and_response(case: tuple) -> None:
    _name, req_pdu, rsp_pdu, action, req_fields, rsp_fields = case
    p = ModbusParser()
    (req,) = p.feed(_adu(req_pdu, tid=7, unit=3), True)
    (rsp,) = p.feed(_adu(rsp_pdu, tid=7, unit=3), False)
    assert (req.dataset, req.action, req.to_server) == ("modbus", action, True)
    assert (rsp.dataset, rsp.action, rsp.to_server) == ("modbus", action, False)
    assert _sub(req.fields, req_fields) == req_fields
    assert _sub(rsp.fields, rsp_fields) == rsp_fields
    fc = req_pdu[0]
    for m, is_response in ((req, False), (rsp, True)):
        assert m.fields["transaction_id"] == 7 and m.fields["unit_id"] == 3
        assert m.fields["function_code"] == fc
        assert m.fields["is_response"] is is_response
        assert "flags" not in m.fields, m.fields.get("flags")
    assert rsp.fields["matched"] is True
    assert not p.errors


def test_device_identification_with_extended_and_private_objects() -> None:
    rsp_pdu = (
        b"\x2b"  # function 43
        b"\x0e"  # MEI type 14
        b"\x03"  # read device id code 3: extended
        b"\x83"  # conformity level 0x83
        b"\xff"  # more follows: yes
        b"\x85"  # next object id 0x85
        b"\x04"  # number of objects 4
        b"\x03\x0b" b"example.org"  # object 3 vendor url
        b"\x04\x03" b"PLC"  # object 4 product name
        b"\x06\x00"  # object 6 user application name, empty
        b"\x84\x02" b"\xc3\xa9"  # private object 0x84: UTF-8 "é"
    )
    (m,) = ModbusParser().feed(_adu(rsp_pdu), False)
    assert m.fields["more_follows"] is True
    assert m.fields["device_id"] == {
        "vendor_url": "example.org",
        "product_name": "PLC",
        "user_application_name": "",
        "object_0x84": "é",
    }
    assert "flags" not in m.fields


@pytest.mark.parametrize(
    "objects",
    [
        b"\x00\x16" b"Company",  # object length beyond the PDU
        b"\x00",  # object header cut off
    ],
    ids=["object_too_long", "object_header_cut"],
)
def test_device_identification_with_bad_object_length_is_flagged(objects: bytes) -> None:
    rsp_pdu = b"\x2b\x0e\x01\x01\x00\x00\x01" + objects  # fc 43/14, code 1, level 1, no more, next 0, 1 object
    (m,) = ModbusParser().feed(_adu(rsp_pdu), False)
    assert m.fields["flags"] == ["bad_length"]
    assert m.fields["device_id"] == {}


# -- exceptions -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "code, name",
    [(1, "ILLEGAL_FUNCTION"), (2, "ILLEGAL_DATA_ADDRESS"), (3, "ILLEGAL_DATA_VALUE"), (4, "SERVER_DEVICE_FAILURE"),
     (6, "SERVER_DEVICE_BUSY"), (11, "GATEWAY_TARGET_DEVICE_FAILED_TO_RESPOND")],
)
def test_exception_response(code: int, name: str) -> None:
    p = ModbusParser()
    p.feed(_adu(b"\x03\x00\x6b\x00\x03", tid=9), True)
    exc_pdu = bytes([0x83, code])  # function 3 with the exception bit, exception code
    (m,) = p.feed(_adu(exc_pdu, tid=9), False)
    assert m.action == "read_holding_registers"
    f = m.fields
    assert (f["function_code"], f["exception_code"], f["exception"]) == (3, code, name)
    assert f["matched"] is True and f["address"] == 107 and f["quantity"] == 3
    assert "flags" not in f


@pytest.mark.parametrize("code", [0, 7, 9, 12, 0x7F, 0xFF])
def test_exception_response_with_reserved_code(code: int) -> None:
    (m,) = ModbusParser().feed(_adu(bytes([0x81, code])), False)
    assert m.fields["exception_code"] == code  # the raw value is kept
    assert m.fields["exception"] == "UNKNOWN"
    assert m.fields["flags"] == ["bad_exception_code"]


def test_exception_response_without_code_is_flagged() -> None:
    (m,) = ModbusParser().feed(_adu(b"\x83"), False)  # function 3 with the exception bit, no code
    assert set(m.fields["flags"]) == {"bad_exception_code", "bad_length"}


def test_exception_bit_in_a_request_is_flagged() -> None:
    (m,) = ModbusParser().feed(_adu(b"\x83\x00\x00\x00\x01"), True)
    assert m.fields["function_code"] == 3
    assert m.fields["flags"] == ["exception_bit_in_request"]


def test_unknown_function_keeps_raw_code_and_data() -> None:
    p = ModbusParser()
    (req,) = p.feed(_adu(b"\x5a\x01\x02\x03"), True)  # function 90 (Schneider UMAS), data
    (rsp,) = p.feed(_adu(b"\x5a\xfe"), False)
    assert (req.action, req.fields["function_code"], req.fields["function"], req.fields["data"]) == (
        "unknown_function", 90, "UNKNOWN", "010203")
    assert rsp.fields["matched"] is True and rsp.fields["data"] == "fe"


# -- pairing ----------------------------------------------------------------------------------


def test_responses_out_of_order_are_paired_by_transaction_id() -> None:
    p = ModbusParser()
    p.feed(_adu(b"\x03\x00\x0a\x00\x01", tid=1) + _adu(b"\x03\x00\x14\x00\x02", tid=2), True)
    second, first = p.feed(_adu(b"\x03\x04\x00\x01\x00\x02", tid=2) + _adu(b"\x03\x02\x00\x07", tid=1), False)
    assert (second.fields["address"], second.fields["quantity"], second.fields["values"]) == (20, 2, [1, 2])
    assert (first.fields["address"], first.fields["quantity"], first.fields["values"]) == (10, 1, [7])
    assert first.fields["matched"] and second.fields["matched"]


@pytest.mark.parametrize(
    "tid, unit", [(99, 1), (1, 2)], ids=["unknown_transaction", "same_transaction_other_unit"]
)
def test_unpaired_response_is_not_matched(tid: int, unit: int) -> None:
    p = ModbusParser()
    p.feed(_adu(b"\x03\x00\x0a\x00\x01", tid=1, unit=1), True)
    (m,) = p.feed(_adu(b"\x03\x02\x00\x07", tid=tid, unit=unit), False)
    assert m.fields["matched"] is False
    assert "address" not in m.fields


def test_response_paired_only_once() -> None:
    p = ModbusParser()
    p.feed(_adu(b"\x06\x00\x01\x00\x03", tid=5), True)
    a, b = p.feed(_adu(b"\x06\x00\x01\x00\x03", tid=5) * 2, False)
    assert (a.fields["matched"], b.fields["matched"]) == (True, False)


def test_response_with_other_function_code_is_flagged() -> None:
    p = ModbusParser()
    p.feed(_adu(b"\x03\x00\x0a\x00\x01", tid=4), True)
    (m,) = p.feed(_adu(b"\x04\x02\x00\x07", tid=4), False)
    assert m.fields["matched"] is True
    assert "function_code_mismatch" in m.fields["flags"]


def test_pending_requests_are_bounded() -> None:
    p = ModbusParser()
    reqs = b"".join(_adu(b"\x03\x00\x00\x00\x01", tid=t) for t in range(MAX_PENDING + 5))
    msgs = p.feed(reqs, True)
    flagged = [m.fields["transaction_id"] for m in msgs if "pending_requests_bound_hit" in m.fields.get("flags", [])]
    assert flagged == [MAX_PENDING]  # flagged once, on the request that hit the bound
    oldest, newest = p.feed(_adu(b"\x03\x02\x00\x01", tid=0) + _adu(b"\x03\x02\x00\x01", tid=MAX_PENDING + 4), False)
    assert oldest.fields["matched"] is False  # dropped to make room
    assert newest.fields["matched"] is True


# -- spec violations --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "pdu, flags",
    [
        (b"\x03\x00\x00\x00\x00", ["bad_quantity"]),  # read registers: quantity 0
        (b"\x03\x00\x00\x00\x7e", ["bad_quantity"]),  # read registers: quantity 126 > 125
        (b"\x01\x00\x00\x07\xd1", ["bad_quantity"]),  # read coils: quantity 2001 > 2000
        (b"\x03\x00\x00\x00\x01\x00", ["bad_length"]),  # read registers: one byte too many
        (b"\x03\x00\x00", ["bad_length"]),  # read registers: quantity cut off
        (b"\x05\x00\x01\x12\x34", ["bad_coil_value"]),  # write coil: neither 0xFF00 nor 0x0000
        (b"\x06\x00\x01", ["bad_length"]),  # write register: value cut off
        (b"\x10\x00\x01\x00\x00\x00", ["bad_quantity"]),  # write registers: quantity 0, byte count 0
        (b"\x10\x00\x01\x00\x02\x04\x00\x0a", ["bad_length"]),  # write registers: values cut off
        (b"\x10\x00\x01\x00\x02\x03\x00\x0a\x01", ["bad_quantity"]),  # byte count 3 for 2 registers
        (b"\x0f\x00\x13\x00\x0a\x01\xcd", ["bad_quantity"]),  # write coils: byte count 1 for 10 coils
        (b"\x16\x00\x04\x00\xf2", ["bad_length"]),  # mask write: or mask missing
        (b"\x17\x00\x03\x00\x06\x00\x0e\x00\x03\x04\x00\xff\x00\xff", ["bad_quantity"]),  # fc 23: byte count 4 for 3
        (b"\x18\x04", ["bad_length"]),  # FIFO pointer cut off
        (b"\x07\x00", ["bad_length"]),  # read exception status takes no data
        (b"\x14\x07\x05\x00\x04\x00\x01\x00\x02", ["bad_reference_type"]),  # file record reference type 5
        (b"\x14\x0e\x06\x00\x04\x00\x01\x00\x02", ["bad_length"]),  # file record: byte count beyond PDU
        (b"\x2b\x0e\x01", ["bad_length"]),  # device identification: object id missing
        (b"\x2b", ["bad_length"]),  # MEI type missing
        (b"\x08\x00", ["bad_length"]),  # diagnostics: subfunction cut off
    ],
    ids=lambda v: v.hex()[:24] if isinstance(v, bytes) else "",
)
def test_request_spec_violations_are_flagged(pdu: bytes, flags: list[str]) -> None:
    msgs = ModbusParser().feed(_adu(pdu), True)
    assert len(msgs) == 1
    assert msgs[0].fields["flags"] == flags


@pytest.mark.parametrize(
    "req, rsp, flags",
    [
        (b"\x03\x00\x00\x00\x03", b"\x03\x05\x00\x01\x00\x02\x00", ["bad_byte_count"]),  # odd byte count
        (b"\x03\x00\x00\x00\x03", b"\x03\x04\x00\x01\x00\x02", ["bad_byte_count"]),  # 2 registers for 3 asked
        (b"\x03\x00\x00\x00\x02", b"\x03\x04\x00\x01", ["bad_length"]),  # byte count beyond the PDU
        (b"\x01\x00\x00\x00\x0a", b"\x01\x01\xff", ["bad_byte_count"]),  # 1 byte for 10 coils
        (b"\x05\x00\x01\xff\x00", b"\x05\x00\x01", ["bad_length"]),  # echo cut off
        (b"\x10\x00\x01\x00\x01\x02\x00\x01", b"\x10\x00\x01", ["bad_length"]),  # echo cut off
        (b"\x18\x00\x01", b"\x18\x00\x08\x00\x02\x00\x01\x00\x02", ["bad_byte_count"]),  # FIFO byte count 8 for 2
        (b"\x18\x00\x01", b"\x18\x00\x42\x00\x20" + b"\x00" * 64, ["bad_byte_count"]),  # FIFO count 32 > 31
        (b"\x0b", b"\x0b\xff\xff\x01", ["bad_length"]),  # event counter cut off
    ],
    ids=lambda v: v.hex()[:24] if isinstance(v, bytes) else "",
)
def test_response_spec_violations_are_flagged(req: bytes, rsp: bytes, flags: list[str]) -> None:
    p = ModbusParser()
    p.feed(_adu(req), True)
    (m,) = p.feed(_adu(rsp), False)
    assert m.fields["flags"] == flags


# -- framing ----------------------------------------------------------------------------------

READ_HR = _adu(b"\x03\x00\x6b\x00\x03", tid=1)
# field boundaries of an ADU: tid | pid | length | unit | fc | address | quantity
BOUNDARIES = [0, 1, 2, 4, 6, 7, 8, 10, 11]


@pytest.mark.parametrize("cut", BOUNDARIES)
def test_truncation_at_each_field_boundary_waits_for_the_rest(cut: int) -> None:
    p = ModbusParser()
    assert p.feed(READ_HR[:cut], True) == []
    (m,) = p.feed(READ_HR[cut:], True)
    assert m.fields["address"] == 107
    assert not p.errors


@pytest.mark.parametrize(
    "data, reason",
    [
        (b"", None),  # empty input
        (b"\x00\x01\x00\x01\x00\x06\x01\x03\x00\x6b\x00\x03", "not_protocol"),  # protocol id 1
        (b"\x00\x01\x00\x00\x00\x01\x01", "not_protocol"),  # length 1: no function code
        (b"\x00\x01\x00\x00\x00\x00\x01", "not_protocol"),  # length 0
        (b"\x00\x01\x00\x00\x01\x00\x01" + b"\x03" * 256, "not_protocol"),  # length 256 > 254
        (b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", "not_protocol"),  # garbage
    ],
    ids=["empty", "protocol_id_1", "length_1", "length_0", "length_256", "http"],
)
def test_bad_headers_are_counted_not_raised(data: bytes, reason: str | None) -> None:
    p = ModbusParser()
    assert p.feed(data, True) == []
    assert [e.reason for e in p.errors][:1] == ([reason] if reason else [])


def test_garbage_then_valid_adu_resyncs() -> None:
    p = ModbusParser()
    msgs = p.feed(b"\xde\xad\xbe\xef\x00\x01\x02" + READ_HR, True)
    assert [m.fields["address"] for m in msgs] == [107]
    assert [e.reason for e in p.errors] == ["not_protocol"]


def test_gap_drops_the_partial_adu_and_resyncs() -> None:
    p = ModbusParser()
    assert p.feed(READ_HR[:9], True) == []
    p.gap(True)
    assert [m.fields["transaction_id"] for m in p.feed(READ_HR[9:] + _adu(b"\x07", tid=2), True)] == [2]


def test_directions_are_buffered_separately() -> None:
    p = ModbusParser()
    rsp = _adu(b"\x03\x06\x02\x2b\x00\x00\x00\x64", tid=1)
    assert p.feed(READ_HR[:5], True) == []
    assert p.feed(rsp[:9], False) == []
    (req,) = p.feed(READ_HR[5:], True)
    (m,) = p.feed(rsp[9:], False)
    assert req.fields["address"] == 107 and m.fields["values"] == [555, 0, 100]


# -- signature --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "data, to_server, hit",
    [
        (READ_HR, True, True),  # one request
        (READ_HR * 3, True, True),  # several ADUs
        (_adu(b"\x83\x02"), False, True),  # exception response
        (_adu(b"\x83\x02"), True, False),  # exception bit from the client
        (READ_HR[:-1], True, False),  # cut short
        (READ_HR + b"\x00", True, False),  # trailing byte
        (_adu(b"\x5a\x00"), True, False),  # function 90 is not public
        (b"", True, False),  # empty
        (b"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1", True, False),  # TLS client hello
    ],
    ids=["request", "three", "exception", "exception_from_client", "cut", "trailing", "fc90", "empty", "tls"],
)
def test_probe_is_strict(data: bytes, to_server: bool, hit: bool) -> None:
    assert probe(data, to_server) is hit
    assert SPEC.probe is probe and 502 in SPEC.ports
