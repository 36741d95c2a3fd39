"""S7comm userdata (ROSCTR 7): groups, subfunctions, SZL identity, fragments, pairing."""

from __future__ import annotations

import json

import pytest

from parsers.base import Message
from parsers.s7comm import S7Parser


def dt(payload: bytes) -> bytes:
    """TPKT (03 00 length) + COTP DT (LI 2, code F0, EOT) + payload."""
    return bytes([3, 0]) + (len(payload) + 7).to_bytes(2, "big") + bytes([2, 0xF0, 0x80]) + payload


def ud(pdu_ref: int, param: list[str], data: list[str]) -> bytes:
    """S7 userdata header (protocol 0x32, ROSCTR 7, redundancy 0, PDU reference, lengths) + parts."""
    p, d = bytes.fromhex("".join(param)), bytes.fromhex("".join(data))
    head = bytes([0x32, 7, 0, 0]) + pdu_ref.to_bytes(2, "big")
    return head + len(p).to_bytes(2, "big") + len(d).to_bytes(2, "big") + p + d


def text(value: str, width: int = 32) -> str:
    """An SZL text field: ASCII padded with NUL to its width, as hex."""
    return value.encode().ljust(width, b"\0").hex()


REQ_HEAD = [
    "00",  # function 0 (userdata)
    "01",  # item count 1
    "12",  # variable specification
    "04",  # 4 bytes follow
    "11",  # method: request
]
RES_HEAD = [
    "00",  # function 0
    "01",  # item count 1
    "12",  # variable specification
    "08",  # 8 bytes follow
    "12",  # method: response
]
SZL_0011_REQ = ud(
    0x0700,
    [
        *REQ_HEAD,
        "44",  # type request (1 << 6), group 4 CPU functions
        "01",  # subfunction read SZL
        "00",  # sequence number
    ],
    [
        "ff",  # return code
        "09",  # transport size octet string
        "0004",  # 4 bytes
        "0011",  # SZL id 0x0011 module identification
        "0000",  # index 0
    ],
)
MODULE_RECORDS = [
    "0001",  # index 1: module
    text("6ES7 315-2EH14-0AB0 ", 20),  # order number (MlfB)
    "00c0",  # BGTyp module type id
    "0004",  # Ausbg: release 4
    "0001",  # Ausbe
    "0006",  # index 6: basic hardware
    text("6ES7 315-2EH14-0AB0 ", 20),  # order number
    "00c0",  # BGTyp
    "0004",  # Ausbg: hardware release 4
    "0001",  # Ausbe
    "0007",  # index 7: basic firmware
    text(" " * 20, 20),  # no order number
    "00c0",  # BGTyp
    "5603",  # Ausbg: 'V' and major 3
    "0206",  # Ausbe: minor 2, patch 6
]
SZL_0011_RES = ud(
    0x0700,
    [
        *RES_HEAD,
        "84",  # type response (2 << 6), group 4
        "01",  # subfunction read SZL
        "01",  # sequence number
        "00",  # data unit reference
        "00",  # last data unit: yes
        "0000",  # error code none
    ],
    [
        "ff",  # return code success
        "09",  # transport size octet string
        "005c",  # 92 bytes
        "0011",  # SZL id
        "0000",  # index
        "001c",  # record length 28
        "0003",  # 3 records
        *MODULE_RECORDS,
    ],
)


def szl_res(pdu_ref: int, seq: str, data: list[str], unit: str = "00", last: str = "00", error: str = "0000") -> bytes:
    """A read-SZL response: group 4, subfunction 1, the given sequence/data unit/last/error."""
    param = [
        *RES_HEAD,
        "84",  # type response, group 4 CPU functions
        "01",  # subfunction read SZL
        seq,  # sequence number
        unit,  # data unit reference
        last,  # last data unit: 00 yes, 01 more follow
        error,  # error code
    ]
    return ud(pdu_ref, param, data)


SZL_001C_RES = szl_res(
    0x0701,
    "02",  # sequence number
    [
        "ff",  # return code success
        "09",  # octet string
        "00b2",  # 178 bytes
        "001c",  # SZL id component identification
        "0000",  # index
        "0022",  # record length 34
        "0005",  # 5 records
        "0001",  # index 1: automation system name
        text("WTP_LINE1_S7"),
        "0003",  # index 3: plant designation
        text("JS-NJ-WTP-FILTER"),
        "0005",  # index 5: serial number
        text("S C-H4N703832013"),
        "0007",  # index 7: module type name
        text("CPU 315-2 PN/DP"),
        "0009",  # index 9: manufacturer and profile
        "002a",  # manufacturer id 42 (Siemens)
        "f600",  # profile id
        "00" * 28,  # reserved
    ],
)
SZL_0131_RES = szl_res(
    0x0702,
    "03",  # sequence number
    [
        "ff",  # success
        "09",  # octet string
        "0030",  # 48 bytes
        "0131",  # SZL id communication capabilities
        "0001",  # index 1
        "0028",  # record length 40
        "0001",  # 1 record
        "0001",  # record index 1
        "00f0",  # max PDU size 240
        "0010",  # max connections 16
        "0002dc6c",  # MPI rate 187500
        "00b71b00",  # bus rate 12000000
        "00" * 26,  # reserved
    ],
)
SZL_0232_RES = szl_res(
    0x0703,
    "04",  # sequence number
    [
        "ff",  # success
        "09",  # octet string
        "0030",  # 48 bytes
        "0232",  # SZL id protection
        "0004",  # index 4
        "0028",  # record length 40
        "0001",  # 1 record
        "0004",  # record index 4
        "0001",  # protection level set by key switch
        "0001",  # parameterised protection level
        "0002",  # valid protection level 2
        "0003",  # mode selector: STOP
        "0000",  # startup switch
        "00" * 28,  # reserved
    ],
)
SZL_0424_RES = szl_res(
    0x0704,
    "05",  # sequence number
    [
        "ff",  # success
        "09",  # octet string
        "001c",  # 28 bytes
        "0424",  # SZL id current mode
        "0000",  # index
        "0014",  # record length 20
        "0001",  # 1 record
        "4304",  # event id
        "ff",  # ae
        "84",  # previous mode 8 (RUN), current mode 4 (STOP internal)
        "00000000",  # reserved
        "00000000",  # startup info
        "2501151030000004",  # timestamp
    ],
)
SZL_0424_REQ = ud(
    0x0705,
    [
        *REQ_HEAD,
        "44",  # request, group 4
        "01",  # read SZL
        "00",  # sequence
    ],
    [
        "ff",  # return code
        "09",  # octet string
        "0004",  # 4 bytes
        "0424",  # SZL id current mode
        "0000",  # index
    ],
)
SZL_ERROR_RES = szl_res(
    0x0705,
    "06",  # sequence number
    [
        "0a",  # return code: object does not exist
        "00",  # transport size null
        "0000",  # no data
    ],
    error="d401",  # information function unavailable
)
# one SZL answer in two PDUs: data unit reference 5, "more follow", then "last"
FRAG_1 = szl_res(
    0x0800,
    "07",  # sequence number
    [
        "ff",  # success
        "09",  # octet string
        "0034",  # 52 bytes in this part
        "0011",  # SZL id
        "0000",  # index
        "001c",  # record length 28
        "0003",  # 3 records
        "".join(MODULE_RECORDS)[:88],  # 44 bytes: the first record and half of the second
    ],
    unit="05",
    last="01",
)
FRAG_2 = szl_res(
    0x0801,
    "07",  # sequence number
    [
        "ff",  # success
        "09",  # octet string
        "0028",  # 40 bytes
        "".join(MODULE_RECORDS)[88:],  # the rest
    ],
    unit="05",
)


def ud_req(pdu_ref: int, group: str, sub: str, data: list[str]) -> bytes:
    """A userdata request of a group ("4" + group nibble = type request) and subfunction."""
    return ud(pdu_ref, [*REQ_HEAD, group, sub, "00"], data)


def ud_res(pdu_ref: int, group: str, sub: str, data: list[str]) -> bytes:
    """A userdata response (last data unit, no error) of a group and subfunction."""
    return ud(pdu_ref, [*RES_HEAD, group, sub, "01", "00", "00", "0000"], data)


NO_DATA = [
    "0a",  # return code: object does not exist (requests without data)
    "00",  # transport size null
    "0000",  # length 0
]
LIST_BLOCKS_REQ = ud_req(0x0900, "43", "01", NO_DATA)  # group 3 block functions, list blocks
LIST_BLOCKS_RES = ud_res(
    0x0900,
    "83",  # response, group 3
    "01",  # list blocks
    [
        "ff",  # success
        "09",  # octet string
        "0008",  # 8 bytes
        "3038",  # block type "08" (OB)
        "0001",  # 1 block
        "3041",  # block type "0A" (DB)
        "0003",  # 3 blocks
    ],
)
LIST_TYPE_REQ = ud_req(
    0x0901,
    "43",  # request, group 3
    "02",  # list blocks of type
    [
        "ff",  # return code
        "09",  # octet string
        "0002",  # 2 bytes
        "3041",  # block type "0A" (DB)
    ],
)
LIST_TYPE_RES = ud_res(
    0x0901,
    "83",  # response, group 3
    "02",  # list blocks of type
    [
        "ff",  # success
        "09",  # octet string
        "0008",  # 8 bytes
        "0001",  # DB 1
        "22",  # flags
        "05",  # language DB
        "000a",  # DB 10
        "22",  # flags
        "05",  # language DB
    ],
)
BLOCK_INFO_REQ = ud_req(
    0x0902,
    "43",  # request, group 3
    "03",  # block info
    [
        "ff",  # return code
        "09",  # octet string
        "0008",  # 8 bytes
        "3043",  # block type "0C" (FC)
        "3030303132",  # number "00012"
        "41",  # filesystem 'A'
    ],
)
READ_CLOCK_RES = ud_res(
    0x0A00,
    "87",  # response, group 7 time functions
    "01",  # read clock
    [
        "ff",  # success
        "09",  # octet string
        "000a",  # 10 bytes
        "00",  # reserved
        "20",  # century (ignored)
        "25",  # year 25 (BCD)
        "01",  # month
        "15",  # day
        "10",  # hour
        "30",  # minute
        "00",  # second
        "12",  # milliseconds 12.
        "34",  # millisecond digit 3, weekday 4
    ],
)
SET_CLOCK_REQ = ud_req(
    0x0A01,
    "47",  # request, group 7
    "02",  # set clock
    [
        "ff",  # return code
        "09",  # octet string
        "000a",  # 10 bytes
        "00",  # reserved
        "19",  # century
        "99",  # year 99
        "12",  # month
        "31",  # day
        "23",  # hour
        "59",  # minute
        "59",  # second
        "99",  # milliseconds 99.
        "97",  # millisecond digit 9, weekday 7 (Saturday)
    ],
)
SET_PASSWORD_REQ = ud_req(
    0x0B00,
    "45",  # request, group 5 security
    "01",  # set password
    [
        "ff",  # return code
        "09",  # octet string
        "0008",  # 8 bytes
        "2630101720365543",  # encoded password
    ],
)
CLEAR_PASSWORD_REQ = ud_req(0x0B01, "45", "02", NO_DATA)  # group 5 security, clear password
FORCE_REQ = ud_req(
    0x0C00,
    "41",  # request, group 1 programmer commands
    "09",  # force
    [
        "ff",  # return code
        "09",  # octet string
        "0004",  # 4 bytes
        "00140000",  # job payload (not decoded)
    ],
)
CYCLIC_REQ = ud_req(
    0x0D00,
    "42",  # request, group 2 cyclic services
    "01",  # cyclic transfer
    [
        "ff",  # return code
        "09",  # octet string
        "0010",  # 16 bytes
        "00",  # reserved
        "01",  # 1 item
        "01",  # time base 1 s
        "05",  # every 5 time bases
        "12",  # variable specification
        "0a",  # length 10
        "10",  # syntax id S7ANY
        "02",  # transport size BYTE
        "0002",  # 2 bytes
        "0001",  # DB 1
        "84",  # area DB
        "000000",  # byte 0
    ],
)
CYCLIC_PUSH = ud(
    0xFFFF,
    [
        *RES_HEAD,
        "02",  # type push (0), group 2 cyclic services
        "01",  # cyclic transfer
        "03",  # sequence (job id)
        "00",  # data unit reference
        "00",  # last data unit
        "0000",  # no error
    ],
    [
        "ff",  # success
        "09",  # octet string
        "0008",  # 8 bytes
        "00",  # reserved
        "01",  # 1 item
        "ff",  # item: success
        "04",  # BYTE/WORD/DWORD, length in bits
        "0010",  # 16 bits
        "abcd",  # value
    ],
)
MODE_PUSH = ud(
    0xFFFF,
    [
        "00",  # function 0
        "01",  # item count
        "12",  # variable specification
        "04",  # 4 bytes follow
        "12",  # method: response
        "00",  # type push, group 0 (mode transition)
        "08",  # mode: RUN
        "00",  # sequence
    ],
    [],
)


def one(parser: S7Parser, pdu: bytes, to_server: bool) -> Message:
    msgs = parser.feed(dt(pdu), to_server)
    assert len(msgs) == 1, msgs
    assert parser.errors == []
    return msgs[0]


def test_read_szl_0011_request_and_identity() -> None:
    p = S7Parser()
    req = one(p, SZL_0011_REQ, True)
    assert (req.action, req.fields["szl_id"], req.fields["szl_index"], req.fields["is_response"]) == (
        "read_szl",
        0x0011,
        0,
        False,
    )
    assert req.fields["userdata"] == {
        "method": 0x11,
        "type": "request",
        "type_code": 1,
        "group": 4,
        "group_name": "CPU functions",
        "subfunction": 1,
        "sequence": 0,
    }
    res = one(p, SZL_0011_RES, False)
    assert (res.fields["matched"], res.fields["is_response"], res.fields["userdata"]["last_data_unit"]) == (
        True,
        True,
        True,
    )
    assert res.fields["identity"] == {
        "order_number": "6ES7 315-2EH14-0AB0",
        "module_version": "4",
        "hardware_version": "4",
        "firmware_version": "V3.2.6",
    }
    assert "flags" not in res.fields


def test_component_identification_001c() -> None:
    m = one(S7Parser(), SZL_001C_RES, False)
    assert m.fields["identity"] == {
        "system_name": "WTP_LINE1_S7",
        "plant_id": "JS-NJ-WTP-FILTER",
        "serial_number": "S C-H4N703832013",
        "module_type_name": "CPU 315-2 PN/DP",
        "manufacturer_id": 42,
        "profile_id": 0xF600,
    }


def test_python_snap7_component_answer_with_zero_header() -> None:
    # python-snap7 3.3's server: header LENTHDR/N_DR zero and record indexes zero, texts at the
    # places a CPU puts records 1, 2, 3, 4, 5, 7
    body = bytearray(210)
    for pos, value in ((6, b"SNAP7-SERVER"), (40, b"CPU 315-2 PN/DP"), (108, b"Original Siemens Equipment")):
        body[pos : pos + len(value)] = value
    pdu = szl_res(
        0x0706,
        "00",  # sequence number
        [
            "ff",  # success
            "09",  # octet string
            (len(body) + 4).to_bytes(2, "big").hex(),  # length
            "001c",  # SZL id component identification
            "0000",  # index
            body.hex(),  # LENTHDR 0, N_DR 0, then the records with zero indexes
        ],
    )
    m = one(S7Parser(), pdu, False)
    assert m.fields["identity"] == {
        "system_name": "SNAP7-SERVER",
        "module_name": "CPU 315-2 PN/DP",
        "copyright": "Original Siemens Equipment",
    }
    assert m.fields["flags"] == ["szl_header_zero", "szl_record_index_missing"]


def test_communication_capabilities_0131() -> None:
    m = one(S7Parser(), SZL_0131_RES, False)
    assert m.fields["identity"] == {
        "max_pdu_size": 240,
        "max_connections": 16,
        "mpi_rate": 187500,
        "bus_rate": 12000000,
    }


def test_protection_level_0232() -> None:
    m = one(S7Parser(), SZL_0232_RES, False)
    ident = m.fields["identity"]
    assert (ident["protection_level"], ident["mode_selector"], ident["protection_level_switch"]) == (
        2,
        "STOP",
        1,
    )


def test_operating_mode_0424() -> None:
    m = one(S7Parser(), SZL_0424_RES, False)
    assert m.fields["identity"] == {"mode": "stop", "mode_name": "STOP (internal)", "mode_code": 4}
    assert m.fields["previous_mode"] == "RUN"


def test_szl_error_answer_carries_the_requested_id_and_the_error_name() -> None:
    p = S7Parser()
    one(p, SZL_0424_REQ, True)
    m = one(p, SZL_ERROR_RES, False)
    assert (m.fields["szl_id"], m.fields["inherited"]) == (0x0424, ["szl_id", "szl_index"])
    assert (m.fields["userdata"]["error_code"], m.fields["error"]) == (
        0xD401,
        "Information function unavailable",
    )
    assert (m.fields["return_code"], m.fields["return_name"]) == (0x0A, "Object does not exist")
    assert "identity" not in m.fields


def test_szl_answer_in_two_data_units_is_reassembled() -> None:
    p = S7Parser()
    first = one(p, FRAG_1, False)
    assert (
        first.fields["fragment"] is True and "identity" not in first.fields and "szl_id" not in first.fields
    )
    last = one(p, FRAG_2, False)
    assert (last.fields["reassembled"], last.fields["fragments"], last.fields["szl_id"]) == (True, 2, 0x0011)
    assert last.fields["identity"]["firmware_version"] == "V3.2.6"


def test_gap_drops_userdata_fragments_of_that_direction() -> None:
    p = S7Parser()
    one(p, FRAG_1, False)
    p.gap(False)
    last = one(p, FRAG_2, False)
    assert "reassembled" not in last.fields


def test_block_functions() -> None:
    p = S7Parser()
    assert one(p, LIST_BLOCKS_REQ, True).action == "list_blocks"
    assert one(p, LIST_BLOCKS_RES, False).fields["block_counts"] == {"OB": 1, "DB": 3}
    req = one(p, LIST_TYPE_REQ, True)
    assert (req.action, req.fields["block_type"]) == ("list_blocks_of_type", "DB")
    res = one(p, LIST_TYPE_RES, False)
    assert (res.fields["block_count"], res.fields["block_numbers"], res.fields["block_type"]) == (
        2,
        [1, 10],
        "DB",
    )
    info = one(p, BLOCK_INFO_REQ, True)
    assert (
        info.action,
        info.fields["block_type"],
        info.fields["block_number"],
        info.fields["filesystem"],
    ) == (
        "block_info",
        "FC",
        12,
        "A",
    )


def test_time_functions() -> None:
    p = S7Parser()
    read = one(p, READ_CLOCK_RES, False)
    assert (read.action, read.fields["clock"]) == ("read_clock", "2025-01-15T10:30:00.123")
    set_ = one(p, SET_CLOCK_REQ, True)
    assert (set_.action, set_.fields["clock"]) == ("set_clock", "1999-12-31T23:59:59.999")


def test_password_is_never_in_the_event() -> None:
    p = S7Parser()
    m = one(p, SET_PASSWORD_REQ, True)
    assert (m.action, m.fields["password_length"]) == ("set_password", 8)
    assert "2630101720365543" not in json.dumps(m.fields)
    assert one(p, CLEAR_PASSWORD_REQ, True).action == "clear_password"


def test_force_is_its_own_action() -> None:
    m = one(S7Parser(), FORCE_REQ, True)
    assert (m.action, m.fields["userdata"]["group"], m.fields["userdata"]["subfunction"]) == ("force", 1, 9)


def test_cyclic_data_request_and_push() -> None:
    p = S7Parser()
    req = one(p, CYCLIC_REQ, True)
    [item] = req.fields["items"]
    assert (req.action, req.fields["cycle_timebase"], req.fields["cycle_time"]) == ("cyclic_data", 1, 5)
    assert (item["area"], item["db"], item["length"]) == ("DB", 1, 2)
    push = one(p, CYCLIC_PUSH, False)
    assert (push.action, push.fields["userdata"]["type"], push.fields["values"]) == (
        "cyclic_data",
        "push",
        [0xABCD],
    )
    assert push.fields["is_response"] is False


def test_mode_transition_push() -> None:
    m = one(S7Parser(), MODE_PUSH, False)
    assert (m.action, m.fields["mode"], m.fields["mode_name"]) == ("mode_transition", "run", "RUN")


@pytest.mark.parametrize(
    "cut", [10, 12, 14, 16, 17, 18, 20, 22, 24, 26, 30, 34, 61, 62, 90], ids=lambda c: f"bytes_{c}"
)
def test_truncated_szl_answer_never_raises(cut: int) -> None:
    p = S7Parser()
    msgs = p.feed(dt(SZL_0011_RES[:cut]), False)
    assert p.errors == []
    [m] = msgs
    assert "length_mismatch" in m.fields["flags"]
    # header 10 + parameter 12 + data header 4 + SZL header 8: the first 28-byte record ends at 62
    if cut >= 62:
        assert m.fields["identity"]["order_number"] == "6ES7 315-2EH14-0AB0"
    else:
        assert "identity" not in m.fields
