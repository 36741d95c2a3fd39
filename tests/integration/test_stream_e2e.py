"""The sample captures through ``icssa sensor --pcap`` -> Kafka -> ``icssa correlate`` ->
Elasticsearch give what the offline path gives for the same captures.

Reference: ``icssa replay`` for the events; for alerts and assets, the replayed events run
through ``correlation.Engine`` and ``assetmap.AssetMap`` in one process per tenant (the
offline semantics: one engine and one asset map per tenant, flushed at the end of input).
The captures are split over four tenants chosen to land on all four partitions.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path
from typing import Any

import orjson
import pytest
from kafka.partitioner.default import murmur2

from icssa.store import AlertQuery, AssetQuery, EventQuery

from .conftest import ROOT, Namespace, Proc, replay_dir, wait_until

PCAPS = sorted((ROOT / "pcaps").glob("*.pcap"))
PARTITIONS = 4


def _tenants() -> list[str]:
    """One tenant name per partition (Kafka's murmur2, as the producer uses)."""
    found: dict[int, str] = {}
    i = 0
    while len(found) < PARTITIONS:
        name = f"js/city{i}"
        found.setdefault((murmur2(name.encode()) & 0x7FFFFFFF) % PARTITIONS, name)
        i += 1
    return [found[p] for p in range(PARTITIONS)]


TENANTS = _tenants()
GROUPS = {org: PCAPS[i::PARTITIONS] for i, org in enumerate(TENANTS)}


def _plain(x: Any) -> Any:
    return orjson.loads(orjson.dumps(x, option=orjson.OPT_NON_STR_KEYS))


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    from assetmap import AssetMap
    from correlation import Engine

    events: dict[str, Any] = {}
    alerts: dict[str, Any] = {}
    assets: dict[tuple[str, str], Any] = {}
    for org, pcaps in GROUPS.items():
        out = replay_dir(pcaps, tmp_path_factory.mktemp("replay"), org=org)
        amap = AssetMap()
        engine = Engine.from_directory(None, context=amap)
        with open(out / "events.jsonl", "rb") as fh:
            for line in fh:
                ev = orjson.loads(line)
                events[ev["event"]["id"]] = ev
                amap.observe(ev)
                for a in engine.process(ev):
                    alerts[a["event"]["id"]] = _plain(a)
        for a in engine.flush():
            alerts[a["event"]["id"]] = _plain(a)
        for asset in amap.assets():
            assets[(org, asset["id"])] = _plain(asset)
    assert events and alerts and assets, "the sample captures should give events, alerts and assets"
    return {"events": events, "alerts": alerts, "assets": assets}


def _publish_all(ns: Namespace, tmp: Path) -> None:
    for org, pcaps in GROUPS.items():
        args = ["--observer", "replay", "--org", org, "--spool", str(tmp / "spool")]
        for p in pcaps:
            args += ["--pcap", str(p)]
        s = ns.sensor(*args)
        assert s.finish() == 0, s.log()
        assert s.saw("left in the spool 0 messages"), s.log()


def _store_contents(ns: Namespace) -> dict[str, Any]:
    store = ns.store
    store.refresh()
    got: dict[str, Any] = {"events": {}, "alerts": {}, "assets": {}}
    for kind, search, q in (("events", store.search_events, EventQuery()), ("alerts", store.search_alerts, AlertQuery())):
        cursor = None
        while True:
            page = search(q, size=1000, cursor=cursor)
            for doc in page.items:
                assert doc["event"]["id"] not in got[kind], f"{kind} {doc['event']['id']} twice"
                got[kind][doc["event"]["id"]] = doc
            cursor = page.cursor
            if cursor is None:
                break
    cursor = None
    while True:
        page = store.search_assets(AssetQuery(), size=1000, cursor=cursor)
        for doc in page.items:
            org = doc.pop("organization")["id"]
            got["assets"][(org, doc["id"])] = doc
        cursor = page.cursor
        if cursor is None:
            break
    return got


def _assert_equal(got: dict[str, Any], ref: dict[str, Any]) -> None:
    assert got["events"].keys() == ref["events"].keys()
    differ = [i for i in ref["events"] if got["events"][i] != ref["events"][i]]
    assert not differ, f"{len(differ)} events differ, e.g. {differ[:3]}"
    assert got["alerts"].keys() == ref["alerts"].keys()
    differ = [i for i in ref["alerts"] if got["alerts"][i] != ref["alerts"][i]]
    assert not differ, f"{len(differ)} alerts differ, e.g. {differ[:3]}"
    assert got["assets"].keys() == ref["assets"].keys()
    differ = [k for k in ref["assets"] if got["assets"][k] != ref["assets"][k]]
    assert not differ, f"{len(differ)} assets differ, e.g. {differ[:3]}"


def _consumed(p: Proc) -> int:
    for line in p.lines:
        m = re.search(r"icssa correlate: ([\d,]+) events consumed", line)
        if m:
            return int(m.group(1).replace(",", ""))
    raise AssertionError(f"no summary from correlate:\n{p.log()}")


def test_sample_captures_end_to_end_equal_offline(ns: Namespace, reference: dict[str, Any], tmp_path: Path) -> None:
    _publish_all(ns, tmp_path)
    # no idle flush: windows close when the consumer stops, like the end of a replay
    c = ns.correlate("--idle-flush", "3600")
    wait_until("every event stored", lambda: ns.event_count() == len(reference["events"]))
    assert c.stop() == 0, c.log()
    assert _consumed(c) == len(reference["events"])
    _assert_equal(_store_contents(ns), reference)


def _assignment(p: Proc) -> set[tuple[str, int]] | None:
    found = [line.split("assigned ", 1)[1] for line in p.lines if "icssa.correlator: assigned " in line]
    return {tuple(x) for x in ast.literal_eval(found[-1])} if found else None


def test_two_correlators_split_the_partitions_and_agree(
    ns: Namespace, reference: dict[str, Any], tmp_path: Path
) -> None:
    a = ns.correlate("--idle-flush", "3600", "-v")
    b = ns.correlate("--idle-flush", "3600", "-v")

    def split() -> bool:
        for p in (a, b):
            assert p.p.poll() is None, f"a correlator exited {p.p.returncode}:\n{p.log()}"
        sa, sb = _assignment(a), _assignment(b)
        return bool(sa and sb and not sa & sb and len(sa | sb) == PARTITIONS)

    wait_until("both group members holding partitions", split)
    _publish_all(ns, tmp_path)
    try:
        wait_until("every event stored", lambda: ns.event_count() == len(reference["events"]))
    except AssertionError as exc:
        a.stop()
        b.stop()
        raise AssertionError(f"{exc}: {ns.event_count()} of {len(reference['events'])}\n"
                             f"-- first correlator:\n{a.log()}\n-- second:\n{b.log()}") from None
    assert a.stop() == 0, a.log()
    assert b.stop() == 0, b.log()
    na, nb = _consumed(a), _consumed(b)
    assert na > 0 and nb > 0, f"one member did all the work: {na} / {nb}"
    assert na + nb == len(reference["events"])
    _assert_equal(_store_contents(ns), reference)
