"""TAXII 2.1: the OASIS taxii2-client against our server on loopback, and the protocol's edges."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import stix2
from apitest import ENTERPRISES, PASSWORD, SEES, TAXII, Env, ServerThread, build_env, make_alert
from taxii2client.common import TokenAuth
from taxii2client.v21 import Server, as_pages

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[Env, ServerThread]]:
    env = build_env(tmp_path)
    env.app.state.sharing.sync_alerts()
    with ServerThread(env.app) as srv:
        yield env, srv
    env.app.state.store.close()
    env.app.state.db.close()


def alert_ids(objects: list[dict[str, Any]]) -> set[str]:
    return {list(o["extensions"].values())[0]["alert_id"] for o in objects if o["type"] == "sighting"}


def expected_alerts(orgs: frozenset[str]) -> set[str]:
    return {f"al-{o}-{i}" for o in orgs for i in range(2)}


def test_client_discovers_roots_and_collections(served: tuple[Env, ServerThread]) -> None:
    env, srv = served
    server = Server(f"{srv.url}/taxii2/", user="nj_resp", password=PASSWORD)
    assert server.title == "icssa-test TAXII 2.1"
    assert [r.url for r in server.api_roots] == [f"{srv.url}/taxii2/{r}/" for r in ("nj", "jiangning", "pukou")]
    assert server.default.url == f"{srv.url}/taxii2/nj/"
    titles = {c.title: (c.can_read, c.can_write) for c in server.default.collections}
    assert titles["Alerts: indicators, observed data and sightings"] == (True, False)
    assert titles["Received from child platforms"] == (True, True)


def test_client_pages_through_objects(served: tuple[Env, ServerThread]) -> None:
    env, srv = served
    root = Server(f"{srv.url}/taxii2/", user="nj_resp", password=PASSWORD).default
    alerts = root.collections[0]
    pages = list(as_pages(alerts.get_objects, per_request=4))
    assert len(pages) > 2
    assert all(len(p["objects"]) == 4 for p in pages[:-1])
    assert [p["more"] for p in pages] == [True] * (len(pages) - 1) + [False]
    objects = [o for p in pages for o in p["objects"]]
    assert len({o["id"] for o in objects}) == len(objects)
    assert alert_ids(objects) == expected_alerts(SEES["nj_resp"])


def test_client_fetches_only_objects_added_after(served: tuple[Env, ServerThread]) -> None:
    env, srv = served
    alerts = Server(f"{srv.url}/taxii2/", user="nj_resp", password=PASSWORD).default.collections[0]
    manifest = alerts.get_manifest(limit=1000)["objects"]
    last = max(m["date_added"] for m in manifest)
    new = [make_alert("chem-pk", 5), make_alert("elec-ks", 5)]  # one in scope, one in Suzhou
    env.store.put_alerts(new)
    env.app.state.sharing.sync_alerts()
    fresh = alerts.get_objects(added_after=last)["objects"]
    assert alert_ids(fresh) == {"al-chem-pk-5"}
    assert all(o["id"] not in {m["id"] for m in manifest} or o["type"] == "identity" for o in fresh)


def test_every_object_served_parses_with_stix2(served: tuple[Env, ServerThread]) -> None:
    env, srv = served
    r = env.post("admin", "/api/v1/advisories", {
        "title": "S7-300 DoS", "cve": ["CVE-2016-3949"], "remediation": "update firmware", "tlp": "green",
        "affected": [{"vendor": "Schneider Electric", "products": ["unknown product"]}]})
    assert r.status_code == 201
    incident = env.post("admin", "/api/v1/incidents", {"alert_ids": ["al-wtp-jn-0"]})
    assert incident.status_code == 201
    server = Server(f"{srv.url}/taxii2/", user="admin", password=PASSWORD)
    types: set[str] = set()
    for coll in server.default.collections:
        for page in as_pages(coll.get_objects, per_request=50):
            for obj in page.get("objects", []):
                parsed = stix2.parse(obj)  # strict: no custom content allowed
                types.add(parsed.type)
    assert {"indicator", "observed-data", "sighting", "identity", "marking-definition", "ipv4-addr",
            "network-traffic", "vulnerability", "course-of-action", "relationship", "incident",
            "extension-definition"} <= types


def test_api_key_through_token_auth(served: tuple[Env, ServerThread]) -> None:
    env, srv = served
    server = Server(f"{srv.url}/taxii2/", auth=TokenAuth(env.api_key("sz_resp")))
    assert [r.url.rsplit("/", 2)[1] for r in server.api_roots] == ["sz", "kunshan"]


# -- protocol edges, in process ---------------------------------------------------------------
def _h(env: Env, user: str = "nj_resp", **extra: str) -> dict[str, str]:
    return {**env.auth(user), "Accept": TAXII, **extra}


def _collection(env: Env, root: str, title: str, user: str = "nj_resp") -> str:
    cols = env.client.get(f"/taxii2/{root}/collections/", headers=_h(env, user)).json()["collections"]
    return next(c["id"] for c in cols if c["title"].startswith(title))


@pytest.mark.parametrize("accept", ["application/json", "text/html", "application/taxii+json;version=2.0"])
def test_wrong_accept_is_406_with_a_taxii_error(env: Env, accept: str) -> None:
    r = env.client.get("/taxii2/", headers={**env.auth("nj_resp"), "Accept": accept})
    assert r.status_code == 406
    assert r.headers["content-type"] == TAXII
    assert r.json()["http_status"] == "406"


def test_responses_carry_the_taxii_media_type(env: Env) -> None:
    r = env.client.get("/taxii2/nj/", headers=_h(env))
    assert r.status_code == 200
    assert r.headers["content-type"] == TAXII
    assert r.json()["versions"] == [TAXII]


def test_objects_added_after_and_range_headers(env: Env) -> None:
    env.app.state.sharing.sync_alerts()
    cid = _collection(env, "nj", "Alerts")
    first = env.client.get(f"/taxii2/nj/collections/{cid}/objects/", headers=_h(env), params={"limit": 5})
    assert first.status_code == 200
    body = first.json()
    assert body["more"] is True and len(body["objects"]) == 5
    last = first.headers["X-TAXII-Date-Added-Last"]
    assert first.headers["X-TAXII-Date-Added-First"] <= last
    rest = env.client.get(f"/taxii2/nj/collections/{cid}/objects/", headers=_h(env),
                          params={"added_after": last, "limit": 1000}).json()["objects"]
    page2 = env.client.get(f"/taxii2/nj/collections/{cid}/objects/", headers=_h(env),
                           params={"next": body["next"], "limit": 1000}).json()["objects"]
    assert [o["id"] for o in rest] == [o["id"] for o in page2]
    assert not {o["id"] for o in rest} & {o["id"] for o in body["objects"]}


def test_match_type_and_id(env: Env) -> None:
    env.app.state.sharing.sync_alerts()
    cid = _collection(env, "nj", "Alerts")
    url = f"/taxii2/nj/collections/{cid}/objects/"
    sightings = env.client.get(url, headers=_h(env), params={"match[type]": "sighting"}).json()["objects"]
    assert {o["type"] for o in sightings} == {"sighting"} and len(sightings) == 6
    one = env.client.get(url, headers=_h(env), params={"match[id]": sightings[0]["id"]}).json()["objects"]
    assert [o["id"] for o in one] == [sightings[0]["id"]]
    by_path = env.client.get(f"{url}{sightings[0]['id']}/", headers=_h(env)).json()["objects"]
    assert by_path == one


def test_a_new_marking_is_a_new_version_and_last_is_the_default(env: Env) -> None:
    env.app.state.sharing.sync_alerts()
    assert env.put("nj_resp", "/api/v1/alerts/al-wtp-jn-0/tlp", {"tlp": "red"}).status_code == 200
    cid = _collection(env, "nj", "Alerts")
    sighting = next(o for o in env.client.get(f"/taxii2/nj/collections/{cid}/objects/", headers=_h(env),
                                              params={"match[type]": "sighting", "limit": 1000}).json()["objects"]
                    if list(o["extensions"].values())[0]["alert_id"] == "al-wtp-jn-0")
    versions = env.client.get(f"/taxii2/nj/collections/{cid}/objects/{sighting['id']}/versions/", headers=_h(env)).json()
    assert len(versions["versions"]) == 2
    assert sighting["modified"] == max(versions["versions"])
    assert sighting["object_marking_refs"] == ["marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1"]
    every = env.client.get(f"/taxii2/nj/collections/{cid}/objects/{sighting['id']}/", headers=_h(env),
                           params={"match[version]": "all"}).json()["objects"]
    assert len(every) == 2


def test_inbox_accepts_valid_objects_and_reports_the_rest(env: Env) -> None:
    cid = _collection(env, "wtp-jn", "Received", user="sensor_wtp")
    good = stix2.Indicator(pattern="[ipv4-addr:value = '10.9.9.9']", pattern_type="stix",
                           valid_from="2026-01-01T00:00:00Z", object_marking_refs=[stix2.TLP_GREEN.id])
    envelope = {"objects": [json.loads(good.serialize()), {"type": "indicator", "id": "indicator--not-a-uuid"}]}
    r = env.client.post(f"/taxii2/wtp-jn/collections/{cid}/objects/", json=envelope,
                        headers=_h(env, "sensor_wtp", **{"Content-Type": TAXII}))
    assert r.status_code == 202
    status = r.json()
    assert (status["total_count"], status["success_count"], status["failure_count"]) == (2, 1, 1)
    again = env.client.get(f"/taxii2/wtp-jn/status/{status['id']}/", headers=_h(env, "sensor_wtp"))
    assert again.json() == status
    got = env.client.get(f"/taxii2/jiangning/collections/{_collection(env, 'jiangning', 'Received', 'jn_resp')}/objects/",
                         headers=_h(env, "jn_resp"), params={"match[type]": "indicator"}).json()["objects"]
    assert [o["id"] for o in got] == [good.id]


def test_read_only_collections_refuse_writes(env: Env) -> None:
    cid = _collection(env, "nj", "Alerts")
    r = env.client.post(f"/taxii2/nj/collections/{cid}/objects/", json={"objects": []},
                        headers=_h(env, **{"Content-Type": TAXII}))
    assert r.status_code == 403


def test_post_with_another_media_type_is_415(env: Env) -> None:
    cid = _collection(env, "nj", "Received")
    r = env.client.post(f"/taxii2/nj/collections/{cid}/objects/", json={"objects": []}, headers=_h(env))
    assert r.status_code == 415


def test_sensors_cannot_read_collections(env: Env) -> None:
    cid = _collection(env, "wtp-jn", "Alerts", user="sensor_wtp")
    r = env.client.get(f"/taxii2/wtp-jn/collections/{cid}/objects/", headers=_h(env, "sensor_wtp"))
    assert r.status_code == 403


@pytest.mark.parametrize(("param", "value"), [("next", "abc"), ("added_after", "yesterday")])
def test_bad_paging_parameters_are_400(env: Env, param: str, value: str) -> None:
    cid = _collection(env, "nj", "Alerts")
    r = env.client.get(f"/taxii2/nj/collections/{cid}/objects/", headers=_h(env), params={param: value})
    assert r.status_code == 400


def test_unknown_collection_and_object_are_404(env: Env) -> None:
    assert env.client.get("/taxii2/nj/collections/00000000-0000-0000-0000-000000000000/", headers=_h(env)).status_code == 404
    cid = _collection(env, "nj", "Alerts")
    assert env.client.get(f"/taxii2/nj/collections/{cid}/objects/indicator--00000000-0000-4000-8000-000000000000/",
                          headers=_h(env)).status_code == 404


def test_enterprise_roots_of_other_cities_are_hidden(env: Env) -> None:
    assert set(ENTERPRISES) - SEES["wtp_officer"]
    r = env.client.get("/taxii2/", headers=_h(env, "wtp_officer"))
    assert r.json()["api_roots"] == ["/taxii2/wtp-jn/"]
