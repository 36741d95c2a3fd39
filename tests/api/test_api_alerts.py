"""Alerts: filters, pages, aggregates, TLP markings and machine ingest."""

from __future__ import annotations

import pytest
from apitest import Env, ids, make_alert


def test_alert_filters(env: Env) -> None:
    assert set(ids(env.get("nj_resp", "/api/v1/alerts", technique="T0858"))) == {"al-wtp-jn-1", "al-steel-jn-1", "al-chem-pk-1"}
    assert set(ids(env.get("nj_resp", "/api/v1/alerts", min_severity=70, organization="chem-pk"))) == {"al-chem-pk-1"}
    assert set(ids(env.get("nj_resp", "/api/v1/alerts", rule_id="modbus-coil-write", region="js/nj/jiangning"))) == {
        "al-wtp-jn-0", "al-steel-jn-0"}
    assert set(ids(env.get("nj_resp", "/api/v1/alerts", start="2026-05-02T00:00:00Z"))) == {
        "al-wtp-jn-1", "al-steel-jn-1", "al-chem-pk-1"}


def test_alerts_page_newest_first_with_a_cursor(env: Env) -> None:
    first = env.get("nj_resp", "/api/v1/alerts", size=4).json()
    assert first["total"] == 6 and len(first["items"]) == 4 and first["cursor"]
    rest = env.get("nj_resp", "/api/v1/alerts", size=4, cursor=first["cursor"]).json()
    assert rest["cursor"] is None
    stamps = [a["@timestamp"] for a in first["items"] + rest["items"]]
    assert stamps == sorted(stamps, reverse=True) and len(set(ids_ := [a["event"]["id"] for a in first["items"] + rest["items"]])) == 6
    assert ids_[0] == "al-chem-pk-1"


@pytest.mark.parametrize("param", [{"start": "not a time"}, {"cursor": "%%%"}])
def test_bad_query_values_are_422(env: Env, param: dict) -> None:
    assert env.get("nj_resp", "/api/v1/alerts", **param).status_code == 422


def test_alert_stats_by_region_technique_severity_and_time(env: Env) -> None:
    s = env.get("prov", "/api/v1/alerts/stats", interval=86400).json()
    assert s["total"] == 10
    assert {r["region"]["path"]: r["count"] for r in s["by_region"]} == {"js/nj": 6, "js/sz": 4}
    assert s["by_technique"] == {"T0855": 5, "T0858": 5, "T0816": 5}
    assert s["by_severity"] == {"critical": 0, "high": 5, "medium": 0, "low": 5}
    assert s["over_time"] == [{"start": "2026-05-01T00:00:00.000000Z", "count": 5},
                              {"start": "2026-05-02T00:00:00.000000Z", "count": 5}]
    county = env.get("nj_resp", "/api/v1/alerts/stats", region="js/nj").json()
    assert {r["region"]["id"]: r["count"] for r in county["by_region"]} == {"jiangning": 4, "pukou": 2}


def test_alert_tlp_default_own_and_override(env: Env) -> None:
    env.store.put_alerts([make_alert("wtp-jn", 7, tlp="green")])
    env.store.refresh()
    assert env.get("wtp_officer", "/api/v1/alerts/al-wtp-jn-0").json()["marking"]["tlp"] == "amber"
    assert env.get("wtp_officer", "/api/v1/alerts/al-wtp-jn-7").json()["marking"]["tlp"] == "green"
    assert env.put("wtp_officer", "/api/v1/alerts/al-wtp-jn-7/tlp", {"tlp": "red"}).json() == {"alert_id": "al-wtp-jn-7", "tlp": "red"}
    assert env.get("wtp_officer", "/api/v1/alerts/al-wtp-jn-7").json()["marking"]["tlp"] == "red"
    assert env.put("sz_resp", "/api/v1/alerts/al-wtp-jn-7/tlp", {"tlp": "clear"}).status_code == 404
    assert env.put("auditor", "/api/v1/alerts/al-chem-pk-0/tlp", {"tlp": "clear"}).status_code == 403


def test_readers_cannot_ingest(env: Env) -> None:
    assert env.post("nj_resp", "/api/v1/alerts", {"alerts": [make_alert("wtp-jn", 5)]}).status_code == 403


def test_ingested_alert_is_shared_at_once(env: Env) -> None:
    r = env.client.post("/api/v1/alerts", json={"alerts": [make_alert("wtp-jn", 6, tlp="green")]},
                        headers={"X-API-Key": env.api_key("sensor_wtp")})
    assert r.status_code == 201
    bundle = env.get("wtp_officer", "/api/v1/stix/alerts").json()
    sightings = [o for o in bundle["objects"] if o["type"] == "sighting"]
    assert [list(o["extensions"].values())[0]["alert_id"] for o in sightings] == ["al-wtp-jn-6"]
