"""Events: search, counts and machine ingest."""

from __future__ import annotations

from apitest import Env, ids, make_event


def test_event_search_and_stats(env: Env) -> None:
    assert set(ids(env.get("sz_resp", "/api/v1/events", action="write_single_coil"))) == {"ev-elec-ks-0", "ev-pharma-sz-0"}
    assert set(ids(env.get("sz_resp", "/api/v1/events", ip="10.0.5.10"))) == {"ev-pharma-sz-0", "ev-pharma-sz-1"}
    assert set(ids(env.get("sz_resp", "/api/v1/events", community_id="1:elec-ks-1"))) == {"ev-elec-ks-1"}
    stats = env.get("sz_resp", "/api/v1/events/stats").json()
    assert stats == {"total": 4, "by_dataset": {"modbus": 4}, "by_action": {"read_holding_registers": 2, "write_single_coil": 2}}


def test_sensor_ingests_into_its_own_enterprise(env: Env) -> None:
    key = {"X-API-Key": env.api_key("sensor_wtp")}
    bare = make_event("wtp-jn", 5)
    del bare["organization"]
    r = env.client.post("/api/v1/events", json={"events": [bare]}, headers=key)
    assert (r.status_code, r.json()) == (201, {"written": 1})
    assert env.get("wtp_officer", "/api/v1/events/ev-wtp-jn-5").json()["organization"] == {"id": "wtp-jn"}
