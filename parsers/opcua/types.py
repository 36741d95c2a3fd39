"""Built-in types of the OPC UA binary encoding (OPC 10000-6 5.2), decoded with every length bounded.

All values are little-endian. A ``Reader`` walks one message body; it raises only ``ParseError``:
``truncated`` (a fixed-size field runs past the end), ``bad_length`` (a length prefix is below -1 or
claims more bytes than are left), ``bad_encoding`` (an unknown NodeId/Variant/ExtensionObject
encoding), ``too_deep`` (Variant/DataValue/DiagnosticInfo/ExtensionObject nested beyond ``MAX_DEPTH``)
and ``array_too_long`` (more than ``MAX_WALK`` variable-size elements).

| type            | encoding                                                                     |
|-----------------|------------------------------------------------------------------------------|
| String          | Int32 length (-1 = null) + UTF-8 bytes                                       |
| ByteString      | Int32 length (-1 = null) + bytes; XmlElement is encoded the same way         |
| DateTime        | Int64, 100 ns ticks since 1601-01-01 UTC                                     |
| Guid            | UInt32, UInt16, UInt16, 8 bytes (``uuid.UUID(bytes_le=...)``)                |
| NodeId          | Byte encoding 0 two-byte, 1 four-byte, 2 numeric, 3 string, 4 guid, 5 opaque |
| ExpandedNodeId  | NodeId with flags 0x80 (NamespaceUri String follows), 0x40 (ServerIndex)     |
| QualifiedName   | UInt16 namespace + String                                                    |
| LocalizedText   | Byte mask 0x01 Locale String, 0x02 Text String                               |
| ExtensionObject | NodeId type + Byte encoding 0 none, 1 ByteString body, 2 XmlElement body     |

Variant, DataValue and DiagnosticInfo (the nested types) are in ``values``.

Values come back ready for JSON: NodeIds in the standard string form (``ns=1;s=the.answer``,
``i=85``), Guids as text, DateTimes as ISO 8601, ByteStrings as hex of their first ``MAX_HEX`` bytes,
strings cut at ``MAX_TEXT`` characters, arrays cut at ``MAX_ITEMS`` elements (all are still walked).
"""

from __future__ import annotations

import base64
import struct
import uuid
from typing import Any

from parsers.base import ParseError
from parsers.opcua import values
from parsers.opcua.values import MAX_DEPTH, MAX_HEX, MAX_ITEMS, MAX_TEXT, MAX_WALK, datetime_text

_U16 = struct.Struct("<H")
_U32 = struct.Struct("<I")
_I32 = struct.Struct("<i")
_I64 = struct.Struct("<q")
_F64 = struct.Struct("<d")
_NS_U16 = struct.Struct("<BH")  # four-byte NodeId: namespace (Byte), identifier (UInt16)
_NS_U32 = struct.Struct("<HI")  # numeric NodeId: namespace (UInt16), identifier (UInt32)


def node_id_text(ns: int, kind: str, value: Any) -> str:
    """Standard string form of a NodeId (OPC 10000-6 5.3.1.10): ``i=85``, ``ns=1;s=name``."""
    return f"ns={ns};{kind}={value}" if ns else f"{kind}={value}"


class Reader:
    """A cursor over ``buf[pos:end]`` (one message body); every read checks the bound first."""

    __slots__ = ("buf", "pos", "end", "depth")

    def __init__(self, buf: bytes, pos: int, end: int, depth: int = 0) -> None:
        self.buf = buf
        self.pos = pos
        self.end = end
        self.depth = depth

    # -- fixed width --------------------------------------------------------------------------
    def take(self, n: int) -> int:
        """Claim ``n`` bytes; return where they start."""
        p = self.pos
        if p + n > self.end:
            raise ParseError("truncated", f"{n} bytes at offset {p}, {self.end - p} left")
        self.pos = p + n
        return p

    def u8(self) -> int:
        p = self.pos
        if p >= self.end:
            raise ParseError("truncated", f"1 byte at offset {p}, 0 left")
        self.pos = p + 1
        return self.buf[p]

    def boolean(self) -> bool:
        return self.u8() != 0

    def u16(self) -> int:
        p = self.pos
        if p + 2 > self.end:
            raise ParseError("truncated", f"2 bytes at offset {p}, {self.end - p} left")
        self.pos = p + 2
        return _U16.unpack_from(self.buf, p)[0]

    def u32(self) -> int:
        p = self.pos
        if p + 4 > self.end:
            raise ParseError("truncated", f"4 bytes at offset {p}, {self.end - p} left")
        self.pos = p + 4
        return _U32.unpack_from(self.buf, p)[0]

    def i32(self) -> int:
        p = self.pos
        if p + 4 > self.end:
            raise ParseError("truncated", f"4 bytes at offset {p}, {self.end - p} left")
        self.pos = p + 4
        return _I32.unpack_from(self.buf, p)[0]

    def f64(self) -> float:
        return _F64.unpack_from(self.buf, self.take(8))[0]

    def unpack(self, fmt: struct.Struct) -> tuple[Any, ...]:
        """Several fixed-width fields at once."""
        return fmt.unpack_from(self.buf, self.take(fmt.size))

    def skip(self, n: int) -> None:
        self.take(n)

    def date_time(self) -> str | None:
        return datetime_text(_I64.unpack_from(self.buf, self.take(8))[0])

    def guid(self) -> str:
        p = self.take(16)
        return str(uuid.UUID(bytes_le=bytes(self.buf[p : p + 16])))

    # -- length-prefixed ----------------------------------------------------------------------
    def length(self) -> int:
        """An Int32 length prefix: -1 (null) or a count of bytes that must all be present."""
        p = self.pos
        end = self.end
        if p + 4 > end:
            raise ParseError("truncated", f"4 bytes at offset {p}, {end - p} left")
        n = _I32.unpack_from(self.buf, p)[0]
        p += 4
        self.pos = p
        if n < -1 or n > end - p:
            raise ParseError("bad_length", f"length {n} at offset {p - 4}, {end - p} left")
        return n

    def array_length(self, min_size: int, walk: bool = True) -> int:
        """An array count (null arrays give 0), bounded by the bytes left at ``min_size`` each.

        ``walk``: the caller visits each element in Python, so the count is also capped at ``MAX_WALK``.
        """
        n = self.length() if min_size == 1 else self._count(min_size)
        if n <= 0:
            return 0
        if walk and n > MAX_WALK:
            raise ParseError("array_too_long", f"{n} elements at offset {self.pos - 4}")
        return n

    def _count(self, min_size: int) -> int:
        p = self.pos
        end = self.end
        if p + 4 > end:
            raise ParseError("truncated", f"4 bytes at offset {p}, {end - p} left")
        n = _I32.unpack_from(self.buf, p)[0]
        p += 4
        self.pos = p
        if n < -1 or n * min_size > end - p:
            raise ParseError("bad_length", f"array count {n} at offset {p - 4}, {end - p} left")
        return n

    def string(self) -> str | None:
        n = self.length()
        if n <= 0:
            return None if n < 0 else ""
        p = self.pos
        self.pos = p + n
        if n <= MAX_TEXT:
            return str(self.buf[p : p + n], "utf-8", "replace")
        return str(self.buf[p : p + MAX_TEXT * 4], "utf-8", "replace")[:MAX_TEXT]

    def bytestring_length(self) -> int:
        """Skip a ByteString, returning its length (-1 for null)."""
        n = self.length()
        if n > 0:
            self.pos += n
        return n

    def bytestring_hex(self) -> str | None:
        n = self.length()
        if n < 0:
            return None
        p = self.pos
        self.pos = p + n
        return bytes(self.buf[p : p + min(n, MAX_HEX)]).hex()

    def string_array(self) -> list[str | None]:
        n = self.array_length(4)
        out: list[str | None] = []
        for i in range(n):
            s = self.string()
            if i < MAX_ITEMS:
                out.append(s)
        return out

    def u32_array(self) -> list[int]:
        n = self.array_length(4, walk=False)
        p = self.take(4 * n)
        k = min(n, MAX_ITEMS)
        return list(struct.unpack_from(f"<{k}I", self.buf, p)) if k else []

    def status_array(self) -> list[int]:
        return self.u32_array()

    # -- NodeId family ------------------------------------------------------------------------
    def node_id_raw(self, mask: int | None = None) -> tuple[int, str, Any]:
        """(namespace, kind ``i``/``s``/``g``/``b``, identifier) of a NodeId."""
        if mask is None:
            mask = self.u8()
        enc = mask & 0x3F
        buf = self.buf
        if enc == 0:
            return 0, "i", buf[self.take(1)]
        if enc == 1:
            ns, ident = _NS_U16.unpack_from(buf, self.take(3))
            return ns, "i", ident
        if enc == 2:
            ns, ident = _NS_U32.unpack_from(buf, self.take(6))
            return ns, "i", ident
        if enc == 3:
            ns = self.u16()
            return ns, "s", self.string() or ""
        if enc == 4:
            ns = self.u16()
            return ns, "g", self.guid()
        if enc == 5:
            ns = self.u16()
            n = self.length()
            p = self.pos
            self.pos = p + max(n, 0)
            return ns, "b", base64.b64encode(bytes(buf[p : p + min(max(n, 0), MAX_HEX)])).decode()
        raise ParseError("bad_encoding", f"NodeId encoding 0x{mask:02x} at offset {self.pos - 1}")

    def skip_node_id(self) -> None:
        """Step over a NodeId without formatting it (session tokens, reference types)."""
        enc = self.u8()
        if enc == 0:
            self.take(1)
        elif enc == 1:
            self.take(3)
        elif enc == 2:
            self.take(6)
        elif enc == 4:
            self.take(18)
        elif enc in (3, 5):
            self.take(2)
            self.bytestring_length()
        else:
            raise ParseError("bad_encoding", f"NodeId encoding 0x{enc:02x} at offset {self.pos - 1}")

    def node_id(self) -> str:
        p = self.pos
        if p + 2 <= self.end and self.buf[p] == 0:  # two-byte encoding, the commonest
            self.pos = p + 2
            return f"i={self.buf[p + 1]}"
        mask = self.u8()
        if mask & 0xC0:
            raise ParseError("bad_encoding", f"NodeId encoding 0x{mask:02x} at offset {self.pos - 1}")
        ns, kind, value = self.node_id_raw(mask)
        return f"ns={ns};{kind}={value}" if ns else f"{kind}={value}"

    def numeric_node_id(self) -> int | None:
        """The identifier of a namespace-0 numeric NodeId (type ids), else None."""
        p = self.pos
        if p + 4 <= self.end and self.buf[p] == 0x01 and self.buf[p + 1] == 0:  # four-byte, namespace 0
            self.pos = p + 4
            return _U16.unpack_from(self.buf, p + 2)[0]
        mask = self.u8()
        if mask & 0xC0:
            raise ParseError("bad_encoding", f"NodeId encoding 0x{mask:02x} at offset {self.pos - 1}")
        ns, kind, value = self.node_id_raw(mask)
        return value if ns == 0 and kind == "i" else None

    def expanded_node_id(self) -> str:
        mask = self.u8()
        ns, kind, value = self.node_id_raw(mask)
        uri = self.string() if mask & 0x80 else None
        server = self.u32() if mask & 0x40 else 0
        text = f"nsu={uri};{kind}={value}" if uri is not None else node_id_text(ns, kind, value)
        return f"svr={server};{text}" if server else text

    def qualified_name(self) -> str:
        ns = self.u16()
        name = self.string() or ""
        return f"{ns}:{name}" if ns else name

    def localized_text(self) -> tuple[str | None, str | None]:
        """(locale, text)."""
        mask = self.u8()
        locale = self.string() if mask & 0x01 else None
        text = self.string() if mask & 0x02 else None
        return locale, text

    # -- structured ---------------------------------------------------------------------------
    def extension_object(self) -> tuple[int | None, str, int, int]:
        """(numeric ns0 type id or None, type id text, body start, body end); the body is skipped."""
        mask = self.u8()
        if mask & 0xC0:
            raise ParseError("bad_encoding", f"NodeId encoding 0x{mask:02x} at offset {self.pos - 1}")
        ns, kind, value = self.node_id_raw(mask)
        enc = self.u8()
        if enc == 0:
            start = end = self.pos
        elif enc in (1, 2):
            n = self.length()
            start = self.pos
            end = start + max(n, 0)
            self.pos = end
        else:
            raise ParseError("bad_encoding", f"ExtensionObject encoding {enc} at offset {self.pos - 1}")
        numeric = value if ns == 0 and kind == "i" else None
        return numeric, node_id_text(ns, kind, value), start, end

    def sub(self, start: int, end: int) -> Reader:
        """A reader over an ExtensionObject body, one level deeper."""
        if self.depth >= MAX_DEPTH:
            raise ParseError("too_deep", f"nesting beyond {MAX_DEPTH} at offset {start}")
        return Reader(self.buf, start, end, self.depth + 1)


    # -- nested types (``values``) ---------------------------------------------------------------
    def variant(self) -> Any:
        return values.variant(self)

    def data_value(self) -> dict[str, Any]:
        return values.data_value(self)

    def diagnostic_info(self) -> dict[str, Any]:
        return values.diagnostic_info(self)

    def diagnostic_infos(self) -> list[dict[str, Any]]:
        return values.diagnostic_infos(self)


__all__ = ["MAX_DEPTH", "MAX_HEX", "MAX_ITEMS", "MAX_TEXT", "MAX_WALK", "Reader", "datetime_text", "node_id_text"]
