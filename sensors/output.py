"""Sensor output: parser ``Message`` values -> events (the envelope of ``icssa/events.py``).

Per flow, direction and dataset, a template holds the envelope: ``source``, ``destination``,
``network`` (with the flow's Community ID), ``observer`` and ``organization``, made once. Each
event is a shallow copy of its template with ``@timestamp``, ``event`` and the protocol's own
fields filled in: events are read-only to every consumer, so they share the envelope's objects.

``event.id`` is ``<capture id>-<frame number>-<message number within the frame>``: the same
capture always gives the same ids.
"""

from __future__ import annotations

import base64
import hashlib
import ipaddress
import struct
from collections.abc import Callable

from icssa.events import Event, Timestamps
from parsers.base import Message
from sensors.flows import Flow

Emit = Callable[[Event], None]

#: addresses turned into text, kept for the next flows between the same hosts
MAX_ADDRESS_TEXTS = 65536


def community_id(saddr: bytes, daddr: bytes, sport: int, dport: int, proto: int) -> str:
    """Community ID v1 (seed 0) of a flow: the same string for both directions."""
    if (saddr, sport) > (daddr, dport):
        saddr, daddr, sport, dport = daddr, saddr, dport, sport
    data = b"\x00\x00" + saddr + daddr + bytes((proto, 0)) + struct.pack("!HH", sport, dport)
    return "1:" + base64.b64encode(hashlib.sha1(data).digest()).decode()


def ip_text(addr: bytes) -> str:
    return str(ipaddress.ip_address(addr))


def mac_text(mac: bytes) -> str:
    return mac.hex("-").upper() if len(mac) == 6 and any(mac) else ""


class EventMaker:
    """Makes and emits the events of a flow's messages; counts them by (dataset, action)."""

    def __init__(self, emit: Emit, observer: str, organization: str, capture_id: str) -> None:
        self.emit = emit
        self.observer = {"name": observer}
        self.organization = {"id": organization}
        self.capture_id = capture_id
        #: messages by (dataset, action): a plain dict, cheaper to count in than a Counter
        self.counts: dict[tuple[str, str], int] = {}
        self._times = Timestamps()
        self._ip_text: dict[bytes, str] = {}

    def events(self, flow: Flow, msgs: list[Message], ts_ns: int, frame: int, n: int) -> int:
        """Emit one event per message of packet ``frame``, after the ``n`` it already gave;
        returns the packet's new count of events."""
        ts = self._times.iso(ts_ns)
        cid = self.capture_id
        emit = self.emit
        counts = self.counts
        templates = flow.env
        for dataset, action, fields, to_server in msgs:
            n += 1
            key = (dataset, action)
            try:
                counts[key] += 1
            except KeyError:
                counts[key] = 1
            template = templates[to_server].get(dataset) or self._template(flow, to_server, dataset)
            event = template.copy()
            event["@timestamp"] = ts
            event["event"] = {"id": f"{cid}-{frame}-{n}", "kind": "event", "dataset": dataset, "action": action}
            event[dataset] = fields
            emit(event)
        return n

    def text(self, addr: bytes) -> str:
        """An IPv4 or IPv6 address (raw bytes) as text."""
        text = self._ip_text.get(addr)
        if text is None:
            if len(self._ip_text) >= MAX_ADDRESS_TEXTS:
                self._ip_text.clear()
            text = self._ip_text[addr] = ip_text(addr)
        return text

    def _template(self, flow: Flow, to_server: bool, dataset: str) -> Event:
        """The events of ``dataset`` in this direction of the flow, all but their own fields."""
        c = {"ip": self.text(flow.client), "port": flow.cport}
        s = {"ip": self.text(flow.server), "port": flow.sport}
        if flow.c2s.mac:
            c["mac"] = mac_text(flow.c2s.mac)
        if flow.s2c.mac:
            s["mac"] = mac_text(flow.s2c.mac)
        if not flow.community_id:
            flow.community_id = community_id(
                flow.client, flow.server, flow.cport, flow.sport, 6 if flow.transport == "tcp" else 17
            )
        template = flow.env[to_server][dataset] = {
            "@timestamp": "",
            "event": None,
            "source": c if to_server else s,
            "destination": s if to_server else c,
            "network": {
                "transport": flow.transport, "protocol": flow.proto, "community_id": flow.community_id,
                "direction_to_server": bool(to_server),
            },
            "observer": self.observer,
            "organization": self.organization,
            dataset: None,
        }
        return template
