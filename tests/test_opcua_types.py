"""Built-in types of the OPC UA binary encoding: labelled byte fixtures (OPC 10000-6 5.2.2 examples
where the spec gives one), truncation at every boundary, hostile lengths and depth bombs, fuzz."""

from __future__ import annotations

import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from parsers.base import ParseError
from parsers.opcua.types import MAX_DEPTH, MAX_ITEMS, MAX_WALK, Reader


def read(method: str, data: bytes):
    r = Reader(data, 0, len(data))
    value = getattr(r, method)()
    return value, r.pos


# (reader method, encoded bytes, expected value); every fixture is consumed exactly
FIXTURES = [
    ("string", (
        b"\x05\x00\x00\x00"  # Int32 length 5
        b"hello"  # UTF-8 bytes
    ), "hello"),
    ("string", b"\xff\xff\xff\xff", None),  # length -1: null String
    ("string", b"\x00\x00\x00\x00", ""),  # length 0: empty String
    ("string", (
        b"\x06\x00\x00\x00"  # length 6
        b"Hot\xe6\xb0\xb4"  # "Hot" + U+6C34 in UTF-8 (OPC 10000-6 5.2.2.9 example)
    ), "Hot\u6c34"),
    ("bytestring_hex", (
        b"\x03\x00\x00\x00"  # length 3
        b"\x01\x02\xff"  # bytes
    ), "0102ff"),
    ("bytestring_length", b"\x02\x00\x00\x00\xaa\xbb", 2),  # length 2, two bytes skipped
    ("bytestring_length", b"\xff\xff\xff\xff", -1),  # null ByteString
    ("date_time", struct.pack("<q", 116444736000000000), "1970-01-01T00:00:00Z"),  # the Unix epoch in ticks
    ("date_time", struct.pack("<q", 116444736000000000 + 15_000_000), "1970-01-01T00:00:01.500000Z"),
    ("date_time", struct.pack("<q", 0), None),  # 0: "no time"
    ("date_time", struct.pack("<q", 2**63 - 1), None),  # Int64 max: "end of time"
    ("guid", (
        b"\x91\x2b\x96\x72"  # Data1 UInt32 0x72962B91 (OPC 10000-6 5.2.2.7 example)
        b"\x75\xfa"  # Data2 UInt16 0xFA75
        b"\xe6\x4a"  # Data3 UInt16 0x4AE6
        b"\x8d\x28\xb4\x04\xdc\x7d\xaf\x63"  # Data4 8 bytes
    ), "72962b91-fa75-4ae6-8d28-b404dc7daf63"),
    ("node_id", b"\x00\x72", "i=114"),  # two-byte: encoding 0x00, id 114 (5.2.2.9 example)
    ("node_id", (
        b"\x01"  # four-byte encoding
        b"\x05"  # namespace 5
        b"\x01\x04"  # id 1025 (5.2.2.9 example)
    ), "ns=5;i=1025"),
    ("node_id", (
        b"\x02"  # numeric encoding
        b"\x02\x00"  # namespace 2
        b"\x40\x42\x0f\x00"  # id 1000000
    ), "ns=2;i=1000000"),
    ("node_id", (
        b"\x03"  # string encoding
        b"\x01\x00"  # namespace 1
        b"\x0a\x00\x00\x00the.answer"  # String "the.answer"
    ), "ns=1;s=the.answer"),
    ("node_id", (
        b"\x04"  # guid encoding
        b"\x00\x00"  # namespace 0
        b"\x91\x2b\x96\x72\x75\xfa\xe6\x4a\x8d\x28\xb4\x04\xdc\x7d\xaf\x63"  # Guid
    ), "g=72962b91-fa75-4ae6-8d28-b404dc7daf63"),
    ("node_id", (
        b"\x05"  # opaque (ByteString) encoding
        b"\x03\x00"  # namespace 3
        b"\x03\x00\x00\x00\x00\x01\x02"  # ByteString 00 01 02
    ), "ns=3;b=AAEC"),
    ("expanded_node_id", (
        b"\x81"  # four-byte encoding | NamespaceUri flag 0x80
        b"\x00"  # namespace 0 (replaced by the URI)
        b"\x2a\x00"  # id 42
        b"\x0b\x00\x00\x00urn:example"  # NamespaceUri String
    ), "nsu=urn:example;i=42"),
    ("expanded_node_id", (
        b"\x40"  # two-byte encoding | ServerIndex flag 0x40
        b"\x55"  # id 85
        b"\x02\x00\x00\x00"  # ServerIndex 2
    ), "svr=2;i=85"),
    ("qualified_name", (
        b"\x01\x00"  # namespace 1
        b"\x0c\x00\x00\x00TheGreatNode"  # name
    ), "1:TheGreatNode"),
    ("qualified_name", b"\x00\x00\x06\x00\x00\x00Server", "Server"),  # namespace 0, name "Server"
    ("localized_text", (
        b"\x03"  # mask: locale 0x01 | text 0x02
        b"\x05\x00\x00\x00en-US"  # Locale
        b"\x04\x00\x00\x00Pump"  # Text
    ), ("en-US", "Pump")),
    ("localized_text", b"\x02\x02\x00\x00\x00Hi", (None, "Hi")),  # text only
    ("localized_text", b"\x00", (None, None)),  # neither
    ("variant", b"\x00", None),  # type 0: Null
    ("variant", b"\x01\x01", True),  # Boolean true
    ("variant", (
        b"\x06"  # type 6 Int32, scalar
        b"\x2a\x00\x00\x00"  # 42
    ), 42),
    ("variant", b"\x0b" + struct.pack("<d", 21.5), 21.5),  # type 11 Double
    ("variant", b"\x0c\x03\x00\x00\x00abc", "abc"),  # type 12 String
    ("variant", b"\x13\x00\x00\x34\x80", 0x80340000),  # type 19 StatusCode BadNodeIdUnknown
    ("variant", (
        b"\x86"  # type 6 Int32 | array 0x80
        b"\x03\x00\x00\x00"  # count 3
        b"\x01\x00\x00\x00\x02\x00\x00\x00\xff\xff\xff\xff"  # 1, 2, -1
    ), [1, 2, -1]),
    ("variant", (
        b"\xc6"  # Int32 | array 0x80 | dimensions 0x40
        b"\x04\x00\x00\x00"  # count 4
        b"\x01\x00\x00\x00\x02\x00\x00\x00\x03\x00\x00\x00\x04\x00\x00\x00"  # 1 2 3 4
        b"\x02\x00\x00\x00"  # 2 dimensions
        b"\x02\x00\x00\x00\x02\x00\x00\x00"  # 2 x 2
    ), {"dimensions": [2, 2], "values": [1, 2, 3, 4]}),
    ("variant", (
        b"\x8c"  # String array
        b"\x02\x00\x00\x00"  # count 2
        b"\x01\x00\x00\x00a"  # "a"
        b"\xff\xff\xff\xff"  # null
    ), ["a", None]),
    ("variant", (
        b"\x18"  # type 24: a Variant inside a Variant
        b"\x03\x07"  # Byte 7
    ), 7),
    ("variant", (
        b"\x16"  # type 22 ExtensionObject
        b"\x01\x00\xc4\x01"  # TypeId four-byte ns 0 id 452
        b"\x01"  # body is a ByteString
        b"\x02\x00\x00\x00\xaa\xbb"  # body length 2
    ), {"type_id": "i=452", "length": 2}),
    ("data_value", (
        b"\x0f"  # mask: Value 0x01 | Status 0x02 | SourceTimestamp 0x04 | ServerTimestamp 0x08
        b"\x06\x07\x00\x00\x00"  # Variant Int32 7
        b"\x00\x00\x34\x80"  # StatusCode BadNodeIdUnknown
        + struct.pack("<q", 116444736000000000 + 10_000_000)  # SourceTimestamp 1970-01-01T00:00:01
        + struct.pack("<q", 116444736000000000 + 20_000_000)  # ServerTimestamp 1970-01-01T00:00:02
    ), {"value": 7, "status_code": 0x80340000, "source_timestamp": "1970-01-01T00:00:01Z",
        "server_timestamp": "1970-01-01T00:00:02Z"}),
    ("data_value", (
        b"\x31"  # mask: Value 0x01 | SourcePicoseconds 0x10 | ServerPicoseconds 0x20
        b"\x01\x00"  # Variant Boolean false
        b"\x05\x00"  # SourcePicoseconds
        b"\x06\x00"  # ServerPicoseconds
    ), {"value": False}),
    ("diagnostic_info", (
        b"\x7f"  # every field: 0x01 0x02 0x04 0x08 0x10 0x20 0x40
        b"\x01\x00\x00\x00"  # SymbolicId 1
        b"\x02\x00\x00\x00"  # NamespaceUri 2
        b"\x03\x00\x00\x00"  # Locale 3 (before LocalizedText on the wire)
        b"\x04\x00\x00\x00"  # LocalizedText 4
        b"\x02\x00\x00\x00ai"  # AdditionalInfo "ai"
        b"\x00\x00\x34\x80"  # InnerStatusCode
        b"\x01\x09\x00\x00\x00"  # InnerDiagnosticInfo: SymbolicId 9
    ), {"symbolic_id": 1, "namespace_uri": 2, "locale": 3, "localized_text": 4, "additional_info": "ai",
        "inner_status_code": 0x80340000, "inner_diagnostic_info": {"symbolic_id": 9}}),
]


@pytest.mark.parametrize(("method", "data", "expected"), FIXTURES)
def test_builtin_type_fixture(method: str, data: bytes, expected: object) -> None:
    value, pos = read(method, data)
    assert value == expected
    assert pos == len(data)


def test_extension_object_body_span() -> None:
    data = (
        b"\x01\x00\x44\x01"  # TypeId four-byte ns 0 id 324 (UserNameIdentityToken)
        b"\x01"  # ByteString body
        b"\x03\x00\x00\x00\x01\x02\x03"  # body length 3
    )
    r = Reader(data, 0, len(data))
    assert r.extension_object() == (324, "i=324", 9, 12)
    assert r.pos == len(data)


@pytest.mark.parametrize(("method", "data", "expected"), FIXTURES)
def test_truncation_at_each_boundary_raises(method: str, data: bytes, expected: object) -> None:
    for cut in range(len(data)):
        with pytest.raises(ParseError):
            read(method, data[:cut])


@pytest.mark.parametrize(
    ("method", "data", "reason"),
    [
        ("string", b"\xfe\xff\xff\xff", "bad_length"),  # length -2
        ("string", b"\xff\xff\xff\x7f" + b"x" * 10, "bad_length"),  # length 2^31-1, 10 bytes left
        ("bytestring_hex", b"\x00\x00\x01\x00" + b"x" * 100, "bad_length"),  # 65536 claimed
        ("string_array", b"\xff\xff\xff\x7f\x00\x00\x00\x00", "bad_length"),  # 2^31-1 Strings in 4 bytes
        ("string_array", b"\x00\x00\x00\x80", "bad_length"),  # count Int32 min
        ("variant", b"\x86\xff\xff\xff\x7f\x01\x00\x00\x00", "bad_length"),  # Int32 array of 2^31-1
        ("variant", b"\x80\x10\x00\x00\x00" + b"\x00" * 16, "bad_encoding"),  # array of 16 Null values
        ("variant", b"\x1f", "bad_encoding"),  # type 31 does not exist
        ("node_id", b"\x06\x00\x00", "bad_encoding"),  # NodeId encoding 6
        ("node_id", b"\x81\x00\x00\x00", "bad_encoding"),  # ExpandedNodeId flags in a NodeId
        ("extension_object", b"\x00\x00\x03", "bad_encoding"),  # ExtensionObject encoding 3
        ("u32_array", b"\xff\xff\xff\x3f\x00", "bad_length"),  # 2^30-1 UInt32 in 1 byte
    ],
)
def test_hostile_length_or_encoding(method: str, data: bytes, reason: str) -> None:
    with pytest.raises(ParseError) as exc:
        read(method, data)
    assert exc.value.reason == reason


def test_large_fixed_array_is_skipped_not_materialised() -> None:
    n = 1_000_000
    data = b"\x87" + struct.pack("<i", n) + b"\x01\x00\x00\x00" * n  # UInt32 array of a million ones
    value, pos = read("variant", data)
    assert value == [1] * MAX_ITEMS
    assert pos == len(data)


def test_variable_array_beyond_walk_cap_is_refused() -> None:
    n = MAX_WALK + 1
    data = b"\x98" + struct.pack("<i", n) + b"\x00" * n  # Variant array of Null Variants
    with pytest.raises(ParseError) as exc:
        read("variant", data)
    assert exc.value.reason == "array_too_long"


def test_string_kept_to_max_text() -> None:
    data = struct.pack("<i", 5000) + b"a" * 5000
    value, pos = read("string", data)
    assert value == "a" * 1024
    assert pos == len(data)


@pytest.mark.parametrize("depth", [MAX_DEPTH - 1, MAX_DEPTH, MAX_DEPTH + 1, 10_000])
def test_diagnostic_info_depth_bomb(depth: int) -> None:
    data = b"\x40" * depth + b"\x00"  # InnerDiagnosticInfo nested ``depth`` times, then an empty one
    if depth < MAX_DEPTH:
        value, pos = read("diagnostic_info", data)
        assert pos == len(data)
        levels = 0
        while "inner_diagnostic_info" in value:
            value = value["inner_diagnostic_info"]
            levels += 1
        assert levels == depth
    else:
        with pytest.raises(ParseError) as exc:
            read("diagnostic_info", data)
        assert exc.value.reason == "too_deep"


@pytest.mark.parametrize("depth", [MAX_DEPTH - 1, 10_000])
def test_variant_depth_bomb(depth: int) -> None:
    data = b"\x18" * depth + b"\x03\x05"  # Variant in Variant ... in Variant, innermost Byte 5
    if depth < MAX_DEPTH:
        assert read("variant", data) == (5, len(data))
    else:
        with pytest.raises(ParseError) as exc:
            read("variant", data)
        assert exc.value.reason == "too_deep"


def test_depth_bomb_through_arrays_and_data_values() -> None:
    # Variant array of one DataValue holding a Variant array of one DataValue ... 10000 times
    level = b"\x97\x01\x00\x00\x00\x01"  # DataValue array, count 1, DataValue mask Value
    data = level * 10_000 + b"\x00"
    with pytest.raises(ParseError) as exc:
        read("variant", data)
    assert exc.value.reason == "too_deep"


_METHODS = [
    "string", "bytestring_hex", "date_time", "guid", "node_id", "expanded_node_id", "qualified_name",
    "localized_text", "extension_object", "variant", "data_value", "diagnostic_info", "diagnostic_infos",
    "string_array", "u32_array", "numeric_node_id",
]


@settings(max_examples=300, deadline=None)
@given(method=st.sampled_from(_METHODS), data=st.binary(max_size=256))
def test_fuzz_reader_raises_only_parse_error(method: str, data: bytes) -> None:
    r = Reader(data, 0, len(data))
    try:
        getattr(r, method)()
    except ParseError:
        return
    assert 0 <= r.pos <= len(data)
    assert r.depth == 0


@settings(max_examples=300, deadline=None)
@given(prefix=st.binary(max_size=8), body=st.binary(max_size=200))
def test_fuzz_variant_in_a_window_never_reads_past_end(prefix: bytes, body: bytes) -> None:
    data = prefix + body + b"\xff" * 16  # bytes after ``end`` must never be used
    end = len(prefix) + len(body)
    r = Reader(data, len(prefix), end)
    try:
        r.variant()
    except ParseError:
        return
    assert r.pos <= end
