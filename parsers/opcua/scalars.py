"""Fixed-width and length-prefixed built-in types of the OPC UA binary encoding (OPC 10000-6 5.2.2).

``Cursor`` walks one message body, every read checking the bound first; ``types.Reader`` adds the
NodeId family and the structured types. It raises only ``ParseError``: ``truncated`` (a fixed-size
field runs past the end), ``bad_length`` (a length prefix below -1 or beyond the bytes left) and
``array_too_long`` (more than ``MAX_WALK`` variable-size elements).

| type       | encoding                                                               |
|------------|------------------------------------------------------------------------|
| Boolean    | Byte, 0 false                                                          |
| Integers   | little-endian, 1 to 8 bytes; Float and Double IEEE 754                 |
| String     | Int32 length (-1 = null) + UTF-8 bytes                                 |
| ByteString | Int32 length (-1 = null) + bytes; XmlElement is encoded the same way   |
| DateTime   | Int64, 100 ns ticks since 1601-01-01 UTC                               |
| Guid       | UInt32, UInt16, UInt16, 8 bytes (``uuid.UUID(bytes_le=...)``)          |
| arrays     | Int32 count (-1 = null) + elements                                     |

Hot methods are flat (no nested calls); strings are cut at ``MAX_TEXT`` characters, arrays at
``MAX_ITEMS`` elements (all are still walked).
"""

from __future__ import annotations

import struct
import uuid
from typing import Any

from parsers.base import ParseError
from parsers.opcua.values import MAX_HEX, MAX_ITEMS, MAX_TEXT, MAX_WALK, datetime_text

_U16 = struct.Struct("<H")
_U32 = struct.Struct("<I")
_I32 = struct.Struct("<i")
_I64 = struct.Struct("<q")
_F64 = struct.Struct("<d")
_U32S = [struct.Struct(f"<{k}I") for k in range(MAX_ITEMS + 1)]  # StatusCode/UInt32 arrays, k values


class Cursor:
    """A cursor over ``buf[pos:end]`` (one message body); every read checks the bound first."""

    __slots__ = ("buf", "pos", "end", "depth")

    def __init__(self, buf: bytes, pos: int, end: int, depth: int = 0) -> None:
        self.buf = buf
        self.pos = pos
        self.end = end
        #: nesting level of Variant/DataValue/DiagnosticInfo/ExtensionObject bodies
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
        p = self.pos
        if p >= self.end:
            raise ParseError("truncated", f"1 byte at offset {p}, 0 left")
        self.pos = p + 1
        return self.buf[p] != 0

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
        p = self.pos
        if p + 8 > self.end:
            raise ParseError("truncated", f"8 bytes at offset {p}, {self.end - p} left")
        self.pos = p + 8
        return _F64.unpack_from(self.buf, p)[0]

    def unpack(self, fmt: struct.Struct) -> tuple[Any, ...]:
        """Several fixed-width fields at once."""
        p = self.pos
        n = fmt.size
        if p + n > self.end:
            raise ParseError("truncated", f"{n} bytes at offset {p}, {self.end - p} left")
        self.pos = p + n
        return fmt.unpack_from(self.buf, p)

    def skip(self, n: int) -> None:
        p = self.pos
        if p + n > self.end:
            raise ParseError("truncated", f"{n} bytes at offset {p}, {self.end - p} left")
        self.pos = p + n

    def date_time(self) -> str | None:
        p = self.pos
        if p + 8 > self.end:
            raise ParseError("truncated", f"8 bytes at offset {p}, {self.end - p} left")
        self.pos = p + 8
        return datetime_text(_I64.unpack_from(self.buf, p)[0])

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
        p = self.pos
        end = self.end
        if p + 4 > end:
            raise ParseError("truncated", f"4 bytes at offset {p}, {end - p} left")
        n = _I32.unpack_from(self.buf, p)[0]
        p += 4
        self.pos = p
        if n <= 0:
            if n < -1:
                what = "length" if min_size == 1 else "array count"
                raise ParseError("bad_length", f"{what} {n} at offset {p - 4}, {end - p} left")
            return 0
        if n * min_size > end - p:
            what = "length" if min_size == 1 else "array count"
            raise ParseError("bad_length", f"{what} {n} at offset {p - 4}, {end - p} left")
        if walk and n > MAX_WALK:
            raise ParseError("array_too_long", f"{n} elements at offset {p - 4}")
        return n

    def string(self) -> str | None:
        p = self.pos
        end = self.end
        if p + 4 > end:
            raise ParseError("truncated", f"4 bytes at offset {p}, {end - p} left")
        n = _I32.unpack_from(self.buf, p)[0]
        p += 4
        if n <= 0:
            self.pos = p
            if n == -1:
                return None
            if n == 0:
                return ""
            raise ParseError("bad_length", f"length {n} at offset {p - 4}, {end - p} left")
        q = p + n
        if q > end:
            self.pos = p
            raise ParseError("bad_length", f"length {n} at offset {p - 4}, {end - p} left")
        self.pos = q
        if n <= MAX_TEXT:
            return self.buf[p:q].decode("utf-8", "replace")
        return self.buf[p : p + MAX_TEXT * 4].decode("utf-8", "replace")[:MAX_TEXT]

    def bytestring_length(self) -> int:
        """Skip a ByteString, returning its length (-1 for null)."""
        p = self.pos
        end = self.end
        if p + 4 > end:
            raise ParseError("truncated", f"4 bytes at offset {p}, {end - p} left")
        n = _I32.unpack_from(self.buf, p)[0]
        p += 4
        if n < -1 or n > end - p:
            self.pos = p
            raise ParseError("bad_length", f"length {n} at offset {p - 4}, {end - p} left")
        self.pos = p + n if n > 0 else p
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
        if not n:
            return []
        p = self.take(4 * n)
        return list(_U32S[min(n, MAX_ITEMS)].unpack_from(self.buf, p))

    status_array = u32_array
