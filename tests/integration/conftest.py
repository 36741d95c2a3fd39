"""Real Kafka and Elasticsearch for the distributed path (scripts/services.sh starts them).

A service that cannot start fails the run; nothing here is skipped. Each test works in its
own namespace: topics ``<ns>.events`` ... and indices ``<ns>-events-*`` ..., removed after.
Waiting is done by polling a condition (store counts, log lines, offsets) with a deadline.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
SERVICES = ROOT / "scripts" / "services.sh"
KAFKA = os.environ.get("ICSSA_KAFKA", "127.0.0.1:9092")
ES_URL = os.environ.get("ICSSA_ES_URL", "http://127.0.0.1:9200")
ICSSA = [sys.executable, "-m", "icssa.cli_stream"]


def services(action: str, which: str = "all") -> None:
    res = subprocess.run([str(SERVICES), action, which], capture_output=True, text=True, timeout=900)
    assert res.returncode == 0, f"scripts/services.sh {action} {which} failed:\n{res.stderr[-4000:]}"


def wait_until(what: str, cond: Callable[[], Any], timeout: float = 180.0, every: float = 0.25) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = cond()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(every)


class Proc:
    """A command-line process whose output (stdout and stderr) is collected line by line."""

    def __init__(self, args: list[str]) -> None:
        self.args = args
        self.p = subprocess.Popen(
            [*ICSSA, *args], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
            stdin=subprocess.DEVNULL,
        )
        self.lines: list[str] = []
        self._t = threading.Thread(target=self._read, daemon=True)
        self._t.start()

    def _read(self) -> None:
        assert self.p.stdout is not None
        for line in self.p.stdout:
            self.lines.append(line.rstrip("\n"))

    def saw(self, text: str) -> bool:
        return any(text in line for line in self.lines)

    def wait_line(self, text: str, timeout: float = 120.0) -> None:
        def seen() -> bool:
            if self.p.poll() is not None and not self.saw(text):
                raise AssertionError(f"{self.args[0]} exited {self.p.returncode} before '{text}':\n{self.log()}")
            return self.saw(text)

        wait_until(f"'{text}' from icssa {self.args[0]}", seen, timeout)

    def log(self) -> str:
        return "\n".join(self.lines[-60:])

    def finish(self, timeout: float = 300.0) -> int:
        try:
            self.p.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.p.kill()
            raise AssertionError(f"icssa {self.args[0]} did not finish in {timeout} s:\n{self.log()}") from None
        self._t.join(timeout=10)
        return self.p.returncode

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 300.0) -> int:
        if self.p.poll() is None:
            self.p.send_signal(sig)
        return self.finish(timeout)

    def kill(self) -> None:
        if self.p.poll() is None:
            self.p.kill()
        self.p.wait(timeout=30)


@pytest.fixture(scope="session")
def engines() -> None:
    """Kafka and Elasticsearch up (started if needed)."""
    services("start", "all")


class Namespace:
    def __init__(self) -> None:
        self.name = f"it{uuid.uuid4().hex[:8]}"
        self.bus = f"kafka://{KAFKA}?prefix={self.name}."
        self.store_url = f"{ES_URL}?prefix={self.name}-"
        self.procs: list[Proc] = []
        self._store: Any = None

    @property
    def store(self) -> Any:
        if self._store is None:
            from icssa.store import open_store

            self._store = open_store(self.store_url)
        return self._store

    def sensor(self, *args: str) -> Proc:
        p = Proc(["sensor", "--bus", self.bus, *args])
        self.procs.append(p)
        return p

    def correlate(self, *args: str) -> Proc:
        p = Proc(["correlate", "--bus", self.bus, "--store", self.store_url, *args])
        self.procs.append(p)
        return p

    def event_count(self) -> int:
        from icssa.store import EventQuery

        self.store.refresh()
        return int(self.store.count_events(EventQuery()))

    def end_offsets(self) -> int:
        """Messages on the events topic (all partitions)."""
        from kafka import KafkaConsumer, TopicPartition

        c = KafkaConsumer(bootstrap_servers=KAFKA, request_timeout_ms=5000)
        try:
            parts = c.partitions_for_topic(f"{self.name}.events") or set()
            tps = [TopicPartition(f"{self.name}.events", p) for p in parts]
            return sum(c.end_offsets(tps).values()) if tps else 0
        finally:
            c.close()

    def cleanup(self) -> None:
        for p in self.procs:
            p.kill()
        if self._store is not None:
            self._store.drop()
            self._store.delete_templates()
            self._store.close()
        from kafka import KafkaAdminClient

        admin = KafkaAdminClient(bootstrap_servers=KAFKA, request_timeout_ms=10000)
        try:
            mine = [t for t in admin.list_topics() if t.startswith(f"{self.name}.")]
            if mine:
                admin.delete_topics(mine)
        finally:
            admin.close()


@pytest.fixture
def ns(engines: None) -> Iterator[Namespace]:
    n = Namespace()
    yield n
    services("start", "all")  # a fault test may have left one stopped
    n.cleanup()


def replay_dir(pcaps: list[Path], out: Path, *, org: str = "default", observer: str = "replay") -> Path:
    """The reference: ``icssa replay`` of the same captures."""
    res = subprocess.run(
        [sys.executable, "-m", "icssa.cli", "replay", *map(str, pcaps), "--out", str(out), "--org", org,
         "--observer", observer, "--quiet", "--no-progress"],
        cwd=ROOT, capture_output=True, text=True, timeout=600,
    )
    assert res.returncode == 0, res.stderr
    return out


@pytest.fixture(scope="session")
def big_pcap(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, set[str]]:
    """A mixed Modbus/S7/OPC UA capture of 100,000 packets and the event ids replay gives it."""
    folder = tmp_path_factory.mktemp("big")
    pcap = folder / "big.pcap"
    subprocess.run([sys.executable, str(ROOT / "bench" / "make_big_pcap.py"), "--packets", "100000",
                    "--out", str(pcap)], check=True, capture_output=True, timeout=600)
    import orjson

    out = replay_dir([pcap], folder / "replay")
    with open(out / "events.jsonl", "rb") as fh:
        ids = {orjson.loads(line)["event"]["id"] for line in fh}
    return pcap, ids
