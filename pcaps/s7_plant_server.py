"""The S7 PLC for the captures: python-snap7's server with SZL answers shaped like an
S7-300's.

python-snap7 3.3's server answers SZL 0x001C with a zero partial-list header (LENTHDR 0,
N_DR 0), SZL 0x0011 with 26-byte records under a 28-byte layout (tshark marks them
malformed), has no SZL 0x0424 (CPU mode), and its negative userdata answers always say
"read SZL" whatever was asked. `PlantS7Server` replaces the SZL table with partial lists
in the documented layout (header LENTHDR/N_DR, then N_DR records), answers unknown SZL
ids the way a CPU does (return code 0x0A, error 0xD401) and echoes group, subfunction and
sequence in negative answers. Everything else (COTP, setup communication, read/write var,
PLC control, block list/info, upload/download, security) is the library's own.
"""

from __future__ import annotations

import struct
from typing import Any

from snap7.server import CPUState, Server

# Identity the PLC is configured with (SZL 0x001C component identification).
AS_NAME = "WTP_LINE1_S7"
MODULE_NAME = "CPU 315-2 PN/DP"
PLANT_ID = "JS-NJ-WTP-FILTER"
COPYRIGHT = "Original Siemens Equipment"
SERIAL = "S C-H4N703832013"
MODULE_TYPE_NAME = "CPU 315-2 PN/DP"
MMC_SERIAL = "MMC 267FF11F"
# SZL 0x0011 module identification.
ORDER_CODE = "6ES7 315-2EH14-0AB0 "
FIRMWARE = (3, 2, 6)
HARDWARE = 4

_SZL_RESPONSE_ERROR = 0xD401  # "Information function unavailable"
_RECORD_001C = 34
_RECORD_0011 = 28
_MODE_RUN = 0x08
_MODE_STOP = 0x04


def _text(value: str, width: int) -> bytes:
    return value.encode("ascii").ljust(width, b"\x00")[:width]


def _partial_list(record_len: int, records: list[bytes]) -> bytes:
    for record in records:
        if len(record) != record_len:
            raise ValueError(f"SZL record of {len(record)} bytes, expected {record_len}")
    return struct.pack(">HH", record_len, len(records)) + b"".join(records)


def _component_record(index: int, payload: bytes) -> bytes:
    return struct.pack(">H", index) + payload.ljust(_RECORD_001C - 2, b"\x00")


COMPONENT_RECORDS = {
    0x0001: _component_record(0x0001, _text(AS_NAME, 24)),
    0x0002: _component_record(0x0002, _text(MODULE_NAME, 24)),
    0x0003: _component_record(0x0003, _text(PLANT_ID, 32)),
    0x0004: _component_record(0x0004, _text(COPYRIGHT, 26)),
    0x0005: _component_record(0x0005, _text(SERIAL, 24)),
    0x0007: _component_record(0x0007, _text(MODULE_TYPE_NAME, 32)),
    0x0008: _component_record(0x0008, _text(MMC_SERIAL, 32)),
}


def _module_record(index: int, mlfb: str, ausbg: int, ausbe: int) -> bytes:
    # index (2), MlfB order number (20), BGTyp module type id (2), Ausbg (2), Ausbe (2)
    return struct.pack(">H20sHHH", index, mlfb.encode("ascii"), 0x00C0, ausbg, ausbe)


MODULE_RECORDS = {
    0x0001: _module_record(0x0001, ORDER_CODE, HARDWARE, 0x0001),
    0x0006: _module_record(0x0006, ORDER_CODE, HARDWARE, 0x0001),
    # firmware: Ausbg = 'V' and major, Ausbe = minor and patch
    0x0007: _module_record(0x0007, " " * 20, 0x5600 | FIRMWARE[0], (FIRMWARE[1] << 8) | FIRMWARE[2]),
}

SZL_IDS = [0x0000, 0x0011, 0x0111, 0x001C, 0x011C, 0x0131, 0x0232, 0x0424]


class PlantS7Server(Server):
    """snap7 server whose SZL answers follow the S7-300 partial-list layout."""

    def _get_szl_data(self, szl_id: int, szl_index: int) -> bytes | None:
        if szl_id == 0x0000:
            return _partial_list(2, [struct.pack(">H", i) for i in SZL_IDS])
        if szl_id == 0x0011:
            return _partial_list(_RECORD_0011, list(MODULE_RECORDS.values()))
        if szl_id == 0x0111:
            record = MODULE_RECORDS.get(szl_index)
            return None if record is None else _partial_list(_RECORD_0011, [record])
        if szl_id == 0x001C:
            return _partial_list(_RECORD_001C, list(COMPONENT_RECORDS.values()))
        if szl_id == 0x011C:
            record = COMPONENT_RECORDS.get(szl_index)
            return None if record is None else _partial_list(_RECORD_001C, [record])
        if szl_id == 0x0131 and szl_index == 0x0001:
            # index, max PDU 240, 16 connections, MPI 187.5 kbit/s, K-bus 12 Mbit/s, reserved
            record = struct.pack(">HHHII", 0x0001, 240, 16, 187_500, 12_000_000) + bytes(26)
            return _partial_list(40, [record])
        if szl_id == 0x0232 and szl_index == 0x0004:
            # index, sch_schal 1 (key switch), sch_par 1 (no password), sch_rel 1, bart_sch 1 (RUN), anl_sch 0
            record = struct.pack(">HHHHHH", 0x0004, 1, 1, 1, 1, 0) + bytes(28)
            return _partial_list(40, [record])
        if szl_id == 0x0424 and szl_index == 0x0000:
            return _partial_list(20, [self._mode_record()])
        return None

    def _mode_record(self) -> bytes:
        running = self.cpu_state == CPUState.RUN
        # ereig event id, ae, bzu-id (previous mode << 4 | requested mode), res, anlinfo1..4, time (BCD)
        event = 0x4302 if running else 0x4304
        mode = (_MODE_STOP << 4 | _MODE_RUN) if running else (_MODE_RUN << 4 | _MODE_STOP)
        stamp = bytes.fromhex("2501151030000004")  # DATE_AND_TIME 2025-01-15 10:30:00.000, Wednesday; fixed
        return struct.pack(">HBB4s4s8s", event, 0xFF, mode, bytes(4), bytes(4), stamp)

    def _handle_szl(self, request: dict[str, Any], userdata_params: dict[str, Any], client_address: tuple[str, int]) -> bytes:
        raw = request.get("data", {}).get("data", b"")
        szl_id, szl_index = struct.unpack(">HH", raw[:4]) if len(raw) >= 4 else (0, 0)
        if self._get_szl_data(szl_id, szl_index) is None:
            return self._build_userdata_error_response(request, _SZL_RESPONSE_ERROR)
        return super()._handle_szl(request, userdata_params, client_address)

    def _build_userdata_error_response(self, request: dict[str, Any], error_code: int) -> bytes:
        """Negative userdata answer echoing the request's group, subfunction and sequence.

        The library's own answer always says group 4 / subfunction 1 (read SZL) and
        puts the error code's high byte in the data return code.
        """
        ud = self._parse_userdata_parameters(request)
        params = struct.pack(
            ">BBBBBBBBBBH",
            0x00, 0x01, 0x12, 0x08,  # head, length 8 follows
            0x12,  # method: response
            0x80 | ud.get("group", 4),  # type response | function group
            ud.get("subfunction", 1),
            ud.get("sequence", 0),
            0x00, 0x00,  # data unit reference, last data unit
            error_code,
        )
        data = struct.pack(">BBH", 0x0A, 0x00, 0)  # return code: object does not exist
        header = struct.pack(">BBHHHH", 0x32, 0x07, 0, request.get("sequence", 0), len(params), len(data))
        return header + params + data


def identity_manifest() -> dict[str, Any]:
    """What the PLC is configured to report (the client read-back is added beside it)."""
    return {
        "configured": {
            "system_name": AS_NAME,
            "module_name": MODULE_NAME,
            "plant_id": PLANT_ID,
            "copyright": COPYRIGHT,
            "serial_number": SERIAL,
            "module_type_name": MODULE_TYPE_NAME,
            "order_number": ORDER_CODE.strip(),
            "firmware_version": "V{}.{}.{}".format(*FIRMWARE),
            "hardware_version": HARDWARE,
        }
    }
