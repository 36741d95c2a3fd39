"""Benchmark ``icssa replay`` against tshark on a large generated capture.

Generates (or reuses, cached in bench/data/) a capture scaled from the sample sessions with
bench/make_big_pcap.py, then times, each as its own process on the same file:

- ``icssa replay FILE --out DIR --quiet --no-progress --engine native`` (the default engine when
  the native core is installed: ``native/``, Rust)
- the same with ``--engine python`` (the reference implementation; ``--no-python`` skips it)
- ``tshark -r FILE -T fields -e frame.number -e <protocol field> > /dev/null``

and prints packets, both rates (packets per second of wall time, with and without process
start-up, and per second of CPU time), their ratio and each process's peak RSS (GNU
``/usr/bin/time``, per child). It then replays a half-size capture to show that icssa's peak
memory does not grow with the file size.
``--profile`` runs the replay in this process under cProfile and prints the top functions.

    python bench/bench_replay.py                      # 1M packets, mixed protocols
    python bench/bench_replay.py --packets 200000 --protocol modbus --profile
"""

from __future__ import annotations

import argparse
import cProfile
import hashlib
import json
import os
import pstats
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench import make_big_pcap  # noqa: E402 - after the path fix for `python bench/bench_replay.py`

DATA = ROOT / "bench" / "data"
TARGET_PPS = 150_000
GNU_TIME = "/usr/bin/time" if os.access("/usr/bin/time", os.X_OK) else ""
TSHARK_FIELDS = {
    "modbus": ["modbus.func_code"],
    "s7": ["s7comm.param.func"],
    "opcua": ["opcua.servicenodeid.numeric"],
}
TSHARK_FIELDS["mixed"] = [f for p in make_big_pcap.PROTOCOLS for f in TSHARK_FIELDS[p]]


@dataclass
class Run:
    wall: float  # seconds
    cpu: float  # user + system seconds of the process
    rss_kib: int  # peak resident set size of the process


def fingerprint(protocol: str, packets: int) -> str:
    """Changes when the generator, its parameters or the seed captures change."""
    h = hashlib.sha256(Path(make_big_pcap.__file__).read_bytes())
    h.update(f"{protocol}/{packets}".encode())
    seeds = make_big_pcap.find_seeds([ROOT / "pcaps", make_big_pcap.SHARED_PCAPS])
    for p in seeds:
        h.update(f"{p.name}:{p.stat().st_size}".encode())
    return h.hexdigest()[:16]


def capture(protocol: str, packets: int, regenerate: bool) -> tuple[Path, dict]:
    """The cached capture for (protocol, packets), generated when missing or stale."""
    path = DATA / f"{protocol}-{packets}.pcap"
    meta_path = path.with_suffix(".json")
    fp = fingerprint(protocol, packets)
    if not regenerate and path.exists() and meta_path.exists():
        meta = json.loads(meta_path.read_text())
        if meta.get("fingerprint") == fp:
            return path, meta
    print(f"generating {path.relative_to(ROOT)} ({packets:,} packets, {protocol}) ...", flush=True)
    started = time.perf_counter()
    meta = make_big_pcap.make(path, packets=packets, protocol=protocol)
    meta["fingerprint"] = fp
    meta_path.write_text(json.dumps(meta, indent=1))
    print(f"  done in {time.perf_counter() - started:.1f} s", flush=True)
    return path, meta


def measure(cmd: list[str]) -> Run:
    """Wall time and peak RSS of one child process.

    The peak comes from GNU time (``/usr/bin/time -f %M``), whose own footprint is tiny. Reading
    this process's ``os.wait4`` instead would be wrong: Linux carries the RSS high-water mark of
    the memory the child had before ``exec`` (a fork or vfork of this, larger, process) into the
    child's ``ru_maxrss``. Without GNU time, wait4 is used and the peak is an upper bound.
    """
    with tempfile.TemporaryFile() as err, tempfile.NamedTemporaryFile("r", suffix=".rss") as rss:
        wrapped = [GNU_TIME, "-f", "%M %U %S", "-o", rss.name, *cmd] if GNU_TIME else cmd
        started = time.perf_counter()
        proc = subprocess.Popen(wrapped, stdout=subprocess.DEVNULL, stderr=err, cwd=ROOT)
        _pid, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - started
        proc.returncode = os.waitstatus_to_exitcode(status)
        if proc.returncode != 0:
            err.seek(0)
            sys.exit(f"bench: {' '.join(cmd)} exited {proc.returncode}:\n{err.read().decode(errors='replace')}")
        if GNU_TIME:
            peak, user, system = rss.read().split()[-3:]
            return Run(wall, float(user) + float(system), int(peak))
    return Run(wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss)


def best(runs: list[Run]) -> Run:
    return Run(min(r.wall for r in runs), min(r.cpu for r in runs), max(r.rss_kib for r in runs))


def icssa_cmd(pcap: Path, out: Path, engine: str) -> list[str]:
    return [sys.executable, "-m", "icssa.cli", "replay", str(pcap), "--out", str(out), "--quiet", "--no-progress",
            "--engine", engine]


def tshark_cmd(pcap: Path, protocol: str) -> list[str]:
    fields = [a for f in ["frame.number", *TSHARK_FIELDS[protocol]] for a in ("-e", f)]
    return ["tshark", "-r", str(pcap), "-T", "fields", *fields]


def run_icssa(pcap: Path, repeat: int, engine: str = "native") -> tuple[Run, int]:
    """Best of ``repeat`` replays, and the number of events the last one wrote."""
    runs = []
    DATA.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=DATA, prefix="out-") as tmp:
        out = Path(tmp)
        for _ in range(repeat):
            runs.append(measure(icssa_cmd(pcap, out, engine)))
        events = count_lines(out / "events.jsonl")
    return best(runs), events


def count_lines(path: Path) -> int:
    n = 0
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 22):
            n += chunk.count(b"\n")
    return n


def mib(kib: int) -> str:
    return f"{kib / 1024:,.1f} MiB"


def rate(packets: int, seconds: float) -> float:
    return packets / seconds if seconds > 0 else float("inf")


def profile(pcap: Path, top: int = 25) -> None:
    """Replay in this process under cProfile; print the top functions by own time."""
    from icssa.pipeline import replay

    prof = cProfile.Profile()
    with tempfile.TemporaryDirectory(dir=DATA, prefix="prof-") as tmp:
        prof.enable()
        summary = replay([pcap], Path(tmp), engine="python")
        prof.disable()
    print(f"\ncProfile of icssa.pipeline.replay ({summary.packets:,} packets, {summary.events:,} events, "
          f"{summary.seconds:.2f} s under the profiler), top {top} by tottime:")
    stats = pstats.Stats(prof, stream=sys.stdout)
    by_module: dict[str, float] = {}
    for (filename, _line, _func), (_cc, _nc, tottime, _ct, _callers) in stats.stats.items():  # type: ignore[attr-defined]
        name = _module(filename) if filename.endswith(".py") else "builtins (struct, orjson, dict, ...)"
        by_module[name] = by_module.get(name, 0.0) + tottime
    total = sum(by_module.values()) or 1.0
    stats.strip_dirs().sort_stats(pstats.SortKey.TIME).print_stats(top)
    print("own time by module:")
    for name, t in sorted(by_module.items(), key=lambda kv: -kv[1])[:15]:
        print(f"  {t:7.3f} s {t / total:6.1%}  {name}")


def _module(filename: str) -> str:
    """'.../parsers/opcua/types.py' -> 'parsers/opcua/types.py' (path inside the repository)."""
    path = Path(filename)
    try:
        return str(path.resolve().relative_to(ROOT))
    except ValueError:
        return path.name


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--packets", type=int, default=1_000_000, help="capture size (default 1,000,000)")
    ap.add_argument("--protocol", choices=(*make_big_pcap.PROTOCOLS, "mixed"), default="mixed")
    ap.add_argument("--repeat", type=int, default=1, help="runs per tool; the fastest counts (noisy machine)")
    ap.add_argument("--profile", action="store_true", help="also profile an in-process Python-path replay (cProfile)")
    ap.add_argument("--no-python", dest="python", action="store_false", help="skip the Python path's run")
    ap.add_argument("--no-half", dest="half", action="store_false", help="skip the half-size memory check")
    ap.add_argument("--no-tshark", dest="tshark", action="store_false", help="skip tshark")
    ap.add_argument("--regenerate", action="store_true", help="regenerate the cached captures")
    a = ap.parse_args(argv)
    if a.packets < 2 or a.repeat < 1:
        ap.error("--packets must be at least 2 and --repeat at least 1")
    if a.tshark and shutil.which("tshark") is None:
        ap.error("tshark not found (apt-get install tshark), or pass --no-tshark")

    pcap, meta = capture(a.protocol, a.packets, a.regenerate)
    tiny, _ = capture(a.protocol, 1, a.regenerate)  # for process start-up cost
    packets = int(meta["packets"])
    print(f"\ncapture {pcap.relative_to(ROOT)}: {packets:,} packets, {pcap.stat().st_size / 1e6:,.1f} MB, "
          f"{meta['seconds_of_traffic']} s of traffic; packets by protocol {meta['packets_by_protocol']}")
    print(f"cpus: {os.cpu_count()} (shared with other work: figures are noisy; --repeat N keeps the best)\n")

    start_icssa, _ = run_icssa(tiny, a.repeat)
    icssa, events = run_icssa(pcap, a.repeat)
    rows = [("icssa replay", icssa, start_icssa, f"{events:,} events (native core)")]
    if a.python:
        start_python, _ = run_icssa(tiny, a.repeat, "python")
        python, py_events = run_icssa(pcap, a.repeat, "python")
        rows.append(("  --engine python", python, start_python, f"{py_events:,} events (the reference path)"))
    if a.tshark:
        start_tshark = best([measure(tshark_cmd(tiny, a.protocol)) for _ in range(a.repeat)])
        tshark = best([measure(tshark_cmd(pcap, a.protocol)) for _ in range(a.repeat)])
        rows.append(("tshark -T fields", tshark, start_tshark, ", ".join(TSHARK_FIELDS[a.protocol])))

    print(f"{'':18}{'wall s':>8}{'packets/s':>12}{'start-up s':>12}{'w/o start-up':>14}"
          f"{'cpu s':>8}{'per cpu s':>11}{'peak RSS':>12}")
    for name, run, start, note in rows:
        net = max(run.wall - start.wall, 1e-9)
        print(f"{name:18}{run.wall:8.2f}{rate(packets, run.wall):12,.0f}{start.wall:12.2f}"
              f"{rate(packets, net):14,.0f}{run.cpu:8.2f}{rate(packets, run.cpu):11,.0f}"
              f"{mib(run.rss_kib):>12}   {note}")
    if a.tshark:
        icssa_run, tshark_run = rows[0][1], rows[-1][1]
        print(f"\nratio icssa/tshark: {tshark_run.wall / icssa_run.wall:.2f}x by wall time, "
              f"{tshark_run.cpu / icssa_run.cpu:.2f}x by CPU time (same file)")
    verdict = "meets" if rate(packets, icssa.wall) >= TARGET_PPS else "below"
    print(f"target: >= {TARGET_PPS:,} packets/s for icssa replay: {verdict} ({rate(packets, icssa.wall):,.0f})")

    if a.half:
        half_pcap, half_meta = capture(a.protocol, a.packets // 2, a.regenerate)
        half, _ = run_icssa(half_pcap, a.repeat)
        growth = (icssa.rss_kib - half.rss_kib) / half.rss_kib * 100
        print(f"memory: icssa peak RSS {mib(half.rss_kib)} at {int(half_meta['packets']):,} packets, "
              f"{mib(icssa.rss_kib)} at {packets:,} packets ({growth:+.1f}% for twice the packets)")
        from sensors.engine import CLOSED_TIMEOUT_NS, SWEEP_EVERY_NS

        settle = (CLOSED_TIMEOUT_NS + SWEEP_EVERY_NS) / 1e9
        if float(half_meta["seconds_of_traffic"]) < 1.5 * settle:
            print(f"  (the half-size capture holds {half_meta['seconds_of_traffic']} s of traffic; closed flows "
                  f"leave the sensor's table after ~{settle:.0f} s, so the flow table is still filling: "
                  "compare at 1M packets)")

    if a.profile:
        profile(pcap)
    return 0


if __name__ == "__main__":
    sys.exit(main())
