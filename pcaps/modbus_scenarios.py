"""Modbus/TCP captures: a pymodbus server as the PLC, pymodbus clients as HMI, SCADA,
engineering workstation and attacker (each bound to its own address with
``source_address``)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from contextlib import asynccontextmanager
from typing import Any

from plant import ATTACKER, ENGINEERING_WS, HMI, MODBUS_PLC, SCADA, Outcome, Scenario, hosts
from pymodbus.client import AsyncModbusTcpClient
from pymodbus.constants import ExcCodes
from pymodbus.pdu import DecodePDU, ExceptionResponse, ModbusPDU
from pymodbus.pdu.device import ModbusDeviceIdentification
from pymodbus.server import ModbusTcpServer
from pymodbus.simulator import DataType, SimData, SimDevice

PORT = 502
ALT_PORT = 5020
UNIT = 1

# Device identification objects (FC 43/14) exactly as the server is configured.
IDENTITY = {
    "VendorName": "Schneider Electric",
    "ProductCode": "BMX P34 2020",
    "MajorMinorRevision": "v3.10",
    "VendorUrl": "http://www.se.com",
    "ProductName": "Modicon M340",
    "ModelName": "BMX P34 2020",
    "UserApplicationName": "WTP_FILTER_LINE1",
}
MANIFEST_IDENTITY = {
    "source": "server configuration (pymodbus ModbusDeviceIdentification)",
    "unit_id": UNIT,
    "vendor_name": IDENTITY["VendorName"],
    "product_code": IDENTITY["ProductCode"],
    "revision": IDENTITY["MajorMinorRevision"],
    "vendor_url": IDENTITY["VendorUrl"],
    "product_name": IDENTITY["ProductName"],
    "model_name": IDENTITY["ModelName"],
    "user_application_name": IDENTITY["UserApplicationName"],
}

# Process image of the PLC (addresses 0..N-1, fixed start values).
COILS = [i % 3 == 0 for i in range(64)]
DISCRETE_INPUTS = [i % 2 == 1 for i in range(64)]
HOLDING = [1000 + 10 * i for i in range(100)]
INPUT = [200 + i for i in range(100)]
DATASTORE = {
    "coils": {"start": 0, "count": len(COILS), "values": "coil n = (n % 3 == 0)"},
    "discrete_inputs": {"start": 0, "count": len(DISCRETE_INPUTS), "values": "input n = (n % 2 == 1)"},
    "holding_registers": {"start": 0, "count": len(HOLDING), "values": "register n = 1000 + 10 * n"},
    "input_registers": {"start": 0, "count": len(INPUT), "values": "register n = 200 + n"},
}

logging.getLogger("pymodbus").setLevel(logging.CRITICAL)


async def _gateway_no_response(*_args: Any) -> ExcCodes:
    return ExcCodes.GATEWAY_NO_RESPONSE


def _devices() -> list[SimDevice]:
    identity = ModbusDeviceIdentification(info_name=IDENTITY)
    plc = SimDevice(
        id=UNIT,
        simdata=(
            [SimData(0, values=list(COILS), datatype=DataType.BITS)],
            [SimData(0, values=list(DISCRETE_INPUTS), datatype=DataType.BITS)],
            [SimData(0, values=list(HOLDING), datatype=DataType.REGISTERS)],
            [SimData(0, values=list(INPUT), datatype=DataType.REGISTERS)],
        ),
        identity=identity,
    )
    # Unit id 0 stands for "every other unit id": like a gateway with nothing behind
    # it, each data access there answers exception 0x0B.
    others = SimDevice(
        id=0,
        simdata=(
            [SimData(0, values=[False] * 16, datatype=DataType.BITS)],
            [SimData(0, values=[False] * 16, datatype=DataType.BITS)],
            [SimData(0, values=[0] * 16, datatype=DataType.REGISTERS)],
            [SimData(0, values=[0] * 16, datatype=DataType.REGISTERS)],
        ),
        action=_gateway_no_response,
    )
    return [plc, others]


class UnsupportedFunction(ModbusPDU):
    """Server side: a function code the PLC does not implement answers exception 01.

    pymodbus 3.16 cannot decode an unknown function code and answers ``80 01``
    (function code lost); a PLC answers the request's own code with the exception bit.
    """

    def decode(self, data: bytes) -> None:
        self.payload = data

    async def datastore_update(self, context: Any, device_id: int) -> ModbusPDU:
        return ExceptionResponse(self.function_code, ExcCodes.ILLEGAL_FUNCTION)


UNSUPPORTED = [
    type(f"Unsupported{fc:02X}", (UnsupportedFunction,), {"function_code": fc})
    for fc in range(1, 128)
    if fc not in DecodePDU.pdu_table
]


@asynccontextmanager
async def plc(port: int = PORT) -> AsyncIterator[ModbusTcpServer]:
    server = ModbusTcpServer(
        _devices(),
        address=(MODBUS_PLC, port),
        identity=ModbusDeviceIdentification(info_name=IDENTITY),
        custom_pdu=UNSUPPORTED,
    )
    await server.serve_forever(background=True)
    try:
        yield server
    finally:
        await server.shutdown()


@asynccontextmanager
async def client(source_ip: str, port: int = PORT) -> AsyncIterator[AsyncModbusTcpClient]:
    conn = AsyncModbusTcpClient(
        MODBUS_PLC, port=port, source_address=(source_ip, 0), timeout=2, retries=0, reconnect_delay=0
    )
    if not await conn.connect():
        raise ConnectionError(f"pymodbus client {source_ip} could not connect to {MODBUS_PLC}:{port}")
    try:
        yield conn
    finally:
        conn.close()


def _describe(response: ModbusPDU | None) -> str:
    if response is None:
        return "sent, the client expects no response"
    if isinstance(response, ExceptionResponse) or response.isError():
        return f"exception fc={response.function_code & 0x7F} code={response.exception_code}"
    if response.registers:
        return f"registers={list(response.registers)}"
    if response.bits:
        return f"bits={[int(b) for b in response.bits]}"
    return "ok"


async def _do(out: Outcome, what: str, call: Awaitable[ModbusPDU | None]) -> ModbusPDU | None:
    try:
        response = await call
    except Exception as exc:  # a refusal (library or server) is recorded, not fatal
        out.failed(what, f"{type(exc).__name__}: {exc}")
        out.step(f"{what} -> {type(exc).__name__}")
        return None
    out.step(f"{what} -> {_describe(response)}")
    out.worked(what.split("(")[0])
    return response


async def _poll(out: Outcome, who: str, c: AsyncModbusTcpClient, wide: bool = False) -> None:
    n = 20 if wide else 10
    await _do(out, f"{who} read_holding_registers(0, {n})", c.read_holding_registers(0, count=n, device_id=UNIT))
    await _do(out, f"{who} read_input_registers(0, {n})", c.read_input_registers(0, count=n, device_id=UNIT))
    await _do(out, f"{who} read_coils(0, 16)", c.read_coils(0, count=16, device_id=UNIT))
    await _do(out, f"{who} read_discrete_inputs(0, 16)", c.read_discrete_inputs(0, count=16, device_id=UNIT))


def _runner(body: Callable[[Outcome], Coroutine[Any, Any, None]]) -> Callable[[Outcome], None]:
    def run(out: Outcome) -> None:
        out.identity.update(MANIFEST_IDENTITY)
        out.server_data["datastore"] = DATASTORE
        asyncio.run(body(out))

    return run


async def _poll_cycle(out: Outcome) -> None:
    async with plc(), client(HMI) as hmi, client(SCADA) as scada:
        for cycle in range(4):
            out.step(f"cycle {cycle + 1}")
            await _poll(out, "hmi", hmi)
            await _poll(out, "scada", scada, wide=True)


async def _writes(out: Outcome) -> None:
    async with plc(), client(HMI) as hmi:
        await _do(out, "hmi write_coil(2, True)", hmi.write_coil(2, True, device_id=UNIT))
        await _do(out, "hmi write_register(10, 1500)", hmi.write_register(10, 1500, device_id=UNIT))
        coils = [True, False, True, True, False, False, True, False, True, True]
        await _do(out, f"hmi write_coils(16, {[int(b) for b in coils]})", hmi.write_coils(16, coils, device_id=UNIT))
        await _do(out, "hmi write_registers(20, [100, 200, 300, 400])", hmi.write_registers(20, [100, 200, 300, 400], device_id=UNIT))
        await _do(
            out,
            "hmi mask_write_register(30, and_mask=0x00F2, or_mask=0x0025)",
            hmi.mask_write_register(address=30, and_mask=0x00F2, or_mask=0x0025, device_id=UNIT),
        )
        await _do(
            out,
            "hmi readwrite_registers(read 0 x4, write 40 <- [11, 22, 33])",
            hmi.readwrite_registers(read_address=0, read_count=4, write_address=40, values=[11, 22, 33], device_id=UNIT),
        )
        await _do(out, "hmi read_holding_registers(10, 32)", hmi.read_holding_registers(10, count=32, device_id=UNIT))
        await _do(out, "hmi read_coils(0, 32)", hmi.read_coils(0, count=32, device_id=UNIT))


class ProbePDU(ModbusPDU):
    """A request with any function code and a raw payload (for scans and bad requests)."""

    def __init__(self, function_code: int, payload: bytes, dev_id: int = UNIT) -> None:
        super().__init__(dev_id=dev_id)
        self.function_code = function_code
        self.payload = payload

    def encode(self) -> bytes:
        return self.payload


async def _exceptions(out: Outcome) -> None:
    async with plc(), client(HMI) as hmi:
        await _do(out, "hmi read_holding_registers(500, 10) beyond the datastore", hmi.read_holding_registers(500, count=10, device_id=UNIT))
        await _do(out, "hmi read_coils(1000, 8) beyond the datastore", hmi.read_coils(1000, count=8, device_id=UNIT))
        await _do(out, "hmi write_register(200, 7) beyond the datastore", hmi.write_register(200, 7, device_id=UNIT))
        await _do(out, "hmi read_input_registers(95, 10) crossing the end", hmi.read_input_registers(95, count=10, device_id=UNIT))
        await _do(out, "hmi raw fc=0x41 (user-defined, unsupported)", hmi.execute(False, ProbePDU(0x41, b"\x00\x00\x00\x01")))
        await _do(out, "hmi raw fc=0x09 (unassigned)", hmi.execute(False, ProbePDU(0x09, b"\x00\x00\x00\x01")))
        await _do(out, "hmi read_holding_registers(0, 1) unit 7 (absent)", hmi.read_holding_registers(0, count=1, device_id=7))


async def _device_id(out: Outcome) -> None:
    async with plc(), client(ENGINEERING_WS) as ews:
        for code, name in ((1, "basic"), (2, "regular"), (3, "extended")):
            response = await _do(out, f"ews read_device_information({name}, read_code={code})", ews.read_device_information(read_code=code, object_id=0, device_id=UNIT))
            if response is not None and hasattr(response, "information"):
                out.identity[f"read_back_{name}"] = {int(k): v.decode("latin-1") for k, v in response.information.items()}
        await _do(out, "ews read_device_information(specific object 0x04)", ews.read_device_information(read_code=4, object_id=4, device_id=UNIT))
        response = await _do(out, "ews report_device_id (FC 17)", ews.report_device_id(device_id=UNIT))
        if response is not None and hasattr(response, "identifier"):
            out.identity["report_server_id"] = response.identifier.decode("latin-1")
            out.identity["report_server_id_status"] = response.status


async def _register_scan(out: Outcome) -> None:
    async with plc(), client(ATTACKER) as atk:
        for address in range(0, 400, 10):
            await _do(out, f"attacker read_holding_registers({address}, 10)", atk.read_holding_registers(address, count=10, device_id=UNIT))
        for address in range(0, 200, 10):
            await _do(out, f"attacker read_input_registers({address}, 10)", atk.read_input_registers(address, count=10, device_id=UNIT))
        for address in range(0, 160, 16):
            await _do(out, f"attacker read_coils({address}, 16)", atk.read_coils(address, count=16, device_id=UNIT))


async def _nonstandard_port(out: Outcome) -> None:
    async with plc(ALT_PORT), client(HMI, ALT_PORT) as hmi:
        for cycle in range(3):
            out.step(f"cycle {cycle + 1}")
            await _poll(out, "hmi", hmi)


async def _unit_id_scan(out: Outcome) -> None:
    async with plc(), client(ATTACKER) as atk:
        for unit in range(1, 248):
            await _do(out, f"attacker read_holding_registers(0, 1) unit {unit}", atk.read_holding_registers(0, count=1, device_id=unit))


# Well-formed request bodies for the codes a scanner knows (writes touch coil 63 and
# register 99 only, with 0); every other code gets 00 00 00 01.
FC_SCAN_PAYLOADS = {
    5: bytes.fromhex("003f0000"),
    6: bytes.fromhex("00630000"),
    7: b"",
    11: b"",
    12: b"",
    15: bytes.fromhex("003f00010100"),
    16: bytes.fromhex("0063000102" "0000"),
    17: b"",
    20: bytes.fromhex("07" "06" "0001" "0000" "0002"),
    21: bytes.fromhex("09" "06" "0001" "0000" "0001" "0000"),
    22: bytes.fromhex("0063" "ffff" "0000"),
    23: bytes.fromhex("0000" "0001" "0063" "0001" "02" "0000"),
    24: bytes.fromhex("0000"),
    43: bytes.fromhex("0e" "01" "00"),
}


async def _function_code_scan(out: Outcome) -> None:
    async with plc(), client(ATTACKER) as atk:
        for fc in range(1, 128):
            payload = FC_SCAN_PAYLOADS.get(fc, b"\x00\x00\x00\x01")
            await _do(out, f"attacker raw fc={fc:#04x} payload {payload.hex() or '-'}", atk.execute(False, ProbePDU(fc, payload)))


async def _unauthorized_write(out: Outcome) -> None:
    async with plc(), client(HMI) as hmi:
        await _poll(out, "hmi", hmi)
        async with client(ATTACKER) as atk:
            await _do(out, "attacker write_register(1, 9999) setpoint", atk.write_register(1, 9999, device_id=UNIT))
            await _do(out, "attacker write_registers(4, [0, 0, 0])", atk.write_registers(4, [0, 0, 0], device_id=UNIT))
            await _do(out, "attacker write_coil(0, False) pump off", atk.write_coil(0, False, device_id=UNIT))
            await _do(out, "attacker write_coils(8, [1,1,1,1,1,1,1,1])", atk.write_coils(8, [True] * 8, device_id=UNIT))
        await _poll(out, "hmi", hmi)


async def _force_listen_only(out: Outcome) -> None:
    async with plc(), client(HMI) as hmi:
        await _poll(out, "hmi", hmi)
        async with client(ATTACKER) as atk:
            await _do(out, "attacker diag_force_listen_only (FC 8 sub 4)", atk.diag_force_listen_only(device_id=UNIT))
            await _poll(out, "hmi", hmi)
            await _do(out, "attacker diag_restart_communication (FC 8 sub 1, keep log)", atk.diag_restart_communication(False, device_id=UNIT))
        await _poll(out, "hmi", hmi)


async def _coil_flood(out: Outcome) -> None:
    async with plc(), client(ATTACKER) as atk:
        for i in range(120):
            await _do(out, f"attacker write_coil({i % 4}, {bool(i // 4 % 2)})", atk.write_coil(i % 4, bool(i // 4 % 2), device_id=UNIT))
        for i in range(20):
            await _do(out, "attacker write_coils(0, toggled x8)", atk.write_coils(0, [bool((i + k) % 2) for k in range(8)], device_id=UNIT))


PLC_HMI = hosts(MODBUS_PLC, HMI)
UNSUPPORTED_NOTE = (
    "The PLC registers a custom PDU for each function code pymodbus does not implement so that it answers "
    "exception 01 with the request's function code; pymodbus 3.16 alone answers 80 01 (function code lost) "
    "and its own client then drops the connection."
)

SCENARIOS = [
    Scenario("modbus_poll_cycle", "modbus", "An HMI and a SCADA server poll the same PLC: holding and input registers, coils and discrete inputs, four cycles each over two long-lived connections.", MODBUS_PLC, PORT, hosts(MODBUS_PLC, HMI, SCADA), [], _runner(_poll_cycle)),
    Scenario("modbus_writes", "modbus", "An HMI writes: single coil, single register, multiple coils, multiple registers, mask write (FC 22), read/write multiple registers (FC 23), then reads back.", MODBUS_PLC, PORT, PLC_HMI, [], _runner(_writes)),
    Scenario("modbus_exception", "modbus", "Requests that draw exception responses: illegal data address (02) for FC 1/3/4/6 past the datastore, illegal function (01) for function codes 0x41 and 0x09, and gateway target failed to respond (0B) for an absent unit id.", MODBUS_PLC, PORT, PLC_HMI, [], _runner(_exceptions), [UNSUPPORTED_NOTE]),
    Scenario("modbus_device_id", "modbus", "An engineering workstation reads device identification (FC 43/14 basic, regular, extended, one specific object) and the server id (FC 17).", MODBUS_PLC, PORT, hosts(MODBUS_PLC, ENGINEERING_WS), [], _runner(_device_id)),
    Scenario("modbus_register_scan", "modbus", "A new host sweeps holding registers 0..399, input registers 0..199 and coils 0..159 in blocks; addresses past the datastore answer exception 02.", MODBUS_PLC, PORT, hosts(MODBUS_PLC, ATTACKER), ["T0846", "T0861", "T0801"], _runner(_register_scan)),
    Scenario("modbus_nonstandard_port", "modbus", "Normal HMI polling (three cycles) to a Modbus server listening on port 5020 instead of 502.", MODBUS_PLC, ALT_PORT, PLC_HMI, [], _runner(_nonstandard_port)),
    Scenario("modbus_unit_id_scan", "modbus", "An attacker reads holding register 0 on every unit id 1..247; unit 1 answers, every other unit answers exception 0B (gateway target failed to respond).", MODBUS_PLC, PORT, hosts(MODBUS_PLC, ATTACKER), ["T0846", "T0888"], _runner(_unit_id_scan)),
    Scenario("modbus_function_code_scan", "modbus", "An attacker sends every function code 1..127, one request each: well-formed bodies for the codes pymodbus implements (writes only set coil 63 / register 99 to 0), 00 00 00 01 for the rest; implemented codes answer normally, the rest with exception 01.", MODBUS_PLC, PORT, hosts(MODBUS_PLC, ATTACKER), ["T0888", "T0846"], _runner(_function_code_scan), [UNSUPPORTED_NOTE]),
    Scenario("modbus_unauthorized_write", "modbus", "The HMI polls; a new host (attacker) writes a setpoint register, several registers and coils; the HMI polls again and reads the changed values.", MODBUS_PLC, PORT, hosts(MODBUS_PLC, HMI, ATTACKER), ["T0855", "T0836", "T0831"], _runner(_unauthorized_write)),
    Scenario("modbus_force_listen_only", "modbus", "The HMI polls; the attacker sends diagnostics FC 8 sub-function 4 (force listen only mode), the HMI polls, the attacker sends sub-function 1 (restart communications), the HMI polls.", MODBUS_PLC, PORT, hosts(MODBUS_PLC, HMI, ATTACKER), ["T0814", "T0816", "T0855"], _runner(_force_listen_only), ["pymodbus 3.16 answers FC 8/4 (the standard says a device in listen-only mode sends no response) and keeps answering other requests afterwards."]),
    Scenario("modbus_coil_flood", "modbus", "An attacker rapidly toggles coils 0..3 (120 single-coil writes) and then writes 8 coils 20 times with alternating patterns: brute-force I/O.", MODBUS_PLC, PORT, hosts(MODBUS_PLC, ATTACKER), ["T0806", "T0855", "T0831"], _runner(_coil_flood)),
]
