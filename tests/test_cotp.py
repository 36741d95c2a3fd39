"""TPKT framing and COTP decoding (RFC 1006, ISO 8073 class 0) in parsers/cotp.py and S7Parser."""

from __future__ import annotations

import pytest

from parsers import NEED_MORE, NOT_PROTOCOL
from parsers.cotp import Reassembler, decode_cotp, tpkt_frame
from parsers.s7comm import MAX_REASSEMBLY, S7Parser, probe

CR_S7 = bytes.fromhex(
    "03"  # TPKT version 3
    "00"  # reserved
    "0016"  # TPKT length 22
    "11"  # COTP length indicator 17
    "e0"  # CR connection request, credit 0
    "0000"  # destination reference
    "0001"  # source reference
    "00"  # class 0, no options
    "c1"  # parameter: calling TSAP
    "02"  # length 2
    "0100"  # calling TSAP 01 00
    "c2"  # parameter: called TSAP
    "02"  # length 2
    "0102"  # called TSAP: connection type 1 (PG), rack 0, slot 2
    "c0"  # parameter: TPDU size
    "01"  # length 1
    "0a"  # 2**10 = 1024 bytes
)
CC_S7 = bytes.fromhex(
    "03"  # TPKT version 3
    "00"  # reserved
    "0016"  # TPKT length 22
    "11"  # COTP length indicator 17
    "d0"  # CC connection confirm
    "0001"  # destination reference (the CR's source reference)
    "0006"  # source reference
    "00"  # class 0
    "c0"  # parameter: TPDU size
    "01"  # length 1
    "09"  # 2**9 = 512 bytes
    "c1"  # parameter: calling TSAP
    "02"  # length 2
    "0100"  # calling TSAP
    "c2"  # parameter: called TSAP
    "02"  # length 2
    "0322"  # connection type 3 (S7 basic), rack 1, slot 2
)
DR = bytes.fromhex(
    "03"  # TPKT version 3
    "00"  # reserved
    "000b"  # TPKT length 11
    "06"  # COTP length indicator 6
    "80"  # DR disconnect request
    "0001"  # destination reference
    "0006"  # source reference
    "80"  # reason 128: normal disconnect
)
DC = bytes.fromhex(
    "03"  # TPKT version 3
    "00"  # reserved
    "000a"  # TPKT length 10
    "05"  # COTP length indicator 5
    "c0"  # DC disconnect confirm
    "0006"  # destination reference
    "0001"  # source reference
)
ER = bytes.fromhex(
    "03"  # TPKT version 3
    "00"  # reserved
    "000d"  # TPKT length 13
    "08"  # COTP length indicator 8
    "70"  # ER TPDU error
    "0001"  # destination reference
    "02"  # reject cause 2: invalid TPDU type
    "c1"  # parameter: invalid TPDU
    "02"  # length 2
    "1234"  # the offending header bytes
)
SETUP = bytes.fromhex(
    "32"  # S7comm
    "01"  # ROSCTR job
    "0000"  # redundancy id
    "0001"  # PDU reference 1
    "0008"  # parameter length 8
    "0000"  # data length 0
    "f0"  # function setup communication
    "00"  # reserved
    "0001"  # max AmQ calling
    "0001"  # max AmQ called
    "01e0"  # PDU size 480
)


def dt(payload: bytes, eot: bool = True) -> bytes:
    """TPKT (03 00 length) + COTP DT (LI 2, code F0, EOT bit + TPDU number 0) + payload."""
    return (
        bytes([3, 0]) + (len(payload) + 7).to_bytes(2, "big") + bytes([2, 0xF0, 0x80 if eot else 0]) + payload
    )


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"", NEED_MORE),
        (b"\x03\x00\x00", NEED_MORE),
        (b"\x04\x00\x00\x16", NOT_PROTOCOL),  # version 4
        (b"\x03\x01\x00\x16", NOT_PROTOCOL),  # reserved byte set
        (b"\x03\x00\x00\x06", NOT_PROTOCOL),  # shorter than TPKT + COTP DT
        (b"\x03\x00\x00\x07", 7),
        (b"\x03\x00\xff\xff", 65535),
        (CR_S7, 22),
    ],
    ids=["empty", "three_bytes", "bad_version", "reserved_set", "length_6", "length_7", "length_max", "cr"],
)
def test_tpkt_frame(data: bytes, expected: int) -> None:
    assert tpkt_frame(data, 0, len(data)) == expected


def test_connection_request_tsaps_rack_slot_and_tpdu_size() -> None:
    [m] = S7Parser().feed(CR_S7, True)
    assert (m.dataset, m.action, m.to_server) == ("cotp", "connection_request", True)
    f = m.fields
    assert (f["pdu_type"], f["dst_ref"], f["src_ref"], f["class"]) == (0xE, 0, 1, 0)
    assert (f["src_tsap"], f["dst_tsap"]) == ("0100", "0102")
    assert (f["connection_type_name"], f["rack"], f["slot"]) == ("PG", 0, 2)
    assert (f["tpdu_size"], f["tpdu_size_code"]) == (1024, 10)
    assert "flags" not in f


def test_connection_confirm_from_server() -> None:
    [m] = S7Parser().feed(CC_S7, False)
    assert m.action == "connection_confirm"
    assert (m.fields["dst_ref"], m.fields["src_ref"], m.fields["tpdu_size"]) == (1, 6, 512)
    assert (m.fields["connection_type_name"], m.fields["rack"], m.fields["slot"]) == ("S7 basic", 1, 2)


def test_disconnect_request_confirm_and_tpdu_error() -> None:
    p = S7Parser()
    [dr] = p.feed(DR, True)
    [dc] = p.feed(DC, False)
    [er] = p.feed(ER, False)
    assert (dr.action, dr.fields["reason"], dr.fields["reason_name"]) == (
        "disconnect_request",
        128,
        "Normal disconnect initiated by the session entity",
    )
    assert (dc.action, dc.fields["dst_ref"], dc.fields["src_ref"]) == ("disconnect_confirm", 6, 1)
    assert (er.action, er.fields["reject_cause_name"]) == ("tpdu_error", "Invalid TPDU type")
    assert p.errors == []


def test_dt_segments_reassembled_into_one_s7_pdu() -> None:
    p = S7Parser()
    assert p.feed(dt(SETUP[:7], eot=False), True) == []
    [m] = p.feed(dt(SETUP[7:]), True)
    assert (m.dataset, m.action, m.fields["pdu_size"], m.fields["cotp_segments"]) == (
        "s7comm",
        "setup_communication",
        480,
        2,
    )


def test_data_transfer_is_not_an_event() -> None:
    msgs = S7Parser().feed(dt(SETUP), True)
    assert [m.dataset for m in msgs] == ["s7comm"]


def test_dt_reassembly_bound_drops_the_tsdu_and_counts_it() -> None:
    p = S7Parser()
    chunk = dt(bytes(60000), eot=False)
    out = []
    for _ in range(MAX_REASSEMBLY // 60000 + 2):
        out += p.feed(chunk, True)
    assert out == []
    assert [e.reason for e in p.errors] == ["cotp_reassembly_overflow"]
    assert p.feed(dt(SETUP[:5]), True) == []  # the last segment of the oversized TSDU goes too
    [m] = p.feed(dt(SETUP), True)  # the next TSDU starts clean
    assert m.fields["pdu_size"] == 480 and "cotp_segments" not in m.fields


def test_gap_drops_a_partial_tsdu() -> None:
    p = S7Parser()
    p.feed(dt(b"\x32\x01\x00", eot=False), True)
    p.gap(True)
    [m] = p.feed(dt(SETUP), True)
    assert m.action == "setup_communication" and "flags" not in m.fields


def test_two_tpkts_in_one_segment_and_one_split_across_three() -> None:
    p = S7Parser()
    assert [m.action for m in p.feed(CR_S7 + dt(SETUP), True)] == [
        "connection_request",
        "setup_communication",
    ]
    data = dt(SETUP)
    assert p.feed(data[:2], True) == []
    assert p.feed(data[2:9], True) == []
    assert [m.action for m in p.feed(data[9:], True)] == ["setup_communication"]


def test_resync_after_garbage_skips_to_the_next_tpkt() -> None:
    p = S7Parser()
    p.start_midstream()
    [m] = p.feed(b"\x99\x03\x00\x00" + dt(SETUP), True)
    assert m.action == "setup_communication"
    assert p.skipped[1] == 4


@pytest.mark.parametrize("cut", range(1, 18), ids=lambda c: f"cotp_bytes_{c}")
def test_truncated_cr_is_a_counted_error_never_an_exception(cut: int) -> None:
    body = CR_S7[4 : 4 + cut]
    p = S7Parser()
    msgs = p.feed(b"\x03\x00" + (4 + len(body)).to_bytes(2, "big") + body, True)
    assert msgs == []
    if cut < 3:  # TPKT length below 7: not even a COTP DT fits
        assert p.errors[0].reason == "not_protocol"
    else:  # LI 17 promises more than the packet holds
        assert [e.reason for e in p.errors] == ["bad_cotp_length"]


def test_decode_cotp_on_dt_with_wrong_length_indicator() -> None:
    data = bytes([3, 0xF0, 0x80, 0x00, 0x32])  # LI 3 is not a class-0 DT
    with pytest.raises(Exception) as info:
        decode_cotp(data, 0, len(data))
    assert getattr(info.value, "reason", None) == "bad_cotp_length"


def test_reassembler_counts_segments() -> None:
    r = Reassembler(10)
    assert r.add(b"abc") and r.add(b"de")
    assert r.finish(b"f") == (b"abcdef", 3)
    assert not r.pending
    assert not r.add(b"x" * 11)
    assert r.add(b"y") and r.finish(b"z") == (b"", 0)  # the rest of the oversized TSDU is dropped
    assert not r.pending


MMS_CR = bytes.fromhex(
    "03"  # TPKT version 3
    "00"  # reserved
    "0016"  # TPKT length 22
    "11"  # COTP length indicator 17
    "e0"  # CR
    "0000"  # destination reference
    "0001"  # source reference
    "00"  # class 0
    "c0"  # TPDU size
    "01"  # length 1
    "0d"  # 8192
    "c1"  # calling TSAP
    "02"  # length 2
    "0001"  # MMS-style TSAP
    "c2"  # called TSAP
    "02"  # length 2
    "0001"  # MMS-style TSAP (connection type 0 is not S7)
)


@pytest.mark.parametrize(
    ("data", "to_server", "expected"),
    [
        (b"", True, False),
        (b"GET / HTTP/1.1\r\n", True, False),
        (bytes.fromhex("000100000006010300000001"), True, False),  # Modbus/TCP read holding registers
        (CR_S7, True, True),
        (CC_S7, False, True),
        (CC_S7, True, False),  # a confirm comes from the server
        (MMS_CR, True, False),
        (dt(SETUP), True, True),
        (dt(bytes.fromhex("72030000")), True, True),  # S7comm-plus V3 header, no data, no trailer
        (dt(bytes.fromhex("7203001f")), True, False),  # S7comm-plus length disagrees with TPKT
        (dt(SETUP + b"\x00"), True, False),  # S7 lengths disagree with TPKT
        (dt(bytes.fromhex("3209")), True, False),  # ROSCTR 9 does not exist
        (dt(bytes.fromhex("7209")), True, False),  # S7comm-plus version 9 does not exist
        (dt(bytes.fromhex("a1b2c3")), True, False),  # some other protocol in COTP
        (CR_S7[:10], True, False),  # CR header not complete
    ],
    ids=[
        "empty",
        "http",
        "modbus",
        "cr_s7",
        "cc_s7",
        "cc_from_client",
        "cr_mms",
        "dt_s7comm",
        "dt_s7comm_plus",
        "dt_s7comm_plus_bad_length",
        "dt_s7comm_bad_length",
        "dt_bad_rosctr",
        "dt_bad_plus_version",
        "dt_other",
        "cr_truncated",
    ],
)
def test_probe(data: bytes, to_server: bool, expected: bool) -> None:
    assert probe(data, to_server) is expected


def test_probe_accepts_simatic_root_tsap() -> None:
    tsap = b"SIMATIC-ROOT-HMI"
    params = bytes([0xC1, 2, 1, 0, 0xC2, len(tsap)]) + tsap
    li = 6 + len(params)
    cr = bytes([3, 0, 0, 5 + li, li, 0xE0, 0, 0, 0, 1, 0]) + params
    assert probe(cr, True)
    [m] = S7Parser().feed(cr, True)
    assert m.fields["dst_tsap"] == tsap.hex()


def test_er_whose_reject_cause_falls_outside_the_header_is_an_error() -> None:
    """LI 3 leaves no room for the reject cause: it once was read from the next packet, or
    raised struct.error (stopping the sensor) when nothing followed."""
    er = bytes.fromhex(
        "03000008"  # TPKT v3, length 8
        "03"  # LI 3
        "70"  # ER
        "0005"  # dst-ref 5 (and no reject cause)
    )
    p = S7Parser()
    assert p.feed(er, False) == []
    assert [(e.reason, e.detail) for e in p.errors] == [("bad_cotp_length", "ER with LI 3")]
    p = S7Parser()
    [m] = p.feed(er + dt(SETUP), False)  # the next message still decodes
    assert m.action == "setup_communication"
