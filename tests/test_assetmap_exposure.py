"""Site files and exposure findings from hand-built events."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from test_assetmap_support import Events

from assetmap import AssetMap, Site

PLC, HMI, EWS = "10.10.1.10", "10.10.2.20", "10.10.2.30"
CORP, JUMP, NET = "172.20.0.5", "10.10.3.5", "100.64.0.9"

SITE = {
    "name": "plant",
    "zones": [
        {"name": "internet", "level": 5, "cidrs": ["100.64.0.0/10"]},
        {"name": "enterprise", "level": 4, "cidrs": ["172.20.0.0/16"]},
        {"name": "dmz", "level": 3.5, "cidrs": ["10.10.3.0/24"]},
        {"name": "supervisory", "level": 2, "cidrs": ["10.10.2.0/24"]},
        {"name": "control", "level": 1, "cidrs": ["10.10.1.0/24"]},
        {"name": "control-plc", "level": 0.5, "cidrs": ["10.10.1.10/32"]},
    ],
}


def _findings(events: Events, site: dict[str, Any] | None) -> list[dict[str, Any]]:
    m = AssetMap(site=Site.from_dict(site) if site else None)
    for e in events.all:
        m.observe(e)
    return m.findings()


def _kinds(findings: list[dict[str, Any]]) -> list[tuple[str, str]]:
    return sorted((f["kind"], f["ip"]) for f in findings)


# -- site file ---------------------------------------------------------------------------------
def test_site_longest_prefix_wins(tmp_path: Path) -> None:
    path = tmp_path / "site.yaml"
    path.write_text(yaml.safe_dump(SITE))
    site = Site.load(path)
    assert site.zone(PLC).name == "control-plc" and site.zone(PLC).level == 0.5
    assert site.zone("10.10.1.11").name == "control"
    assert site.zone(JUMP).level == 3.5
    assert site.zone("192.0.2.1") is None
    assert site.zone("not an ip") is None


def test_site_ipv6_and_mapped_addresses() -> None:
    site = Site.from_dict({"zones": [{"name": "c", "level": 1, "cidrs": ["fd00:10::/64", "10.0.0.0/8"]}]})
    assert site.zone("fd00:10::5").name == "c"
    assert site.zone("::ffff:10.1.2.3").name == "c"
    assert site.zone("fd00:11::5") is None


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({}, "zones"),
        ({"zones": [{"name": "x", "level": 9, "cidrs": ["10.0.0.0/8"]}]}, "9"),
        ({"zones": [{"name": "x", "level": 1, "cidrs": ["10.0.0.0/33"]}]}, "10.0.0.0/33"),
        ({"zones": [{"name": "x", "level": 1, "cidrs": []}]}, "cidrs"),
        ({"zones": [{"name": "x", "level": 1, "cidrs": ["10.0.0.0/8"], "extra": 1}]}, "extra"),
    ],
)
def test_bad_site_files_name_the_problem(tmp_path: Path, data: dict[str, Any], message: str) -> None:
    path = tmp_path / "site.yaml"
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(ValueError) as exc:
        Site.load(path)
    assert "site.yaml" in str(exc.value) and message in str(exc.value)


def test_unreadable_site_file(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="missing.yaml"):
        Site.load(tmp_path / "missing.yaml")


# -- controllers and untrusted zones -------------------------------------------------------------
def test_controller_talking_to_internet_zone_only_with_the_site_file() -> None:
    ev = Events()
    req, rsp = ev.exchange("modbus", "read_holding_registers", NET, PLC)
    with_site = [f for f in _findings(ev, SITE) if f["kind"] == "controller_untrusted_peer"]
    assert len(with_site) == 1
    (finding,) = with_site
    assert finding["ip"] == PLC and finding["peer"] == NET and finding["peer_zone"] == "internet"
    assert finding["direction"] == "inbound" and finding["severity"] == "high"
    assert set(finding["evidence"]) == {req["event"]["id"], rsp["event"]["id"]}
    assert _findings(ev, None) == []  # 100.64/10 is shared address space: not public by itself


def test_controller_connecting_out_to_a_public_address_without_site() -> None:
    ev = Events()
    req, _ = ev.exchange("opcua", "read", PLC, "8.8.8.8", port=4840)  # the PLC is a client here
    ev.exchange("modbus", "read_coils", HMI, PLC, t=1)
    (finding,) = [f for f in _findings(ev, None) if f["kind"] == "controller_untrusted_peer"]
    assert finding["direction"] == "outbound" and finding["peer_zone"] == "internet"
    assert req["event"]["id"] in finding["evidence"]


def test_enterprise_host_writing_to_a_controller() -> None:
    ev = Events()
    ev.exchange("modbus", "read_coils", HMI, PLC, t=0)
    write, _ = ev.exchange("modbus", "write_single_register", CORP, PLC, t=1)
    findings = _findings(ev, SITE)
    assert _kinds(findings) == [("change_from_outside_levels_2_3", PLC), ("controller_untrusted_peer", PLC)]
    change = next(f for f in findings if f["kind"] == "change_from_outside_levels_2_3")
    assert change["evidence"] == [write["event"]["id"]] and change["peer"] == CORP and change["peer_level"] == 4.0
    peer = next(f for f in findings if f["kind"] == "controller_untrusted_peer")
    assert peer["severity"] == "critical"  # the untrusted peer writes


def test_supervisory_and_dmz_hosts() -> None:
    ev = Events()
    ev.exchange("modbus", "write_single_register", HMI, PLC, t=0)  # level 2: allowed
    stop, _ = ev.exchange("s7comm", "plc_stop", JUMP, PLC, port=102, t=1)  # level 3.5: outside 2-3
    findings = _findings(ev, SITE)
    assert _kinds(findings) == [("change_from_outside_levels_2_3", PLC)]
    assert findings[0]["severity"] == "critical" and findings[0]["evidence"] == [stop["event"]["id"]]


def test_writes_from_hosts_of_unknown_level_are_not_judged() -> None:
    ev = Events()
    ev.exchange("modbus", "write_single_register", "10.99.0.1", PLC)
    assert _findings(ev, SITE) == []


def test_path_from_enterprise_through_a_jump_host_to_a_controller() -> None:
    ev = Events()
    hop1, _ = ev.exchange("opcua", "read", CORP, JUMP, port=4840, t=0)  # JUMP serves OPC UA
    hop2, _ = ev.exchange("modbus", "read_coils", JUMP, PLC, t=1)
    findings = _findings(ev, SITE)
    paths = [f for f in findings if f["kind"] == "untrusted_path_to_controller"]
    assert [(f["ip"], f["path"]) for f in paths] == [(PLC, [CORP, JUMP, PLC])]
    assert paths[0]["evidence"] == [hop1["event"]["id"], hop2["event"]["id"]]
    # the jump host itself is a controller (OPC UA server) the enterprise host talks to directly
    assert ("controller_untrusted_peer", JUMP) in _kinds(findings)
    assert not [f for f in _findings(ev, None) if f["kind"] == "untrusted_path_to_controller"]


def test_no_path_against_the_direction_of_connections() -> None:
    ev = Events()
    ev.exchange("opcua", "read", JUMP, CORP, port=4840, t=0)  # the jump host connects out
    ev.exchange("modbus", "read_coils", JUMP, PLC, t=1)
    assert not [f for f in _findings(ev, SITE) if f["kind"] == "untrusted_path_to_controller"]


# -- configuration seen in traffic ---------------------------------------------------------------
def test_opcua_security_none_and_anonymous() -> None:
    ev = Events()
    endpoints = [
        {"endpoint_url": "opc.tcp://plc:4840", "security_mode": "None",
         "security_policy": "http://opcfoundation.org/UA/SecurityPolicy#None", "user_token_types": ["anonymous"]},
        {"endpoint_url": "opc.tcp://plc:4840", "security_mode": "SignAndEncrypt",
         "security_policy": "http://opcfoundation.org/UA/SecurityPolicy#Basic256Sha256",
         "user_token_types": ["username"]},
    ]
    _, get_endpoints = ev.exchange("opcua", "get_endpoints", HMI, PLC, port=4840, response={"endpoints": endpoints})
    activate, _ = ev.exchange("opcua", "activate_session", HMI, PLC, port=4840, t=1,
                              request={"identity_token_type": "anonymous"})
    findings = {f["kind"]: f for f in _findings(ev, None)}
    assert set(findings) == {"opcua_security_none", "opcua_anonymous_access"}
    assert findings["opcua_security_none"]["evidence"] == [get_endpoints["event"]["id"]]
    assert findings["opcua_anonymous_access"]["evidence"] == [get_endpoints["event"]["id"], activate["event"]["id"]]


def test_opcua_secure_endpoints_only_is_no_finding() -> None:
    ev = Events()
    endpoints = [{"security_mode": 3, "user_token_types": [1, 2]}]  # SignAndEncrypt; username, x509
    ev.exchange("opcua", "get_endpoints", HMI, PLC, port=4840, response={"endpoints": endpoints})
    assert _findings(ev, None) == []


@pytest.mark.parametrize(("level", "found"), [(1, True), ("1", True), (2, False), (3, False)])
def test_s7_protection_level(level: Any, found: bool) -> None:
    ev = Events()
    _, rsp = ev.exchange("s7comm", "read_szl", EWS, PLC, port=102,
                         response={"szl_id": 0x0232, "identity": {"protection_level": level}})
    findings = _findings(ev, None)
    assert [(f["kind"], f["evidence"]) for f in findings] == (
        [("s7_no_protection", [rsp["event"]["id"]])] if found else [])


def test_findings_are_listed_on_the_asset_and_ids_are_stable() -> None:
    ev = Events()
    ev.exchange("s7comm", "read_szl", EWS, PLC, port=102, response={"identity": {"protection_level": 1}})
    m1, m2 = AssetMap(), AssetMap()
    for e in ev.all:
        m1.observe(e)
        m2.observe(e)
    (finding,) = m1.findings()
    plc = next(a for a in m1.assets() if a["ip"] == PLC)
    assert plc["exposure"] == [{"id": finding["id"], "kind": "s7_no_protection", "severity": "high"}]
    assert m2.findings()[0]["id"] == finding["id"]


@pytest.mark.parametrize(
    ("ip", "public"),
    [
        ("8.8.8.8", True), ("172.32.0.1", True), ("192.0.0.9", True), ("2001:4860:4860::8888", True),
        ("::ffff:8.8.8.8", True),
        ("10.1.2.3", False), ("172.16.0.1", False), ("172.31.255.255", False), ("192.168.1.1", False),
        ("100.64.0.1", False), ("127.0.0.1", False), ("169.254.1.1", False), ("224.0.0.1", False),
        ("255.255.255.255", False), ("192.0.2.1", False), ("198.51.100.7", False), ("203.0.113.5", False),
        ("198.18.0.1", False), ("0.1.2.3", False), ("192.0.0.1", False),
        ("fd00::1", False), ("::1", False), ("fe80::1", False), ("ff02::1", False), ("::ffff:10.0.0.1", False),
        ("garbage", False), ("", False), ("1.2.3", False),
    ],
)
def test_public_addresses(ip: str, public: bool) -> None:
    from assetmap.site import is_public

    assert is_public(ip) is public
