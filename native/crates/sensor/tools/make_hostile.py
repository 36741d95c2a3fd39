"""Hostile captures for the native sensor's parity check (compare.py).

    python native/crates/sensor/tools/make_hostile.py OUTDIR [--seed N] [--no-evict]

Writes captures made from the reference flows of ``pcaps/`` in OUTDIR: capture-format cases
(truncations, bad magic, absurd caplen, pcap byte orders and nanoseconds, pcapng sections,
interfaces, timestamp resolutions and offsets, SPB/PB, unknown and oversized blocks), every
link-layer framing the sensor decodes, TCP reassembly games, fragments, UDP, detection on
other ports, malformed headers, byte-flipped and cut copies of every reference capture, random
frames, and a table of more than 100,000 flows (eviction).
"""

# ruff: noqa: T201 - a command-line tool: its report is printed

from __future__ import annotations

import argparse
import random
import struct
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import hostile_flows as hf  # noqa: E402
from hostile_frames import NS, Pcapng, Seg, ether, ipv4, pcap_bytes, read_pcap, segments, write_pcap  # noqa: E402

ROOT = Path(__file__).resolve().parents[4]
SOURCES = {"modbus": "modbus_writes.pcap", "s7": "s7_blocks.pcap", "opcua": "opcua_username.pcap"}


def formats(out: Path, segs: list[Seg]) -> None:
    frames = hf.eth(segs)
    data = pcap_bytes(frames, 1)
    for name, kw in {"be": {"big": True}, "ns": {"nano": True}, "be_ns": {"big": True, "nano": True}}.items():
        write_pcap(out / f"fmt_pcap_{name}.pcap", frames, 1, **kw)
    write_pcap(out / "fmt_caplen.pcap", frames, 1, caplen_override={4: 300_000})
    write_pcap(out / "fmt_fcs_bits.pcap", frames, 0x1000_0001)
    second = 24 + 16 + len(frames[0][1])
    for name, cut in {"header": 10, "rechdr": second + 7, "data": second + 16 + 9, "last": len(data) - 1}.items():
        (out / f"fmt_trunc_{name}.pcap").write_bytes(data[:cut])
    (out / "fmt_magic.pcap").write_bytes(b"\x00\x01\x02\x03" + data[4:])
    (out / "fmt_empty.pcap").write_bytes(b"")
    (out / "fmt_3bytes.pcap").write_bytes(data[:3])
    (out / "fmt_only_header.pcap").write_bytes(data[:24])
    (out / "fmt_UPPER.PCAP").write_bytes(data)
    (out / "fmt_dump.dmp").write_bytes(data)
    (out / "fmt_capfile.cap").write_bytes(data)
    pcapng(out, frames)


def _ng(frames: list[tuple[int, bytes]], big: bool = False) -> Pcapng:
    ng = Pcapng()
    ng.shb(big)
    ng.idb(1, tsresol=9)
    for ts, f in frames:
        ng.epb(0, ts, f)
    return ng


def pcapng(out: Path, frames: list[tuple[int, bytes]]) -> None:
    half = len(frames) // 2
    (out / "ng_le.pcapng").write_bytes(_ng(frames).bytes())
    (out / "ng_be.pcapng").write_bytes(_ng(frames, big=True).bytes())
    # two sections of different byte order; interfaces start again in the second
    ng = _ng(frames[:half])
    ng.shb(big=True)
    ng.idb(0)  # NULL link, microseconds (the default)
    ng.idb(1, tsresol=6)
    for ts, f in frames[half:]:
        ng.epb(1, ts // 1000, f)
    ng.epb(0, frames[-1][0] // 1000, b"\x02\x00\x00\x00" + frames[-1][1][14:])
    (out / "ng_sections.pcapng").write_bytes(ng.bytes())
    # timestamp resolutions and offsets, one interface each
    ng = Pcapng()
    ng.shb()
    resolutions = [(3, None), (0x8A, None), (12, None), (120, None), (0x80, -3600), (9, -(10**12)),
                   (9, 10**12), (6, 2**62)]
    for res, off in resolutions:
        ng.idb(1, tsresol=res, tsoffset=off)
    for k, (ts, f) in enumerate(frames):
        res = resolutions[k % len(resolutions)][0]
        ticks = ts * (1 << (res & 0x7F)) // NS if res & 0x80 else ts * 10**res // NS if res <= 12 else ts
        ng.epb(k % len(resolutions), ticks, f)
    ng.epb(0, 0xFFFF_FFFF_FFFF_FFFF, frames[0][1])  # the largest tick count
    (out / "ng_tsresol.pcapng").write_bytes(ng.bytes())
    # SPB (snap length shorter than some frames), PB, unknown blocks, bad EPBs
    ng = Pcapng()
    ng.shb()
    ng.idb(1, snaplen=80, tsresol=9)
    ng.idb(1)
    for k, (ts, f) in enumerate(frames):
        kind = k % 6
        if kind == 0:
            ng.spb(f)
        elif kind == 1:
            ng.pb(1, ts // 1000, f)
        elif kind == 2:
            ng.block(0x0BAD, b"custom" * 3)  # unknown small block
            ng.epb(0, ts, f)
        elif kind == 3:
            ng.epb(5, ts, f)  # no such interface: skipped
            ng.epb(0, ts, f)
        elif kind == 4:
            ng.epb(0, ts, f, caplen=len(f) + 64)  # caplen beyond the block: skipped
            ng.epb(0, ts, f)
        else:
            ng.block(0x0BAD, bytes(400_000))  # larger than the reader buffers: skipped unread
            ng.epb(0, ts, f)
    data = ng.bytes()
    (out / "ng_blocks.pcapng").write_bytes(data)
    ng = _ng(frames[:3])
    ng.block(0x0BAD, bytes(400_000))
    (out / "ng_trunc_big_block.pcapng").write_bytes(ng.bytes()[:-1000])
    cases = {
        "badbom": lambda ng: ng.shb(bom=b"\x01\x02\x03\x04"),
        "len_odd": lambda ng: ng.block(6, bytes(30), length=42),
        "len_small": lambda ng: ng.block(6, b"", length=8),
        "epb_huge": lambda ng: ng.raw(struct.pack("<II", 6, 300_000) + bytes(300_000)),
        "spb_no_idb": lambda ng: (ng.shb(), ng.spb(frames[0][1])),
    }
    for name, add in cases.items():
        ng = _ng(frames[:half])
        add(ng)
        for ts, f in frames[half:]:
            ng.epb(0, ts, f)
        (out / f"ng_{name}.pcapng").write_bytes(ng.bytes())
    data = _ng(frames).bytes()
    for name, cut in {"shb": 20, "idb": 28 + 10, "epb": len(data) // 2 + 3, "tail": len(data) - 2}.items():
        (out / f"ng_trunc_{name}.pcapng").write_bytes(data[:cut])


def links(out: Path, sources: dict[str, list[Seg]]) -> None:
    for enc, (linktype, wrap) in hf.ENCAPSULATIONS.items():
        frames = [(s.ts, wrap(s)) for segs in sources.values() for s in segs]
        write_pcap(out / f"link_{enc}.pcap", frames, linktype)


def tcp(out: Path, sources: dict[str, list[Seg]]) -> None:
    for variant, apply in hf.TCP_VARIANTS.items():
        for name, segs in sources.items():
            write_pcap(out / f"tcp_{variant}_{name}.pcap", hf.eth(apply(segs)), 1)


def fragments(out: Path, sources: dict[str, list[Seg]]) -> None:
    for mode in ("in_order", "reverse", "overlap", "dup", "missing", "v6", "v6_reverse"):
        frames = [f for segs in sources.values() for f in hf.fragmented(segs, mode)]
        write_pcap(out / f"frag_{mode}.pcap", frames, 1)
    write_pcap(out / "frag_bounds.pcap", hf.fragment_bounds(sources["modbus"][0]), 1)
    udp = [f for k, s in enumerate(sources["opcua"]) if s.payload
           for f in hf.fragmented([s.moved(proto=17, sport=40000 + k % 2, dport=4840)], "in_order")]
    write_pcap(out / "frag_udp.pcap", udp, 1)


def detection(out: Path, sources: dict[str, list[Seg]], rng: random.Random) -> None:
    m, s7, ua = sources["modbus"], sources["s7"], sources["opcua"]
    write_pcap(out / "udp_modbus.pcap", hf.as_udp(m, 502), 1)
    write_pcap(out / "udp_opcua.pcap", hf.as_udp(ua, 4840), 1)
    write_pcap(out / "udp_s7_other_port.pcap", hf.as_udp(s7, 30102), 1)
    write_pcap(out / "probe_ports.pcap", hf.eth(hf.on_port(s7, 102, 1102) + hf.on_port(ua, 4840, 48400)
                                                + hf.on_port(m, 502, 5020)), 1)
    for name, segs, port in (("modbus", m, 502), ("s7", s7, 102), ("opcua", ua, 4840)):
        other = hf.on_port(segs, port, 9000 + port)
        write_pcap(out / f"probe_late_{name}.pcap", hf.eth(hf.garbage_first(other, 2, rng)), 1)
        write_pcap(out / f"probe_giveup_{name}.pcap", hf.eth(hf.garbage_first(other, 5, rng)), 1)
        write_pcap(out / f"probe_known_port_garbage_{name}.pcap", hf.eth(hf.garbage_first(segs, 3, rng)), 1)
        write_pcap(out / f"garbage_port_{name}.pcap", hf.garbage_flow(port, 80, rng, segs[0].ts), 1)
    write_pcap(out / "malformed.pcap", hf.malformed(m[0]), 1)
    write_pcap(out / "errors_modbus.pcap", hf.error_flow(m[0].ts), 1)


def mutations(out: Path, rng: random.Random, copies: int) -> None:
    for src in sorted((ROOT / "pcaps").glob("*.pcap")):
        link, frames = read_pcap(src)
        for c in range(copies):
            mutated = []
            for ts, f in frames:
                f = bytearray(f)
                if f and rng.random() < 0.08:
                    for _ in range(rng.randrange(1, 4)):
                        f[rng.randrange(len(f))] = rng.randrange(256)
                if f and rng.random() < 0.03:
                    del f[rng.randrange(len(f)) :]
                if rng.random() < 0.02:
                    ts -= rng.randrange(NS)
                mutated.append((ts, bytes(f)))
            write_pcap(out / f"mut{c}_{src.stem}.pcap", mutated, link)


def garbage(out: Path, rng: random.Random, base: Seg) -> None:
    for link in (1, 0, 101, 113, 276, 108):
        frames = []
        for k in range(1500):
            n = rng.randrange(0, 160)
            f = bytes(rng.randrange(256) for _ in range(n))
            if link == 1 and k % 2:
                f = ether(base, ipv4(base.moved(sport=rng.randrange(65536)), f))[: rng.randrange(14, 200)]
            frames.append((base.ts + k * 1000, f))
        write_pcap(out / f"random_link{link}.pcap", frames, link)


def evict(out: Path, base: Seg) -> None:
    """Modbus flows with a segment waiting behind a hole, then 100,500 one-SYN flows."""
    frames = []
    t = base.ts
    for k in range(50):
        c = base.moved(src=bytes((10, 1, 0, k)), sport=20000 + k, dport=502, ts=t + k)
        req = b"\x00\x01\x00\x00\x00\x06\x01\x03\x00\x00\x00\x02"
        for s in (c.moved(flags=0x02, seq=1000, payload=b""), c.moved(seq=1001 + 12, flags=0x18, payload=req * 3)):
            frames.append((s.ts, ether(s, ipv4(s))))
    for k in range(100_500):
        s = base.moved(src=bytes((10, 2, k >> 8 & 255, k & 255)), sport=1024 + k % 60000, dport=80 + k % 7,
                       ts=t + NS + k * 1000, flags=0x02, seq=k, payload=b"")
        frames.append((s.ts, ether(s, ipv4(s))))
    write_pcap(out / "evict.pcap", frames, 1)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("out", type=Path)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--copies", type=int, default=2, help="mutated copies of each reference capture")
    ap.add_argument("--no-evict", action="store_true", help="skip the 100,500-flow capture")
    args = ap.parse_args()
    rng = random.Random(args.seed)
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    sources = {name: segments(ROOT / "pcaps" / f) for name, f in SOURCES.items()}
    formats(out, sources["modbus"])
    links(out, sources)
    tcp(out, sources)
    fragments(out, sources)
    detection(out, sources, rng)
    mutations(out, rng, args.copies)
    garbage(out, rng, sources["modbus"][0])
    if not args.no_evict:
        evict(out, sources["modbus"][0])
    print(f"{len(list(out.iterdir()))} captures in {out}")


if __name__ == "__main__":
    main()
