"""Built-in types of the OPC UA binary encoding (OPC 10000-6 5.2), decoded with every length bounded.

All values are little-endian. A ``Reader`` walks one message body: the fixed-width and
length-prefixed types come from ``scalars.Cursor``, the NodeId family and ExtensionObject are here,
Variant, DataValue and DiagnosticInfo (the nested types) in ``values``. It raises only
``ParseError``: ``truncated``, ``bad_length``, ``array_too_long`` (see ``scalars``), ``bad_encoding``
(an unknown NodeId/Variant/ExtensionObject encoding) and ``too_deep`` (Variant/DataValue/
DiagnosticInfo/ExtensionObject nested beyond ``MAX_DEPTH``).

| type            | encoding                                                                     |
|-----------------|------------------------------------------------------------------------------|
| NodeId          | Byte encoding 0 two-byte, 1 four-byte, 2 numeric, 3 string, 4 guid, 5 opaque |
| ExpandedNodeId  | NodeId with flags 0x80 (NamespaceUri String follows), 0x40 (ServerIndex)     |
| QualifiedName   | UInt16 namespace + String                                                    |
| LocalizedText   | Byte mask 0x01 Locale String, 0x02 Text String                               |
| ExtensionObject | NodeId type + Byte encoding 0 none, 1 ByteString body, 2 XmlElement body     |

Values come back ready for JSON: NodeIds in the standard string form (``ns=1;s=the.answer``,
``i=85``), Guids as text, DateTimes as ISO 8601, ByteStrings as hex of their first ``MAX_HEX`` bytes,
strings cut at ``MAX_TEXT`` characters, arrays cut at ``MAX_ITEMS`` elements (all are still walked).
"""

from __future__ import annotations

import base64
import struct
from typing import Any

from parsers.base import ParseError
from parsers.opcua import values
from parsers.opcua.scalars import Cursor
from parsers.opcua.values import MAX_DEPTH, MAX_HEX, MAX_ITEMS, MAX_TEXT, MAX_WALK, datetime_text

_U16 = struct.Struct("<H")
_I32 = struct.Struct("<i")
_NS_U16 = struct.Struct("<BH")  # four-byte NodeId: namespace (Byte), identifier (UInt16)
_NS_U32 = struct.Struct("<HI")  # numeric NodeId: namespace (UInt16), identifier (UInt32)
_NS_LEN = struct.Struct("<Hi")  # string NodeId / QualifiedName: namespace (UInt16), String length
#: text of every two-byte NodeId (namespace 0, identifier 0..255)
TWO_BYTE_TEXT = tuple(f"i={i}" for i in range(256))
#: bytes of a NodeId (encoding byte included) by encoding, for the fixed-width encodings
_NODE_WIDTH = {0: 2, 1: 4, 2: 7, 4: 19}


def node_id_text(ns: int, kind: str, value: Any) -> str:
    """Standard string form of a NodeId (OPC 10000-6 5.3.1.10): ``i=85``, ``ns=1;s=name``."""
    return f"ns={ns};{kind}={value}" if ns else f"{kind}={value}"


class Reader(Cursor):
    """``Cursor`` plus the NodeId family, ExtensionObject and the nested types (``values``).

    Hot methods have fast paths for the common encodings; anything unusual falls back to the
    general code at the same position, so results and errors are the same either way.
    """

    __slots__ = ()

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
        p = self.pos
        if p < self.end:
            width = _NODE_WIDTH.get(self.buf[p])
            if width is not None and p + width <= self.end:
                self.pos = p + width
                return
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
        buf = self.buf
        p = self.pos
        end = self.end
        if p + 2 <= end:  # fast paths: two-byte, four-byte, numeric and short string encodings
            enc = buf[p]
            if enc == 0:
                self.pos = p + 2
                return TWO_BYTE_TEXT[buf[p + 1]]
            if enc == 1:
                if p + 4 <= end:
                    ns, ident = _NS_U16.unpack_from(buf, p + 1)
                    self.pos = p + 4
                    return f"ns={ns};i={ident}" if ns else f"i={ident}"
            elif enc == 3:
                if p + 7 <= end:
                    ns, n = _NS_LEN.unpack_from(buf, p + 1)
                    q = p + 7 + n
                    if 0 < n <= MAX_TEXT and q <= end:
                        self.pos = q
                        s = buf[p + 7 : q].decode("utf-8", "replace")
                        return f"ns={ns};s={s}" if ns else f"s={s}"
            elif enc == 2 and p + 7 <= end:
                ns, ident = _NS_U32.unpack_from(buf, p + 1)
                self.pos = p + 7
                return f"ns={ns};i={ident}" if ns else f"i={ident}"
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
        p = self.pos
        if p < self.end and not self.buf[p] & 0xC0:  # no NamespaceUri, no ServerIndex: a NodeId
            return self.node_id()
        mask = self.u8()
        ns, kind, value = self.node_id_raw(mask)
        uri = self.string() if mask & 0x80 else None
        server = self.u32() if mask & 0x40 else 0
        text = f"nsu={uri};{kind}={value}" if uri is not None else node_id_text(ns, kind, value)
        return f"svr={server};{text}" if server else text

    def qualified_name(self) -> str:
        p = self.pos
        end = self.end
        if p + 6 <= end:
            ns, n = _NS_LEN.unpack_from(self.buf, p)
            if n <= 0:
                if n >= -1:  # null or empty name
                    self.pos = p + 6
                    return f"{ns}:" if ns else ""
            elif n <= MAX_TEXT and p + 6 + n <= end:
                q = p + 6 + n
                self.pos = q
                name = self.buf[p + 6 : q].decode("utf-8", "replace")
                return f"{ns}:{name}" if ns else name
        ns = self.u16()
        name = self.string() or ""
        return f"{ns}:{name}" if ns else name

    def localized_text(self) -> tuple[str | None, str | None]:
        """(locale, text)."""
        p = self.pos
        if p >= self.end:
            raise ParseError("truncated", f"1 byte at offset {p}, 0 left")
        mask = self.buf[p]
        self.pos = p + 1
        locale = self.string() if mask & 0x01 else None
        text = self.string() if mask & 0x02 else None
        return locale, text

    # -- structured ---------------------------------------------------------------------------
    def extension_object(self) -> tuple[int | None, str, int, int]:
        """(numeric ns0 type id or None, type id text, body start, body end); the body is skipped."""
        buf = self.buf
        p = self.pos
        end = self.end
        if p + 3 <= end:  # fast path: a two-byte or four-byte namespace-0 type id
            mask = buf[p]
            ident = -1
            if mask == 0:
                ident = buf[p + 1]
                q = p + 2
            elif mask == 1 and p + 5 <= end and buf[p + 1] == 0:
                ident = _U16.unpack_from(buf, p + 2)[0]
                q = p + 4
            if ident >= 0:
                enc = buf[q]
                if enc == 0:
                    self.pos = q + 1
                    return ident, f"i={ident}", q + 1, q + 1
                if (enc == 1 or enc == 2) and q + 5 <= end:
                    n = _I32.unpack_from(buf, q + 1)[0]
                    start = q + 5
                    if -1 <= n <= end - start:
                        stop = start + n if n > 0 else start
                        self.pos = stop
                        return ident, f"i={ident}", start, stop
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


    # -- nested types (``values``), bound as methods ---------------------------------------------
    variant = values.variant
    data_value = values.data_value
    value_and_status = values.value_and_status
    diagnostic_info = values.diagnostic_info
    diagnostic_infos = values.diagnostic_infos


__all__ = ["MAX_DEPTH", "MAX_HEX", "MAX_ITEMS", "MAX_TEXT", "MAX_WALK", "Reader", "datetime_text", "node_id_text"]
