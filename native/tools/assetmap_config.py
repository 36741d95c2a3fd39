"""The native asset map's configuration document (``icssa_assetmap::AssetMap::from_config``).

What ``Analytics().asset_map()`` is built from (the site file, the advisories, the fingerprint,
vendor and OUI tables, the caps) is read and validated in Python; ``config_of(amap)`` turns an
``AssetMap`` into one JSON-ready dict the native crate reads at start-up::

    from assetmap import AdvisoryStore, AssetMap, Site
    doc = config_of(AssetMap(site=Site.load(path), advisories=AdvisoryStore.bundled()))

Run from the repository root to write it: ``python native/tools/assetmap_config.py
[--site FILE] [--advisories PATH ...] [--max-assets N] [--max-edges N] > config.json``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from assetmap import AdvisoryStore, AssetMap, Site  # noqa: E402
from assetmap.native import config_of  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--site", type=Path)
    ap.add_argument("--advisories", type=Path, nargs="*")
    ap.add_argument("--max-assets", type=int, default=200_000)
    ap.add_argument("--max-edges", type=int)
    args = ap.parse_args()
    amap = AssetMap(
        site=Site.load(args.site) if args.site else None,
        advisories=AdvisoryStore.load(args.advisories) if args.advisories else AdvisoryStore.bundled(),
        max_assets=args.max_assets,
        max_edges=args.max_edges,
    )
    sys.stdout.buffer.write(orjson.dumps(config_of(amap), option=orjson.OPT_INDENT_2) + b"\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
