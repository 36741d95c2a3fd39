"""STIX 2.1 export, built with the ``stix2`` library (so every object is valid when made).

| platform thing | STIX objects |
|---|---|
| organization (tree node) | ``identity`` (class organization) |
| this platform | ``identity`` (class system), ``created_by_ref`` of everything we make |
| alert | ``indicator`` (pattern on the offending flow), ``observed-data`` over ``ipv4-addr``/``ipv6-addr`` and ``network-traffic`` SCOs, ``sighting`` of the indicator where sighted = the enterprise |
| advisory (通报预警) | ``vulnerability``, ``course-of-action`` with a ``mitigates`` relationship, one ``sighting`` of the vulnerability per affected enterprise |
| incident | ``incident`` with ``related-to`` relationships to its alerts' indicators |
| marking | TLP 2.0 ``marking-definition`` objects (the OASIS ids and extension) |

ids are deterministic (UUIDv5 in our namespace; SCOs by STIX's own rule), so re-exporting the
same alert gives the same objects. Platform details without a STIX property (rule id,
severity, evidence event ids, region path) ride in a property extension defined by our own
``extension-definition``. ATT&CK for ICS techniques are external references
(``mitre-ics-attack``) and tactics kill-chain phases.
"""

from __future__ import annotations

import ipaddress
import json
import uuid
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from stix2 import v21

from icssa.events import get

NS = uuid.UUID("18c43abe-79f1-49c8-8530-b80f9366bfa7")
#: created/modified of the objects that never change (identities, the extension definition)
FIXED_TIME = "2024-01-01T00:00:00.000Z"
TLP2_EXTENSION = "extension-definition--60a3c5c5-0d10-413e-aab3-9e08dde9e88d"
TLP_IDS = {
    "clear": "marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487",
    "green": "marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb",
    "amber": "marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421",
    "amber+strict": "marking-definition--939a9414-2ddd-4d32-a0cd-375ea402b003",
    "red": "marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1",
}
TLP_BY_ID = {v: k for k, v in TLP_IDS.items()}
#: most to least shareable
TLP_ORDER = ("clear", "green", "amber", "amber+strict", "red")
ATTACK_SOURCE = "mitre-ics-attack"
EXTENSION_SCHEMA = "https://icssa.example/schemas/stix-icssa-extension.json"


def sid(stix_type: str, key: str) -> str:
    return f"{stix_type}--{uuid.uuid5(NS, key)}"


EXTENSION_ID = sid("extension-definition", "icssa-properties-1")


def _plain(obj: Any) -> dict[str, Any]:
    result: dict[str, Any] = json.loads(obj.serialize())
    return result


def tlp_marking(level: str) -> dict[str, Any]:
    """The TLP 2.0 marking definition (OASIS cti-stix-common-objects) for a level."""
    return _plain(
        v21.MarkingDefinition(
            id=TLP_IDS[level],
            created="2022-10-01T00:00:00.000Z",
            name=f"TLP:{level.upper()}",
            extensions={TLP2_EXTENSION: {"extension_type": "property-extension", "tlp_2_0": level}},
        )
    )


def tlp_of(obj: Mapping[str, Any]) -> str | None:
    """The most restrictive TLP 2.0 level among an object's markings (None: unmarked)."""
    levels = [TLP_BY_ID[m] for m in obj.get("object_marking_refs") or () if m in TLP_BY_ID]
    return max(levels, key=TLP_ORDER.index) if levels else None


def platform_identity_id(platform: str) -> str:
    return sid("identity", f"platform:{platform}")


def platform_identity(platform: str) -> dict[str, Any]:
    return _plain(
        v21.Identity(
            id=platform_identity_id(platform), created=FIXED_TIME, modified=FIXED_TIME,
            name=platform, identity_class="system",
            description="icssa industrial information-security situational-awareness platform",
        )
    )


def org_identity_id(org_id: str) -> str:
    return sid("identity", f"org:{org_id}")


def org_identity(org_id: str, name: str, level: str, path: str, platform: str) -> dict[str, Any]:
    return _plain(
        v21.Identity(
            id=org_identity_id(org_id), created=FIXED_TIME, modified=FIXED_TIME, name=name,
            identity_class="organization", created_by_ref=platform_identity_id(platform),
            description=f"{level} {path}", roles=[level],
        )
    )


def extension_definition(platform: str) -> dict[str, Any]:
    return _plain(
        v21.ExtensionDefinition(
            id=EXTENSION_ID, created=FIXED_TIME, modified=FIXED_TIME,
            created_by_ref=platform_identity_id(platform), name="icssa properties",
            description="icssa platform properties: rule id, severity, organization, region, evidence",
            schema=EXTENSION_SCHEMA, version="1.0", extension_types=["property-extension"],
        )
    )


def _ext(**values: Any) -> dict[str, Any]:
    return {EXTENSION_ID: {"extension_type": "property-extension", **{k: v for k, v in values.items() if v is not None}}}


def _addr(ip: str, marking: list[str]) -> Any:
    try:
        version = ipaddress.ip_address(ip).version
    except ValueError:
        return None
    cls = v21.IPv4Address if version == 4 else v21.IPv6Address
    return cls(value=ip, object_marking_refs=marking)


def _quote(value: str) -> str:
    return value.replace("\\", "\\\\").replace("'", "\\'")


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, list | tuple) else [value]


def alert_objects(
    alert: Mapping[str, Any], tlp: str, org: tuple[str, str, str, str] | None, platform: str
) -> list[dict[str, Any]]:
    """STIX objects of one alert; ``org`` is (id, name, level, path) of its enterprise."""
    alert_id = str(get(alert, "event.id"))
    marking = [TLP_IDS[tlp]]
    me = platform_identity_id(platform)
    ts = get(alert, "@timestamp")
    first = get(alert, "event.start") or ts
    last = get(alert, "event.end") or first
    count = get(alert, "event.count")
    count = count if isinstance(count, int) and count >= 1 else 1
    src, dst = get(alert, "source.ip"), get(alert, "destination.ip")
    dport, sport = get(alert, "destination.port"), get(alert, "source.port")
    dataset = str(get(alert, "event.dataset") or "")
    severity = get(alert, "event.severity")
    rule_id = get(alert, "rule.id")
    techniques = [str(t) for t in _as_list(get(alert, "threat.technique.id"))]
    technique_refs = _as_list(get(alert, "threat.technique.reference"))
    tactics = [str(t) for t in _as_list(get(alert, "threat.tactic.name"))]
    refs = [
        {"source_name": ATTACK_SOURCE, "external_id": t, **({"url": technique_refs[i]} if i < len(technique_refs) else {})}
        for i, t in enumerate(techniques)
    ]
    if get(alert, "rule.reference"):
        refs.append({"source_name": "icssa-rule", "external_id": str(rule_id), "url": str(get(alert, "rule.reference"))})

    objects: list[Any] = []
    terms: list[str] = []
    src_obj = _addr(src, marking) if isinstance(src, str) else None
    dst_obj = _addr(dst, marking) if isinstance(dst, str) else None
    traffic_refs: list[str] = []
    if src_obj is not None:
        objects.append(src_obj)
        terms.append(f"network-traffic:src_ref.value = '{_quote(src)}'")
    if dst_obj is not None:
        objects.append(dst_obj)
        terms.append(f"network-traffic:dst_ref.value = '{_quote(dst)}'")
    if isinstance(dport, int) and 0 <= dport <= 65535:
        terms.append(f"network-traffic:dst_port = {dport}")
    if src_obj is not None or dst_obj is not None:
        traffic = v21.NetworkTraffic(
            src_ref=src_obj.id if src_obj is not None else None,
            dst_ref=dst_obj.id if dst_obj is not None else None,
            src_port=sport if isinstance(sport, int) and 0 <= sport <= 65535 else None,
            dst_port=dport if isinstance(dport, int) and 0 <= dport <= 65535 else None,
            protocols=[p for p in ("tcp", dataset.split(".")[0]) if p],
            start=first, object_marking_refs=marking,
        )
        objects.append(traffic)
        traffic_refs = [traffic.id] + [o.id for o in (src_obj, dst_obj) if o is not None]
    pattern = "[" + " AND ".join(terms) + "]" if terms else f"[x-icssa-alert:id = '{_quote(alert_id)}']"
    indicator = v21.Indicator(
        id=sid("indicator", f"alert:{alert_id}"), created=first, modified=first, created_by_ref=me,
        name=str(get(alert, "rule.name") or rule_id or "icssa alert"),
        description=str(get(alert, "rule.description") or get(alert, "message") or ""),
        indicator_types=["malicious-activity" if isinstance(severity, int) and severity >= 70 else "anomalous-activity"],
        pattern=pattern, pattern_type="stix", valid_from=first,
        kill_chain_phases=[
            {"kill_chain_name": ATTACK_SOURCE, "phase_name": t.lower().replace(" ", "-")} for t in tactics
        ] or None,
        external_references=refs or None, labels=[t.lower() for t in techniques] or None,
        object_marking_refs=marking, allow_custom=False,
    )
    objects.append(indicator)
    observed_refs: list[str] = []
    if traffic_refs:
        observed = v21.ObservedData(
            id=sid("observed-data", f"alert:{alert_id}"), created=ts or first, modified=ts or first,
            created_by_ref=me, first_observed=first, last_observed=last, number_observed=count,
            object_refs=traffic_refs, object_marking_refs=marking,
        )
        objects.append(observed)
        observed_refs = [observed.id]
    sighting = v21.Sighting(
        id=sid("sighting", f"alert:{alert_id}"), created=ts or first, modified=ts or first, created_by_ref=me,
        sighting_of_ref=indicator.id, observed_data_refs=observed_refs or None,
        where_sighted_refs=[org_identity_id(org[0])] if org else None,
        first_seen=first, last_seen=last, count=count,
        description=str(get(alert, "message") or get(alert, "rule.name") or ""),
        external_references=refs or None, object_marking_refs=marking,
        extensions=_ext(
            alert_id=alert_id, rule_id=rule_id, severity=severity if isinstance(severity, int) else None,
            organization=org[0] if org else get(alert, "organization.id"), region=org[3] if org else None,
            related_events=[str(e) for e in _as_list(get(alert, "related.events"))[:100]] or None,
        ),
    )
    objects.append(sighting)
    return [_plain(o) for o in objects]


def advisory_objects(
    advisory: Mapping[str, Any], tlp: str, affected_orgs: Mapping[str, int], platform: str
) -> list[dict[str, Any]]:
    """Vulnerability, course of action and per-enterprise sightings of one advisory.

    ``advisory``: id, ref, title, description, cve, cnvd, remediation, references, created,
    updated, org; ``affected_orgs``: enterprise id -> matched assets.
    """
    key = f"advisory:{advisory['id']}"
    marking = [TLP_IDS[tlp]]
    me = platform_identity_id(platform)
    created, updated = advisory["created"], advisory.get("updated") or advisory["created"]
    refs: list[dict[str, Any]] = [{"source_name": "icssa-advisory", "external_id": str(advisory["ref"])}]
    refs += [{"source_name": "cve", "external_id": c} for c in advisory.get("cve") or ()]
    refs += [{"source_name": "cnvd", "external_id": c} for c in advisory.get("cnvd") or ()]
    refs += [{"source_name": "reference", "url": u} for u in advisory.get("references") or ()]
    vuln = v21.Vulnerability(
        id=sid("vulnerability", key), created=created, modified=updated, created_by_ref=me,
        name=(advisory.get("cve") or [advisory["title"]])[0], description=advisory.get("description") or advisory["title"],
        external_references=refs, object_marking_refs=marking,
        extensions=_ext(organization=advisory.get("org"), severity=advisory.get("severity")),
    )
    objects: list[Any] = [vuln]
    if advisory.get("remediation"):
        coa = v21.CourseOfAction(
            id=sid("course-of-action", key), created=created, modified=updated, created_by_ref=me,
            name=f"Remediation: {advisory['title']}"[:250], description=advisory["remediation"],
            object_marking_refs=marking,
        )
        rel = v21.Relationship(
            id=sid("relationship", f"{key}:mitigates"), created=created, modified=updated, created_by_ref=me,
            relationship_type="mitigates", source_ref=coa.id, target_ref=vuln.id, object_marking_refs=marking,
        )
        objects += [coa, rel]
    for org_id, assets in sorted(affected_orgs.items()):
        objects.append(
            v21.Sighting(
                id=sid("sighting", f"{key}:{org_id}"), created=created, modified=updated, created_by_ref=me,
                sighting_of_ref=vuln.id, where_sighted_refs=[org_identity_id(org_id)], count=max(1, assets),
                description=f"{assets} asset(s) match the advisory's affected products and versions",
                object_marking_refs=marking,
            )
        )
    return [_plain(o) for o in objects]


def incident_objects(incident: Mapping[str, Any], alert_ids: Sequence[str], tlp: str, platform: str) -> list[dict[str, Any]]:
    """The incident and its ``related-to`` links to the indicators of its alerts."""
    key = f"incident:{incident['id']}"
    marking = [TLP_IDS[tlp]]
    me = platform_identity_id(platform)
    created, updated = incident["created"], incident["updated"]
    inc = v21.Incident(
        id=sid("incident", key), created=created, modified=updated, created_by_ref=me,
        name=incident["title"], description=incident.get("description") or incident["title"],
        object_marking_refs=marking,
        extensions=_ext(organization=incident["org"], severity=incident.get("severity"), status=incident["status"]),
    )
    objects: list[Any] = [inc]
    for aid in alert_ids:
        objects.append(
            v21.Relationship(
                id=sid("relationship", f"{key}:alert:{aid}"), created=created, modified=created, created_by_ref=me,
                relationship_type="related-to", source_ref=inc.id, target_ref=sid("indicator", f"alert:{aid}"),
                object_marking_refs=marking,
            )
        )
    return [_plain(o) for o in objects]


def version_of(obj: Mapping[str, Any]) -> str:
    """The TAXII version of an object: modified, else created, else '' (SCOs: date added)."""
    return str(obj.get("modified") or obj.get("created") or "")


def bundle(objects: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    return {"type": "bundle", "id": f"bundle--{uuid.uuid4()}", "objects": list(objects)}
