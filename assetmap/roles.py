"""Roles from behaviour, and the Purdue level they imply.

| role | evidence | confidence |
|---|---|---|
| plc | answers Modbus, S7comm or S7comm-plus requests (0.9 on 502/102, 0.8 on another port) | 0.8-0.9 |
| opcua_server | answers OPC UA requests (0.9 on 4840) | 0.8-0.9 |
| engineering_workstation | sends program download/upload, CPU start/stop, protection or forcing operations | 0.9 |
|  | or writes a lot: at least ``EWS_MIN_WRITES`` writes and more writes than reads | 0.6 |
| scada_server | reads from at least ``SCADA_MIN_CONTROLLERS`` controllers | 0.8 |
| hmi | reads a controller cyclically (``CYCLIC_MIN_READS`` reads, gap spread <= ``CYCLIC_MAX_CV``) | 0.7 |
|  | or reads a controller without a steadier pattern | 0.5 |
| engineering_workstation | reads only identity, diagnostics or the block list of a controller (Modbus FC 43/17, S7 SZL, block lists) | 0.4 |

Client roles are exclusive, in the order of the table (a workstation that also monitors values is
a workstation). A host can be both a server and a client (a gateway). A fingerprint's device type
adds its role. Levels (lowest wins): plc 1, opcua_server / hmi / scada_server /
engineering_workstation 2, historian 3.

Edges here are any objects with ``protocol, server, ports, reads, writes, control_ops,
identity_reads, responses, event_ids, change_ids, is_cyclic`` (``store.Edge`` or a snapshot's folded edges).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from assetmap.ops import ENGINEERING_OPS

SERVER_ROLE = {"modbus": "plc", "s7comm": "plc", "s7comm_plus": "plc", "opcua": "opcua_server"}
STANDARD_PORT = {"modbus": 502, "s7comm": 102, "s7comm_plus": 102, "opcua": 4840}
CONTROLLER_ROLES = frozenset({"plc", "rtu", "opcua_server"})
ROLE_LEVEL = {
    "plc": 1.0, "rtu": 1.0, "opcua_server": 2.0, "hmi": 2.0, "scada_server": 2.0,
    "engineering_workstation": 2.0, "historian": 3.0,
}
DEVICE_TYPE_ROLES = frozenset(ROLE_LEVEL) | {"gateway"}

EWS_MIN_WRITES = 20
SCADA_MIN_CONTROLLERS = 3
CYCLIC_MIN_READS = 4
CYCLIC_MAX_CV = 0.5

# role -> (confidence, event ids)
Roles = dict[str, tuple[float, list[str]]]


def cyclic(read_n: int, mean: float, m2: float) -> bool:
    """Reads at a steady pace: enough of them, gaps with a coefficient of variation <= the limit."""
    gaps = read_n - 1
    if read_n < CYCLIC_MIN_READS or mean <= 0:
        return False
    std = (m2 / (gaps - 1)) ** 0.5 if gaps > 1 else 0.0
    return std / mean <= CYCLIC_MAX_CV


def _add(roles: Roles, role: str, confidence: float, ids: Iterable[str]) -> None:
    prior = roles.get(role)
    merged = list(prior[1]) if prior else []
    for eid in ids:
        if eid not in merged and len(merged) < 5:
            merged.append(eid)
    roles[role] = (max(confidence, prior[0]) if prior else confidence, merged)


def server_roles(in_edges: Iterable[Any]) -> Roles:
    roles: Roles = {}
    for e in in_edges:
        role = SERVER_ROLE.get(e.protocol)
        if role is None or not e.responses:
            continue
        confidence = 0.9 if STANDARD_PORT[e.protocol] in e.ports else 0.8
        _add(roles, role, confidence, e.event_ids)
    return roles


def client_roles(out_edges: Iterable[Any], is_controller: Callable[[Any], bool]) -> Roles:
    engineering_ids: list[str] = []
    engineering = writes = reads = 0
    write_ids: list[str] = []
    polled: dict[Any, list[str]] = {}
    cyclic_ids: list[str] = []
    read_ids: list[str] = []
    identity_ids: list[str] = []
    for e in out_edges:
        if e.protocol not in SERVER_ROLE:
            continue
        n = sum(count for op, count in (e.control_ops or {}).items() if op in ENGINEERING_OPS)
        if n:
            engineering += n
            engineering_ids.extend(e.change_ids)
        writes += e.writes
        reads += e.reads
        if e.writes:
            write_ids.extend(e.change_ids)
        if e.identity_reads and is_controller(e.server):
            identity_ids.extend(e.event_ids)
        if e.reads and is_controller(e.server):
            polled[e.server] = e.event_ids
            read_ids.extend(e.event_ids)
            if e.is_cyclic:
                cyclic_ids.extend(e.event_ids)
    roles: Roles = {}
    if engineering:
        _add(roles, "engineering_workstation", 0.9, engineering_ids)
    elif writes >= EWS_MIN_WRITES and writes >= reads:
        _add(roles, "engineering_workstation", 0.6, write_ids)
    elif len(polled) >= SCADA_MIN_CONTROLLERS:
        _add(roles, "scada_server", 0.8, [i for ids in polled.values() for i in ids[:1]])
    elif cyclic_ids:
        _add(roles, "hmi", 0.7, cyclic_ids)
    elif polled:
        _add(roles, "hmi", 0.5, read_ids)
    elif identity_ids:
        _add(roles, "engineering_workstation", 0.4, identity_ids)
    return roles


def merge(*parts: Roles) -> Roles:
    out: Roles = {}
    for part in parts:
        for role, (confidence, ids) in part.items():
            _add(out, role, confidence, ids)
    return out


def level(roles: Iterable[str]) -> float | None:
    """The Purdue level the roles imply (the lowest), or None."""
    levels = [ROLE_LEVEL[r] for r in roles if r in ROLE_LEVEL]
    return min(levels) if levels else None
