"""Protocol parsers: one module per protocol, bytes -> typed messages, incremental.

``REGISTRY`` lists what the sensor can detect and parse. Each entry names the well-known ports
and a payload signature (``probe``) so that a protocol on a non-standard port is still found.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

from parsers.base import NEED_MORE, NOT_PROTOCOL, Message, ParseError, StreamParser


class ProtocolSpec(NamedTuple):
    name: str
    #: well-known server ports
    ports: frozenset[int]
    #: payload signature: does this first chunk of a direction look like the protocol?
    probe: Callable[[bytes, bool], bool]
    #: one instance per flow
    parser: type[StreamParser]


def registry() -> list[ProtocolSpec]:
    """All protocols the sensor knows, most specific signature first."""
    from parsers import modbus, opcua, s7comm

    return [opcua.SPEC, s7comm.SPEC, modbus.SPEC]


__all__ = ["NEED_MORE", "NOT_PROTOCOL", "Message", "ParseError", "ProtocolSpec", "StreamParser", "registry"]
