"""S7 events from `icssa replay` against tshark (the reference dissector) and Zeek ICSNPP baselines.

tshark 4.0 has no S7comm-plus dissector, so S7comm-plus is checked against ICSNPP's
``s7comm_plus.log`` only.
"""

from __future__ import annotations

import importlib.util
import json
import shutil
import subprocess
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from refs import PCAPS, SHARED_PCAPS, replay, zeek_log

ICSNPP = SHARED_PCAPS / "icsnpp-s7comm"
S7_CAPTURES = sorted(PCAPS.glob("s7*.pcap")) + sorted(ICSNPP.glob("*.pcap"))
BASELINE = ICSNPP / "baseline"

Row = tuple[str, str, int, int | None, int | None, int | None, int | None]


def _walk(node: Any, found: dict[str, str]) -> None:
    """First occurrence of every field inside one tshark JSON protocol tree."""
    if isinstance(node, dict):
        for key, value in node.items():
            if isinstance(value, str):
                found.setdefault(key, value)
            else:
                _walk(value, found)
    elif isinstance(node, list):
        for value in node:
            _walk(value, found)


def _int(value: str | None) -> int | None:
    return None if value is None else int(value, 0)


def _tshark(pcap: Path) -> Counter[Row]:
    """One tuple per S7comm PDU as tshark dissects it (JSON keeps several PDUs of a frame apart)."""
    tshark = shutil.which("tshark")
    assert tshark, "tshark is required (scripts/install-deps.sh installs it)"
    res = subprocess.run(
        [
            tshark,
            "-n",
            "-r",
            str(pcap),
            "-Y",
            "s7comm",
            "-T",
            "json",
            "--no-duplicate-keys",
            "-J",
            "ip s7comm",
        ],
        capture_output=True,
        text=True,
        check=True,
        timeout=300,
    )
    out: Counter[Row] = Counter()
    for frame in json.loads(res.stdout or "[]"):
        layers = frame["_source"]["layers"]
        ip = layers["ip"]
        pdus = layers["s7comm"] if isinstance(layers["s7comm"], list) else [layers["s7comm"]]
        for pdu in pdus:
            f: dict[str, str] = {}
            _walk(pdu, f)
            out[
                (
                    ip["ip.src"],
                    ip["ip.dst"],
                    int(f["s7comm.header.rosctr"]),
                    _int(f.get("s7comm.param.func")),
                    _int(f.get("s7comm.param.userdata.funcgroup")),
                    _int(f.get("s7comm.param.userdata.subfunc")),
                    _int(f.get("s7comm.data.userdata.szl_id")),
                )
            ] += 1
    return out


def _own(s7: dict[str, Any], key: str) -> int | None:
    """A field the PDU itself carries (values copied from the paired request are not on the wire)."""
    return None if key in s7.get("inherited", ()) else s7.get(key)


def _ours(events: list[dict[str, Any]]) -> Counter[Row]:
    out: Counter[Row] = Counter()
    for e in events:
        if e["event"]["dataset"] != "s7comm":
            continue
        s7 = e["s7comm"]
        ud = s7.get("userdata", {})
        out[
            (
                e["source"]["ip"],
                e["destination"]["ip"],
                s7["rosctr"],
                _own(s7, "function_code"),
                ud.get("group"),
                ud.get("subfunction"),
                _own(s7, "szl_id"),
            )
        ] += 1
    return out


@pytest.fixture(scope="module")
def icsnpp_events(tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, Any]]:
    return replay([ICSNPP / "s7comm_plus.pcap"], tmp_path_factory.mktemp("icsnpp") / "out")


@pytest.mark.tshark
@pytest.mark.parametrize("pcap", S7_CAPTURES, ids=lambda p: p.name)
def test_s7comm_pdus_match_tshark(pcap: Path, tmp_path: Path) -> None:
    ours = _ours(replay([pcap], tmp_path / "out"))
    theirs = _tshark(pcap)
    assert theirs, "tshark found no S7comm in the capture"
    assert ours == theirs


def test_s7comm_rows_match_icsnpp_baseline(icsnpp_events: list[dict[str, Any]]) -> None:
    # ICSNPP reads the PDU reference little-endian: 0x0100 on the wire is logged as 1
    zeek = Counter(
        (
            r["source_h"],
            r["destination_h"],
            int(r["rosctr_code"]),
            int(r["pdu_reference"]),
            int(r["function_code"], 16),
        )
        for r in zeek_log(BASELINE / "s7comm.log")
    )
    ours = Counter(
        (
            e["source"]["ip"],
            e["destination"]["ip"],
            e["s7comm"]["rosctr"],
            int.from_bytes(e["s7comm"]["pdu_ref"].to_bytes(2, "big"), "little"),
            e["s7comm"]["function_code"],
        )
        for e in icsnpp_events
        if e["event"]["dataset"] == "s7comm"
    )
    assert len(zeek) > 10
    assert ours == zeek


def test_cotp_connection_management_matches_icsnpp_baseline(icsnpp_events: list[dict[str, Any]]) -> None:
    # ICSNPP logs every DT as well; events exist for connection management only
    zeek = Counter(
        (r["source_h"], r["destination_h"], int(r["pdu_code"], 16))
        for r in zeek_log(BASELINE / "cotp.log")
        if r["pdu_code"] != "0x0f"
    )
    ours = Counter(
        (e["source"]["ip"], e["destination"]["ip"], e["cotp"]["pdu_type"])
        for e in icsnpp_events
        if e["event"]["dataset"] == "cotp"
    )
    assert zeek == Counter(
        {("192.168.0.33", "192.168.0.1", 0x0E): 1, ("192.168.0.1", "192.168.0.33", 0x0D): 1}
    )
    assert ours == zeek


def test_s7comm_plus_rows_match_icsnpp_baseline(icsnpp_events: list[dict[str, Any]]) -> None:
    zeek = Counter(
        (
            r["source_h"],
            r["destination_h"],
            int(r["version"]),
            int(r["opcode"], 16),
            None if r["function_code"] == "-" else int(r["function_code"], 16),
        )
        for r in zeek_log(BASELINE / "s7comm_plus.log")
    )
    ours = Counter(
        (
            e["source"]["ip"],
            e["destination"]["ip"],
            e["s7comm_plus"]["protocol_version"],
            e["s7comm_plus"]["opcode"],
            e["s7comm_plus"].get("function_code"),
        )
        for e in icsnpp_events
        if e["event"]["dataset"] == "s7comm_plus"
    )
    assert sum(zeek.values()) == 121
    assert ours == zeek


def test_s7comm_plus_requests_carry_the_session_and_responses_pair(
    icsnpp_events: list[dict[str, Any]],
) -> None:
    plus = [e["s7comm_plus"] for e in icsnpp_events if e["event"]["dataset"] == "s7comm_plus"]
    requests = [p for p in plus if p["opcode"] == 0x31]
    responses = [p for p in plus if p["opcode"] == 0x32]
    # every request of the capture's session 0x70000e4d (bytes 70 00 0e 4d after the sequence number)
    assert {p["session_id"] for p in requests} == {0x70000E4D}
    assert all(p["matched"] and p["session_id"] == 0x70000E4D for p in responses)
    assert all(p["integrity"] and p["digest_length"] == 32 for p in plus)


def _plant_identity() -> dict[str, Any]:
    """The identity the capture PLC was configured with (pcaps/s7_plant_server.py)."""
    spec = importlib.util.spec_from_file_location("s7_plant_server", PCAPS / "s7_plant_server.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.identity_manifest()["configured"]


SZL_CAPTURES = sorted(PCAPS.glob("s7*szl*.pcap"))


@pytest.mark.parametrize("pcap", SZL_CAPTURES, ids=lambda p: p.name)
def test_identity_from_szl_answers_is_what_the_plc_sent(pcap: Path, tmp_path: Path) -> None:
    seen: dict[str, Any] = {}
    for e in replay([pcap], tmp_path / "out"):
        if e["event"]["dataset"] == "s7comm":
            seen.update(e["s7comm"].get("identity", {}))
    configured = _plant_identity()
    assert {k: str(seen.get(k)) for k in configured} == {k: str(v) for k, v in configured.items()}
