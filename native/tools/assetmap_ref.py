"""Reference outputs of the Python asset map for native parity runs (development tool).

Reads a Python ``events.jsonl`` (as ``icssa replay`` writes it), feeds every event to
``assetmap.AssetMap.observe`` (configured as ``Analytics().asset_map()`` does, or with
``--site`` / ``--advisories`` files and smaller caps), and writes into ``--out``:

- ``assets.json`` and ``graph.json``, as ``icssa.pipeline.replay`` writes them, and
  ``findings.json`` (``AssetMap.findings()``, written the same way);
- ``zones.jsonl``: one line per checked event, ``[index, ip, answer]`` for its source and
  destination, ``zone_of`` asked right after the event was observed (every ``--zone-every``
  events);
- ``zones_end.json``: ``zone_of`` of every address of the events at the end, asked before
  and after the assets were read out (a snapshot then answers); both must agree;
- ``stats.json``: ``AssetMap.stats``.

Run from the repository root: ``python native/tools/assetmap_ref.py EVENTS --out DIR``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from assetmap import AdvisoryStore, AssetMap, Site  # noqa: E402
from icssa.sinks import write_json  # noqa: E402


def _answer(amap: AssetMap, ip: str) -> list[object] | None:
    z = amap.zone_of(ip)
    return None if z is None else [z["zone"], z["level"]]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("events", type=Path)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--site", type=Path)
    ap.add_argument("--advisories", type=Path, nargs="*")
    ap.add_argument("--max-assets", type=int, default=200_000)
    ap.add_argument("--max-edges", type=int)
    ap.add_argument("--zone-every", type=int, default=1, help="0: no zones.jsonl")
    args = ap.parse_args()
    site = Site.load(args.site) if args.site else None
    advisories = AdvisoryStore.load(args.advisories) if args.advisories else AdvisoryStore.bundled()
    amap = AssetMap(site=site, advisories=advisories, max_assets=args.max_assets, max_edges=args.max_edges)
    args.out.mkdir(parents=True, exist_ok=True)
    ips: dict[str, None] = {}
    with args.events.open("rb") as f, (args.out / "zones.jsonl").open("wb") as zones:
        for i, line in enumerate(f):
            event = orjson.loads(line)
            amap.observe(event)
            src, dst = event["source"]["ip"], event["destination"]["ip"]
            ips[src] = ips[dst] = None
            if args.zone_every and i % args.zone_every == 0:
                for ip in (src, dst):
                    zones.write(orjson.dumps([i, ip, _answer(amap, ip)]) + b"\n")
    before = {ip: _answer(amap, ip) for ip in ips}
    assets = amap.assets()
    after = {ip: _answer(amap, ip) for ip in ips}
    if before != after:
        bad = [ip for ip in ips if before[ip] != after[ip]]
        sys.stderr.write(f"zone_of differs before/after the snapshot for {len(bad)} addresses: {bad[:5]}\n")
    write_json(args.out / "assets.json", {"assets": assets})
    write_json(args.out / "graph.json", amap.graph_node_link())
    write_json(args.out / "findings.json", amap.findings())
    (args.out / "zones_end.json").write_bytes(orjson.dumps({"before": before, "after": after}))
    (args.out / "stats.json").write_bytes(orjson.dumps(amap.stats))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
