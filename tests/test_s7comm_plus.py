"""S7comm-plus (protocol id 0x72) framing, opcodes, functions, integrity, fragments, pairing."""

from __future__ import annotations

import pytest

from parsers.base import Message
from parsers.s7comm import S7Parser

DIGEST = "5a" * 32  # placeholder for the 32-byte integrity digest (never interpreted)


def dt(payload: bytes) -> bytes:
    """TPKT (03 00 length) + COTP DT (LI 2, code F0, EOT) + payload."""
    return bytes([3, 0]) + (len(payload) + 7).to_bytes(2, "big") + bytes([2, 0xF0, 0x80]) + payload


def plus(version: str, data: str, trailer: bool = True) -> bytes:
    """Header (0x72, version, data length) + data + optional trailer (0x72, version, 0x0000)."""
    body = bytes.fromhex(data)
    head = bytes.fromhex("72" + version) + len(body).to_bytes(2, "big")
    return head + body + (bytes.fromhex("72" + version + "0000") if trailer else b"")


SET_VARIABLE_REQ = plus(
    "03",  # protocol version V3
    "20"  # digest length 32
    + DIGEST  # digest
    + "31"  # opcode request
    "0000"  # reserved
    "04f2"  # function SetVariable
    "0000"  # reserved
    "831a"  # sequence number 33562
    "70000e4d"  # session id
    "74"  # transport flags
    "70000e51"  # payload: object id ...
    "01881d00",  # ... and attribute (not decoded)
)
SET_VARIABLE_RES = plus(
    "03",  # V3
    "20" + DIGEST + "32"  # digest, opcode response
    "0000"  # reserved
    "04f2"  # function SetVariable
    "0000"  # reserved
    "831a"  # sequence number 33562
    "34"  # transport flags
    "000000",  # return value and payload (not decoded)
)
NOTIFICATION = plus(
    "03",  # V3
    "20" + DIGEST + "33"  # digest, opcode notification
    "70000e51"  # subscription object id
    "0400000000000000c98ec148",  # notification payload (not decoded)
)
CREATE_OBJECT_V1 = plus(
    "01",  # protocol version V1: no integrity part
    "31"  # opcode request
    "0000"  # reserved
    "04ca"  # function CreateObject
    "0000"  # reserved
    "0001"  # sequence number 1
    "00000120"  # session id 0x120 (the initial "no session" id)
    "36"  # transport flags
    "00000120",  # payload
)
KEEP_ALIVE = bytes.fromhex(
    "72"  # protocol id
    "ff"  # version 0xFF: keep-alive
    "07"  # keep-alive sequence number
    "00"  # reserved
)
EXPLORE_V2 = plus(
    "02",  # protocol version V2: integrity part at the end of the data
    "31"  # opcode request
    "0000"  # reserved
    "04bb"  # function Explore
    "0000"  # reserved
    "0005"  # sequence number 5
    "70000e4d"  # session id
    "34"  # transport flags
    "000000"  # payload
    "8f01"  # integrity id (VLQ)
    "20" + DIGEST,  # digest length 32 and digest
)
UNKNOWN_OPCODE = plus(
    "03",  # V3
    "20" + DIGEST + "44"  # digest, opcode 0x44 (not assigned)
    "0000",  # two more bytes
)
# GetMultiVariables request in three fragments: only the last one has the trailer
FRAGMENT_FIRST = plus(
    "03",  # V3
    "20" + DIGEST + "31"  # digest, opcode request
    "0000"  # reserved
    "054c"  # function GetMultiVariables
    "0000"  # reserved
    "0009"  # sequence number 9
    "70000e4d"  # session id
    "34"  # transport flags
    + "00" * 40,  # first part of the payload
    trailer=False,
)
FRAGMENT_INNER = plus(
    "03",  # V3
    "20" + DIGEST + "11" * 40,  # every fragment has its own integrity part; payload continues
    trailer=False,
)
FRAGMENT_LAST = plus(
    "03",  # V3
    "20" + DIGEST + "22" * 10,  # integrity part, end of the payload; the trailer follows
)


def one(parser: S7Parser, pdu: bytes, to_server: bool) -> Message:
    msgs = parser.feed(dt(pdu), to_server)
    assert len(msgs) == 1, msgs
    assert parser.errors == []
    return msgs[0]


def test_set_variable_request_and_response_pair() -> None:
    p = S7Parser()
    req = one(p, SET_VARIABLE_REQ, True)
    assert (req.dataset, req.action) == ("s7comm_plus", "set_variable")
    f = req.fields
    assert (f["protocol_version"], f["opcode"], f["opcode_name"], f["function_code"], f["function"]) == (
        3,
        0x31,
        "request",
        0x04F2,
        "SetVariable",
    )
    assert (f["sequence"], f["session_id"], f["transport_flags"], f["integrity"], f["digest_length"]) == (
        33562,
        0x70000E4D,
        0x74,
        True,
        32,
    )
    assert (f["trailer"], f["is_response"]) == (True, False)
    res = one(p, SET_VARIABLE_RES, False)
    assert (res.action, res.fields["is_response"], res.fields["matched"]) == ("set_variable", True, True)
    assert (res.fields["session_id"], res.fields["inherited"]) == (0x70000E4D, ["session_id"])


def test_notification() -> None:
    m = one(S7Parser(), NOTIFICATION, False)
    assert (m.action, m.fields["opcode_name"], m.fields["subscription_id"]) == (
        "notification",
        "notification",
        0x70000E51,
    )
    assert "function_code" not in m.fields


def test_v1_has_no_integrity_part() -> None:
    m = one(S7Parser(), CREATE_OBJECT_V1, True)
    assert (m.action, m.fields["integrity"], m.fields["session_id"]) == ("create_object", False, 0x120)
    assert "digest_length" not in m.fields


def test_v2_integrity_part_at_the_end() -> None:
    m = one(S7Parser(), EXPLORE_V2, True)
    assert (m.action, m.fields["protocol_version"], m.fields["integrity"]) == ("explore", 2, True)


def test_keep_alive() -> None:
    m = one(S7Parser(), KEEP_ALIVE, True)
    assert (m.action, m.fields["protocol_version_name"], m.fields["keep_alive_sequence"]) == (
        "keep_alive",
        "keep_alive",
        7,
    )


def test_unknown_opcode_is_flagged() -> None:
    m = one(S7Parser(), UNKNOWN_OPCODE, True)
    assert (m.action, m.fields["opcode"], m.fields["flags"]) == ("unknown_opcode", 0x44, ["unknown_opcode"])


def test_message_without_trailer_waits_for_the_last_fragment() -> None:
    p = S7Parser()
    assert p.feed(dt(FRAGMENT_FIRST), True) == []
    assert p.feed(dt(FRAGMENT_INNER), True) == []
    [m] = p.feed(dt(FRAGMENT_LAST), True)
    assert (m.action, m.fields["fragments"], m.fields["sequence"]) == ("get_multiple_variables", 3, 9)
    # the next message starts fresh
    assert one(p, SET_VARIABLE_REQ, True).action == "set_variable"


def test_gap_drops_an_open_fragment() -> None:
    p = S7Parser()
    assert p.feed(dt(FRAGMENT_FIRST), True) == []
    p.gap(True)
    m = one(p, SET_VARIABLE_REQ, True)
    assert m.action == "set_variable" and "fragments" not in m.fields


# cut points: header fields, digest, opcode, function, sequence, session
@pytest.mark.parametrize(
    "cut", [1, 2, 3, 4, 5, 20, 37, 38, 40, 42, 44, 46, 50, 51], ids=lambda c: f"bytes_{c}"
)
def test_truncated_request_never_raises(cut: int) -> None:
    p = S7Parser()
    msgs = p.feed(dt(SET_VARIABLE_REQ[:cut]), True)
    if cut < 4:
        assert msgs == [] and [e.reason for e in p.errors] == ["truncated_s7comm_plus"]
    else:
        [m] = msgs
        assert p.errors == [] and "length_mismatch" in m.fields["flags"]
        assert m.fields.get("function_code") in (None, 0x04F2)
