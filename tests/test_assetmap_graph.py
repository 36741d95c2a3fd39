"""The communication graph from hand-built events, with the expected edges written out by hand."""

from __future__ import annotations

import json

import networkx as nx
from test_assetmap_support import Events

from assetmap import AssetMap

PLC, PLC2, HMI, EWS = "10.0.1.1", "10.0.1.2", "10.0.2.1", "10.0.2.9"


def _map() -> tuple[AssetMap, Events]:
    ev = Events()
    for i in range(3):
        ev.exchange("modbus", "read_holding_registers", HMI, PLC, t=i)
    ev.exchange("modbus", "write_single_register", HMI, PLC, t=4)
    ev.exchange("modbus", "diagnostics", HMI, PLC, t=5, request={"subfunction": 4})  # force listen only
    ev.exchange("modbus", "diagnostics", HMI, PLC, t=6, request={"subfunction": 0})  # echo: other
    ev.exchange("s7comm", "setup_communication", EWS, PLC2, port=102, t=7)
    ev.exchange("s7comm", "plc_stop", EWS, PLC2, port=102, t=8)
    ev.exchange("s7comm", "request_download", EWS, PLC2, port=102, t=9)
    ev.exchange("s7comm", "read_var", EWS, PLC2, port=102, t=10)
    ev.make("s7comm", "write_var", EWS, PLC2, to_server=True, dport=102, t=11)  # no answer
    ev.exchange("opcua", "read", EWS, PLC2, port=4840, t=12)
    m = AssetMap()
    for e in ev.all:
        m.observe(e)
    return m, ev


def test_one_edge_per_client_server_protocol_with_counts() -> None:
    m, _ = _map()
    g = m.graph()
    assert isinstance(g, nx.MultiDiGraph)
    got = {
        (u, v, k): {f: d[f] for f in ("reads", "writes", "control", "other", "control_ops", "requests",
                                      "responses", "events", "ports")}
        for u, v, k, d in g.edges(keys=True, data=True)
    }
    assert got == {
        (f"ip:{HMI}", f"ip:{PLC}", "modbus"): {
            "reads": 3, "writes": 1, "control": 1, "other": 1,
            "control_ops": {"diagnostics_force_listen_only": 1},
            "requests": 6, "responses": 6, "events": 12, "ports": [502]},
        (f"ip:{EWS}", f"ip:{PLC2}", "s7comm"): {
            "reads": 1, "writes": 1, "control": 2, "other": 1,
            "control_ops": {"plc_stop": 1, "request_download": 1},
            "requests": 5, "responses": 4, "events": 9, "ports": [102]},
        (f"ip:{EWS}", f"ip:{PLC2}", "opcua"): {
            "reads": 1, "writes": 0, "control": 0, "other": 0, "control_ops": {},
            "requests": 1, "responses": 1, "events": 2, "ports": [4840]},
    }


def test_edge_times_and_evidence() -> None:
    m, ev = _map()
    d = m.graph().edges[f"ip:{EWS}", f"ip:{PLC2}", "s7comm"]
    s7 = [e for e in ev.all if e["event"]["dataset"] == "s7comm"]
    assert d["first_seen"] == s7[0]["@timestamp"] and d["last_seen"] == s7[-1]["@timestamp"]
    assert d["event_ids"] == [e["event"]["id"] for e in s7[:4]]
    changes = [e["event"]["id"] for e in s7 if e["event"]["action"] in ("plc_stop", "request_download", "write_var")
               and e["network"]["direction_to_server"]]
    assert d["change_ids"] == changes


def test_nodes_carry_asset_attributes() -> None:
    m, _ = _map()
    g = m.graph()
    assert set(g.nodes) == {f"ip:{ip}" for ip in (PLC, PLC2, HMI, EWS)}
    assert g.nodes[f"ip:{PLC2}"]["roles"] == ["opcua_server", "plc"]
    assert g.nodes[f"ip:{PLC2}"]["services"] == ["opcua/4840", "s7comm/102"]
    assert g.nodes[f"ip:{EWS}"]["roles"] == ["engineering_workstation"]
    assert g.nodes[f"ip:{PLC}"]["purdue_level"] == 1.0


def test_node_link_round_trips_through_json() -> None:
    m, _ = _map()
    data = json.loads(json.dumps(m.graph_node_link()))
    assert data["directed"] is True and data["multigraph"] is True
    g = nx.node_link_graph(data, edges="edges")
    assert nx.utils.graphs_equal(g, m.graph())
