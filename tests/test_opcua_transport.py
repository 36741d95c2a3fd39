"""UA TCP transport layer: framing, HEL/ACK/ERR/RHE fixtures, the payload signature, fuzz."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from parsers.base import NEED_MORE, NOT_PROTOCOL, ParseError
from parsers.opcua import SPEC, OpcUaParser, probe
from parsers.opcua.transport import (
    decode_acknowledge,
    decode_error,
    decode_hello,
    decode_reverse_hello,
    header_size,
)
from parsers.opcua.types import Reader

HEL = (
    b"HEL"  # MessageType
    b"F"  # ChunkType: final
    b"\x38\x00\x00\x00"  # MessageSize 56
    b"\x00\x00\x00\x00"  # ProtocolVersion 0
    b"\xff\xff\x00\x00"  # ReceiveBufferSize 65535
    b"\x00\x80\x00\x00"  # SendBufferSize 32768
    b"\x00\x00\x10\x00"  # MaxMessageSize 1048576
    b"\x10\x00\x00\x00"  # MaxChunkCount 16
    b"\x18\x00\x00\x00"  # EndpointUrl length 24
    b"opc.tcp://localhost:4840"  # EndpointUrl
)
ACK = (
    b"ACKF"  # MessageType, ChunkType
    b"\x1c\x00\x00\x00"  # MessageSize 28
    b"\x00\x00\x00\x00"  # ProtocolVersion 0
    b"\x00\x00\x01\x00"  # ReceiveBufferSize 65536
    b"\x00\x00\x01\x00"  # SendBufferSize 65536
    b"\x00\x00\x00\x01"  # MaxMessageSize 16777216
    b"\x00\x00\x00\x00"  # MaxChunkCount 0 (no limit)
)
ERR = (
    b"ERRF"  # MessageType, ChunkType
    b"\x19\x00\x00\x00"  # MessageSize 25
    b"\x00\x00\x7e\x80"  # Error 0x807E0000 BadTcpMessageTypeInvalid
    b"\x09\x00\x00\x00"  # Reason length 9
    b"bad hello"  # Reason
)
RHE = (
    b"RHEF"  # MessageType, ChunkType
    b"\x2c\x00\x00\x00"  # MessageSize 44
    b"\x0a\x00\x00\x00"  # ServerUri length 10
    b"urn:server"  # ServerUri
    b"\x12\x00\x00\x00"  # EndpointUrl length 18
    b"opc.tcp://plc:4840"  # EndpointUrl
)


def one(data: bytes, to_server: bool = True):
    p = OpcUaParser()
    msgs = p.feed(data, to_server)
    assert p.errors == []
    assert len(msgs) == 1
    return msgs[0]


def test_hello() -> None:
    m = one(HEL)
    assert m.action == "hello"
    assert m.dataset == "opcua"
    assert m.fields == {
        "message_type": "HEL", "is_response": False, "version": 0, "receive_buffer_size": 65535,
        "send_buffer_size": 32768, "max_message_size": 1048576, "max_chunk_count": 16,
        "endpoint_url": "opc.tcp://localhost:4840",
    }


def test_acknowledge() -> None:
    m = one(ACK, to_server=False)
    assert m.action == "acknowledge"
    assert m.fields == {
        "message_type": "ACK", "is_response": True, "version": 0, "receive_buffer_size": 65536,
        "send_buffer_size": 65536, "max_message_size": 16777216, "max_chunk_count": 0,
    }


def test_error() -> None:
    m = one(ERR, to_server=False)
    assert m.action == "error"
    assert m.fields == {
        "message_type": "ERR", "is_response": True, "status_code": 0x807E0000,
        "status": "BadTcpMessageTypeInvalid", "reason": "bad hello",
    }


def test_reverse_hello() -> None:
    m = one(RHE, to_server=False)
    assert m.action == "reverse_hello"
    assert m.fields["server_uri"] == "urn:server"
    assert m.fields["endpoint_url"] == "opc.tcp://plc:4840"


def test_hello_with_bad_version_small_buffers_and_trailing_bytes_is_flagged() -> None:
    data = bytearray(HEL[:8] + b"\x01\x00\x00\x00" + b"\x00\x10\x00\x00" + HEL[16:] + b"zz")
    data[4] = 58  # MessageSize 58: two bytes after the EndpointUrl
    m = one(bytes(data))
    assert m.fields["version"] == 1
    assert m.fields["receive_buffer_size"] == 4096
    assert m.fields["flags"] == ["unknown_protocol_version", "buffer_size_below_minimum", "trailing_bytes"]


@pytest.mark.parametrize(
    ("decoder", "message"),
    [(decode_hello, HEL), (decode_acknowledge, ACK), (decode_error, ERR), (decode_reverse_hello, RHE)],
)
def test_truncated_body_at_each_boundary_raises(decoder, message: bytes) -> None:
    body = message[8:]
    decoder(Reader(body, 0, len(body)))
    for cut in range(len(body)):
        with pytest.raises(ParseError):
            decoder(Reader(body[:cut], 0, cut))


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"", NEED_MORE),
        (b"H", NEED_MORE),
        (b"MSGC\x18\x00", NEED_MORE),  # a valid start, size not complete
        (b"X", NOT_PROTOCOL),
        (b"HEX", NOT_PROTOCOL),
        (b"HELC", NOT_PROTOCOL),  # HEL is never chunked
        (b"MSGZ\x18\x00\x00\x00", NOT_PROTOCOL),  # chunk type Z
        (b"GET / HTTP/1.1\r\n", NOT_PROTOCOL),
        (b"HELF\x1f\x00\x00\x00", NOT_PROTOCOL),  # 31 < the smallest HEL (32)
        (b"MSGF\x17\x00\x00\x00", NOT_PROTOCOL),  # 23 < the smallest MSG (24)
        (HEL[:8], 56),
        (b"MSGC\x00\x00\x01\x00", 65536),
        (b"CLOA\x18\x00\x00\x00", 24),
        (b"OPNF\x00\x00\x00\x80", 0x80000000),  # framed; the driver refuses it (> max_message)
    ],
)
def test_frame(data: bytes, expected: int) -> None:
    assert OpcUaParser().frame(data, 0, len(data)) == expected
    assert header_size(b"xx" + data, 2, 2 + len(data)) == expected


def test_two_messages_in_one_segment() -> None:
    p = OpcUaParser()
    msgs = p.feed(HEL + HEL, True)
    assert [m.action for m in msgs] == ["hello", "hello"]


def test_message_split_byte_by_byte() -> None:
    p = OpcUaParser()
    msgs = []
    for i in range(len(HEL)):
        msgs += p.feed(HEL[i : i + 1], True)
    assert [m.action for m in msgs] == ["hello"]
    assert p.errors == []


def test_garbage_then_resync_at_next_header() -> None:
    p = OpcUaParser()
    msgs = p.feed(b"\x00garbage!" + HEL + ACK, True)
    assert [m.action for m in msgs] == ["hello", "acknowledge"]
    assert {e.reason for e in p.errors} == {"not_protocol"}


def test_hostile_size_is_refused_and_resynced() -> None:
    p = OpcUaParser()
    msgs = p.feed(b"MSGF\xff\xff\xff\x7f" + b"\x00" * 20 + HEL, True)
    assert [m.action for m in msgs] == ["hello"]
    assert "bad_length" in {e.reason for e in p.errors}


@pytest.mark.parametrize(
    ("data", "to_server", "expected"),
    [
        (HEL, True, True),
        (HEL[:40], True, True),  # first bytes of a HEL: version and URL length agree
        (ACK, False, True),
        (ERR, False, True),
        (RHE, False, True),
        (HEL[:8] + b"\x01\x00\x00\x00" + HEL[12:], True, False),  # ProtocolVersion 1
        (HEL[:28] + b"\x19\x00\x00\x00" + HEL[32:], True, False),  # URL length does not fill the message
        (ACK[:8] + b"\x05\x00\x00\x00" + ACK[12:], False, False),
        (b"", True, False),
        (b"HELF", True, False),
        (b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", True, False),
        (b"\x00\x01\x00\x00\x00\x06\x01\x03\x00\x00\x00\x0a", True, False),  # Modbus/TCP read request
        (b"\x03\x00\x00\x16\x11\xe0\x00\x00\x00\x01\x00\xc0\x01\x0a\xc1\x02\x01\x00\xc2\x02\x01\x02", True, False),
        (b"MSGF\x40\x00\x00\x00" + b"\x11" * 40, True, False),  # MSG whose size matches nothing
        (
            b"OPNF\x84\x00\x00\x00"  # OPN, size 132
            b"\x00\x00\x00\x00"  # SecureChannelId 0
            b"\x2f\x00\x00\x00http://opcfoundation.org/UA/SecurityPolicy#None",  # SecurityPolicyUri
            True,
            True,
        ),
        (b"OPNF\x84\x00\x00\x00\x00\x00\x00\x00\x2f\x00\x00\x00" + b"x" * 47, True, False),
        (
            b"MSGF\x20\x00\x00\x00"  # MSG, size 32
            b"\x04\x00\x00\x00"  # SecureChannelId 4
            b"\x04\x00\x00\x00"  # TokenId 4
            b"\x07\x00\x00\x00\x07\x00\x00\x00"  # SequenceNumber 7, RequestId 7
            b"\x01\x00\x77\x02",  # TypeId ns 0 id 631 ReadRequest (partial body)
            True,
            True,
        ),
    ],
)
def test_probe(data: bytes, to_server: bool, expected: bool) -> None:
    assert probe(data, to_server) is expected


def test_spec() -> None:
    assert SPEC.name == "opcua"
    assert SPEC.ports == frozenset({4840, 4843})
    assert SPEC.parser is OpcUaParser
    assert SPEC.probe is probe


@settings(max_examples=300, deadline=None)
@given(data=st.binary(max_size=120), to_server=st.booleans())
def test_fuzz_probe_never_raises(data: bytes, to_server: bool) -> None:
    assert probe(data, to_server) in (True, False)


@settings(max_examples=300, deadline=None)
@given(
    decoder=st.sampled_from([decode_hello, decode_acknowledge, decode_error, decode_reverse_hello]),
    body=st.binary(max_size=80),
)
def test_fuzz_transport_decoders_raise_only_parse_error(decoder, body: bytes) -> None:
    try:
        decoder(Reader(body, 0, len(body)))
    except ParseError:
        pass


@settings(max_examples=300, deadline=None)
@given(prefix=st.sampled_from([b"HELF", b"ACKF", b"ERRF", b"RHEF"]), size=st.integers(0, 200),
       body=st.binary(max_size=200))
def test_fuzz_connection_messages_through_the_driver(prefix: bytes, size: int, body: bytes) -> None:
    p = OpcUaParser()
    data = prefix + size.to_bytes(4, "little") + body
    for m in p.feed(data, True) + p.feed(data, False):
        assert m.dataset == "opcua"
        assert m.fields["message_type"] == prefix[:3].decode()
