"""The asset map's per-event work: ``Ingest.observe(event)``.

An event names a sender and a receiver; ``observe`` finds their host records, decides which is
the flow's client and server, adds identity claims with their event ids, and counts the
operation on the (client, server, protocol) edge (``store.py``).

Events in the sensor's form (nested dicts, no dotted top-level key, a boolean
``network.direction_to_server``) take the quick path: the message's link (``links.py``) gives
its records and edge, made once per link (``_connect``); the message itself only updates the
edge (time, order, counters), on which its records' times and order are kept (``Unit``), and
adds identity claims where the protocol carries some. Every other event takes the general path
(``_observe``), with the same results.

Time is needed as a number for read intervals only: a read with a bad stamp takes the time of
the read before it (``EventClock``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from assetmap import ops
from assetmap.evidence import Evidence
from assetmap.identity import CLAIM_DATASETS, Claim, claims
from assetmap.links import (
    CODES,
    CONTROL,
    DIAGNOSTICS,
    IDENTITY,
    OTHER,
    READ,
    WRITE,
    Links,
    cacheable,
    link_key,
)
from assetmap.oui import OuiTable
from assetmap.reader import PLAIN_KEYS, EventClock, MacCache, is_plain, mapping, port
from assetmap.store import MAX_EDGE_IDS, MAX_PORTS, Edge, Store, Unit, answered
from icssa.events import get

#: the protocols' registered server ports (a hint when an event does not say who is the client)
SERVICE_PORTS = frozenset({502, 102, 4840})
#: datasets that are not traffic between assets (sensor notices)
_IGNORED_DATASETS = frozenset({"icssa"})

_plain_keys = PLAIN_KEYS.issuperset


def _side(event: Mapping[str, Any], side: str) -> tuple[Any, int | None, Any]:
    """(ip, port, mac) of one end; a port that is not an int is no port."""
    sub = event.get(side)
    if isinstance(sub, Mapping):
        ip, p, mac = sub.get("ip"), sub.get("port"), sub.get("mac")
    else:
        ip, p, mac = get(event, f"{side}.ip"), get(event, f"{side}.port"), get(event, f"{side}.mac")
    return ip, port(p), mac


def _apply(found: list[Claim], server: Unit, src: Unit, dst: Unit, event_id: str | None, ts: str) -> None:
    """Add identity claims (``identity.claims``) to the records they are about."""
    for who, attr, value, confidence in found:
        target = server if who == "server" else src if who == "src" else dst
        evidence = target.evidence
        if evidence is None:
            evidence = target.evidence = Evidence()
        evidence.add(attr, value, confidence, event_id, ts)


class Ingest:
    """Host records and edges from events (``observe``); the read-outs live in ``AssetMap``."""

    def __init__(self, store: Store, oui: OuiTable) -> None:
        self.store = store
        self.oui = oui
        self.events = 0
        self.skipped = 0
        self._clock = EventClock()
        self._macs = MacCache()
        self._links = Links()
        self._link_map = self._links.links  # the same dict, always (cleared, never replaced)
        store.on_drop = self._links.forget

    def observe(self, event: Mapping[str, Any]) -> None:
        """Take one event (nested or dotted keys, see icssa.events)."""
        # a message of a known link, all fields present: read them straight; any surprise
        # (a missing key, an object that is no dict, a new link or action) goes to _resolve
        try:
            if event.__class__ is not dict or not _plain_keys(event):
                raise KeyError
            ev = event["event"]
            s = event["source"]
            d = event["destination"]
            net = event["network"]
            to_server = net["direction_to_server"]
            if to_server is True:
                edge = self._link_map[(s["ip"], s["mac"], d["ip"], d["mac"], d["port"], ev["dataset"])]
                info = edge.ops.requests[ev["action"]]
            elif to_server is False:
                edge = self._link_map[(d["ip"], d["mac"], s["ip"], s["mac"], s["port"], ev["dataset"])]
                info = edge.ops.responses[ev["action"]]
            else:
                raise KeyError
            if not edge.live or ev["kind"] == "alert" or not (
                ev.__class__ is dict and s.__class__ is dict and d.__class__ is dict and net.__class__ is dict
            ):
                raise KeyError
            ts = event["@timestamp"]
        except (KeyError, TypeError):
            found = self._resolve(event)
            if found is None:
                return None
            ev, edge, to_server, info, ts = found
        if ts.__class__ is not str:
            ts = str(ts or "")

        # the message: what _observe does once the records and the edge are known
        n = self.events = self.events + 1
        edge.seq = 2 * n + to_server
        if ts > edge.last_seen:
            edge.last_seen = ts
        elif ts < edge.first_seen:
            edge.first_seen = ts
        event_id: str | None = None
        if len(edge.event_ids) < MAX_EDGE_IDS:
            raw_id = ev.get("id")
            if raw_id is not None:
                event_id = str(raw_id)
                if event_id:
                    edge.event_ids.append(event_id)
        if to_server:
            code, op, keys = info
            if code == READ:
                edge.reads += 1
                t = self._clock.seconds(ts)
                k = edge.read_n
                if k:  # Welford, as Edge.add_read_time
                    gap = t - edge.read_last
                    delta = gap - edge.read_mean
                    edge.read_mean += delta / k
                    edge.read_m2 += delta * (gap - edge.read_mean)
                edge.read_n = k + 1
                edge.read_last = t
            elif code == OTHER:
                edge.other += 1
            else:
                event_id = _count(event, ev, edge, code, op, event_id)
        else:
            keys = info
            if not edge.responses:
                answered(edge)
            edge.responses += 1
        if keys is not None:
            if keys is not True:
                sub = event.get(edge.protocol)
                if sub.__class__ is dict and sub.keys().isdisjoint(keys):
                    return None
            _claims(event, ev, edge, to_server, event_id, ts)
        return None

    def _resolve(self, event: Mapping[str, Any]) -> tuple[dict[str, Any], Edge, bool, Any, Any] | None:
        """(event object, linked edge, direction, action info, time) of an event in the sensor's
        form, making its link or action info when new; None when the general path took it."""
        if event.__class__ is not dict or not (_plain_keys(event) or is_plain(event)):
            self._observe(event)
            return None
        ev = event.get("event")
        s = event.get("source")
        d = event.get("destination")
        net = event.get("network")
        if not (ev.__class__ is dict and s.__class__ is dict and d.__class__ is dict and net.__class__ is dict):
            self._observe(event)
            return None
        to_server = net.get("direction_to_server")
        if to_server.__class__ is not bool:
            self._observe(event)
            return None
        key = link_key(s, d, ev.get("dataset"), to_server)
        try:
            edge = self._link_map.get(key)
        except TypeError:  # an unhashable field value
            self._observe(event)
            return None
        action = ev.get("action")
        if ev.get("kind") == "alert" or not (action is None or action.__class__ is str):
            self._observe(event)
            return None
        ts = event.get("@timestamp")
        if edge is None or not edge.live:
            edge = self._connect(ev, key, to_server, ts if ts.__class__ is str else str(ts or ""))
            if edge is None:
                self._observe(event)
                return None
        table = edge.ops
        info = (table.requests if to_server else table.responses).get(action, table)
        if info is table:  # a new action
            info = table.request(action) if to_server else table.response(action)
        return ev, edge, to_server, info, ts

    def _connect(self, ev: dict[str, Any], key: tuple[Any, ...], to_server: bool, ts: str) -> Edge | None:
        """Make the link of a message in the sensor's form (None when its fields are not all of
        the types links are made of: the general path takes it)."""
        dataset = key[5]
        if dataset.__class__ is not str or not dataset or dataset in _IGNORED_DATASETS or not cacheable(key):
            return None
        client_ip, client_mac, server_ip, server_mac, server_port, _ = key
        if not (client_ip and server_ip):
            return None
        table = self._links.table(dataset)
        if table is None:
            return None
        raw_id = ev.get("id")
        event_id = str(raw_id) if raw_id is not None else None
        if to_server:
            _, _, edge = self._attach(client_ip, client_mac, server_ip, server_mac, True, dataset, server_port,
                                      ts, self.events + 1, event_id)
        else:
            _, _, edge = self._attach(server_ip, server_mac, client_ip, client_mac, False, dataset, server_port,
                                      ts, self.events + 1, event_id)
        return self._links.add(key, edge, table)

    def _attach(
        self, src_ip: str, src_mac: Any, dst_ip: str, dst_mac: Any, to_server: bool, dataset: str,
        server_port: int | None, ts: str, n: int, event_id: str | None,
    ) -> tuple[Unit, Unit, Edge]:
        """The records of message `n`'s sender and receiver and their edge, touched (made if
        new); the protocol listed on both, the server port on the edge."""
        macs, touch = self._macs, self.store.unit
        src, created = touch(src_ip, macs.host_mac(src_mac), ts, 2 * n)
        if created:
            self._created(src, event_id, ts)
        dst, created = touch(dst_ip, macs.host_mac(dst_mac), ts, 2 * n + 1)
        if created:
            self._created(dst, event_id, ts)
        if src.mac is not None and src.mac == dst.mac and src_ip != dst_ip:
            self.store.mark_shared(src.mac)  # one MAC on both ends: not a host's own address
        capped = self.store.capped
        src.add_protocol(dataset, capped)
        dst.add_protocol(dataset, capped)
        client, server = (src, dst) if to_server else (dst, src)
        edge = self.store.edge(client, server, dataset, ts, 2 * n + 1 if to_server else 2 * n)
        if server_port is not None and server_port not in edge.ports and len(edge.ports) < MAX_PORTS:
            edge.ports += (server_port,)
        return src, dst, edge

    def _created(self, unit: Unit, event_id: str | None, ts: str) -> None:
        """A new record: its NIC vendor from the OUI table, if the MAC has one."""
        if unit.mac is not None:
            vendor = self.oui.vendor(unit.mac)
            if vendor is not None:
                unit.claim("oui_vendor", vendor, 0.5, event_id, ts)

    # -- the general path ---------------------------------------------------------------------
    def _observe(self, event: Mapping[str, Any]) -> None:
        plain = event.__class__ is dict and (event.keys() <= PLAIN_KEYS or is_plain(event))
        if plain:
            ev = mapping(event.get("event"))
            kind, dataset, raw_id, raw_action = ev.get("kind"), ev.get("dataset"), ev.get("id"), ev.get("action")
        else:
            kind, dataset = get(event, "event.kind"), get(event, "event.dataset")
            raw_id, raw_action = get(event, "event.id"), get(event, "event.action")
        if kind == "alert" or not isinstance(dataset, str) or not dataset or dataset in _IGNORED_DATASETS:
            self.skipped += 1
            return
        if plain:
            src_obj, dst_obj = mapping(event.get("source")), mapping(event.get("destination"))
            src_ip, src_port, src_mac = src_obj.get("ip"), port(src_obj.get("port")), src_obj.get("mac")
            dst_ip, dst_port, dst_mac = dst_obj.get("ip"), port(dst_obj.get("port")), dst_obj.get("mac")
        else:
            src_ip, src_port, src_mac = _side(event, "source")
            dst_ip, dst_port, dst_mac = _side(event, "destination")
        if not (isinstance(src_ip, str) and src_ip and isinstance(dst_ip, str) and dst_ip):
            self.skipped += 1
            return
        n = self.events = self.events + 1
        ts = str(event.get("@timestamp") or "")
        event_id = str(raw_id) if raw_id is not None else None
        action = str(raw_action or "")
        if plain:
            to_server = mapping(event.get("network")).get("direction_to_server")
        else:
            to_server = get(event, "network.direction_to_server")
        if to_server.__class__ is not bool:
            to_server = self._guess_to_server(event, dataset, src_port, dst_port)
        src, dst, edge = self._attach(src_ip, src_mac, dst_ip, dst_mac, to_server, dataset,
                                      dst_port if to_server else src_port, ts, n, event_id)
        if ts > edge.last_seen:
            edge.last_seen = ts
        elif ts < edge.first_seen:
            edge.first_seen = ts
        if event_id and len(edge.event_ids) < MAX_EDGE_IDS:
            edge.event_ids.append(event_id)
        if to_server:
            # the sub-function refines Modbus diagnostics only (ops.classify)
            sub = get(event, "modbus.subfunction") if action == "diagnostics" and dataset == "modbus" else None
            op_class, op = ops.classify(dataset, action, sub)
            if op_class == ops.READ:
                edge.reads += 1
                edge.add_read_time(self._clock.seconds(ts))
            elif op_class == ops.WRITE:
                edge.writes += 1
            elif op_class == ops.CONTROL:
                edge.control += 1
                if edge.control_ops is None:
                    edge.control_ops = {}
                edge.control_ops[op] = edge.control_ops.get(op, 0) + 1
            else:
                edge.other += 1
                if action in ops.IDENTITY_OPS:
                    edge.identity_reads += 1
            if op_class in (ops.WRITE, ops.CONTROL) and event_id and len(edge.change_ids) < MAX_EDGE_IDS:
                edge.change_ids.append(event_id)
        else:
            if not edge.responses:
                answered(edge)
            edge.responses += 1
        if dataset in CLAIM_DATASETS:
            found = claims(event, dataset, action, not to_server, plain=plain)
            if found:
                server = dst if to_server else src
                _apply(found, server, src, dst, event_id, ts)

    @staticmethod
    def _guess_to_server(event: Mapping[str, Any], dataset: str, src_port: Any, dst_port: Any) -> bool:
        flag = get(event, f"{dataset}.is_response")
        if isinstance(flag, bool):
            return not flag
        if dst_port in SERVICE_PORTS and src_port not in SERVICE_PORTS:
            return True
        if src_port in SERVICE_PORTS and dst_port not in SERVICE_PORTS:
            return False
        return not (isinstance(src_port, int) and isinstance(dst_port, int) and src_port < dst_port)


def _event_id(ev: dict[str, Any]) -> str | None:
    raw_id = ev.get("id")
    return str(raw_id) if raw_id is not None else None


def _count(event: Mapping[str, Any], ev: dict[str, Any], edge: Edge, code: int, op: str, event_id: str | None) -> str | None:
    """Count a request other than a read (``Ingest.observe``); returns its event id if read."""
    if code == DIAGNOSTICS:
        op_class, op = ops.classify("modbus", "diagnostics", get(event, "modbus.subfunction"))
        code = CODES[op_class]
    if code == WRITE:
        edge.writes += 1
    elif code == CONTROL:
        edge.control += 1
        if edge.control_ops is None:
            edge.control_ops = {}
        edge.control_ops[op] = edge.control_ops.get(op, 0) + 1
    else:
        edge.other += 1
        if code == IDENTITY:
            edge.identity_reads += 1
        return event_id
    if len(edge.change_ids) < MAX_EDGE_IDS:
        if event_id is None:
            event_id = _event_id(ev)
        if event_id:
            edge.change_ids.append(event_id)
    return event_id


def _claims(event: Mapping[str, Any], ev: dict[str, Any], edge: Edge, to_server: bool, event_id: str | None,
            ts: str) -> None:
    """The identity claims of a message of a known link (``Ingest.observe``)."""
    found = claims(event, edge.protocol, str(ev.get("action") or ""), not to_server, plain=True)
    if found:
        if event_id is None:
            event_id = _event_id(ev)
        src, dst = (edge.client, edge.server) if to_server else (edge.server, edge.client)
        _apply(found, edge.server, src, dst, event_id, ts)
