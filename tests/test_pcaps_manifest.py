"""The sample captures in pcaps/ match their manifest, checked with tshark (the reference
dissector), never with the project's own parsers."""

from __future__ import annotations

import functools
import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

PCAPS = Path(__file__).resolve().parents[1] / "pcaps"
MANIFEST = PCAPS / "manifest.json"
TSHARK = shutil.which("tshark")

# Names other packages rely on (the brief fixes them).
REQUIRED = {
    "modbus_poll_cycle", "modbus_writes", "modbus_exception", "modbus_device_id", "modbus_register_scan",
    "modbus_nonstandard_port", "modbus_unit_id_scan", "modbus_function_code_scan", "modbus_unauthorized_write",
    "modbus_force_listen_only", "modbus_coil_flood",
    "s7_connect_szl", "s7_db_read_write", "s7_stop_start", "s7_blocks", "s7_szl_enumeration",
    "s7_cpu_stop_restart", "s7_program_upload_download", "s7_set_password",
    "opcua_none_anonymous", "opcua_username", "opcua_read_write_call", "opcua_subscription",
    "opcua_nonstandard_port", "opcua_basic256sha256", "opcua_anonymous_browse_write",
}  # fmt: skip
ROLES = {"plc", "hmi", "engineering_workstation", "scada_server", "opcua_server", "attacker"}
# tshark dissector that must appear in frame.protocols, and the one to "decode as" on the
# stated port (S7comm rides on TPKT/COTP), per manifest protocol.
DISSECTOR = {"modbus": "mbtcp", "s7comm": "s7comm", "opcua": "opcua"}
DECODE_AS = {"modbus": "mbtcp", "s7comm": "tpkt", "opcua": "opcua"}
TECHNIQUE = re.compile(r"^T0\d{3}$")
SIZE_BUDGET = 2 * 1024 * 1024

pytestmark = pytest.mark.skipif(not MANIFEST.exists(), reason="pcaps/manifest.json not generated")


def _manifest() -> dict[str, Any]:
    return json.loads(MANIFEST.read_text()) if MANIFEST.exists() else {"captures": {}}


CAPTURES: dict[str, dict[str, Any]] = _manifest()["captures"]


@functools.cache
def _frames(name: str) -> list[list[str]]:
    """One row per frame: ip.src, ip.dst, tcp.srcport, tcp.dstport, frame.protocols, _ws.malformed."""
    if TSHARK is None:
        pytest.skip("tshark not installed")
    entry = CAPTURES[name]
    decode_as = DECODE_AS[entry["protocol"]]
    cmd = [TSHARK, "-n", "-r", str(PCAPS / entry["file"]), "-d", f"tcp.port=={entry['port']},{decode_as}", "-T", "fields"]
    for field in ("ip.src", "ip.dst", "tcp.srcport", "tcp.dstport", "frame.protocols", "_ws.malformed"):
        cmd += ["-e", field]
    result = subprocess.run(cmd, capture_output=True, text=True, check=False, timeout=120)
    assert result.returncode == 0, f"tshark cannot read {entry['file']}: {result.stderr.strip()}"
    return [line.split("\t") for line in result.stdout.splitlines() if line]


def _tshark_fields(name: str, display_filter: str, *fields: str) -> list[str]:
    if TSHARK is None:
        pytest.skip("tshark not installed")
    cmd = [TSHARK, "-n", "-r", str(PCAPS / CAPTURES[name]["file"]), "-Y", display_filter, "-T", "fields", "-E", "separator=|"]
    for field in fields:
        cmd += ["-e", field]
    result = subprocess.run(cmd, capture_output=True, text=True, check=True, timeout=120)
    return [line for line in result.stdout.splitlines() if line.strip("|")]


def test_manifest_lists_every_required_capture() -> None:
    assert REQUIRED <= set(CAPTURES), f"missing: {sorted(REQUIRED - set(CAPTURES))}"


def test_pcaps_folder_stays_under_two_megabytes() -> None:
    total = sum(p.stat().st_size for p in PCAPS.glob("*.pcap"))
    assert total < SIZE_BUDGET, f"{total} bytes of captures"


@pytest.mark.parametrize("name", sorted(CAPTURES))
def test_capture_file_exists_and_is_a_pcap(name: str) -> None:
    path = PCAPS / CAPTURES[name]["file"]
    assert path.is_file()
    # classic pcap, little-endian microsecond magic, as tcpdump -w writes it
    assert path.read_bytes()[:4] == bytes.fromhex("d4c3b2a1")
    assert path.stat().st_size == CAPTURES[name]["bytes"]


@pytest.mark.tshark
@pytest.mark.parametrize("name", sorted(CAPTURES))
def test_tshark_reads_every_packet_the_manifest_counts(name: str) -> None:
    assert len(_frames(name)) == CAPTURES[name]["packets"]


@pytest.mark.tshark
@pytest.mark.parametrize("name", sorted(CAPTURES))
def test_every_packet_is_tcp_to_or_from_the_server_port(name: str) -> None:
    entry = CAPTURES[name]
    port, server = str(entry["port"]), entry["server"]["ip"]
    for src, dst, sport, dport, *_ in _frames(name):
        assert port in (sport, dport)
        assert server in (src, dst)


@pytest.mark.tshark
@pytest.mark.parametrize("name", sorted(CAPTURES))
def test_tshark_dissects_the_protocol_on_the_stated_port(name: str) -> None:
    dissector = DISSECTOR[CAPTURES[name]["protocol"]]
    app = [row for row in _frames(name) if dissector in row[4].split(":")]
    assert len(app) >= 4
    assert not [row for row in _frames(name) if row[5]], "tshark marks packets malformed"


@pytest.mark.tshark
@pytest.mark.parametrize("name", sorted(CAPTURES))
def test_hosts_are_exactly_the_addresses_in_the_capture(name: str) -> None:
    entry = CAPTURES[name]
    seen = {ip for row in _frames(name) for ip in row[:2]}
    assert seen == set(entry["hosts"])
    assert entry["hosts"][entry["server"]["ip"]] in {"plc", "opcua_server"}


@pytest.mark.parametrize("name", sorted(CAPTURES))
def test_hosts_have_known_roles_and_techniques_match_an_attacker(name: str) -> None:
    entry = CAPTURES[name]
    assert entry["hosts"] and set(entry["hosts"].values()) <= ROLES
    techniques = entry["techniques"]
    assert isinstance(techniques, list)
    assert all(TECHNIQUE.match(t) for t in techniques)
    if "attacker" in entry["hosts"].values():
        assert techniques, "an attack capture names its techniques"
    else:
        assert techniques == [], "a benign capture lists no techniques"


@pytest.mark.tshark
def test_modbus_device_id_objects_on_the_wire_match_the_configured_identity() -> None:
    identity = CAPTURES["modbus_device_id"]["identity"]
    rows = _tshark_fields("modbus_device_id", "modbus.func_code == 43 && modbus.mei", "modbus.object_str_value")
    strings = {s for row in rows for s in row.split(",")}
    expected = {identity[k] for k in ("vendor_name", "product_code", "revision", "vendor_url", "product_name", "model_name")}
    assert expected <= strings


@pytest.mark.tshark
def test_s7_identity_in_szl_answers_matches_the_client_read_back() -> None:
    back = CAPTURES["s7_connect_szl"]["identity"]["read_back"]
    rows = _tshark_fields(
        "s7_connect_szl", "s7comm.szl.001c.0001.name", "s7comm.szl.001c.0001.name", "s7comm.szl.001c.0005.serialn", "s7comm.szl.001c.0007.cputypname"
    )
    assert rows and all(row.split("|") == [back["system_name"], back["serial_number"], back["module_type_name"]] for row in rows)
    orders = _tshark_fields("s7_connect_szl", "s7comm.szl.xy11.0001.anz", "s7comm.szl.xy11.0001.anz")
    assert orders and all(back["order_number"] in row for row in orders)


@pytest.mark.tshark
def test_opcua_endpoints_on_the_wire_carry_the_configured_uris() -> None:
    identity = CAPTURES["opcua_none_anonymous"]["identity"]
    # 431: GetEndpointsResponse, 464: CreateSessionResponse (the request carries the client's URIs)
    for service in (431, 464):
        rows = _tshark_fields("opcua_none_anonymous", f"opcua.servicenodeid.numeric == {service}", "opcua.ApplicationUri", "opcua.ProductUri")
        assert rows
        for row in rows:
            app_uris, product_uris = row.split("|")
            assert identity["application_uri"] in app_uris.split(",")
            assert identity["product_uri"] in product_uris.split(",")
