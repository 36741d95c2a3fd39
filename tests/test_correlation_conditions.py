"""Match conditions: each operator's meaning, by hand-written tables, for both evaluators.

The compiled bucket functions (``compiler.compile_bucket``) and the interpreter
(``Cond.test``) must agree with the rules documented in rules/README.md; a property test
compares the compiled code with a small reference written here from that documentation.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from refs import scalar_holds

from correlation.compiler import compile_bucket
from correlation.fields import MISSING, getter, nest
from correlation.matching import parse_match

_GETTERS: dict[str, Any] = {}


def _getter(path: str) -> Any:
    return _GETTERS.setdefault(path, getter(path))


def _read(path: str, e: Any) -> Any:
    return _getter(path)(e)


def compiled(match: dict[str, Any], event: dict[str, Any]) -> bool:
    bucket = compile_bucket([(7, parse_match(match, ("match",)))], _getter, _read)
    return bucket(nest(event)) == (7,)


def interpreted(match: dict[str, Any], event: dict[str, Any]) -> bool:
    return parse_match(match, ("match",)).test(nest(event), _read)


A = "modbus.unit_id"
CASES: list[tuple[str, dict[str, Any], dict[str, Any], bool]] = [
    ("int_equal", {A: 1}, {A: 1}, True),
    ("int_not_equal", {A: 1}, {A: 2}, False),
    ("bool_never_equals_int", {A: 1}, {A: True}, False),
    ("int_never_equals_bool", {"modbus.is_response": False}, {"modbus.is_response": 0}, False),
    ("bool_equal", {"modbus.is_response": False}, {"modbus.is_response": False}, True),
    ("string_equal", {"event.action": "read_coils"}, {"event.action": "read_coils"}, True),
    ("missing_field", {A: 1}, {}, False),
    ("null_field", {A: 1}, {A: None}, False),
    ("list_any_element", {"modbus.flags": "bad_length"}, {"modbus.flags": ["x", "bad_length"]}, True),
    ("list_no_element", {"modbus.flags": "bad_length"}, {"modbus.flags": ["x"]}, False),
    ("set_member", {A: [1, 2, 3]}, {A: 2}, True),
    ("set_non_member", {A: [1, 2, 3]}, {A: 4}, False),
    ("set_bool_not_int", {A: [0, 1]}, {A: False}, False),
    ("set_list_value", {"modbus.values": [1, 2]}, {"modbus.values": [7, 2]}, True),
    ("scalar_field_holding_a_list", {A: [1, 2]}, {A: [7, 2]}, False),
    ("set_dict_value", {A: [1, 2]}, {A: {"x": 1}}, False),
    ("range_inside", {A: {"gte": 1, "lte": 10}}, {A: 10}, True),
    ("range_outside", {A: {"gt": 1, "lt": 10}}, {A: 10}, False),
    ("range_string", {A: {"gte": 1}}, {A: "5"}, False),
    ("range_bool", {A: {"gte": 0}}, {A: True}, False),
    ("range_float", {A: {"lte": 1}}, {A: 0.5}, True),
    ("range_list", {"modbus.values": {"gte": 100}}, {"modbus.values": [1, 200]}, True),
    ("regex_search", {"opcua.user_name": {"regex": "(?i)^admin$"}}, {"opcua.user_name": "ADMIN"}, True),
    ("regex_partial_anchor", {"opcua.user_name": {"regex": "(?i)^admin$"}}, {"opcua.user_name": "admins"}, False),
    ("regex_number", {A: {"regex": "1"}}, {A: 1}, False),
    ("cidr_in", {"source.ip": {"cidr": "10.0.0.0/8"}}, {"source.ip": "10.1.2.3"}, True),
    ("cidr_out", {"source.ip": {"cidr": ["10.0.0.0/8", "192.168.0.0/16"]}}, {"source.ip": "172.16.0.1"}, False),
    ("cidr_v6_vs_v4", {"source.ip": {"cidr": "10.0.0.0/8"}}, {"source.ip": "::ffff:a00:1"}, False),
    ("cidr_v6", {"source.ip": {"cidr": "fd00::/8"}}, {"source.ip": "fd12::1"}, True),
    ("cidr_garbage", {"source.ip": {"cidr": "10.0.0.0/8"}}, {"source.ip": "10.0.0"}, False),
    ("exists_zero", {A: {"exists": True}}, {A: 0}, True),
    ("exists_empty_string", {A: {"exists": True}}, {A: ""}, True),
    ("exists_empty_list", {A: {"exists": True}}, {A: []}, False),
    ("exists_null", {A: {"exists": True}}, {A: None}, False),
    ("not_exists_missing", {A: {"exists": False}}, {}, True),
    ("not_exists_present", {A: {"exists": False}}, {A: 3}, False),
    ("negation_missing", {A: {"not": 1}}, {}, True),
    ("negation_equal", {A: {"not": 1}}, {A: 1}, False),
    ("negation_list", {"modbus.flags": {"not": ["a"]}}, {"modbus.flags": ["b", "a"]}, False),
    ("negation_list_other", {"modbus.flags": {"not": ["a"]}}, {"modbus.flags": ["b"]}, True),
    ("contains", {"opcua.endpoint_url": {"contains": "4840"}}, {"opcua.endpoint_url": "opc.tcp://h:4840/x"}, True),
    ("startswith", {"opcua.endpoint_url": {"startswith": "opc.tcp"}}, {"opcua.endpoint_url": "https://h"}, False),
    ("endswith", {"opcua.security_policy": {"endswith": "#None"}}, {"opcua.security_policy": "http://x#None"}, True),
    ("through_list_of_objects", {"s7comm.items.area": "Q"}, {"s7comm.items": [{"area": "DB"}, {"area": "Q"}]}, True),
    ("through_list_none_match", {"s7comm.items.area": "Q"}, {"s7comm.items": [{"area": "DB"}, {"db": 1}]}, False),
    ("through_a_scalar", {"s7comm.items.area": "Q"}, {"s7comm": "garbage"}, False),
    ("any_group", {"any": [{A: 1}, {A: 2}]}, {A: 2}, True),
    ("all_group", {"all": [{A: {"gte": 1}}, {A: {"lte": 1}}]}, {A: 2}, False),
    ("not_group", {"not": {A: 1, "event.action": "x"}}, {A: 1, "event.action": "y"}, True),
    ("conjunction", {A: 1, "event.action": "x"}, {A: 1, "event.action": "y"}, False),
    ("dotted_and_nested_mix", {"modbus.device_id.vendor_name": "Acme"}, {"modbus": {"device_id.vendor_name": "Acme"}}, True),
]


@pytest.mark.parametrize(("name", "match", "event", "expected"), CASES, ids=[c[0] for c in CASES])
def test_operator_meaning(name: str, match: dict[str, Any], event: dict[str, Any], expected: bool) -> None:
    assert compiled(match, event) is expected
    assert interpreted(match, event) is expected


def test_shared_and_identical_conditions_keep_their_own_answers() -> None:
    same = parse_match({A: 1, "modbus.is_response": False}, ("m",))
    shared = parse_match({A: 1, "event.action": "x"}, ("m",))
    other = parse_match({"modbus.is_response": False}, ("m",))
    bucket = compile_bucket([(0, same), (1, parse_match({A: 1, "modbus.is_response": False}, ("m",))), (2, shared), (3, other)], _getter, _read)
    assert sorted(bucket(nest({A: 1, "modbus.is_response": False, "event.action": "y"}))) == [0, 1, 3]
    assert sorted(bucket(nest({A: 1, "modbus.is_response": True, "event.action": "x"}))) == [2]
    assert bucket(nest({})) == ()


# -- property: compiled code against a reference written from the documentation --------------

VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-3, 300),
    st.sampled_from(["", "a", "10.0.0.1", "192.168.1.9", "admin", "read_coils"]),
    st.lists(st.one_of(st.integers(-3, 300), st.sampled_from(["a", "b", "10.0.0.1"]), st.booleans()), max_size=4),
    st.dictionaries(st.sampled_from(["x", "y"]), st.integers(0, 3), max_size=2),
)
OPS = st.one_of(
    st.builds(lambda v: v, st.one_of(st.booleans(), st.integers(-3, 300), st.sampled_from(["a", "admin"]))),
    st.lists(st.one_of(st.integers(-3, 300), st.sampled_from(["a", "b"]), st.booleans()), min_size=1, max_size=4),
    st.builds(lambda lo, span: {"gte": lo, "lte": lo + span}, st.integers(-3, 300), st.integers(0, 50)),
    st.builds(lambda b: {"exists": b}, st.booleans()),
    st.just({"regex": "^a"}),
    st.just({"cidr": "10.0.0.0/8"}),
    st.builds(lambda v: {"not": v}, st.one_of(st.integers(-3, 300), st.sampled_from(["a", "admin"]))),
)


def reference(op: Any, present: bool, value: Any) -> bool:
    """The documented meaning of ``field: op`` for a field holding ``value`` (or absent)."""
    if isinstance(op, dict) and "exists" in op:
        there = present and value is not None and value != []
        return there is op["exists"]
    if isinstance(op, dict) and "not" in op:
        return not reference(op["not"], present, value)
    if not present or value is None:
        return False
    if isinstance(value, list):
        return any(scalar_holds(op, x) for x in value)
    return scalar_holds(op, value)


@settings(max_examples=400, deadline=None)
@given(ops=st.lists(OPS, min_size=1, max_size=4), present=st.booleans(), value=VALUES)
def test_compiled_buckets_agree_with_the_documented_meaning(ops: list[Any], present: bool, value: Any) -> None:
    matchers = [(i, parse_match({"modbus.x": op}, ("m",))) for i, op in enumerate(ops)]
    bucket = compile_bucket(matchers, _getter, _read)
    event = {"modbus": {"x": value}} if present else {"modbus": {}}
    got = sorted(bucket(event))
    want = [i for i, op in enumerate(ops) if reference(op, present, value)]
    assert got == want
    assert [i for i, cond in matchers if cond.test(event, _read)] == want


def test_missing_sentinel_is_falsy_and_distinct_from_none() -> None:
    assert not MISSING and MISSING is not None
