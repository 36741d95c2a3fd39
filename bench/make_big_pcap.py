"""Scale sample ICS sessions into a large Ethernet pcap for the replay benchmark.

Seed captures are read once with scapy; their TCP sessions become templates (sequence numbers
relative to each direction's start, payloads with their checksum partial sums). The output is
then written packet by packet with ``struct`` into a buffered file, so memory stays constant
whatever ``--packets`` is:

- ``--flows`` sessions run at once, each copy of a seed session in a slot; slots are merged by
  timestamp, so flows interleave as on a busy mirror port;
- every copy gets a client/server IPv4 pair from a fixed plant topology (servers in
  10.1-3.0.0/16 by protocol, clients in 10.100.0.0/14; each server is polled by the same
  ``CLIENTS_PER_SERVER`` clients, as PLCs by their HMIs, engineering stations and historians:
  bounded host and pair sets, so per-host and per-pair state stays flat; a pair always replays
  the same seed session, as an HMI keeps polling its PLC the same way, so what the pipeline
  learns per pair stops growing once every pair has been seen), a new client port, new
  initial sequence numbers per direction (acks shifted by the peer's offset, so reassembly
  sees consistent streams), new IP ids, and timestamps shifted onto the output clock and
  scaled so the capture carries ``--rate`` packets per second of capture time;
- a copy whose seed ends without a teardown gets a FIN/FIN/ACK exchange, so the sensor can
  retire its flow (memory must not grow with the file size);
- IPv4 and TCP checksums are computed for every packet.

The addresses exist only inside the file: nothing is sent on any network.

    python bench/make_big_pcap.py --packets 1000000 --protocol mixed --out bench/data/big.pcap
"""

from __future__ import annotations

import argparse
import heapq
import random
import struct
import sys
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED_PCAPS = ROOT.parent / "shared" / "pcaps"
PROTOCOLS = ("modbus", "s7", "opcua")
#: well-known server ports of the seeds (5020: pymodbus' unprivileged default)
SERVER_PORTS = {502: "modbus", 5020: "modbus", 102: "s7", 4840: "opcua"}
OPCUA_TYPES = frozenset({b"HEL", b"ACK", b"OPN", b"MSG", b"CLO", b"ERR", b"RHE"})
SERVER_NET = {"modbus": 1, "s7": 2, "opcua": 3}  # 10.N.x.y
N_SERVERS = 250  # per protocol: 10.N.0.1 - 10.N.0.250
N_CLIENTS = 1000  # 10.100.0.1 - 10.100.3.250
CLIENTS_PER_SERVER = 4  # each server's fixed set of clients: 1,000 pairs per protocol
PAIRS = N_SERVERS * CLIENTS_PER_SERVER  # copy number n runs between pair n % PAIRS
EPOCH_US = 1_700_000_000 * 1_000_000  # 2023-11-14T22:13:20Z, fixed for reproducible files
MAX_SEED_GAP_US = 1_000_000  # idle periods in seeds are clipped to this before scaling
M32 = 0xFFFFFFFF

FIN, SYN, RST, ACK = 0x01, 0x02, 0x04, 0x10
PCAP_HEADER = struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 262_144, 1)  # µs, Ethernet
_REC = struct.Struct("<IIII")
# IPv4 (no options) + TCP fixed header, one pack per packet
_IPTCP = struct.Struct("!BBHHHBBH4s4sHHIIBBHHH")


@dataclass
class Template:
    """One seed TCP session, ready to be stamped out."""

    name: str
    protocol: str
    server_port: int
    #: (rel_us, to_server, rel_seq, rel_ack, flags, window, doff_byte, tail, tail_sum)
    packets: list[tuple[int, bool, int, int, int, int, int, bytes, int]] = field(default_factory=list)


def ones_sum(data: bytes) -> int:
    """Unfolded one's-complement sum of big-endian 16-bit words (odd length padded)."""
    if len(data) & 1:
        data += b"\x00"
    return sum(struct.unpack(f"!{len(data) // 2}H", data))


def classify(server_port: int, payloads: Iterable[bytes]) -> str:
    if server_port in SERVER_PORTS:
        return SERVER_PORTS[server_port]
    for p in payloads:
        if len(p) >= 8 and p[2:4] == b"\x00\x00" and int.from_bytes(p[4:6], "big") == len(p) - 6:
            return "modbus"
        if len(p) >= 7 and p[0] == 3 and p[1] == 0 and int.from_bytes(p[2:4], "big") >= 7:
            return "s7"
        if len(p) >= 8 and p[:3] in OPCUA_TYPES and p[3:4] in (b"F", b"C", b"A"):
            return "opcua"
    return "other"


# -- reading seeds (scapy, once) ------------------------------------------------------------------
Raw = tuple[int, bytes, int, bytes, int, int, int, int, int, bytes, bytes]


def _segments(path: Path) -> Iterable[Raw]:
    """(ts_us, src, sport, dst, dport, seq, ack, flags, window, options, payload) per TCP segment."""
    import scapy.layers.inet  # noqa: F401 - registers the dissectors used below
    import scapy.layers.inet6  # noqa: F401
    import scapy.layers.l2  # noqa: F401
    from scapy.layers.inet import IP
    from scapy.layers.inet6 import IPv6
    from scapy.utils import PcapReader

    with PcapReader(str(path)) as reader:
        for pkt in reader:
            ts_us = int(pkt.time * 1_000_000)
            ip4 = pkt.getlayer(IP)
            if ip4 is not None:
                raw = bytes(ip4)
                ihl = (raw[0] & 15) * 4
                if raw[9] != 6 or int.from_bytes(raw[6:8], "big") & 0x3FFF:
                    continue  # not TCP, or a fragment
                raw = raw[: int.from_bytes(raw[2:4], "big") or len(raw)]  # 0: segmentation offload
                src, dst, l4 = raw[12:16], raw[16:20], ihl
            else:
                ip6 = pkt.getlayer(IPv6)
                if ip6 is None:
                    continue
                raw = bytes(ip6)
                if raw[6] != 6:
                    continue  # extension headers: not in our seeds
                raw = raw[: 40 + int.from_bytes(raw[4:6], "big")]
                src, dst, l4 = raw[8:24], raw[24:40], 40
            if len(raw) < l4 + 20:
                continue
            sport, dport, seq, ack, doff, flags, window = struct.unpack_from("!HHIIBBH", raw, l4)
            start = l4 + (doff >> 4) * 4
            if doff >> 4 < 5 or start > len(raw):
                continue
            yield ts_us, src, sport, dst, dport, seq, ack, flags, window, raw[l4 + 20 : start], raw[start:]


def read_templates(path: Path, scale_gap_us: float) -> list[Template]:
    """The TCP sessions of one capture as templates (a reused 4-tuple after a close is a new one)."""
    sessions: list[list[Raw]] = []
    current: dict[tuple, int] = {}
    closed: set[int] = set()
    for seg in _segments(path):
        _ts, src, sport, dst, dport, *_rest = seg
        flags = seg[7]
        key = tuple(sorted(((src, sport), (dst, dport))))
        idx = current.get(key)
        if idx is None or (idx in closed and flags & (SYN | ACK) == SYN):
            idx = current[key] = len(sessions)
            sessions.append([])
        sessions[idx].append(seg)
        if flags & (FIN | RST):
            closed.add(idx)
    out = []
    for i, segs in enumerate(sessions):
        t = _template(f"{path.name}#{i}", segs, scale_gap_us)
        if t is not None:
            out.append(t)
    return out


def _template(name: str, segs: list[Raw], gap_us: float) -> Template | None:
    if not any(s[10] for s in segs):
        return None  # no application data
    first = segs[0]
    a, b = (first[1], first[2]), (first[3], first[4])
    syn = next((s for s in segs if s[7] & SYN), None)
    if syn is not None:
        client = (syn[1], syn[2]) if not syn[7] & ACK else (syn[3], syn[4])
    elif b[1] in SERVER_PORTS or a[1] in SERVER_PORTS:
        client = a if b[1] in SERVER_PORTS else b
    else:
        client = a if a[1] > b[1] else b
    server_port = b[1] if client == a else a[1]
    dirs = [(s[1], s[2]) == client for s in segs]  # True: client -> server
    base: dict[bool, int] = {}
    for d, s in zip(dirs, segs, strict=True):
        base.setdefault(d, s[5])
    for d, s in zip(dirs, segs, strict=True):
        if s[7] & ACK:
            base.setdefault(not d, s[6])
    base.setdefault(True, 0)
    base.setdefault(False, 0)
    protocol = classify(server_port, (s[10] for d, s in zip(dirs, segs, strict=True) if s[10]))
    t = Template(name, protocol, server_port)
    # clip idle periods, then scale the session to a mean gap of gap_us per packet
    rel = [0]
    for prev, s in zip(segs, segs[1:], strict=False):
        rel.append(rel[-1] + max(0, min(s[0] - prev[0], MAX_SEED_GAP_US)))
    end_seq = {True: 0, False: 0}
    fins = {True: False, False: False}
    last_window = {True: 8192, False: 8192}
    rows: list[tuple[int, bool, int, int, int, int, bytes]] = []
    for d, s in zip(dirs, segs, strict=True):
        _ts, _src, _sp, _dst, _dp, seq, ack, flags, window, opts, payload = s
        rseq = (seq - base[d]) & M32
        rack = (ack - base[not d]) & M32 if flags & ACK else 0
        if rseq < 0x80000000:
            end_seq[d] = max(end_seq[d], rseq + len(payload) + (1 if flags & (SYN | FIN) else 0))
        fins[d] = fins[d] or bool(flags & FIN)
        last_window[d] = window
        rows.append((d, rseq, rack, flags, window, opts, payload))
        if flags & RST:
            fins[True] = fins[False] = True
    n_extra = 0
    if not fins[True]:
        rows.append((True, end_seq[True], end_seq[False], FIN | ACK, last_window[True], b"", b""))
        end_seq[True] += 1
        n_extra += 1
    if not fins[False]:
        rows.append((False, end_seq[False], end_seq[True], FIN | ACK, last_window[False], b"", b""))
        end_seq[False] += 1
        n_extra += 1
    if n_extra:
        d = not rows[-1][0]  # the other side acknowledges the last FIN
        rows.append((d, end_seq[d], end_seq[not d], ACK, last_window[d], b"", b""))
        n_extra += 1
    for k in range(n_extra):
        rel.append(rel[-1] + 1000 * (k + 1))
    span = rel[-1] or 1
    scale = gap_us * (len(rows) - 1) / span if len(rows) > 1 else 0.0
    for r, (d, rseq, rack, flags, window, opts, payload) in zip(rel, rows, strict=True):
        tail = opts + payload
        doff = (5 + len(opts) // 4) << 4
        t.packets.append((int(r * scale), d, rseq, rack, flags, window, doff, tail, ones_sum(tail)))
    return t


def find_seeds(seeds: Sequence[Path]) -> list[Path]:
    out: list[Path] = []
    for p in seeds:
        if p.is_dir():
            out.extend(sorted(q for q in p.rglob("*") if q.suffix in (".pcap", ".pcapng")))
        elif p.exists():
            out.append(p)
    return out


def load_templates(seeds: Sequence[Path] | None, protocol: str, gap_us: float) -> dict[str, list[Template]]:
    """Templates by protocol: the project's pcaps/ first, ../shared/pcaps for protocols it lacks."""
    wanted = PROTOCOLS if protocol == "mixed" else (protocol,)
    sources = [find_seeds(seeds)] if seeds else [find_seeds([ROOT / "pcaps"]), find_seeds([SHARED_PCAPS])]
    found: dict[str, list[Template]] = {}
    for files in sources:
        got: dict[str, list[Template]] = {}
        for f in files:
            for t in read_templates(f, gap_us):
                if t.protocol in wanted and t.protocol not in found:
                    got.setdefault(t.protocol, []).append(t)
        found.update(got)
        if all(p in found for p in wanted):
            break
    if not found:
        raise SystemExit(f"make_big_pcap: no {protocol} TCP sessions in the seed captures")
    return found


# -- writing (struct, streaming) -------------------------------------------------------------------
class Copy:
    """One stamped-out copy of a template: addresses, ports, offsets, clock."""

    __slots__ = ("t", "i", "start", "eth", "src", "dst", "ports", "isn", "ident", "addr_sum")

    def __init__(self, t: Template, number: int, start_us: int, rng: random.Random) -> None:
        self.t = t
        self.i = 0
        self.start = start_us
        # the fixed topology: server s is polled by clients s*k .. s*k+k-1 (mod N_CLIENTS)
        s = number % N_SERVERS
        c = (s * CLIENTS_PER_SERVER + (number // N_SERVERS) % CLIENTS_PER_SERVER) % N_CLIENTS
        server = bytes((10, SERVER_NET[t.protocol], 0, s + 1))
        client = bytes((10, 100, c // 250, c % 250 + 1))
        cport = 20000 + (number * 7919) % 40000
        cmac, smac = b"\x02\x00" + client, b"\x02\x01" + server
        # index by to_server: 1 = client -> server
        self.eth = (cmac + smac + b"\x08\x00", smac + cmac + b"\x08\x00")
        self.src = (server, client)
        self.dst = (client, server)
        self.ports = ((t.server_port, cport), (cport, t.server_port))
        self.isn = (rng.getrandbits(32), rng.getrandbits(32))
        self.ident = [rng.getrandbits(16), rng.getrandbits(16)]
        self.addr_sum = ones_sum(server + client)

    def next_ts(self) -> int:
        return self.start + self.t.packets[self.i][0]


def _fold(s: int) -> int:
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return s


def write_capture(
    templates: dict[str, list[Template]], out: Path, packets: int, flows: int, rate: float, seed: int
) -> dict[str, object]:
    """Write ``packets`` packets; returns counts for the record."""
    rng = random.Random(seed)
    gap = flows * 1_000_000 / rate  # mean per-slot gap between packets (µs)
    per_proto: Counter[str] = Counter()
    copies: Counter[str] = Counter()
    protos = sorted(templates)

    def new_copy(start: int) -> Copy:
        proto = min(protos, key=lambda p: (per_proto[p], p))  # balance packets across protocols
        number = copies[proto]
        seeds = templates[proto]
        t = seeds[number % PAIRS % len(seeds)]  # the copy's pair (see Copy) keeps its session
        copies[proto] += 1
        per_proto[proto] += len(t.packets)
        return Copy(t, number, start, rng)

    slots = [new_copy(EPOCH_US + int(rng.random() * gap)) for _ in range(flows)]
    heap = [(c.next_ts(), k) for k, c in enumerate(slots)]
    heapq.heapify(heap)
    written = nbytes = 0
    last_ts = EPOCH_US
    written_by: Counter[str] = Counter()
    rec_pack, hdr_pack = _REC.pack, _IPTCP.pack
    with open(out, "wb", buffering=1 << 20) as fh:
        fh.write(PCAP_HEADER)
        while written < packets:
            ts, k = heapq.heappop(heap)
            c = slots[k]
            rel, d, rseq, rack, flags, window, doff, tail, tail_sum = c.t.packets[c.i]
            seq = (rseq + c.isn[d]) & M32
            ack = (rack + c.isn[not d]) & M32 if flags & ACK else 0
            tcp_len = 20 + len(tail)
            total = 20 + tcp_len
            ident = c.ident[d]
            c.ident[d] = (ident + 1) & 0xFFFF
            ip_sum = ~_fold(0x4500 + total + ident + 0x4000 + 0x4006 + c.addr_sum) & 0xFFFF
            sport, dport = c.ports[d]
            tcp_sum = ~_fold(
                c.addr_sum + 6 + tcp_len + sport + dport + (seq >> 16) + (seq & 0xFFFF)
                + (ack >> 16) + (ack & 0xFFFF) + (doff << 8 | flags) + window + tail_sum
            ) & 0xFFFF
            frame_len = 14 + total
            fh.write(
                rec_pack(ts // 1_000_000, ts % 1_000_000, frame_len, frame_len)
                + c.eth[d]
                + hdr_pack(0x45, 0, total, ident, 0x4000, 64, 6, ip_sum, c.src[d], c.dst[d],
                           sport, dport, seq, ack, doff, flags, window, tcp_sum, 0)
                + tail
            )
            written += 1
            nbytes += 16 + frame_len
            written_by[c.t.protocol] += 1
            last_ts = ts
            c.i += 1
            if c.i == len(c.t.packets):
                c = slots[k] = new_copy(ts + int(rng.random() * 2 * gap))
            heapq.heappush(heap, (c.next_ts(), k))
    return {
        "packets": written,
        "bytes": nbytes + len(PCAP_HEADER),
        "seconds_of_traffic": round((last_ts - EPOCH_US) / 1e6, 3),
        "packets_by_protocol": dict(sorted(written_by.items())),
        "sessions_started": dict(sorted(copies.items())),
        "templates": {p: len(ts) for p, ts in sorted(templates.items())},
    }


def make(
    out: Path,
    packets: int = 1_000_000,
    protocol: str = "mixed",
    seeds: Sequence[Path] | None = None,
    flows: int = 32,
    rate: float = 5000.0,
    seed: int = 1,
) -> dict[str, object]:
    """Generate the capture; returns its description (packets, bytes, protocols, seeds)."""
    templates = load_templates(seeds, protocol, flows * 1_000_000 / rate)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".part")
    info = write_capture(templates, tmp, packets, flows, rate, seed)
    tmp.replace(out)
    info["seed_sessions"] = sorted({t.name for ts in templates.values() for t in ts})
    return info


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--packets", type=int, default=1_000_000, help="packets to write (default 1,000,000)")
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "data" / "big.pcap", help="output pcap")
    ap.add_argument("--protocol", choices=(*PROTOCOLS, "mixed"), default="mixed",
                    help="which seed sessions to scale (mixed: equal packet shares)")
    ap.add_argument("--seed", type=Path, action="append", dest="seeds", metavar="PCAP_OR_DIR",
                    help="seed capture or folder (repeatable; default pcaps/, then ../shared/pcaps)")
    ap.add_argument("--flows", type=int, default=32, help="concurrent sessions (default 32)")
    ap.add_argument("--rate", type=float, default=5000.0, help="packets per second of capture time")
    ap.add_argument("--random-seed", type=int, default=1, help="seed of the address/ISN choices")
    a = ap.parse_args(argv)
    if a.packets < 1 or a.flows < 1 or a.rate <= 0:
        ap.error("--packets, --flows and --rate must be positive")
    info = make(a.out, a.packets, a.protocol, a.seeds, a.flows, a.rate, a.random_seed)
    print(f"{a.out}: {info['packets']:,} packets, {info['bytes']:,} bytes, "
          f"{info['seconds_of_traffic']} s of traffic; by protocol {info['packets_by_protocol']}; "
          f"sessions {info['sessions_started']}; templates {info['templates']}",
          file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
