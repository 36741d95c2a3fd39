"""Long differential runs of the two engines, beyond what the test suite has time for.

Each run replays one hostile capture with ``--engine python`` and ``--engine native`` (asset
map and correlation on) and compares the four files, the error lines and the counters; a
capture that differs is kept for a test.

- ``samples`` (default): a sample or shared capture with random byte flips, insertions,
  deletions and cuts (``tests/test_native.py``'s ``mutate``), ``--runs`` times;
- ``flips``: a large capture (``--capture``) with ``--flips`` random bytes changed inside its
  packets (the record headers are kept, so every packet is still read), ``--runs`` times.

    python native/tools/differential.py --runs 1500 --seed 11
    python native/tools/differential.py flips --capture bench/data/mixed-100000.pcap --runs 6
"""

from __future__ import annotations

import argparse
import filecmp
import random
import struct
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
for p in (ROOT, ROOT / "tests"):
    if str(p) not in sys.path:
        sys.path.insert(0, str(p))

from test_native import OUTPUTS, SAMPLES, SHARED_CAPTURES, mutate  # noqa: E402

from icssa.pipeline import Analytics, Summary, replay  # noqa: E402


def flipped(data: bytes, rng: random.Random, flips: int) -> bytes:
    """A little-endian pcap with ``flips`` bytes changed past the Ethernet header of random packets."""
    packets = []
    pos = 24
    while pos + 16 <= len(data):
        caplen = struct.unpack_from("<I", data, pos + 8)[0]
        if caplen > 14:
            packets.append((pos + 16, caplen))
        pos += 16 + caplen
    buf = bytearray(data)
    for _ in range(flips if packets else 0):
        start, n = rng.choice(packets)
        at = start + rng.randrange(14, n)
        buf[at] = rng.randrange(256) if rng.random() < 0.7 else buf[at] ^ (1 << rng.randrange(8))
    return bytes(buf)


def differs(capture: Path, work: Path) -> list[str]:
    """What differs between the engines on ``capture`` (empty: nothing)."""
    py: Summary = replay([capture], work / "python", analytics=Analytics(), engine="python")
    nat: Summary = replay([capture], work / "native", analytics=Analytics(), engine="native")
    out = [n for n in OUTPUTS if not filecmp.cmp(work / "python" / n, work / "native" / n, shallow=False)]
    if py.errors != nat.errors:
        out.append(f"errors {py.errors} != {nat.errors}")
    if py.parse_errors != nat.parse_errors or +py.sensor != +nat.sensor:
        out.append("counters")
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("mode", nargs="?", choices=("samples", "flips"), default="samples")
    ap.add_argument("--runs", type=int, default=200)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--capture", type=Path, default=ROOT / "bench" / "data" / "mixed-100000.pcap")
    ap.add_argument("--flips", type=int, default=3000, help="bytes changed per run (flips mode)")
    ap.add_argument("--keep", type=Path, default=Path(tempfile.gettempdir()) / "icssa-differential")
    a = ap.parse_args()
    rng = random.Random(a.seed)
    captures = SAMPLES + SHARED_CAPTURES
    a.keep.mkdir(parents=True, exist_ok=True)
    bad = 0
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        for i in range(a.runs):
            if a.mode == "samples":
                source = rng.choice(captures)
                data = mutate(source.read_bytes(), rng.randrange(2**32), rng.randint(1, 80))
            else:
                source = a.capture
                data = flipped(source.read_bytes(), rng, a.flips)
            capture = work / source.name
            capture.write_bytes(data)
            diff = differs(capture, work)
            if diff:
                bad += 1
                kept = a.keep / f"{a.seed}-{i}-{source.name}"
                kept.write_bytes(data)
                print(f"run {i}: {source.name} differs ({', '.join(diff)}): kept as {kept}", flush=True)
    print(f"{a.runs} runs ({a.mode}, seed {a.seed}): {bad} differ")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
