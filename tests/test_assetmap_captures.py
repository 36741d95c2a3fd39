"""The asset map on the project's captures (pcaps/, made from pymodbus, python-snap7, asyncua).

Expected values come from pcaps/manifest.json (what the servers were configured to report and the
role each address played) and, for the graph, from counting the replayed events here with a
classification table written out in this file, independently of assetmap's code.
"""

from __future__ import annotations

import json
from collections import Counter
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml
from test_assetmap_support import PCAPS, manifest

from assetmap import AdvisoryStore, AssetMap, Site

MANIFEST = manifest()
pytestmark = pytest.mark.skipif(MANIFEST is None, reason="pcaps/manifest.json not made yet")
CAPTURES: dict[str, Any] = (MANIFEST or {}).get("captures", {})


@cache
def _events(name: str) -> tuple[dict[str, Any], ...]:
    from icssa.pipeline import replay_events

    events = tuple(replay_events([PCAPS / CAPTURES[name]["file"]]))
    assert events, f"no events from {name}"
    return events


def _map(name: str, site: Site | None = None) -> AssetMap:
    m = AssetMap(site=site)
    for e in _events(name):
        m.observe(e)
    return m


def _assets(name: str) -> dict[str, dict[str, Any]]:
    return {a["ip"]: a for a in _map(name).assets()}


def _names(protocol: str) -> list[str]:
    return sorted(n for n, c in CAPTURES.items() if c["protocol"] == protocol)


# -- identities --------------------------------------------------------------------------------
S7_WITH_IDENTITY = [n for n in _names("s7comm") if "configured" in CAPTURES[n].get("identity", {})
                    and n in ("s7_connect_szl", "s7_szl_enumeration", "s7_cpu_stop_restart")]


@pytest.mark.parametrize("name", S7_WITH_IDENTITY)
def test_s7_identity_is_exactly_what_the_plc_reports(name: str) -> None:
    configured = CAPTURES[name]["identity"]["configured"]
    plc = _assets(name)[CAPTURES[name]["server"]["ip"]]
    got = {k: plc["identity"].get(k) for k in configured}
    assert {k: str(v) for k, v in got.items()} == {k: str(v) for k, v in configured.items()}
    assert plc["firmware"] == configured["firmware_version"]
    assert plc["serial"] == configured["serial_number"] and plc["name"] == configured["system_name"]
    assert plc["vendor"] == "Siemens" and plc["fingerprint"]["family"] == "SIMATIC S7-300"


MODBUS_FIELDS = {"vendor_name": "vendor", "product_code": "product_code", "revision": "revision",
                 "vendor_url": "vendor_url", "product_name": "product_name", "model_name": "model_name",
                 "user_application_name": "user_application_name"}


def test_modbus_identity_is_exactly_what_the_server_reports() -> None:
    cap = CAPTURES["modbus_device_id"]
    plc = _assets("modbus_device_id")[cap["server"]["ip"]]
    assert {ours: plc["identity"].get(ours) for ours in MODBUS_FIELDS.values()} == {
        ours: cap["identity"][theirs] for theirs, ours in MODBUS_FIELDS.items()}
    assert (plc["vendor"], plc["product"], plc["firmware"]) == ("Schneider Electric", "Modicon M340", "v3.10")


@pytest.mark.parametrize("name", [n for n in _names("opcua") if n != "opcua_basic256sha256"])
def test_opcua_server_and_client_identity(name: str) -> None:
    cap = CAPTURES[name]
    assets = _assets(name)
    server = assets[cap["server"]["ip"]]
    keys = ("application_name", "application_uri", "product_uri")
    assert {k: server["identity"].get(k) for k in keys} == {k: cap["identity"][k] for k in keys}
    clients = [ip for ip in cap["hosts"] if ip != cap["server"]["ip"]]
    described = [assets[ip] for ip in clients if "application_uri" in assets[ip]["identity"]]
    for client in described:  # a client that created a session described itself
        assert {k: client["identity"][k] for k in keys} == {k: cap["identity"]["client"][k] for k in keys}


def test_opcua_encrypted_session_still_shows_the_server_from_discovery() -> None:
    cap = CAPTURES["opcua_basic256sha256"]
    server = _assets("opcua_basic256sha256")[cap["server"]["ip"]]
    assert server["identity"]["application_uri"] == cap["identity"]["application_uri"]


# -- roles -------------------------------------------------------------------------------------
# Roles the traffic cannot show, with what it does show instead:
BEHAVIOUR_DIFFERS = {
    # polls one PLC like the HMI: only polling three or more controllers marks a SCADA server
    ("modbus_poll_cycle", "127.0.20.2"): ["hmi"],
    ("opcua_read_write_call", "127.0.20.2"): ["hmi"],
    # logs in and reads two values: nothing an HMI would not do
    ("opcua_username", "127.0.30.1"): ["hmi"],
    # every service after discovery is encrypted
    ("opcua_basic256sha256", "127.0.30.1"): [],
}
# "attacker" is intent, not behaviour: these attackers behave like engineering workstations
ATTACKER_BEHAVIOUR = {
    "s7_cpu_stop_restart": ["engineering_workstation"],
    "s7_program_upload_download": ["engineering_workstation"],
    "s7_set_password": ["engineering_workstation"],
    "s7_szl_enumeration": ["engineering_workstation"],
    "modbus_coil_flood": ["engineering_workstation"],
    "modbus_force_listen_only": ["engineering_workstation"],
}


@pytest.mark.parametrize("name", sorted(CAPTURES))
def test_roles(name: str) -> None:
    cap = CAPTURES[name]
    assets = _assets(name)
    for ip, role in cap["hosts"].items():
        got = assets[ip]["roles"]
        if role == "attacker":
            if name in ATTACKER_BEHAVIOUR:
                assert got == ATTACKER_BEHAVIOUR[name], (ip, got)
            continue
        expected = BEHAVIOUR_DIFFERS.get((name, ip), [role])
        assert got == expected, (ip, role, got)
        if role in ("plc", "opcua_server"):
            assert assets[ip]["services"] == [f"{cap['protocol']}/{cap['server']['port']}"]


# -- evidence points at real events ------------------------------------------------------------
@pytest.mark.parametrize("name", ["s7_connect_szl", "modbus_device_id", "opcua_none_anonymous", "s7_stop_start"])
def test_evidence_ids_point_at_events_that_carry_the_value(name: str) -> None:
    events = {e["event"]["id"]: e for e in _events(name)}
    m = _map(name)
    for asset in m.assets():
        for attr, claims in asset["evidence"].items():
            for claim in claims:
                assert claim["event_ids"], (attr, claim)
                for eid in claim["event_ids"]:
                    assert eid in events, (attr, eid)
                    if attr not in ("roles", "oui_vendor"):
                        ds = events[eid]["event"]["dataset"]
                        assert json.dumps(claim["value"]).strip('"') in json.dumps(events[eid][ds]), (attr, eid)
    for finding in m.findings():
        assert finding["evidence"] and set(finding["evidence"]) <= events.keys()
    for _, _, data in m.graph().edges(data=True):
        assert set(data["event_ids"]) | set(data["change_ids"]) <= events.keys()


# -- the graph, counted independently ------------------------------------------------------------
READS = {"read_coils", "read_discrete_inputs", "read_holding_registers", "read_input_registers", "read_var",
         "read", "publish", "history_read", "read_fifo_queue", "read_file_record", "cyclic_data",
         "get_variable", "get_multiple_variables"}
WRITES = {"write_single_coil", "write_single_register", "write_multiple_coils", "write_multiple_registers",
          "mask_write_register", "read_write_multiple_registers", "write_file_record", "write_var", "write",
          "history_update", "add_nodes", "delete_nodes", "add_references", "delete_references",
          "set_variable", "set_multiple_variables"}
CONTROL = {"plc_stop", "plc_control", "request_download", "download_block", "download_ended", "start_upload",
           "upload", "end_upload", "force", "set_password", "clear_password", "set_clock"}


def _expected_edges(events: tuple[dict[str, Any], ...]) -> dict[tuple[str, str, str], Counter[str]]:
    edges: dict[tuple[str, str, str], Counter[str]] = {}
    for e in events:
        to_server = e["network"]["direction_to_server"]
        client, server = (e["source"]["ip"], e["destination"]["ip"])[:: 1 if to_server else -1]
        dataset, action = e["event"]["dataset"], e["event"]["action"]
        counts = edges.setdefault((client, server, dataset), Counter())
        counts["events"] += 1
        if not to_server:
            continue
        sub = e.get(dataset, {}).get("subfunction")
        if action == "diagnostics" and sub in (1, 4):  # restart communications, force listen only
            counts["control"] += 1
        elif action in READS:
            counts["reads"] += 1
        elif action in WRITES:
            counts["writes"] += 1
        elif action in CONTROL:
            counts["control"] += 1
        else:
            counts["other"] += 1
    return edges


@pytest.mark.parametrize("name", ["modbus_poll_cycle", "modbus_force_listen_only", "modbus_unauthorized_write",
                                  "s7_blocks", "s7_stop_start", "opcua_read_write_call", "opcua_subscription"])
def test_graph_edges_and_counts(name: str) -> None:
    g = _map(name).graph()
    ip = {n: d["ip"] for n, d in g.nodes(data=True)}
    got = {
        (ip[u], ip[v], k): Counter({f: d[f] for f in ("events", "reads", "writes", "control", "other") if d[f]})
        for u, v, k, d in g.edges(keys=True, data=True)
    }
    assert got == _expected_edges(_events(name))


# -- exposure with a site file ------------------------------------------------------------------
def _site(tmp_path: Path, zones: list[dict[str, Any]]) -> Site:
    path = tmp_path / "site.yaml"
    path.write_text(yaml.safe_dump({"zones": zones}))
    return Site.load(path)


def test_site_internet_cidr_exposes_the_controller_with_evidence(tmp_path: Path) -> None:
    name = "modbus_unauthorized_write"
    cap = CAPTURES[name]
    attacker = next(ip for ip, r in cap["hosts"].items() if r == "attacker")
    site = _site(tmp_path, [
        {"name": "internet", "level": 5, "cidrs": [f"{attacker}/32"]},
        {"name": "control", "level": 1, "cidrs": ["127.0.10.0/24"]},
        {"name": "supervisory", "level": 2, "cidrs": ["127.0.20.0/24"]},
    ])
    findings = [f for f in _map(name, site).findings() if f["kind"] == "controller_untrusted_peer"]
    assert [(f["ip"], f["peer"], f["peer_zone"]) for f in findings] == [(cap["server"]["ip"], attacker, "internet")]
    by_id = {e["event"]["id"]: e for e in _events(name)}
    for eid in findings[0]["evidence"]:
        assert attacker in (by_id[eid]["source"]["ip"], by_id[eid]["destination"]["ip"])
    assert not [f for f in _map(name).findings() if f["kind"] == "controller_untrusted_peer"]


# -- advisories on the captured PLC -------------------------------------------------------------
def test_advisories_match_the_captured_s7_plc_by_model_and_firmware(tmp_path: Path) -> None:
    configured = CAPTURES["s7_connect_szl"]["identity"]["configured"]
    plc = _assets("s7_connect_szl")[CAPTURES["s7_connect_szl"]["server"]["ip"]]
    path = tmp_path / "local.yaml"
    path.write_text(yaml.safe_dump({"advisories": [
        {"id": "LOCAL-1", "title": "this model, this firmware",
         "affected": [{"vendor": "SIEMENS AG", "products": [configured["module_type_name"]],
                       "versions": [{"eq": configured["firmware_version"]}]}]},
        {"id": "LOCAL-2", "title": "this model, another firmware",
         "affected": [{"vendor": "Siemens", "products": [configured["module_type_name"]],
                       "versions": [{"eq": "V3.2.7"}]}]},
    ]}))
    assert [m["id"] for m in AdvisoryStore.load([path]).match(plc)] == ["LOCAL-1"]
    bundled = {m["id"]: m for m in AdvisoryStore.bundled().match(plc)}
    assert bundled["SSA-818183"]["status"] == "affected"  # V3.2.6 < V3.2.12


def test_asset_map_attaches_vulnerabilities() -> None:
    m = AssetMap(advisories=AdvisoryStore.bundled())
    for e in _events("s7_connect_szl"):
        m.observe(e)
    plc = next(a for a in m.assets() if a["ip"] == CAPTURES["s7_connect_szl"]["server"]["ip"])
    assert {"SSA-818183", "SSA-731239", "SSA-306710", "SSA-508982"} <= {v["id"] for v in plc["vulnerabilities"]}
    json.loads(json.dumps({"assets": m.assets()}))  # assets.json is plain JSON
