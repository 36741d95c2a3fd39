"""Memory does not grow with the stream: every table of the engine stays within its cap.

The default rules see a hostile stream: every event from a new client to a new server, with
new unit ids, function codes, addresses, SZL ids and tenants, spread over a few minutes of
event time (so windows hold their state), through a zone context. The caps are made small
(``Limits`` and the module constants) so that the stream passes each of them many times; after
every chunk each table is measured against its cap, and the caps were really reached
(evictions counted, alerts closed early).
"""

from __future__ import annotations

import time
from typing import Any

import pytest

from correlation import Engine, Limits, StaticZones
from correlation import alerts as alerts_module
from correlation import engine as engine_module
from correlation import fields as fields_module
from correlation.baselines import FirstSeenDetector, RateDetector
from correlation.detectors import MatchDetector, SequenceDetector, ThresholdDetector

BASE = 1_709_280_000.0  # 2024-03-01T08:00:00Z
LIMITS = Limits(groups=24, learned=40, window_entries=200)
CAPS = {"MAX_OPEN": 30, "MAX_SUPPRESSED": 20, "MAX_ORGS": 7, "ZONE_CACHE": 50, "MAX_PLANS": 12, "MAX_BUCKETS": 9, "CLOCK_CACHE": 16}
ZONES = StaticZones({"10.0.0.0/9": {"zone": "enterprise", "level": 4}, "10.128.0.0/9": {"zone": "control", "level": 1}})


def ts(seconds: float) -> str:
    micros = round((BASE + seconds) * 1_000_000)
    sec, frac = divmod(micros, 1_000_000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(sec)) + f".{frac:06d}Z"


SCANNER = {"ip": "10.127.255.1", "port": 40000}
TARGET = {"ip": "10.255.0.1", "port": 502}


def hostile(n: int) -> list[dict[str, Any]]:
    """n events, each between a client and a server never seen before, but for one scanner
    that sweeps the unit ids of one server all along."""
    out = []
    for i in range(n):
        client = {"ip": f"10.{i >> 16 & 127}.{i >> 8 & 255}.{i & 255}", "port": 40000 + i % 20000}
        server = {"ip": f"10.{128 + (i >> 16 & 127)}.{i >> 8 & 255}.{i & 255}", "port": (502, 102, 4840, 5020)[i % 4]}
        kind, tenant = i % 7, i % 11
        if kind == 6:
            client, server, kind, tenant = SCANNER, TARGET, 0, 0
        if kind in (0, 1):
            ds, action = "modbus", ("read_coils", "write_single_coil")[kind]
            fields: dict[str, Any] = {"is_response": False, "unit_id": i % 256, "function_code": 1 + i % 120, "address": i % 65536}
        elif kind == 2:
            ds, action, fields = "modbus", "read_coils", {"is_response": True, "exception_code": 2, "unit_id": i % 256}
        elif kind == 3:
            ds, action, fields = "s7comm", ("plc_stop", "read_szl")[i % 2], {"is_response": False, "szl_id": i % 4096}
        elif kind == 4:
            ds, action, fields = "opcua", "browse", {"is_response": False, "message_type": "MSG"}
        else:
            ds, action, fields = "modbus", f"made_up_{i % 40}", {"is_response": False}  # new buckets
        out.append({
            "@timestamp": ts(i * 0.05),
            "event": {"id": f"h{i}", "kind": "event", "dataset": ds, "action": action},
            "source": client,
            "destination": server,
            "network": {"transport": "tcp", "direction_to_server": True, "community_id": f"1:{i}"},
            "observer": {"name": "sensor"},
            "organization": {"id": f"tenant-{tenant}"},
            ds: fields,
        })
    return out


def check_caps(engine: Engine) -> None:
    for det, _ in engine._matchers:
        if isinstance(det, ThresholdDetector):
            assert len(det.groups) <= det.cap <= LIMITS.groups
            for _, tracker, _ in det.groups.values():
                assert len(tracker) <= det.count
        elif isinstance(det, SequenceDetector | RateDetector):
            assert len(det.groups) <= LIMITS.groups
            for st in det.groups.values():
                assert len(st[3 if isinstance(det, SequenceDetector) else 6]) <= 50
        elif isinstance(det, FirstSeenDetector):
            assert len(det.learned) <= LIMITS.learned and len(det.known) <= LIMITS.learned
        elif isinstance(det, MatchDetector):
            assert len(det.recent) <= LIMITS.groups
    book = engine.book
    assert len(book.open) <= CAPS["MAX_OPEN"] and len(book._heap) <= CAPS["MAX_OPEN"]
    assert len(book._suppressed) <= CAPS["MAX_SUPPRESSED"]
    for alert in book.open.values():
        assert len(alert.evidence) <= alerts_module.MAX_EVIDENCE
        assert len(alert.ips) <= alerts_module.MAX_RELATED_IP and len(alert.values) <= alerts_module.MAX_VALUES
    assert len(engine._org_start) <= CAPS["MAX_ORGS"]
    assert engine._zones is not None and len(engine._zones.cache) <= CAPS["ZONE_CACHE"]
    assert engine._plans <= CAPS["MAX_PLANS"]
    assert sum(b.plans.__len__() for b in engine._compiled.values()) <= CAPS["MAX_PLANS"]
    assert engine._nbuckets <= CAPS["MAX_BUCKETS"] and len(engine._compiled) <= CAPS["MAX_BUCKETS"]
    assert len(engine.clock._cache) <= CAPS["CLOCK_CACHE"]


@pytest.fixture
def small_caps(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("MAX_OPEN", "MAX_SUPPRESSED"):
        monkeypatch.setattr(alerts_module, name, CAPS[name])
    for name in ("MAX_ORGS", "ZONE_CACHE", "MAX_PLANS", "MAX_BUCKETS"):
        monkeypatch.setattr(engine_module, name, CAPS[name])
    monkeypatch.setattr(fields_module, "CLOCK_CACHE", CAPS["CLOCK_CACHE"])


@pytest.mark.usefixtures("small_caps")
def test_every_table_stays_within_its_cap_under_ever_new_hosts_and_values() -> None:
    engine = Engine.from_directory(context=ZONES, limits=LIMITS, baseline_seconds=5.0)
    assert engine.load_errors == []
    events = hostile(6000)
    alerts = []
    for start in range(0, len(events), 250):
        for e in events[start : start + 250]:
            alerts += engine.process(e)
        check_caps(engine)
    alerts += engine.flush()
    assert engine.stats["state_evicted"] > 1000  # live state was dropped, and counted
    assert engine.book.stats["closed_early"] > 100  # open alerts were closed at the cap
    assert engine.book.open == {} and engine.book._heap == []
    # the caps did not silence the rules: the scan, the writes, the zones, the ports, the SZL
    fired = {a["rule"]["id"] for a in alerts}
    assert {"modbus-unit-id-scan", "modbus-coil-write", "ics-cross-zone", "ics-nonstandard-port", "s7-identity-read"} <= fired


@pytest.mark.usefixtures("small_caps")
def test_output_under_the_caps_is_deterministic() -> None:
    def run() -> list[bytes]:
        engine = Engine.from_directory(context=ZONES, limits=LIMITS, baseline_seconds=5.0)
        out = []
        for e in hostile(3000):
            out += engine.process(e)
        out += engine.flush()
        return [repr(a).encode() for a in out]

    first = run()
    assert first and run() == first
