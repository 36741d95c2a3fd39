"""Version parsing, comparison and ranges used by advisory matching."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from assetmap.versions import compare, in_range, parse


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        ("V3.2.10", "3.2.9", 1),  # numeric, not lexical: 10 > 9
        ("3.2.9", "V3.2.10", -1),
        ("2.6.3", "2.6", 1),  # a missing component is 0
        ("2.6", "2.6.0", 0),
        ("2.6.0.0", "2.6", 0),
        ("v1.10", "v1.9", 1),
        ("V4.2", "4.2", 0),  # the V prefix is decoration
        ("1.3-rc1", "1.3", -1),  # pre-release before release
        ("1.3rc2", "1.3-rc1", 1),
        ("1.3-beta1", "1.3-rc1", -1),
        ("1.3-alpha", "1.3-beta", -1),
        ("1.3-rc1", "1.2.9", 1),  # pre-release of 1.3 after 1.2.x
        ("V4.2 SP1", "V4.2", 1),  # service pack after release
        ("V4.2 SP1 HF2", "V4.2 SP1", 1),
        ("V4.2 SP1 HF2", "V4.2 SP2", -1),
        ("V17 Update 4", "V17 Update 3", 1),
        ("1.0.0+build5", "1.0.0", 0),  # unknown words do not order versions
        ("0.9.95", "0.9.96", -1),
        ("10.0", "9.99", 1),
    ],
)
def test_compare(a: str, b: str, expected: int) -> None:
    assert compare(a, b) == expected


@pytest.mark.parametrize("text", ["", "   ", "unknown", "n/a", None, "V", "-"])
def test_not_a_version(text: object) -> None:
    assert parse(text) is None
    with pytest.raises(ValueError):
        compare(str(text), "1.0")


@pytest.mark.parametrize(
    ("version", "bound", "expected"),
    [
        # Siemens "V3.X.16": X is the compared version's own component
        ("V3.2.15", "V3.X.16", -1),
        ("V3.2.16", "V3.X.16", 0),
        ("V3.3.0", "V3.X.16", -1),
        ("V3.3.17", "V3.X.16", 1),
        ("V4.0.0", "V3.X.16", 1),
        ("V2.9.9", "V3.X.16", -1),
    ],
)
def test_wildcard_bound(version: str, bound: str, expected: int) -> None:
    assert compare(version, bound) == expected


@pytest.mark.parametrize(
    ("version", "bounds", "expected"),
    [
        ("1.2.4", {"lt": "1.2.5"}, True),
        ("1.2.5", {"lt": "1.2.5"}, False),  # exclusive upper bound
        ("1.2.5", {"le": "1.2.5"}, True),  # inclusive upper bound
        ("1.2.5.0", {"le": "1.2.5"}, True),
        ("1.3.0", {"ge": "1.3-rc1", "lt": "1.3.1"}, True),
        ("1.3-rc1", {"ge": "1.3-rc1", "lt": "1.3.1"}, True),  # inclusive lower bound
        ("1.3-rc1", {"gt": "1.3-rc1", "lt": "1.3.1"}, False),  # exclusive lower bound
        ("1.3.1", {"ge": "1.3-rc1", "lt": "1.3.1"}, False),
        ("1.2.9", {"ge": "1.3-rc1", "lt": "1.3.1"}, False),
        ("V3.2.6", {"eq": "3.2.6"}, True),
        ("V3.2.6", {"eq": "3.2.60"}, False),
        ("0.1", {}, True),  # no bounds: every version
    ],
)
def test_in_range(version: str, bounds: dict[str, str], expected: bool) -> None:
    assert in_range(version, bounds) is expected


def test_unknown_bound_is_an_error() -> None:
    with pytest.raises(ValueError):
        in_range("1.0", {"before": "2.0"})


_parts = st.lists(st.integers(min_value=0, max_value=300), min_size=1, max_size=5)


@settings(max_examples=300, deadline=None)
@given(_parts, _parts)
def test_compare_matches_tuple_order_of_padded_components(a: list[int], b: list[int]) -> None:
    width = max(len(a), len(b))
    pa, pb = a + [0] * (width - len(a)), b + [0] * (width - len(b))
    expected = (pa > pb) - (pa < pb)
    assert compare(".".join(map(str, a)), "V" + ".".join(map(str, b))) == expected


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=30))
def test_parse_never_raises(text: str) -> None:
    parse(text)
    parse(text, wildcards=True)
