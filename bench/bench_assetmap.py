"""Asset map benchmarks: the cost per event of a real capture, and 100,000 synthetic hosts.

``--capture PCAP``: the capture's events are decoded once (``icssa.pipeline.replay_events``,
not timed), then fed to a fresh ``AssetMap`` (as ``icssa replay`` makes it: bundled advisories)
``--repeat`` times; printed are the best CPU time per event of ``observe`` alone
(``time.process_time``, the machine is shared; the decoded events are frozen out of garbage
collection, as replay holds none of them), the read-out (assets and node-link graph, as replay
writes them), and the traced memory of the map's state after the events.

Default (synthetic): each host (10.x.y.z, with its own MAC) polls one of 500 PLCs: a read
request and its response, then a second read a second later; every 50th host also writes.
PLCs answer FC 43 device identification once. The same stream runs with ``max_assets`` large
enough for everything and with smaller limits, printing events/s, the read-out time (assets,
graph, findings) and the peak traced memory, which stays bounded by the limit.

    python bench/bench_assetmap.py --capture bench/data/mixed-100000.pcap [--repeat 5]
    python bench/bench_assetmap.py [--hosts 100000] [--limits 200000,50000,10000]
"""

from __future__ import annotations

import argparse
import gc
import sys
import time
import tracemalloc
from collections.abc import Iterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from assetmap import AdvisoryStore, AssetMap  # noqa: E402

PLCS = 500


def _ip(n: int) -> str:
    return f"10.{(n >> 16) & 255}.{(n >> 8) & 255}.{n & 255}"


def _mac(n: int) -> str:
    return "02:00:" + ":".join(f"{(n >> s) & 255:02x}" for s in (24, 16, 8, 0))


def events(hosts: int) -> Iterator[dict[str, Any]]:
    """The synthetic stream, made lazily (so the benchmark measures the map, not the input)."""
    eid = 0
    for h in range(hosts):
        client, cmac = _ip(0x010000 + h), _mac(0x010000 + h)
        p = h % PLCS
        server, smac = _ip(p + 1), "00:1b:1b:00:" + f"{(p >> 8) & 255:02x}:{p & 255:02x}"
        base = 1_700_000_000 + h
        ops = [("read_holding_registers", 0), ("read_holding_registers", 1)]
        if h % 50 == 0:
            ops.append(("write_single_register", 2))
        for action, dt in ops:
            ts = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(base + dt)) + ".000000Z"
            for to_server in (True, False):
                eid += 1
                src, dst = (client, server) if to_server else (server, client)
                yield {
                    "@timestamp": ts,
                    "event": {"id": f"b{eid}", "kind": "event", "dataset": "modbus", "action": action},
                    "source": {"ip": src, "port": 40000 if to_server else 502, "mac": cmac if to_server else smac},
                    "destination": {"ip": dst, "port": 502 if to_server else 40000, "mac": smac if to_server else cmac},
                    "network": {"transport": "tcp", "direction_to_server": to_server},
                    "modbus": {"function_code": 3, "is_response": not to_server},
                }
        if h < PLCS:
            eid += 1
            yield {
                "@timestamp": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(base)) + ".500000Z",
                "event": {"id": f"b{eid}", "kind": "event", "dataset": "modbus", "action": "read_device_identification"},
                "source": {"ip": server, "port": 502, "mac": smac},
                "destination": {"ip": client, "port": 40000, "mac": cmac},
                "network": {"transport": "tcp", "direction_to_server": False},
                "modbus": {"function_code": 43, "is_response": True,
                           "device_id": {"vendor_name": "Schneider Electric", "product_code": "BMX P34 2020",
                                         "revision": f"v3.{p % 20}"}},
            }


def run(hosts: int, limit: int, traced: bool) -> dict[str, float]:
    gc.collect()
    if traced:
        tracemalloc.start()
    m = AssetMap(max_assets=limit)
    started = time.perf_counter()
    n = 0
    for event in events(hosts):
        m.observe(event)
        n += 1
    observed = time.perf_counter() - started
    state = tracemalloc.get_traced_memory()[0] / 2**20 if traced else 0.0
    started = time.perf_counter()
    assets = m.assets()
    m.graph()
    findings = m.findings()
    readout = time.perf_counter() - started
    peak = 0.0
    if traced:
        _, peak_bytes = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        peak = peak_bytes / 2**20
    stats = m.stats
    return {"events": n, "observe_s": observed, "readout_s": readout, "state_mib": state, "peak_mib": peak,
            "assets": len(assets),
            "findings": len(findings), "records": stats["records"], "evicted": stats["evicted_records"],
            "edges": stats["edges"]}


def capture(path: Path, repeat: int) -> None:
    from icssa.pipeline import replay_events

    started = time.process_time()
    evs = list(replay_events([path]))
    gc.collect()
    gc.freeze()  # the decoded events stay out of collections: replay streams them, holds none
    print(f"asset map on {path.name}: {len(evs):,} events (decoded in {time.process_time() - started:.1f} s CPU), "
          f"Python {sys.version.split()[0]}")
    advisories = AdvisoryStore.bundled()
    best = float("inf")
    m = AssetMap(advisories=advisories)
    for _ in range(repeat):
        m = AssetMap(advisories=advisories)
        observe = m.observe
        gc.collect()
        started = time.process_time()
        for event in evs:
            observe(event)
        best = min(best, time.process_time() - started)
    started = time.process_time()
    assets = m.assets()
    graph = m.graph_node_link()
    readout = time.process_time() - started
    gc.collect()
    tracemalloc.start()
    traced = AssetMap(advisories=advisories)
    for event in evs:
        traced.observe(event)
    state = tracemalloc.get_traced_memory()[0] / 2**20
    tracemalloc.stop()
    print(f"observe: {best / len(evs) * 1e6:.2f} us/event CPU (best of {repeat}), {len(evs) / best:,.0f} events/s")
    print(f"read-out (assets, node-link graph): {readout:.2f} s CPU; {len(assets):,} assets, "
          f"{len(graph['edges']):,} edges")
    print(f"state: {state:.1f} MiB traced after the events; stats {m.stats}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--capture", type=Path, help="time observe on this capture's events")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--hosts", type=int, default=100_000)
    parser.add_argument("--limits", default="200000,50000,10000")
    args = parser.parse_args()
    if args.capture is not None:
        capture(args.capture, args.repeat)
        return
    print(f"asset map benchmark: {args.hosts:,} distinct client hosts, {PLCS} PLCs, Python {sys.version.split()[0]}")
    print(f"{'max_assets':>10} {'events':>9} {'observe s':>9} {'events/s':>9} {'read-out s':>10} "
          f"{'state MiB':>9} {'peak MiB':>9} {'records':>8} {'evicted':>8} {'edges':>8} {'assets':>7}")
    for limit in (int(x) for x in args.limits.split(",")):
        timed = run(args.hosts, limit, traced=False)
        traced = run(args.hosts, limit, traced=True)
        print(f"{limit:>10,} {timed['events']:>9,} {timed['observe_s']:>9.2f} "
              f"{timed['events'] / timed['observe_s']:>9,.0f} {timed['readout_s']:>10.2f} {traced['state_mib']:>9.1f} "
              f"{traced['peak_mib']:>9.1f} "
              f"{timed['records']:>8,} {timed['evicted']:>8,} {timed['edges']:>8,} {timed['assets']:>7,}")
    print("state MiB: traced memory held after the events (the map's own state; the input is made lazily);")
    print("peak MiB: the traced peak including the read-out (assets, graph, findings), in a separate traced run")


if __name__ == "__main__":
    main()
