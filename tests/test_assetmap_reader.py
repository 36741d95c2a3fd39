"""The asset map's quick readers agree with the plain ones: event time with the standard
library's ``datetime.fromisoformat``, host MACs with ``normalize_mac``/``is_host_mac``, and the
identity claims of nested events with the claims read through ``icssa.events.get``."""

from __future__ import annotations

from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from assetmap.identity import claims
from assetmap.oui import is_host_mac, normalize_mac
from assetmap.reader import MAC_CACHE, EventClock, MacCache, is_plain


def _stdlib(ts: str) -> float | None:
    try:
        return datetime.fromisoformat(ts).timestamp()
    except ValueError:
        return None


# -- event time ---------------------------------------------------------------------------------
@settings(max_examples=500, deadline=None)
@given(st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30)))
def test_sensor_stamps_give_the_standard_library_seconds(dt: datetime) -> None:
    ts = dt.isoformat(timespec="microseconds") + "Z"  # the sensor's form (4-digit year, 6 digits)
    assert EventClock().seconds(ts) == _stdlib(ts) == dt.replace(tzinfo=UTC).timestamp()


@pytest.mark.parametrize(
    "ts",
    [
        "",                               # empty
        "garbage",                        # not a time
        "2024-05-01",                     # date only
        "2024-05-01T10:20:30",            # no fraction, no zone (local time)
        "2024-05-01T10:20:30Z",           # no fraction
        "2024-05-01T10:20:30.5Z",         # short fraction
        "2024-05-01T10:20:30.123456",     # the sensor's form without Z: 26 characters
        "2024-05-01T10:20:30.123456+02:00",  # an offset instead of Z
        "2024-05-01T10:20:30,123456Z",    # comma before the fraction
        "2024-05-01T10:20:30.12345xZ",    # a letter in the fraction
        "2024-05-01T10:20:30.１２３４５６Z",  # non-ASCII digits in the fraction
        "2024-13-01T10:20:30.123456Z",    # month 13
        "2024-02-30T10:20:30.123456Z",    # February 30
        "2024-05-01 10:20:30.123456Z",    # space instead of T
        "20240501T102030.123456Z",        # basic format
        "2024-05-01T24:00:00.000000Z",    # hour 24
    ],
)
def test_other_stamps_are_read_like_the_standard_library(ts: str) -> None:
    clock = EventClock()
    before = clock.seconds("2024-05-01T00:00:00.000001Z")
    expected = _stdlib(ts)
    assert clock.seconds(ts) == (expected if expected is not None else before)


def test_a_bad_stamp_keeps_the_previous_time_and_the_next_good_one_counts() -> None:
    clock = EventClock()
    first = clock.seconds("2024-05-01T00:00:01.000000Z")
    assert clock.seconds("2024-05-01T00:00:0x.000000Z") == first
    assert clock.seconds("2024-05-01T00:00:02.250000Z") == first + 1.25


# -- MACs ---------------------------------------------------------------------------------------
MAC_VALUES = st.one_of(
    st.text(alphabet="0123456789abcdefABCDEF:-.xz ", max_size=20),
    st.sampled_from(["00:1b:1b:12:34:56", "00-1B-1B-12-34-56", "001b.1b12.3456", "ff:ff:ff:ff:ff:ff",
                     "01:00:5e:00:00:01", "00:00:00:00:00:00", "02:00:0a:64:00:01"]),
    st.none(), st.integers(), st.binary(max_size=6),
)


@settings(max_examples=500, deadline=None)
@given(st.lists(MAC_VALUES, max_size=20))
def test_host_mac_cache_agrees_with_the_plain_functions(values: list[Any]) -> None:
    cache = MacCache()
    for value in values * 2:  # the second round answers from the cache
        norm = normalize_mac(value)
        assert cache.host_mac(value) == (norm if norm is not None and is_host_mac(norm) else None)


def test_mac_cache_is_bounded() -> None:
    cache = MacCache()
    for i in range(3 * MAC_CACHE):
        cache.host_mac(f"00:1b:1b:{i >> 16 & 255:02x}:{i >> 8 & 255:02x}:{i & 255:02x}")
        assert len(cache) <= MAC_CACHE


# -- plain events and identity claims ------------------------------------------------------------
@pytest.mark.parametrize(
    ("event", "plain"),
    [
        ({}, True),
        ({"event": {"dataset": "modbus"}, "source": {"ip": "10.0.0.1"}}, True),
        ({"event.dataset": "modbus"}, False),
        ({"event": {}, "custom": 1}, True),       # unknown but undotted key
        ({"event": {}, "x.y": 1}, False),
        ({"event": {}, 5: "five"}, True),         # a non-string key has no dot
    ],
)
def test_plain_means_no_dotted_top_level_key(event: dict[Any, Any], plain: bool) -> None:
    assert is_plain(event) is plain


S7_FIELDS = ["order_number", "module_name", "serial_number", "system_name", "firmware_version", "mode"]
OPCUA_FIELDS = ["application_name", "application_uri", "product_uri", "certificate_subject",
                "client_certificate_subject", "identity_token_type"]
VALUES = st.one_of(st.text(max_size=8), st.integers(-3, 3), st.booleans(), st.none(), st.just("\x00 "))


ACTIONS = {
    "s7comm": ["read_szl", "read_var"],
    "opcua": ["activate_session", "get_endpoints", "create_session", "find_servers", "browse"],
    "modbus": ["read_device_identification", "read_coils"],
}


@st.composite
def identity_events(draw: Any) -> tuple[dict[str, Any], str, str, bool]:
    dataset = draw(st.sampled_from(sorted(ACTIONS)))
    action = draw(st.sampled_from(ACTIONS[dataset]))
    names = S7_FIELDS if dataset == "s7comm" else OPCUA_FIELDS if dataset == "opcua" else ["vendor_name"]
    group = {"s7comm": "identity", "modbus": "device_id"}.get(dataset)
    is_response = draw(st.booleans())
    sub: dict[str, Any] = {"is_response": is_response, "other": 1}
    inner = {name: draw(VALUES) for name in draw(st.lists(st.sampled_from(names), max_size=2))}
    shape = draw(st.sampled_from(["nested", "dotted_inside", "not_an_object", "absent"]))
    if group is None or shape == "dotted_inside":
        sub.update({f"{group}.{k}" if group else k: v for k, v in inner.items()})
    elif shape == "nested":
        sub[group] = inner
    elif shape == "not_an_object":
        sub[group] = draw(st.sampled_from([None, "text", ["a"], 3]))
    if dataset == "opcua" and draw(st.booleans()):
        sub["endpoints"] = [{"application_uri": draw(VALUES), "security_mode": draw(st.integers(0, 4)),
                             "user_token_types": [draw(st.integers(0, 4))]}]
    event: dict[str, Any] = {"event": {"dataset": dataset, "action": action},
                             dataset: sub if draw(st.booleans()) else draw(st.sampled_from([None, "x", sub]))}
    if draw(st.integers(0, 3)) == 0:  # sometimes a dotted top-level key too: then the event is not plain
        event[f"{dataset}.{group}.{names[0]}" if group else f"{dataset}.{names[0]}"] = "dotted"
    return event, dataset, action, is_response


@settings(max_examples=1000, deadline=None)
@given(identity_events())
def test_claims_of_plain_events_equal_the_claims_read_through_get(
    case: tuple[dict[str, Any], str, str, bool],
) -> None:
    event, dataset, action, is_response = case
    assert claims(event, dataset, action, is_response, plain=is_plain(event)) == \
        claims(event, dataset, action, is_response)


def _one_key_cases() -> list[tuple[str, str, bool, dict[str, Any]]]:
    """Each identity field alone in its protocol object, in every form ``get`` reads."""
    cases: list[tuple[str, str, bool, dict[str, Any]]] = []
    for field in S7_FIELDS:
        for value in ("V3.2.6", 0, ""):
            cases.append(("s7comm", "read_szl", True, {"identity": {field: value}}))
            cases.append(("s7comm", "read_szl", True, {f"identity.{field}": value}))
            cases.append(("s7comm", "read_szl", True, {"identity": MappingProxyType({field: value})}))
    for field in OPCUA_FIELDS:
        for action, is_response in (("activate_session", False), ("create_session", True)):
            cases.append(("opcua", action, is_response, {field: "urn:plant:hmi"}))
            cases.append(("opcua", action, is_response, {field: 1}))
    cases.append(("opcua", "get_endpoints", True, {"endpoints": [{"endpoint_url": "opc.tcp://plc:4840"}]}))
    return cases


@pytest.mark.parametrize(("dataset", "action", "is_response", "sub"), _one_key_cases())
def test_each_identity_field_alone_is_claimed_alike(dataset: str, action: str, is_response: bool,
                                                    sub: dict[str, Any]) -> None:
    event = {"event": {"dataset": dataset, "action": action}, dataset: {"is_response": is_response, **sub}}
    assert claims(event, dataset, action, is_response, plain=True) == claims(event, dataset, action, is_response)
