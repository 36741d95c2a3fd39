"""STIX 2.1 export: every object parses with stix2, TLP 2.0 markings are the OASIS ones,
ids are deterministic, and the upstream policy follows the marking."""

from __future__ import annotations

from pathlib import Path

import pytest
import stix2
from apitest import make_alert, test_settings

from api import stix
from api.sharing import may_go_upstream

# TLP 2.0 marking definition ids, from OASIS cti-stix-common-objects (extension-definition-specifications/tlp-2.0)
OASIS_TLP = {
    "clear": "marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487",
    "green": "marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb",
    "amber": "marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421",
    "amber+strict": "marking-definition--939a9414-2ddd-4d32-a0cd-375ea402b003",
    "red": "marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1",
}
ORG = ("wtp-jn", "Jiangning water treatment", "enterprise", "js/nj/jiangning/wtp-jn")


@pytest.mark.parametrize("level", sorted(OASIS_TLP))
def test_tlp2_markings_are_the_oasis_objects(level: str) -> None:
    m = stix.tlp_marking(level)
    parsed = stix2.parse(m)
    assert (parsed.id, parsed.name) == (OASIS_TLP[level], f"TLP:{level.upper()}")
    assert m["extensions"]["extension-definition--60a3c5c5-0d10-413e-aab3-9e08dde9e88d"] == {
        "extension_type": "property-extension", "tlp_2_0": level}


def test_alert_objects_parse_strictly_and_are_marked() -> None:
    objects = stix.alert_objects(make_alert("wtp-jn", 1), "green", ORG, "icssa-test")
    for obj in objects:
        stix2.parse(obj)  # allow_custom=False: nothing outside the spec
        assert obj["object_marking_refs"] == [OASIS_TLP["green"]]
    assert [o["type"] for o in objects] == ["ipv4-addr", "ipv4-addr", "network-traffic", "indicator", "observed-data", "sighting"]


def test_alert_indicator_and_sighting_content() -> None:
    objects = {o["type"]: o for o in stix.alert_objects(make_alert("wtp-jn", 1), "amber", ORG, "icssa-test")}
    ind, sig = objects["indicator"], objects["sighting"]
    assert ind["pattern"] == ("[network-traffic:src_ref.value = '10.0.1.20' AND network-traffic:dst_ref.value = '10.0.1.10' "
                              "AND network-traffic:dst_port = 502]")
    assert ind["indicator_types"] == ["malicious-activity"]  # severity 75
    assert [r["external_id"] for r in ind["external_references"]] == ["T0858", "T0816"]
    assert ind["kill_chain_phases"] == [{"kill_chain_name": "mitre-ics-attack", "phase_name": "execution"}]
    assert sig["sighting_of_ref"] == ind["id"] and sig["count"] == 2
    assert sig["where_sighted_refs"] == [stix.org_identity_id("wtp-jn")]
    assert list(sig["extensions"].values())[0] == {
        "extension_type": "property-extension", "alert_id": "al-wtp-jn-1", "rule_id": "s7-plc-stop", "severity": 75,
        "organization": "wtp-jn", "region": "js/nj/jiangning/wtp-jn", "related_events": ["ev-wtp-jn-1"]}
    assert objects["observed-data"]["number_observed"] == 2


def test_ids_are_deterministic() -> None:
    a = stix.alert_objects(make_alert("wtp-jn", 0), "green", ORG, "p")
    b = stix.alert_objects(make_alert("wtp-jn", 0), "green", ORG, "p")
    assert [o["id"] for o in a] == [o["id"] for o in b]
    assert a[3]["id"] != stix.alert_objects(make_alert("wtp-jn", 1), "green", ORG, "p")[3]["id"]


def test_ipv6_and_address_less_alerts() -> None:
    v6 = make_alert("wtp-jn", 0)
    v6["source"]["ip"], v6["destination"]["ip"] = "fd00::20", "fd00::10"
    assert {o["type"] for o in stix.alert_objects(v6, "clear", ORG, "p")} >= {"ipv6-addr"}
    bare = make_alert("wtp-jn", 0)
    del bare["source"], bare["destination"]
    objects = stix.alert_objects(bare, "clear", None, "p")
    for obj in objects:
        stix2.parse(obj)
    assert [o["type"] for o in objects] == ["indicator", "sighting"]


def test_advisory_objects() -> None:
    adv = {"id": 7, "ref": "ICSSA-ADV-000007", "title": "S7-300 DoS", "description": "crafted packets",
           "cve": ["CVE-2016-3949"], "cnvd": [], "remediation": "update", "references": ["https://example.org/a"],
           "created": "2026-05-01T00:00:00.000Z", "updated": "2026-05-02T00:00:00.000Z", "org": "js", "severity": "high"}
    objects = stix.advisory_objects(adv, "amber", {"wtp-jn": 1, "chem-pk": 2}, "p")
    for obj in objects:
        stix2.parse(obj)
    by_type: dict[str, list[dict]] = {}
    for o in objects:
        by_type.setdefault(o["type"], []).append(o)
    vuln = by_type["vulnerability"][0]
    assert vuln["name"] == "CVE-2016-3949"
    assert {"source_name": "cve", "external_id": "CVE-2016-3949"} in vuln["external_references"]
    rel = by_type["relationship"][0]
    assert (rel["relationship_type"], rel["source_ref"], rel["target_ref"]) == ("mitigates", by_type["course-of-action"][0]["id"], vuln["id"])
    assert sorted((s["where_sighted_refs"][0], s["count"]) for s in by_type["sighting"]) == sorted(
        [(stix.org_identity_id("wtp-jn"), 1), (stix.org_identity_id("chem-pk"), 2)])


def test_identities_and_extension_definition_parse() -> None:
    for obj in (stix.platform_identity("p"), stix.org_identity("nj", "Nanjing", "city", "js/nj", "p"), stix.extension_definition("p")):
        stix2.parse(obj)


@pytest.mark.parametrize(("objs", "level"), [([], None), (["green"], "green"), (["green", "red"], "red"),
                                             (["amber+strict", "amber"], "amber+strict")])
def test_tlp_of_takes_the_most_restrictive(objs: list[str], level: str | None) -> None:
    assert stix.tlp_of({"object_marking_refs": [OASIS_TLP[o] for o in objs]}) == level


@pytest.mark.parametrize(
    ("tlp", "amber", "strict", "goes"),
    [("clear", False, False, True), ("green", False, False, True), ("amber", True, False, True), ("amber", False, False, False),
     ("amber+strict", True, False, False), ("amber+strict", True, True, True), ("red", True, True, False)],
)
def test_upstream_policy(tmp_path: Path, tlp: str, amber: bool, strict: bool, goes: bool) -> None:
    s = test_settings(tmp_path, forward_amber=amber, forward_amber_strict=strict)
    assert may_go_upstream(tlp, s) is goes
