"""Fingerprints (schema, every entry against an identity and, where one exists, a capture) and the OUI table."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml
from test_assetmap_support import PCAPS, SHARED_PCAPS

from assetmap import AssetMap
from assetmap.fingerprints import Fingerprints, default_fingerprints
from assetmap.oui import OuiTable, default_oui, normalize_mac

# fingerprint id -> (an identity it must match, a near miss it must not)
SAMPLES: dict[str, tuple[dict[str, str], dict[str, str]]] = {
    "siemens-s7-300-order-number": ({"order_number": "6ES7 315-2EH14-0AB0"}, {"order_number": "6ES7 307-1EA01-0AA0"}),
    "siemens-s7-400-order-number": ({"order_number": "6ES7 416-3ES07-0AB0"}, {"order_number": "6ES7 407-0KA02-0AA0"}),
    "siemens-s7-1200-order-number": ({"order_number": "6ES7 214-1AG40-0XB0"}, {"order_number": "6ES7 221-1BF32-0XB0"}),
    "siemens-s7-1500-order-number": ({"order_number": "6ES7 516-3AN02-0AB0"}, {"order_number": "6ES7 521-1BL00-0AB0"}),
    "siemens-s7-300-module-type": ({"module_type_name": "CPU 315-2 PN/DP"}, {"module_type_name": "CPU 1215C DC/DC/DC"}),
    "siemens-s7-1200-module-type": ({"module_type_name": "CPU 1214C DC/DC/DC"}, {"module_type_name": "CPU 1516-3 PN/DP"}),
    "siemens-copyright": ({"copyright": "Original Siemens Equipment"}, {"copyright": "Not Original Siemens Equipment"}),
    "open62541-product-uri": ({"product_uri": "http://open62541.org"}, {"product_uri": "http://example.org/open62541"}),
    "open62541-application-uri": ({"application_uri": "urn:open62541.server.application"},
                                  {"application_uri": "urn:unconfigured:application"}),
    "freeopcua-product-uri": ({"product_uri": "urn:freeopcua.github.io:python:server"}, {"product_uri": "urn:icssa:wtp"}),
    "freeopcua-application-uri": ({"application_uri": "urn:freeopcua:python:server"},
                                  {"application_uri": "urn:example:freeopcua"}),
    "pymodbus-vendor": ({"vendor": "Pymodbus"}, {"vendor": "Schneider Electric"}),
    "pymodbus-product-name": ({"product_name": "Pymodbus Server"}, {"product_name": "Modicon M340"}),
    "schneider-modicon-m340": ({"vendor": "Schneider Electric", "product_code": "BMX P34 2020"},
                               {"vendor": "Acme", "product_code": "BMX P34 2020"}),
    "schneider-modicon-m580": ({"vendor": "Schneider Electric", "product_code": "BME P58 2040"},
                               {"vendor": "Schneider Electric", "product_code": "BMX P34 2020"}),
    "schneider-modicon-m221": ({"vendor": "Telemecanique", "product_code": "TM221CE24R"},
                               {"vendor": "Schneider Electric", "product_code": "TM241CE24R"}),
    "schneider-vendor": ({"vendor": "Schneider Electric"}, {"vendor": "Siemens"}),
    "moxa-mgate": ({"vendor": "Moxa", "product_name": "MGate MB3170"}, {"vendor": "Moxa", "product_name": "NPort 5110"}),
}


def test_every_fingerprint_has_a_sample() -> None:
    assert {fp.id for fp in default_fingerprints().items} == set(SAMPLES)


@pytest.mark.parametrize("fp_id", sorted(SAMPLES))
def test_fingerprint_matches_its_sample_and_not_the_near_miss(fp_id: str) -> None:
    fp = next(f for f in default_fingerprints().items if f.id == fp_id)
    hit, miss = SAMPLES[fp_id]
    assert fp.matches(hit)
    assert not fp.matches(miss)
    assert not fp.matches({})


def test_results_take_each_field_from_the_most_confident_match() -> None:
    out = default_fingerprints().apply({"copyright": "Original Siemens Equipment", "module_type_name": "CPU 315-2 PN/DP",
                                        "order_number": "6ES7 315-2EH14-0AB0"})
    assert out == {"ids": ["siemens-s7-300-order-number", "siemens-copyright", "siemens-s7-300-module-type"],
                   "confidence": 0.95, "vendor": "Siemens", "family": "SIMATIC S7-300", "device_type": "plc"}
    assert default_fingerprints().apply({"vendor": "Nobody"}) is None


def test_fingerprints_extend_without_code(tmp_path: Path) -> None:
    path = tmp_path / "mine.yaml"
    path.write_text(yaml.safe_dump({"fingerprints": [{
        "id": "acme-rtu", "match": {"vendor": "^ACME", "product_code": "^RTU"},
        "result": {"vendor": "ACME Corp.", "family": "ACME RTU", "device_type": "rtu"}, "confidence": 0.7}]}))
    fps = Fingerprints.load([path])
    out = fps.apply({"vendor": "acme gmbh", "product_code": "RTU-9"})
    assert out is not None and (out["family"], out["device_type"]) == ("ACME RTU", "rtu")


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ({"id": "x", "match": {"vendor": "("}, "result": {"vendor": "X"}}, "("),
        ({"id": "x", "match": {"colour": "red"}, "result": {"vendor": "X"}}, "colour"),
        ({"id": "x", "match": {"vendor": "a"}, "result": {"device_type": "toaster"}}, "toaster"),
        ({"id": "x", "match": {}, "result": {"vendor": "X"}}, "match"),
        ({"id": "X Y", "match": {"vendor": "a"}, "result": {"vendor": "X"}}, "X Y"),
        ({"id": "x", "match": {"vendor": "a"}, "result": {}}, "result"),
    ],
)
def test_bad_fingerprints_are_rejected(tmp_path: Path, entry: dict[str, Any], message: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump({"fingerprints": [entry]}))
    with pytest.raises(ValueError) as exc:
        Fingerprints.load([path])
    assert "bad.yaml" in str(exc.value) and message in str(exc.value)


def test_duplicate_fingerprint_ids_are_rejected() -> None:
    entry = {"id": "x", "match": {"vendor": "a"}, "result": {"vendor": "X"}}
    with pytest.raises(ValueError, match="duplicate"):
        Fingerprints.from_data({"fingerprints": [entry, entry]})


# -- against captures: the fingerprint lands on the server that reported it, with its role ----------
# (capture, server address, fingerprint id, role the server has in the capture)
CAPTURE_CASES = [
    (PCAPS / "s7_connect_szl.pcap", "127.0.10.2", "siemens-s7-300-order-number", "plc"),
    (PCAPS / "s7_connect_szl.pcap", "127.0.10.2", "siemens-s7-300-module-type", "plc"),
    (PCAPS / "s7_connect_szl.pcap", "127.0.10.2", "siemens-copyright", "plc"),
    (PCAPS / "modbus_device_id.pcap", "127.0.10.1", "schneider-modicon-m340", "plc"),
    (PCAPS / "modbus_device_id.pcap", "127.0.10.1", "schneider-vendor", "plc"),
    (SHARED_PCAPS / "icsnpp-opcua" / "open62541_client-server_mainloop.pcap", "::1", "open62541-product-uri",
     "opcua_server"),
    (SHARED_PCAPS / "icsnpp-opcua" / "open62541_client-server_mainloop.pcap", "::1", "open62541-application-uri",
     "opcua_server"),
    (SHARED_PCAPS / "icsnpp-opcua" / "python_opcua-client-server_minimal.pcap", "127.0.0.1", "freeopcua-product-uri",
     "opcua_server"),
    (SHARED_PCAPS / "icsnpp-opcua" / "python_opcua-client-server_minimal.pcap", "127.0.0.1",
     "freeopcua-application-uri", "opcua_server"),
]


def _replay_map(pcap: Path) -> tuple[AssetMap, set[str]]:
    pipeline = pytest.importorskip("icssa.pipeline")
    if not pcap.exists():
        pytest.skip(f"{pcap.name} not made yet")
    m = AssetMap()
    datasets: set[str] = set()
    for event in pipeline.replay_events([pcap]):
        datasets.add(event["event"]["dataset"])
        m.observe(event)
    return m, datasets


@pytest.mark.parametrize(("pcap", "server", "fp_id", "role"), CAPTURE_CASES,
                         ids=[f"{c[2]}@{c[0].stem}" for c in CAPTURE_CASES])
def test_fingerprint_on_capture(pcap: Path, server: str, fp_id: str, role: str) -> None:
    m, datasets = _replay_map(pcap)
    wanted = {"plc": {"s7comm", "modbus"}, "opcua_server": {"opcua"}}[role]
    if not datasets & wanted:
        pytest.skip(f"the sensor decodes no {'/'.join(sorted(wanted))} in {pcap.name} yet")
    hits = [a for a in m.assets() if a["fingerprint"] and fp_id in a["fingerprint"]["ids"]]
    assert [a["ip"] for a in hits] == [server]  # on the server only: never on the client
    assert role in hits[0]["roles"]


# -- OUI table ---------------------------------------------------------------------------------
def test_oui_table_covers_the_major_ics_vendors() -> None:
    table = default_oui()
    vendors = {table.lookup(f"{p}:00:00:01")[0] for p in table._rows}  # noqa: SLF001 - test reads the table
    assert {"Siemens", "Schneider Electric", "Rockwell Automation", "ABB", "Phoenix Contact", "Moxa", "WAGO",
            "Beckhoff Automation", "Omron", "Mitsubishi Electric", "Honeywell", "Emerson", "Hirschmann"} <= vendors


@pytest.mark.parametrize(
    ("mac", "vendor"),
    [
        ("00:1B:1B:01:02:03", "Siemens"),  # Siemens AG
        ("00-90-E8-11-22-33", "Moxa"),  # Moxa Technologies Corp.
        ("0030.de11.2233", "WAGO"),  # WAGO Kontakttechnik GmbH
        ("00:00:bc:00:00:01", "Rockwell Automation"),
        ("00:01:05:aa:bb:cc", "Beckhoff Automation"),
        ("02:1b:1b:01:02:03", None),  # locally administered
        ("01:1b:1b:01:02:03", None),  # group address
        ("00:00:00:00:00:00", None),
        ("aa:bb:cc:dd:ee:ff", None),
    ],
)
def test_oui_lookup(mac: str, vendor: str | None) -> None:
    norm = normalize_mac(mac)
    assert norm is not None
    assert default_oui().vendor(norm) == vendor


@pytest.mark.parametrize("text", ["", "00:1b:1b", "00:1b:1b:01:02:03:04", "zz:zz:zz:zz:zz:zz", None, 5])
def test_not_a_mac(text: object) -> None:
    assert normalize_mac(text) is None


WIRESHARK_MANUF = Path("/usr/share/wireshark/manuf")


@pytest.mark.skipif(not WIRESHARK_MANUF.exists() or not shutil.which("tshark"), reason="Wireshark's manuf not installed")
def test_every_oui_row_is_in_the_ieee_registry_as_wireshark_ships_it() -> None:
    registry: dict[str, str] = {}
    for line in WIRESHARK_MANUF.read_text(encoding="utf-8").splitlines():
        parts = line.split("\t")
        if len(parts) >= 3 and len(parts[0]) == 8:
            registry[parts[0].lower()] = parts[2].strip()
    table = OuiTable.load()
    assert len(table) > 100
    for prefix, (_, registrant) in table._rows.items():  # noqa: SLF001
        assert registry.get(prefix) == registrant.replace("'", '"'), prefix
