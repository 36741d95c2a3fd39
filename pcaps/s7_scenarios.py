"""S7comm captures: python-snap7's server (with S7-300-shaped SZL answers) as the PLC on
127.0.10.2:102, python-snap7 clients bound to their role's address."""

from __future__ import annotations

import ctypes
import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import partial
from typing import Any

import snap7.client
from binding import snap7_source
from plant import ATTACKER, ENGINEERING_WS, HMI, S7_PLC, Outcome, Scenario, hosts
from s7_plant_server import PlantS7Server, identity_manifest
from snap7.type import Area, Block, SrvArea

PORT = 102
RACK, SLOT = 0, 2
SESSION_PASSWORD = "plc-pw12"

logging.getLogger("snap7").setLevel(logging.CRITICAL)

# Memory of the PLC: DB1 process values, DB2 setpoints, DB10 recipe, merkers, I/O images.
AREAS: dict[tuple[SrvArea, int], bytes] = {
    (SrvArea.DB, 1): bytes(range(64)),
    (SrvArea.DB, 2): bytes.fromhex("0064" "00c8" "012c" "0190") + bytes(24),
    (SrvArea.DB, 10): b"RECIPE-A" + bytes(range(40)),
    (SrvArea.MK, 0): bytes(i * 3 % 256 for i in range(64)),
    (SrvArea.PE, 0): bytes.fromhex("a55a0ff0") + bytes(12),
    (SrvArea.PA, 0): bytes.fromhex("01020408") + bytes(12),
}
MEMORY = {
    f"{area.name}{index}": {"size": len(data), "first_bytes": data[:8].hex()} for (area, index), data in AREAS.items()
}


@contextmanager
def plc() -> Iterator[PlantS7Server]:
    server = PlantS7Server(log=False)
    buffers = []
    for (area, index), data in AREAS.items():
        buffer = (ctypes.c_char * len(data)).from_buffer_copy(data)
        buffers.append(buffer)
        server.register_area(area, index, buffer)
    server.start_to(S7_PLC, PORT)
    try:
        yield server
    finally:
        server.stop()


@contextmanager
def client(source_ip: str) -> Iterator[snap7.client.Client]:
    conn = snap7.client.Client()
    with snap7_source(source_ip):
        conn.connect(S7_PLC, RACK, SLOT, PORT)
    try:
        yield conn
    finally:
        conn.disconnect()


def _do(out: Outcome, what: str, call: Callable[[], Any], show: Callable[[Any], str] = repr) -> Any:
    try:
        result = call()
    except Exception as exc:  # a refusal (library or server) is recorded, not fatal
        out.failed(what, f"{type(exc).__name__}: {exc}")
        out.step(f"{what} -> {type(exc).__name__}: {exc}")
        return None
    out.worked(what.split("(")[0])
    out.step(f"{what} -> {show(result)}")
    return result


def _szl(out: Outcome, c: snap7.client.Client, who: str, szl_id: int, index: int = 0) -> bytes | None:
    result = _do(out, f"{who} read_szl({szl_id:#06x}, {index:#06x})", lambda: c.read_szl(szl_id, index), lambda r: f"{r.Header.LengthDR} bytes")
    return None if result is None else bytes(result.Data[: result.Header.LengthDR])


def _mode(out: Outcome, c: snap7.client.Client, who: str) -> str | None:
    data = _szl(out, c, who, 0x0424, 0)
    if data is None or len(data) < 8:
        return None
    mode = {0x08: "RUN", 0x04: "STOP"}.get(data[7] & 0x0F, f"mode {data[7] & 0x0F:#x}")
    out.step(f"{who} CPU mode from SZL 0x0424 bzu-id {data[7]:#04x}: {mode}")
    return mode


def _read_identity(out: Outcome, c: snap7.client.Client, who: str) -> None:
    info = _do(out, f"{who} get_cpu_info()", c.get_cpu_info, lambda r: "ok")
    code = _do(out, f"{who} get_order_code()", c.get_order_code, lambda r: "ok")
    back: dict[str, Any] = {}
    if info is not None:
        back.update(
            module_type_name=info.ModuleTypeName.decode("ascii"),
            serial_number=info.SerialNumber.decode("ascii"),
            system_name=info.ASName.decode("ascii"),
            copyright=info.Copyright.decode("ascii"),
            module_name=info.ModuleName.decode("ascii"),
        )
    if code is not None:
        back.update(order_number=code.OrderCode.decode("ascii"), firmware_version=f"V{code.V1}.{code.V2}.{code.V3}")
    out.identity["read_back"] = back


def _runner(body: Callable[[Outcome], None]) -> Callable[[Outcome], None]:
    def run(out: Outcome) -> None:
        out.identity.update(identity_manifest())
        out.server_data["memory"] = MEMORY
        with plc():
            body(out)

    return run


def _connect_szl(out: Outcome) -> None:
    with client(ENGINEERING_WS) as c:
        out.step("ews connect: COTP CR/CC (remote TSAP 0x0102), setup communication")
        _read_identity(out, c, "ews")
        for szl_id, index in ((0x0011, 0), (0x001C, 0), (0x0131, 1), (0x0232, 4)):
            _szl(out, c, "ews", szl_id, index)
        mode = _mode(out, c, "ews")
        out.identity["read_back"]["cpu_mode"] = mode


def _db_read_write(out: Outcome) -> None:
    with client(HMI) as c:
        _do(out, "hmi db_read(1, 0, 16)", lambda: c.db_read(1, 0, 16), lambda r: bytes(r).hex())
        _do(out, "hmi db_read(2, 0, 8)", lambda: c.db_read(2, 0, 8), lambda r: bytes(r).hex())
        _do(out, "hmi db_write(2, 0, 0x00fa)", lambda: c.db_write(2, 0, bytearray(b"\x00\xfa")))
        _do(out, "hmi db_write(1, 32, 'HMI-OK')", lambda: c.db_write(1, 32, bytearray(b"HMI-OK")))
        _do(out, "hmi read_area(MK, 0, 0, 8)", lambda: c.read_area(Area.MK, 0, 0, 8), lambda r: bytes(r).hex())
        _do(out, "hmi read_area(PE, 0, 0, 4)", lambda: c.read_area(Area.PE, 0, 0, 4), lambda r: bytes(r).hex())
        _do(out, "hmi read_area(PA, 0, 0, 4)", lambda: c.read_area(Area.PA, 0, 0, 4), lambda r: bytes(r).hex())
        _do(out, "hmi write_area(PA, 0, 1, 0x10)", lambda: c.write_area(Area.PA, 0, 1, bytearray(b"\x10")))
        _do(out, "hmi write_area(MK, 0, 10, 0x0102)", lambda: c.write_area(Area.MK, 0, 10, bytearray(b"\x01\x02")))
        items = [
            {"area": Area.DB, "db_number": 1, "start": 0, "size": 4},
            {"area": Area.DB, "db_number": 2, "start": 0, "size": 2},
            {"area": Area.MK, "db_number": 0, "start": 10, "size": 2},
            {"area": Area.PE, "db_number": 0, "start": 0, "size": 2},
        ]
        _do(out, "hmi read_multi_vars(DB1.0 x4, DB2.0 x2, MB10 x2, EB0 x2)", lambda: c.read_multi_vars(items), lambda r: str([bytes(b).hex() for b in r[1]]))
        _do(out, "hmi db_read(1, 0, 40)", lambda: c.db_read(1, 0, 40), lambda r: bytes(r).hex())


def _stop_start(out: Outcome) -> None:
    with client(ENGINEERING_WS) as c:
        _mode(out, c, "ews")
        _do(out, "ews plc_stop()", c.plc_stop)
        _mode(out, c, "ews")
        _do(out, "ews plc_hot_start()", c.plc_hot_start)
        _mode(out, c, "ews")
        _do(out, "ews plc_stop()", c.plc_stop)
        _do(out, "ews plc_cold_start()", c.plc_cold_start)
        _mode(out, c, "ews")


def _blocks(out: Outcome, who: str, c: snap7.client.Client) -> bytes | None:
    _do(out, f"{who} list_blocks()", c.list_blocks, str)
    for kind in (Block.OB, Block.FC, Block.FB, Block.DB):
        _do(out, f"{who} list_blocks_of_type({kind.name})", partial(c.list_blocks_of_type, kind, 64))
    _do(out, f"{who} get_block_info(DB, 1)", lambda: c.get_block_info(Block.DB, 1), lambda r: f"MC7 size {r.MC7Size}")
    _do(out, f"{who} get_block_info(OB, 1)", lambda: c.get_block_info(Block.OB, 1), lambda r: f"MC7 size {r.MC7Size}")
    _do(out, f"{who} upload(DB 1)", lambda: c.upload(1), lambda r: f"{len(r)} bytes")
    full = _do(out, f"{who} full_upload(DB, 10)", lambda: c.full_upload(Block.DB, 10), lambda r: f"{r[1]} bytes")
    return None if full is None else bytes(full[0][: full[1]])


def _blocks_ews(out: Outcome) -> None:
    with client(ENGINEERING_WS) as c:
        _blocks(out, "ews", c)
        recipe = b"RECIPE-B" + bytes(range(100, 140))
        _do(out, "ews download(48 bytes, DB 10)", lambda: c.download(bytearray(recipe), 10))
        _do(out, "ews db_read(10, 0, 8)", lambda: c.db_read(10, 0, 8), lambda r: bytes(r).hex())


def _szl_enumeration(out: Outcome) -> None:
    ids = [(0x0000, 0), (0x0011, 0), (0x0111, 1), (0x0111, 6), (0x0111, 7), (0x001C, 0)]
    ids += [(0x011C, i) for i in (1, 2, 3, 4, 5, 7, 8, 9, 10, 11)]
    ids += [(0x0131, i) for i in (1, 2, 3, 4, 6)]
    ids += [(0x0132, 4), (0x0232, 4), (0x0424, 0), (0x0013, 0), (0x0074, 0), (0x0019, 0), (0x00A0, 0), (0x0D91, 0), (0x0F11, 0)]
    with client(ATTACKER) as c:
        for szl_id, index in ids:
            _szl(out, c, "attacker", szl_id, index)
        _read_identity(out, c, "attacker")


def _cpu_stop_restart(out: Outcome) -> None:
    with client(ATTACKER) as c:
        _read_identity(out, c, "attacker")
        _mode(out, c, "attacker")
        _do(out, "attacker plc_stop()", c.plc_stop)
        _mode(out, c, "attacker")
        _do(out, "attacker plc_cold_start()", c.plc_cold_start)
        _mode(out, c, "attacker")
        _do(out, "attacker plc_stop()", c.plc_stop)
        _do(out, "attacker plc_hot_start()", c.plc_hot_start)
        _mode(out, c, "attacker")


def _upload_download(out: Outcome) -> None:
    with client(ATTACKER) as c:
        _blocks(out, "attacker", c)
        tampered = b"EVIL-RCP" + bytes([0xFF] * 40)
        _do(out, "attacker download(48 bytes, DB 10)", lambda: c.download(bytearray(tampered), 10))
        _do(out, "attacker db_read(10, 0, 8)", lambda: c.db_read(10, 0, 8), lambda r: bytes(r).hex())


def _set_password(out: Outcome) -> None:
    out.secrets["s7_session_password"] = SESSION_PASSWORD
    with client(ATTACKER) as c:
        _do(out, f"attacker set_session_password('{SESSION_PASSWORD}')", lambda: c.set_session_password(SESSION_PASSWORD))
        _do(out, "attacker db_write(2, 0, 0x7fff) after unlocking", lambda: c.db_write(2, 0, bytearray(b"\x7f\xff")))
        _do(out, "attacker clear_session_password()", c.clear_session_password)


GET_CPU_STATE_NOTE = (
    "python-snap7 3.3 get_cpu_state() sends a placeholder Job (function 0x04 with no item count, which tshark "
    "marks malformed) and always returns 'S7CpuStatusRun'; the captures read the CPU mode from SZL 0x0424 "
    "instead, as C snap7's Cli_GetPlcStatus does."
)
SERVER_NOTE = "SZL answers come from pcaps/s7_plant_server.py (S7-300 partial-list layout); everything else is python-snap7's server."

SCENARIOS = [
    Scenario("s7_connect_szl", "s7comm", "An engineering workstation connects (COTP CR/CC, setup communication), reads CPU info (SZL 0x001C) and order code (SZL 0x0011), then SZL 0x0011, 0x001C, 0x0131/1, 0x0232/4 and 0x0424 (CPU mode, in place of get_cpu_state()).", S7_PLC, PORT, hosts(S7_PLC, ENGINEERING_WS), [], _runner(_connect_szl), [GET_CPU_STATE_NOTE, SERVER_NOTE]),
    Scenario("s7_db_read_write", "s7comm", "An HMI reads and writes data blocks, merkers, inputs and outputs (read/write var) and reads four variables in one multi-item read var.", S7_PLC, PORT, hosts(S7_PLC, HMI), [], _runner(_db_read_write), [SERVER_NOTE]),
    Scenario("s7_stop_start", "s7comm", "An engineering workstation stops the CPU (PLC stop), hot-starts it, stops it again and cold-starts it (PI service P_PROGRAM), reading the mode (SZL 0x0424) in between.", S7_PLC, PORT, hosts(S7_PLC, ENGINEERING_WS), [], _runner(_stop_start), [GET_CPU_STATE_NOTE, SERVER_NOTE]),
    Scenario("s7_blocks", "s7comm", "An engineering workstation lists blocks (all, per type), reads block info, uploads DB1 and DB10 (start/upload/end upload) and downloads a new DB10 (request download, download block, download ended).", S7_PLC, PORT, hosts(S7_PLC, ENGINEERING_WS), [], _runner(_blocks_ews), [SERVER_NOTE]),
    Scenario("s7_szl_enumeration", "s7comm", "An attacker reads about 30 SZL ids/indexes (supported ones answer data, the others return code 0x0A with error 0xD401), then CPU info and order code.", S7_PLC, PORT, hosts(S7_PLC, ATTACKER), ["T0888", "T0846"], _runner(_szl_enumeration), [SERVER_NOTE]),
    Scenario("s7_cpu_stop_restart", "s7comm", "An attacker reads the identity, stops the CPU, cold-starts it, stops it again and hot-starts it.", S7_PLC, PORT, hosts(S7_PLC, ATTACKER), ["T0858", "T0816", "T0888"], _runner(_cpu_stop_restart), [GET_CPU_STATE_NOTE, SERVER_NOTE]),
    Scenario("s7_program_upload_download", "s7comm", "An attacker lists blocks, uploads DB1 and DB10 and downloads a tampered DB10.", S7_PLC, PORT, hosts(S7_PLC, ATTACKER), ["T0845", "T0843", "T0888"], _runner(_upload_download), [SERVER_NOTE]),
    Scenario("s7_set_password", "s7comm", "An attacker sends a session password (userdata security group, set password), writes a data block, then clears the password.", S7_PLC, PORT, hosts(S7_PLC, ATTACKER), ["T0812", "T0859", "T0855"], _runner(_set_password), ["python-snap7's server accepts any password (its security handler always answers success).", SERVER_NOTE]),
]
