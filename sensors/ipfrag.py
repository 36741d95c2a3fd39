"""IPv4 and IPv6 fragment reassembly, bounded in datagrams, bytes, pieces and time.

A datagram is complete when the last fragment (more-fragments clear) has arrived and the
pieces cover 0..end without holes. Overlapping pieces keep the first bytes seen (a later
fragment only fills what is still missing). When a bound is hit the oldest datagram is
dropped and counted; a datagram with too many pieces is dropped as hostile.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Hashable

MAX_DATAGRAM = 65535
MAX_PENDING = 1024
#: bytes held in pieces over all pending datagrams
MAX_PENDING_BYTES = 8 * 1024 * 1024
#: pieces per datagram (a 64 KiB datagram in 1280-byte IPv6 fragments needs 52)
MAX_PIECES = 256
TIMEOUT_NS = 30 * 1_000_000_000


class _Datagram:
    __slots__ = ("pieces", "total", "size", "first_ns")

    def __init__(self, ts_ns: int) -> None:
        self.pieces: list[tuple[int, bytes]] = []  # (offset, data) in arrival order
        self.total = -1  # known once the last fragment arrives
        self.size = 0  # bytes held (overlaps counted twice)
        self.first_ns = ts_ns


class Defragmenter:
    def __init__(
        self,
        max_pending: int = MAX_PENDING,
        timeout_ns: int = TIMEOUT_NS,
        max_bytes: int = MAX_PENDING_BYTES,
        stats: Counter[str] | None = None,
    ) -> None:
        self.max_pending = max_pending
        self.timeout_ns = timeout_ns
        self.max_bytes = max_bytes
        self._pending: dict[Hashable, _Datagram] = {}
        self._bytes = 0
        self.stats: Counter[str] = stats if stats is not None else Counter()

    def add(self, key: Hashable, offset: int, more: bool, data: bytes, ts_ns: int) -> bytes | None:
        """Add one fragment's payload; return the whole payload once complete."""
        stats = self.stats
        stats["fragments"] += 1
        end = offset + len(data)
        if end > MAX_DATAGRAM:
            stats["fragment_too_large"] += 1
            self._drop(key)
            return None
        if not data:
            stats["fragment_empty"] += 1
            return None
        dg = self._pending.get(key)
        if dg is None:
            if len(self._pending) >= self.max_pending:
                self.expire(ts_ns)
                if len(self._pending) >= self.max_pending:
                    self._drop(next(iter(self._pending)))
                    stats["fragments_dropped_bound"] += 1
            dg = self._pending[key] = _Datagram(ts_ns)
        if len(dg.pieces) >= MAX_PIECES:
            stats["fragments_too_many"] += 1
            self._drop(key)
            return None
        dg.pieces.append((offset, data))
        dg.size += len(data)
        self._bytes += len(data)
        if not more and dg.total < 0:
            dg.total = end
        while self._bytes > self.max_bytes and self._pending:
            oldest = next(iter(self._pending))
            self._drop(oldest)
            stats["fragments_dropped_bound"] += 1
            if oldest == key:
                return None
        if dg.total < 0 or dg.size < dg.total:
            return None
        out = self._assemble(dg)
        if out is not None:
            self._drop(key)
            stats["datagrams_reassembled"] += 1
        return out

    def _drop(self, key: Hashable) -> None:
        dg = self._pending.pop(key, None)
        if dg is not None:
            self._bytes -= dg.size

    @staticmethod
    def _assemble(dg: _Datagram) -> bytes | None:
        total = dg.total
        covered = 0
        for off, piece in sorted(dg.pieces, key=lambda p: p[0]):
            if off > covered:
                return None  # hole
            covered = max(covered, off + len(piece))
            if covered >= total:
                break
        if covered < total:
            return None
        out = bytearray(total)
        # latest first, so that the bytes seen first are written last and win
        for off, piece in reversed(dg.pieces):
            if off < total:
                out[off : off + len(piece)] = piece[: total - off]
        return bytes(out)

    def expire(self, now_ns: int) -> None:
        old = [k for k, dg in self._pending.items() if now_ns - dg.first_ns > self.timeout_ns]
        for k in old:
            self._drop(k)
        self.stats["fragments_timed_out"] += len(old)
