"""Record the zone answers the correlation engine gets from the asset map, for native parity runs.

Replays an ``events.jsonl`` of the Python pipeline through the asset map and the correlation
engine as ``icssa/pipeline.py`` wires them (``amap.observe(event)``, then
``engine.process(event)``, ``engine.flush()`` at the end), with the engine's context wrapped in
a recorder. Every ``zone_of(ip)`` call is written, in call order, as one JSON line:

    ["10.1.0.5", ["control", 1.0]]    # zone name (or null), Purdue level (or null)
    ["8.8.8.8", null]                  # no answer (not a mapping)

which is what ``ZoneCache.miss`` makes of the answer: the native engine's parity context
replays these answers and checks it asks about the same addresses in the same order.
``--alerts`` also writes the alerts (to check the replay against the pipeline's alerts.jsonl);
``--zone-cache N`` runs with a zone cache of N answers (``correlation.engine.ZONE_CACHE``), so
that it fills and is cleared often: the native run must then ask exactly as often.

    python native/tools/correlation_zones.py /work/notes/ref/pcaps/events.jsonl --zones /tmp/z.jsonl
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import IO, Any

import orjson

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import correlation.engine as engine_mod  # noqa: E402
from correlation import Engine  # noqa: E402
from correlation.context import ZoneContext  # noqa: E402
from icssa.pipeline import Analytics  # noqa: E402


class Recorder:
    """A zone context that forwards to another and writes down each answer."""

    def __init__(self, inner: ZoneContext, out: IO[bytes]) -> None:
        self.inner = inner
        self.out = out
        self.calls = 0

    def zone_of(self, ip: str) -> Mapping[str, Any] | None:
        answer = self.inner.zone_of(ip)
        self.calls += 1
        self.out.write(orjson.dumps([ip, converted(answer)], option=orjson.OPT_APPEND_NEWLINE))
        return answer


def converted(answer: Any) -> list[Any] | None:
    """(zone, level) as ``correlation.context.ZoneCache.miss`` keeps it, or None."""
    if not isinstance(answer, Mapping):
        return None
    name, level = answer.get("zone"), answer.get("level")
    return [
        name if isinstance(name, str) else None,
        float(level) if isinstance(level, int | float) and not isinstance(level, bool) else None,
    ]


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("events", type=Path, help="events.jsonl of the Python pipeline")
    ap.add_argument("--zones", type=Path, required=True, help="write the zone answers here")
    ap.add_argument("--alerts", type=Path, help="also write the alerts here")
    ap.add_argument("--rules", type=Path, help="rules folder (default: rules/)")
    ap.add_argument("--zone-cache", type=int, help="zone answers kept (default: the engine's)")
    args = ap.parse_args(argv)
    if args.zone_cache is not None:
        engine_mod.ZONE_CACHE = args.zone_cache
    amap = Analytics().asset_map()
    assert amap is not None
    with open(args.zones, "wb") as zones, open(args.alerts or "/dev/null", "wb") as alerts_out:
        recorder = Recorder(amap, zones)
        engine = Engine.from_directory(args.rules, context=recorder)
        for e in engine.load_errors:
            sys.stderr.write(f"{e}\n")
        n = 0
        with open(args.events, "rb") as fh:
            for line in fh:
                if not line.strip():
                    continue
                event = orjson.loads(line)
                amap.observe(event)
                for alert in engine.process(event):
                    alerts_out.write(orjson.dumps(alert, option=orjson.OPT_APPEND_NEWLINE))
                n += 1
        for alert in engine.flush():
            alerts_out.write(orjson.dumps(alert, option=orjson.OPT_APPEND_NEWLINE))
    sys.stderr.write(f"{n} events, {recorder.calls} zone answers\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
