"""TCP gaps: a segment is cut out of a reference capture (scapy writes the copy), the whole pipeline
replays it, and the parser must lose only the message the hole was in, resynchronising at the next
message boundary (Zeek's analyzer stops until the next handshake)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
from scapy.all import TCP, IPv6, Loopback, bind_layers, rdpcap, wrpcap

from icssa.events import get
from icssa.pipeline import replay_events

SHARED = Path(__file__).resolve().parents[2] / "shared" / "pcaps" / "icsnpp-opcua"

pytestmark = pytest.mark.skipif(not SHARED.is_dir(), reason="reference captures not present")

for _family in (24, 28, 30):  # BSD loopback: AF_INET6 is 24, 28 or 30 depending on the system
    bind_layers(Loopback, IPv6, type=_family)


def messages(path: Path) -> Counter[tuple[str, str, str, int | None]]:
    return Counter(
        (get(e, "source.ip"), get(e, "destination.ip"), get(e, "opcua.message_type"), get(e, "opcua.service_id"))
        for e in replay_events([path]) if get(e, "event.dataset") == "opcua"
    )


def without(capture: Path, keep, out: Path) -> Path:
    packets = rdpcap(str(capture))
    kept = [p for p in packets if keep(p)]
    assert len(kept) == len(packets) - 1
    wrpcap(str(out), kept, linktype=0 if isinstance(packets[0], Loopback) else 1)  # DLT_NULL or Ethernet
    return out


def payload(p) -> bytes:
    return bytes(p[TCP].payload) if TCP in p else b""


def test_segment_holding_one_whole_message(tmp_path: Path) -> None:
    capture = SHARED / "open62541_client-server_mainloop.pcap"
    first_write = next(i for i, p in enumerate(rdpcap(str(capture)))
                       if payload(p)[:4] == b"MSGF" and payload(p)[24:28] == b"\x01\x00\xa1\x02")  # 673
    seen = iter(range(10**6))
    cut = without(capture, lambda p: next(seen) != first_write, tmp_path / "gap.pcap")
    lost = messages(capture) - messages(cut)
    assert messages(cut) - messages(capture) == Counter()
    assert list(lost.elements()) == [("::1", "::1", "MSG", 673)]


def test_segment_in_the_middle_of_a_large_message(tmp_path: Path) -> None:
    # the server's 13990-byte CreateSessionResponse spans ten segments; take out the fifth, so the
    # next segment starts in the middle of a certificate and the parser must find the next header
    capture = SHARED / "opcua_with-gap_with-handshake.pcap"
    packets = rdpcap(str(capture))
    start = next(i for i, p in enumerate(packets) if payload(p)[:8] == b"MSGF\xa6\x36\x00\x00")
    server_segments = [i for i, p in enumerate(packets) if i >= start and TCP in p and p[TCP].sport == 4840
                       and len(payload(p)) >= 1460 and p[TCP].dport == packets[start][TCP].dport]
    hole = server_segments[4]
    seen = iter(range(10**6))
    cut = without(capture, lambda p: next(seen) != hole, tmp_path / "gap.pcap")
    lost = messages(capture) - messages(cut)
    assert messages(cut) - messages(capture) == Counter()
    assert list(lost.elements()) == [("192.168.11.34", "192.168.11.33", "MSG", 464)]  # CreateSessionResponse
