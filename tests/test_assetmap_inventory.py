"""Inventory from hand-built events: keying, identity evidence, roles, services, bounds."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_assetmap_support import Events, flatten

from assetmap import AssetMap, Site

PLC, HMI, EWS = "10.10.1.10", "10.10.2.20", "10.10.2.30"
SIEMENS_MAC = "00:1b:1b:12:34:56"  # OUI 00:1B:1B is registered to Siemens AG


def _by_ip(m: AssetMap) -> dict[str, dict[str, Any]]:
    return {a["ip"]: a for a in m.assets()}


def _feed(m: AssetMap, events: Events) -> AssetMap:
    for e in events.all:
        m.observe(e)
    return m


# -- identity ----------------------------------------------------------------------------------
MODBUS_ID = {  # FC 43/14 objects as the sensor names them
    "function_code": 43, "mei_type": 14,
    "device_id": {"vendor_name": "Schneider Electric", "product_code": "BMX P34 2020", "revision": "v3.10",
                  "product_name": "Modicon M340", "user_application_name": "LINE1"},
}


def test_modbus_device_id_goes_to_the_server_that_answered() -> None:
    ev = Events()
    req, rsp = ev.exchange("modbus", "read_device_identification", HMI, PLC,
                           request={"function_code": 43, "mei_type": 14}, response=MODBUS_ID)
    assets = _by_ip(_feed(AssetMap(), ev))
    plc, hmi = assets[PLC], assets[HMI]
    assert plc["identity"]["vendor"] == "Schneider Electric"
    assert plc["identity"]["product_code"] == "BMX P34 2020"
    assert plc["identity"]["revision"] == "v3.10"
    assert plc["firmware"] == "v3.10" and plc["product"] == "Modicon M340" and plc["name"] == "LINE1"
    assert plc["evidence"]["vendor"] == [{"value": "Schneider Electric", "confidence": 0.9, "count": 1,
                                          "first_seen": rsp["@timestamp"], "last_seen": rsp["@timestamp"],
                                          "event_ids": [rsp["event"]["id"]]}]
    assert plc["fingerprint"]["family"] == "Modicon M340"
    assert "vendor" not in hmi["identity"]


def test_device_id_in_a_request_is_not_identity() -> None:
    ev = Events()
    ev.make("modbus", "read_device_identification", HMI, PLC, to_server=True, fields=MODBUS_ID)
    assert _by_ip(_feed(AssetMap(), ev))[PLC]["identity"] == {}


def test_conflicting_values_are_kept_with_their_events() -> None:
    ev = Events()
    _, first = ev.exchange("modbus", "read_device_identification", HMI, PLC, t=1,
                           response={"device_id": {"revision": "v3.10"}})
    _, second = ev.exchange("modbus", "read_device_identification", HMI, PLC, t=2,
                            response={"device_id": {"revision": "v3.20"}})
    _, third = ev.exchange("modbus", "read_device_identification", HMI, PLC, t=3,
                           response={"device_id": {"revision": "v3.20"}})
    plc = _by_ip(_feed(AssetMap(), ev))[PLC]
    values = {c["value"]: c for c in plc["evidence"]["revision"]}
    assert values["v3.10"]["event_ids"] == [first["event"]["id"]]
    assert values["v3.20"]["event_ids"] == [second["event"]["id"], third["event"]["id"]]
    assert plc["firmware"] == "v3.20"  # same confidence: more observations win


S7_IDENTITY = {
    "szl_id": 0x001C,
    "identity": {"system_name": "LINE1_S7", "module_name": "CPU 315-2 PN/DP", "serial_number": "S C-X1",
                 "order_number": "6ES7 315-2EH14-0AB0", "firmware_version": "V3.2.6", "plant_id": "P1\x00\x00",
                 "copyright": "Original Siemens Equipment", "module_type_name": "CPU 315-2 PN/DP"},
}


def test_s7_szl_identity_and_fingerprint() -> None:
    ev = Events()
    ev.exchange("s7comm", "read_szl", EWS, PLC, port=102, request={"szl_id": 0x001C}, response=S7_IDENTITY)
    plc = _by_ip(_feed(AssetMap(), ev))[PLC]
    assert plc["identity"]["system_name"] == "LINE1_S7"
    assert plc["identity"]["plant_id"] == "P1"  # NUL padding dropped
    assert (plc["vendor"], plc["product"], plc["firmware"], plc["serial"], plc["name"]) == (
        "Siemens", "CPU 315-2 PN/DP", "V3.2.6", "S C-X1", "LINE1_S7")
    assert plc["fingerprint"]["family"] == "SIMATIC S7-300"
    assert plc["roles"] == ["plc"]


def test_opcua_server_and_client_descriptions_go_to_their_senders() -> None:
    ev = Events()
    endpoints = [{"endpoint_url": "opc.tcp://srv:4840", "security_mode": "None", "user_token_types": ["anonymous"],
                  "security_policy": "http://opcfoundation.org/UA/SecurityPolicy#None",
                  "application_name": "Srv", "application_uri": "urn:srv", "product_uri": "urn:srv:product"}]
    ev.exchange("opcua", "get_endpoints", HMI, PLC, port=4840, response={"endpoints": endpoints})
    ev.exchange("opcua", "create_session", HMI, PLC, port=4840, t=1,
                request={"application_name": "Cli", "application_uri": "urn:cli", "product_uri": "urn:cli:p"},
                response={"endpoints": endpoints})
    assets = _by_ip(_feed(AssetMap(), ev))
    assert {k: assets[PLC]["identity"][k] for k in ("application_name", "application_uri", "product_uri")} == {
        "application_name": "Srv", "application_uri": "urn:srv", "product_uri": "urn:srv:product"}
    assert {k: assets[HMI]["identity"][k] for k in ("application_name", "application_uri", "product_uri")} == {
        "application_name": "Cli", "application_uri": "urn:cli", "product_uri": "urn:cli:p"}
    assert assets[PLC]["roles"] == ["opcua_server"]


def test_find_servers_results_describe_other_servers() -> None:
    ev = Events()
    ev.exchange("opcua", "find_servers", HMI, PLC, port=4840,
                response={"application_name": "Elsewhere", "application_uri": "urn:else"})
    assert "application_uri" not in _by_ip(_feed(AssetMap(), ev))[PLC]["identity"]


def test_dotted_events_give_the_same_inventory_as_nested() -> None:
    ev = Events()
    ev.exchange("s7comm", "read_szl", EWS, PLC, port=102, response=S7_IDENTITY)
    ev.exchange("modbus", "read_holding_registers", HMI, PLC, t=1)
    ev.exchange("modbus", "diagnostics", EWS, PLC, t=2, request={"subfunction": 1})  # restart communications
    nested = _feed(AssetMap(), ev)
    dotted = AssetMap()
    for e in ev.all:
        dotted.observe(flatten(e))
    assert dotted.assets() == nested.assets()
    assert dotted.graph_node_link() == nested.graph_node_link()
    assert nested.graph().edges[f"ip:{EWS}", f"ip:{PLC}", "modbus"]["control_ops"] == {
        "diagnostics_restart_communications": 1}


# -- keying ------------------------------------------------------------------------------------
def test_dhcp_change_keeps_one_asset_with_both_addresses() -> None:
    ev = Events()
    mac = "00:0e:8c:aa:bb:01"
    for i in range(3):
        ev.exchange("modbus", "read_coils", HMI, "10.10.1.50", t=i, smac=mac)
    for i in range(3):
        ev.exchange("modbus", "read_coils", HMI, "10.10.1.77", t=3600 + i, smac=mac)
    assets = [a for a in _feed(AssetMap(), ev).assets() if a["mac"] == mac]
    assert len(assets) == 1
    assert assets[0]["id"] == f"mac:{mac}"
    assert assets[0]["ip"] == "10.10.1.77" and assets[0]["ips"] == ["10.10.1.77", "10.10.1.50"]


def test_two_addresses_at_once_on_one_mac_are_one_host() -> None:
    ev = Events()
    mac = "00:0e:8c:aa:bb:02"
    for i in range(3):
        ev.exchange("modbus", "read_coils", HMI, "10.10.1.51", t=i, smac=mac)
        ev.exchange("s7comm", "read_var", EWS, "10.10.3.51", t=i, port=102, smac=mac)
    assets = [a for a in _feed(AssetMap(), ev).assets() if a["mac"] == mac]
    assert [sorted(a["ips"]) for a in assets] == [["10.10.1.51", "10.10.3.51"]]
    assert assets[0]["services"] == ["modbus/502", "s7comm/102"]


def test_hosts_behind_a_router_mac_are_keyed_by_ip() -> None:
    ev = Events()
    router = "00:1b:1b:00:00:01"
    remote = ["172.16.0.5", "172.16.0.6", "172.16.0.7", "172.16.0.8"]
    for i in range(4):
        for ip in remote:  # interleaved: all remote hosts active at the same time
            ev.exchange("modbus", "read_holding_registers", ip, PLC, t=i, cmac=router, smac="00:0e:8c:00:00:10")
    assets = _by_ip(_feed(AssetMap(), ev))
    for ip in remote:
        assert assets[ip]["id"] == f"ip:{ip}" and assets[ip]["mac"] is None
    assert assets[PLC]["id"] == "mac:00:0e:8c:00:00:10"


def test_public_address_behind_a_mac_marks_it_a_router() -> None:
    ev = Events()
    gw = "00:0e:8c:00:00:99"
    ev.exchange("modbus", "read_coils", "192.168.0.1", PLC, t=0, cmac=gw)
    ev.exchange("modbus", "read_coils", "8.8.4.4", PLC, t=1, cmac=gw)
    assets = _by_ip(_feed(AssetMap(), ev))
    assert assets["8.8.4.4"]["id"] == "ip:8.8.4.4"
    assert assets["192.168.0.1"]["id"] == "ip:192.168.0.1"


@pytest.mark.parametrize("mac", ["", "00:00:00:00:00:00", "ff:ff:ff:ff:ff:ff", "01:00:5e:00:00:01", "garbage"])
def test_macs_that_name_no_host_key_nothing(mac: str) -> None:
    ev = Events()
    ev.exchange("modbus", "read_coils", HMI, PLC, cmac=mac, smac=mac)
    assets = _by_ip(_feed(AssetMap(), ev))
    assert assets[PLC]["id"] == f"ip:{PLC}" and assets[HMI]["id"] == f"ip:{HMI}"


def test_one_mac_on_both_ends_is_not_a_host_address() -> None:
    ev = Events()
    lo = "02:00:00:00:00:01"  # a loopback-style capture: every frame carries the same MAC
    ev.exchange("modbus", "read_coils", HMI, PLC, cmac=lo, smac=lo)
    assets = _by_ip(_feed(AssetMap(), ev))
    assert len(assets) == 2 and assets[PLC]["mac"] is None


def test_address_without_link_layer_joins_the_host_with_that_address() -> None:
    ev = Events()
    mac = "00:0e:8c:aa:bb:03"
    ev.exchange("modbus", "read_coils", HMI, PLC, t=0, smac=mac)
    ev.exchange("modbus", "read_coils", HMI, PLC, t=5)  # another sensor, no MAC
    plc = [a for a in _feed(AssetMap(), ev).assets() if a["ip"] == PLC]
    assert [a["id"] for a in plc] == [f"mac:{mac}"]


def test_oui_vendor_from_the_bundled_table() -> None:
    ev = Events()
    ev.exchange("modbus", "read_coils", HMI, PLC, smac=SIEMENS_MAC, cmac="02:11:22:33:44:55")
    assets = _by_ip(_feed(AssetMap(), ev))
    assert assets[PLC]["identity"]["oui_vendor"] == "Siemens" and assets[PLC]["vendor"] == "Siemens"
    assert assets[PLC]["evidence"]["oui_vendor"][0]["confidence"] == 0.5
    assert "oui_vendor" not in assets[HMI]["identity"]  # locally administered: no OUI


# -- roles and services ------------------------------------------------------------------------
def test_server_that_never_answers_is_no_controller() -> None:
    ev = Events()
    for i in range(5):
        ev.make("modbus", "read_coils", HMI, PLC, to_server=True, t=i)
    assets = _by_ip(_feed(AssetMap(), ev))
    assert assets[PLC]["roles"] == [] and assets[PLC]["services"] == []
    assert assets[HMI]["roles"] == []


def test_nonstandard_port_service() -> None:
    ev = Events()
    ev.exchange("modbus", "read_coils", HMI, PLC, port=5020)
    plc = _by_ip(_feed(AssetMap(), ev))[PLC]
    assert plc["services"] == ["modbus/5020"] and plc["roles"] == ["plc"]
    assert plc["evidence"]["roles"][0]["confidence"] == 0.8


def test_direction_guessed_from_well_known_port_when_missing() -> None:
    ev = Events()
    ev.make("modbus", "read_coils", HMI, PLC, to_server=None, sport=40000, dport=502)
    ev.make("modbus", "read_coils", PLC, HMI, to_server=None, sport=502, dport=40000)
    g = _feed(AssetMap(), ev).graph()
    assert list(g.edges(keys=True)) == [(f"ip:{HMI}", f"ip:{PLC}", "modbus")]


@pytest.mark.parametrize(
    ("action", "dataset", "port", "role"),
    [
        ("plc_stop", "s7comm", 102, "engineering_workstation"),
        ("request_download", "s7comm", 102, "engineering_workstation"),
        ("start_upload", "s7comm", 102, "engineering_workstation"),
        ("read_szl", "s7comm", 102, "engineering_workstation"),
        ("read_device_identification", "modbus", 502, "engineering_workstation"),
    ],
)
def test_engineering_workstation_by_operation(action: str, dataset: str, port: int, role: str) -> None:
    ev = Events()
    ev.exchange(dataset, action, EWS, PLC, port=port)
    assert _by_ip(_feed(AssetMap(), ev))[EWS]["roles"] == [role]


def test_many_writes_make_an_engineering_workstation() -> None:
    ev = Events()
    for i in range(25):
        ev.exchange("modbus", "write_single_register", EWS, PLC, t=i)
    ews = _by_ip(_feed(AssetMap(), ev))[EWS]
    assert ews["roles"] == ["engineering_workstation"]
    assert ews["evidence"]["roles"][0]["confidence"] == 0.6


def test_cyclic_reader_is_an_hmi() -> None:
    ev = Events()
    for i in range(8):
        ev.exchange("modbus", "read_holding_registers", HMI, PLC, t=10 + 2 * i)
    hmi = _by_ip(_feed(AssetMap(), ev))[HMI]
    assert hmi["roles"] == ["hmi"] and hmi["evidence"]["roles"][0]["confidence"] == 0.7
    assert hmi["purdue_level"] == 2.0 and hmi["level_source"] == "roles"


def test_irregular_reader_is_a_less_certain_hmi() -> None:
    ev = Events()
    for t in (0, 1, 30, 31, 200):
        ev.exchange("modbus", "read_holding_registers", HMI, PLC, t=t)
    hmi = _by_ip(_feed(AssetMap(), ev))[HMI]
    assert hmi["roles"] == ["hmi"] and hmi["evidence"]["roles"][0]["confidence"] == 0.5


def test_polling_three_controllers_is_a_scada_server() -> None:
    ev = Events()
    plcs = ["10.10.1.1", "10.10.1.2", "10.10.1.3"]
    for i in range(4):
        for plc in plcs:
            ev.exchange("modbus", "read_holding_registers", HMI, plc, t=i)
    assets = _by_ip(_feed(AssetMap(), ev))
    assert assets[HMI]["roles"] == ["scada_server"]
    assert all(assets[p]["roles"] == ["plc"] and assets[p]["purdue_level"] == 1.0 for p in plcs)


def test_role_evidence_points_at_the_events() -> None:
    ev = Events()
    stop, _ = ev.exchange("s7comm", "plc_stop", EWS, PLC, port=102)
    ews = _by_ip(_feed(AssetMap(), ev))[EWS]
    assert ews["evidence"]["roles"] == [{"value": "engineering_workstation", "confidence": 0.9,
                                         "event_ids": [stop["event"]["id"]]}]


# -- zones -------------------------------------------------------------------------------------
def test_zone_of_site_public_roles_and_unknown() -> None:
    site = Site.from_dict({"zones": [{"name": "control", "level": 1, "cidrs": ["10.10.1.0/24"]}]})
    ev = Events()
    for i in range(5):
        ev.exchange("modbus", "read_holding_registers", HMI, PLC, t=2 * i)
    m = _feed(AssetMap(site=site), ev)
    assert m.zone_of(PLC) == {"zone": "control", "level": 1.0}
    assert m.zone_of("8.8.8.8") == {"zone": "internet", "level": 5.0}
    assert m.zone_of(HMI) == {"zone": None, "level": 2.0}
    assert m.zone_of("10.99.0.1") is None


# -- input that is not traffic, bounds -----------------------------------------------------------
@pytest.mark.parametrize(
    "event",
    [
        {},
        {"event": {"kind": "alert", "dataset": "modbus"}, "source": {"ip": "1.1.1.1"}, "destination": {"ip": "2.2.2.2"}},
        {"event": {"dataset": "icssa", "action": "parse_error"}, "source": {"ip": "1.1.1.1"},
         "destination": {"ip": "2.2.2.2"}},
        {"event": {"dataset": "modbus"}, "source": {"ip": "1.1.1.1"}},
        {"event": {"dataset": "modbus"}, "source": {"ip": 5}, "destination": {"ip": None}},
        {"event": {"dataset": "modbus", "action": "read_coils"}, "source": "x", "destination": ["y"], "modbus": 3},
        {"event": {"dataset": ["modbus"]}, "source": {"ip": "1.1.1.1"}, "destination": {"ip": "2.2.2.2"}},
    ],
)
def test_events_without_two_endpoints_are_skipped(event: dict[str, Any]) -> None:
    m = AssetMap()
    m.observe(event)
    assert m.assets() == [] and m.stats["skipped"] == 1


def test_garbage_field_values_do_not_break_observe() -> None:
    ev = Events()
    ev.make("modbus", "diagnostics", HMI, PLC, to_server=None, sport=[1], dport={"x": 1},  # type: ignore[arg-type]
            fields={"subfunction": [4]})
    ev.make("modbus", "read_device_identification", PLC, HMI, to_server=False, sport=502, dport=1,
            fields={"device_id": {"vendor_name": 7, "product_code": ["x"], "revision": None}})
    ev.make("opcua", "get_endpoints", PLC, HMI, to_server=False, sport=4840,
            fields={"endpoints": [None, 3, {"security_mode": 9, "user_token_types": [{"token_type": 0}, None, 7]}]})
    ev.make("s7comm", "read_szl", PLC, HMI, to_server=False, sport=102, fields={"identity": "nonsense"})
    plc = _by_ip(_feed(AssetMap(), ev))[PLC]
    assert plc["identity"]["opcua_security_mode"] == "unknown_9"
    assert {c["value"] for c in plc["evidence"]["opcua_user_token"]} == {"anonymous", "unknown_7"}


def test_records_are_bounded_and_evictions_counted() -> None:
    ev = Events()
    for i in range(60):
        ev.exchange("modbus", "read_coils", f"10.20.0.{i}", PLC, t=i)
    m = _feed(AssetMap(max_assets=10), ev)
    assert m.stats["records"] == 10 and m.stats["evicted_records"] == 51
    ips = {a["ip"] for a in m.assets()}
    assert PLC in ips and "10.20.0.59" in ips and "10.20.0.0" not in ips
    assert m.stats["edges"] <= 9


def test_max_assets_below_two_is_refused() -> None:
    with pytest.raises(ValueError):
        AssetMap(max_assets=1)


# -- hostile field values ------------------------------------------------------------------------
_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=12), inner, max_size=3),
    max_leaves=12,
)
_payload_keys = st.sampled_from([
    "device_id", "identity", "endpoints", "application_uri", "application_name", "product_uri",
    "identity_token_type", "subfunction", "is_response", "certificate_subject",
])


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["modbus", "s7comm", "opcua", "cotp", "s7comm_plus", "other"]),
            st.sampled_from(["read_device_identification", "read_szl", "get_endpoints", "create_session",
                             "activate_session", "diagnostics", "plc_stop", "write_var", "read", "x"]),
            st.booleans() | st.none(),
            st.dictionaries(_payload_keys, _json, max_size=4),
            st.sampled_from(["", "00:1b:1b:00:00:01", "00:00:00:00:00:00", "zz", "02:00:00:00:00:07"]),
            st.sampled_from([502, 102, 4840, 40000]) | _json,
        ),
        min_size=1,
        max_size=12,
    )
)
def test_observe_survives_any_field_values(items: list[tuple[str, str, bool | None, dict[str, Any], str, Any]]) -> None:
    ev = Events()
    m = AssetMap(max_assets=4)
    for i, (dataset, action, to_server, fields, mac, port) in enumerate(items):
        m.observe(ev.make(dataset, action, f"10.0.0.{i % 5}", f"10.0.1.{i % 3}", to_server=to_server,
                          t=i, smac=mac, dmac=mac, fields=fields, dport=port))
    json.dumps(m.assets())
    json.dumps(m.findings())
    json.dumps(m.graph_node_link())
    assert m.stats["records"] <= 4
