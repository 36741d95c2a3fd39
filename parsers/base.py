"""The contract every protocol parser follows, and the stream driver they share.

A protocol module keeps four concerns apart (see STYLE.md):

- framing: ``StreamParser.frame(buf, pos, end)`` reads only the header at ``buf[pos:end]`` and
  answers one of three things: ``NEED_MORE`` (header incomplete), ``NOT_PROTOCOL`` (these bytes
  cannot start a message), or the total length of the message starting at ``pos`` (which may be
  more than is buffered yet: the driver waits for the rest);
- decoding: pure functions, bytes -> typed values, raising only ``ParseError``;
- state: ``StreamParser.decode`` owns the per-flow state (pairing requests with responses,
  reassembling fragments, negotiated limits) and appends finished ``Message`` values to ``out``;
- output: the sensor turns each ``Message`` into an event; parsers never build events.

``StreamParser.feed`` is the shared, incremental driver: per direction it buffers at most
``max_message`` bytes, frames, decodes, counts errors in ``self.errors`` and, after a gap or
garbage, resynchronises at the next plausible message boundary instead of giving up on the flow.
No I/O, no globals; every loop consumes bytes or stops.
"""

from __future__ import annotations

from typing import Any, ClassVar, NamedTuple

NEED_MORE = 0
NOT_PROTOCOL = -1


class ParseError(Exception):
    """A message that cannot be decoded. ``reason`` is a short snake_case key used for counting."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail


class Message(NamedTuple):
    """One application message, ready to become an event.

    dataset: event.dataset (``modbus``, ``s7comm``, ``s7comm_plus``, ``cotp``, ``opcua``)
    action: event.action, snake_case (``read_holding_registers``, ``plc_stop``, ...)
    fields: the protocol's own fields, nested under the dataset name in the event
    to_server: True when sent by the flow's client (the side that opened the connection)
    """

    dataset: str
    action: str
    fields: dict[str, Any]
    to_server: bool


class StreamParser:
    """Per-flow parser state plus the shared incremental driver.

    Subclasses set ``dataset``, ``max_message`` and implement ``frame`` and ``decode``; they may
    override ``plausible`` to make resynchronisation stricter than "the header frames".
    """

    dataset: ClassVar[str] = ""
    #: the largest message accepted; a longer length field is hostile and triggers a resync
    max_message: ClassVar[int] = 65536
    #: errors kept for the sensor to drain (it counts and logs them); bounded
    max_errors: ClassVar[int] = 1000

    __slots__ = ("_buf", "_resync", "errors", "skipped")

    def __init__(self) -> None:
        # per direction (index 1 = to server): pending bytes of an incomplete message
        self._buf: list[bytes] = [b"", b""]
        # per direction: True while looking for the next message boundary
        self._resync: list[bool] = [False, False]
        self.errors: list[ParseError] = []
        #: bytes skipped while resynchronising, per direction (index 1 = to server)
        self.skipped: list[int] = [0, 0]

    # -- to implement -------------------------------------------------------------------------
    def frame(self, buf: bytes, pos: int, end: int) -> int:
        raise NotImplementedError

    def decode(self, buf: bytes, pos: int, end: int, to_server: bool, out: list[Message]) -> None:
        raise NotImplementedError

    def plausible(self, buf: bytes, pos: int, end: int, length: int) -> bool:
        """During resync: does a message of ``length`` bytes really start at ``pos``?"""
        return True

    # -- the driver ---------------------------------------------------------------------------
    def error(self, reason: str, detail: str = "") -> None:
        self._keep(ParseError(reason, detail))

    def _keep(self, exc: ParseError) -> None:
        if len(self.errors) < self.max_errors:
            self.errors.append(exc)

    def gap(self, to_server: bool) -> None:
        """Bytes are missing in this direction: drop the partial message, resync on new data."""
        d = 1 if to_server else 0
        if self._buf[d]:
            self._buf[d] = b""
        self._resync[d] = True

    def start_midstream(self) -> None:
        """The flow was picked up without its beginning: resync both directions."""
        self._resync[0] = self._resync[1] = True

    def feed(self, data: bytes, to_server: bool) -> list[Message]:
        """Take the next in-order bytes of one direction; return the messages they complete."""
        d = 1 if to_server else 0
        out: list[Message] = []
        pending = self._buf[d]
        if not pending and not self._resync[d]:
            # the common case, one whole message and nothing held: the loop below in fewer steps
            n = self.frame(data, 0, len(data))
            if n == len(data) and 0 < n <= self.max_message:
                try:
                    self.decode(data, 0, n, to_server, out)
                except ParseError as exc:
                    self._keep(exc)
                return out
        buf = pending + data if pending else data
        end = len(buf)
        pos = 0
        frame = self.frame
        limit = self.max_message
        while pos < end:
            if self._resync[d]:
                found, complete = self._find_boundary(buf, pos, end)
                self.skipped[d] += found - pos
                pos = found
                if not complete:
                    break  # keep the bytes from ``found`` on: a header may straddle two chunks
                self._resync[d] = False
            n = frame(buf, pos, end)
            if n == NEED_MORE:
                break
            if n < 0 or n > limit:
                self.error("bad_length" if n > limit else "not_protocol", f"at offset {pos}")
                self._resync[d] = True
                pos += 1
                continue
            if pos + n > end:
                break
            try:
                self.decode(buf, pos, pos + n, to_server, out)
            except ParseError as exc:
                self._keep(exc)
            pos += n
        self._buf[d] = buf[pos:] if pos < end else b""
        return out

    def _find_boundary(self, buf: bytes, pos: int, end: int) -> tuple[int, bool]:
        """(offset, True) of the next plausible message, or (offset to keep from, False)."""
        frame = self.frame
        limit = self.max_message
        while pos < end:
            n = frame(buf, pos, end)
            if n == NEED_MORE:
                return pos, False
            if 0 < n <= limit and self.plausible(buf, pos, end, n):
                return pos, True
            pos += 1
        return end, False
