"""Modbus events against the reference dissector (tshark) and Zeek ICSNPP baselines."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
from refs import PCAPS, SHARED_PCAPS, replay, tshark_fields, zeek_log

MODBUS_CAPTURES = sorted(PCAPS.glob("modbus*.pcap")) + sorted((SHARED_PCAPS / "icsnpp-modbus").glob("*.pcap"))
NONSTANDARD_PORT = 5020


def _ours(events: list[dict]) -> Counter:
    return Counter(
        (e["source"]["ip"], e["destination"]["ip"], e["modbus"]["function_code"], e["modbus"].get("exception_code"))
        for e in events
        if e["event"]["dataset"] == "modbus"
    )


def _tshark(pcap: Path) -> Counter:
    rows = tshark_fields(
        pcap, "modbus", ["ip.src", "ip.dst", "modbus.func_code", "modbus.exception_code"],
        extra=["-d", f"tcp.port=={NONSTANDARD_PORT},mbtcp"],
    )
    out: Counter = Counter()
    for src, dst, fcs, excs in rows:
        codes = [int(x) for x in fcs.split(",") if x]
        exc = [int(x) for x in excs.split(",") if x]
        # one frame may carry several ADUs; exception codes belong to the exception PDUs, which
        # tshark lists in order, so pair them when the counts line up
        for i, fc in enumerate(codes):
            code = exc[i] if len(exc) == len(codes) else (exc[0] if len(exc) == 1 and len(codes) == 1 else None)
            out[(src, dst, fc, code)] += 1
    return out


@pytest.mark.tshark
@pytest.mark.parametrize("pcap", MODBUS_CAPTURES, ids=lambda p: p.name)
def test_function_and_exception_codes_match_tshark(pcap: Path, tmp_path: Path) -> None:
    ours = _ours(replay([pcap], tmp_path / "out"))
    assert ours, "no Modbus events"
    assert ours == _tshark(pcap)


# Zeek's names for the public function codes (MODBUS Application Protocol V1.1b3, section 5.1)
ZEEK_FUNCTIONS = {
    "READ_COILS": 1, "READ_DISCRETE_INPUTS": 2, "READ_HOLDING_REGISTERS": 3, "READ_INPUT_REGISTERS": 4,
    "WRITE_SINGLE_COIL": 5, "WRITE_SINGLE_REGISTER": 6, "READ_EXCEPTION_STATUS": 7, "DIAGNOSTICS": 8,
    "WRITE_MULTIPLE_COILS": 15, "WRITE_MULTIPLE_REGISTERS": 16, "REPORT_SLAVE_ID": 17,
    "READ_FILE_RECORD": 20, "WRITE_FILE_RECORD": 21, "MASK_WRITE_REGISTER": 22,
    "READ_WRITE_MULTIPLE_REGISTERS": 23, "READ_FIFO_QUEUE": 24, "ENCAP_INTERFACE_TRANSPORT": 43,
}
ZEEK_EXCEPTIONS = {"ILLEGAL_FUNCTION": 1, "ILLEGAL_DATA_ADDRESS": 2, "ILLEGAL_DATA_VALUE": 3}
BASELINE = SHARED_PCAPS / "icsnpp-modbus" / "baseline"


def _ints(cell: str) -> list[int] | None:
    return None if cell == "-" else [int(x) for x in cell.split(",")]


@pytest.fixture(scope="module")
def example_events(tmp_path_factory: pytest.TempPathFactory) -> list[dict]:
    out = tmp_path_factory.mktemp("modbus_example") / "out"
    return replay([SHARED_PCAPS / "icsnpp-modbus" / "modbus_example.pcap"], out)


def _pair(events: list[dict], orig: str, tid: int, unit: int, fc: int) -> tuple[dict | None, dict | None]:
    req = resp = None
    for e in events:
        m = e.get("modbus")
        if not m or (m["transaction_id"], m["unit_id"], m["function_code"]) != (tid, unit, fc):
            continue
        if m["is_response"] and e["destination"]["ip"] == orig:
            resp = resp or m
        elif not m["is_response"] and e["source"]["ip"] == orig:
            req = req or m
    return req, resp


@pytest.mark.parametrize("row", zeek_log(BASELINE / "modbus_detailed.log"), ids=lambda r: f"{r['tid']}-{r['func']}")
def test_agrees_with_zeek_modbus_detailed(example_events: list[dict], row: dict[str, str]) -> None:
    fc = ZEEK_FUNCTIONS[row["func"]]
    req, resp = _pair(example_events, row["id.orig_h"], int(row["tid"]), int(row["unit"]), fc)
    assert req is not None or resp is not None
    if row["matched"] == "T":
        assert req is not None and resp is not None and resp["matched"] is True
    if row["address"] != "-":
        assert req is not None and req["address"] == int(row["address"])
    # Zeek logs quantity 0 for functions whose PDU has no quantity field (file records, FIFO)
    if row["quantity"] not in ("-", "0"):
        assert req is not None and req["quantity"] == int(row["quantity"])
    if (values := _ints(row["request_values"])) is not None:
        assert req is not None and req["values"] == values
    if (values := _ints(row["response_values"])) is not None:
        assert resp is not None and resp["values"] == values
    if row["exception_code"] != "-":
        assert resp is not None and resp["exception_code"] == ZEEK_EXCEPTIONS[row["exception_code"]]
    if row["request_subfunction_code"] != "-":
        assert req is not None
        assert req["subfunction_name"].replace("_", " ").lower() == row["request_subfunction_code"].lower()
        assert bytes.fromhex(req["data"]) == row["request_data"].encode().decode("unicode_escape").encode("latin-1")
    if row["mei_type"] != "-":
        assert req is not None and req["mei_type"] == 14


@pytest.mark.parametrize(
    "log, keys",
    [
        ("modbus_mask_write_register.log", ("address", "and_mask", "or_mask")),
        ("modbus_read_write_multiple_registers.log", ("write_start_address", "write_registers", "read_start_address", "read_quantity", "read_registers")),
    ],
)
def test_agrees_with_zeek_detail_logs(example_events: list[dict], log: str, keys: tuple[str, ...]) -> None:
    rows = zeek_log(BASELINE / log)
    assert rows
    ours_by = {"address": "address", "and_mask": "and_mask", "or_mask": "or_mask",
               "write_start_address": "write_address", "write_registers": "values",
               "read_start_address": "read_address", "read_quantity": "read_quantity", "read_registers": "values"}
    for row in rows:
        req, resp = _pair(example_events, row["id.orig_h"], int(row["tid"]), int(row["unit"]), ZEEK_FUNCTIONS[row["func"]])
        m = req if row["request_response"] == "REQUEST" else resp
        assert m is not None
        for key in keys:
            if row[key] == "-":
                continue
            expected = _ints(row[key])
            value = m[ours_by[key]]
            assert (value if isinstance(value, list) else [value]) == expected, key
