"""Record what the Python parsers see and say, as fixtures for the native parsers' parity runs.

Runs the Python sensor over captures with every flow's parser wrapped in a recorder, and writes
one JSON line per flow to ``OUT/<protocol>.jsonl``:

    {"proto": "modbus", "ops": [["feed", to_server, "<hex>", "<messages>", [[reason, detail], ...]],
                                ["gap", to_server], ["mid"]]}

``<messages>`` is the orjson text of the list ``[[dataset, action, fields, to_server], ...]``
that the feed returned: a native parser fed the same operations must write the same bytes.
``--mutate N`` adds N mutated copies of each flow (byte flips, cuts, garbage, chunks split or
joined, from a fixed seed), replayed through a fresh Python parser: hostile input, same bar.

    python native/tools/dump_streams.py pcaps ../shared/pcaps/* --out /tmp/icssa-streams --mutate 3
"""

from __future__ import annotations

import argparse
import random
import sys
from pathlib import Path
from typing import Any

import orjson

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from icssa.pipeline import expand  # noqa: E402
from parsers import registry  # noqa: E402
from parsers.base import StreamParser  # noqa: E402
from sensors.capture import CaptureError, open_capture  # noqa: E402
from sensors.engine import Sensor  # noqa: E402

MAX_OPS = 4000  # per flow: enough to cover every state a flow goes through in the samples


class Recorder:
    """Stands in for a flow's parser: forwards every call and records it with its answer."""

    def __init__(self, proto: str, inner: StreamParser, flows: list[dict[str, Any]]) -> None:
        self.inner = inner
        self.dataset = inner.dataset
        self.ops: list[list[Any]] = []
        flows.append({"proto": proto, "ops": self.ops})

    @property
    def errors(self) -> list:
        return self.inner.errors

    def feed(self, data: bytes, to_server: bool) -> list:
        msgs = self.inner.feed(data, to_server)
        if len(self.ops) < MAX_OPS:
            self.ops.append(["feed", to_server, data.hex(), messages_json(msgs), errors_of(self.inner)])
        return msgs

    def gap(self, to_server: bool) -> None:
        self.inner.gap(to_server)
        if len(self.ops) < MAX_OPS:
            self.ops.append(["gap", to_server])

    def start_midstream(self) -> None:
        self.inner.start_midstream()
        if len(self.ops) < MAX_OPS:
            self.ops.append(["mid"])


def messages_json(msgs: list) -> str:
    return orjson.dumps([[m.dataset, m.action, m.fields, m.to_server] for m in msgs]).decode()


def errors_of(parser: StreamParser) -> list[list[str]]:
    """The errors this call added (the sensor drains them after each feed; so do we)."""
    return [[e.reason, e.detail] for e in parser.errors]


def record(paths: list[Path]) -> list[dict[str, Any]]:
    flows: list[dict[str, Any]] = []
    sensor = Sensor(lambda event: None)
    attach = sensor._attach

    def recording_attach(flow: Any, spec: Any) -> None:
        attach(flow, spec)
        flow.parser = Recorder(spec.name, flow.parser, flows)

    sensor._attach = recording_attach  # type: ignore[method-assign]
    for path in expand(paths):
        try:
            for ts_ns, linktype, data in open_capture(path):
                sensor.packet(ts_ns, linktype, data)
        except CaptureError as exc:
            print(f"{exc}", file=sys.stderr)
    sensor.finish()
    return flows


def mutate(ops: list[list[Any]], rng: random.Random) -> list[list[Any]]:
    """The same flow with hostile changes to its bytes and chunking."""
    out: list[list[Any]] = []
    for op in ops:
        if op[0] != "feed":
            out.append(list(op))
            continue
        data = bytearray(bytes.fromhex(op[2]))
        r = rng.random()
        if r < 0.3 and data:
            for _ in range(rng.randint(1, 4)):
                data[rng.randrange(len(data))] = rng.randrange(256)
        elif r < 0.4 and data:
            del data[rng.randrange(len(data)) :]
        elif r < 0.5:
            data[rng.randrange(len(data) + 1) : 0] = rng.randbytes(rng.randint(1, 16))
        elif r < 0.6 and len(data) > 1:
            cut = rng.randrange(1, len(data))
            out.append(["feed", op[1], bytes(data[:cut]).hex()])
            data = data[cut:]
        elif r < 0.65:
            out.append(["gap", op[1]])
        out.append(["feed", op[1], bytes(data).hex()])
    return out


def replay(proto: str, ops: list[list[Any]]) -> dict[str, Any]:
    """Run ``ops`` through a fresh Python parser, recording its answers."""
    spec = next(s for s in registry() if s.name == proto)
    parser = spec.parser()
    done: list[list[Any]] = []
    for op in ops:
        if op[0] == "feed":
            msgs = parser.feed(bytes.fromhex(op[2]), op[1])
            done.append(["feed", op[1], op[2], messages_json(msgs), errors_of(parser)])
            parser.errors.clear()
        elif op[0] == "gap":
            parser.gap(op[1])
            done.append(op)
        else:
            parser.start_midstream()
            done.append(op)
    return {"proto": proto, "ops": done}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("paths", nargs="+", type=Path)
    ap.add_argument("--out", type=Path, default=Path("/tmp/icssa-streams"))
    ap.add_argument("--mutate", type=int, default=0, help="mutated copies of each flow")
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    flows = record(args.paths)
    rng = random.Random(args.seed)
    for flow in list(flows):
        for _ in range(args.mutate):
            flows.append(replay(flow["proto"], mutate(flow["ops"], rng)))
    args.out.mkdir(parents=True, exist_ok=True)
    handles: dict[str, Any] = {}
    counts: dict[str, int] = {}
    for flow in flows:
        fh = handles.get(flow["proto"]) or handles.setdefault(flow["proto"], open(args.out / f"{flow['proto']}.jsonl", "wb"))  # noqa: SIM115
        fh.write(orjson.dumps(flow) + b"\n")
        counts[flow["proto"]] = counts.get(flow["proto"], 0) + 1
    for fh in handles.values():
        fh.close()
    for proto, n in sorted(counts.items()):
        print(f"{proto}: {n} flows -> {args.out / (proto + '.jsonl')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
