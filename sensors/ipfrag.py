"""IPv4 and IPv6 fragment reassembly, bounded in datagrams, bytes and time.

A datagram is complete when the last fragment (more-fragments clear) has arrived and the
pieces cover 0..end without holes. Overlapping pieces keep the first bytes seen. When a bound
is hit the oldest datagram is dropped and counted.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Hashable

MAX_DATAGRAM = 65535
MAX_PENDING = 1024
TIMEOUT_NS = 30 * 1_000_000_000


class _Datagram:
    __slots__ = ("pieces", "total", "size", "first_ns")

    def __init__(self, ts_ns: int) -> None:
        self.pieces: dict[int, bytes] = {}
        self.total = -1  # known once the last fragment arrives
        self.size = 0
        self.first_ns = ts_ns


class Defragmenter:
    def __init__(self, max_pending: int = MAX_PENDING, timeout_ns: int = TIMEOUT_NS) -> None:
        self.max_pending = max_pending
        self.timeout_ns = timeout_ns
        self._pending: dict[Hashable, _Datagram] = {}
        self.stats: Counter[str] = Counter()

    def add(self, key: Hashable, offset: int, more: bool, data: bytes, ts_ns: int) -> bytes | None:
        """Add one fragment's payload; return the whole payload once complete."""
        self.stats["fragments"] += 1
        end = offset + len(data)
        if end > MAX_DATAGRAM:
            self.stats["fragment_too_large"] += 1
            self._pending.pop(key, None)
            return None
        dg = self._pending.get(key)
        if dg is None:
            if len(self._pending) >= self.max_pending:
                self.expire(ts_ns)
                if len(self._pending) >= self.max_pending:
                    oldest = next(iter(self._pending))
                    del self._pending[oldest]
                    self.stats["fragments_dropped_bound"] += 1
            dg = self._pending[key] = _Datagram(ts_ns)
        if offset not in dg.pieces:
            dg.pieces[offset] = data
            dg.size += len(data)
        if not more:
            dg.total = end
        if dg.total < 0 or dg.size < dg.total:
            return None
        out = self._assemble(dg)
        if out is not None:
            del self._pending[key]
            self.stats["datagrams_reassembled"] += 1
        return out

    @staticmethod
    def _assemble(dg: _Datagram) -> bytes | None:
        parts = []
        covered = 0
        for off in sorted(dg.pieces):
            piece = dg.pieces[off]
            if off > covered:
                return None  # hole
            if off + len(piece) > covered:
                parts.append(piece[covered - off :])
                covered = off + len(piece)
        if covered < dg.total:
            return None
        return b"".join(parts)[: dg.total]

    def expire(self, now_ns: int) -> None:
        old = [k for k, dg in self._pending.items() if now_ns - dg.first_ns > self.timeout_ns]
        for k in old:
            del self._pending[k]
        self.stats["fragments_timed_out"] += len(old)
