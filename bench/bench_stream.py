"""Sensor -> Kafka -> correlate -> Elasticsearch on this machine: throughput, latency, CPU.

Figures, not a test. Needs the engines (scripts/services.sh start; this script runs it and
never stops them). Each run works in its own topic and index prefix and removes them after.

1. Throughput: a large mixed capture (bench/make_big_pcap.py) through ``icssa sensor --pcap``
   while one ``icssa correlate`` consumes; events/s of the sensor alone, and end to end: from
   the sensor's start until every event is searchable in Elasticsearch (counted without
   forcing a refresh: searchable means the index's own refresh made it visible).
2. Latency, packet to searchable: the capture's packets are fed to a sensor in this process
   at a fixed rate; for every 50th event (``--sample-every``) the wall time its packet went in
   is noted, and a poller asks Elasticsearch (by id, every 50 ms) when it first finds it
   (each sampled id is looked up until found: sampling fewer keeps that cost, which lands on
   Elasticsearch's CPU, small next to the indexing it measures). p50 / p99 / max,
   and by stage: on Kafka (the publisher's batch acknowledged), with ``--stages`` also stored
   (a realtime GET by id finds it: indexed, not yet refreshed). Realtime GETs of unrefreshed
   documents make Elasticsearch refresh internally, so ``--stages`` costs it CPU and adds
   some latency: leave it off for the headline figures.

Both print the CPU time each process spent in the measured window (sensor, correlate, the
Kafka JVM, the Elasticsearch JVM, and everything else on the machine, from /proc), per event
and as a share of the machine's cores: the machine is shared, so CPU per event is the figure
to compare between runs, wall-clock rates the figure to compare with the goal.

    python bench/bench_stream.py --only throughput            # 500,000 packets, 432,481 events
    python bench/bench_stream.py --only latency --rate 11500 --seconds 30   # ~10k events/s
    python bench/bench_stream.py --only latency --rate 11500,17000,23000 --seconds 20  # a curve
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import deque
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from elasticsearch import ApiError  # noqa: E402

from icssa.bus import open_bus  # noqa: E402
from icssa.publisher import Publisher  # noqa: E402
from icssa.spool import Spool  # noqa: E402
from icssa.store import EventQuery, open_store  # noqa: E402
from sensors.capture import open_capture  # noqa: E402
from sensors.engine import Sensor  # noqa: E402

KAFKA = "127.0.0.1:9092"
ES = "http://127.0.0.1:9200"
ICSSA = [sys.executable, "-m", "icssa.cli_stream"]
TICK = os.sysconf("SC_CLK_TCK")
CORES = os.cpu_count() or 1


# -- CPU accounting ------------------------------------------------------------------------
def proc_cpu(pid: int) -> float:
    """User + system CPU seconds of a live process (all its threads)."""
    with open(f"/proc/{pid}/stat") as fh:
        fields = fh.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def machine_busy() -> float:
    """CPU seconds all cores spent busy since boot (everything but idle and iowait)."""
    with open("/proc/stat") as fh:
        v = [int(x) for x in fh.readline().split()[1:]]
    return (sum(v[:8]) - v[3] - v[4]) / TICK


def engine_pids() -> dict[str, int]:
    out = subprocess.run([str(ROOT / "scripts" / "services.sh"), "status"], capture_output=True, text=True).stdout
    pids = {name: int(pid) for name, pid in re.findall(r"(\w+) running \(pid (\d+)\)", out)}
    return {"Kafka JVM": pids["kafka"], "ES JVM": pids["es"]}


class CpuWindow:
    """CPU seconds of named processes between ``start`` and ``stop``."""

    def __init__(self, pids: dict[str, int]) -> None:
        self.pids = pids
        self.used: dict[str, float] = {}

    def start(self) -> None:
        self.t0 = time.perf_counter()
        self.busy0 = machine_busy()
        self.c0 = {n: proc_cpu(p) for n, p in self.pids.items()}

    def stop(self) -> None:
        self.wall = time.perf_counter() - self.t0
        self.busy = machine_busy() - self.busy0
        self.used.update({n: proc_cpu(p) - self.c0[n] for n, p in self.pids.items()})

    def report(self, events: int, extra: dict[str, float]) -> None:
        used = {**extra, **self.used}
        others = max(0.0, self.busy - sum(used.values()))
        print(f"  CPU in the {self.wall:.1f} s window ({CORES} cores = {CORES * self.wall:.1f} CPU-s):")
        for name, s in [*used.items(), ("everything else", others)]:
            print(f"    {name:<28} {s:7.2f} CPU-s  {s / events * 1e6:7.1f} µs/event  "
                  f"{s / self.wall:5.2f} cores")
        total = sum(used.values())
        print(f"    {'pipeline total':<28} {total:7.2f} CPU-s  {total / events * 1e6:7.1f} µs/event  "
              f"{total / self.wall:5.2f} cores")


def es_breakdown(store, gc0: float) -> str:  # type: ignore[no-untyped-def]
    """Where the ES JVM's time went for this run's indices (thread time, ms), and its GC."""
    stats = store.es.indices.stats(index=f"{store.prefix}*", metric="indexing,refresh,merge,flush")
    p = stats["_all"]["primaries"]
    by_kind: dict[str, float] = {}
    for index, s in stats["indices"].items():
        kind = index[len(store.prefix):].split("-")[0]
        by_kind[kind] = by_kind.get(kind, 0.0) + s["primaries"]["indexing"]["index_time_in_millis"] / 1000
    gc_ms = es_gc_ms(store) - gc0
    return (f"ES time on this run's indices: indexing {p['indexing']['index_time_in_millis'] / 1000:.1f} s "
            f"({', '.join(f'{k} {v:.1f}' for k, v in sorted(by_kind.items()))}), "
            f"refresh {p['refresh']['total_time_in_millis'] / 1000:.1f} s, merges {p['merges']['total_time_in_millis'] / 1000:.1f} s, "
            f"flush {p['flush']['total_time_in_millis'] / 1000:.1f} s; JVM GC (whole node) {gc_ms / 1000:.1f} s")


def es_gc_ms(store) -> float:  # type: ignore[no-untyped-def]
    nodes = store.es.nodes.stats(metric="jvm")["nodes"]
    return float(sum(c["collection_time_in_millis"] for n in nodes.values() for c in n["jvm"]["gc"]["collectors"].values()))


def children_cpu() -> float:
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


# -- helpers -------------------------------------------------------------------------------
def searchable(store) -> int:  # type: ignore[no-untyped-def]
    """Events visible to search now (no forced refresh)."""
    return store.count_events(EventQuery())


def cleanup(name: str, store) -> None:  # type: ignore[no-untyped-def]
    from kafka import KafkaAdminClient

    store.drop()
    store.delete_templates()
    store.close()
    admin = KafkaAdminClient(bootstrap_servers=KAFKA)
    mine = [t for t in admin.list_topics() if t.startswith(f"{name}.")]
    if mine:
        admin.delete_topics(mine)
    admin.close()


def wait_assigned(corr: subprocess.Popen, timeout: float = 60.0) -> None:  # type: ignore[type-arg]
    """Until the correlator logs its partition assignment (it runs with -v)."""
    assert corr.stderr is not None
    deadline = time.monotonic() + timeout
    for line in corr.stderr:
        if "assigned [" in line:
            return
        if time.monotonic() > deadline:
            break
    raise SystemExit("the correlator did not join its group")


def drain_stderr(corr: subprocess.Popen, lines: list[str]) -> threading.Thread:  # type: ignore[type-arg]
    def read() -> None:
        assert corr.stderr is not None
        lines.extend(corr.stderr)

    t = threading.Thread(target=read, daemon=True)
    t.start()
    return t


def correlate(bus: str, store_url: str, *extra: str) -> subprocess.Popen:  # type: ignore[type-arg]
    return subprocess.Popen([*ICSSA, "correlate", "--bus", bus, "--store", store_url, "--idle-flush", "3600", "-v",
                             *extra], cwd=ROOT, stderr=subprocess.PIPE, text=True)


# -- throughput ----------------------------------------------------------------------------
def throughput(pcap: Path, expected: int, tmp: Path, sensor_args: list[str], corr_args: list[str]) -> None:
    name = f"bench{uuid.uuid4().hex[:6]}"
    bus, store_url = f"kafka://{KAFKA}?prefix={name}.", f"{ES}?prefix={name}-"
    store = open_store(store_url)
    corr = correlate(bus, store_url, *corr_args)
    lines: list[str] = []
    try:
        wait_assigned(corr)
        reader = drain_stderr(corr, lines)
        win = CpuWindow({"correlate": corr.pid, **engine_pids()})
        gc0 = es_gc_ms(store)
        win.start()
        c0 = children_cpu()
        t0 = time.perf_counter()
        sensor = subprocess.run([*ICSSA, "sensor", "--bus", bus, "--pcap", str(pcap), "--spool",
                                 str(tmp / f"{name}-spool"), *sensor_args], cwd=ROOT, capture_output=True, text=True)
        t_sensor = time.perf_counter() - t0
        sensor_cpu = children_cpu() - c0
        if sensor.returncode:
            raise SystemExit(sensor.stderr)
        while searchable(store) < expected:
            time.sleep(0.05)
        t_all = time.perf_counter() - t0
        win.stop()
        es_line = es_breakdown(store, gc0)
    finally:
        corr.terminate()
        corr.wait(timeout=300)
        cleanup(name, store)
    reader.join(timeout=10)
    print(f"throughput: {expected:,} events")
    print(f"  sensor -> Kafka:                  {t_sensor:6.1f} s  {expected / t_sensor:9,.0f} events/s")
    print(f"  sensor -> Kafka -> ES searchable: {t_all:6.1f} s  {expected / t_all:9,.0f} events/s")
    win.report(expected, {"sensor (incl. start-up)": sensor_cpu})
    print("  " + es_line)
    summary = [line for line in lines if "icssa correlate:" in line]
    if summary:
        print("  " + summary[-1].strip())


# -- latency -------------------------------------------------------------------------------
def latency(pcap: Path, rate: float, seconds: float, tmp: Path, corr_args: list[str],
            batch_size: int, linger: float, stages: bool, sample_every: int) -> None:
    name = f"bench{uuid.uuid4().hex[:6]}"
    bus_url, store_url = f"kafka://{KAFKA}?prefix={name}.", f"{ES}?prefix={name}-"
    store = open_store(store_url)
    bus = open_bus(bus_url)
    bus.ensure_topics()
    corr = correlate(bus_url, store_url, *corr_args)
    lines: list[str] = []
    publisher = Publisher(bus, Spool(tmp / f"{name}-spool"), batch_size=batch_size, linger=linger)
    sent: dict[str, float] = {}
    index_of: dict[str, str] = {}
    acked: dict[str, float] = {}
    stored: dict[str, float] = {}
    seen: dict[str, float] = {}
    unacked: deque[tuple[int, str]] = deque()  # (sequence number, id) of sampled events not yet on Kafka
    n_events = 0
    now = 0.0

    def emit(event: dict) -> None:  # type: ignore[type-arg]
        nonlocal n_events
        n_events += 1
        if n_events % sample_every == 0:
            eid = event["event"]["id"]
            sent[eid] = now
            index_of[eid] = store._event_index(event["@timestamp"])
            unacked.append((n_events, eid))
        publisher.publish(event)

    def note_acked() -> None:
        """The publisher acknowledges events in sensor order: the first ``published + drained``
        events are on Kafka (noted at each tick, so to within 256 packets)."""
        upto = publisher.stats["published"] + publisher.stats["drained"]
        t = time.perf_counter()
        while unacked and unacked[0][0] <= upto:
            acked[unacked.popleft()[1]] = t

    done = threading.Event()
    t_end = 0.0

    def poll() -> None:
        while not done.is_set() or len(seen) < len(sent):
            by_index: dict[str, list[str]] = {}
            for i in [i for i in list(sent) if i not in stored][:2000] if stages else ():
                by_index.setdefault(index_of[i], []).append(i)
            for index, ids in by_index.items():
                try:
                    docs = store.es.mget(index=index, ids=ids, _source=False, realtime=True)["docs"]
                except ApiError:  # no such index yet
                    continue
                t = time.perf_counter()
                for d in docs:
                    if d.get("found"):
                        stored.setdefault(d["_id"], t)
            want = [i for i in list(sent) if i not in seen][:2000]
            if want:
                try:
                    resp = store.es.search(index=store.events_pattern, query={"ids": {"values": want}},
                                           size=len(want), _source=False, ignore_unavailable=True,
                                           allow_no_indices=True)
                except ApiError:  # the month's index is being created: ask again
                    time.sleep(0.05)
                    continue
                t = time.perf_counter()
                for hit in resp["hits"]["hits"]:
                    seen.setdefault(hit["_id"], t)
            if done.is_set() and time.perf_counter() - t_end > 60:
                return
            time.sleep(0.05)

    wait_assigned(corr)
    reader = drain_stderr(corr, lines)
    poller = threading.Thread(target=poll, daemon=True)
    poller.start()
    sensor = Sensor(emit, observer="bench", capture_id=f"lat{name}")
    handle, tick = sensor.packet, publisher.tick
    win = CpuWindow({"correlate": corr.pid, **engine_pids()})
    gc0 = es_gc_ms(store)
    win.start()
    bench0 = time.process_time()
    feed0 = time.thread_time()
    start = time.perf_counter()
    k = 0
    for ts_ns, linktype, data in open_capture(pcap):
        now = time.perf_counter()
        ahead = start + k / rate - now
        if ahead > 0.002:  # pace in steps of a few ms, not a sleep per packet
            time.sleep(ahead)
            now = time.perf_counter()
        handle(ts_ns, linktype, data)
        k += 1
        if not k & 0xFF:
            tick()
            note_acked()
            if now - start > seconds:
                break
    sensor.finish()
    publisher.flush()
    note_acked()
    feed_cpu = time.thread_time() - feed0
    t_end = time.perf_counter()
    fed = t_end - start
    done.set()
    poller.join()
    win.stop()
    es_line = es_breakdown(store, gc0)
    bench_cpu = time.process_time() - bench0
    corr.terminate()
    corr.wait(timeout=300)
    reader.join(timeout=10)
    publisher.close()
    cleanup(name, store)
    lat = sorted(seen[i] - sent[i] for i in sent if i in seen)
    if not lat:
        raise SystemExit("no event became searchable")
    q = statistics.quantiles(lat, n=100)
    print(f"latency, packet to searchable: {k:,} packets in {fed:.1f} s ({k / fed:,.0f} packets/s, "
          f"{n_events / fed:,.0f} events/s), {n_events:,} events, {len(lat):,} of {len(sent):,} sampled seen:")
    print(f"  p50 {q[49]:.3f} s   p99 {q[98]:.3f} s   max {lat[-1]:.3f} s")
    stages = []
    for label, at in (("on Kafka", acked), ("stored", stored), ("searchable", seen)):
        d = sorted(at[i] - sent[i] for i in sent if i in at)
        if len(d) >= 100:
            sq = statistics.quantiles(d, n=100)
            stages.append(f"{label} {sq[49]:.2f}/{sq[98]:.2f}")
    print("  packet to ... p50/p99 s: " + ", ".join(stages))
    spans = []  # by when the packet went in: a backlog shows as latency growing over the run
    for lo in range(0, int(fed) + 1, 5):
        w = sorted(seen[i] - sent[i] for i in sent if i in seen and lo <= sent[i] - start < lo + 5)
        if len(w) >= 20:
            wq = statistics.quantiles(w, n=100)
            spans.append(f"{lo}-{lo + 5}s {wq[49]:.2f}/{wq[98]:.2f}")
    print("  p50/p99 by 5 s of input: " + ", ".join(spans))
    win.report(n_events, {"sensor (feeding thread)": feed_cpu,
                          "bench poller + Kafka client": max(0.0, bench_cpu - feed_cpu)})
    print("  " + es_line)
    summary = [line for line in lines if "icssa correlate:" in line]
    if summary:
        print("  " + summary[-1].strip())


def count_events(pcap: Path) -> int:
    n = 0

    def tally(_: dict) -> None:  # type: ignore[type-arg]
        nonlocal n
        n += 1

    s = Sensor(tally)
    s.run(open_capture(pcap))
    s.finish()
    return n


def capture(work: Path, packets: int) -> Path:
    pcap = work / f"mixed-{packets}.pcap"
    if not pcap.exists():
        subprocess.run([sys.executable, str(ROOT / "bench" / "make_big_pcap.py"), "--packets", str(packets),
                        "--out", str(pcap)], check=True, capture_output=True)
    return pcap


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--packets", type=int, default=500_000, help="capture size of the throughput run")
    ap.add_argument("--rate", default="23000", help="packets/s fed in the latency run (comma-separated: one run each)")
    ap.add_argument("--seconds", type=float, default=30.0, help="length of the latency run")
    ap.add_argument("--latency-packets", type=int, default=1_000_000, help="capture the latency run reads")
    ap.add_argument("--batch-size", type=int, default=2000, help="latency run: the publisher's batch size")
    ap.add_argument("--linger", type=float, default=0.05, help="latency run: the publisher's linger (s)")
    ap.add_argument("--work", type=Path, default=ROOT / "bench" / "data")
    ap.add_argument("--only", choices=("throughput", "latency"), help="run one of the two measurements")
    ap.add_argument("--sample-every", type=int, default=50, help="latency run: time every Nth event")
    ap.add_argument("--stages", action="store_true", help="latency run: also time 'stored' (realtime GETs; see above)")
    ap.add_argument("--sensor-arg", action="append", default=[], help="extra option for icssa sensor (repeatable)")
    ap.add_argument("--correlate-arg", action="append", default=[], help="extra option for icssa correlate")
    args = ap.parse_args()
    subprocess.run([str(ROOT / "scripts" / "services.sh"), "start"], check=True)
    args.work.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=args.work, prefix="stream-") as scratch:  # spools, removed at the end
        tmp = Path(scratch)
        if args.only != "latency":
            pcap = capture(args.work, args.packets)
            expected = count_events(pcap)
            print(f"capture: {pcap} ({args.packets:,} packets, {expected:,} events)")
            throughput(pcap, expected, tmp, args.sensor_arg, args.correlate_arg)
        if args.only != "throughput":
            pcap = capture(args.work, args.latency_packets)
            for rate in (float(r) for r in args.rate.split(",")):
                latency(pcap, rate, args.seconds, tmp, args.correlate_arg, args.batch_size, args.linger, args.stages,
                        args.sample_every)

if __name__ == "__main__":
    main()
