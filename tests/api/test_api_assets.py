"""Assets: filters (role, zone, vendor, address block, exposure) and machine writes."""

from __future__ import annotations

import pytest
from apitest import Env, ids, make_alert, make_event


@pytest.mark.parametrize(
    ("params", "expected"),
    [({"role": "plc"}, {"ip:10.0.1.10", "ip:10.0.2.10"}), ({"zone": "supervisory"}, {"ip:10.0.1.20", "ip:10.0.2.20"}),
     ({"vendor": "Schneider Electric", "organization": "wtp-jn"}, {"ip:10.0.1.10"}), ({"ip": "10.0.2.0/24"}, {"ip:10.0.2.10", "ip:10.0.2.20"}),
     ({"exposure": "any"}, {"ip:10.0.1.10", "ip:10.0.2.10"}), ({"exposure": "opcua_security_none"}, set())],
)
def test_asset_filters(env: Env, params: dict, expected: set[str]) -> None:
    r = env.get("jn_resp", "/api/v1/assets", **params)
    assert r.status_code == 200
    assert set(ids(r)) == expected


@pytest.mark.parametrize(("path", "body"), [
    ("/api/v1/events", {"events": [make_event("steel-jn", 5)]}),
    ("/api/v1/alerts", {"alerts": [make_alert("elec-ks", 5)]}),
    ("/api/v1/assets", {"assets": [{"id": "x", "organization": {"id": "chem-pk"}}]}),
])
def test_sensor_cannot_write_into_another_enterprise(env: Env, path: str, body: dict) -> None:
    r = env.client.post(path, json=body, headers={"X-API-Key": env.api_key("sensor_wtp")})
    assert r.status_code == 403
    assert env.get("admin", "/api/v1/events/ev-steel-jn-5").status_code == 404
