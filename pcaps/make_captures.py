"""Remake the project's sample captures from real protocol implementations on loopback.

    python pcaps/make_captures.py [--only NAME ...] [--list]

Needs root (tcpdump on lo) and /usr/bin/tcpdump. For each scenario: start tcpdump with
a host/port filter, wait for its "listening on" line, play the scenario (server and
clients on their own 127.0.x.y addresses), wait until every TCP connection is torn
down, stop tcpdump with SIGINT. A capture whose statistics show lost packets is made
again (up to three tries). pcaps/manifest.json is updated for the captures made; entries
of other captures are kept.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

from capture import CaptureError, Tcpdump  # noqa: E402
from plant import Outcome, Scenario  # noqa: E402

MANIFEST = HERE / "manifest.json"
TRIES = 3


def all_scenarios() -> list[Scenario]:
    import modbus_scenarios
    import opcua_scenarios
    import s7_scenarios

    return [*modbus_scenarios.SCENARIOS, *s7_scenarios.SCENARIOS, *opcua_scenarios.SCENARIOS]


def _entry(scenario: Scenario, outcome: Outcome, packets: int, path: Path) -> dict[str, Any]:
    return {
        "file": path.name,
        "protocol": scenario.protocol,
        "description": scenario.description,
        "server": {"ip": scenario.server, "port": scenario.port},
        "port": scenario.port,
        "hosts": scenario.hosts,
        "techniques": scenario.techniques,
        "identity": outcome.identity,
        "server_data": outcome.server_data,
        "secrets": outcome.secrets,
        "steps": outcome.steps,
        "library": outcome.library,
        "notes": scenario.notes,
        "packets": packets,
        "bytes": path.stat().st_size,
    }


def make(scenario: Scenario) -> dict[str, Any]:
    path = HERE / f"{scenario.name}.pcap"
    last: str = ""
    for attempt in range(1, TRIES + 1):
        outcome = Outcome()
        dump = Tcpdump(path, scenario.bpf)
        dump.start()
        try:
            scenario.run(outcome)
        finally:
            stats = dump.stop()
        if stats.complete:
            return _entry(scenario, outcome, stats.captured, path)
        last = f"captured {stats.captured}, received by filter {stats.received}, dropped {stats.dropped}, all flows closed: {stats.flows_closed}"
        print(f"  {scenario.name}: try {attempt} incomplete ({last}); again", file=sys.stderr)
    raise CaptureError(f"{scenario.name}: no complete capture after {TRIES} tries ({last})")


def _tshark_ok(path: Path) -> bool:
    result = subprocess.run(["tshark", "-n", "-r", str(path)], capture_output=True, text=True, check=False)
    return result.returncode == 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="+", metavar="NAME", help="make only these captures (names without .pcap)")
    parser.add_argument("--list", action="store_true", help="list the capture names and exit")
    args = parser.parse_args(argv)

    scenarios = all_scenarios()
    by_name = {s.name: s for s in scenarios}
    if args.list:
        for s in scenarios:
            print(s.name)
        return 0
    if args.only:
        unknown = [n.removesuffix(".pcap") for n in args.only if n.removesuffix(".pcap") not in by_name]
        if unknown:
            print(f"make_captures: unknown capture name(s): {', '.join(unknown)} (see --list)", file=sys.stderr)
            return 2
        scenarios = [by_name[n.removesuffix(".pcap")] for n in args.only]
    if os.geteuid() != 0:
        print("make_captures: needs root to capture on lo with tcpdump", file=sys.stderr)
        return 2

    manifest: dict[str, Any] = {"captures": {}}
    if MANIFEST.exists():
        manifest = json.loads(MANIFEST.read_text())
    manifest["captures"] = {k: v for k, v in manifest.get("captures", {}).items() if k in by_name}
    failures = 0
    for scenario in scenarios:
        try:
            entry = make(scenario)
        except Exception as exc:  # one broken scenario is reported; the others still run
            print(f"FAIL {scenario.name}: {type(exc).__name__}: {exc}", file=sys.stderr)
            failures += 1
            continue
        if not _tshark_ok(HERE / entry["file"]):
            print(f"FAIL {scenario.name}: tshark cannot read {entry['file']}", file=sys.stderr)
            failures += 1
            continue
        manifest["captures"][scenario.name] = entry
        raised = len(entry["library"]["failed"])
        print(f"ok   {scenario.name}: {entry['packets']} packets, {entry['bytes']} bytes" + (f", {raised} calls raised" if raised else ""))
    manifest["captures"] = dict(sorted(manifest["captures"].items()))
    manifest["address_plan"] = {
        "127.0.10.1": "Modbus PLC (pymodbus server)",
        "127.0.10.2": "S7 PLC (python-snap7 server)",
        "127.0.10.3": "OPC UA server (asyncua)",
        "127.0.20.1": "HMI",
        "127.0.20.2": "SCADA server",
        "127.0.30.1": "engineering workstation",
        "127.0.66.6": "attacker",
    }
    manifest["generator"] = "pcaps/make_captures.py"
    MANIFEST.write_text(json.dumps(manifest, indent=2, sort_keys=False, ensure_ascii=False) + "\n")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
