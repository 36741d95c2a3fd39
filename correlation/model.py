"""Loaded rules: the typed form the engine runs (built by ``correlation.loader``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

from correlation.attack import Tactic, Technique
from correlation.conditions import Cond


class LoadError(NamedTuple):
    """A rule that could not be loaded: which file, which line (1-based, 0 unknown), why."""

    file: str
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.message}"


@dataclass(frozen=True)
class Threshold:
    count: int
    window: float
    group_by: tuple[str, ...]
    #: count distinct values of this field instead of events (scans)
    distinct: str | None = None


@dataclass(frozen=True)
class Step:
    name: str
    match: Cond


@dataclass(frozen=True)
class Sequence:
    window: float
    group_by: tuple[str, ...]
    steps: tuple[Step, ...]


@dataclass(frozen=True)
class FirstSeen:
    key: tuple[str, ...]
    #: alert only when these fields (a prefix-free subset of key) were seen in the baseline
    known: tuple[str, ...] = ()


@dataclass(frozen=True)
class Rate:
    window: float
    group_by: tuple[str, ...]
    factor: float
    min_count: int


DEFAULT_GROUP = ("source.ip", "destination.ip")
DEFAULT_AGGREGATE_WINDOW = 60.0


@dataclass
class Rule:
    id: str
    title: str
    status: str
    version: int
    description: str
    severity: int
    tags: tuple[str, ...]
    references: tuple[str, ...]
    falsepositives: tuple[str, ...]
    techniques: tuple[Technique, ...]
    tactics: tuple[Tactic, ...]
    match: Cond
    threshold: Threshold | None = None
    sequence: Sequence | None = None
    first_seen: FirstSeen | None = None
    rate: Rate | None = None
    aggregate_window: float = DEFAULT_AGGREGATE_WINDOW
    aggregate_group_by: tuple[str, ...] = DEFAULT_GROUP
    suppress_window: float = 0.0
    suppress_group_by: tuple[str, ...] = DEFAULT_GROUP
    tests: dict[str, Any] = field(default_factory=dict)
    ruleset: str = "icssa"
    file: str = ""
    line: int = 0

    @property
    def kind(self) -> str:
        for kind in ("threshold", "sequence", "first_seen", "rate"):
            if getattr(self, kind) is not None:
                return kind
        return "match"

    @property
    def source(self) -> Path:
        return Path(self.file)
