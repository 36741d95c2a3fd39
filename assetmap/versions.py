"""Firmware and software version comparison for advisory matching.

Vendors write versions many ways: ``V3.2.10``, ``3.2.9``, ``2.6``, ``1.3-rc1``, ``V4.2 SP1 HF2``,
``V17 Update 4``. A version is parsed into

- a release: the leading numeric components, trailing zeros dropped (``2.6`` == ``2.6.0``), so
  tuples compare component by component as numbers (``3.2.10`` > ``3.2.9``, ``2.6.3`` > ``2.6``);
- a suffix: each following word with its number, ranked pre-release (``dev`` < ``alpha`` <
  ``beta`` < ``rc``) below the plain release, and post-release (``sp``, ``hf``, ``update``,
  ``patch``, ...) above it (``1.3-rc1`` < ``1.3`` < ``1.3 SP1`` < ``1.3 SP1 HF2`` < ``1.3 SP2``).

Advisory bounds may carry ``X`` wildcards as Siemens writes them (``V3.X.16``: "the 3.x line of the
product, below patch 16"): a wildcard takes the compared version's own component.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import NamedTuple

_TOKEN = re.compile(r"\d+|[a-z]+")
_PREFIX = re.compile(r"^\s*(?:version|ver|v|r)\s*(?=\d)", re.IGNORECASE)

# word -> rank; the plain release ranks 0 (see module docstring)
_SUFFIX_RANK = {
    "dev": -4, "alpha": -3, "a": -3, "beta": -2, "b": -2, "pre": -1, "rc": -1, "c": -1,
    "p": 1, "patch": 1, "post": 1, "sp": 1, "hf": 1, "update": 1, "upd": 1, "u": 1,
    "rev": 1, "r": 1, "fix": 1,
}
_RELEASE_END = ((0, 0),)
WILDCARD = -1  # an ``X`` component in a bound


class Version(NamedTuple):
    """A parsed version; compare with ``key``."""

    raw: str
    release: tuple[int, ...]  # numeric components as written (WILDCARD for X in bounds)
    suffix: tuple[tuple[int, int], ...]  # (rank, number) per suffix word, release-end marker last

    @property
    def has_wildcard(self) -> bool:
        return WILDCARD in self.release

    def key(self) -> tuple[tuple[int, ...], tuple[tuple[int, int], ...]]:
        release = list(self.release)
        while release and release[-1] == 0:
            release.pop()
        return tuple(release), self.suffix

    def resolve(self, other: Version) -> Version:
        """This bound with each X wildcard replaced by `other`'s component at that place."""
        if not self.has_wildcard:
            return self
        rel = tuple(
            (other.release[i] if i < len(other.release) else 0) if c == WILDCARD else c
            for i, c in enumerate(self.release)
        )
        return self._replace(release=rel)


def parse(text: object, *, wildcards: bool = False) -> Version | None:
    """A Version, or None when `text` has no numeric release (e.g. ``""``, ``"unknown"``)."""
    if text is None:
        return None
    raw = str(text).strip()
    s = _PREFIX.sub("", raw).lower()
    tokens = _TOKEN.findall(s)
    release: list[int] = []
    i = 0
    while i < len(tokens):
        tok = tokens[i]
        if tok.isdigit():
            release.append(int(tok))
        elif wildcards and tok == "x" and release:
            release.append(WILDCARD)
        else:
            break
        i += 1
    if not release:
        return None
    suffix: list[tuple[int, int]] = []
    while i < len(tokens):
        tok = tokens[i]
        i += 1
        if tok.isdigit():  # a number after the suffix words: a further component (``SP1 2``)
            suffix.append((0, int(tok)))
            continue
        rank = _SUFFIX_RANK.get(tok)
        num = 0
        if i < len(tokens) and tokens[i].isdigit():
            num = int(tokens[i])
            i += 1
        if rank is not None:  # words we do not know (``+build5`` metadata) do not order versions
            suffix.append((rank, num))
    return Version(raw, tuple(release), tuple(suffix) + _RELEASE_END)


def compare(a: str | Version, b: str | Version) -> int:
    """-1, 0 or 1 as a <, ==, > b; raises ValueError for text with no version in it."""
    va = a if isinstance(a, Version) else parse(a)
    vb = b if isinstance(b, Version) else parse(b, wildcards=True)
    if va is None or vb is None:
        raise ValueError(f"not a version: {a!r} / {b!r}")
    vb = vb.resolve(va)
    ka, kb = va.key(), vb.key()
    return (ka > kb) - (ka < kb)


_BOUND_OPS = {
    "eq": lambda c: c == 0,
    "ge": lambda c: c >= 0,
    "gt": lambda c: c > 0,
    "le": lambda c: c <= 0,
    "lt": lambda c: c < 0,
}


def in_range(version: str | Version, bounds: Mapping[str, str]) -> bool:
    """True when `version` satisfies every bound of `bounds` ({"ge": "1.3-rc1", "lt": "1.3.1"}).

    An empty mapping is the range of all versions. Unknown bound names raise ValueError (the
    advisory schema allows only eq/ge/gt/le/lt).
    """
    v = version if isinstance(version, Version) else parse(version)
    if v is None:
        raise ValueError(f"not a version: {version!r}")
    for op, bound in bounds.items():
        check = _BOUND_OPS.get(op)
        if check is None:
            raise ValueError(f"unknown version bound {op!r}")
        if not check(compare(v, str(bound))):
            return False
    return True
