"""The nested built-in types of the OPC UA binary encoding (OPC 10000-6 5.2.2.16 to 5.2.2.17):
Variant, DataValue, DiagnosticInfo, each entered at most ``MAX_DEPTH`` levels deep.

| type           | encoding                                                                          |
|----------------|-----------------------------------------------------------------------------------|
| Variant        | Byte mask: bits 0-5 built-in type, 0x80 array (Int32 count), 0x40 dimensions      |
|                | (Int32 count + Int32 each, after the values)                                      |
| DataValue      | Byte mask 0x01 Value, 0x02 Status, 0x04 SourceTimestamp, 0x10 SourcePicoseconds,  |
|                | 0x08 ServerTimestamp, 0x20 ServerPicoseconds (on the wire in that order)          |
| DiagnosticInfo | Byte mask 0x01 SymbolicId, 0x02 NamespaceUri, 0x08 Locale, 0x04 LocalizedText,    |
|                | 0x10 AdditionalInfo, 0x20 InnerStatusCode, 0x40 InnerDiagnosticInfo (wire order)  |

Arrays of fixed-width types are skipped by arithmetic (their first ``MAX_ITEMS`` values unpacked in
one call); arrays of variable-width types are walked, at most ``MAX_WALK`` elements.
"""

from __future__ import annotations

import struct
import uuid
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from parsers.base import ParseError

if TYPE_CHECKING:
    from parsers.opcua.types import Reader

MAX_DEPTH = 16
MAX_ITEMS = 64
MAX_TEXT = 1024
MAX_HEX = 64
MAX_WALK = 100_000

_EPOCH = datetime(1601, 1, 1, tzinfo=UTC)
_MAX_TICKS = 2650467743999999999  # 9999-12-31T23:59:59.9999999, the largest the spec allows

#: Variant built-in type ids with a fixed width: struct format character and size
_FIXED: dict[int, tuple[str, int]] = {
    1: ("?", 1), 2: ("b", 1), 3: ("B", 1), 4: ("h", 2), 5: ("H", 2), 6: ("i", 4), 7: ("I", 4),
    8: ("q", 8), 9: ("Q", 8), 10: ("f", 4), 11: ("d", 8), 13: ("q", 8), 14: ("16s", 16), 19: ("I", 4),
}
#: one precompiled reader per fixed-width scalar type (DateTime and Guid are formatted: not here)
_SCALARS: dict[int, struct.Struct] = {t: struct.Struct("<" + f) for t, (f, _) in _FIXED.items() if t not in (13, 14)}
#: smallest encoding of the variable-width Variant types, to bound array counts before walking
_MIN_SIZE: dict[int, int] = {
    12: 4, 15: 4, 16: 4, 17: 2, 18: 2, 20: 6, 21: 1, 22: 3, 23: 1, 24: 1, 25: 1,
}


def datetime_text(ticks: int) -> str | None:
    """ISO 8601 text of a DateTime; 0 and out-of-range values (``min``/``max`` markers) give None."""
    if ticks <= 0 or ticks > _MAX_TICKS:
        return None
    return (_EPOCH + timedelta(microseconds=ticks // 10)).isoformat().replace("+00:00", "Z")


def _enter(r: Reader) -> int:
    """Go one level deeper and read the encoding mask byte."""
    if r.depth >= MAX_DEPTH:
        raise ParseError("too_deep", f"nesting beyond {MAX_DEPTH} at offset {r.pos}")
    r.depth += 1
    p = r.pos
    if p >= r.end:
        raise ParseError("truncated", f"1 byte at offset {p}, 0 left")
    r.pos = p + 1
    return r.buf[p]


def variant(r: Reader) -> Any:
    mask = _enter(r)
    t = mask & 0x3F
    if t > 25:
        raise ParseError("bad_encoding", f"Variant type {t} at offset {r.pos - 1}")
    if not mask & 0x80:
        scalar = _SCALARS.get(t)
        if scalar is not None:  # fixed width: one read
            p = r.pos
            q = p + scalar.size
            if q > r.end:
                raise ParseError("truncated", f"{scalar.size} bytes at offset {p}, {r.end - p} left")
            r.pos = q
            value = scalar.unpack_from(r.buf, p)[0]
        elif t == 12:
            value = r.string()
        else:
            value = None if t == 0 else _scalar(r, t)
        r.depth -= 1
        return value
    fixed = _FIXED.get(t)
    n = r.array_length(fixed[1] if fixed else _MIN_SIZE.get(t, 1), walk=fixed is None)
    if t == 0 and n:
        raise ParseError("bad_encoding", f"array of {n} Null values at offset {r.pos - 4}")
    if fixed is not None:
        values = _fixed_array(r, t, fixed, n)
    else:
        values = []
        for i in range(n):
            v = _scalar(r, t)
            if i < MAX_ITEMS:
                values.append(v)
    result: Any = values
    if mask & 0x40:
        dims = r.u32_array()
        result = {"dimensions": dims, "values": values}
    r.depth -= 1
    return result


def _fixed_array(r: Reader, t: int, fixed: tuple[str, int], n: int) -> list[Any]:
    fmt, size = fixed
    p = r.take(n * size)
    k = min(n, MAX_ITEMS)
    if not k:
        return []
    if t == 14:
        return [str(uuid.UUID(bytes_le=bytes(r.buf[p + 16 * i : p + 16 * i + 16]))) for i in range(k)]
    values = list(struct.unpack_from(f"<{k}{fmt}", r.buf, p))
    if t == 13:
        return [datetime_text(v) for v in values]
    return values


def _scalar(r: Reader, t: int) -> Any:
    fixed = _FIXED.get(t)
    if fixed is not None:
        return _fixed_array(r, t, fixed, 1)[0]
    if t == 12:
        return r.string()
    if t in (15, 16):
        return r.bytestring_hex()
    if t == 17:
        return r.node_id()
    if t == 18:
        return r.expanded_node_id()
    if t == 20:
        return r.qualified_name()
    if t == 21:
        return r.localized_text()[1]
    if t == 22:
        _, type_text, start, end = r.extension_object()
        return {"type_id": type_text, "length": end - start}
    if t == 23:
        return data_value(r)
    if t == 24:
        return variant(r)
    return diagnostic_info(r)


def data_value(r: Reader) -> dict[str, Any]:
    mask = _enter(r)
    out: dict[str, Any] = {}
    if mask & 0x01:
        out["value"] = variant(r)
    if mask & 0x02:
        out["status_code"] = r.u32()
    if mask & 0x04:
        out["source_timestamp"] = r.date_time()
    if mask & 0x10:
        r.skip(2)
    if mask & 0x08:
        out["server_timestamp"] = r.date_time()
    if mask & 0x20:
        r.skip(2)
    r.depth -= 1
    return out


def value_and_status(r: Reader) -> tuple[Any, int]:
    """A DataValue's value (None if absent) and StatusCode (0, Good, if absent); the timestamps are
    checked and skipped, as ``data_value`` would read them."""
    mask = _enter(r)
    value = variant(r) if mask & 0x01 else None
    status = r.u32() if mask & 0x02 else 0
    if mask & 0x3C:
        if mask & 0x04:
            r.skip(8)
        if mask & 0x10:
            r.skip(2)
        if mask & 0x08:
            r.skip(8)
        if mask & 0x20:
            r.skip(2)
    r.depth -= 1
    return value, status


def diagnostic_info(r: Reader) -> dict[str, Any]:
    mask = _enter(r)
    out: dict[str, Any] = {}
    if not mask:
        r.depth -= 1
        return out
    if mask & 0x01:
        out["symbolic_id"] = r.i32()
    if mask & 0x02:
        out["namespace_uri"] = r.i32()
    if mask & 0x08:
        out["locale"] = r.i32()
    if mask & 0x04:
        out["localized_text"] = r.i32()
    if mask & 0x10:
        out["additional_info"] = r.string()
    if mask & 0x20:
        out["inner_status_code"] = r.u32()
    if mask & 0x40:
        out["inner_diagnostic_info"] = diagnostic_info(r)
    r.depth -= 1
    return out


def diagnostic_infos(r: Reader) -> list[dict[str, Any]]:
    n = r.array_length(1)
    out = []
    for i in range(n):
        d = diagnostic_info(r)
        if i < MAX_ITEMS:
            out.append(d)
    return out
