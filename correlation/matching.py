"""From a rule's ``match`` block to a condition tree, and the transforms the engine applies.

``parse_match`` builds the tree (``correlation.conditions``) from schema-checked YAML data and
raises ``RuleError`` naming the offending key. ``index_values`` pulls the dataset/action
values a rule pins (the engine's index); ``specialize`` decides, once per (dataset, action)
bucket, the parts of a condition that depend only on what the bucket already knows.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from correlation.conditions import (
    TRUE,
    Cidr,
    Cond,
    Eq,
    FieldCond,
    Group,
    In,
    Op,
    Path,
    Range,
    Regex,
    RuleError,
    StrOp,
    is_num,
)
from correlation.fields import FIELD_RE, MISSING

_VALUE_KEYS = {"eq", "in", "gt", "gte", "lt", "lte", "regex", "cidr", "exists", "contains", "startswith", "endswith", "not"}
GROUP_KEYS = ("any", "all", "not")


def _scalar(v: Any) -> bool:
    return isinstance(v, str | int | float | bool)


def parse_match(data: Any, path: Path) -> Cond:
    """Compile a ``match`` mapping (already schema-checked) into a condition tree."""
    if data is None:
        return TRUE
    if not isinstance(data, Mapping):
        raise RuleError(path, "a match block is a mapping of field -> condition")
    children: list[Cond] = []
    for key, value in data.items():
        where = (*path, key)
        if key in ("any", "all"):
            if not isinstance(value, list) or not value:
                raise RuleError(where, f"'{key}' takes a non-empty list of match blocks")
            children.append(Group(key, [parse_match(v, (*where, i)) for i, v in enumerate(value)]))
        elif key == "not":
            children.append(Group("not", [parse_match(value, where)]))
        elif isinstance(key, str) and FIELD_RE.match(key):
            children.append(parse_field(key, value, where))
        else:
            raise RuleError(where, f"'{key}' is not a field name (dotted lower-case) nor any/all/not")
    return children[0] if len(children) == 1 else Group("all", children)


def parse_field(field: str, value: Any, path: Path) -> FieldCond:
    if value is None:
        raise RuleError(path, f"{field}: null is not a condition; use {{exists: false}}")
    if _scalar(value):
        return FieldCond(field, [Eq(value)])
    if isinstance(value, list):
        return FieldCond(field, [_in(value, path)])
    if not isinstance(value, Mapping) or not value:
        raise RuleError(path, f"{field}: a condition is a value, a list or a mapping of operators")
    unknown = set(value) - _VALUE_KEYS
    if unknown:
        raise RuleError((*path, sorted(map(str, unknown))[0]), f"{field}: unknown operator(s) {sorted(map(str, unknown))}")
    if "not" in value:
        if len(value) != 1:
            raise RuleError(path, f"{field}: 'not' stands alone in its mapping")
        inner = parse_field(field, value["not"], (*path, "not"))
        inner.negate = not inner.negate
        return inner
    if "exists" in value:
        if len(value) != 1 or not isinstance(value["exists"], bool):
            raise RuleError((*path, "exists"), f"{field}: 'exists' takes true or false and stands alone")
        return FieldCond(field, [], exists=value["exists"])
    ops: list[Op] = []
    bounds = {k: value[k] for k in ("gt", "gte", "lt", "lte") if k in value}
    if bounds:
        for k, b in bounds.items():
            if not is_num(b):
                raise RuleError((*path, k), f"{field}: '{k}' takes a number, got {b!r}")
        lo = max((b for k, b in bounds.items() if k in ("gt", "gte")), default=None)
        hi = min((b for k, b in bounds.items() if k in ("lt", "lte")), default=None)
        if lo is not None and hi is not None and lo > hi:
            raise RuleError(path, f"{field}: empty range ({lo} > {hi})")
        ops.append(Range(bounds))
    if "eq" in value:
        if not _scalar(value["eq"]):
            raise RuleError((*path, "eq"), f"{field}: 'eq' takes a single value")
        ops.append(Eq(value["eq"]))
    if "in" in value:
        if not isinstance(value["in"], list):
            raise RuleError((*path, "in"), f"{field}: 'in' takes a list")
        ops.append(_in(value["in"], (*path, "in")))
    if "regex" in value:
        try:
            ops.append(Regex(str(value["regex"])))
        except re.error as exc:
            raise RuleError((*path, "regex"), f"{field}: bad regex: {exc}") from exc
    if "cidr" in value:
        nets = value["cidr"] if isinstance(value["cidr"], list) else [value["cidr"]]
        try:
            ops.append(Cidr([str(n) for n in nets]))
        except ValueError as exc:
            raise RuleError((*path, "cidr"), f"{field}: bad network: {exc}") from exc
    for kind in ("contains", "startswith", "endswith"):
        if kind in value:
            if not isinstance(value[kind], str):
                raise RuleError((*path, kind), f"{field}: '{kind}' takes a string")
            ops.append(StrOp(kind, value[kind]))
    return FieldCond(field, ops)


def _in(values: list[Any], path: Path) -> In:
    if not values:
        raise RuleError(path, "an empty set never matches")
    for i, v in enumerate(values):
        if not _scalar(v):
            raise RuleError((*path, i), f"set members are plain values, got {v!r}")
    return In(values)


def specialize(cond: Cond, known: dict[str, Any], absent: frozenset[str] = frozenset()) -> Cond | bool:
    """``cond`` with the fields whose values are known evaluated away: True or False when
    nothing else is left to test. ``known`` maps fields to values (an event's dataset and
    action in a bucket); fields under the top-level objects in ``absent`` are known missing
    (the objects of other datasets, the context of an engine without one)."""
    if isinstance(cond, FieldCond):
        if cond.path in known:
            return cond.check(known[cond.path])
        if cond.path.split(".", 1)[0] in absent:
            return cond.check(MISSING)
        return cond
    assert isinstance(cond, Group)
    children = [specialize(c, known, absent) for c in cond.children]
    if cond.kind == "not":
        (child,) = children
        return (not child) if isinstance(child, bool) else Group("not", [child])
    stop = cond.kind == "any"  # the value that decides the group
    if any(c is stop for c in children):
        return stop
    rest = [c for c in children if not isinstance(c, bool)]
    if not rest:
        return not stop
    return rest[0] if len(rest) == 1 else Group(cond.kind, rest)


def conjuncts(cond: Cond) -> list[Cond]:
    """The top-level AND terms of a condition."""
    if isinstance(cond, Group) and cond.kind == "all":
        return [t for c in cond.children for t in conjuncts(c)]
    return [cond]


def index_values(cond: Cond, field: str) -> tuple[frozenset[str] | None, Cond]:
    """Values a top-level equality/set on ``field`` allows, and the condition without it.

    (None, cond) when the condition does not pin the field: the rule is a wildcard for it.
    """
    terms = conjuncts(cond)
    for i, t in enumerate(terms):
        if (
            isinstance(t, FieldCond)
            and t.path == field
            and t.exists is None
            and not t.negate
            and len(t.ops) == 1
            and isinstance(t.ops[0], Eq | In)
        ):
            op = t.ops[0]
            values = [op.value] if isinstance(op, Eq) else list(op.values)
            if all(isinstance(v, str) for v in values):
                rest = terms[:i] + terms[i + 1 :]
                remaining: Cond = rest[0] if len(rest) == 1 else Group("all", rest)
                return frozenset(values), remaining
    return None, cond
