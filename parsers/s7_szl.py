"""SZL (System Status List, "Systemzustandsliste") answers -> device identity.

A read-SZL response's data (after the 4-byte userdata data header) is:

| field | width | meaning |
|---|---|---|
| SZL id | 2 | bits 8-11 partial list extract, bits 0-7 partial list number |
| SZL index | 2 | record selector |
| record length | 2 | bytes per record (LENTHDR) |
| record count | 2 | records that follow (N_DR) |
| records | n | record length x record count |

Records used for identity (Siemens, "System Software for S7-300/400", SZL chapter):

- 0x0011 / 0x0111 module identification, 28 bytes: index (2; 1 module, 6 basic hardware,
  7 basic firmware), order number MlfB (20 ASCII), module type BGTyp (2), Ausbg (2), Ausbe (2):
  the release number in Ausbg, or 'V' + three numbers on firmware records.
- 0x001C / 0x011C component identification, 34 bytes: index (2), 32 bytes text: 1 automation
  system name, 2 module name, 3 plant designation, 4 copyright, 5 serial number, 7 module type
  name, 8 memory card serial number, 9 manufacturer id / profile, 10 OEM id, 11 location.
- 0x0131 index 1 communication capabilities: index, max PDU size (2), max connections (2),
  MPI rate (4), communication bus rate (4).
- 0x0232 index 4 protection: index, protection level set by the key switch (2), parameterised
  level (2), valid level (2), mode selector position (2), startup switch (2).
- 0x0424 current mode, 20 bytes: event id (2), 0xFF (1), mode ids (1: low nibble requested /
  current mode, high nibble previous mode), reserved, startup info, timestamp.

Some servers (the pure-Python snap7 server among them) send 0x001C with a zero header and zero
record indexes; the records then are read in the standard order and the answer is flagged.
"""

from __future__ import annotations

import struct
from typing import Any

from parsers.s7_names import CPU_MODES, MODE_SELECTOR

_HDR = struct.Struct("!HHHH")
_U16 = struct.Struct("!H")
_HH = struct.Struct("!HH")
_CP = struct.Struct("!HHHII")
_PROT = struct.Struct("!HHHHHH")

#: 0x001C record index -> identity key
COMPONENT_KEYS = {
    1: "system_name",
    2: "module_name",
    3: "plant_id",
    4: "copyright",
    5: "serial_number",
    7: "module_type_name",
    8: "memory_card_serial_number",
    10: "oem_id",
    11: "location",
}
#: record indexes in the order a CPU lists them (used when a server leaves them zero)
COMPONENT_ORDER = (1, 2, 3, 4, 5, 7, 8, 9, 10, 11)
#: records decoded at most per answer; a list is bounded by the PDU size anyway
MAX_RECORDS = 256


def _text(raw: bytes) -> str:
    cut = raw.find(b"\x00")
    if cut >= 0:
        raw = raw[:cut]
    return raw.decode("latin-1").rstrip()


def _version(rec: bytes) -> str:
    """Ausbg/Ausbe of a 0x0011 record as text.

    Firmware records carry 'V' and the major number in Ausbg and minor/patch in Ausbe ("V3.2.6");
    module and hardware records carry the release number in Ausbg ("4"). Short 26-byte records
    (python-snap7's own server) end in three version bytes, read as snap7's client does ("3.3.0").
    """
    if len(rec) < 28:
        return f"{rec[-3]}.{rec[-2]}.{rec[-1]}"
    lead = rec[24]
    if 0x41 <= lead <= 0x5A:
        return f"{chr(lead)}{rec[25]}.{rec[26]}.{rec[27]}"
    return str(_U16.unpack_from(rec, 24)[0])


def _module_ident(records: list[bytes], ident: dict[str, Any], flags: list[str]) -> None:
    for rec in records:
        if len(rec) < 26:
            continue
        if len(rec) < 28:
            flags.append("szl_record_short")
        index = _U16.unpack_from(rec)[0]
        order = _text(rec[2:22])
        if index == 1:
            if order:
                ident["order_number"] = order
            ident["module_version"] = _version(rec)
        elif index == 6:
            if order:
                ident.setdefault("order_number", order)
            ident["hardware_version"] = _version(rec)
        elif index == 7:
            ident["firmware_version"] = _version(rec)
        elif index == 0x81:
            ident["firmware_extension_version"] = _version(rec)


def _component_ident(records: list[bytes], ident: dict[str, Any], flags: list[str]) -> None:
    missing = False
    for pos, rec in enumerate(records):
        if len(rec) < 4:
            continue
        index = _U16.unpack_from(rec)[0]
        if index == 0 and pos < len(COMPONENT_ORDER):
            index = COMPONENT_ORDER[pos]
            missing = True
        if index == 9 and len(rec) >= 8:
            ident["manufacturer_id"], ident["profile_id"] = _HH.unpack_from(rec, 2)
            continue
        key = COMPONENT_KEYS.get(index)
        if key is not None:
            value = _text(rec[2:])
            if value:
                ident[key] = value
    if missing:
        flags.append("szl_record_index_missing")


def _mode(records: list[bytes], ident: dict[str, Any], f: dict[str, Any]) -> None:
    if not records or len(records[0]) < 4:
        return
    ids = records[0][3]
    current = ids & 0x0F
    word, full = CPU_MODES.get(current, ("unknown", "Unknown"))
    ident["mode"] = word
    ident["mode_name"] = full
    ident["mode_code"] = current
    f["previous_mode"] = CPU_MODES.get(ids >> 4, ("unknown", "Unknown"))[1]
    f["mode_event_id"] = _U16.unpack_from(records[0])[0]


def szl_response(buf: bytes, pos: int, end: int, f: dict[str, Any], flags: list[str]) -> None:
    """Decode one complete SZL answer at ``buf[pos:end]`` into ``f`` (szl_* and identity)."""
    if end - pos < 4:
        flags.append("truncated_szl")
        return
    szl_id, index = _HH.unpack_from(buf, pos)
    f["szl_id"] = szl_id
    f["szl_index"] = index
    if end - pos < 8:
        flags.append("truncated_szl")
        return
    _i, _x, rec_len, count = _HDR.unpack_from(buf, pos)
    f["szl_record_length"] = rec_len
    f["szl_record_count"] = count
    body = pos + 8
    avail = end - body
    list_no = szl_id & 0xFF
    if rec_len == 0 and count == 0 and avail >= 34 and list_no == 0x1C:
        flags.append("szl_header_zero")
        rec_len = 34
        count = avail // 34
    if rec_len == 0:
        if avail:
            flags.append("szl_trailing_bytes")
        return
    fit = avail // rec_len
    if count > fit:
        flags.append("szl_records_truncated")
        count = fit
    elif count * rec_len < avail and list_no != 0x1C:
        flags.append("szl_trailing_bytes")
    count = min(count, MAX_RECORDS)
    records = [buf[body + i * rec_len : body + (i + 1) * rec_len] for i in range(count)]
    ident: dict[str, Any] = {}
    extract = szl_id >> 8
    if list_no == 0x11 and extract in (0x00, 0x01):
        _module_ident(records, ident, flags)
    elif list_no == 0x1C and extract in (0x00, 0x01):
        _component_ident(records, ident, flags)
    elif szl_id == 0x0131 and index == 1:
        for rec in records:
            if len(rec) >= 14 and _U16.unpack_from(rec)[0] == 1:
                _i, pdu, conns, mpi, kbus = _CP.unpack_from(rec)
                ident["max_pdu_size"] = pdu
                ident["max_connections"] = conns
                ident["mpi_rate"] = mpi
                ident["bus_rate"] = kbus
    elif szl_id == 0x0232 and index == 4:
        for rec in records:
            if len(rec) >= 12 and _U16.unpack_from(rec)[0] == 4:
                _i, schal, par, rel, bart, anl = _PROT.unpack_from(rec)
                ident["protection_level"] = rel
                ident["protection_level_switch"] = schal
                ident["protection_level_parameter"] = par
                ident["mode_selector"] = MODE_SELECTOR.get(bart, "unknown")
                ident["startup_switch"] = anl
    elif szl_id == 0x0424:
        _mode(records, ident, f)
    elif szl_id == 0x0000:
        f["szl_ids"] = [_U16.unpack_from(r)[0] for r in records if len(r) >= 2]
    if ident:
        f["identity"] = ident


def szl_request(buf: bytes, pos: int, end: int, f: dict[str, Any], flags: list[str]) -> None:
    if end - pos < 4:
        if end > pos:
            flags.append("truncated_szl")
        return
    f["szl_id"], f["szl_index"] = _HH.unpack_from(buf, pos)
