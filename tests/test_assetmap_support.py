"""Hand-built events for the asset map tests (the COMMON event contract), and capture helpers.

Events are written out field by field as the sensor would emit them, so tests state their
expected assets, roles and counts independently of assetmap's code.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
PCAPS = ROOT / "pcaps"
SHARED_PCAPS = ROOT.parent / "shared" / "pcaps"


class Events:
    """Builds events with sequential ids e1, e2, ... and second-resolution timestamps."""

    def __init__(self) -> None:
        self.n = 0
        self.all: list[dict[str, Any]] = []

    def make(
        self,
        dataset: str,
        action: str,
        src: str,
        dst: str,
        *,
        to_server: bool | None,
        t: float = 0.0,
        sport: int = 40000,
        dport: int = 502,
        smac: str | None = None,
        dmac: str | None = None,
        fields: dict[str, Any] | None = None,
        kind: str = "event",
    ) -> dict[str, Any]:
        self.n += 1
        whole, frac = divmod(t, 1.0)
        minutes, seconds = divmod(int(whole), 60)
        hours, minutes = divmod(minutes, 60)
        event: dict[str, Any] = {
            "@timestamp": f"2024-05-01T{hours:02d}:{minutes:02d}:{seconds:02d}.{int(frac * 1e6):06d}Z",
            "event": {"id": f"e{self.n}", "kind": kind, "dataset": dataset, "action": action},
            "source": {"ip": src, "port": sport},
            "destination": {"ip": dst, "port": dport},
            "network": {"transport": "tcp"},
            "observer": {"name": "test"},
            "organization": {"id": "t"},
            dataset: dict(fields or {}),
        }
        if to_server is not None:
            event["network"]["direction_to_server"] = to_server
        if smac is not None:
            event["source"]["mac"] = smac
        if dmac is not None:
            event["destination"]["mac"] = dmac
        self.all.append(event)
        return event

    def exchange(
        self,
        dataset: str,
        action: str,
        client: str,
        server: str,
        *,
        t: float = 0.0,
        port: int = 502,
        cport: int = 40000,
        cmac: str | None = None,
        smac: str | None = None,
        request: dict[str, Any] | None = None,
        response: dict[str, Any] | None = None,
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        """A request from client to server and its response, 1 ms apart."""
        req = self.make(dataset, action, client, server, to_server=True, t=t, sport=cport, dport=port,
                        smac=cmac, dmac=smac, fields={**(request or {}), "is_response": False})
        rsp = self.make(dataset, action, server, client, to_server=False, t=t + 0.001, sport=port, dport=cport,
                        smac=smac, dmac=cmac, fields={**(response or {}), "is_response": True})
        return req, rsp


def flatten(event: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested event -> dotted keys (written here, not imported, to test the reader)."""
    out: dict[str, Any] = {}
    for key, value in event.items():
        if isinstance(value, dict) and value:
            out.update(flatten(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


def manifest() -> dict[str, Any] | None:
    path = PCAPS / "manifest.json"
    if not path.exists():
        return None
    return json.loads(path.read_text())
