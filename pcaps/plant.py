"""Address plan of the loopback "plant" and the scenario record every capture uses.

Every role has its own 127.0.x.y address (all of 127.0.0.0/8 is local on Linux, so
nothing needs configuring): servers listen on their address, clients bind theirs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

MODBUS_PLC = "127.0.10.1"
S7_PLC = "127.0.10.2"
OPCUA_SERVER = "127.0.10.3"
HMI = "127.0.20.1"
SCADA = "127.0.20.2"
ENGINEERING_WS = "127.0.30.1"
ATTACKER = "127.0.66.6"

ROLE_NAMES = {
    MODBUS_PLC: "plc",
    S7_PLC: "plc",
    OPCUA_SERVER: "opcua_server",
    HMI: "hmi",
    SCADA: "scada_server",
    ENGINEERING_WS: "engineering_workstation",
    ATTACKER: "attacker",
}


def hosts(*ips: str) -> dict[str, str]:
    """ip -> role for the given addresses."""
    return {ip: ROLE_NAMES[ip] for ip in ips}


@dataclass
class Outcome:
    """What a scenario did, filled in while it runs (read back from the libraries)."""

    steps: list[str] = field(default_factory=list)
    identity: dict[str, Any] = field(default_factory=dict)
    server_data: dict[str, Any] = field(default_factory=dict)
    secrets: dict[str, str] = field(default_factory=dict)
    library: dict[str, list[str]] = field(default_factory=lambda: {"worked": [], "failed": []})

    def step(self, text: str) -> None:
        self.steps.append(text)

    def worked(self, what: str) -> None:
        what = what.strip()
        if what not in self.library["worked"]:
            self.library["worked"].append(what)

    def failed(self, what: str, why: str) -> None:
        self.library["failed"].append(f"{what}: {why}")


@dataclass(frozen=True)
class Scenario:
    """One capture: static facts for the manifest plus the function that plays it."""

    name: str
    protocol: str
    description: str
    server: str
    port: int
    hosts: dict[str, str]
    techniques: list[str]
    run: Callable[[Outcome], None]
    notes: list[str] = field(default_factory=list)

    @property
    def bpf(self) -> str:
        return f"tcp and host {self.server} and port {self.port}"
