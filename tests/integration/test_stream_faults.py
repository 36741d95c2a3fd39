"""Faults on the distributed path, each checked by counting ``event.id``: every event of the
capture ends up in Elasticsearch exactly once (ids come from ``icssa replay`` of the same
capture). The capture is large enough (100,000 packets) for the fault to land mid-stream,
and each test asserts that it did."""

from __future__ import annotations

import re
import signal
from pathlib import Path

from .conftest import Namespace, services, wait_until


def _assert_exactly(ns: Namespace, expected: set[str]) -> None:
    ns.store.refresh()
    ids = list(ns.store.iter_ids("events"))
    assert len(ids) == len(set(ids))
    missing = expected - set(ids)
    extra = set(ids) - expected
    assert not missing and not extra, f"{len(missing)} missing (e.g. {sorted(missing)[:3]}), {len(extra)} unexpected"
    assert ns.event_count() == len(expected)


def test_broker_stopped_mid_stream(ns: Namespace, big_pcap: tuple[Path, set[str]], tmp_path: Path) -> None:
    pcap, expected = big_pcap
    c = ns.correlate("--idle-flush", "3600")
    # small batches: the sensor is still publishing when the broker goes away
    s = ns.sensor("--pcap", str(pcap), "--spool", str(tmp_path / "spool"), "--batch-size", "100",
                  "--drain-timeout", "300")
    wait_until("the first events on the topic", lambda: ns.end_offsets() > 0, timeout=120, every=0.1)
    services("stop", "kafka")
    s.wait_line("bus unreachable", timeout=120)
    assert s.p.poll() is None, "the sensor finished before the broker went away"
    services("start", "kafka")
    assert s.finish(timeout=600) == 0, s.log()
    assert s.saw("left in the spool 0 messages"), s.log()
    assert not s.saw("through the spool 0)"), "nothing went through the spool"
    wait_until("every event stored", lambda: ns.event_count() >= len(expected), timeout=600, every=1)
    assert c.stop() == 0, c.log()
    _assert_exactly(ns, expected)


def test_elasticsearch_stopped_mid_stream(ns: Namespace, big_pcap: tuple[Path, set[str]], tmp_path: Path) -> None:
    pcap, expected = big_pcap
    c = ns.correlate("--idle-flush", "3600", "--checkpoint-every", "1")
    s = ns.sensor("--pcap", str(pcap), "--spool", str(tmp_path / "spool"))
    wait_until("the first events stored", lambda: ns.event_count() > 0, timeout=120, every=0.2)
    services("stop", "es")
    wait_until("a write failing", lambda: c.saw("storing events failed") or c.saw("checkpoint failed"), timeout=300)
    services("start", "es")
    assert s.finish(timeout=600) == 0, s.log()
    wait_until("every event stored", lambda: ns.event_count() >= len(expected), timeout=600, every=1)
    assert c.stop() == 0, c.log()
    assert any(re.search(r"[1-9][\d,]* retries", line) for line in c.lines), c.log()
    _assert_exactly(ns, expected)


def test_correlate_killed_and_restarted(ns: Namespace, big_pcap: tuple[Path, set[str]], tmp_path: Path) -> None:
    pcap, expected = big_pcap
    s = ns.sensor("--pcap", str(pcap), "--spool", str(tmp_path / "spool"))
    assert s.finish(timeout=600) == 0, s.log()
    first = ns.correlate("--idle-flush", "3600", "--checkpoint-every", "1")
    at_kill = wait_until("the first events stored", ns.event_count, timeout=120, every=0.1)
    first.p.send_signal(signal.SIGKILL)
    first.p.wait(timeout=30)
    assert at_kill < len(expected), "the consumer finished before it could be killed"
    second = ns.correlate("--idle-flush", "3600")
    wait_until("every event stored", lambda: ns.event_count() >= len(expected), timeout=600, every=1)
    assert second.stop() == 0, second.log()
    _assert_exactly(ns, expected)
