"""Turn the rules' own test cases (and hostile streams made from them) into native parity fixtures.

Each output line is one run of the Python correlation engine over a list of events:

    {"name": "modbus-coil-write/fire0", "expect": "fire" | "silent" | null,
     "rules": <correlation_rules.document>, "zones": [[version, network, netmask, zone, level], ...] | null,
     "baseline_seconds": float | null, "limits": {...} | null,
     "events": [event, ...], "alerts": ["<orjson text of each alert>", ...]}

``cases``: every ``tests.fire`` / ``tests.silent`` case of every rule file, run as
``tests/test_rules.py`` runs it (an engine holding only that rule, ``tests.zones`` as a
``StaticZones`` context, ``tests.baseline_seconds``). ``--streams N`` adds N streams through the
whole rule set: events of the cases and of ``--sample`` (an events.jsonl), mutated (fields
dropped or given other types, other datasets and organizations, organization ids that are lists
or mappings, odd timestamps, numeric ones of any size among them, jumps in time) from a fixed
``--seed``; ``--small-caps`` runs the streams with every table capped small
(``Limits`` and the module caps of ``correlation.alerts`` / ``correlation.engine``), written in
``limits`` for the native engine to use the same; ``--twins`` adds to the rule set a copy of
every rule under another id, title and severity (same logic: each detector then serves two
rules, and raises both rules' alerts).

    python native/tools/correlation_ruletests.py --out /tmp/corr/cases.jsonl
    python native/tools/correlation_ruletests.py --streams 200 --seed 7 --sample EVENTS --out FILE
"""

from __future__ import annotations

import argparse
import copy
import math
import random
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import orjson
import yaml

ROOT = Path(__file__).resolve().parents[2]
TOOLS = Path(__file__).resolve().parent
for p in (ROOT, TOOLS):
    if str(p) not in sys.path:
        sys.path.insert(0, str(p))

import correlation.alerts as alerts_mod  # noqa: E402
import correlation.engine as engine_mod  # noqa: E402
from correlation import Engine, Limits, StaticZones, load_directory, load_file  # noqa: E402
from correlation.fields import iso  # noqa: E402
from correlation.loader import DEFAULT_RULES  # noqa: E402
from correlation.model import Rule  # noqa: E402
from correlation.native import document, network  # noqa: E402
from correlation.ruletests import expand_case  # noqa: E402

SMALL_CAPS = {
    "groups": 4, "learned": 6, "window_entries": 40, "evidence": 3, "related_ip": 3, "values": 2,
    "open": 5, "suppressed": 3, "orgs": 2, "zone_cache": 3, "zone_ttl": 20.0,
}
MODULE_CAPS = {
    "evidence": (alerts_mod, "MAX_EVIDENCE"), "related_ip": (alerts_mod, "MAX_RELATED_IP"),
    "values": (alerts_mod, "MAX_VALUES"), "open": (alerts_mod, "MAX_OPEN"),
    "suppressed": (alerts_mod, "MAX_SUPPRESSED"), "orgs": (engine_mod, "MAX_ORGS"),
    "zone_cache": (engine_mod, "ZONE_CACHE"), "zone_ttl": (engine_mod, "ZONE_TTL"),
}


def zones_doc(zones: dict[str, Any] | None) -> list[list[Any]] | None:
    """A StaticZones table as the native StaticZones takes it: its networks in lookup order."""
    if zones is None:
        return None
    static = StaticZones(zones)
    out = []
    for net, zone in static._nets:
        name = zone["zone"]
        out.append([*network(net), name if isinstance(name, str) else None, float(zone["level"])])
    return out


def run(
    rules: Sequence[Rule], events: list[dict[str, Any]], zones: dict[str, Any] | None,
    baseline: float | None, limits: dict[str, Any] | None = None,
) -> list[bytes]:
    """The alerts (orjson text) of the Python engine over ``events`` (it takes any JSON: an
    exception here is a bug of the engine, and stops the tool)."""
    saved = {name: getattr(mod, attr) for name, (mod, attr) in MODULE_CAPS.items()}
    try:
        kwargs: dict[str, Any] = {"context": StaticZones(zones) if zones is not None else None}
        if baseline is not None:
            kwargs["baseline_seconds"] = baseline
        if limits is not None:
            for name, (mod, attr) in MODULE_CAPS.items():
                setattr(mod, attr, limits[name])
            kwargs["limits"] = Limits(limits["groups"], limits["learned"], limits["window_entries"])
        engine = Engine(rules, **kwargs)
        out: list[dict[str, Any]] = []
        for e in events:
            out.extend(engine.process(copy.deepcopy(e)))
        out.extend(engine.flush())
    finally:
        for name, (mod, attr) in MODULE_CAPS.items():
            setattr(mod, attr, saved[name])
    return [orjson.dumps(a) for a in out]


def plain(value: Any) -> bool:
    """Only JSON values (finite floats, 64-bit ints): what an events.jsonl can carry."""
    if value is None or value.__class__ in (bool, str):
        return True
    if value.__class__ is int:
        return -(1 << 63) <= value < (1 << 64)
    if value.__class__ is float:
        return math.isfinite(value)
    if value.__class__ is list:
        return all(plain(v) for v in value)
    if value.__class__ is dict:
        return all(k.__class__ is str and plain(v) for k, v in value.items())
    return False


def line(name: str, expect: str | None, rules: Sequence[Rule], zones: dict[str, Any] | None,
         baseline: float | None, limits: dict[str, Any] | None, events: list[dict[str, Any]]) -> bytes:
    alerts = run(rules, events, zones, baseline, limits)
    return orjson.dumps({
        "name": name, "expect": expect, "rules": document(rules), "zones": zones_doc(zones),
        "baseline_seconds": None if baseline is None else float(baseline), "limits": limits,
        "events": events, "alerts": [a.decode() for a in alerts],
    }) + b"\n"


def rule_cases(directory: Path) -> Iterator[tuple[Path, Rule, dict[str, Any], str, int, Any]]:
    for path in sorted(directory.glob("*.yaml")):
        rule, errors = load_file(path, ruleset=directory.name)
        if rule is None:
            sys.stderr.write(f"skipped {path}: {errors}\n")
            continue
        tests = yaml.safe_load(path.read_text())["tests"]
        for kind in ("fire", "silent"):
            for i, case in enumerate(tests[kind]):
                yield path, rule, tests, kind, i, case


# -- hostile streams -------------------------------------------------------------------------

ODD_VALUES: list[Any] = [
    None, True, False, 0, 1, -1, 1.0, 2.5, -0.0, 1e20, (1 << 63) - 1, (1 << 64) - 1, "", "x", "é\u2028\x00",
    "10.20.1.66", "::1", "fe80::1%eth0", "010.1.1.1", [], [1, "a"], [[1]], {"a": 1}, [{"area": "Q"}, {"area": 3}],
]
ODD_TIMES: list[Any] = [
    None, 5, 1.5e9, "garbage", "2024-03-01", "2024-03-01T08:00:00", "2024-03-01 08:00:00.5+01:00",
    "2024-03-01T08:00:00.123Z", "2024-W09-5T08", "20240301T080000Z", True, False,
    # numbers beyond the years time.gmtime writes, beyond 64-bit microseconds (9.2e12 s), beyond
    # what a float of microseconds holds (1.8e302 s), 64-bit ints, negative zero
    1e20, -1e20, 1e13, -1e13, 9_223_372_036_854.775, 1e300, -1e300, 1.7976931348623157e308,
    (1 << 64) - 1, -(1 << 63), -0.0, 0,
]
#: organizations: ids of other types, lists and mappings (ids equal as group keys hold them:
#: a list and the tuple of its items, mappings whatever their key order, [] and {})
ORGS: list[Any] = [
    {"id": "default"}, {"id": "b"}, {"id": 1}, {}, None, "x", {"id": [1, "a"]}, {"id": [[1], {"a": None}]},
    {"id": {"b": [1], "a": 2}}, {"id": {"a": 2, "b": [1]}}, {"id": []}, {"id": {}}, {"id": [{"a": 2}]},
    [{"id": "default"}],
]
DATASETS = ["modbus", "s7comm", "s7comm_plus", "cotp", "opcua", "icssa", "other"]
IPS = [f"10.{a}.{b}.{c}" for a, b, c in ((10, 1, 66), (10, 2, 10), (20, 1, 66), (20, 2, 10), (20, 3, 5),
                                       (30, 1, 66), (30, 2, 3), (1, 5, 5), (20, 0, 44), (10, 1, 20))]


def _leaves(d: dict[str, Any], prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    out = []
    for k, v in d.items():
        out.append((*prefix, k))
        if isinstance(v, dict):
            out.extend(_leaves(v, (*prefix, k)))
    return out


def _set(d: dict[str, Any], path: tuple[str, ...], value: Any) -> None:
    for part in path[:-1]:
        nxt = d.get(part)
        if not isinstance(nxt, dict):
            nxt = d[part] = {}
        d = nxt
    d[path[-1]] = value


def _drop(d: dict[str, Any], path: tuple[str, ...]) -> None:
    for part in path[:-1]:
        d = d.get(part)  # type: ignore[assignment]
        if not isinstance(d, dict):
            return
    d.pop(path[-1], None)


def mutate(e: dict[str, Any], rng: random.Random) -> dict[str, Any]:
    e = copy.deepcopy(e)
    for _ in range(rng.choice((0, 0, 1, 1, 2, 3))):
        leaves = _leaves(e)
        r = rng.random()
        if r < 0.2 and leaves:
            _drop(e, rng.choice(leaves))
        elif r < 0.45 and leaves:
            _set(e, rng.choice(leaves), copy.deepcopy(rng.choice(ODD_VALUES)))
        elif r < 0.6:
            _set(e, ("event", "dataset"), rng.choice(DATASETS))
        elif r < 0.7:
            _set(e, ("organization",), copy.deepcopy(rng.choice(ORGS)))
        elif r < 0.85:
            _set(e, (rng.choice(("source", "destination")), "ip"), rng.choice(IPS))
        else:
            _set(e, ("network", "direction_to_server"), rng.choice((True, False, 1, None)))
    return e


def stream(pool: list[dict[str, Any]], rng: random.Random, length: int) -> list[dict[str, Any]]:
    t = 1_709_280_000.0 + rng.randrange(0, 86_400)
    out = []
    while len(out) < length:
        base = rng.choice(pool)
        burst = rng.choice((1, 1, 1, 3, 12, 40))
        for _ in range(burst):
            e = mutate(base, rng)
            r = rng.random()
            if r < 0.6:
                t += rng.choice((0.0, 0.000001, 0.05, 0.4, 1.0, 2.0))
            elif r < 0.7:
                t += rng.choice((59.0, 61.0, 601.0, 3601.0, 90_000.0))
            elif r < 0.75:
                t -= rng.choice((0.5, 30.0))
            if rng.random() < 0.05:
                e["@timestamp"] = rng.choice(ODD_TIMES)
            else:
                e["@timestamp"] = iso(t)
            ev = e.setdefault("event", {}) if isinstance(e.get("event"), dict) else None
            if ev is not None:
                ev["id"] = f"s{len(out)}" if rng.random() < 0.95 else rng.choice((None, 7, 1.5, ["x"]))
            if plain(e):
                out.append(e)
    return out[:length]


def twin(rule: Rule) -> Rule:
    """The rule under another id, title and severity (the same logic)."""
    other = copy.copy(rule)
    other.id = f"{rule.id}-twin"
    other.title = f"{rule.title} (twin)"
    other.severity = min(100, rule.severity + 1)
    return other


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rules", type=Path, default=DEFAULT_RULES, help="rules folder (default: rules/)")
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--streams", type=int, default=0, help="hostile streams through the whole rule set")
    ap.add_argument("--length", type=int, default=400, help="events per stream")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--sample", type=Path, help="an events.jsonl whose events join the streams' pool")
    ap.add_argument("--small-caps", action="store_true", help="run the streams with every table capped small")
    ap.add_argument("--twins", action="store_true", help="every rule twice (under two ids) in the streams")
    args = ap.parse_args(argv)
    pool: list[dict[str, Any]] = []
    all_zones: dict[str, Any] = {}
    n = 0
    with open(args.out, "wb") as out:
        for path, rule, tests, kind, i, case in rule_cases(args.rules):
            events = expand_case(case, f"{kind}{i}")
            pool.extend(events)
            all_zones.update(tests.get("zones") or {})
            if not plain(events):
                sys.stderr.write(f"skipped {path.stem}/{kind}{i}: not plain JSON\n")
                continue
            if args.streams:
                continue
            out.write(line(f"{path.stem}/{kind}{i}", kind, [rule], tests.get("zones"),
                           tests.get("baseline_seconds"), None, events))
            n += 1
        if args.streams:
            if args.sample is not None:
                with open(args.sample, "rb") as fh:
                    pool.extend(orjson.loads(x) for x in fh if x.strip())
            rules, _ = load_directory(args.rules)
            if args.twins:
                rules = rules + [twin(r) for r in rules]
            rng = random.Random(args.seed)
            limits = SMALL_CAPS if args.small_caps else None
            for s in range(args.streams):
                events = stream(pool, rng, args.length)
                zones = all_zones if rng.random() < 0.8 else None
                baseline = rng.choice((None, 30.0, 600.0))
                data = line(f"stream{s}", None, rules, zones, baseline, limits, events)
                out.write(data)
                n += 1
    sys.stderr.write(f"{n} runs written to {args.out}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
