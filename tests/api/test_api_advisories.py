"""Advisories (通报预警) matched against inventories built from real captures.

Each enterprise's inventory is the asset map of one reference capture (pcaps/). Which
enterprises hold the snap7 CPU (order number 6ES7 315-2EH14-0AB0) is read from
pcaps/manifest.json: the captures whose traffic read the order number back from the PLC.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from apitest import NJ, PCAPS, SZ, Env, build_env

from assetmap import AssetMap
from icssa.pipeline import replay_events

CPU = "6ES7 315-2EH14-0AB0"
CAPTURES = {
    "wtp-jn": "s7_connect_szl",
    "chem-pk": "s7_szl_enumeration",
    "elec-ks": "s7_cpu_stop_restart",
    "steel-jn": "modbus_device_id",
    "pharma-sz": "s7_stop_start",  # an S7 PLC whose identity never crossed the wire
}
MANIFEST = json.loads((PCAPS / "manifest.json").read_text())["captures"]
HOLDERS = frozenset(
    org for org, cap in CAPTURES.items()
    if (MANIFEST[cap].get("identity") or {}).get("read_back", {}).get("order_number") == CPU
)


def inventory(org: str, capture: str) -> list[dict]:
    amap = AssetMap()
    for event in replay_events([PCAPS / f"{capture}.pcap"], organization=org):
        amap.observe(event)
    return [{**a, "organization": {"id": org}} for a in amap.assets()]


@pytest.fixture
def aenv(tmp_path: Path) -> Iterator[Env]:
    env = build_env(tmp_path, data=False)
    for org, cap in CAPTURES.items():
        env.store.put_assets(inventory(org, cap))
    env.store.refresh()
    yield env
    env.app.state.store.close()
    env.app.state.db.close()


def advisory(**kw: object) -> dict:
    body: dict = {"title": "SIMATIC S7-300 CPU 315-2 PN/DP denial of service", "cve": ["CVE-2016-3949"],
                  "severity": "high", "remediation": "Update to V3.2.12", "tlp": "amber",
                  "affected": [{"vendor": "Siemens", "products": [CPU]}]}
    body.update(kw)
    return body


def affected(env: Env, user: str, aid: int) -> dict[str, list[dict]]:
    r = env.get(user, f"/api/v1/advisories/{aid}/affected")
    assert r.status_code == 200
    return {e["org"]: e["assets"] for e in r.json()}


def test_the_manifest_names_three_holders() -> None:
    assert HOLDERS == {"wtp-jn", "chem-pk", "elec-ks"}


def test_province_advisory_lists_exactly_the_holders(aenv: Env) -> None:
    r = aenv.post("prov", "/api/v1/advisories", advisory())
    assert r.status_code == 201
    assert r.json()["affected_enterprises"] == len(HOLDERS)
    found = affected(aenv, "prov", r.json()["id"])
    assert set(found) == HOLDERS
    for org, assets in found.items():
        server = MANIFEST[CAPTURES[org]]["server"]["ip"]
        assert [(a["ip"], a["status"]) for a in assets] == [(server, "affected")]


def test_city_advisory_matches_only_its_own_enterprises(aenv: Env) -> None:
    r = aenv.post("nj_resp", "/api/v1/advisories", advisory())
    assert set(affected(aenv, "nj_resp", r.json()["id"])) == HOLDERS & NJ
    assert aenv.get("sz_resp", f"/api/v1/advisories/{r.json()['id']}").status_code == 404


@pytest.mark.parametrize(
    ("versions", "expected"),
    [([{"lt": "V3.2.12"}], HOLDERS), ([{"ge": "V3.2.0", "le": "V3.2.6"}], HOLDERS), ([{"ge": "V3.2.12"}], frozenset()),
     ([{"eq": "V3.X.6"}], HOLDERS)],
)
def test_version_ranges_decide(aenv: Env, versions: list[dict], expected: frozenset[str]) -> None:
    body = advisory(affected=[{"vendor": "Siemens", "products": [CPU], "versions": versions}])
    r = aenv.post("prov", "/api/v1/advisories", body)
    assert r.status_code == 201
    assert set(affected(aenv, "prov", r.json()["id"])) == expected


def test_product_pattern_and_vendor_alias(aenv: Env) -> None:
    body = advisory(affected=[{"vendor": "SIEMENS AG", "product_patterns": [r"^CPU\s*315"]}])
    r = aenv.post("prov", "/api/v1/advisories", body)
    assert set(affected(aenv, "prov", r.json()["id"])) == HOLDERS


def test_readers_see_only_their_enterprises_rows(aenv: Env) -> None:
    aid = aenv.post("prov", "/api/v1/advisories", advisory()).json()["id"]
    assert set(affected(aenv, "sz_resp", aid)) == HOLDERS & SZ
    assert set(affected(aenv, "wtp_officer", aid)) == {"wtp-jn"}
    assert set(affected(aenv, "auditor", aid)) == {"chem-pk", "elec-ks"}


def test_officer_acknowledges_and_reports_remediation(aenv: Env) -> None:
    aid = aenv.post("prov", "/api/v1/advisories", advisory()).json()["id"]
    r = aenv.put("wtp_officer", f"/api/v1/advisories/{aid}/enterprises/wtp-jn",
                 {"acknowledged": True, "remediation": "in_progress", "note": "firmware ordered"})
    assert r.status_code == 200
    assert (r.json()["acknowledged"], r.json()["remediation"], r.json()["updated_by"]) == (True, "in_progress", "wtp_officer")
    row = next(e for e in aenv.get("prov", f"/api/v1/advisories/{aid}/affected").json() if e["org"] == "wtp-jn")
    assert (row["acknowledged"], row["remediation"], row["note"]) == (True, "in_progress", "firmware ordered")


def test_officer_cannot_answer_for_another_enterprise(aenv: Env) -> None:
    aid = aenv.post("prov", "/api/v1/advisories", advisory()).json()["id"]
    r = aenv.put("wtp_officer", f"/api/v1/advisories/{aid}/enterprises/chem-pk", {"acknowledged": True})
    assert r.status_code == 404


def test_rematch_finds_a_new_holder(aenv: Env) -> None:
    aid = aenv.post("prov", "/api/v1/advisories", advisory()).json()["id"]
    aenv.store.put_assets(inventory("steel-jn", "s7_szl_enumeration"))
    aenv.store.refresh()
    r = aenv.post("prov", f"/api/v1/advisories/{aid}/match")
    assert r.status_code == 200
    assert set(affected(aenv, "prov", aid)) == HOLDERS | {"steel-jn"}


def test_officers_cannot_publish(aenv: Env) -> None:
    assert aenv.post("wtp_officer", "/api/v1/advisories", advisory()).status_code == 403


@pytest.mark.parametrize(
    "bad",
    [{"vendor": "Siemens", "product_patterns": ["("]}, {"vendor": "Siemens", "products": [CPU], "versions": [{"lt": "latest"}]},
     {"vendor": "Siemens", "products": [CPU], "versions": [{"before": "V1"}]}],
)
def test_unmatchable_advisories_are_422(aenv: Env, bad: dict) -> None:
    assert aenv.post("prov", "/api/v1/advisories", advisory(affected=[bad])).status_code == 422


def test_publishing_is_audited_with_the_affected_enterprises(aenv: Env) -> None:
    aid = aenv.post("prov", "/api/v1/advisories", advisory()).json()["id"]
    row = aenv.db.one("SELECT actor, orgs FROM audit WHERE resource = 'advisory' AND resource_id = ?", (str(aid),))
    assert row["actor"] == "prov"
    assert set(json.loads(row["orgs"])) == HOLDERS | {"js"}
