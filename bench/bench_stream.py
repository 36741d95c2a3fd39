"""Sensor -> Kafka -> correlate -> Elasticsearch on this machine: throughput and latency.

Figures, not a test. Needs the engines (scripts/services.sh start; this script runs it).

1. Throughput: a large mixed capture (bench/make_big_pcap.py) through ``icssa sensor --pcap``
   while one ``icssa correlate`` consumes; events/s of the sensor alone, and end to end: from
   the sensor's start until every event is searchable in Elasticsearch.
2. Latency, packet to searchable: the capture's packets are fed to a sensor in this process
   at a fixed rate; for every 20th event the wall time its packet went in is noted, and a
   poller asks Elasticsearch (by id, every 50 ms) when it first finds it. p50 / p99 / max.

    python bench/bench_stream.py --packets 200000 --rate 1000
    python bench/bench_stream.py --only latency --rate 2000 --seconds 30
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from elasticsearch import ApiError  # noqa: E402

from icssa.bus import Publisher, open_bus  # noqa: E402
from icssa.spool import Spool  # noqa: E402
from icssa.store import EventQuery, open_store  # noqa: E402
from sensors.capture import open_capture  # noqa: E402
from sensors.engine import Sensor  # noqa: E402

KAFKA = "127.0.0.1:9092"
ES = "http://127.0.0.1:9200"
ICSSA = [sys.executable, "-m", "icssa.cli_stream"]


def count(store) -> int:  # type: ignore[no-untyped-def]
    store.refresh()
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


def throughput(pcap: Path, expected: int, tmp: Path) -> None:
    name = f"bench{uuid.uuid4().hex[:6]}"
    bus, store_url = f"kafka://{KAFKA}?prefix={name}.", f"{ES}?prefix={name}-"
    store = open_store(store_url)
    corr = subprocess.Popen([*ICSSA, "correlate", "--bus", bus, "--store", store_url, "--idle-flush", "3600"],
                            cwd=ROOT, stderr=subprocess.PIPE, text=True)
    try:
        time.sleep(3)  # let the consumer join its group before the clock starts
        t0 = time.perf_counter()
        sensor = subprocess.run([*ICSSA, "sensor", "--bus", bus, "--pcap", str(pcap), "--spool", str(tmp / f"{name}-spool")],
                                cwd=ROOT, capture_output=True, text=True)
        t_sensor = time.perf_counter() - t0
        if sensor.returncode:
            raise SystemExit(sensor.stderr)
        while count(store) < expected:
            time.sleep(0.25)
        t_all = time.perf_counter() - t0
    finally:
        corr.terminate()
        _, err = corr.communicate(timeout=300)
        cleanup(name, store)
    print(f"throughput: {expected:,} events")
    print(f"  sensor -> Kafka:                 {t_sensor:6.1f} s  {expected / t_sensor:9,.0f} events/s")
    print(f"  sensor -> Kafka -> ES searchable: {t_all:6.1f} s  {expected / t_all:9,.0f} events/s")
    print("  " + err.strip().splitlines()[-1])


def latency(pcap: Path, rate: float, seconds: float, tmp: Path) -> None:
    name = f"bench{uuid.uuid4().hex[:6]}"
    bus_url, store_url = f"kafka://{KAFKA}?prefix={name}.", f"{ES}?prefix={name}-"
    store = open_store(store_url)
    bus = open_bus(bus_url)
    bus.ensure_topics()
    corr = subprocess.Popen([*ICSSA, "correlate", "--bus", bus_url, "--store", store_url, "--idle-flush", "3600",
                             "--checkpoint-every", "0.5"], cwd=ROOT, stderr=subprocess.PIPE, text=True)
    publisher = Publisher(bus, Spool(tmp / f"{name}-spool"), batch_size=500, linger=0.05)
    sent: dict[str, float] = {}
    seen: dict[str, float] = {}
    n_events = 0

    def emit(event: dict) -> None:  # type: ignore[type-arg]
        nonlocal n_events
        n_events += 1
        if n_events % 20 == 0:
            sent[event["event"]["id"]] = now
        publisher.publish(event)

    done = threading.Event()

    def poll() -> None:
        while not done.is_set() or len(seen) < len(sent):
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

    time.sleep(3)
    poller = threading.Thread(target=poll, daemon=True)
    poller.start()
    sensor = Sensor(emit, observer="bench", capture_id=f"lat{name}")
    start = time.perf_counter()
    k = 0
    for ts_ns, linktype, data in open_capture(pcap):
        now = time.perf_counter()
        due = start + k / rate
        if due > now:
            time.sleep(due - now)
            now = time.perf_counter()
        sensor.packet(ts_ns, linktype, data)
        publisher.tick()
        k += 1
        if now - start > seconds:
            break
    sensor.finish()
    publisher.flush()
    t_end = time.perf_counter()
    done.set()
    poller.join()
    corr.terminate()
    corr.communicate(timeout=300)
    publisher.close()
    cleanup(name, store)
    lat = sorted(seen[i] - sent[i] for i in sent if i in seen)
    if not lat:
        raise SystemExit("no event became searchable")
    q = statistics.quantiles(lat, n=100)
    print(f"latency, packet to searchable ({rate:,.0f} packets/s, {k:,} packets, {n_events:,} events, "
          f"{len(lat):,} of {len(sent):,} sampled seen):")
    print(f"  p50 {q[49]:.3f} s   p99 {q[98]:.3f} s   max {lat[-1]:.3f} s")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--packets", type=int, default=200_000)
    ap.add_argument("--rate", type=float, default=5000.0, help="packets/s fed in the latency run")
    ap.add_argument("--seconds", type=float, default=30.0, help="length of the latency run")
    ap.add_argument("--work", type=Path, default=ROOT / "bench" / "data")
    ap.add_argument("--only", choices=("throughput", "latency"), help="run one of the two measurements")
    args = ap.parse_args()
    subprocess.run([str(ROOT / "scripts" / "services.sh"), "start"], check=True)
    args.work.mkdir(parents=True, exist_ok=True)
    pcap = args.work / f"stream-{args.packets}.pcap"
    if not pcap.exists():
        subprocess.run([sys.executable, str(ROOT / "bench" / "make_big_pcap.py"), "--packets", str(args.packets),
                        "--out", str(pcap)], check=True, capture_output=True)
    expected = 0
    Sensor_ = Sensor

    def tally(_: dict) -> None:  # type: ignore[type-arg]
        nonlocal expected
        expected += 1

    s = Sensor_(tally)
    s.run(open_capture(pcap))
    s.finish()
    print(f"capture: {pcap} ({args.packets:,} packets, {expected:,} events)")
    if args.only != "latency":
        throughput(pcap, expected, args.work)
    if args.only != "throughput":
        latency(pcap, args.rate, args.seconds, args.work)


if __name__ == "__main__":
    main()
