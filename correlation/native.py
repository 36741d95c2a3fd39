"""The rules as the native correlation engine reads them (``native/crates/correlation``).

Rules are loaded and checked by the Python loader (``correlation.loader``): a broken file is
reported in ``errors`` (``file:line: message``) and left out, exactly as
``Engine.from_directory`` leaves it out. ``document(rules, errors)`` gives the rest as one
JSON-ready document, read by ``Engine::from_rules``:

    {"format": 1, "datasets": [...], "attack": {"framework", "version"}, "rules": [RULE, ...],
     "errors": [...]}

A RULE holds what the engine and the alert documents use: ``id``, ``title``, ``description``,
``reference``, ``ruleset``, ``version`` (as the alert writes it), ``kind``, ``severity``,
``tags``, the ATT&CK ``technique`` / ``tactic`` lists (ids, names, references), ``match`` (a
condition, below), ``threshold`` / ``sequence`` / ``first_seen`` / ``rate`` (null when not that
kind), ``aggregate`` and ``suppress`` ``{window, group_by}``, and ``shares``: the index of the
earlier rule whose detector this one shares (``engine._signature`` equal), else null.

A condition is ``{"group": "all"|"any"|"not", "children": [...]}`` or a field test
``{"field", "id", "exists", "negate", "scalar_only", "ops"}``; ``id`` is equal for two field
tests exactly when their Python ``key()`` is. Literals are JSON values, except integers beyond
64 bits (``{"int": "digits"}``) and non-finite floats (``{"float": "inf"}``). Networks of
``cidr`` tests are parsed here: ``[version, network, netmask]`` (the integers as decimal text).
"""

from __future__ import annotations

import ipaddress
import math
from collections.abc import Sequence
from typing import Any

from correlation import attack
from correlation.conditions import Cidr, Cond, Eq, FieldCond, In, Op, Range, Regex, StrOp
from correlation.engine import _signature
from correlation.model import LoadError, Rule
from correlation.vocab import DATASETS

FORMAT = 1
_I64 = (-(1 << 63), (1 << 64) - 1)


def literal(v: Any) -> Any:
    """A rule literal (str, bool, int, float) as JSON that reads back as the same value."""
    if v.__class__ is int and not _I64[0] <= v <= _I64[1]:
        return {"int": str(v)}
    if v.__class__ is float and not math.isfinite(v):
        return {"float": repr(v)}
    return v


def op_doc(op: Op) -> dict[str, Any]:
    if isinstance(op, Eq):
        return {"op": "eq", "value": literal(op.value)}
    if isinstance(op, In):
        def order(vs: frozenset[Any]) -> list[Any]:
            return [literal(v) for v in sorted(vs, key=lambda v: (v.__class__.__name__, repr(v)))]
        return {"op": "in", "bools": order(op.bools), "others": order(op.others)}
    if isinstance(op, Range):
        return {"op": "range", "bounds": [[name, literal(b)] for name, b in op.bounds.items()]}
    if isinstance(op, Regex):
        return {"op": "regex", "pattern": op.pattern}
    if isinstance(op, Cidr):
        return {"op": "cidr", "networks": [network(n) for n in op.networks]}
    if isinstance(op, StrOp):
        return {"op": op.kind, "value": op.value}
    raise TypeError(f"unknown operator {op!r}")


def network(n: ipaddress.IPv4Network | ipaddress.IPv6Network) -> list[Any]:
    return [n.version, str(int(n.network_address)), str(int(n.netmask))]


class Conds:
    """Condition trees as JSON; field tests get one id per distinct Python ``key()``."""

    def __init__(self) -> None:
        self.ids: dict[tuple[Any, ...], int] = {}

    def doc(self, cond: Cond) -> dict[str, Any]:
        if isinstance(cond, FieldCond):
            fid = self.ids.setdefault(cond.key(), len(self.ids))
            return {
                "field": cond.path, "id": fid, "exists": cond.exists, "negate": cond.negate,
                "scalar_only": cond.scalar_only, "ops": [op_doc(op) for op in cond.ops],
            }
        return {"group": cond.kind, "children": [self.doc(c) for c in cond.children]}  # type: ignore[attr-defined]


def _num(x: float) -> Any:
    return literal(float(x))


def rule_doc(rule: Rule, conds: Conds, shares: int | None) -> dict[str, Any]:
    th, seq, fs, rate = rule.threshold, rule.sequence, rule.first_seen, rule.rate
    return {
        "id": rule.id,
        "title": rule.title,
        "description": rule.description,
        "reference": rule.references[0],
        "ruleset": rule.ruleset,
        "version": str(rule.version),
        "kind": rule.kind,
        "severity": rule.severity,
        "tags": list(rule.tags),
        "technique": {
            "id": [t.id for t in rule.techniques],
            "name": [t.name for t in rule.techniques],
            "reference": [attack.technique_url(t.id) for t in rule.techniques],
        },
        "tactic": {
            "id": [t.id for t in rule.tactics],
            "name": [t.name for t in rule.tactics],
            "reference": [attack.tactic_url(t.id) for t in rule.tactics],
        },
        "match": conds.doc(rule.match),
        "threshold": None if th is None else {
            "count": th.count, "window": _num(th.window), "group_by": list(th.group_by), "distinct": th.distinct,
        },
        "sequence": None if seq is None else {
            "window": _num(seq.window), "group_by": list(seq.group_by),
            "steps": [{"name": st.name, "match": conds.doc(st.match)} for st in seq.steps],
        },
        "first_seen": None if fs is None else {"key": list(fs.key), "known": list(fs.known)},
        "rate": None if rate is None else {
            "window": _num(rate.window), "group_by": list(rate.group_by), "factor": _num(rate.factor),
            "min_count": literal(rate.min_count),
        },
        "aggregate": {"window": _num(rule.aggregate_window), "group_by": list(rule.aggregate_group_by)},
        "suppress": {"window": _num(rule.suppress_window), "group_by": list(rule.suppress_group_by)},
        "shares": shares,
    }


def document(rules: Sequence[Rule], errors: Sequence[LoadError] = ()) -> dict[str, Any]:
    """The JSON document of a rule set (see the module docstring)."""
    conds = Conds()
    first: dict[tuple[Any, ...], int] = {}
    out = []
    for i, rule in enumerate(rules):
        at = first.setdefault(_signature(rule), i)
        out.append(rule_doc(rule, conds, at if at != i else None))
    return {
        "format": FORMAT,
        "datasets": sorted(DATASETS),
        "attack": {"framework": attack.FRAMEWORK, "version": attack.VERSION},
        "rules": out,
        "errors": [str(e) for e in errors],
    }
