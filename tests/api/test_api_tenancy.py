"""Tenancy, per role and per endpoint: what each caller must see, and nothing more.

The data has two events, two alerts and two assets per enterprise (ids carry the enterprise),
one incident per enterprise and shared STIX objects for every alert. Expected visibility is
written out in conftest.SEES from the organization tree, not computed by the code under test.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from apitest import ENTERPRISES, SEES, TAXII, Env, build_env, make_assets

READERS = sorted(SEES)
NON_READERS = ["researcher", "sensor_wtp"]


@pytest.fixture(scope="module")
def menv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    env = build_env(tmp_path_factory.mktemp("tenancy"))
    for org in ENTERPRISES:
        r = env.post("admin", "/api/v1/incidents", {"alert_ids": [f"al-{org}-1"], "title": f"incident at {org}"})
        assert r.status_code == 201, r.text
    env.app.state.sharing.sync_alerts()
    yield env
    env.app.state.store.close()
    env.app.state.db.close()


def orgs_of(items: list[dict]) -> set[str]:
    return {i["organization"]["id"] for i in items}


@pytest.mark.parametrize("user", READERS)
@pytest.mark.parametrize("path", ["/api/v1/assets", "/api/v1/alerts", "/api/v1/events"])
def test_list_shows_exactly_the_scope(menv: Env, user: str, path: str) -> None:
    r = menv.get(user, path, size=1000)
    assert r.status_code == 200
    assert orgs_of(r.json()["items"]) == set(SEES[user])
    assert r.json()["total"] == 2 * len(SEES[user])


@pytest.mark.parametrize("user", READERS)
@pytest.mark.parametrize("kind", ["alerts", "events"])
def test_get_by_id_only_inside_scope(menv: Env, user: str, kind: str) -> None:
    prefix = "al" if kind == "alerts" else "ev"
    for org in ENTERPRISES:
        r = menv.get(user, f"/api/v1/{kind}/{prefix}-{org}-0")
        assert r.status_code == (200 if org in SEES[user] else 404), (org, r.text)


@pytest.mark.parametrize("user", READERS)
def test_asset_by_id_only_inside_scope(menv: Env, user: str) -> None:
    for org in ENTERPRISES:
        asset = make_assets(org)[0]["id"]
        r = menv.get(user, f"/api/v1/assets/{org}/{asset}")
        assert r.status_code == (200 if org in SEES[user] else 404), org


@pytest.mark.parametrize("user", READERS)
@pytest.mark.parametrize("path", ["/api/v1/alerts/stats", "/api/v1/events/stats"])
def test_aggregates_count_only_the_scope(menv: Env, user: str, path: str) -> None:
    r = menv.get(user, path)
    assert r.status_code == 200
    assert r.json()["total"] == 2 * len(SEES[user])


@pytest.mark.parametrize("user", READERS)
def test_overview_counts_only_the_scope(menv: Env, user: str) -> None:
    total = menv.get(user, "/api/v1/overview").json()["total"]
    assert (total["assets"], total["exposed_assets"], total["alerts"], total["open_incidents"]) == (
        2 * len(SEES[user]), len(SEES[user]), 2 * len(SEES[user]), len(SEES[user]))


@pytest.mark.parametrize("user", READERS)
def test_graph_only_for_sites_in_scope(menv: Env, user: str) -> None:
    for org in ENTERPRISES:
        r = menv.get(user, f"/api/v1/graph/{org}")
        assert r.status_code == (200 if org in SEES[user] else 404), org


@pytest.mark.parametrize("user", READERS)
def test_incidents_only_inside_scope(menv: Env, user: str) -> None:
    items = menv.get(user, "/api/v1/incidents").json()["items"]
    assert {i["org"] for i in items} == set(SEES[user])
    all_ids = {i["org"]: i["id"] for i in menv.get("admin", "/api/v1/incidents").json()["items"]}
    for org, iid in all_ids.items():
        assert menv.get(user, f"/api/v1/incidents/{iid}").status_code == (200 if org in SEES[user] else 404)


@pytest.mark.parametrize("user", READERS)
def test_stix_export_only_inside_scope(menv: Env, user: str) -> None:
    bundle = menv.get(user, "/api/v1/stix/alerts").json()
    sighted = {
        list(o["extensions"].values())[0]["organization"]
        for o in bundle["objects"] if o["type"] == "sighting"
    }
    assert sighted == set(SEES[user])


@pytest.mark.parametrize("user", READERS)
def test_taxii_alert_collection_only_inside_scope(menv: Env, user: str) -> None:
    h = {**menv.auth(user), "Accept": TAXII}
    roots = menv.client.get("/taxii2/", headers=h).json()["api_roots"]
    sighted: set[str] = set()
    for root in roots:
        cols = menv.client.get(f"{root}collections/", headers=h).json()["collections"]
        alerts = next(c for c in cols if c["title"].startswith("Alerts"))
        objs = menv.client.get(f"{root}collections/{alerts['id']}/objects/", headers=h, params={"limit": 1000}).json()
        sighted |= {list(o["extensions"].values())[0]["organization"]
                    for o in objs.get("objects", []) if o["type"] == "sighting"}
    assert sighted == set(SEES[user])


@pytest.mark.parametrize(
    ("user", "root", "code"),
    [("nj_resp", "sz", 404), ("nj_resp", "js", 404), ("sz_resp", "nj", 404), ("wtp_officer", "jiangning", 404),
     ("auditor", "nj", 404), ("nj_resp", "nj", 200), ("prov", "sz", 200), ("auditor", "chem-pk", 200)],
)
def test_taxii_api_roots_follow_the_tree(menv: Env, user: str, root: str, code: int) -> None:
    r = menv.client.get(f"/taxii2/{root}/collections/", headers={**menv.auth(user), "Accept": TAXII})
    assert r.status_code == code


@pytest.mark.parametrize(
    ("user", "ref"),
    [("nj_resp", "elec-ks"), ("nj_resp", "sz"), ("nj_resp", "js/sz"), ("jn_resp", "chem-pk"),
     ("wtp_officer", "steel-jn"), ("auditor", "wtp-jn"), ("nj_resp", "no-such-org")],
)
@pytest.mark.parametrize("path", ["/api/v1/assets", "/api/v1/alerts", "/api/v1/events", "/api/v1/incidents"])
def test_filter_on_an_organization_outside_scope_is_not_found(menv: Env, user: str, ref: str, path: str) -> None:
    r = menv.get(user, path, organization=ref)
    assert r.status_code == 404


def test_city_filter_by_region_path_narrows_to_a_county(menv: Env) -> None:
    r = menv.get("nj_resp", "/api/v1/alerts", region="js/nj/pukou")
    assert r.status_code == 200
    assert orgs_of(r.json()["items"]) == {"chem-pk"}


@pytest.mark.parametrize("user", NON_READERS)
@pytest.mark.parametrize(
    "path",
    ["/api/v1/assets", "/api/v1/alerts", "/api/v1/alerts/stats", "/api/v1/events", "/api/v1/events/stats",
     "/api/v1/overview", "/api/v1/incidents", "/api/v1/advisories", "/api/v1/graph/wtp-jn", "/api/v1/stix/alerts",
     "/api/v1/alerts/al-wtp-jn-0", "/api/v1/events/ev-wtp-jn-0", "/api/v1/teams"],
)
def test_researchers_and_sensors_read_no_tenant_data(menv: Env, user: str, path: str) -> None:
    assert menv.get(user, path).status_code == 403


def test_researcher_has_no_taxii_roots(menv: Env) -> None:
    r = menv.client.get("/taxii2/", headers={**menv.auth("researcher"), "Accept": TAXII})
    assert r.status_code == 200
    assert r.json()["api_roots"] == []


def test_cross_tenant_reads_are_audited_and_own_reads_are_not(menv: Env) -> None:
    before = menv.db.scalar("SELECT MAX(id) FROM audit")
    menv.get("nj_resp", "/api/v1/alerts", organization="chem-pk")
    menv.get("wtp_officer", "/api/v1/alerts")
    rows = menv.db.query("SELECT actor, action, resource, orgs FROM audit WHERE id > ?", (before,))
    assert [(r["actor"], r["action"], r["resource"], r["orgs"]) for r in rows] == [
        ("nj_resp", "read", "alerts", '["chem-pk"]')
    ]


def test_unauthenticated_requests_are_refused(menv: Env, tmp_path: Path) -> None:
    assert menv.client.get("/api/v1/alerts").status_code == 401
    assert menv.client.get("/taxii2/", headers={"Accept": TAXII}).status_code == 401
