"""A bounded on-disk spool: what the sensor keeps while the broker is unreachable.

Records go to append-only segment files (``<sequence>.seg``, rolled at ``segment_bytes``),
one ``fsync`` per appended batch, and come out oldest first. A ``cursor`` file records how far
the oldest segment has been drained, so a restart neither loses nor (beyond the last chunk in
flight) repeats records; consumers are idempotent by event id, so a repeat is harmless.

Record layout (little-endian):

| field | width | meaning |
|---|---|---|
| length | 4 | bytes after the crc |
| crc | 4 | CRC-32 of those bytes |
| topic length | 2 | then the topic (UTF-8) |
| key length | 4 | -1: no key; then the key |
| partition key length | 4 | -1: none; then the bytes the partition is chosen by |
| value | rest | the message |

A torn record at the end of the newest segment (a crash mid-write) is cut off on open. When
the spool holds ``max_bytes``, further records are refused and counted in ``dropped``.
"""

from __future__ import annotations

import os
import struct
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

_HEAD = struct.Struct("<II")
_TOPIC = struct.Struct("<H")
_LEN = struct.Struct("<i")
_CURSOR = struct.Struct("<QQ")
MAX_RECORD = 64 << 20


@dataclass(frozen=True, slots=True)
class SpoolRecord:
    topic: str
    key: bytes | None
    partition_key: bytes | None
    value: bytes


def encode(r: SpoolRecord) -> bytes:
    topic = r.topic.encode()
    body = b"".join((
        _TOPIC.pack(len(topic)), topic,
        _LEN.pack(-1 if r.key is None else len(r.key)), r.key or b"",
        _LEN.pack(-1 if r.partition_key is None else len(r.partition_key)), r.partition_key or b"",
        r.value,
    ))
    return _HEAD.pack(len(body), zlib.crc32(body)) + body


def _decode_body(body: bytes) -> SpoolRecord:
    (tlen,) = _TOPIC.unpack_from(body, 0)
    pos = 2 + tlen
    topic = body[2:pos].decode()
    fields: list[bytes | None] = []
    for _ in range(2):
        (n,) = _LEN.unpack_from(body, pos)
        pos += 4
        if n < 0:
            fields.append(None)
        else:
            fields.append(body[pos : pos + n])
            pos += n
    return SpoolRecord(topic, fields[0], fields[1], body[pos:])


def read_records(data: bytes, pos: int = 0, limit: int | None = None) -> tuple[list[tuple[int, SpoolRecord]], int]:
    """Whole, intact records from pos: ([(end offset, record)], offset where reading stopped)."""
    out: list[tuple[int, SpoolRecord]] = []
    end = len(data)
    while pos + 8 <= end and (limit is None or len(out) < limit):
        length, crc = _HEAD.unpack_from(data, pos)
        if length > MAX_RECORD or pos + 8 + length > end:
            break
        body = data[pos + 8 : pos + 8 + length]
        if zlib.crc32(body) != crc:
            break
        pos += 8 + length
        out.append((pos, _decode_body(body)))
    return out, pos


class Spool:
    def __init__(self, directory: Path, *, max_bytes: int = 1 << 30, segment_bytes: int = 16 << 20) -> None:
        self.dir = Path(directory)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.max_bytes = max_bytes
        self.segment_bytes = segment_bytes
        self.dropped = 0
        self.appended = 0
        self.drained = 0
        self._segments = sorted(int(p.stem) for p in self.dir.glob("*.seg") if p.stem.isdigit())
        self._cursor_seq, self._cursor_pos = self._read_cursor()
        self.bytes = 0
        self.depth = 0
        for i, seq in enumerate(self._segments):
            data = self._path(seq).read_bytes()
            start = self._cursor_pos if seq == self._cursor_seq else 0
            records, stop = read_records(data, start)
            if stop < len(data) and i == len(self._segments) - 1:
                with open(self._path(seq), "r+b") as fh:  # torn tail of the newest segment
                    fh.truncate(stop)
            self.bytes += stop - start
            self.depth += len(records)
        self._fh: BinaryIO | None = None

    # -- files -----------------------------------------------------------------------------
    def _path(self, seq: int) -> Path:
        return self.dir / f"{seq:016d}.seg"

    def _read_cursor(self) -> tuple[int, int]:
        try:
            data = (self.dir / "cursor").read_bytes()
            seq, pos = _CURSOR.unpack(data)
        except (OSError, struct.error):
            return (self._segments[0] if self._segments else 0), 0
        if self._segments and seq < self._segments[0]:
            return self._segments[0], 0
        return seq, pos

    def _write_cursor(self, seq: int, pos: int) -> None:
        tmp = self.dir / "cursor.tmp"
        with open(tmp, "wb") as fh:
            fh.write(_CURSOR.pack(seq, pos))
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, self.dir / "cursor")
        self._cursor_seq, self._cursor_pos = seq, pos

    def _writer(self, need: int) -> BinaryIO:
        if self._fh is not None and self._fh.tell() + need > self.segment_bytes and self._fh.tell() > 0:
            self._fh.close()
            self._fh = None
        if self._fh is None:
            if self._segments and self._path(self._segments[-1]).stat().st_size + need <= self.segment_bytes:
                seq = self._segments[-1]
            else:
                seq = (self._segments[-1] + 1) if self._segments else 1
                self._segments.append(seq)
                if len(self._segments) == 1:
                    self._write_cursor(seq, 0)
            self._fh = open(self._path(seq), "ab")  # noqa: SIM115 - kept open between batches
        return self._fh

    # -- API -------------------------------------------------------------------------------
    def __len__(self) -> int:
        return self.depth

    def append(self, records: Sequence[SpoolRecord]) -> int:
        """Write a batch durably (one fsync); returns how many fitted (the rest are dropped)."""
        blobs = []
        size = 0
        for r in records:
            blob = encode(r)
            if self.bytes + size + len(blob) > self.max_bytes:
                break
            blobs.append(blob)
            size += len(blob)
        self.dropped += len(records) - len(blobs)
        if not blobs:
            return 0
        fh = self._writer(size)
        fh.write(b"".join(blobs))
        fh.flush()
        os.fsync(fh.fileno())
        self.bytes += size
        self.depth += len(blobs)
        self.appended += len(blobs)
        return len(blobs)

    def drain(self, send: Callable[[list[SpoolRecord]], None], max_records: int = 10_000) -> int:
        """Hand the oldest records (at most max_records, from one segment) to ``send``; when it
        returns they are gone, when it raises they stay. Returns how many went."""
        while self._segments:
            seq = self._segments[0]
            pos = self._cursor_pos if seq == self._cursor_seq else 0
            if self._fh is not None and len(self._segments) == 1:
                self._fh.flush()
            data = self._path(seq).read_bytes()
            records, stop = read_records(data, pos, max_records)
            if not records:
                if len(self._segments) == 1:
                    return 0  # nothing waiting; the open segment stays for appends
                self._drop_segment(seq)
                continue
            send([r for _, r in records])
            self._write_cursor(seq, stop)
            self.bytes -= stop - pos
            self.depth -= len(records)
            self.drained += len(records)
            if stop >= len(data) and len(self._segments) > 1:
                self._drop_segment(seq)
            elif stop >= len(data) and self.depth == 0:
                self._reset()
            return len(records)
        return 0

    def _drop_segment(self, seq: int) -> None:
        self._path(seq).unlink(missing_ok=True)
        self._segments.pop(0)
        self._write_cursor(self._segments[0] if self._segments else 0, 0)

    def _reset(self) -> None:
        """Everything drained: remove the last segment so the spool folder is empty again."""
        if self._fh is not None:
            self._fh.close()
            self._fh = None
        for seq in self._segments:
            self._path(seq).unlink(missing_ok=True)
        self._segments = []
        self._write_cursor(0, 0)
        self.bytes = 0

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None
