"""S7comm (protocol id 0x32) decoding: job / ack_data functions, pairing, errors, bounds.

Fixtures are S7 PDUs (the COTP DT user data) written field by field; ``dt()`` wraps them in
TPKT + COTP DT as on the wire. Userdata and SZL identity live in test_s7comm_userdata.py.
"""

from __future__ import annotations

import pytest

from parsers.base import Message
from parsers.s7comm import MAX_PENDING, S7Parser

SETUP_JOB = bytes.fromhex(
    "32"  # protocol id S7comm
    "01"  # ROSCTR job
    "0000"  # redundancy id
    "0100"  # PDU reference 256
    "0008"  # parameter length 8
    "0000"  # data length 0
    "f0"  # function setup communication
    "00"  # reserved
    "0001"  # max AmQ calling 1
    "0001"  # max AmQ called 1
    "01e0"  # PDU size 480
)
SETUP_ACK = bytes.fromhex(
    "32"  # protocol id
    "03"  # ROSCTR ack_data
    "0000"  # redundancy id
    "0100"  # PDU reference 256 (echoed)
    "0008"  # parameter length 8
    "0000"  # data length 0
    "00"  # error class: none
    "00"  # error code
    "f0"  # function setup communication
    "00"  # reserved
    "0003"  # max AmQ calling 3
    "0003"  # max AmQ called 3
    "00f0"  # PDU size 240
)
READ_VAR_JOB = bytes.fromhex(
    "32"  # protocol id
    "01"  # ROSCTR job
    "0000"  # redundancy id
    "0200"  # PDU reference 512
    "001a"  # parameter length 26
    "0000"  # data length 0
    "04"  # function read var
    "02"  # item count 2
    "12"  # item 1: variable specification
    "0a"  # length of the address specification 10
    "10"  # syntax id S7ANY
    "01"  # transport size BIT
    "0001"  # length 1
    "0001"  # DB 1
    "84"  # area DB
    "000013"  # address: byte 2 bit 3 (2 << 3 | 3)
    "12"  # item 2: variable specification
    "0a"  # length 10
    "10"  # syntax id S7ANY
    "04"  # transport size WORD
    "0001"  # length 1
    "0000"  # DB 0 (not a DB access)
    "83"  # area M (flags)
    "000050"  # address: byte 10 bit 0 (10 << 3)
)
READ_VAR_ACK = bytes.fromhex(
    "32"  # protocol id
    "03"  # ROSCTR ack_data
    "0000"  # redundancy id
    "0200"  # PDU reference 512
    "0002"  # parameter length 2
    "000c"  # data length 12
    "00"  # error class none
    "00"  # error code
    "04"  # function read var
    "02"  # item count 2
    "ff"  # item 1 return code: success
    "03"  # transport size BIT (length in bits)
    "0001"  # length 1 bit
    "01"  # value 1
    "00"  # fill byte after an odd-length item that is not the last
    "ff"  # item 2 return code: success
    "04"  # transport size BYTE/WORD/DWORD (length in bits)
    "0010"  # 16 bits
    "1234"  # value 0x1234
)
READ_VAR_ACK_MISSING = bytes.fromhex(
    "32"  # protocol id
    "03"  # ROSCTR ack_data
    "0000"  # redundancy id
    "0201"  # PDU reference 513
    "0002"  # parameter length 2
    "0004"  # data length 4
    "00"  # error class none
    "00"  # error code
    "04"  # function read var
    "01"  # item count 1
    "0a"  # return code: object does not exist
    "00"  # transport size NULL
    "0000"  # length 0
)
WRITE_VAR_JOB = bytes.fromhex(
    "32"  # protocol id
    "01"  # ROSCTR job
    "0000"  # redundancy id
    "0300"  # PDU reference 768
    "000e"  # parameter length 14
    "0006"  # data length 6
    "05"  # function write var
    "01"  # item count 1
    "12"  # variable specification
    "0a"  # length 10
    "10"  # syntax id S7ANY
    "05"  # transport size INT
    "0001"  # length 1
    "0005"  # DB 5
    "84"  # area DB
    "000020"  # address: byte 4 bit 0
    "00"  # data item: reserved return code
    "05"  # transport size INTEGER (length in bits)
    "0010"  # 16 bits
    "fffe"  # value -2
)
WRITE_VAR_ACK = bytes.fromhex(
    "32"  # protocol id
    "03"  # ROSCTR ack_data
    "0000"  # redundancy id
    "0300"  # PDU reference 768
    "0002"  # parameter length 2
    "0001"  # data length 1
    "00"  # error class none
    "00"  # error code
    "05"  # function write var
    "01"  # item count 1
    "ff"  # item 1 return code: success
)
ACK_DATA_ERROR = bytes.fromhex(
    "32"  # protocol id
    "03"  # ROSCTR ack_data
    "0000"  # redundancy id
    "0400"  # PDU reference 1024
    "0000"  # parameter length 0 (nothing but the error)
    "0000"  # data length 0
    "81"  # error class: application relationship
    "04"  # error code 4 (0x8104: service not implemented)
)
ACK_BARE = bytes.fromhex(
    "32"  # protocol id
    "02"  # ROSCTR ack (no parameter, no data)
    "0000"  # redundancy id
    "0500"  # PDU reference 1280
    "0000"  # parameter length 0
    "0000"  # data length 0
    "00"  # error class none
    "00"  # error code
)
PLC_STOP_JOB = bytes.fromhex(
    "32"  # protocol id
    "01"  # ROSCTR job
    "0000"  # redundancy id
    "0600"  # PDU reference 1536
    "0010"  # parameter length 16
    "0000"  # data length 0
    "29"  # function PLC stop
    "0000000000"  # 5 unknown bytes
    "09"  # service name length 9
    "505f50524f4752414d"  # "P_PROGRAM"
)
PI_HOT_START = bytes.fromhex(
    "32"  # protocol id
    "01"  # ROSCTR job
    "0000"  # redundancy id
    "0700"  # PDU reference 1792
    "0014"  # parameter length 20
    "0000"  # data length 0
    "28"  # function PI service
    "000000000000fd"  # 7 unknown bytes
    "0000"  # parameter block length 0
    "09"  # service name length 9
    "505f50524f4752414d"  # "P_PROGRAM"
)
PI_COLD_START = bytes.fromhex(
    "32"  # protocol id
    "01"  # ROSCTR job
    "0000"  # redundancy id
    "0701"  # PDU reference 1793
    "0016"  # parameter length 22
    "0000"  # data length 0
    "28"  # function PI service
    "000000000000fd"  # 7 unknown bytes
    "0002"  # parameter block length 2
    "4320"  # argument "C " (cold start)
    "09"  # service name length 9
    "505f50524f4752414d"  # "P_PROGRAM"
)
PI_INSE = bytes.fromhex(
    "32"  # protocol id
    "01"  # ROSCTR job
    "0000"  # redundancy id
    "0702"  # PDU reference 1794
    "001a"  # parameter length 26
    "0000"  # data length 0
    "28"  # function PI service
    "000000000000fd"  # 7 unknown bytes
    "000a"  # parameter block length 10
    "01"  # number of blocks 1
    "00"  # unknown
    "3042"  # block type "0B" (SDB)
    "3030303037"  # block number "00007"
    "50"  # filesystem 'P' (passive)
    "05"  # service name length 5
    "5f494e5345"  # "_INSE"
)
PI_DELE = bytes.fromhex(
    "32"  # protocol id
    "01"  # ROSCTR job
    "0000"  # redundancy id
    "0703"  # PDU reference 1795
    "0022"  # parameter length 34
    "0000"  # data length 0
    "28"  # function PI service
    "000000000000fd"  # 7 unknown bytes
    "0012"  # parameter block length 18
    "02"  # number of blocks 2
    "00"  # unknown
    "3038"  # block type "08" (OB)
    "3030303031"  # block number "00001"
    "42"  # filesystem 'B'
    "3043"  # block type "0C" (FC)
    "3030313233"  # block number "00123"
    "42"  # filesystem 'B'
    "05"  # service name length 5
    "5f44454c45"  # "_DELE"
)
PI_COMPRESS = bytes.fromhex(
    "32"  # protocol id
    "01"  # ROSCTR job
    "0000"  # redundancy id
    "0704"  # PDU reference 1796
    "0010"  # parameter length 16
    "0000"  # data length 0
    "28"  # function PI service
    "000000000000fd"  # 7 unknown bytes
    "0000"  # parameter block length 0
    "05"  # service name length 5
    "5f47415242"  # "_GARB"
)
PI_ACK = bytes.fromhex(
    "32"  # protocol id
    "03"  # ROSCTR ack_data
    "0000"  # redundancy id
    "0700"  # PDU reference 1792
    "0002"  # parameter length 2
    "0000"  # data length 0
    "00"  # error class none
    "00"  # error code
    "28"  # function PI service
    "00"  # function status
)
REQUEST_DOWNLOAD = bytes.fromhex(
    "32"  # protocol id
    "01"  # ROSCTR job
    "0000"  # redundancy id
    "0800"  # PDU reference 2048
    "0020"  # parameter length 32
    "0000"  # data length 0
    "1a"  # function request download
    "00"  # function status
    "0100"  # unknown
    "00000000"  # unknown
    "09"  # file name length 9
    "5f30413030303130"  # "_0A00010"
    "50"  # "P": passive filesystem
    "0d"  # part 2 length 13
    "31"  # unknown '1'
    "303030303438"  # load memory length "000048"
    "303030303132"  # MC7 length "000012"
)
DOWNLOAD_BLOCK = bytes.fromhex(
    "32"  # protocol id
    "01"  # ROSCTR job
    "0000"  # redundancy id
    "0801"  # PDU reference 2049
    "0012"  # parameter length 18
    "0000"  # data length 0
    "1b"  # function download block
    "00"  # function status
    "0100"  # unknown
    "00000000"  # unknown
    "09"  # file name length 9
    "5f30413030303130"  # "_0A00010"
    "50"  # "P"
)
DOWNLOAD_BLOCK_ACK = bytes.fromhex(
    "32"  # protocol id
    "03"  # ROSCTR ack_data
    "0000"  # redundancy id
    "0801"  # PDU reference 2049
    "0002"  # parameter length 2
    "0008"  # data length 8
    "00"  # error class none
    "00"  # error code
    "1b"  # function download block
    "00"  # function status: last block
    "0004"  # block data length 4
    "00fb"  # unknown
    "01020304"  # block data
)
DOWNLOAD_ENDED = bytes.fromhex(
    "32"  # protocol id
    "01"  # ROSCTR job
    "0000"  # redundancy id
    "0802"  # PDU reference 2050
    "0012"  # parameter length 18
    "0000"  # data length 0
    "1c"  # function download ended
    "00"  # function status
    "0000"  # error code 0
    "00000000"  # unknown
    "09"  # file name length 9
    "5f30413030303130"  # "_0A00010"
    "50"  # "P"
)
START_UPLOAD = bytes.fromhex(
    "32"  # protocol id
    "01"  # ROSCTR job
    "0000"  # redundancy id
    "0900"  # PDU reference 2304
    "0012"  # parameter length 18
    "0000"  # data length 0
    "1d"  # function start upload
    "00"  # function status
    "0000"  # unknown
    "00000000"  # upload id 0 (not assigned yet)
    "09"  # file name length 9
    "5f30383030303031"  # "_0800001" (OB 1)
    "41"  # "A": active filesystem
)
START_UPLOAD_ACK = bytes.fromhex(
    "32"  # protocol id
    "03"  # ROSCTR ack_data
    "0000"  # redundancy id
    "0900"  # PDU reference 2304
    "0010"  # parameter length 16
    "0000"  # data length 0
    "00"  # error class none
    "00"  # error code
    "1d"  # function start upload
    "00"  # function status
    "0100"  # unknown
    "00000007"  # upload id 7
    "07"  # length string length 7
    "30303030313030"  # block length "0000100"
)
UPLOAD = bytes.fromhex(
    "32"  # protocol id
    "01"  # ROSCTR job
    "0000"  # redundancy id
    "0901"  # PDU reference 2305
    "0008"  # parameter length 8
    "0000"  # data length 0
    "1e"  # function upload
    "00"  # function status
    "0000"  # unknown
    "00000007"  # upload id 7
)
UPLOAD_ACK = bytes.fromhex(
    "32"  # protocol id
    "03"  # ROSCTR ack_data
    "0000"  # redundancy id
    "0901"  # PDU reference 2305
    "0002"  # parameter length 2
    "0008"  # data length 8
    "00"  # error class none
    "00"  # error code
    "1e"  # function upload
    "01"  # function status: more data follows
    "0004"  # block data length 4
    "00fb"  # unknown
    "0a0b0c0d"  # block data
)
END_UPLOAD = bytes.fromhex(
    "32"  # protocol id
    "01"  # ROSCTR job
    "0000"  # redundancy id
    "0902"  # PDU reference 2306
    "0008"  # parameter length 8
    "0000"  # data length 0
    "1f"  # function end upload
    "00"  # function status
    "0000"  # error code 0
    "00000007"  # upload id 7
)
UNKNOWN_FUNCTION = bytes.fromhex(
    "32"  # protocol id
    "01"  # ROSCTR job
    "0000"  # redundancy id
    "0a00"  # PDU reference 2560
    "0002"  # parameter length 2
    "0000"  # data length 0
    "77"  # function 0x77 (not assigned)
    "00"  # one more byte
)


def dt(payload: bytes, eot: bool = True) -> bytes:
    """TPKT (03 00 length) + COTP DT (LI 2, code F0, EOT + TPDU number 0) + payload."""
    return (
        bytes([3, 0]) + (len(payload) + 7).to_bytes(2, "big") + bytes([2, 0xF0, 0x80 if eot else 0]) + payload
    )


def one(parser: S7Parser, pdu: bytes, to_server: bool) -> Message:
    msgs = parser.feed(dt(pdu), to_server)
    assert len(msgs) == 1, msgs
    assert parser.errors == []
    return msgs[0]


def test_setup_communication_job_and_ack_data() -> None:
    p = S7Parser()
    job = one(p, SETUP_JOB, True)
    ack = one(p, SETUP_ACK, False)
    assert (job.action, job.fields["rosctr"], job.fields["pdu_ref"], job.fields["is_response"]) == (
        "setup_communication",
        1,
        256,
        False,
    )
    assert (job.fields["max_amq_calling"], job.fields["max_amq_called"], job.fields["pdu_size"]) == (
        1,
        1,
        480,
    )
    assert (
        ack.fields["rosctr"],
        ack.fields["is_response"],
        ack.fields["matched"],
        ack.fields["pdu_size"],
    ) == (
        3,
        True,
        True,
        240,
    )
    assert (ack.fields["error_class"], ack.fields["error_code"]) == (0, 0) and "error" not in ack.fields


def test_read_var_items_and_values_with_fill_byte() -> None:
    p = S7Parser()
    job = one(p, READ_VAR_JOB, True)
    assert job.action == "read_var" and job.fields["item_count"] == 2
    bit, word = job.fields["items"]
    assert (bit["area"], bit["area_code"], bit["db"], bit["address"], bit["bit"]) == ("DB", 0x84, 1, 2, 3)
    assert (bit["transport_size"], bit["transport_size_name"], bit["length"]) == (1, "BIT", 1)
    assert (word["area"], word["address"], word["bit"], word["transport_size_name"]) == ("M", 10, 0, "WORD")
    ack = one(p, READ_VAR_ACK, False)
    assert ack.fields["values"] == [1, 0x1234]
    assert [i["return_code"] for i in ack.fields["items"]] == [0xFF, 0xFF]
    # the response items carry the request's addresses
    assert [(i["area"], i["address"]) for i in ack.fields["items"]] == [("DB", 2), ("M", 10)]
    assert "item_addresses" in ack.fields["inherited"]


def test_read_var_response_with_missing_object_has_no_value() -> None:
    m = one(S7Parser(), READ_VAR_ACK_MISSING, False)
    [item] = m.fields["items"]
    assert (item["return_code"], item["return_name"]) == (0x0A, "Object does not exist")
    assert m.fields["values"] == [None] and m.fields["matched"] is False


def test_write_var_value_and_return_code() -> None:
    p = S7Parser()
    job = one(p, WRITE_VAR_JOB, True)
    [item] = job.fields["items"]
    assert (job.action, item["area"], item["db"], item["address"], item["transport_size_name"]) == (
        "write_var",
        "DB",
        5,
        4,
        "INT",
    )
    assert job.fields["values"] == [-2]
    ack = one(p, WRITE_VAR_ACK, False)
    [res] = ack.fields["items"]
    assert (res["return_code"], res["return_name"], res["db"]) == (0xFF, "Success", 5)


def test_ack_data_error_without_parameter_inherits_the_function() -> None:
    p = S7Parser()
    job = bytearray(READ_VAR_JOB)
    job[4:6] = (1024).to_bytes(2, "big")  # the same request, PDU reference 1024
    one(p, bytes(job), True)
    m = one(p, ACK_DATA_ERROR, False)
    assert (m.action, m.fields["function_code"], m.fields["matched"]) == ("read_var", 4, True)
    assert (m.fields["error_class"], m.fields["error_code"], m.fields["error_class_name"]) == (
        0x81,
        0x04,
        "Application relationship",
    )
    assert m.fields["error"] == "Service not implemented on the module or frame error"
    assert m.fields["inherited"][:2] == ["function_code", "function"]


def test_bare_ack_alone_and_paired() -> None:
    alone = one(S7Parser(), ACK_BARE, False)
    assert (alone.action, alone.fields["rosctr"], alone.fields["matched"]) == ("ack", 2, False)
    assert "function_code" not in alone.fields
    p = S7Parser()
    stop = bytearray(PLC_STOP_JOB)
    stop[4:6] = (1280).to_bytes(2, "big")
    one(p, bytes(stop), True)
    paired = one(p, ACK_BARE, False)
    assert (paired.action, paired.fields["function_code"], paired.fields["pi_service"]) == (
        "plc_stop",
        0x29,
        "P_PROGRAM",
    )


def test_plc_stop() -> None:
    m = one(S7Parser(), PLC_STOP_JOB, True)
    assert (m.action, m.fields["function_code"], m.fields["pi_service"]) == ("plc_stop", 0x29, "P_PROGRAM")


@pytest.mark.parametrize(
    ("pdu", "service", "extra"),
    [
        (PI_HOT_START, "P_PROGRAM", {"start_type": "hot"}),
        (PI_COLD_START, "P_PROGRAM", {"start_type": "cold", "pi_argument": "C"}),
        (PI_COMPRESS, "_GARB", {"pi_service_description": "Compress PLC memory"}),
    ],
    ids=["hot_start", "cold_start", "compress"],
)
def test_plc_control_services(pdu: bytes, service: str, extra: dict[str, str]) -> None:
    m = one(S7Parser(), pdu, True)
    assert (m.action, m.fields["pi_service"]) == ("plc_control", service)
    assert {k: m.fields[k] for k in extra} == extra


def test_plc_control_insert_and_delete_list_their_blocks() -> None:
    p = S7Parser()
    inse = one(p, PI_INSE, True)
    assert inse.fields["pi_service"] == "_INSE"
    assert inse.fields["blocks"] == [
        {
            "block_type_code": "0B",
            "block_type": "SDB",
            "block_number": 7,
            "filesystem": "P",
            "filesystem_name": "passive",
        }
    ]
    dele = one(p, PI_DELE, True)
    assert [(b["block_type"], b["block_number"]) for b in dele.fields["blocks"]] == [("OB", 1), ("FC", 123)]


def test_plc_control_response_pairs_with_its_service() -> None:
    p = S7Parser()
    one(p, PI_HOT_START, True)
    m = one(p, PI_ACK, False)
    assert (m.action, m.fields["matched"], m.fields["pi_service"], m.fields["function_status"]) == (
        "plc_control",
        True,
        "P_PROGRAM",
        0,
    )


def test_download_sequence() -> None:
    p = S7Parser()
    req = one(p, REQUEST_DOWNLOAD, True)
    assert (req.action, req.fields["filename"], req.fields["block_type"], req.fields["block_number"]) == (
        "request_download",
        "_0A00010P",
        "DB",
        10,
    )
    assert (req.fields["filesystem_name"], req.fields["load_memory_length"], req.fields["mc7_length"]) == (
        "passive",
        48,
        12,
    )
    blk = one(p, DOWNLOAD_BLOCK, True)
    assert (blk.action, blk.fields["filename"]) == ("download_block", "_0A00010P")
    ack = one(p, DOWNLOAD_BLOCK_ACK, False)
    assert (ack.fields["block_data_length"], ack.fields["more_data"], ack.fields["block_number"]) == (
        4,
        False,
        10,
    )
    end = one(p, DOWNLOAD_ENDED, True)
    assert (end.action, end.fields["block_error_code"], end.fields["block_type"]) == (
        "download_ended",
        0,
        "DB",
    )


def test_upload_sequence() -> None:
    p = S7Parser()
    start = one(p, START_UPLOAD, True)
    assert (
        start.action,
        start.fields["filename"],
        start.fields["block_type"],
        start.fields["block_number"],
    ) == (
        "start_upload",
        "_0800001A",
        "OB",
        1,
    )
    ack = one(p, START_UPLOAD_ACK, False)
    assert (ack.fields["upload_id"], ack.fields["block_length"], ack.fields["filename"]) == (
        7,
        100,
        "_0800001A",
    )
    up = one(p, UPLOAD, True)
    assert (up.action, up.fields["upload_id"]) == ("upload", 7)
    data = one(p, UPLOAD_ACK, False)
    assert (data.fields["block_data_length"], data.fields["more_data"]) == (4, True)
    end = one(p, END_UPLOAD, True)
    assert (end.action, end.fields["upload_id"], end.fields["block_error_code"]) == ("end_upload", 7, 0)


@pytest.mark.parametrize(
    ("digits", "kept"),
    [("18446744073709551615", True), ("18446744073709551616", False), ("9" * 21, False)],
    ids=["2**64-1", "2**64", "21 digits"],
)
def test_block_length_beyond_64_bits_is_left_out(digits: str, kept: bool) -> None:
    """Events hold 64-bit integers at most: a longer digit string once made orjson refuse
    the event (TypeError) and stopped the replay."""
    ack = bytes.fromhex(
        "32"  # protocol id
        "03"  # ROSCTR ack_data
        "0000"  # redundancy id
        "0900"  # PDU reference 2304
        f"{9 + len(digits):04x}"  # parameter length
        "0000"  # data length 0
        "00"  # error class none
        "00"  # error code
        "1d"  # function start upload
        "00"  # function status
        "0100"  # unknown
        "00000007"  # upload id 7
        f"{len(digits):02x}"  # length string length
    ) + digits.encode()  # block length
    m = one(S7Parser(), ack, False)
    assert m.fields["upload_id"] == 7
    assert m.fields.get("block_length") == (int(digits) if kept else None)


def test_unknown_function_keeps_the_raw_code() -> None:
    m = one(S7Parser(), UNKNOWN_FUNCTION, True)
    assert (m.action, m.fields["function_code"], m.fields["function"]) == (
        "unknown_function",
        0x77,
        "unknown",
    )


def test_unknown_rosctr_is_flagged() -> None:
    pdu = bytearray(SETUP_JOB)
    pdu[1] = 0x05
    m = one(S7Parser(), bytes(pdu), True)
    assert (m.action, m.fields["rosctr"], m.fields["rosctr_name"]) == ("unknown_rosctr", 5, "unknown")
    assert m.fields["flags"] == ["unknown_rosctr"]


def test_response_to_a_different_function_is_flagged_and_not_merged() -> None:
    p = S7Parser()
    one(p, READ_VAR_JOB, True)
    ack = bytearray(SETUP_ACK)
    ack[4:6] = (512).to_bytes(2, "big")  # the read's PDU reference
    m = one(p, bytes(ack), False)
    assert m.fields["flags"] == ["function_code_mismatch"] and "inherited" not in m.fields


def test_pending_requests_are_bounded_and_the_bound_is_flagged_once() -> None:
    p = S7Parser()
    flagged = 0
    for ref in range(MAX_PENDING + 20):
        job = bytearray(READ_VAR_JOB)
        job[4:6] = ref.to_bytes(2, "big")
        flagged += "pending_requests_bound_hit" in one(p, bytes(job), True).fields.get("flags", [])
    assert flagged == 1
    first, last = bytearray(READ_VAR_ACK), bytearray(READ_VAR_ACK)
    first[4:6] = (0).to_bytes(2, "big")  # evicted
    last[4:6] = (MAX_PENDING + 19).to_bytes(2, "big")
    assert one(p, bytes(first), False).fields["matched"] is False
    assert one(p, bytes(last), False).fields["matched"] is True


# cut points: each header field boundary, the parameter items, the data items
READ_CUTS = [1, 2, 4, 6, 8, 10, 11, 12, 14, 16, 18, 19, 22, 26, 30, 34, 35]


@pytest.mark.parametrize("cut", READ_CUTS, ids=lambda c: f"bytes_{c}")
def test_truncated_read_var_job_is_flagged_or_counted(cut: int) -> None:
    p = S7Parser()
    msgs = p.feed(dt(READ_VAR_JOB[:cut]), True)
    if cut < 10:
        assert msgs == [] and [e.reason for e in p.errors] == ["truncated_s7_header"]
    else:
        [m] = msgs
        assert "length_mismatch" in m.fields["flags"] and p.errors == []
        assert len(m.fields.get("items", [])) == max(0, (cut - 12) // 12)


@pytest.mark.parametrize("cut", [12, 13, 14, 16, 17, 18, 19, 20, 22, 24], ids=lambda c: f"bytes_{c}")
def test_truncated_read_var_response_is_flagged(cut: int) -> None:
    p = S7Parser()
    [m] = p.feed(dt(READ_VAR_ACK[:cut]), False)
    assert "length_mismatch" in m.fields["flags"] and p.errors == []
    assert len(m.fields.get("values", [])) <= 2


@pytest.mark.parametrize(
    "payload",
    [b"\x00", b"\x33\x01\x02", bytes(range(64)), b"\xff" * 30],
    ids=["one_zero", "protocol_0x33", "counting", "all_ff"],
)
def test_garbage_in_cotp_is_a_counted_error(payload: bytes) -> None:
    p = S7Parser()
    assert p.feed(dt(payload), True) == []
    assert [e.reason for e in p.errors] == ["unknown_protocol_id"]


def test_empty_input_and_empty_dt() -> None:
    p = S7Parser()
    assert p.feed(b"", True) == []
    assert p.feed(dt(b""), True) == []
    assert p.errors == []


def test_gap_resyncs_at_the_next_tpkt() -> None:
    p = S7Parser()
    data = dt(READ_VAR_JOB)
    assert p.feed(data[:20], True) == []
    p.gap(True)
    msgs = p.feed(data[20:] + dt(SETUP_JOB), True)
    assert [m.action for m in msgs] == ["setup_communication"]
    assert p.skipped[1] == len(data) - 20


def test_trailing_bytes_after_the_pdu_are_flagged() -> None:
    m = one(S7Parser(), SETUP_JOB + b"\x00\x00", True)
    assert m.fields["flags"] == ["trailing_bytes"]
