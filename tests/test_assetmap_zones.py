"""Zones of single addresses without a snapshot (``AssetMap.zone_of``, ``assetmap.levels``), and
the bookkeeping it relies on (``Unit.served``, ``Unit.seq``).

``zone_of`` promises the answer a snapshot taken now would give. The hand-labelled cases state
levels from the roles table (plc 1, hmi / scada_server / engineering_workstation 2); the
property test replays random traffic (MAC moves, routers, addresses without link layer,
identity, evictions) and checks every answer against a snapshot built from the same store.
"""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from test_assetmap_support import Events

from assetmap import AssetMap, Site
from assetmap.fingerprints import Fingerprints
from assetmap.roles import SERVER_ROLE
from assetmap.site import zone_info
from assetmap.snapshot import build_snapshot

PLC, PLC2, PLC3, HMI, EWS = "10.10.1.10", "10.10.1.11", "10.10.1.12", "10.10.2.20", "10.10.2.30"
S7_ORDER = {"identity": {"order_number": "6ES7 315-2EH14-0AB0"}}  # an S7-300 CPU order number


def _feed(m: AssetMap, events: list[dict[str, Any]]) -> AssetMap:
    for e in events:
        m.observe(e)
    return m


def _reference(m: AssetMap, ip: str) -> dict[str, Any] | None:
    """What a snapshot built now says (the documented meaning of zone_of)."""
    info = zone_info(m.site, ip)
    if info is not None:
        return info
    return build_snapshot(m.store, m.site, m.fingerprints, None).inferred_zone(ip)


# -- hand-labelled levels ------------------------------------------------------------------------
def test_server_level_is_known_as_soon_as_it_answers() -> None:
    ev = Events()
    req = ev.make("modbus", "read_holding_registers", HMI, PLC, to_server=True, t=1)
    m = _feed(AssetMap(), [req])
    assert m.zone_of(PLC) is None  # asked, never answered: no role yet
    rsp = ev.make("modbus", "read_holding_registers", PLC, HMI, to_server=False, t=1.001, sport=502, dport=40000)
    m.observe(rsp)
    assert m.zone_of(PLC) == {"zone": None, "level": 1.0}  # plc
    assert m.zone_of(HMI) == {"zone": None, "level": 2.0}  # reads a controller: hmi


def test_opcua_server_is_level_two() -> None:
    ev = Events()
    ev.exchange("opcua", "browse", HMI, PLC, port=4840)
    m = _feed(AssetMap(), ev.all)
    assert m.zone_of(PLC) == {"zone": None, "level": 2.0}


def test_reading_a_host_that_never_answers_is_no_role() -> None:
    ev = Events()
    for i in range(5):
        ev.make("modbus", "read_coils", HMI, PLC, to_server=True, t=i)
    m = _feed(AssetMap(), ev.all)
    assert m.zone_of(HMI) is None and m.zone_of(PLC) is None


def test_engineering_operation_makes_a_workstation_level_two() -> None:
    ev = Events()
    ev.exchange("s7comm", "plc_stop", EWS, PLC, port=102)
    m = _feed(AssetMap(), ev.all)
    assert m.zone_of(EWS) == {"zone": None, "level": 2.0}
    assert m.zone_of(PLC) == {"zone": None, "level": 1.0}


def test_fingerprint_alone_gives_a_level() -> None:
    # a historian fingerprint keyed on the NIC vendor (OUI 00:1B:1B is registered to Siemens AG)
    fps = Fingerprints.from_data({"fingerprints": [{
        "id": "test-historian", "match": {"oui_vendor": "^Siemens$"},
        "result": {"device_type": "historian"}, "confidence": 0.9,
    }]})
    ev = Events()
    # the host only asks a server that never answers: no role from behaviour
    ev.make("modbus", "read_coils", HMI, PLC, to_server=True, smac="00:1b:1b:12:34:56")
    m = _feed(AssetMap(fingerprints=fps), ev.all)
    assert m.zone_of(HMI) == {"zone": None, "level": 3.0}
    assert m.zone_of(PLC) is None


def test_site_zone_wins_over_roles_and_public_is_internet() -> None:
    site = Site.from_dict({"zones": [{"name": "cell", "level": 1, "cidrs": ["10.10.1.0/24"]}]})
    ev = Events()
    ev.exchange("modbus", "read_coils", "8.8.8.8", PLC)
    m = _feed(AssetMap(site=site), ev.all)
    assert m.zone_of(PLC) == {"zone": "cell", "level": 1.0}
    assert m.zone_of("8.8.8.8") == {"zone": "internet", "level": 5.0}


def test_asset_with_two_addresses_takes_the_zone_of_its_latest() -> None:
    site = Site.from_dict({"zones": [{"name": "cell", "level": 1, "cidrs": ["10.10.1.0/24"]}]})
    mac = "00:1b:1b:00:00:01"
    ev = Events()
    # one host (one MAC) first at an address outside the site, later inside it (DHCP)
    ev.exchange("modbus", "read_coils", HMI, "10.99.0.5", t=1, smac=mac)
    ev.exchange("modbus", "read_coils", HMI, PLC, t=50, smac=mac)
    m = _feed(AssetMap(site=site), ev.all)
    assert m.zone_of("10.99.0.5") == {"zone": "cell", "level": 1.0}


def test_scada_server_polling_three_controllers() -> None:
    ev = Events()
    for i in range(3):
        for plc in (PLC, PLC2, PLC3):
            ev.exchange("modbus", "read_holding_registers", HMI, plc, t=i)
    m = _feed(AssetMap(), ev.all)
    assert m.zone_of(HMI) == {"zone": None, "level": 2.0}


def test_current_snapshot_and_local_answer_agree() -> None:
    ev = Events()
    ev.exchange("modbus", "write_single_coil", EWS, PLC)
    m = _feed(AssetMap(), ev.all)
    local = {ip: m.zone_of(ip) for ip in (PLC, EWS, "10.0.0.1")}
    m.assets()  # a current snapshot now answers
    assert {ip: m.zone_of(ip) for ip in local} == local


# -- every answer equals a fresh snapshot's --------------------------------------------------------
IPS = ["10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.0.4", "192.168.1.1", "8.8.4.4"]
MACS = [None, "00:1b:1b:00:00:01", "00:1b:1b:00:00:02", "00-0E-8C-00-00-03", "ff:ff:ff:ff:ff:ff", "garbage"]
ACTIONS = [
    ("modbus", "read_holding_registers", 502, {}),
    ("modbus", "write_multiple_registers", 502, {}),
    ("modbus", "read_device_identification", 502, {"device_id": {"vendor_name": "Schneider Electric",
                                                                 "product_code": "BMX P34 2020"}}),
    ("modbus", "diagnostics", 502, {"subfunction": 1}),
    ("s7comm", "plc_stop", 102, {}),
    ("s7comm", "read_szl", 102, S7_ORDER),
    ("s7comm", "read_var", 102, {}),
    ("opcua", "browse", 4840, {}),
    ("opcua", "get_endpoints", 4840, {"endpoints": [{"application_uri": "urn:x", "security_mode": 1}]}),
    ("cotp", "connection_request", 102, {}),
]
event_spec = st.tuples(
    st.sampled_from(IPS), st.sampled_from(IPS), st.sampled_from(MACS), st.sampled_from(MACS),
    st.sampled_from(range(len(ACTIONS))), st.sampled_from([True, False, None]), st.integers(0, 40),
)


@settings(max_examples=300, deadline=None)
@given(
    specs=st.lists(event_spec, min_size=1, max_size=40),
    max_assets=st.sampled_from([2, 3, 5, 1000]),
    max_edges=st.sampled_from([1, 2, 4, None]),
    with_site=st.booleans(),
)
def test_zone_of_equals_a_fresh_snapshot(
    specs: list[tuple[str, str, str | None, str | None, int, bool | None, int]],
    max_assets: int, max_edges: int | None, with_site: bool,
) -> None:
    site = Site.from_dict({"zones": [{"name": "office", "level": 4, "cidrs": ["10.0.0.2/32"]}]}) if with_site else None
    m = AssetMap(site=site, max_assets=max_assets, max_edges=max_edges)
    ev = Events()
    for src, dst, smac, dmac, n, to_server, t in specs:
        dataset, action, port, fields = ACTIONS[n]
        # a response carries what a server reports; requests carry nothing else
        body = {**(fields if to_server is False else {}), "is_response": to_server is False}
        e = ev.make(dataset, action, src, dst, to_server=to_server, t=t, sport=port if to_server is False else 40000,
                    dport=40000 if to_server is False else port, smac=smac, dmac=dmac, fields=body)
        m.observe(e)
        for ip in IPS:
            assert m.zone_of(ip) == _reference(m, ip), ip
        _check_bookkeeping(m)


def _check_bookkeeping(m: AssetMap) -> None:
    units = list(m.store.units.values())
    assert len({u.seq for u in units}) == len(units)  # one touch stamps one record: an order
    for unit in units:
        assert unit in m.store.by_ip[unit.ip]
        if unit.mac is not None:
            info = m.store.macs[unit.mac]
            assert info.ips.get(unit.ip, unit) is unit and (unit.ip in info.ips or info.shared)
    for unit in units:
        answered = [e for e in unit.edges if e.server is unit and e.responses and e.protocol in SERVER_ROLE]
        assert unit.served == len(answered)
        assert all(e.key in m.store.edges for e in unit.edges)
