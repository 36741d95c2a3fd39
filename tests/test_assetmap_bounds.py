"""Caps on what one record, edge or cache of the asset map holds (``store.py``, ``evidence.py``,
``links.py``): many distinct values go in, the caps hold, and what is kept is what the
documented rule says (the first ones, or the most recently seen ones).

Also: the quick path for events in the sensor's form and the general path (the same events
with dotted keys) give the same inventory and graph, through evictions and caps.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_assetmap_support import Events, flatten

from assetmap import AssetMap
from assetmap.evidence import MAX_ATTRS, MAX_IDS, MAX_VALUES, Evidence
from assetmap.links import MAX_DATASETS, MAX_LINKS, MAX_OPS
from assetmap.store import (
    MAX_EDGE_IDS,
    MAX_PORTS,
    MAX_PROTOCOLS,
    MAX_UNIT_EDGES,
    MAX_UNITS_PER_IP,
    UNIT_EDGES_KEPT,
)

HMI, PLC = "10.10.2.20", "10.10.1.10"


def _ip(n: int) -> str:
    return f"10.{100 + (n >> 16)}.{(n >> 8) & 255}.{n & 255}"


def _feed(m: AssetMap, events: list[dict[str, Any]]) -> AssetMap:
    for e in events:
        m.observe(e)
    return m


def _unit(m: AssetMap, ip: str, mac: str | None = None) -> Any:
    return m.store.units[(ip, mac)]


@pytest.mark.parametrize("nested", [True, False], ids=["sensor_form", "dotted_keys"])
def test_eviction_takes_the_least_recently_touched_record(nested: bool) -> None:
    h1, h2, h3 = "10.20.0.1", "10.20.0.2", "10.20.0.3"
    ev = Events()
    ev.exchange("modbus", "read_coils", h1, PLC, t=0)
    ev.exchange("modbus", "read_coils", h2, PLC, t=1)
    ev.exchange("modbus", "read_coils", h1, PLC, t=2)  # h1 again: now h2 is the oldest
    ev.exchange("modbus", "read_coils", h3, PLC, t=3)  # a fourth record: one must go
    m = _feed(AssetMap(max_assets=3), ev.all if nested else [flatten(e) for e in ev.all])
    assert set(m.store.by_ip) == {h1, h3, PLC}
    assert m.stats["evicted_records"] == 1 and m.stats["evicted_edges"] == 1
    # then h1 is the oldest (last seen at t=2): a new host evicts it
    more = Events()
    more.n = ev.n
    more.exchange("modbus", "read_coils", h2, PLC, t=4)
    _feed(m, more.all if nested else [flatten(e) for e in more.all])
    assert set(m.store.by_ip) == {h2, h3, PLC}


def test_a_host_polling_more_servers_than_the_cap_keeps_its_most_recent_edges() -> None:
    ev = Events()
    n = MAX_UNIT_EDGES + 1 + 100  # one past the cap: a trim; then 100 more edges
    for i in range(n):  # server i polled at second i, one request each
        ev.make("modbus", "read_coils", HMI, _ip(i), to_server=True, t=i)
    m = _feed(AssetMap(), ev.all)
    hmi = _unit(m, HMI)
    # the trim at edge MAX_UNIT_EDGES + 1 left the newest UNIT_EDGES_KEPT; 100 came after
    assert len(hmi.edges) == UNIT_EDGES_KEPT + 100 <= MAX_UNIT_EDGES
    kept = {e.server.ip for e in hmi.edges}
    first_kept = MAX_UNIT_EDGES + 1 - UNIT_EDGES_KEPT
    assert kept == {_ip(i) for i in range(first_kept, n)}
    assert m.stats["capped_unit_edges"] == 1
    assert m.stats["edges"] == UNIT_EDGES_KEPT + 100
    # the servers whose edges went keep their records (they were seen), without edges
    assert (_ip(0), None) in m.store.units and not _unit(m, _ip(0)).edges
    # the host's times still cover the dropped edges
    assert hmi.first_seen == ev.all[0]["@timestamp"] and hmi.last_seen == ev.all[-1]["@timestamp"]


def test_a_server_polled_by_more_clients_than_the_cap_stays_bounded() -> None:
    ev = Events()
    for i in range(MAX_UNIT_EDGES + 10):
        ev.exchange("s7comm", "read_var", _ip(i), PLC, t=i, port=102)
    m = _feed(AssetMap(), ev.all)
    plc = _unit(m, PLC)
    assert len(plc.edges) <= MAX_UNIT_EDGES
    assert {e.client.ip for e in plc.edges} == {_ip(i) for i in range(MAX_UNIT_EDGES + 10 - len(plc.edges),
                                                                       MAX_UNIT_EDGES + 10)}
    assert plc.served == len(plc.edges)  # each kept edge was answered


def test_records_at_one_ip_are_capped_keeping_the_latest_macs() -> None:
    ev = Events()
    macs = [f"02:00:00:00:01:{i:02x}" for i in range(MAX_UNITS_PER_IP + 5)]
    for i, mac in enumerate(macs):  # one IP behind ever new MACs (spoofing)
        ev.make("modbus", "read_coils", HMI, PLC, to_server=True, t=i, smac=mac)
    m = _feed(AssetMap(), ev.all)
    at_ip = m.store.by_ip[HMI]
    assert len(at_ip) == MAX_UNITS_PER_IP
    assert {u.mac for u in at_ip} == set(macs[5:])
    assert m.stats["capped_units_per_ip"] == 5 and m.stats["evicted_records"] == 5


def test_protocols_of_one_record_are_capped_keeping_the_first() -> None:
    ev = Events()
    datasets = [f"proto{i}" for i in range(MAX_PROTOCOLS + 8)]
    for i, dataset in enumerate(datasets):
        ev.make(dataset, "x", HMI, PLC, to_server=True, t=i)
    m = _feed(AssetMap(), ev.all)
    assert _unit(m, HMI).protocols == tuple(datasets[:MAX_PROTOCOLS])
    assert m.stats["capped_protocols"] == 2 * 8  # both ends of each late message


def test_ports_and_ids_of_one_edge_are_capped_keeping_the_first() -> None:
    ev = Events()
    for i in range(20):  # one server answering on 20 ports, a write each
        ev.make("modbus", "write_single_register", HMI, PLC, to_server=True, t=i, dport=1000 + i)
    m = _feed(AssetMap(), ev.all)
    (edge,) = m.store.edges.values()
    assert edge.ports == tuple(1000 + i for i in range(MAX_PORTS))
    assert edge.event_ids == [e["event"]["id"] for e in ev.all[:MAX_EDGE_IDS]]
    assert edge.change_ids == [e["event"]["id"] for e in ev.all[:MAX_EDGE_IDS]]
    assert edge.writes == 20 and edge.requests == 20 and edge.events == 20


def test_identity_values_and_their_ids_are_capped() -> None:
    ev = Events()
    for i in range(MAX_VALUES + 6):  # a PLC reporting ever new revisions, the first one twice more
        ev.exchange("modbus", "read_device_identification", HMI, PLC, t=i,
                    response={"device_id": {"revision": f"v{i}"}})
    for i in range(MAX_IDS + 3):
        ev.exchange("modbus", "read_device_identification", HMI, PLC, t=100 + i,
                    response={"device_id": {"revision": "v0"}})
    m = _feed(AssetMap(), ev.all)
    evidence = _unit(m, PLC).evidence
    values = evidence.values("revision")
    assert list(values) == [f"v{i}" for i in range(MAX_VALUES)]
    assert evidence.dropped == 6
    v0 = values["v0"]
    assert v0[1] == 1 + MAX_IDS + 3  # count keeps counting
    assert len(v0[4]) == MAX_IDS  # ids: the first ones
    assert v0[4][0] == ev.all[1]["event"]["id"]


def test_evidence_attributes_are_capped() -> None:
    evidence = Evidence()
    for i in range(MAX_ATTRS + 10):
        evidence.add(f"attr{i}", "x", 0.5, f"e{i}", "2024-05-01T00:00:00.000000Z")
    assert list(evidence.attrs) == [f"attr{i}" for i in range(MAX_ATTRS)]
    assert evidence.dropped == 10
    merged = Evidence()
    merged.add("other", "y", 0.5, "e", "2024-05-01T00:00:00.000000Z")
    merged.merge(evidence)
    assert len(merged.attrs) == MAX_ATTRS and merged.dropped == 10 + 1


def test_link_and_action_caches_are_bounded() -> None:
    ev = Events()
    for i in range(MAX_LINKS + 50):  # as many links as distinct clients
        ev.make("modbus", "read_coils", _ip(i), PLC, to_server=True, t=i)
    for i in range(MAX_OPS + 10):
        ev.make("modbus", f"action_{i}", HMI, PLC, to_server=True, t=i)
    for i in range(MAX_DATASETS + 10):
        ev.make(f"proto{i}", "read", HMI, PLC, to_server=True, t=i)
    m = _feed(AssetMap(max_assets=MAX_LINKS + 100), ev.all)
    assert len(m._links.links) <= MAX_LINKS
    assert len(m._links.tables) <= MAX_DATASETS
    assert all(len(t.requests) <= MAX_OPS and len(t.responses) <= MAX_OPS for t in m._links.tables.values())
    assert m.stats["events"] == len(ev.all)


def test_the_link_cache_holds_no_evicted_edges() -> None:
    ev = Events()
    for i in range(200):  # ever new hosts polling one PLC, through a map that keeps 10 records
        ev.exchange("modbus", "read_coils", _ip(i), PLC, t=i)
    m = _feed(AssetMap(max_assets=10), ev.all)
    assert m.stats["evicted_records"] == 200 + 1 - 10
    assert all(edge.live for edge in m._links.links.values())
    assert len(m._links.links) == m.stats["edges"] == 9


def test_one_edge_keeps_at_most_four_link_keys() -> None:
    ev = Events()
    spellings = ["00:1b:1b:12:34:56", "00-1b-1b-12-34-56", "00:1B:1B:12:34:56", "00-1B-1B-12-34-56",
                 "001b.1b12.3456", "001B.1B12.3456"]  # one MAC, six ways
    for i, mac in enumerate(spellings):
        ev.make("modbus", "read_coils", HMI, PLC, to_server=True, t=i, smac=mac)
    m = _feed(AssetMap(), ev.all)
    (edge,) = m.store.edges.values()
    assert edge.reads == 6
    assert edge.link == tuple((HMI, mac, PLC, None, 502, "modbus") for mac in spellings[2:])
    assert set(m._links.links) == set(edge.link)


# -- the quick path equals the general path --------------------------------------------------------
IPS = ["10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.1.1"]
MACS = [None, "00:1b:1b:00:00:01", "02:00:00:00:00:02", "02:00:00:00:00:03"]
ACTIONS = [
    ("modbus", "read_holding_registers", 502, {}),
    ("modbus", "write_single_register", 502, {}),
    ("modbus", "diagnostics", 502, {"subfunction": 4}),  # force listen only: control
    ("modbus", "read_device_identification", 502, {"device_id": {"vendor_name": "Schneider Electric"}}),
    ("s7comm", "plc_stop", 102, {}),
    ("s7comm", "read_szl", 102, {"identity": {"module_name": "CPU 315-2 PN/DP"}}),
    ("opcua", "create_session", 4840, {"application_uri": "urn:x"}),
    ("opcua", "activate_session", 4840, {"identity_token_type": "anonymous"}),
    ("cotp", "connection_request", 102, {}),
]


@settings(max_examples=300, deadline=None)
@given(
    specs=st.lists(
        st.tuples(st.sampled_from(IPS), st.sampled_from(IPS), st.sampled_from(MACS), st.sampled_from(MACS),
                  st.sampled_from(range(len(ACTIONS))), st.booleans(), st.integers(0, 30)),
        min_size=1, max_size=40,
    ),
    max_assets=st.sampled_from([2, 3, 1000]),
    max_edges=st.sampled_from([1, 3, None]),
)
def test_events_in_the_sensors_form_and_with_dotted_keys_give_the_same_map(
    specs: list[tuple[str, str, str | None, str | None, int, bool, int]], max_assets: int, max_edges: int | None,
) -> None:
    nested = AssetMap(max_assets=max_assets, max_edges=max_edges)
    dotted = AssetMap(max_assets=max_assets, max_edges=max_edges)
    ev = Events()
    for src, dst, smac, dmac, n, to_server, t in specs:
        dataset, action, port, fields = ACTIONS[n]
        e = ev.make(dataset, action, src, dst, to_server=to_server, t=t, sport=40000 if to_server else port,
                    dport=port if to_server else 40000, smac=smac, dmac=dmac,
                    fields={**fields, "is_response": not to_server})
        nested.observe(e)
        dotted.observe(flatten(e))
    assert nested.stats == dotted.stats
    assert nested.assets() == dotted.assets()
    assert nested.graph_node_link() == dotted.graph_node_link()
