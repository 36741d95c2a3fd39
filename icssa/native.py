"""The native core (``native/``, Rust; the module ``icssa_native``) behind ``icssa replay``.

The native path is a second implementation of the replay pipeline, kept byte-identical to the
Python one by differential tests (``tests/test_native.py``). ``--engine`` chooses:

| engine | runs |
|---|---|
| ``auto`` (default) | native when the module is installed and covers the run, else Python |
| ``native`` | native, or one clear error when the module is missing or the run needs Python |
| ``python`` | the Python path (the reference) |

The site file, the advisories and the rules are read by Python and handed over as JSON
documents (``assetmap.native.config_of``, ``correlation.native.document``). The native core
covers every run whose documents it accepts (``icssa_native.check``): an asset map with the
default vendor table, regular expressions it can translate.

``scripts/build-native.sh`` builds and installs the module (``make install`` / ``make test``).
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

import orjson

if TYPE_CHECKING:
    from icssa.pipeline import Analytics, Progress, Summary

ENGINES = ("auto", "native", "python")

log = logging.getLogger("icssa.sensor")


class EngineUnavailable(Exception):
    """``--engine native`` asked for what the native core cannot do here (one line)."""


def module() -> ModuleType | None:
    """``icssa_native`` when it is installed, else None."""
    try:
        import icssa_native
    except ImportError:
        return None
    return icssa_native


@dataclass
class Native:
    """A run the native core covers: its module and, with analytics, their two documents."""

    module: ModuleType
    #: (asset map configuration, rules document) as JSON texts; None for ``--events-only``
    documents: tuple[str, str] | None = None
    #: rule files the Python loader refused (``file:line: message``), as the Python path reports
    rule_errors: list[str] = field(default_factory=list)


def plan(native: ModuleType, analytics: Analytics) -> Native | str:
    """The native run of ``analytics``, or why it needs the Python path."""
    if not analytics.enabled:
        return Native(native)
    from assetmap.native import config_of
    from correlation.loader import DEFAULT_RULES, load_directory
    from correlation.native import document

    amap = analytics.asset_map()
    assert amap is not None
    try:
        config = config_of(amap)
    except ValueError as exc:
        return str(exc)
    rules, errors = load_directory(analytics.rules or DEFAULT_RULES)
    texts = (orjson.dumps(config).decode(), orjson.dumps(document(rules, errors)).decode())
    refused = native.check(*texts)
    if refused is not None:
        return refused
    return Native(native, texts, [str(e) for e in errors])


def choose(engine: str, analytics: Analytics) -> Native | None:
    """The native run to make, or None for the Python path."""
    if engine not in ENGINES:
        raise EngineUnavailable(f"--engine {engine}: choose one of {', '.join(ENGINES)}")
    if engine == "python":
        return None
    native = module()
    run: Native | str = "the native core is not installed (run scripts/build-native.sh)"
    if native is not None:
        run = plan(native, analytics)
    if isinstance(run, Native):
        return run
    if engine == "native":
        raise EngineUnavailable(f"--engine native: {run}")
    return None


def replay(
    native: Native,
    files: Sequence[Path],
    out_dir: Path,
    observer: str,
    organization: str,
    progress_factory: Callable[[Path], tuple[Progress, Callable[[], None]]] | None,
) -> Summary:
    """Run the native pipeline over ``files`` (already expanded) into ``out_dir``."""
    from icssa.pipeline import Summary

    bars = _Bars(files, progress_factory) if progress_factory else None
    try:
        result: dict[str, Any] = native.module.replay(
            [str(p) for p in files], str(out_dir), observer, organization, bars.update if bars else None,
            native.documents,
        )
    finally:
        if bars:
            bars.close()
    for line in result["log"]:
        log.warning("%s", line)
    s = Summary(
        files=result["files"], packets=result["packets"], bytes=result["bytes"], flows=result["flows"],
        events=result["events"], alerts=result.get("alerts", 0), assets=result.get("assets", 0),
    )
    s.messages = Counter(dict(result["messages"]))
    s.actions = Counter({(d, a): n for d, a, n in result["actions"]})
    s.parse_errors = Counter({(d, r): n for d, r, n in result["parse_errors"]})
    s.sensor = Counter(dict(result["sensor"]))
    s.errors = list(result["errors"])
    s.rule_errors = list(native.rule_errors)
    return s


class _Bars:
    """The per-file progress bars of the Python path, driven by ``(file index, bytes)``."""

    def __init__(
        self, files: Sequence[Path], factory: Callable[[Path], tuple[Progress, Callable[[], None]]]
    ) -> None:
        self.files = files
        self.factory = factory
        self.index = -1
        self.bar: tuple[Progress, Callable[[], None]] | None = None

    def update(self, index: int, done: int) -> None:
        if index != self.index:
            self.close()
            self.index = index
            self.bar = self.factory(self.files[index])
        assert self.bar is not None
        self.bar[0](done)

    def close(self) -> None:
        if self.bar is not None:
            self.bar[1]()
            self.bar = None
