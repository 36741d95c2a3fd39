"""Reference tools shared by the tests: where the captures are, tshark, Zeek logs, replay."""

from __future__ import annotations

import ipaddress
import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
SHARED_PCAPS = ROOT.parent / "shared" / "pcaps"
PCAPS = ROOT / "pcaps"


def tshark_fields(
    pcap: Path, display_filter: str, fields: list[str], extra: list[str] | None = None
) -> list[list[str]]:
    """Rows of tshark -T fields output (all occurrences, comma-separated within a cell)."""
    tshark = shutil.which("tshark")
    assert tshark, "tshark is required (scripts/install-deps.sh installs it)"
    cmd = [tshark, "-n", "-r", str(pcap), *(extra or []), "-Y", display_filter, "-T", "fields",
           "-E", "occurrence=a", "-E", "separator=\t", "-E", "aggregator=,"]
    for f in fields:
        cmd += ["-e", f]
    res = subprocess.run(cmd, capture_output=True, text=True, check=True, timeout=300)
    return [line.split("\t") for line in res.stdout.splitlines()]


def load_events(out_dir: Path) -> list[dict]:
    with open(out_dir / "events.jsonl") as fh:
        return [json.loads(line) for line in fh]


def zeek_log(path: Path) -> list[dict[str, str]]:
    """Rows of a Zeek TSV log as dicts keyed by the #fields names."""
    fields: list[str] = []
    rows = []
    for line in path.read_text().splitlines():
        if line.startswith("#fields"):
            fields = line.split("\t")[1:]
        elif line and not line.startswith("#"):
            rows.append(dict(zip(fields, line.split("\t"), strict=True)))
    return rows


def replay(pcaps: list[Path], out_dir: Path) -> list[dict]:
    """Run `icssa replay` in-process through the CLI entry point and return the events."""
    from icssa.cli import main

    try:
        main(["replay", *map(str, pcaps), "--out", str(out_dir), "--quiet", "--no-progress"])
    except SystemExit as exc:
        assert exc.code in (0, None), f"replay exited {exc.code}"
    return load_events(out_dir)


def scalar_holds(op: Any, x: Any) -> bool:
    """A rule's condition on one scalar, evaluated as rules/README.md states it (test reference)."""
    if isinstance(op, dict):
        if op.keys() <= {"gt", "gte", "lt", "lte"}:
            return type(x) in (int, float) and all(
                {"gt": x > b, "gte": x >= b, "lt": x < b, "lte": x <= b}[k] for k, b in op.items()
            )
        if "regex" in op:
            return isinstance(x, str) and re.search(op["regex"], x) is not None
        if "cidr" in op:
            try:
                return isinstance(x, str) and ipaddress.ip_address(x) in ipaddress.ip_network(op["cidr"])
            except ValueError:
                return False
    if isinstance(op, list):
        return any(scalar_holds(o, x) for o in op)
    if isinstance(op, bool) or isinstance(x, bool):
        return x is op
    if isinstance(x, dict | list):
        return False
    return bool(x == op)
