"""The alert document (DESIGN.md's alert contract, ECS names) built from an open alert.

What depends only on the rule (its ``rule`` object, ATT&CK techniques and tactics with their
URLs, tags) is prepared once per rule in ``Parts``; each document still gets containers of its
own, so a consumer may change one document without touching the others.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from correlation import attack
from correlation.model import Rule

if TYPE_CHECKING:
    from correlation.alerts import OpenAlert

Key = tuple[Any, ...]


class Parts:
    """The parts of a rule's alert documents that never change."""

    __slots__ = ("rule", "fields", "technique", "tactic", "tags")

    def __init__(self, rule: Rule) -> None:
        self.rule = rule
        self.fields: dict[str, Any] = {
            "id": rule.id,
            "name": rule.title,
            "description": rule.description,
            "reference": rule.references[0],
            "ruleset": rule.ruleset,
            "version": str(rule.version),
            "category": rule.kind,
        }
        techniques = rule.techniques
        self.technique = (
            [t.id for t in techniques],
            [t.name for t in techniques],
            [attack.technique_url(t.id) for t in techniques],
        )
        self.tactic = (
            [t.id for t in rule.tactics],
            [t.name for t in rule.tactics],
            [attack.tactic_url(t.id) for t in rule.tactics],
        )
        self.tags = list(rule.tags)


def alert_id(rule_id: str, key: Key, first: str) -> str:
    return hashlib.blake2b(f"{rule_id}\x00{key!r}\x00{first}".encode(), digest_size=16).hexdigest()


def _end(obj: Mapping[str, Any]) -> dict[str, Any]:
    """``ip`` and ``port`` of an alert's source or destination (those it has)."""
    out = {}
    if "ip" in obj:
        out["ip"] = obj["ip"]
    if "port" in obj:
        out["port"] = obj["port"]
    return out


def document(a: OpenAlert, parts: Parts | None = None) -> dict[str, Any]:
    """The alert as DESIGN.md's contract describes it (ECS names)."""
    rule = a.rule
    if parts is None or parts.rule is not rule:
        parts = Parts(rule)
    evidence = a.evidence
    first = evidence[0] if evidence else a.start_ts
    src = a.src
    dst = a.dst
    src_ip = src.get("ip")
    dst_ip = dst.get("ip")
    count = a.count
    key = a.key
    tech = parts.technique
    tact = parts.tactic
    group = dict(zip(a.group, key[1:], strict=False))
    for name, value in group.items():
        if isinstance(value, tuple):
            group[name] = _plain(value)
    extra: dict[str, Any] = {
        "count": count,
        "evidence_truncated": count > len(evidence),
        "group": group,
        "attack_version": attack.VERSION,
    }
    doc: dict[str, Any] = {
        "@timestamp": a.trigger_ts,
        "message": f"{rule.title}: {src_ip or '?'} -> {dst_ip or '?'} ({count} event{'s' if count != 1 else ''})",
        "event": {
            "id": alert_id(rule.id, key, first),
            "kind": "alert",
            "dataset": "icssa.alert",
            "module": "correlation",
            "severity": rule.severity,
            "action": rule.id,
            "count": count,
            "start": a.start_ts,
            "end": a.end_ts,
        },
        "rule": parts.fields.copy(),
        "threat": {
            "framework": attack.FRAMEWORK,
            "technique": {"id": tech[0][:], "name": tech[1][:], "reference": tech[2][:]},
            "tactic": {"id": tact[0][:], "name": tact[1][:], "reference": tact[2][:]},
        },
        "source": _end(src),
        "destination": _end(dst),
        "related": {"events": evidence[:], "ip": sorted(a.ips)},
        "organization": {"id": a.org},
        "observer": {"name": a.observer},
        "tags": parts.tags[:],
        "icssa": {"alert": extra},
    }
    if a.community_id:
        doc["network"] = {"community_id": a.community_id}
    if a.values:
        extra["distinct"] = a.distinct
        extra["values"] = [_plain(v) for v in a.values]
    if a.steps:
        extra["sequence"] = a.steps[:]
    return doc


def _plain(value: Any) -> Any:
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    return value
