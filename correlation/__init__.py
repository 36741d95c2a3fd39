"""Correlation: rules from ``rules/`` over the event stream, stateful detectors, alerts.

``Engine.from_directory()`` loads the default rule set; ``Engine.process(event)`` returns the
alerts complete so far and ``Engine.flush()`` the rest at the end of a stream. See
``rules/README.md`` for the rule format.
"""

from correlation.context import StaticZones
from correlation.detectors import Limits
from correlation.engine import DEFAULT_BASELINE_SECONDS, Engine
from correlation.loader import load_directory, load_file
from correlation.model import LoadError, Rule

__all__ = [
    "DEFAULT_BASELINE_SECONDS",
    "Engine",
    "Limits",
    "LoadError",
    "Rule",
    "StaticZones",
    "load_directory",
    "load_file",
]
