"""Write the time fixture of the native correlation engine's tests: Python's answers.

``native/crates/correlation/tests/data/clock.jsonl``, one JSON line per case:

    ["seconds", "<@timestamp>", <Clock().seconds(ts) or null>]
    ["iso", <seconds>, "<correlation.fields.iso(t)>"]
    ["floordiv", <x>, <w>, <x // w>]

The timestamps are valid ones and mutations of them (each character replaced, removed or
doubled; other separators, fractions, offsets, week dates, out-of-range fields, non-ASCII
digits), from a fixed seed, so the native port of ``datetime.fromisoformat`` meets every branch
of the C code it mirrors.

    python native/tools/correlation_clock.py
"""

from __future__ import annotations

import random
import sys
from pathlib import Path

import orjson

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from correlation.fields import Clock, iso  # noqa: E402

OUT = Path(__file__).resolve().parents[1] / "crates" / "correlation" / "tests" / "data" / "clock.jsonl"

BASES = [
    "2023-11-14T22:13:20.020163Z", "2024-02-29T23:59:59.999999Z", "2023-02-29T00:00:00.000000Z",
    "0001-01-01T00:00:00.000000Z", "9999-12-31T23:59:59.999999Z", "2024-03-01T08:00:00Z",
    "2024-03-01T08:00:00", "2024-03-01 08:00:00.5+01:00", "2024-03-01T08:00:00,123-05:30",
    "20240301T080000Z", "20240301T0800", "2024-W09-5T08", "2024W095T0800", "2024-W53-1",
    "2020-W53-7T12:00", "2024W09", "2024-03-01", "2024-03-01T08", "2024-03-01T08:00:00+0130",
    "2024-03-01T08:00:00+01:30:15", "2024-03-01T08:00:00+01:30:15.5", "2024-03-01T08:00:00-23:59:59.999999",
    "2024-03-01T08:00:00+24:00", "2024-03-01T24:00:00", "2024-03-01T08:60:00", "2024-03-01T08:00:60",
    "2024-03-01T08:00:00.1234567Z", "2024-03-01T08:00:00.Z", "2024-03-01T08:00:00.12345678912Z",
    "2024-03-01T08:00:00.٠١٢٣٤٥Z", "2024-03-01T08:00:00.020163Zx", "2024-03-01é08:00:00",
    "2024-03-01\u200b08:00:00", "2024-13-01T00:00:00Z", "2024-00-10T00:00:00Z", "2024-01-32T00:00:00Z",
    "0000-01-01T00:00:00Z", "2024-01-01T00:00:00\x00Z", "2024-01-01T00:00:00Z\x00junk", "garbage",
    "", "202", "2024-01", "2024-1-1", "2024-01-01T", "2024-01-01T1", "2024-01-01T12:3", "2024-01-01T1234",
    "2024-01-01T123456", "2024-01-01T12:34:56.", "2024-01-01T12:34:56+", "2024-01-01T12:34:56+1",
    "2024-01-01T12:34:56+123", "2024-01-01T12:34:56-00:00:00.5", "+2024-01-01", "2024-W00-1", "2024-W01-0",
    "2024-W01-8", "2024-W01-", "2024-W1", "2024-01-01T12:34:56ZZ", "2024-01-01T12:34:56z",
]
ALPHABET = "0123456789-:T .,Z+WzéŁ٣\x00"


def mutations(rng: random.Random, s: str) -> list[str]:
    out = []
    for _ in range(12):
        t = list(s)
        for _ in range(rng.choice((1, 1, 2, 3))):
            op = rng.random()
            i = rng.randrange(len(t) + 1)
            if op < 0.4 and t and i < len(t):
                t[i] = rng.choice(ALPHABET)
            elif op < 0.6 and t and i < len(t):
                del t[i]
            elif op < 0.8:
                t.insert(i, rng.choice(ALPHABET))
            elif t and i < len(t):
                t.insert(i, t[i])
        out.append("".join(t))
    return out


def valid(rng: random.Random) -> str:
    """A random time in one of the forms ``fromisoformat`` reads."""
    y, mo, d = rng.randrange(1, 10000), rng.randrange(1, 13), rng.randrange(1, 29)
    h, mi, sec = rng.randrange(24), rng.randrange(60), rng.randrange(60)
    ext = rng.random() < 0.7
    date = f"{y:04d}-{mo:02d}-{d:02d}" if ext else f"{y:04d}{mo:02d}{d:02d}"
    if rng.random() < 0.15:
        return date
    time = [f"{h:02d}", f"{h:02d}:{mi:02d}" if ext else f"{h:02d}{mi:02d}"]
    time.append(f"{h:02d}:{mi:02d}:{sec:02d}" if ext else f"{h:02d}{mi:02d}{sec:02d}")
    t = rng.choice(time)
    if t == time[2] and rng.random() < 0.7:
        t += rng.choice(".,") + "".join(rng.choice("0123456789") for _ in range(rng.randrange(1, 10)))
    tz = rng.choice(("", "Z", "+00:00", f"+{rng.randrange(24):02d}:{rng.randrange(60):02d}",
                     f"-{rng.randrange(24):02d}{rng.randrange(60):02d}", f"-{rng.randrange(24):02d}",
                     f"+{rng.randrange(24):02d}:{rng.randrange(60):02d}:{rng.randrange(60):02d}.{rng.randrange(10**6):06d}"))
    return date + rng.choice("T T T x\u00e9") + t + tz


def main() -> int:
    rng = random.Random(20240301)
    clock = Clock()
    lines = []
    stamps = list(BASES)
    for b in BASES:
        stamps.extend(mutations(rng, b))
    stamps.extend(valid(rng) for _ in range(600))
    for ts in stamps:
        lines.append(["seconds", ts, clock.seconds(ts)])
    for t in [0.0, -1.5, 1.5e-7, 5e-7, 1.5e-6, 1704110400.9999995, 1700000000.020163, -62135596800.0,
              253402300799.999999, 1e12, 86399.9999999]:
        lines.append(["iso", t, iso(t)])
    for _ in range(300):
        t = rng.choice((rng.uniform(-1e10, 1e10), rng.uniform(0, 1e6), float(rng.randrange(-10**6, 10**6))))
        lines.append(["iso", t, iso(t)])
    for _ in range(400):
        x = rng.choice((rng.uniform(-1e10, 1e10), float(rng.randrange(-1000, 1000)), rng.uniform(-1, 1) * 1e-3))
        w = rng.choice((10.0, 60.0, 0.1, 0.3, 3.0, 1e-9, 7.5))
        lines.append(["floordiv", x, w, x // w])
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_bytes(b"".join(orjson.dumps(x) + b"\n" for x in lines))
    sys.stderr.write(f"{len(lines)} cases written to {OUT}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
