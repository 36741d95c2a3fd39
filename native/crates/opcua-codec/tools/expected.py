"""Expected results of the Python reference for the byte vectors of icssa-opcua-codec's tests.

Run from /work/main: ``python native/crates/opcua-codec/tools/expected.py``. It runs each case
below through the Python code (``parsers.opcua.types.Reader`` methods, ``values.datetime_text``,
``parsers.opcua.nodes`` functions) and writes ``tests/expected/mod.rs``: one ``Case`` per vector,
with the Python result as ``ok <pos> <depth> <orjson of the result>`` or
``err <pos> <depth> <reason> <detail>`` (``pos``/``depth``: the reader after the call).

Byte vectors are written as hex tokens separated by spaces; ``hex*N`` repeats a token N times
(the Rust test expands them the same way). Cases marked ``cuts`` are also run with the reader's
end at every byte boundary before the full length (truncation at each field boundary).

``expected.py COUNT SEED PATH`` writes COUNT random cases (mutations of the vectors) with the
Python results to PATH instead, for ``OPCUA_CODEC_CASES=PATH cargo test -p icssa-opcua-codec
-- --ignored``.
"""

from __future__ import annotations

import random
import struct
import subprocess
import sys
from pathlib import Path

import orjson

ROOT = Path(__file__).resolve().parents[4]
sys.path.insert(0, str(ROOT))

from parsers.base import ParseError  # noqa: E402
from parsers.opcua import nodes  # noqa: E402
from parsers.opcua.types import Reader  # noqa: E402
from parsers.opcua.values import datetime_text  # noqa: E402

OUT = Path(__file__).resolve().parents[1] / "tests" / "expected" / "mod.rs"


def expand(spec: str) -> bytes:
    out = bytearray()
    for token in spec.split():
        chunk, _, times = token.partition("*")
        out += bytes.fromhex(chunk) * (int(times) if times else 1)
    return bytes(out)


def le(fmt: str, *values: int | float) -> str:
    """Hex of little-endian values (helper for long vectors; each use says what it encodes)."""
    return struct.pack("<" + fmt, *values).hex()


def s(text: str) -> str:
    """A String: Int32 length + UTF-8 bytes."""
    data = text.encode()
    return le("i", len(data)) + " " + data.hex() if data else le("i", 0)


# (label, method, bytes, args, options); options: pos, end, depth, cuts
CASES: list[tuple[str, str, str, list[int], dict]] = [
    # -- scalars ------------------------------------------------------------------------------
    ("Byte 0x2a", "u8", "2a", [], {}),
    ("Byte: nothing left", "u8", "", [], {}),
    ("Byte at offset 1 of a 1-byte end", "u8", "2a 2b", [], {"pos": 1, "end": 1}),
    ("Boolean 0", "boolean", "00", [], {}),
    ("Boolean 2 (true)", "boolean", "02", [], {}),
    ("Boolean: nothing left", "boolean", "", [], {}),
    ("UInt16 0x1234", "u16", "3412", [], {}),
    ("UInt16: 1 of 2 bytes", "u16", "34", [], {}),
    ("UInt32 0x12345678", "u32", "78563412", [], {}),
    ("UInt32: 3 of 4 bytes", "u32", "785634", [], {}),
    ("Int32 -1", "i32", "ffffffff", [], {}),
    ("Int32: 2 of 4 bytes", "i32", "ffff", [], {}),
    ("Double 1.0", "f64", "000000000000f03f", [], {}),
    ("Double NaN", "f64", "000000000000f87f", [], {}),
    ("Double -inf", "f64", "000000000000f0ff", [], {}),
    ("Double 0.1", "f64", "9a9999999999b93f", [], {}),
    ("Double: 7 of 8 bytes", "f64", "00000000000000", [], {}),
    ("take 3 of 2 bytes", "take", "0102", [3], {}),
    ("take 2 at offset 1", "take", "010203", [2], {"pos": 1}),
    ("skip 4 of 4", "skip", "01020304", [4], {}),
    ("skip 5 of 4", "skip", "01020304", [5], {}),
    ("DateTime 0 (null)", "date_time", "0000000000000000", [], {}),
    ("DateTime 1 tick", "date_time", "0100000000000000", [], {}),
    ("DateTime 10 ticks (1 us)", "date_time", "0a00000000000000", [], {}),
    ("DateTime -1", "date_time", "ffffffffffffffff", [], {}),
    ("DateTime 2024-01-02T03:04:05.678901 (133487066456789010)", "date_time", le("q", 133487066456789010), [], {}),
    ("DateTime: 7 of 8 bytes", "date_time", "01000000000000", [], {}),
    ("Guid 72962b91-fa75-4ae6-8d28-b404dc7daf63", "guid", "912b9672 75fa e64a 8d28b404dc7daf63", [], {}),
    ("Guid: 15 of 16 bytes", "guid", "00*15", [], {}),
    ("length -1 (null)", "length", "ffffffff", [], {}),
    ("length 0", "length", "00000000", [], {}),
    ("length 2, 2 bytes", "length", "02000000 6162", [], {}),
    ("length 5, 2 bytes left", "length", "05000000 6162", [], {}),
    ("length -2", "length", "feffffff", [], {}),
    ("length: 3 of 4 bytes", "length", "ffffff", [], {}),
    ("array count -1 (null)", "array_length", "ffffffff", [4, 1], {}),
    ("array count 0", "array_length", "00000000", [4, 1], {}),
    ("array count 2 x 4 bytes", "array_length", "02000000 00*8", [4, 1], {}),
    ("array count 3 x 4 bytes, 8 left", "array_length", "03000000 00*8", [4, 1], {}),
    ("array count -2 (min size 4)", "array_length", "feffffff", [4, 1], {}),
    ("length -5 (min size 1)", "array_length", "fbffffff", [1, 1], {}),
    ("length 9 (min size 1), 8 left", "array_length", "09000000 00*8", [1, 1], {}),
    ("array count 100001 walked", "array_length", "a1860100 00*100001", [1, 1], {}),
    ("array count 100001 not walked", "array_length", "a1860100 00*100001", [1, 0], {}),
    ("array count 100000 walked", "array_length", "a0860100 00*100000", [1, 1], {}),
    ("array count 2^31-1", "array_length", "ffffff7f 00*8", [4, 1], {}),
    ("String null", "string", "ffffffff", [], {}),
    ("String empty", "string", "00000000", [], {}),
    ("String 'abc'", "string", "03000000 616263", [], {}),
    ("String invalid UTF-8 ff fe 'A' and a cut 3-byte sequence", "string", "05000000 fffe41 e282", [], {}),
    ("String length 4, 3 bytes left", "string", "04000000 616263", [], {}),
    ("String length -2", "string", "feffffff", [], {}),
    ("String: 3 of 4 length bytes", "string", "030000", [], {}),
    ("String 1024 'a' (MAX_TEXT)", "string", "00040000 61*1024", [], {}),
    ("String 1025 'a' (cut at MAX_TEXT)", "string", "01040000 61*1025", [], {}),
    ("String 5000 'a' (cut at MAX_TEXT)", "string", "88130000 61*5000", [], {}),
    ("String 1500 bytes of U+00E9 (750 chars): Python decodes 4096 bytes of buf, past the string"
     " and past end", "string", "dc050000 c3a9*750 7a*3000", [], {"end": 1504}),
    ("String 4096 bytes: 1365 U+20AC and 'A' (cut at MAX_TEXT)", "string",
     "00100000 e282ac*1365 41", [], {}),
    ("String 2000 bytes of a 4-byte character (500 chars) then 'b'", "string",
     "d0070000 f09f9880*500 62*2000", [], {}),
    ("ByteString length: null", "bytestring_length", "ffffffff", [], {}),
    ("ByteString length 3", "bytestring_length", "03000000 010203", [], {}),
    ("ByteString length 4, 3 left", "bytestring_length", "04000000 010203", [], {}),
    ("ByteString length -3", "bytestring_length", "fdffffff", [], {}),
    ("ByteString hex: null", "bytestring_hex", "ffffffff", [], {}),
    ("ByteString hex: empty", "bytestring_hex", "00000000", [], {}),
    ("ByteString hex 3 bytes", "bytestring_hex", "03000000 01abff", [], {}),
    ("ByteString hex 100 bytes (cut at MAX_HEX)", "bytestring_hex", "64000000 5a*100", [], {}),
    ("ByteString hex: length 2, 1 left", "bytestring_hex", "02000000 01", [], {}),
    ("String array [null, 'a', '']", "string_array", "03000000 ffffffff 01000000 61 00000000", [], {"cuts": 1}),
    ("String array of 70 'x' (cut at MAX_ITEMS)", "string_array", "46000000 0100000078*70", [], {}),
    ("String array null", "string_array", "ffffffff", [], {}),
    ("String array count -2", "string_array", "feffffff", [], {}),
    ("UInt32 array [1, 2, 0x80340000]", "u32_array", "03000000 01000000 02000000 00003480", [], {"cuts": 1}),
    ("UInt32 array of 70 (cut at MAX_ITEMS)", "u32_array", "46000000 07000000*70", [], {}),
    ("UInt32 array null", "u32_array", "ffffffff", [], {}),
    ("UInt32 array count 2, 7 bytes", "u32_array", "02000000 00*7", [], {}),
    ("StatusCode array [0x80000000]", "status_array", "01000000 00000080", [], {}),
    # -- NodeId family ------------------------------------------------------------------------
    ("NodeId two-byte i=85", "node_id", "00 55", [], {"cuts": 1}),
    ("NodeId four-byte ns=2;i=1234", "node_id", "01 02 d204", [], {"cuts": 1}),
    ("NodeId four-byte ns=0;i=300", "node_id", "01 00 2c01", [], {}),
    ("NodeId four-byte ns=0;i=7 (static text)", "node_id", "01 00 0700", [], {}),
    ("NodeId numeric ns=1;i=0x12345678", "node_id", "02 0100 78563412", [], {"cuts": 1}),
    ("NodeId numeric ns=0;i=5", "node_id", "02 0000 05000000", [], {}),
    ("NodeId string ns=1;s=abc", "node_id", "03 0100 03000000 616263", [], {"cuts": 1}),
    ("NodeId string ns=0;s=the.answer", "node_id", "03 0000 " + s("the.answer"), [], {}),
    ("NodeId string null (slow path) ns=1", "node_id", "03 0100 ffffffff", [], {}),
    ("NodeId string empty ns=0", "node_id", "03 0000 00000000", [], {}),
    ("NodeId string invalid UTF-8", "node_id", "03 0000 02000000 ff41", [], {}),
    ("NodeId string 1100 chars (slow path, cut)", "node_id", "03 0500 4c040000 71*1100", [], {}),
    ("NodeId string length 5, 2 left", "node_id", "03 0000 05000000 6162", [], {}),
    ("NodeId guid ns=3", "node_id", "04 0300 912b9672 75fa e64a 8d28b404dc7daf63", [], {"cuts": 1}),
    ("NodeId opaque ns=0 b=AQID/w==", "node_id", "05 0000 04000000 010203ff", [], {"cuts": 1}),
    ("NodeId opaque ns=4, 70 bytes (base64 of 64)", "node_id", "05 0400 46000000 fb*70", [], {}),
    ("NodeId opaque null", "node_id", "05 0100 ffffffff", [], {}),
    ("NodeId opaque empty", "node_id", "05 0000 00000000", [], {}),
    ("NodeId encoding 6", "node_id", "06 00 00", [], {}),
    ("NodeId encoding 0x40 (ServerIndex flag not allowed)", "node_id", "40 55", [], {}),
    ("NodeId encoding 0x80", "node_id", "80 55", [], {}),
    ("NodeId encoding 0x3f", "node_id", "3f", [], {}),
    ("NodeId: nothing", "node_id", "", [], {}),
    ("NodeId at offset 2", "node_id", "ffff 01 00 5500", [], {"pos": 2}),
    ("node_id_raw two-byte", "node_id_raw", "00 55", [], {}),
    ("node_id_raw numeric", "node_id_raw", "02 0700 ffffffff", [], {}),
    ("node_id_raw string", "node_id_raw", "03 0100 02000000 6869", [], {}),
    ("node_id_raw guid", "node_id_raw", "04 0000 00*16", [], {}),
    ("node_id_raw opaque", "node_id_raw", "05 0200 01000000 00", [], {}),
    ("node_id_raw mask 0x41 given (flags ignored)", "node_id_raw", "00 d204", [0x41], {"pos": 1}),
    ("node_id_raw mask 0x07 given", "node_id_raw", "07", [0x07], {"pos": 1}),
    ("node_id_raw mask 0x47", "node_id_raw", "47", [], {}),
    ("numeric NodeId four-byte ns0 1234", "numeric_node_id", "01 00 d204", [], {"cuts": 1}),
    ("numeric NodeId two-byte 85", "numeric_node_id", "00 55", [], {}),
    ("numeric NodeId numeric ns0 1000", "numeric_node_id", "02 0000 e8030000", [], {}),
    ("numeric NodeId numeric ns1 -> None", "numeric_node_id", "02 0100 e8030000", [], {}),
    ("numeric NodeId four-byte ns1 -> None", "numeric_node_id", "01 01 d204", [], {}),
    ("numeric NodeId string -> None", "numeric_node_id", "03 0000 01000000 61", [], {}),
    ("numeric NodeId mask 0x81", "numeric_node_id", "81 00 d204", [], {}),
    ("numeric NodeId: nothing", "numeric_node_id", "", [], {}),
    ("ExpandedNodeId plain two-byte", "expanded_node_id", "00 55", [], {}),
    ("ExpandedNodeId plain string ns=2", "expanded_node_id", "03 0200 " + s("x"), [], {}),
    ("ExpandedNodeId 0x82 numeric + uri 'urn'", "expanded_node_id", "82 0000 2a000000 03000000 75726e", [], {"cuts": 1}),
    ("ExpandedNodeId 0x40 two-byte + server 2", "expanded_node_id", "40 55 02000000", [], {"cuts": 1}),
    ("ExpandedNodeId 0xC1 four-byte + uri + server 7", "expanded_node_id",
     "c1 03 0a00 " + s("urn:a") + " 07000000", [], {"cuts": 1}),
    ("ExpandedNodeId 0x80 with null uri", "expanded_node_id", "80 55 ffffffff", [], {}),
    ("ExpandedNodeId 0x41 ns=1 + server 0", "expanded_node_id", "41 01 0100 00000000", [], {}),
    ("ExpandedNodeId 0xC3 string ns=9 + empty uri + server 1", "expanded_node_id",
     "c3 0900 " + s("q") + " 00000000 01000000", [], {}),
    ("ExpandedNodeId 0x86", "expanded_node_id", "86 00", [], {}),
    ("ExpandedNodeId: nothing", "expanded_node_id", "", [], {}),
    ("skip NodeId two-byte", "skip_node_id", "00 55 ff", [], {}),
    ("skip NodeId four-byte", "skip_node_id", "01 00 0100", [], {}),
    ("skip NodeId numeric", "skip_node_id", "02 0000 01000000", [], {"cuts": 1}),
    ("skip NodeId guid", "skip_node_id", "04 0000 00*16", [], {"cuts": 1}),
    ("skip NodeId string", "skip_node_id", "03 0100 02000000 6162", [], {"cuts": 1}),
    ("skip NodeId opaque null", "skip_node_id", "05 0100 ffffffff", [], {}),
    ("skip NodeId string length -2", "skip_node_id", "03 0100 feffffff", [], {}),
    ("skip NodeId encoding 0x41", "skip_node_id", "41 00 00", [], {}),
    ("skip NodeId encoding 6", "skip_node_id", "06", [], {}),
    ("skip NodeId: nothing", "skip_node_id", "", [], {}),
    ("QualifiedName ns0 null", "qualified_name", "0000 ffffffff", [], {}),
    ("QualifiedName ns2 empty", "qualified_name", "0200 00000000", [], {}),
    ("QualifiedName ns0 'abc'", "qualified_name", "0000 03000000 616263", [], {"cuts": 1}),
    ("QualifiedName ns1 'Objects'", "qualified_name", "0100 " + s("Objects"), [], {}),
    ("QualifiedName ns3 null", "qualified_name", "0300 ffffffff", [], {}),
    ("QualifiedName length -2", "qualified_name", "0000 feffffff", [], {}),
    ("QualifiedName length 3, 2 left", "qualified_name", "0000 03000000 6162", [], {}),
    ("QualifiedName 1030 chars (slow path)", "qualified_name", "0700 06040000 6e*1030", [], {}),
    ("LocalizedText mask 0", "localized_text", "00", [], {}),
    ("LocalizedText locale 'en' + text 'Hi'", "localized_text", "03 " + s("en") + " " + s("Hi"), [], {"cuts": 1}),
    ("LocalizedText text only", "localized_text", "02 " + s("Hi"), [], {}),
    ("LocalizedText locale only, null", "localized_text", "01 ffffffff", [], {}),
    ("LocalizedText mask 0xfc (no fields)", "localized_text", "fc", [], {}),
    ("LocalizedText: nothing", "localized_text", "", [], {}),
    # -- ExtensionObject ----------------------------------------------------------------------
    ("ExtensionObject two-byte type 85, no body", "extension_object", "00 55 00", [], {"cuts": 1}),
    ("ExtensionObject four-byte type 321, ByteString body 5", "extension_object",
     "01 00 4101 01 05000000 0102030405", [], {"cuts": 1}),
    ("ExtensionObject four-byte type 324, Xml body null", "extension_object", "01 00 4401 02 ffffffff", [], {}),
    ("ExtensionObject four-byte type 324, body length 0", "extension_object", "01 00 4401 01 00000000", [], {}),
    ("ExtensionObject type 811, body length 9, 2 left", "extension_object", "01 00 2b03 01 09000000 0102", [], {}),
    ("ExtensionObject four-byte ns1 type", "extension_object", "01 01 0a00 01 01000000 ff", [], {"cuts": 1}),
    ("ExtensionObject numeric ns0 type 12345", "extension_object", "02 0000 39300000 00", [], {}),
    ("ExtensionObject string type ns2", "extension_object", "03 0200 " + s("T") + " 01 02000000 aabb", [], {}),
    ("ExtensionObject guid type", "extension_object", "04 0000 00*16 00", [], {}),
    ("ExtensionObject encoding 3", "extension_object", "00 55 03", [], {}),
    ("ExtensionObject encoding 3 after a four-byte type", "extension_object", "01 00 4101 03 00000000", [], {}),
    ("ExtensionObject type mask 0x80", "extension_object", "80 55 00", [], {}),
    ("ExtensionObject body length -2", "extension_object", "00 55 01 feffffff", [], {}),
    ("ExtensionObject: nothing", "extension_object", "", [], {}),
    ("sub reader at depth 3", "sub", "00*10", [2, 8], {"depth": 3}),
    ("sub reader at depth 16 (too deep)", "sub", "00*10", [2, 8], {"depth": 16}),
    # -- Variant scalars (type in bits 0-5) -----------------------------------------------------
    ("Variant Null", "variant", "00", [], {}),
    ("Variant Boolean 1", "variant", "01 01", [], {}),
    ("Variant Boolean 0xff", "variant", "01 ff", [], {}),
    ("Variant SByte -1", "variant", "02 ff", [], {}),
    ("Variant Byte 255", "variant", "03 ff", [], {}),
    ("Variant Int16 -2", "variant", "04 feff", [], {}),
    ("Variant UInt16 65535", "variant", "05 ffff", [], {}),
    ("Variant Int32 -123456", "variant", "06 c01dfeff", [], {}),
    ("Variant UInt32 4294967295", "variant", "07 ffffffff", [], {}),
    ("Variant Int64 min", "variant", "08 0000000000000080", [], {}),
    ("Variant UInt64 max", "variant", "09 ffffffffffffffff", [], {}),
    ("Variant Float 0.1", "variant", "0a cdcccc3d", [], {}),
    ("Variant Float NaN", "variant", "0a 0000c07f", [], {}),
    ("Variant Float inf", "variant", "0a 0000807f", [], {}),
    ("Variant Float -0.0", "variant", "0a 00000080", [], {}),
    ("Variant Float 1e-45 (denormal)", "variant", "0a 01000000", [], {}),
    ("Variant Float 3.4028235e38", "variant", "0a ffff7f7f", [], {}),
    ("Variant Double 1e16", "variant", "0b " + le("d", 1e16), [], {}),
    ("Variant Double 123.456", "variant", "0b " + le("d", 123.456), [], {}),
    ("Variant Double 5e-324", "variant", "0b 0100000000000000", [], {}),
    ("Variant String 'hello'", "variant", "0c " + s("hello"), [], {}),
    ("Variant String null", "variant", "0c ffffffff", [], {}),
    ("Variant DateTime 2000-02-29T12:00:00", "variant", "0d " + le("q", 125963856000000000), [], {}),
    ("Variant DateTime 0", "variant", "0d 0000000000000000", [], {}),
    ("Variant Guid", "variant", "0e 912b9672 75fa e64a 8d28b404dc7daf63", [], {}),
    ("Variant ByteString", "variant", "0f 02000000 beef", [], {}),
    ("Variant XmlElement null", "variant", "10 ffffffff", [], {}),
    ("Variant NodeId", "variant", "11 01 02 d204", [], {}),
    ("Variant ExpandedNodeId with server", "variant", "12 40 55 03000000", [], {}),
    ("Variant StatusCode 0x80340000", "variant", "13 00003480", [], {}),
    ("Variant QualifiedName 1:x", "variant", "14 0100 " + s("x"), [], {}),
    ("Variant LocalizedText (text kept)", "variant", "15 03 " + s("de") + " " + s("Wert"), [], {}),
    ("Variant ExtensionObject", "variant", "16 01 00 4101 01 03000000 010203", [], {}),
    ("Variant DataValue", "variant", "17 03 06 07000000 00000000", [], {}),
    ("Variant Variant", "variant", "18 06 05000000", [], {}),
    ("Variant DiagnosticInfo", "variant", "19 01 2a000000", [], {}),
    ("Variant type 26", "variant", "1a 00", [], {}),
    ("Variant type 63", "variant", "3f", [], {}),
    ("Variant Int32: 3 of 4 bytes", "variant", "06 010203", [], {}),
    ("Variant Double: 2 bytes", "variant", "0b 0102", [], {}),
    ("Variant DateTime: 4 bytes", "variant", "0d 01020304", [], {}),
    ("Variant Guid: 8 bytes", "variant", "0e 00*8", [], {}),
    ("Variant: nothing", "variant", "", [], {}),
    ("Variant with dimension bit but no array bit (scalar Int32)", "variant", "46 01000000", [], {}),
    # -- Variant arrays and matrices -----------------------------------------------------------
    ("Variant Int32 array [1, 2, 3]", "variant", "86 03000000 01000000 02000000 03000000", [], {"cuts": 1}),
    ("Variant Null array, count 0", "variant", "80 00000000", [], {}),
    ("Variant Null array, count -1", "variant", "80 ffffffff", [], {}),
    ("Variant Null array, count 2", "variant", "80 02000000 0000", [], {}),
    ("Variant Byte array of 70 (cut at MAX_ITEMS)", "variant", "83 46000000 11*70", [], {}),
    ("Variant Boolean array", "variant", "81 03000000 00 01 07", [], {}),
    ("Variant SByte array", "variant", "82 02000000 80 7f", [], {}),
    ("Variant Int16 array", "variant", "84 02000000 0080 ff7f", [], {}),
    ("Variant UInt16 array", "variant", "85 01000000 3412", [], {}),
    ("Variant UInt32 array", "variant", "87 01000000 ffffffff", [], {}),
    ("Variant Int64 array", "variant", "88 02000000 ffffffffffffffff ffffffffffffff7f", [], {}),
    ("Variant UInt64 array", "variant", "89 01000000 0000000000000080", [], {}),
    ("Variant Float array", "variant", "8a 03000000 0000803f 0000c0ff cdcc4cbe", [], {}),
    ("Variant Double array", "variant", "8b 02000000 " + le("dd", 0.5, -2.75), [], {}),
    ("Variant String array", "variant", "8c 03000000 " + s("a") + " ffffffff " + s("cc"), [], {"cuts": 1}),
    ("Variant DateTime array", "variant", "8d 03000000 0000000000000000 " + le("qq", 1, 2650467743999999999), [], {}),
    ("Variant Guid array", "variant", "8e 02000000 00*16 ff*16", [], {}),
    ("Variant ByteString array", "variant", "8f 02000000 ffffffff 0100000099", [], {}),
    ("Variant NodeId array", "variant", "91 02000000 00 01 03 0000 01000000 7a", [], {}),
    ("Variant ExpandedNodeId array", "variant", "92 01000000 40 02 01000000", [], {}),
    ("Variant StatusCode array", "variant", "93 02000000 00000000 00000080", [], {}),
    ("Variant QualifiedName array", "variant", "94 01000000 0200 " + s("n"), [], {}),
    ("Variant LocalizedText array", "variant", "95 02000000 00 02 " + s("t"), [], {}),
    ("Variant ExtensionObject array", "variant", "96 02000000 00 55 00 01 00 4101 01 01000000 ff", [], {}),
    ("Variant DataValue array", "variant", "97 02000000 00 02 00000080", [], {}),
    ("Variant Variant array", "variant", "98 02000000 01 01 0c " + s("v"), [], {}),
    ("Variant DiagnosticInfo array", "variant", "99 02000000 00 20 01000000", [], {}),
    ("Variant String array of 70 (cut at MAX_ITEMS)", "variant", "8c 46000000 0100000041*70", [], {}),
    ("Variant Int32 array count 3, 8 bytes", "variant", "86 03000000 00*8", [], {}),
    ("Variant String array count 3, 8 bytes (min size 4)", "variant", "8c 03000000 00*8", [], {}),
    ("Variant LocalizedText array count 100001 (walk limit)", "variant", "95 a1860100 00*100001", [], {}),
    ("Variant Byte array count 100001 (not walked)", "variant", "83 a1860100 00*100001", [], {}),
    ("Variant array count -2", "variant", "86 feffffff", [], {}),
    ("Variant type 30 array", "variant", "9e 00000000", [], {}),
    ("Variant Int32 matrix 2x2", "variant", "c6 04000000 01000000 02000000 03000000 04000000 02000000 02000000 02000000",
     [], {"cuts": 1}),
    ("Variant String matrix, null dimensions", "variant", "cc 01000000 " + s("m") + " ffffffff", [], {}),
    ("Variant Int32 matrix, dimensions count 3, 4 bytes", "variant", "c6 00000000 03000000 01000000", [], {}),
    ("Variant Byte matrix of 70 dims", "variant", "c3 01000000 00 46000000 01000000*70", [], {}),
    ("Variant nested 16 deep (Int32 at the bottom)", "variant", "18*15 06 2a000000", [], {}),
    ("Variant nested 17 deep (too deep)", "variant", "18*16 06 2a000000", [], {}),
    ("Variant at depth 15 with a nested Variant", "variant", "18 06 2a000000", [], {"depth": 15}),
    ("Variant at depth 16", "variant", "06 2a000000", [], {"depth": 16}),
    ("Variant array of nested Variant arrays", "variant", "98 02000000 86 01000000 07000000 80 00000000", [], {}),
    # -- DataValue, DiagnosticInfo ------------------------------------------------------------
    ("DataValue mask 0", "data_value", "00", [], {}),
    ("DataValue all fields (mask 0x3f)", "data_value",
     "3f 06 07000000 00003480 " + le("q", 133487066456789010) + " 1000 " + le("q", 133487066450000000) + " 2000",
     [], {"cuts": 1}),
    ("DataValue value + source timestamp", "data_value", "05 01 00 " + le("q", 10), [], {}),
    ("DataValue server timestamp 0 + server picoseconds", "data_value", "28 0000000000000000 0000", [], {}),
    ("DataValue mask 0xc0 (unknown bits only)", "data_value", "c0", [], {}),
    ("DataValue: nothing", "data_value", "", [], {}),
    ("DataValue at depth 16", "data_value", "00", [], {"depth": 16}),
    ("value and status: all fields", "value_and_status",
     "3f 0c " + s("v") + " 00000080 " + le("q", 1) + " 0000 " + le("q", 2) + " 0000", [], {"cuts": 1}),
    ("value and status: mask 0", "value_and_status", "00", [], {}),
    ("value and status: status only", "value_and_status", "02 00003480", [], {}),
    ("value and status: value Null variant", "value_and_status", "01 00", [], {}),
    ("DiagnosticInfo mask 0", "diagnostic_info", "00", [], {}),
    ("DiagnosticInfo all fields (mask 0x7f) with an inner symbolic id", "diagnostic_info",
     "7f 01000000 02000000 03000000 04000000 " + s("info") + " 00000080 01 05000000", [], {"cuts": 1}),
    ("DiagnosticInfo inner chain 15 deep", "diagnostic_info", "40*15 00", [], {}),
    ("DiagnosticInfo inner chain 16 deep (too deep)", "diagnostic_info", "40*16 00", [], {}),
    ("DiagnosticInfo mask 0x80 only", "diagnostic_info", "80", [], {}),
    ("DiagnosticInfo: nothing", "diagnostic_info", "", [], {}),
    ("DiagnosticInfo array of 2", "diagnostic_infos", "02000000 00 01 ffffffff", [], {"cuts": 1}),
    ("DiagnosticInfo array null", "diagnostic_infos", "ffffffff", [], {}),
    ("DiagnosticInfo array of 70 (cut at MAX_ITEMS)", "diagnostic_infos", "46000000 00*70", [], {}),
    ("DiagnosticInfo array count 5, 4 bytes", "diagnostic_infos", "05000000 00*4", [], {}),
    ("DiagnosticInfo array count -3", "diagnostic_infos", "fdffffff", [], {}),
    # -- nodes: service bodies ----------------------------------------------------------------
    ("ReadValueId fast path", "nodes.read_value_id", "00 55 0d000000 ffffffff 0000 ffffffff", [], {"cuts": 1}),
    ("ReadValueId empty IndexRange", "nodes.read_value_id", "00 55 0d000000 00000000 0000 00000000", [], {}),
    ("ReadValueId IndexRange '1:2' + DataEncoding 'Default Binary'", "nodes.read_value_id",
     "01 02 0100 0d000000 " + s("1:2") + " 0000 " + s("Default Binary"), [], {"cuts": 1}),
    ("Read request: max age 0, timestamps Both, 2 nodes", "nodes.read_request",
     "0000000000000000 02000000 02000000 00 55 0d000000 ffffffff 0000 ffffffff "
     "03 0200 " + s("a.b") + " 63000000 ffffffff 0000 ffffffff", [], {"cuts": 1}),
    ("Read request: timestamps 9 (unknown)", "nodes.read_request",
     "000000000000f03f 09000000 00000000", [], {}),
    ("Read request of 70 nodes", "nodes.read_request",
     "0000000000000000 00000000 46000000 " + "0055 0d000000 ffffffff 0000 ffffffff " * 70, [], {}),
    ("Read response: 2 DataValues + diagnostics", "nodes.read_response",
     "02000000 03 06 01000000 00000000 02 00003480 01000000 01 07000000", [], {"cuts": 1}),
    ("Read response: no diagnostics", "nodes.read_response", "01000000 01 01 01 ffffffff", [], {}),
    ("Write request: 1 value", "nodes.write_request",
     "01000000 01 02 e803 0d000000 ffffffff 01 0a 0000803f", [], {"cuts": 1}),
    ("Write request: attribute 99 (unknown), IndexRange", "nodes.write_request",
     "01000000 00 55 63000000 " + s("0") + " 00", [], {}),
    ("Write response", "nodes.write_response", "02000000 00000000 00003580 00000000", [], {"cuts": 1}),
    ("Write response with diagnostics", "nodes.write_response", "00000000 01000000 01 01000000", [], {}),
    ("Browse request fast head: 1 node, two-byte reference type", "nodes.browse_request",
     "00 00 0000000000000000 00000000 e8030000 01000000 00 55 02000000 00 21 01 00000000 3f000000",
     [], {"cuts": 1}),
    ("Browse request with a view and a four-byte reference type", "nodes.browse_request",
     "01 01 0500 0000000000000000 00000000 00000000 01000000 01 02 0a00 05000000 01 00 2100 00 00000000 00000000",
     [], {"cuts": 1}),
    ("Browse request with view i=0 in four-byte form", "nodes.browse_request",
     "01 00 0000 0000000000000000 00000000 00000000 00000000", [], {}),
    ("Browse request: 2 nodes count but bytes for 1 (slow head)", "nodes.browse_request",
     "00 00 0000000000000000 00000000 00000000 02000000 00 55 00000000 00 21 01 00000000 00000000", [], {}),
    ("Browse response: 1 result, 2 references (fast and slow paths), diagnostics", "nodes.browse_response",
     "01000000 00000000 ffffffff 02000000 "
     "00 21 01 01 00 d204 0000 " + s("Obj") + " 02 " + s("Object") + " 01000000 00 3d "
     "01 00 2100 00 40 55 05000000 0100 " + s("B") + " 03 " + s("en") + " " + s("Disp") + " 40000000 40 3a 02000000 "
     "01000000 00",
     [], {"cuts": 1}),
    ("Browse response: continuation point (slow head), no references", "nodes.browse_response",
     "01000000 00003480 02000000 abcd 00000000 00000000", [], {"cuts": 1}),
    ("Browse response: node class 3 (unknown)", "nodes.browse_response",
     "01000000 00000000 00000000 01000000 00 21 01 00 55 0000 ffffffff 00 03000000 00 00 00000000", [], {}),
    ("BrowseNext request", "nodes.browse_next_request", "01 02000000 01000000 aa ffffffff", [], {"cuts": 1}),
    ("Call request: 1 call with 2 arguments", "nodes.call_request",
     "01000000 01 01 e803 01 01 e903 02000000 06 05000000 0c " + s("x"), [], {"cuts": 1}),
    ("Call response: 1 result with outputs, diagnostics", "nodes.call_response",
     "01000000 00000000 01000000 00000000 00000000 01000000 01 01 00000000", [], {"cuts": 1}),
    ("Call response: empty", "nodes.call_response", "00000000 ffffffff", [], {}),
]

DATETIME_TICKS = [
    0, 1, 9, 10, 11, -1, -(2**63), 2**63 - 1,
    2650467743999999999, 2650467744000000000, 2650467743999999990, 2650467743999999989,
    864000000000,  # one day
    116444736000000000,  # 1970-01-01
    116444736000000010,
    125911584000000000,  # 2000-01-01
    125963856000000000,  # 2000-02-29T12:00:00
    94354848000000000,  # 1900-03-01
    94353984000000000,  # 1900-02-28
    504911232000000000,  # 3201-01-01
    133487066456789010, 133487066450000000, 133487066450000001, 36000000000, 599999999,
]


def run(method: str, data: bytes, args: list[int], opts: dict) -> str:
    end = opts.get("end", len(data))
    r = Reader(data, opts.get("pos", 0), end, opts.get("depth", 0))
    try:
        if method.startswith("nodes."):
            result = getattr(nodes, method[6:])(r)
        elif method == "array_length":
            result = r.array_length(args[0], bool(args[1]))
        elif method == "sub":
            sub = r.sub(args[0], args[1])
            result = [sub.pos, sub.end, sub.depth]
        else:
            result = getattr(r, method)(*args)
        return f"ok {r.pos} {r.depth} {orjson.dumps(result).decode()}"
    except ParseError as e:
        return f"err {r.pos} {r.depth} {e.reason} {e.detail}"


def rust_str(text: str) -> str:
    assert '"##' not in text
    return f'r##"{text}"##'


def main() -> None:
    lines = [
        "// Generated by tools/expected.py: the Python reference's results (parsers/opcua/types.py",
        "// Reader, values.datetime_text, nodes.py) on the byte vectors of that script: do not edit.",
        "",
        "pub struct Case {",
        "    pub label: &'static str,",
        "    pub method: &'static str,",
        "    pub data: &'static str,",
        "    pub args: &'static [i64],",
        "    pub pos: usize,",
        "    pub depth: usize,",
        "    /// (end of the reader, None for the end of the data; Python's result)",
        "    pub results: &'static [(Option<usize>, &'static str)],",
        "}",
        "",
        "pub const CASES: &[Case] = &[",
    ]
    count = 0
    for label, method, spec, args, opts in CASES:
        spec = " ".join(spec.split())
        data = expand(spec)
        ends = [opts.get("end")]
        if opts.get("cuts"):
            ends += list(range(opts.get("pos", 0), len(data)))
        results = []
        for end in ends:
            o = dict(opts)
            if end is not None:
                o["end"] = end
            results.append(f"({'None' if end is None else f'Some({end})'}, {rust_str(run(method, data, args, o))})")
            count += 1
        lines.append(
            f"    Case {{ label: {rust_str(label)}, method: {rust_str(method)}, data: {rust_str(spec)}, "
            f"args: &{args}, pos: {opts.get('pos', 0)}, depth: {opts.get('depth', 0)}, "
            f"results: &[{', '.join(results)}] }},"
        )
    lines.append("];")
    lines.append("")
    lines.append("/// (ticks, orjson of `datetime_text(ticks)`)")
    lines.append("pub const DATETIMES: &[(i64, &str)] = &[")
    for t in DATETIME_TICKS:
        lines.append(f"    ({t}, {rust_str(orjson.dumps(datetime_text(t)).decode())}),")
    lines.append("];")
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text("\n".join(lines) + "\n")
    subprocess.run(["rustfmt", "--edition", "2021", str(OUT)], check=True)
    sys.stderr.write(f"{count} cases, {len(DATETIME_TICKS)} datetimes -> {OUT}\n")


def random_cases(count: int, seed: int, path: Path) -> None:
    """Mutated copies of the vectors above and biased random bytes, one per line:
    ``method<TAB>hex<TAB>args<TAB>pos<TAB>end<TAB>depth<TAB>expect`` (for the ignored test
    ``random_vectors_as_python``, run with ``OPCUA_CODEC_CASES=<path>``)."""
    rng = random.Random(seed)
    small = [(m, spec) for _, m, spec, args, o in CASES if not args and not o.get("pos") and len(expand(spec)) <= 400]
    methods = sorted({m for _, m, _, _, _ in CASES} - {"take", "skip", "sub", "array_length", "node_id_raw"})
    special = [0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x40, 0x80, 0xC0, 0xFF, 0x7F, 0x3F]
    with path.open("w") as f:
        for _ in range(count):
            method = rng.choice(methods)
            if rng.random() < 0.8:
                method, spec = rng.choice(small)
                data = bytearray(expand(spec))
                for _ in range(rng.randint(1, 4)):
                    op = rng.randrange(4)
                    if op == 0 and data:
                        data[rng.randrange(len(data))] = rng.choice(special + [rng.randrange(256)])
                    elif op == 1:
                        data[rng.randint(0, len(data)):rng.randint(0, len(data))] = bytes(
                            rng.choice(special) for _ in range(rng.randint(1, 6)))
                    elif op == 2 and data:
                        del data[rng.randrange(len(data)):]
                    else:
                        data += bytes(rng.randrange(256) for _ in range(rng.randint(1, 20)))
            else:
                data = bytearray(rng.choice(special + [rng.randrange(256)]) for _ in range(rng.randint(0, 40)))
            depth = rng.choice([0, 0, 0, 14, 15, 16])
            expect = run(method, bytes(data), [], {"depth": depth})
            f.write(f"{method}\t{bytes(data).hex()}\t\t0\t{len(data)}\t{depth}\t{expect}\n")
    sys.stderr.write(f"{count} random cases -> {path}\n")


if __name__ == "__main__":
    if len(sys.argv) == 4:
        random_cases(int(sys.argv[1]), int(sys.argv[2]), Path(sys.argv[3]))
    else:
        main()
