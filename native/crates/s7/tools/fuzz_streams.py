"""Structure-aware S7 stream fixtures for the native parser's parity runs.

The captures exercise few of the decoder's branches; this writes flows of generated S7 traffic
(COTP of every type with parameters, DT segmentation, S7comm jobs and answers of every function,
userdata of every group with fragments, SZL answers, S7comm-plus with fragments and trailers),
lightly mutated and re-chunked, answered by the Python ``S7Parser``, in the format of
``native/tools/dump_streams.py``:

    python native/crates/s7/tools/fuzz_streams.py --flows 400 --seed 3 --out /tmp/s7-fuzz.jsonl
    cargo run --release -p icssa-s7 --example parity -- /tmp/s7-fuzz.jsonl
"""

from __future__ import annotations

import argparse
import random
import struct
import sys
from pathlib import Path
from typing import Any

import orjson

ROOT = Path(__file__).resolve().parents[4]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from parsers.s7comm import S7Parser  # noqa: E402


class Gen:
    def __init__(self, rng: random.Random) -> None:
        self.r = rng
        #: no random damage inside generated PDUs (the bounds flows)
        self.clean = False

    def damage(self, p: float) -> bool:
        return not self.clean and self.r.random() < p

    def pick(self, *xs: Any) -> Any:
        return self.r.choice(xs)

    def byte(self, *common: int) -> int:
        return self.r.choice(common) if common and self.r.random() < 0.8 else self.r.randrange(256)

    def u16(self, *common: int) -> int:
        return self.r.choice(common) if common and self.r.random() < 0.8 else self.r.randrange(65536)

    def blob(self, n: int) -> bytes:
        return self.r.randbytes(n)

    def text(self, *common: bytes) -> bytes:
        if common and self.r.random() < 0.8:
            return self.r.choice(common)
        return self.blob(self.r.randrange(0, 12))

    # -- framing ---------------------------------------------------------------------------
    def tpkt(self, payload: bytes) -> bytes:
        return struct.pack("!BBH", 3, 0, len(payload) + 4) + payload

    def dt(self, tsdu: bytes) -> list[bytes]:
        """One TSDU as one or more DT TPDUs."""
        if self.r.random() < 0.8 or len(tsdu) < 4:
            return [self.tpkt(bytes([2, 0xF0, 0x80]) + tsdu)]
        cuts = sorted(self.r.sample(range(1, len(tsdu)), min(len(tsdu) - 1, self.r.randint(1, 3))))
        parts = [tsdu[a:b] for a, b in zip([0, *cuts], [*cuts, len(tsdu)], strict=True)]
        out = [self.tpkt(bytes([2, 0xF0, 0x00]) + p) for p in parts[:-1]]
        return [*out, self.tpkt(bytes([2, 0xF0, 0x80]) + parts[-1])]

    def cotp(self) -> bytes:
        ptype = self.byte(0xE, 0xD, 0x8, 0xC, 0x7, 0x1, 0x5, 0x6, 0x0, 0x3) & 0xF
        params = b""
        for _ in range(self.r.randint(0, 4)):
            code = self.byte(0xC0, 0xC1, 0xC2, 0xC6, 0xE0, 0xC3)
            value = self.blob(self.pick(1, 2, 2, 0, 3, 16, 70))
            params += bytes([code, len(value)]) + value
        if self.r.random() < 0.1:
            params += b"\xc1"
        fixed = {0xE: 5, 0xD: 5, 0x8: 5, 0xC: 4, 0x7: 3}.get(ptype, self.r.randint(0, 3))
        body = bytes([(ptype << 4) | self.r.randrange(16)]) + self.blob(fixed) + params
        li = min(len(body), 255) if self.r.random() < 0.9 else self.r.randrange(256)
        tail = self.blob(self.pick(0, 0, 0, 3))
        return self.tpkt(bytes([li]) + body + tail)

    # -- S7comm ----------------------------------------------------------------------------
    def s7(self, rosctr: int, ref: int, param: bytes, data: bytes, err: bytes = b"\x00\x00") -> bytes:
        plen, dlen = len(param), len(data)
        if self.damage(0.05):
            plen = self.r.randrange(0, plen + 8)
        if self.damage(0.05):
            dlen = self.r.randrange(0, dlen + 8)
        redid = 1 if self.damage(0.05) else 0
        hdr = struct.pack("!BBHHHH", 0x32, rosctr, redid, ref, plen, dlen)
        if rosctr in (2, 3):
            hdr += err
        return hdr + param + data

    def item_spec(self) -> bytes:
        if self.r.random() < 0.85:
            area = self.byte(0x84, 0x81, 0x82, 0x83, 0x1C, 0x1D, 0x1E, 0x1F, 0x99)
            addr = self.r.randrange(1 << 24)
            spec = struct.pack("!BHHB", self.byte(1, 2, 4, 8), self.u16(1, 2, 10), self.u16(1, 5), area)
            spec += addr.to_bytes(3, "big")
            return bytes([0x12, 10, 0x10]) + spec
        body = self.blob(self.r.randint(0, 9))
        return bytes([self.byte(0x12), len(body) + 1, self.byte(0xB0, 0x82, 0x11)]) + body

    def data_item(self) -> bytes:
        ts = self.byte(3, 4, 5, 6, 7, 9, 0)
        n = self.pick(1, 2, 4, 3, 0, 600)
        length = n * 8 if ts in (3, 4, 5) else n
        return struct.pack("!BBH", self.byte(0xFF, 0x00, 0x05, 0x0A), ts, length) + self.blob(n)

    def items(self, make: Any, count: int) -> bytes:
        out = b""
        for i in range(count):
            it = make()
            out += it
            if len(it) & 1 and i < count - 1:
                out += b"\x00"
        return out

    def filename(self) -> bytes:
        name = self.text(b"_0A00001P", b"_0800001A", b"$0E00012B", b"_0AXX001P", b"_0Z00001P")
        return bytes([len(name) + self.pick(0, 0, 0, 3)]) + name

    def job_pair(self, ref: int) -> list[bytes]:
        fn = self.byte(0xF0, 0x04, 0x05, 0x1A, 0x1B, 0x1C, 0x1D, 0x1E, 0x1F, 0x28, 0x29, 0x00)
        count = self.r.randint(0, 4)
        data = b""
        if fn == 0xF0:
            param = struct.pack("!BBHHH", 0xF0, 0, 1, 1, 480)[: self.pick(8, 8, 3)]
        elif fn in (0x04, 0x05):
            param = bytes([fn, count]) + self.items(self.item_spec, count)
            if fn == 0x05:
                data = self.items(self.data_item, count)
        elif 0x1A <= fn <= 0x1F:
            param = bytes([fn, self.byte(0, 1, 2)]) + self.blob(6) + self.filename()
            if fn == 0x1A:
                param += b"\x09" + b"1" + self.text(b"000123000045", b"0001x3000045")
        elif fn == 0x28:
            service = self.text(b"_INSE", b"_DELE", b"P_PROGRAM", b"_N_LOGIN_", b"_MODU", b"_GARB", b"_N_F_OPEN")
            if service == b"_INSE" or service == b"_DELE":
                block = bytes([self.r.randint(0, 3), 0]) + b"0A00001P" * self.r.randint(0, 3)
            elif service.startswith(b"_N_"):
                block = b"\x04abcd\x00\x03xyz"
            else:
                block = self.text(b"", b"C", b"X")
            param = bytes([0x28]) + self.blob(7) + struct.pack("!H", len(block)) + block
            param += bytes([len(service) + self.pick(0, 0, 2)]) + service
        elif fn == 0x29:
            service = self.text(b"P_PROGRAM")
            param = bytes([0x29]) + self.blob(5) + bytes([len(service)]) + service
        else:
            param = bytes([fn]) + self.blob(self.r.randint(0, 6))
        if self.r.random() < 0.1:
            param = param[: self.r.randrange(len(param) + 1)]
        req = self.s7(1, ref, param, data)
        rfn = fn if self.r.random() < 0.9 else self.byte()
        rdata = b""
        if rfn in (0x04, 0x05):
            rparam = bytes([rfn, count])
            rdata = self.items(self.data_item, count) if rfn == 0x04 else bytes(self.byte(0xFF, 0x05) for _ in range(count))
        elif rfn == 0x1D:
            rparam = bytes([rfn, self.byte(0, 1)]) + self.blob(6) + b"\x0500420"
        elif rfn in (0x1B, 0x1E):
            rparam = bytes([rfn, self.byte(0, 1)])
            rdata = struct.pack("!H", 6) + b"\xfb\x00" + self.blob(6)
        else:
            rparam = bytes([rfn, self.byte(0, 1)]) + self.blob(self.pick(0, 6))
        if self.r.random() < 0.15:
            rparam = b""
        err = b"\x00\x00" if self.r.random() < 0.8 else bytes([self.byte(0x81, 0x85, 0xD2), self.byte(0x04, 0x01)])
        rosctr = 3 if self.r.random() < 0.9 else 2
        rref = ref if self.r.random() < 0.9 else self.u16()
        return [req, self.s7(rosctr, rref, rparam, rdata, err)]

    def szl_body(self) -> bytes:
        szl_id = self.u16(0x0011, 0x0111, 0x001C, 0x011C, 0x0131, 0x0232, 0x0424, 0x0000, 0x0F11)
        index = self.u16(1, 4, 0)
        rec_len = {0x0011: 28, 0x0111: 28, 0x001C: 34, 0x011C: 34, 0x0131: 40, 0x0232: 40, 0x0424: 20, 0: 2}.get(
            szl_id, 8
        )
        if self.r.random() < 0.2:
            rec_len = self.pick(26, 0, 4, 14, 12)
        recs = []
        for i in range(self.r.randint(0, 6)):
            rec = struct.pack("!H", self.u16(i + 1, 1, 6, 7, 0x81, 9, 0, 4))
            if szl_id in (0x0011, 0x0111):
                rec += b"6ES7 315-2EH14-0AB0 " + struct.pack("!H", 0) + bytes([self.byte(0x56, 0), 3, 2, 6])
            else:
                rec += self.text(b"PLC 1\x00\x00", b"S C-X4U\x1c  ", b"\xe9t\xa0 ") + self.blob(40)
            recs.append(rec[:rec_len].ljust(rec_len, b"\x00"))
        count = len(recs) if self.r.random() < 0.85 else self.r.randrange(10)
        if self.r.random() < 0.1:
            rec_len = count = 0
        return struct.pack("!HHHH", szl_id, index, rec_len, count) + b"".join(recs) + self.blob(self.pick(0, 0, 3))

    def ud_payload(self, group: int, sub: int, utype: int) -> bytes:
        if group == 4 and sub == 1:
            return struct.pack("!HH", 0x0011, 1)[: self.pick(4, 4, 2)] if utype == 1 else self.szl_body()
        if group == 3:
            if sub == 1:
                return b"".join(self.text(b"0A", b"08", b"\xe9z") + struct.pack("!H", self.u16()) for _ in range(self.r.randint(0, 9)))
            if sub == 2:
                return self.text(b"0A", b"0C") if utype == 1 else self.blob(4 * self.r.randint(0, 9) + self.pick(0, 2))
            return self.text(b"0A00001P", b"0B0001", b"0AXY001A")
        if group == 7:
            return self.text(bytes.fromhex("00192403251530450120"), bytes.fromhex("0019890325153045012a"), b"\x00\x20")
        if group == 2:
            count = self.r.randint(0, 3)
            if utype == 1:
                return bytes([1, count, 1, 5]) + self.items(self.item_spec, count)
            return bytes([0, count]) + self.items(self.data_item, count)
        return self.blob(self.r.randint(0, 10))

    def userdata(self, ref: int, utype: int, group: int, sub: int, seq: int, dur: int, last: int, payload: bytes) -> bytes:
        fn = 0x01 if self.damage(0.05) else 0x00
        if utype == 1:
            param = bytes([fn, 1, 0x12, 4, 0x11, (utype << 6) | group, sub, seq])
        else:
            err = self.u16(0xD401, 0x8104) if self.damage(0.1) else 0
            param = bytes([fn, 1, 0x12, 8, 0x12, (utype << 6) | group, sub, seq, dur, last]) + struct.pack("!H", err)
        if self.damage(0.05):
            param = param[: self.r.randrange(len(param))]
        ret = self.byte(0x0A, 0x00) if self.damage(0.2) else 0xFF
        data = struct.pack("!BBH", ret, 0x09, len(payload) + self.pick(0, 0, 0, 5)) + payload
        if self.damage(0.05):
            data = data[: self.r.randrange(6)]
        return self.s7(7, ref, param, data)

    def ud_exchange(self, ref: int) -> list[bytes]:
        if self.r.random() < 0.85:
            group, sub = self.pick(*[(4, 1)] * 6, (3, 1), (3, 2), (3, 3), (7, 1), (7, 2), (7, 3), (7, 4),
                                   (2, 1), (2, 4), (2, 5), (5, 1), (5, 2), (1, 1), (0, 8), (4, 2), (0x3F, 1))
        else:
            group, sub = self.r.randrange(64), self.r.randrange(256)
        req = self.userdata(ref, 1, group, sub, 0, 0, 0, self.ud_payload(group, sub, 1))
        rref = ref if self.r.random() < 0.8 else self.u16()
        payload = self.ud_payload(group, sub, 2)
        nfrag = 1 if self.r.random() < 0.6 else self.r.randint(2, 4)
        size = max(1, len(payload) // nfrag)
        pieces = [payload[i * size : (i + 1) * size] for i in range(nfrag - 1)] + [payload[(nfrag - 1) * size :]]
        dur = self.byte(0, 1, 2) if nfrag > 1 else self.byte(0, 0, 0, 3)
        rgroup = group if self.r.random() < 0.9 else self.byte(4, 3)
        out = [req]
        for i, piece in enumerate(pieces):
            last = 1 if i < len(pieces) - 1 else 0
            out.append(self.userdata(rref, self.pick(2, 2, 2, 0), rgroup, sub, 0, dur, last, piece))
        return out

    # -- S7comm-plus -----------------------------------------------------------------------
    def plus(self, seq: int) -> list[bytes]:
        ver = self.byte(1, 2, 3, 0xFE, 0xFF)
        op = self.byte(0x31, 0x32, 0x33, 0x02, 0x44)
        fn = self.u16(0x04CA, 0x04F2, 0x054C, 0x056B, 0x1234)
        body = struct.pack("!BHHHH", op, 0, fn, 0, seq)
        if op == 0x31:
            body += struct.pack("!IB", self.r.randrange(1 << 32), 0x36)
        elif op == 0x33:
            body = bytes([op]) + self.blob(6)
        else:
            body += b"\x00"
        body += self.blob(self.r.randint(0, 20))
        if self.r.random() < 0.1:
            body = body[: self.r.randrange(len(body) + 1)]
        if ver == 3:
            digest = self.blob(self.pick(32, 0, 5))
            body = bytes([len(digest) + self.pick(0, 0, 0, 90)]) + digest + body
        elif ver == 2 and self.r.random() < 0.5:
            body += b"\x20" + self.blob(32)
        nfrag = 1 if self.r.random() < 0.7 else self.r.randint(2, 4)
        out = []
        for i in range(nfrag):
            chunk = body if i == 0 else self.blob(self.r.randint(0, 10))
            dlen = len(chunk) if self.r.random() < 0.95 else self.u16()
            msg = struct.pack("!BBH", 0x72, ver, dlen) + chunk
            if i == nfrag - 1 and self.r.random() < 0.9:
                msg += struct.pack("!BBH", 0x72, ver, 0) + self.blob(self.pick(0, 0, 0, 2))
            out.append(msg)
        return out

    # -- a flow ----------------------------------------------------------------------------
    def flow(self) -> list[tuple[bool, bytes]]:
        """(to_server, TPKT bytes) in order."""
        msgs: list[tuple[bool, bytes]] = []
        for _ in range(self.r.randint(1, 30)):
            k = self.r.random()
            ref = self.u16(1, 2, 3, 0x100)
            if k < 0.1:
                msgs.append((self.r.random() < 0.5, self.cotp()))
                continue
            if k < 0.45:
                tsdus = self.job_pair(ref)
                dirs = [True, False]
            elif k < 0.8:
                tsdus = self.ud_exchange(ref)
                dirs = [True] + [False] * (len(tsdus) - 1)
            else:
                tsdus = self.plus(ref)
                d = self.r.random() < 0.5
                dirs = [d] * len(tsdus)
            if self.r.random() < 0.1:
                dirs = [not d for d in dirs]
            for to_server, tsdu in zip(dirs, tsdus, strict=True):
                for tpdu in self.dt(tsdu):
                    msgs.append((to_server, tpdu))
        return msgs

    def ops(self) -> list[list[Any]]:
        """Feed operations: the flow's bytes per direction, mutated and re-chunked."""
        ops: list[list[Any]] = []
        if self.r.random() < 0.05:
            ops.append(["mid"])
        for to_server, tpdu in self.flow():
            data = bytearray(tpdu)
            r = self.r.random()
            if r < 0.08:
                data[self.r.randrange(len(data))] = self.r.randrange(256)
            elif r < 0.1:
                del data[self.r.randrange(len(data)) :]
            elif r < 0.12:
                ops.append(["gap", to_server])
            elif r < 0.14:
                data[self.r.randrange(len(data) + 1) : 0] = self.blob(self.r.randint(1, 8))
            if ops and ops[-1][0] == "feed" and ops[-1][1] == to_server and self.r.random() < 0.2:
                ops[-1][2] += bytes(data)  # two TPDUs in one segment
            elif len(data) > 2 and self.r.random() < 0.1:
                cut = self.r.randrange(1, len(data))
                ops.append(["feed", to_server, bytes(data[:cut])])
                ops.append(["feed", to_server, bytes(data[cut:])])
            else:
                ops.append(["feed", to_server, bytes(data)])
        return ops


def bounds_flows(gen: Gen) -> list[list[list[Any]]]:
    """Flows that reach the per-flow bounds: pending requests, fragments, reassembly sizes."""
    gen.clean = True
    feed = lambda to_server, tsdu: ["feed", to_server, gen.tpkt(bytes([2, 0xF0, 0x80]) + tsdu)]  # noqa: E731
    item = bytes([0x12, 10, 0x10, 2]) + struct.pack("!HHB", 4, 1, 0x84) + b"\x00\x00\x10"
    read = [feed(True, gen.s7(1, ref, bytes([4, 1]) + item, b"")) for ref in range(600)]
    answers = [feed(False, gen.s7(3, ref, b"\x04\x01", b"\xff\x04\x00\x10\x12\x34")) for ref in (0, 150, 599)]
    flows = [read + answers]
    # userdata requests of 600 (group, subfunction) pairs, answered with other PDU references
    uds = [feed(True, gen.userdata(ref, 1, 1 + ref // 256, ref % 256, 0, 0, 0, b"\x00\x11\x00\x01"))
           for ref in range(600)]
    uds += [feed(False, gen.userdata(9000 + g, 2, 1 + g // 256, g % 256, 0, 0, 0, b"")) for g in (0, 100, 599)]
    flows.append(uds)
    # 20 userdata answers fragmented at once, one of them too large
    frag = [feed(False, gen.userdata(7, 2, 4, 1, 0, k, 1, gen.szl_body())) for k in range(1, 21)]
    frag += [feed(False, gen.userdata(7, 2, 4, 1, 0, 21, 1, bytes(60000))) for _ in range(5)]
    frag += [feed(False, gen.userdata(7, 2, 4, 1, 0, k, 0, b"")) for k in (1, 5, 20, 21)]
    flows.append(frag)
    # a COTP TSDU beyond the reassembly bound, then a whole one
    big = [["feed", True, gen.tpkt(bytes([2, 0xF0, 0x00]) + bytes(65000))] for _ in range(5)]
    big.append(feed(True, gen.s7(1, 1, bytes([0xF0, 0, 0, 1, 0, 1, 1, 0xE0]), b"")))
    big.append(["feed", True, gen.tpkt(bytes([2, 0xF0, 0x80]) + b"\x32")])
    big.append(feed(True, gen.s7(1, 2, bytes([0xF0, 0, 0, 1, 0, 1, 1, 0xE0]), b"")))
    flows.append(big)
    # S7comm-plus: 600 requests, then answers; 1030 fragments without a trailer
    req = [feed(True, struct.pack("!BBH", 0x72, 1, 14) + struct.pack("!BHHHHIB", 0x31, 0, 0x4F2, 0, seq, 77, 0)
                + struct.pack("!BBH", 0x72, 1, 0)) for seq in range(600)]
    req += [feed(False, struct.pack("!BBH", 0x72, 1, 10) + struct.pack("!BHHHHB", 0x32, 0, 0x4F2, 0, seq, 0)
                 + struct.pack("!BBH", 0x72, 1, 0)) for seq in (0, 300, 599)]
    req += [feed(False, struct.pack("!BBH", 0x72, 2, 10) + struct.pack("!BHHHHB", 0x32, 0, 0x4F2, 0, k, 0))
            for k in range(1030)]
    flows.append(req)
    # identity answers: communication capabilities and protection
    cp = struct.pack("!HHHHHHHII", 0x0131, 1, 14, 1, 1, 480, 8, 187500, 1500000)
    prot = struct.pack("!HHHHHHHHHH", 0x0232, 4, 12, 1, 4, 1, 0, 2, 2, 0)
    flows.append([feed(False, gen.userdata(3, 2, 4, 1, 0, 0, 0, body)) for body in (cp, prot)])
    gen.clean = False
    return [[[op[0], op[1], bytes(op[2])] for op in ops] for ops in flows]


def replay(ops: list[list[Any]]) -> dict[str, Any] | None:
    """The flow answered by the Python parser; None when the parser raised (a Python bug)."""
    parser = S7Parser()
    done: list[list[Any]] = []
    for op in ops:
        if op[0] == "feed":
            try:
                msgs = parser.feed(op[2], op[1])
            except Exception as exc:  # only ParseError is caught inside; anything else is a bug
                print(f"python parser raised {exc!r} on {op[2].hex()}", file=sys.stderr)  # noqa: T201
                return None
            text = orjson.dumps([[m.dataset, m.action, m.fields, m.to_server] for m in msgs]).decode()
            done.append(["feed", op[1], op[2].hex(), text, [[e.reason, e.detail] for e in parser.errors]])
            parser.errors.clear()
        elif op[0] == "gap":
            parser.gap(op[1])
            done.append(op)
        else:
            parser.start_midstream()
            done.append(op)
    return {"proto": "s7comm", "ops": done}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--flows", type=int, default=300)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--out", type=Path, default=Path("/tmp/s7-fuzz.jsonl"))
    args = ap.parse_args()
    gen = Gen(random.Random(args.seed))
    with open(args.out, "wb") as fh:
        for ops in [*bounds_flows(gen), *(gen.ops() for _ in range(args.flows))]:
            flow = replay(ops)
            if flow is not None:
                fh.write(orjson.dumps(flow) + b"\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
