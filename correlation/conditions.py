"""Match conditions: the tree a rule's ``match`` block compiles to, with two evaluators.

A ``match`` mapping is a conjunction. Each key is either a dotted field path with a value form,
or a group keyword:

| form | meaning |
|---|---|
| ``field: 5`` / ``field: "x"`` / ``field: true`` | equality (bool and number are never equal) |
| ``field: [a, b]`` | the value is one of the set |
| ``field: {gt, gte, lt, lte}`` | numeric range (several keys are all required) |
| ``field: {regex: "..."}`` | ``re.search`` on a string value |
| ``field: {cidr: "10.0.0.0/8"}`` or a list | the IP address lies in one of the networks |
| ``field: {contains / startswith / endswith: "x"}`` | string tests |
| ``field: {exists: true}`` | present, not null, not an empty list |
| ``field: {not: <value form>}`` | negation (holds when the field is absent) |
| ``any: [match, ...]`` / ``all: [...]`` / ``not: match`` | boolean groups |

When the event value is a list (``modbus.flags``, ``s7comm.items.area``) a condition holds when
any element satisfies it; ``exists`` asks for a non-empty list. An absent field satisfies only
``exists: false`` and negations.

``Cond.test`` interprets the tree (robust to any value type); ``correlation/compiler.py`` emits
one Python function per (dataset, action) bucket that evaluates every candidate rule with each
field read once and shared sub-conditions evaluated once. ``correlation/matching.py`` builds
the tree from a rule's YAML and transforms it (index values, specialisation per bucket).
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Mapping
from typing import Any

from correlation.fields import MISSING
from correlation.vocab import SCALAR_FIELDS

Path = tuple[Any, ...]


class RuleError(Exception):
    """A problem in a rule, located by its path inside the rule document."""

    def __init__(self, path: Path, message: str) -> None:
        super().__init__(message)
        self.path = tuple(path)
        self.message = message


_NUM = (int, float)


def is_num(x: Any) -> bool:
    return x.__class__ is int or x.__class__ is float


class Op:
    """A test of one scalar value. ``expr`` is the same test as inline Python on ``var``."""

    kind = ""

    def test(self, x: Any) -> bool:
        raise NotImplementedError

    def expr(self, var: str, const: Callable[[Any], str]) -> str:
        raise NotImplementedError

    def key(self) -> tuple[Any, ...]:
        raise NotImplementedError


class Eq(Op):
    kind = "eq"

    def __init__(self, value: Any) -> None:
        self.value = value

    def test(self, x: Any) -> bool:
        v = self.value
        if v.__class__ is bool or x.__class__ is bool:
            return x is v
        try:
            return bool(x == v)
        except TypeError:
            return False

    def expr(self, var: str, const: Callable[[Any], str]) -> str:
        v = self.value
        if v.__class__ is bool:
            return f"{var} is {v!r}"
        if v.__class__ is str:
            return f"{var} == {v!r}"
        return f"({var} == {v!r} and {var}.__class__ is not bool)"

    def key(self) -> tuple[Any, ...]:
        return ("eq", self.value.__class__.__name__, self.value)


class In(Op):
    kind = "in"

    def __init__(self, values: list[Any]) -> None:
        self.values = frozenset(values)
        self.bools = frozenset(v for v in values if v.__class__ is bool)
        self.others = frozenset(v for v in values if v.__class__ is not bool)

    def test(self, x: Any) -> bool:
        if x.__class__ is bool:
            return x in self.bools
        try:
            return x in self.others
        except TypeError:
            return False

    def expr(self, var: str, const: Callable[[Any], str]) -> str:
        if self.bools:
            return f"{const(self)}.test({var})"
        # an unhashable value raises TypeError, and the bucket's interpreter (``test``) answers
        if any(is_num(v) and v in (0, 1) for v in self.others):
            return f"({var}.__class__ is not bool and {var} in {const(self.others)})"
        return f"({var} in {const(self.others)})"

    def key(self) -> tuple[Any, ...]:
        return ("in", tuple(sorted((v.__class__.__name__, repr(v)) for v in self.values)))


class Range(Op):
    kind = "range"
    _CMP = {"gt": ">", "gte": ">=", "lt": "<", "lte": "<="}

    def __init__(self, bounds: dict[str, float]) -> None:
        self.bounds = dict(sorted(bounds.items()))

    def test(self, x: Any) -> bool:
        if not is_num(x):
            return False
        for name, b in self.bounds.items():
            if name == "gt" and not x > b:
                return False
            if name == "gte" and not x >= b:
                return False
            if name == "lt" and not x < b:
                return False
            if name == "lte" and not x <= b:
                return False
        return True

    def expr(self, var: str, const: Callable[[Any], str]) -> str:
        parts = [f"{var}.__class__ in {const(_NUM)}"]
        parts += [f"{var} {self._CMP[n]} {b!r}" for n, b in self.bounds.items()]
        return "(" + " and ".join(parts) + ")"

    def key(self) -> tuple[Any, ...]:
        return ("range", tuple(self.bounds.items()))


class Regex(Op):
    kind = "regex"

    def __init__(self, pattern: str) -> None:
        self.pattern = pattern
        self.rx = re.compile(pattern)

    def test(self, x: Any) -> bool:
        return x.__class__ is str and self.rx.search(x) is not None

    def expr(self, var: str, const: Callable[[Any], str]) -> str:
        return f"({var}.__class__ is str and {const(self.rx)}.search({var}) is not None)"

    def key(self) -> tuple[Any, ...]:
        return ("regex", self.pattern)


class Cidr(Op):
    """IP address in one of the networks; answers are cached per address (bounded)."""

    kind = "cidr"
    CACHE = 65536

    def __init__(self, networks: list[str]) -> None:
        self.text = tuple(sorted(networks))
        self.networks = tuple(ipaddress.ip_network(n, strict=False) for n in networks)
        self._cache: dict[str, bool] = {}

    def test(self, x: Any) -> bool:
        if x.__class__ is not str:
            return False
        hit = self._cache.get(x)
        if hit is None:
            try:
                addr = ipaddress.ip_address(x)
            except ValueError:
                hit = False
            else:
                hit = any(addr.version == n.version and addr in n for n in self.networks)
            if len(self._cache) >= self.CACHE:
                self._cache.clear()
            self._cache[x] = hit
        return hit

    def expr(self, var: str, const: Callable[[Any], str]) -> str:
        return f"{const(self)}.test({var})"

    def key(self) -> tuple[Any, ...]:
        return ("cidr", self.text)


class StrOp(Op):
    """contains / startswith / endswith on a string value."""

    def __init__(self, kind: str, value: str) -> None:
        self.kind = kind
        self.value = value

    def test(self, x: Any) -> bool:
        if x.__class__ is not str:
            return False
        if self.kind == "contains":
            return self.value in x
        if self.kind == "startswith":
            return x.startswith(self.value)
        return x.endswith(self.value)

    def expr(self, var: str, const: Callable[[Any], str]) -> str:
        v = self.value
        if self.kind == "contains":
            return f"({var}.__class__ is str and {v!r} in {var})"
        return f"({var}.__class__ is str and {var}.{self.kind}({v!r}))"

    def key(self) -> tuple[Any, ...]:
        return (self.kind, self.value)


def present(v: Any) -> bool:
    return v is not MISSING and v is not None and not (v.__class__ is list and not v)


class Cond:
    """A node of the condition tree."""

    def test(self, e: Mapping[str, Any], read: Callable[[str, Mapping[str, Any]], Any]) -> bool:
        raise NotImplementedError

    def key(self) -> tuple[Any, ...]:
        raise NotImplementedError

    def fields(self) -> set[str]:
        raise NotImplementedError


class FieldCond(Cond):
    """Ops (all required) on one field; ``exists`` None means "value tests", else presence."""

    def __init__(self, path: str, ops: list[Op], exists: bool | None = None, negate: bool = False) -> None:
        self.path = path
        self.ops = ops
        self.exists = exists
        self.negate = negate
        #: the field holds one value (vocab.SCALAR_FIELDS): a list there matches no value test
        self.scalar_only = path in SCALAR_FIELDS

    def check(self, v: Any) -> bool:
        if self.exists is not None:
            hit = present(v) is self.exists
        elif v.__class__ is list:
            hit = False if self.scalar_only else self.any_of(v)
        elif v is MISSING or v is None:
            hit = False
        else:
            hit = self.scalar(v)
        return not hit if self.negate else hit

    def any_of(self, values: list[Any]) -> bool:
        """Some element of a list value passes the value tests (negation not applied)."""
        for x in values:
            if self.scalar(x):
                return True
        return False

    def scalar(self, x: Any) -> bool:
        for op in self.ops:
            if not op.test(x):
                return False
        return True

    def test(self, e: Mapping[str, Any], read: Callable[[str, Mapping[str, Any]], Any]) -> bool:
        return self.check(read(self.path, e))

    def key(self) -> tuple[Any, ...]:
        return ("field", self.path, self.exists, self.negate, tuple(op.key() for op in self.ops))

    def fields(self) -> set[str]:
        return {self.path}


class Group(Cond):
    """``all`` / ``any`` of children, or ``not`` of one child."""

    def __init__(self, kind: str, children: list[Cond]) -> None:
        self.kind = kind
        self.children = children

    def test(self, e: Mapping[str, Any], read: Callable[[str, Mapping[str, Any]], Any]) -> bool:
        if self.kind == "all":
            return all(c.test(e, read) for c in self.children)
        if self.kind == "any":
            return any(c.test(e, read) for c in self.children)
        return not self.children[0].test(e, read)

    def key(self) -> tuple[Any, ...]:
        return (self.kind, tuple(c.key() for c in self.children))

    def fields(self) -> set[str]:
        out: set[str] = set()
        for c in self.children:
            out |= c.fields()
        return out


TRUE = Group("all", [])
