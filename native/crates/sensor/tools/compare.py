"""Differential check of the native sensor against the Python one.

Runs the same captures through ``icssa.pipeline.replay`` (events only, as
``icssa replay FILES --out DIR --events-only --quiet --no-progress`` does) and through the
native ``replay`` example, then compares events.jsonl byte for byte, the summary counters
(sensor stats, messages by dataset and action, parse errors, error lines, in their insertion
order) and the warnings logged by ``icssa.sensor``.

Run from the repository root::

    python native/crates/sensor/tools/compare.py --bin /tmp/tgt-sensor/release/examples/replay FILES...

``--protocols modbus,s7comm`` limits the Python registry to match a native build made with
fewer parser features. Exit code 0 when everything matches, 1 otherwise.
"""

# ruff: noqa: T201 - a command-line tool: its report is printed

from __future__ import annotations

import argparse
import logging
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parents[4]))

import parsers  # noqa: E402
import sensors.engine  # noqa: E402
from icssa.pipeline import Analytics, Summary, replay  # noqa: E402


def summary_json(s: Summary) -> bytes:
    doc: dict[str, Any] = {
        "files": s.files,
        "packets": s.packets,
        "bytes": s.bytes,
        "flows": s.flows,
        "events": s.events,
        "messages": dict(s.messages),
        "actions": [[d, a, n] for (d, a), n in s.actions.items()],
        "parse_errors": [[d, r, n] for (d, r), n in s.parse_errors.items()],
        "sensor": dict(s.sensor),
        "errors": s.errors,
    }
    return orjson.dumps(doc) + b"\n"


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(f"{record.levelname} {record.name}: {record.getMessage()}")


def run_python(files: list[Path], out: Path, protocols: list[str] | None) -> tuple[bytes, list[str]]:
    if protocols is not None:
        specs = [s for s in parsers.registry() if s.name in protocols]
        sensors.engine.registry = lambda: specs  # type: ignore[assignment]
    log = logging.getLogger("icssa.sensor")
    handler = _Collect()
    log.addHandler(handler)
    log.propagate = False
    try:
        # the Python path itself: replay would pick the installed native module otherwise
        summary = replay(files, out, analytics=Analytics(enabled=False), engine="python")
    finally:
        log.removeHandler(handler)
    return summary_json(summary), handler.lines


def first_difference(a: Path, b: Path) -> str:
    la = a.read_bytes().split(b"\n")
    lb = b.read_bytes().split(b"\n")
    for i, (x, y) in enumerate(zip(la, lb, strict=False)):
        if x != y:
            return f"line {i + 1}:\n  python: {x[:600]!r}\n  native: {y[:600]!r}"
    return f"python has {len(la) - 1} lines, native {len(lb) - 1}"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("files", nargs="+", type=Path)
    ap.add_argument("--bin", default="/tmp/tgt-sensor/release/examples/replay")
    ap.add_argument("--protocols", help="comma-separated registry subset (default: all)")
    ap.add_argument("--keep", type=Path, help="write both outputs under this folder")
    ap.add_argument("--each", action="store_true", help="one run per file (after expanding folders)")
    args = ap.parse_args()
    protocols = args.protocols.split(",") if args.protocols else None
    if not args.each:
        return compare(args.files, args.bin, protocols, args.keep)
    from icssa.pipeline import expand

    bad = [f for f in expand(args.files) if compare([f], args.bin, protocols, args.keep)]
    print(f"{len(bad)} file(s) differ" + "".join(f"\n  {f}" for f in bad))
    return 1 if bad else 0


def compare(files: list[Path], binary: str, protocols: list[str] | None, keep: Path | None) -> int:
    with tempfile.TemporaryDirectory() as tmp:
        base = keep or Path(tmp)
        py_out, rs_out = base / "python", base / "native"
        py_summary, py_log = run_python(files, py_out, protocols)
        proc = subprocess.run([binary, *map(str, files), "--out", str(rs_out)], capture_output=True, check=False)
        rs_summary = proc.stdout
        rs_log = [ln for ln in proc.stderr.decode("utf-8", "replace").splitlines() if ln.startswith("WARNING ")]
        ok = True
        pe, re_ = py_out / "events.jsonl", rs_out / "events.jsonl"
        if not re_.exists() or pe.read_bytes() != re_.read_bytes():
            ok = False
            print("events.jsonl differs:", first_difference(pe, re_) if re_.exists() else "native wrote none")
        if py_summary != rs_summary:
            ok = False
            print(f"summary differs:\n  python: {py_summary.decode()}  native: {rs_summary.decode()}")
            print(proc.stderr.decode("utf-8", "replace")[-2000:])
        if py_log != rs_log:
            ok = False
            print(f"log differs:\n  python: {py_log}\n  native: {rs_log}")
        events = pe.read_bytes().count(b"\n")
        summary = orjson.loads(py_summary)
        status = "identical" if ok else "MISMATCH"
        print(f"{' '.join(map(str, files))[:60]}: {summary['packets']} packets, {events} events, "
              f"{len(summary['errors'])} error line(s): {status}")
        return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
