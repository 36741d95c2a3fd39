"""Write the native correlation engine's rules document (``correlation.native.document``) of a
rules folder; the rule files the Python loader refuses are listed on stderr.

    python native/tools/correlation_rules.py [RULES_DIR] [--out FILE]
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

import orjson

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from correlation.loader import DEFAULT_RULES, load_directory  # noqa: E402
from correlation.native import document  # noqa: E402


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("rules", nargs="?", type=Path, default=DEFAULT_RULES, help="rules folder (default: rules/)")
    ap.add_argument("--out", type=Path, help="write here (default: stdout)")
    args = ap.parse_args(argv)
    rules, errors = load_directory(args.rules)
    data = orjson.dumps(document(rules, errors))
    if args.out is None:
        sys.stdout.buffer.write(data + b"\n")
    else:
        args.out.write_bytes(data + b"\n")
    for e in errors:
        sys.stderr.write(f"{e}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
