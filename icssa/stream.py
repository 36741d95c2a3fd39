"""The distributed path: sensors publish events to the bus; correlators consume them.

``sensor_pcap`` and ``sensor_live`` drive the same ``Sensor`` as ``icssa replay`` (through
``pipeline.run_capture`` for files) and hand its events to a ``Publisher``. A stop request
(SIGTERM) is honoured between packets: flows are flushed, the batch is sent or spooled.

The consumer side, ``Correlator`` (one member of the group ``icssa-correlate``), lives in
``icssa.correlator`` and is importable from here as well.
"""

from __future__ import annotations

import logging
import queue
import struct
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from icssa.correlator import GROUP, Correlator
from icssa.events import Event
from icssa.pipeline import expand, run_capture
from icssa.publisher import Publisher
from sensors.engine import Sensor

__all__ = ["GROUP", "Correlator", "LiveCapture", "SensorReport", "Stopped", "sensor_live", "sensor_pcap"]

log = logging.getLogger("icssa.stream")
SOL_PACKET = 263
PACKET_STATISTICS = 6


class Stopped(Exception):
    """A stop was requested; raised between packets."""


# -- sensors --------------------------------------------------------------------------------
@dataclass
class SensorReport:
    packets: int = 0
    events: int = 0
    kernel_drops: int = 0
    own_drops: int = 0
    errors: list[str] = field(default_factory=list)
    sensor: Counter[str] = field(default_factory=Counter)
    parse_errors: Counter[tuple[str, str]] = field(default_factory=Counter)

    def add(self, s: Sensor) -> None:
        self.packets += s.stats["packets"]
        self.sensor.update(s.stats)
        self.parse_errors.update(s.parse_errors)


def _counting(publisher: Publisher, report: SensorReport) -> Callable[[Event], None]:
    publish = publisher.publish

    def emit(event: Event) -> None:
        report.events += 1
        publish(event)

    return emit


def sensor_pcap(
    paths: Sequence[Path], publisher: Publisher, *, observer: str, organization: str, stop: threading.Event
) -> SensorReport:
    """Publish the events of capture files (the same ids as ``icssa replay``)."""
    report = SensorReport()
    emit = _counting(publisher, report)

    def between_packets(_: int) -> None:
        if stop.is_set():
            raise Stopped
        publisher.tick()

    try:
        for path in expand(paths):
            sensor, error = run_capture(path, emit, observer=observer, organization=organization,
                                        progress=between_packets)
            report.add(sensor)
            if error:
                report.errors.append(error)
    except Stopped:
        log.warning("stop requested: flows flushed, remaining captures skipped")
    publisher.flush()
    return report


class LiveCapture:
    """Raw frames from an interface (Linux packet socket through scapy, BPF in the kernel) on a
    thread, into a bounded queue; ``own_drops`` counts frames the queue had no room for."""

    def __init__(self, iface: str, bpf: str | None, queue_size: int = 65_536) -> None:
        from scapy.arch.linux import L2ListenSocket
        from scapy.layers.l2 import CookedLinux, Ether

        self.sock = L2ListenSocket(iface=iface, filter=bpf, promisc=True)
        ll = self.sock.LL
        self.linktype = 1 if ll is Ether else 113 if ll is CookedLinux else 1
        self.queue: queue.Queue[tuple[int, int, bytes]] = queue.Queue(maxsize=queue_size)
        self.own_drops = 0
        self.kernel_drops = 0
        self.kernel_packets = 0
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, name=f"capture-{iface}", daemon=True)
        # Until scapy has attached the filter and bound the socket (tcpdump compiles the
        # filter meanwhile), it takes every interface's frames into a minimal buffer, and the
        # kernel counts those it had no room for: not drops of this capture. Reading the
        # counters resets them.
        self.read_kernel_stats()
        self.kernel_drops = self.kernel_packets = 0

    def start(self) -> None:
        self.thread.start()

    def _run(self) -> None:
        import select

        put = self.queue.put_nowait
        sock = self.sock
        after_stop = self.queue.maxsize  # frames read once stopped: what the socket holds, bounded
        while after_stop:
            stopping = self.stop.is_set()
            ready, _, _ = select.select([sock.ins], [], [], 0 if stopping else 0.2)
            if not ready:
                if stopping:  # the socket is empty: what it had when the stop came is queued
                    break
                continue
            if stopping:
                after_stop -= 1
            _cls, data, ts = sock.recv_raw(65_535)
            if data is None:
                continue
            try:
                put((int((ts or time.time()) * 1_000_000) * 1000, self.linktype, data))
            except queue.Full:
                self.own_drops += 1

    def read_kernel_stats(self) -> None:
        """Add the kernel's counters since the last read (reading resets them)."""
        try:
            raw = self.sock.ins.getsockopt(SOL_PACKET, PACKET_STATISTICS, 8)
        except OSError:
            return
        packets, drops = struct.unpack("II", raw)
        self.kernel_packets += packets
        self.kernel_drops += drops

    def close(self) -> None:
        self.stop.set()
        self.thread.join(timeout=2)
        self.read_kernel_stats()
        self.sock.close()


def sensor_live(
    iface: str, bpf: str | None, publisher: Publisher, *, observer: str, organization: str,
    stop: threading.Event, stats_every: float = 30.0, ready: Callable[[], None] | None = None,
) -> SensorReport:
    """Capture until ``stop``; event ids are unique per run (``live-<observer>-<start>``)."""
    report = SensorReport()
    capture = LiveCapture(iface, bpf)
    sensor = Sensor(_counting(publisher, report), observer=observer, organization=organization,
                    capture_id=f"live-{observer}-{time.time_ns() // 1_000_000:x}")
    capture.start()
    if ready is not None:
        ready()
    get = capture.queue.get
    handle = sensor.packet
    next_stats = time.monotonic() + stats_every
    try:
        while not stop.is_set():
            try:
                ts_ns, linktype, data = get(timeout=0.1)
            except queue.Empty:
                publisher.tick()
                continue
            handle(ts_ns, linktype, data)
            if not sensor.frame & 0xFF:
                publisher.tick()
                if stats_every and time.monotonic() >= next_stats:
                    next_stats = time.monotonic() + stats_every
                    capture.read_kernel_stats()
                    log.info("%s: %d packets, %d events, drops kernel %d own %d, spool %d", iface, sensor.frame,
                             report.events, capture.kernel_drops, capture.own_drops, publisher.spool_depth)
    finally:
        capture.close()
        while True:  # what the capture thread queued before it stopped
            try:
                handle(*capture.queue.get_nowait())
            except queue.Empty:
                break
        sensor.finish()
        publisher.flush()
    report.add(sensor)
    report.kernel_drops, report.own_drops = capture.kernel_drops, capture.own_drops
    return report
