"""Correlation throughput: synthetic events (a plant's realistic mix) through the default rules.

Three modes:

- ``--capture PCAP`` (e.g. ``bench/data/mixed-100000.pcap``): correlation alone, in µs per
  event, fed with the capture's events as the replay makes them. The capture is decoded once
  (sensor and asset map, untimed) and the asset map's zone answers are recorded in the order
  the engine asks for them, so every timed run makes exactly the decisions ``icssa replay``
  makes (the alerts are checked against that first run). Prints the first run (bucket and
  plan compilation included) and the best of ``--rounds``, CPU time; then the memory the
  engine holds at the end of the capture and its peak (tracemalloc, a separate run).
- ``--memory N``: N synthetic events from ever new hosts (a sweep over 2^24 addresses, new
  unit ids, function codes and register addresses), streamed, never stored; prints the memory
  the engine holds (tracemalloc) as the events go by: it levels off at the caps of
  ``correlation.Limits`` and the alert book instead of growing with N.
- default: the synthetic plant below, events/s for the default rule set, then for the rule
  set doubled, in three ways:

- copies: every rule again under a new id. Rules with the same logic share one detector
  (conditions and state computed once, one alert per rule), so this measures that sharing.
- tenants: every copy is one tenant's own rule (``organization.id`` pinned to an enterprise
  that is not in this traffic): rules that do not apply to an event should cost it little.
- variants: every copy gets a condition of its own that always holds (``organization.id``
  must differ from a per-copy value), so nothing can be shared and every event pays twice
  for every rule that applies to it: the worst case, where the cost can only follow the work.

Targets (issue 6): at least 100,000 events/s in one process; doubling the rules costs less
than 1.3x (copies and tenants; the variants figure is printed to show the worst case). Events are built in chunks outside the timed region (the engine does not mutate
them, so protocol sub-objects are shared between events as the sensor shares them).

    python bench/bench_correlation.py [--events 1000000] [--chunk 200000]
    python bench/bench_correlation.py --capture bench/data/mixed-100000.pcap [--rounds 5]
    python bench/bench_correlation.py --memory 1000000
"""

from __future__ import annotations

import argparse
import gc
import random
import shutil
import statistics
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path
from typing import Any

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from correlation import Engine  # noqa: E402 - after the repository joins the path

RULES = Path(__file__).resolve().parents[1] / "rules"
T0 = 1_709_280_000.0  # 2024-03-01T08:00:00Z
RATE = 2000.0  # events per second of event time

ORGS = [{"id": f"ent-{i}"} for i in range(3)]
OBSERVER = {"name": "bench-sensor"}


def _iso(t: float) -> str:
    sec = int(t)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(sec)) + f".{int((t - sec) * 1e6):06d}Z"


class Plant:
    """Hosts and per-flow envelopes (shared dicts, as the sensor shares them per flow)."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.plcs = [f"10.{o}.2.{i}" for o in range(3) for i in range(1, 21)]
        self.hmis = [f"10.{o}.1.{i}" for o in range(3) for i in range(1, 6)]
        self.attacker = "10.0.66.6"
        self._env: dict[tuple[str, str, int, bool], tuple[dict[str, Any], dict[str, Any], dict[str, Any]]] = {}

    def env(self, client: str, server: str, port: int, to_server: bool) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
        key = (client, server, port, to_server)
        env = self._env.get(key)
        if env is None:
            c = {"ip": client, "port": 40000 + len(self._env) % 20000}
            s = {"ip": server, "port": port}
            net = {"transport": "tcp", "community_id": f"1:{hash(key[:3]) & 0xFFFFFFFF:08x}", "direction_to_server": to_server}
            env = self._env[key] = (c, s, net) if to_server else (s, c, net)
        return env


def _templates() -> dict[str, list[tuple[str, str, dict[str, Any], dict[str, Any]]]]:
    """(dataset, action, request fields, response fields) per kind of traffic."""
    regs = list(range(1000, 1010))
    return {
        "modbus_poll": [
            ("modbus", "read_holding_registers", {"transaction_id": 1, "unit_id": 1, "function_code": 3, "function": "READ_HOLDING_REGISTERS", "is_response": False, "address": 0, "quantity": 10},
             {"transaction_id": 1, "unit_id": 1, "function_code": 3, "function": "READ_HOLDING_REGISTERS", "is_response": True, "matched": True, "address": 0, "quantity": 10, "values": regs}),
            ("modbus", "read_input_registers", {"transaction_id": 2, "unit_id": 1, "function_code": 4, "function": "READ_INPUT_REGISTERS", "is_response": False, "address": 100, "quantity": 10},
             {"transaction_id": 2, "unit_id": 1, "function_code": 4, "function": "READ_INPUT_REGISTERS", "is_response": True, "matched": True, "address": 100, "quantity": 10, "values": regs}),
            ("modbus", "read_coils", {"transaction_id": 3, "unit_id": 1, "function_code": 1, "function": "READ_COILS", "is_response": False, "address": 0, "quantity": 16},
             {"transaction_id": 3, "unit_id": 1, "function_code": 1, "function": "READ_COILS", "is_response": True, "matched": True, "address": 0, "quantity": 16, "values": [1, 0] * 8}),
        ],
        "modbus_write": [
            ("modbus", "write_single_register", {"transaction_id": 9, "unit_id": 1, "function_code": 6, "function": "WRITE_SINGLE_REGISTER", "is_response": False, "address": 10, "quantity": 1, "values": [1500]},
             {"transaction_id": 9, "unit_id": 1, "function_code": 6, "function": "WRITE_SINGLE_REGISTER", "is_response": True, "matched": True, "address": 10, "values": [1500]}),
        ],
        "s7_poll": [
            ("s7comm", "read_var", {"rosctr": 1, "pdu_ref": 2, "is_response": False, "function_code": 4, "item_count": 1, "items": [{"area": "DB", "db": 1, "address": 0, "length": 16}]},
             {"rosctr": 3, "pdu_ref": 2, "is_response": True, "matched": True, "function_code": 4, "error_class": 0, "error_code": 0, "values": ["00" * 16], "items": [{"area": "DB", "db": 1, "return_code": 255}]}),
            ("s7comm", "write_var", {"rosctr": 1, "pdu_ref": 3, "is_response": False, "function_code": 5, "item_count": 1, "items": [{"area": "DB", "db": 2, "address": 0}], "values": [32767]},
             {"rosctr": 3, "pdu_ref": 3, "is_response": True, "matched": True, "function_code": 5, "items": [{"area": "DB", "db": 2, "return_code": 255}]}),
        ],
        "opcua_poll": [
            ("opcua", "read", {"message_type": "MSG", "security_mode": "SignAndEncrypt", "service_id": 631, "service": "ReadRequest", "is_response": False, "nodes": ["ns=2;s=Line1.Setpoint"]},
             {"message_type": "MSG", "security_mode": "SignAndEncrypt", "service_id": 634, "service": "ReadResponse", "is_response": True, "status_code": 0, "status": "Good", "values": [50.0]}),
            ("opcua", "publish", {"message_type": "MSG", "security_mode": "SignAndEncrypt", "service_id": 826, "service": "PublishRequest", "is_response": False},
             {"message_type": "MSG", "security_mode": "SignAndEncrypt", "service_id": 829, "service": "PublishResponse", "is_response": True, "status_code": 0, "status": "Good"}),
        ],
    }


ATTACKS = [
    # (dataset, action, request fields): scans and attacks, a sliver of the mix
    ("modbus", "read_holding_registers", "unit_id"),
    ("modbus", "unknown_function", "function_code"),
    ("modbus", "diagnostics", None),
    ("s7comm", "read_szl", "szl_id"),
    ("s7comm", "plc_stop", None),
    ("opcua", "browse", None),
]


def generate(n: int, seed: int = 6) -> Any:
    """Yield lists of events (chunks) adding up to n: 97% polling and replies, 2% writes, 1% attacks."""
    rng = random.Random(seed)
    plant = Plant(rng)
    tpl = _templates()
    kinds = ["modbus_poll"] * 50 + ["s7_poll"] * 25 + ["opcua_poll"] * 22 + ["modbus_write"] * 2 + ["attack"]
    ports = {"modbus": 502, "s7comm": 102, "opcua": 4840}
    i = 0
    counter = 0
    while i < n:
        kind = rng.choice(kinds)
        org = rng.randrange(3)
        plc = plant.plcs[org * 20 + rng.randrange(20)]
        t = T0 + i / RATE
        if kind == "attack":
            ds, action, vary = ATTACKS[rng.randrange(len(ATTACKS))]
            fields: dict[str, Any] = {"is_response": False}
            if vary:
                fields[vary] = counter % 250
            if action == "diagnostics":
                fields["subfunction"] = 4
            c, s, net = plant.env(plant.attacker, plc, ports[ds], True)
            counter += 1
            yield _event(t, i, ds, action, fields, c, s, net, ORGS[org])
            i += 1
            continue
        hmi = plant.hmis[org * 5 + rng.randrange(5)]
        ds, action, req, resp = rng.choice(tpl[kind])
        c, s, net = plant.env(hmi, plc, ports[ds], True)
        yield _event(t, i, ds, action, req, c, s, net, ORGS[org])
        i += 1
        if i < n:
            c2, s2, net2 = plant.env(hmi, plc, ports[ds], False)
            yield _event(t + 0.0002, i, ds, action, resp, c2, s2, net2, ORGS[org])
            i += 1


def _event(t: float, i: int, ds: str, action: str, fields: dict[str, Any], src: dict[str, Any], dst: dict[str, Any], net: dict[str, Any], org: dict[str, Any]) -> dict[str, Any]:
    return {
        "@timestamp": _iso(t),
        "event": {"id": f"bench-{i}", "kind": "event", "dataset": ds, "action": action},
        "source": src,
        "destination": dst,
        "network": net,
        "observer": OBSERVER,
        "organization": org,
        ds: fields,
    }


def measure(engine: Engine, n: int, chunk: int) -> tuple[float, int]:
    """(CPU seconds spent in the engine, alerts) for n events; generation is not timed.

    CPU time of this process, not wall time: the figure should not depend on what else the
    machine runs (the other helpers' test suites share its two cores)."""
    gen = generate(n)
    spent = 0.0
    alerts = 0
    process = engine.process
    while True:
        batch = [e for _, e in zip(range(chunk), gen, strict=False)]
        if not batch:
            break
        # the pre-built chunk is not the engine's garbage: keep the collector off it, but let
        # it run as usual for everything the engine allocates
        gc.collect()
        gc.freeze()
        start = time.process_time()
        for e in batch:
            out = process(e)
            if out:
                alerts += len(out)
        spent += time.process_time() - start
        del batch
        gc.unfreeze()
    start = time.process_time()
    alerts += len(engine.flush())
    spent += time.process_time() - start
    return spent, alerts


def doubled(tmp: Path, mode: str) -> Path:
    """A directory with every default rule twice (see the module docstring)."""
    out = tmp / mode
    out.mkdir()
    for path in sorted(RULES.glob("*.yaml")):
        shutil.copy(path, out / path.name)
        data = yaml.safe_load(path.read_text())
        data["id"] = f"{data['id']}-copy"
        if mode in ("tenants", "variants"):
            tenant = f"ent-{len(data['id'])}-{data['id']}"
            own = {"organization.id": tenant if mode == "tenants" else {"not": tenant}}
            if "match" in data:
                data["match"] = {**data["match"], **own}
            else:
                for step in data["sequence"]["steps"]:
                    step["match"] = {**step["match"], **own}
        (out / f"{data['id']}.yaml").write_text(yaml.safe_dump(data, sort_keys=False))
    return out


# -- correlation alone on a capture's events -------------------------------------------------


class ZoneRecorder:
    """The asset map as the engine's context, remembering every answer in order."""

    def __init__(self, amap: Any) -> None:
        self.amap, self.answers = amap, []

    def zone_of(self, ip: str) -> Any:
        self.answers.append((ip, self.amap.zone_of(ip)))
        return self.answers[-1][1]


class ZoneReplay:
    """The recorded answers, handed back in the same order (the engine is deterministic)."""

    def __init__(self, answers: list[tuple[str, Any]]) -> None:
        self.answers, self.next = answers, 0

    def zone_of(self, ip: str) -> Any:
        asked, answer = self.answers[self.next]
        if asked != ip:
            raise RuntimeError(f"zone question {self.next} differs from the recorded run: {ip} != {asked}")
        self.next += 1
        return answer


def capture_events(path: Path) -> tuple[list[dict[str, Any]], list[tuple[str, Any]], list[dict[str, Any]]]:
    """The events of a capture, the zone answers and the alerts of a replay-like run."""
    from icssa.pipeline import Analytics, run_capture  # the sensor and asset map, untimed

    analytics = Analytics()
    amap = analytics.asset_map()
    recorder = ZoneRecorder(amap)
    engine = Engine.from_directory(context=recorder)
    events: list[dict[str, Any]] = []
    alerts: list[dict[str, Any]] = []

    def emit(event: dict[str, Any]) -> None:
        events.append(event)
        amap.observe(event)  # type: ignore[union-attr]
        alerts.extend(engine.process(event))

    _, error = run_capture(path, emit, observer="replay", organization="default")
    if error:
        raise SystemExit(error)
    alerts.extend(engine.flush())
    return events, recorder.answers, alerts


def time_capture(events: list[dict[str, Any]], answers: list[tuple[str, Any]]) -> tuple[float, list[dict[str, Any]]]:
    """(CPU seconds, alerts) of one fresh engine over the events, flush included."""
    engine = Engine.from_directory(context=ZoneReplay(answers))
    process = engine.process
    alerts: list[dict[str, Any]] = []
    gc.collect()
    gc.freeze()  # the pre-built events are not the engine's garbage
    start = time.process_time()
    for e in events:
        out = process(e)
        if out:
            alerts += out
    alerts += engine.flush()
    spent = time.process_time() - start
    gc.unfreeze()
    return spent, alerts


def run_capture_bench(path: Path, rounds: int) -> None:
    events, answers, reference = capture_events(path)
    n = len(events)
    print(f"{path}: {n:,} events, {len(reference)} alerts, {len(answers)} zone answers; correlation alone, CPU time")
    times = []
    for i in range(max(1, rounds)):
        spent, alerts = time_capture(events, answers)
        if alerts != reference:
            raise SystemExit("the timed run raised other alerts than the replay-like run")
        times.append(spent)
        label = "first run (compiles buckets and plans)" if i == 0 else f"run {i + 1}"
        print(f"  {label:<40} {spent:6.3f} s {spent / n * 1e6:6.2f} us/event")
    best = min(times)
    print(f"  best of {len(times)}: {best / n * 1e6:.2f} us/event, median {statistics.median(times) / n * 1e6:.2f} us/event")
    engine = Engine.from_directory(context=ZoneReplay(answers))
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    for e in events:
        engine.process(e)
    held = tracemalloc.get_traced_memory()[0] - base
    engine.flush()
    peak = tracemalloc.get_traced_memory()[1] - base
    tracemalloc.stop()
    print(f"  memory held by the engine at the end of the capture {held / 1e6:.1f} MB, peak with the flush {peak / 1e6:.1f} MB")


# -- memory over ever new hosts ---------------------------------------------------------------


def sweep(n: int, seed: int = 7) -> Any:
    """n events from new hosts: requests from a sweep of 2^24 sources to as many servers."""
    rng = random.Random(seed)
    org = {"id": "ent-0"}
    for i in range(n):
        src = {"ip": f"10.{i >> 16 & 255}.{i >> 8 & 255}.{i & 255}", "port": 40000 + i % 20000}
        dst = {"ip": f"172.16.{rng.randrange(256)}.{rng.randrange(256)}", "port": 502}
        net = {"transport": "tcp", "community_id": f"1:{i:08x}", "direction_to_server": True}
        fields = {"is_response": False, "unit_id": i % 256, "function_code": 1 + i % 127, "address": i % 65536, "quantity": 1}
        yield {
            "@timestamp": _iso(T0 + i / RATE),
            "event": {"id": f"sweep-{i}", "kind": "event", "dataset": "modbus", "action": "read_coils"},
            "source": src, "destination": dst, "network": net, "observer": OBSERVER, "organization": org,
            "modbus": fields,
        }


def run_memory_bench(n: int) -> None:
    engine = Engine.from_directory()
    print(f"{n:,} events from new hosts ({RATE:.0f}/s of event time); memory held by the engine (tracemalloc)")
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    step = max(1, n // 10)
    alerts = 0
    for i, e in enumerate(sweep(n), 1):
        alerts += len(engine.process(e))
        if i % step == 0 or i == n:
            held = tracemalloc.get_traced_memory()[0] - base
            print(f"  {i:>10,} events {held / 1e6:8.1f} MB  {alerts:>7,} alerts out  {engine.stats['state_evicted']:>9,} groups evicted")
    tracemalloc.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--chunk", type=int, default=200_000)
    parser.add_argument("--rounds", type=int, default=3, help="interleaved repetitions; the best is kept")
    parser.add_argument("--capture", type=Path, help="time correlation alone on this capture's events")
    parser.add_argument("--memory", type=int, metavar="N", help="engine memory over N events from new hosts")
    args = parser.parse_args()
    if args.capture is not None:
        run_capture_bench(args.capture, args.rounds)
        return
    if args.memory is not None:
        run_memory_bench(args.memory)
        return

    print(f"{args.events:,} synthetic events ({RATE:.0f}/s of event time), one process, CPU time, best of {args.rounds}")
    with tempfile.TemporaryDirectory() as tmp:
        configs = {
            "default rules": None,
            "doubled (copies)": doubled(Path(tmp), "copies"),
            "doubled (tenants)": doubled(Path(tmp), "tenants"),
            "doubled (variants)": doubled(Path(tmp), "variants"),
        }
        best: dict[str, tuple[float, int, int]] = {}
        for _ in range(args.rounds):
            for label, directory in configs.items():
                engine = Engine.from_directory(directory)
                assert not engine.load_errors, engine.load_errors
                secs, alerts = measure(engine, args.events, args.chunk)
                if label not in best or secs < best[label][0]:
                    best[label] = (secs, alerts, len(engine.rules))
    base = best["default rules"][0]
    for label, (secs, alerts, rules) in best.items():
        ratio = "" if label == "default rules" else f"  cost ratio {secs / base:.2f}x (target < 1.3x)"
        print(f"{label:<20} {rules:>4} rules {secs:7.2f} s {args.events / secs:>10,.0f} events/s {alerts:>6} alerts{ratio}")


if __name__ == "__main__":
    main()
