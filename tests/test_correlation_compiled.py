"""Compiled bucket tests against a reference written from rules/README.md.

A bucket folds the conditions of many rules into one function: tests that start alike are
nested, fields are read once (some up front, some on first use), zones are looked up inline.
These properties build random sets of rules from a small pool of terms (so that rules share
prefixes and sub-conditions), random events (missing fields, nulls, lists, wrong types, and
top-level values that are not objects at all) and compare the matchers the bucket reports with
the documented meaning, evaluated here by a separate reader. The zone context is a table.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from refs import scalar_holds

from correlation.compiler import compile_bucket
from correlation.context import ZoneCache
from correlation.fields import MISSING, getter
from correlation.matching import parse_match

# -- the documented meaning -------------------------------------------------------------------

#: the fields below whose values are lists (rules/README.md); the others hold one value, and a
#: list there matches no value test
LISTS = {"modbus.flags", "s7comm.items.area"}
ZONES = {"10.0.0.1": ("cell", 1.0), "10.0.0.2": ("cell", 1.0), "10.9.0.1": ("it", 4.0), "10.5.0.1": (None, 2.0)}
ABSENT = object()


def read(event: Any, path: str) -> Any:
    """The value at a dotted path: objects are walked, lists fan out (values found, flattened),
    anything else ends the walk; ABSENT when nothing is there."""
    if path.startswith("context."):
        return zone_field(event, path)
    value: Any = event
    parts = path.split(".")
    for i, part in enumerate(parts):
        if isinstance(value, dict):
            if part not in value:
                return ABSENT
            value = value[part]
        elif isinstance(value, list):
            found = []
            for item in value:
                if isinstance(item, list):
                    continue
                sub = read(item, ".".join(parts[i:]))
                if sub is ABSENT or sub is None:
                    continue
                found.extend(sub if isinstance(sub, list) else [sub])
            return found
        else:
            return ABSENT
    return value


def zone_of_end(event: dict[str, Any], side: str) -> tuple[Any, Any]:
    end = event.get(side)
    ip = end.get("ip") if isinstance(end, dict) else None
    return ZONES.get(ip, (None, None)) if isinstance(ip, str) else (None, None)


def zone_field(event: dict[str, Any], path: str) -> Any:
    a, b = zone_of_end(event, "source"), zone_of_end(event, "destination")
    if path == "context.zone_crossing":
        return ABSENT if a[0] is None or b[0] is None else a[0] != b[0]
    if path == "context.level_gap":
        return ABSENT if a[1] is None or b[1] is None else abs(a[1] - b[1])
    side, what = path.split(".")[1:]
    value = (a if side == "source" else b)[0 if what == "zone" else 1]
    return ABSENT if value is None else value


def field_holds(path: str, op: Any, event: dict[str, Any]) -> bool:
    value = read(event, path)
    if isinstance(op, dict) and "exists" in op:
        there = value is not ABSENT and value is not None and value != []
        return there is op["exists"]
    if isinstance(op, dict) and "not" in op:
        return not field_holds(path, op["not"], event)
    if value is ABSENT or value is None:
        return False
    if isinstance(value, list):
        return path in LISTS and any(scalar_holds(op, x) for x in value)
    return scalar_holds(op, value)


def holds(match: dict[str, Any], event: dict[str, Any]) -> bool:
    """A match block: every entry holds; any/all/not are groups."""
    for key, value in match.items():
        if key == "any":
            ok = any(holds(m, event) for m in value)
        elif key == "all":
            ok = all(holds(m, event) for m in value)
        elif key == "not":
            ok = not holds(value, event)
        else:
            ok = field_holds(key, value, event)
        if not ok:
            return False
    return True


# -- random rules and events ------------------------------------------------------------------

TERMS: list[tuple[str, Any]] = [
    ("network.direction_to_server", True),
    ("network.direction_to_server", False),
    ("modbus.is_response", False),
    ("modbus.unit_id", [1, 2, 3]),
    ("modbus.unit_id", {"gte": 2, "lte": 10}),
    ("modbus.unit_id", {"not": 1}),
    ("modbus.exception_code", {"exists": True}),
    ("modbus.flags", "bad_length"),
    ("modbus.flags", {"regex": "^bad"}),
    ("source.port", {"not": [502, 102]}),
    ("source.ip", {"cidr": "10.0.0.0/16"}),
    ("s7comm.items.area", "Q"),
    ("s7comm.identity.protection_level", {"lte": 1}),
    ("context.zone_crossing", True),
    ("context.level_gap", {"gte": 2}),
    ("context.source.zone", "cell"),
    ("context.destination.level", {"lte": 1}),
]

term_index = st.integers(0, len(TERMS) - 1)


def block(indexes: list[int]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for i in indexes:
        path, op = TERMS[i]
        if path in out:  # one entry per field in a mapping: the repeat goes in an `all`
            out.setdefault("all", []).append({path: op})
        else:
            out[path] = op
    return out


match_blocks = st.recursive(
    st.lists(term_index, min_size=1, max_size=3).map(block),
    lambda inner: st.one_of(
        st.tuples(st.lists(term_index, max_size=2), st.lists(inner, min_size=1, max_size=2)).map(
            lambda tc: {**block(tc[0]), "any": tc[1]}
        ),
        st.tuples(st.lists(term_index, min_size=1, max_size=2), inner).map(lambda tc: {**block(tc[0]), "not": tc[1]}),
    ),
    max_leaves=5,
)

scalars = st.one_of(
    st.none(), st.booleans(), st.integers(0, 12), st.sampled_from(["bad_length", "ok", "Q", "DB", "10.0.0.1"]),
)
values = st.one_of(scalars, st.lists(scalars, max_size=3), st.dictionaries(st.sampled_from(["area", "x"]), scalars, max_size=2))
ips = st.sampled_from(["10.0.0.1", "10.0.0.2", "10.9.0.1", "10.5.0.1", "192.0.2.7", "garbage"])


@st.composite
def events(draw: Any) -> dict[str, Any]:
    e: dict[str, Any] = {}
    for obj, fields in (
        ("network", {"direction_to_server": st.one_of(st.booleans(), values)}),
        ("source", {"ip": st.one_of(ips, values), "port": st.one_of(st.sampled_from([502, 102, 40000]), values)}),
        ("destination", {"ip": st.one_of(ips, values)}),
        ("modbus", {"is_response": values, "unit_id": values, "exception_code": values, "flags": values}),
    ):
        shape = draw(st.sampled_from(["object", "object", "object", "absent", "null", "text", "list"]))
        if shape == "object":
            e[obj] = {k: draw(v) for k, v in fields.items() if draw(st.booleans())}
        elif shape == "null":
            e[obj] = None
        elif shape == "text":
            e[obj] = "garbage"
        elif shape == "list":
            e[obj] = [{k: draw(v) for k, v in fields.items() if draw(st.booleans())}, 7]
    items = draw(st.lists(st.dictionaries(st.sampled_from(["area", "db"]), scalars, max_size=2), max_size=3))
    if items or draw(st.booleans()):
        e["s7comm"] = {"items": items}
        # a three-level path: an object, or null, text, a list of objects, absent
        identity = st.dictionaries(st.just("protection_level"), st.one_of(scalars, st.integers(0, 3)), max_size=1)
        shape = draw(st.sampled_from(["object", "null", "text", "list", "absent"]))
        if shape == "object":
            e["s7comm"]["identity"] = draw(identity)
        elif shape == "list":
            e["s7comm"]["identity"] = draw(st.lists(identity, max_size=2))
        elif shape != "absent":
            e["s7comm"]["identity"] = None if shape == "null" else "garbage"
    return e


class Table:
    def zone_of(self, ip: str) -> dict[str, Any] | None:
        z = ZONES.get(ip)
        return None if z is None else {"zone": z[0], "level": z[1]}


_GETTERS: dict[str, Any] = {}


def _getter(path: str) -> Any:
    """Field readers; ``context.*`` from the table through the reference (the engine's own
    getters do the same from its zone cache)."""
    if path.startswith("context."):
        return lambda e: _zone_value(e, path)
    return _GETTERS.setdefault(path, getter(path))


def _zone_value(e: Any, path: str) -> Any:
    value = zone_field(e, path) if isinstance(e, dict) else ABSENT
    return MISSING if value is ABSENT else value


def _read(path: str, e: Any) -> Any:
    return _getter(path)(e)


@settings(max_examples=400, deadline=None)
@given(blocks=st.lists(match_blocks, min_size=1, max_size=6), event=events())
def test_compiled_bucket_reports_the_documented_matchers(blocks: list[dict[str, Any]], event: dict[str, Any]) -> None:
    zones = ZoneCache(Table(), size=16, ttl=300.0)
    matchers = [(i, parse_match(b, ("match",))) for i, b in enumerate(blocks)]
    bucket = compile_bucket(matchers, _getter, _read, zones)
    want = [i for i, b in enumerate(blocks) if holds(b, event)]
    assert sorted(bucket(event)) == want
    # the interpreter the compiled code falls back to agrees as well
    assert [i for i, cond in matchers if cond.test(event, _read)] == want


def test_rules_sharing_a_first_test_still_answer_separately() -> None:
    first = {"network.direction_to_server": True}
    blocks = [
        {**first, "modbus.unit_id": 1},
        {**first},
        {**first, "modbus.unit_id": 2},
        {"modbus.unit_id": 2},
        {**first, "modbus.unit_id": 1},  # the same condition as the first rule
    ]
    bucket = compile_bucket([(i, parse_match(b, ("m",))) for i, b in enumerate(blocks)], _getter, _read)
    to_server = {"network": {"direction_to_server": True}, "modbus": {"unit_id": 2}}
    assert bucket(to_server) == (1, 2, 3)
    assert bucket({"network": {"direction_to_server": True}, "modbus": {"unit_id": 1}}) == (0, 4, 1)
    assert bucket({"network": {"direction_to_server": False}, "modbus": {"unit_id": 2}}) == (3,)
    assert bucket({}) == ()


def test_zone_of_each_address_is_asked_once_per_event_and_cached() -> None:
    asked: list[str] = []

    class Counting(Table):
        def zone_of(self, ip: str) -> dict[str, Any] | None:
            asked.append(ip)
            return super().zone_of(ip)

    zones = ZoneCache(Counting(), size=16, ttl=300.0)
    blocks = [{"context.zone_crossing": True}, {"context.level_gap": {"gte": 2}}, {"context.source.zone": "cell"}]
    bucket = compile_bucket([(i, parse_match(b, ("m",))) for i, b in enumerate(blocks)], _getter, _read, zones)
    e = {"source": {"ip": "10.0.0.1"}, "destination": {"ip": "10.9.0.1"}}
    assert bucket(e) == (0, 1, 2)
    assert bucket(e) == (0, 1, 2)
    assert asked == ["10.0.0.1", "10.9.0.1"]  # source first, then destination, then the cache
    zones.tick(1000.0)  # past the TTL: answers are asked again
    assert bucket(e) == (0, 1, 2) and asked[2:] == ["10.0.0.1", "10.9.0.1"]


def test_zone_cache_stays_within_its_size() -> None:
    zones = ZoneCache(Table(), size=8, ttl=300.0)
    bucket = compile_bucket([(0, parse_match({"context.source.zone": "cell"}, ("m",)))], _getter, _read, zones)
    for i in range(100):
        bucket({"source": {"ip": f"10.0.1.{i}"}})
        assert len(zones.cache) <= 8


@pytest.mark.parametrize(
    ("s7comm", "holds_"),
    [
        ({"identity": {"protection_level": 1}}, True),
        ({"identity": {"protection_level": 3}}, False),
        ({"identity": {"protection_level": True}}, False),  # a bool is no number
        ({"identity": {}}, False),
        ({"identity": None}, False),
        ({"identity": "garbage"}, False),
        ({"identity": [{"protection_level": 1}]}, False),  # a list where one value belongs
        ({}, False),
        (None, False),
    ],
)
def test_a_three_level_field_is_read_through_nested_objects(s7comm: Any, holds_: bool) -> None:
    cond = parse_match({"s7comm.identity.protection_level": {"lte": 1}}, ("m",))
    bucket = compile_bucket([(0, cond)], _getter, _read)
    assert bucket({"s7comm": s7comm}) == ((0,) if holds_ else ())
