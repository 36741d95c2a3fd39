"""Vendor names to one canonical spelling (``Siemens AG`` / ``SIEMENS`` / ``siemens`` -> ``Siemens``).

A name is first normalised (lower case, punctuation to spaces, legal-form words such as ``AG``,
``GmbH``, ``Inc.``, ``Co., Ltd.`` dropped), then matched against the alias patterns of
``data/vendors.yaml`` (regular expressions on the normalised name). A name with no alias keeps
its normalised form as its key, so two spellings of an unknown vendor still compare equal.
"""

from __future__ import annotations

import re
from functools import lru_cache
from importlib import resources
from pathlib import Path

import yaml

_NON_WORD = re.compile(r"[^0-9a-z]+")
_LEGAL = frozenset(
    "ag gmbh mbh co kg kgaa inc incorporated corp corporation ltd limited llc lp plc sa sas se spa "
    "s p a bv b v nv n v oy ab as a s pty srl sarl oyj company".split()
)


def normalize(name: str) -> str:
    """Lower case, punctuation to spaces, legal-form words dropped: ``Siemens AG`` -> ``siemens``."""
    words = _NON_WORD.sub(" ", name.lower()).split()
    kept = [w for w in words if w not in _LEGAL]
    return " ".join(kept or words)


class Vendors:
    """Canonical vendor names from alias patterns."""

    def __init__(self, aliases: dict[str, list[str]]) -> None:
        self._patterns: list[tuple[re.Pattern[str], str]] = []
        for canonical, patterns in aliases.items():
            self._patterns.append((re.compile(rf"^{re.escape(normalize(canonical))}\b"), canonical))
            for pattern in patterns:
                self._patterns.append((re.compile(pattern), canonical))
        self._cache: dict[str, str] = {}

    @classmethod
    def load(cls, path: Path | None = None) -> Vendors:
        if path is None:
            text = resources.files("assetmap").joinpath("data/vendors.yaml").read_text(encoding="utf-8")
        else:
            text = Path(path).read_text(encoding="utf-8")
        data = yaml.safe_load(text) or {}
        if not isinstance(data, dict) or not all(
            isinstance(v, list) and all(isinstance(p, str) for p in v) for v in data.values()
        ):
            raise ValueError("vendors file: expected a mapping of canonical name -> list of patterns")
        return cls({str(k): list(v) for k, v in data.items()})

    def canonical(self, name: object) -> str | None:
        """The canonical display name, or the normalised name when no alias matches; None for empty."""
        if name is None:
            return None
        text = str(name).strip()
        if not text:
            return None
        hit = self._cache.get(text)
        if hit is not None:
            return hit
        norm = normalize(text)
        result = norm
        for pattern, canonical in self._patterns:
            if pattern.search(norm):
                result = canonical
                break
        if len(self._cache) < 4096:
            self._cache[text] = result
        return result

    def key(self, name: object) -> str | None:
        """A comparison key: equal for all aliases of one vendor."""
        canonical = self.canonical(name)
        return normalize(canonical) if canonical else None


@lru_cache(maxsize=1)
def default_vendors() -> Vendors:
    """The bundled alias table (loaded once)."""
    return Vendors.load()
