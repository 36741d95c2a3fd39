"""Write native/crates/correlation/src/unicode.rs: Python's Unicode tables the engine relies on.

Alert ids hash ``repr`` of the group key (``correlation.document.alert_id``), and ``repr`` of a
string escapes the characters that are not printable in the Unicode database of the Python
that runs the engine; the clock reads the fraction of a timestamp with ``str.isdecimal`` and
``int``, which take every Unicode decimal digit. This tool writes the characters above U+007F
that are not printable (sorted ranges) and the zero of every run of decimal digits, from the
running Python's ``unicodedata``: run it with the Python the reference outputs come from (and
``rustfmt`` on the PATH, which lays the tables out as ``cargo fmt`` does).

    python native/tools/correlation_unicode.py
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import unicodedata
from pathlib import Path

OUT = Path(__file__).resolve().parents[1] / "crates" / "correlation" / "src" / "unicode.rs"


def ranges() -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    start = None
    for c in range(0x80, 0x110000):
        if not chr(c).isprintable():
            if start is None:
                start = c
        elif start is not None:
            out.append((start, c - 1))
            start = None
    if start is not None:
        out.append((start, 0x10FFFF))
    return out


def decimal_zeros() -> list[int]:
    """The zero of each run of decimal digits; every run is ten code points, 0 to 9."""
    zeros = [c for c in range(0x110000) if chr(c).isdecimal() and unicodedata.decimal(chr(c)) == 0]
    for z in zeros:
        assert all(unicodedata.decimal(chr(z + i), None) == i for i in range(10)), hex(z)
    assert sum(chr(c).isdecimal() for c in range(0x110000)) == 10 * len(zeros)
    return zeros


def main() -> int:
    rs = ranges()
    zeros = decimal_zeros()
    lines = [
        f"//! Python {sys.version_info.major}.{sys.version_info.minor}'s Unicode tables "
        f"(Unicode {unicodedata.unidata_version}) the engine relies on.",
        "//! Written by native/tools/correlation_unicode.py; do not edit.",
        "",
        "/// Code points above U+007F that `str.isprintable` refuses (sorted inclusive ranges):",
        "/// `repr` escapes them.",
        f"pub(crate) static NOT_PRINTABLE: [(u32, u32); {len(rs)}] = [",
    ]
    lines += [f"    (0x{a:X}, 0x{b:X})," for a, b in rs]
    lines += [
        "];",
        "",
        "/// The digit zero of each run of ten decimal digits (`str.isdecimal`), sorted.",
        f"pub(crate) static DECIMAL_ZEROS: [u32; {len(zeros)}] = [",
    ]
    lines += [f"    0x{z:X}," for z in zeros]
    lines += ["];", ""]
    OUT.write_text("\n".join(lines))
    rustfmt = shutil.which("rustfmt")
    if rustfmt is not None:  # the layout `cargo fmt` keeps
        subprocess.run([rustfmt, "--edition", "2021", str(OUT)], check=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
