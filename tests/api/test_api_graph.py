"""The site graph, rebuilt from a real capture's events in the store."""

from __future__ import annotations

import json

from apitest import PCAPS, Env

from icssa.pipeline import replay_events

MANIFEST = json.loads((PCAPS / "manifest.json").read_text())["captures"]


def test_site_graph_links_the_capture_hosts(env: Env) -> None:
    cap = MANIFEST["s7_connect_szl"]
    env.store.put_events(replay_events([PCAPS / "s7_connect_szl.pcap"], organization="wtp-jn"))
    env.store.refresh()
    r = env.get("wtp_officer", "/api/v1/graph/wtp-jn")
    assert r.status_code == 200
    g = r.json()
    by_ip = {n["ip"]: n for n in g["nodes"]}
    assert set(cap["hosts"]) <= set(by_ip)
    assert "plc" in by_ip[cap["server"]["ip"]]["roles"]
    client = next(ip for ip, role in cap["hosts"].items() if role != "plc")
    s7 = [e for e in g["edges"] if e["protocol"] == "s7comm"]
    assert [(e["source"], e["target"], e["ports"]) for e in s7] == [
        (by_ip[client]["id"], by_ip[cap["server"]["ip"]]["id"], [cap["server"]["port"]])]
    assert g["truncated"] is False and g["events"] >= 20


def test_graph_is_per_site(env: Env) -> None:
    assert env.get("nj_resp", "/api/v1/graph/jiangning").status_code == 422


def test_graph_bounded_by_max_events(env: Env) -> None:
    env.store.put_events(replay_events([PCAPS / "s7_connect_szl.pcap"], organization="wtp-jn"))
    env.store.refresh()
    g = env.get("wtp_officer", "/api/v1/graph/wtp-jn", max_events=5).json()
    assert (g["events"], g["truncated"]) == (5, True)
