"""Run tcpdump on the loopback interface around one scenario.

`Tcpdump` starts ``tcpdump -i lo -w FILE -U`` with a BPF filter, waits until tcpdump
says "listening on" on stderr, and on `stop` waits until every TCP connection in the
file has been torn down (both FINs and the last ACK, or a RST) before sending SIGINT.
tcpdump's closing statistics tell whether the kernel handed it every packet that
matched the filter; `CaptureStats.complete` is false when some were lost.
"""

from __future__ import annotations

import os
import re
import select
import signal
import struct
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

TCPDUMP = "/usr/bin/tcpdump"
READY_TIMEOUT_S = 10.0
DRAIN_TIMEOUT_S = 5.0
STOP_TIMEOUT_S = 10.0
POLL_INTERVAL_S = 0.02
# In immediate mode libpcap gives each ring frame room for a full snapshot (256 KiB), so
# the default 2 MiB ring holds only a handful of packets and bursts get dropped.
BUFFER_KIB = 131072

_PCAP_GLOBAL_HEADER = struct.Struct("<IHHiIII")
_PCAP_RECORD_HEADER = struct.Struct("<IIII")
_PCAP_MAGIC_LE = 0xA1B2C3D4
_LINKTYPE_ETHERNET = 1
_ETHERTYPE_IPV4 = 0x0800
_TCP_FIN = 0x01
_TCP_RST = 0x04
_TCP_ACK = 0x10
_STATS_RE = {
    "captured": re.compile(r"(\d+) packets? captured"),
    "received": re.compile(r"(\d+) packets? received by filter"),
    "dropped": re.compile(r"(\d+) packets? dropped by kernel"),
}


class CaptureError(RuntimeError):
    """tcpdump could not be started or stopped."""


@dataclass(frozen=True)
class CaptureStats:
    captured: int
    received: int
    dropped: int
    flows_closed: bool

    @property
    def complete(self) -> bool:
        # On lo the kernel filter sees every packet twice (outgoing and incoming
        # copies); libpcap keeps one, so "received by filter" is twice "captured".
        return self.dropped == 0 and self.captured * 2 >= self.received and self.flows_closed


@dataclass
class _Flow:
    fin_a: bool = False
    fin_b: bool = False
    rst: bool = False
    acked_after_fins: bool = False

    @property
    def closed(self) -> bool:
        return self.rst or (self.fin_a and self.fin_b and self.acked_after_fins)


def tcp_flows_closed(path: Path) -> tuple[bool, int]:
    """Read a pcap written so far; (every TCP flow torn down, number of packets)."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return False, 0
    if len(data) < _PCAP_GLOBAL_HEADER.size:
        return False, 0
    magic, _, _, _, _, _, linktype = _PCAP_GLOBAL_HEADER.unpack_from(data, 0)
    if magic != _PCAP_MAGIC_LE or linktype != _LINKTYPE_ETHERNET:
        raise CaptureError(f"{path}: unexpected pcap magic {magic:#x} or link type {linktype}")
    flows: dict[tuple[tuple[str, int], tuple[str, int]], _Flow] = {}
    pos = _PCAP_GLOBAL_HEADER.size
    count = 0
    while pos + _PCAP_RECORD_HEADER.size <= len(data):
        _, _, caplen, _ = _PCAP_RECORD_HEADER.unpack_from(data, pos)
        pos += _PCAP_RECORD_HEADER.size
        if pos + caplen > len(data):
            break
        frame = data[pos : pos + caplen]
        pos += caplen
        count += 1
        _account(frame, flows)
    return bool(flows) and all(f.closed for f in flows.values()), count


def _account(frame: bytes, flows: dict[tuple[tuple[str, int], tuple[str, int]], _Flow]) -> None:
    if len(frame) < 14 + 20 or int.from_bytes(frame[12:14], "big") != _ETHERTYPE_IPV4:
        return
    ihl = (frame[14] & 0x0F) * 4
    if frame[23] != 6 or len(frame) < 14 + ihl + 14:
        return
    src = ".".join(str(b) for b in frame[26:30])
    dst = ".".join(str(b) for b in frame[30:34])
    tcp = 14 + ihl
    sport = int.from_bytes(frame[tcp : tcp + 2], "big")
    dport = int.from_bytes(frame[tcp + 2 : tcp + 4], "big")
    flags = frame[tcp + 13]
    a, b = (src, sport), (dst, dport)
    key = (a, b) if a <= b else (b, a)
    flow = flows.setdefault(key, _Flow())
    both_before = flow.fin_a and flow.fin_b
    if flags & _TCP_RST:
        flow.rst = True
    if flags & _TCP_FIN:
        if (src, sport) == key[0]:
            flow.fin_a = True
        else:
            flow.fin_b = True
    if both_before and flags & _TCP_ACK:
        flow.acked_after_fins = True


class Tcpdump:
    """One tcpdump process writing `path`; use as a context manager or call start/stop."""

    def __init__(self, path: Path, bpf: str, interface: str = "lo") -> None:
        self.path = path
        self.bpf = bpf
        self.interface = interface
        self._proc: subprocess.Popen[bytes] | None = None
        self._stderr = b""

    def start(self) -> None:
        if self.path.exists():
            self.path.unlink()
        cmd = [TCPDUMP, "-i", self.interface, "-n", "--immediate-mode", "-B", str(BUFFER_KIB), "-U", "-w", str(self.path), self.bpf]
        self._proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        assert self._proc.stderr is not None
        fd = self._proc.stderr.fileno()
        deadline = time.monotonic() + READY_TIMEOUT_S
        while b"listening on" not in self._stderr:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or self._proc.poll() is not None:
                self._kill()
                raise CaptureError(f"tcpdump did not start: {self._stderr.decode(errors='replace').strip()}")
            ready, _, _ = select.select([fd], [], [], remaining)
            if ready:
                chunk = os.read(fd, 4096)
                if not chunk:
                    continue
                self._stderr += chunk

    def stop(self) -> CaptureStats:
        if self._proc is None:
            raise CaptureError("tcpdump was not started")
        closed = False
        deadline = time.monotonic() + DRAIN_TIMEOUT_S
        while time.monotonic() < deadline:
            closed, _ = tcp_flows_closed(self.path)
            if closed:
                break
            time.sleep(POLL_INTERVAL_S)
        self._proc.send_signal(signal.SIGINT)
        try:
            _, err = self._proc.communicate(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired as exc:
            self._kill()
            raise CaptureError("tcpdump did not stop on SIGINT") from exc
        self._stderr += err
        text = self._stderr.decode(errors="replace")
        counts = {}
        for key, pattern in _STATS_RE.items():
            match = pattern.search(text)
            if match is None:
                raise CaptureError(f"tcpdump printed no '{key}' statistics: {text.strip()}")
            counts[key] = int(match.group(1))
        self._proc = None
        return CaptureStats(counts["captured"], counts["received"], counts["dropped"], closed)

    def _kill(self) -> None:
        if self._proc is not None and self._proc.poll() is None:
            self._proc.kill()
            self._proc.wait()
        self._proc = None
