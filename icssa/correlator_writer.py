"""The correlator's two writer threads ("lanes"), each writing what it is handed, in order.

- The events lane stores events and the alerts they raised (so that they become searchable
  soon) and publishes the alerts.
- The checkpoint lane stores and publishes the assets read out at a checkpoint, then waits
  until the events lane has written every batch handed over before that checkpoint, and only
  then marks the checkpoint's offsets as written (``take_written``): the consumer loop
  commits them on its own thread.

Assets, a large write every few seconds, never hold events up. A failed write is retried
(every write is idempotent: deterministic ids) with exponential backoff until it succeeds
or ``abandon`` is called at exit. What waits is bounded by the queues: two batches, one
checkpoint.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from icssa.bus import Bus, BusError, Producer
from icssa.spool import SpoolRecord
from icssa.store import Store, StoreError

log = logging.getLogger("icssa.correlator")

TopicPartition = tuple[str, int]


@dataclass
class Batch:
    """Events and the alerts they raised, for the events lane; ``seq`` counts batches."""

    events: list[bytes]
    alerts: list[dict[str, Any]]
    records: list[SpoolRecord]
    seq: int
    made: float = field(default_factory=time.monotonic)


@dataclass
class Checkpoint:
    """Assets read out at a checkpoint, for the checkpoint lane. Once they are stored and
    published, and the events lane has written batch ``after`` (every batch handed over
    before the checkpoint), ``offsets`` may be committed."""

    assets: list[dict[str, Any]]
    gone: list[str]
    records: list[SpoolRecord]
    offsets: dict[TopicPartition, int]
    after: int
    made: float = field(default_factory=time.monotonic)


class Writer:
    """The two lanes of one correlator; ``stats`` is the correlator's counter."""

    def __init__(self, bus: Bus, store: Store, stats: Counter[str], *, retry_max: float = 15.0) -> None:
        self.bus = bus
        self.store = store
        self.stats = stats
        self.retry_max = retry_max
        #: one producer a lane (alerts from the events lane, assets from the checkpoint lane)
        self.producers: dict[str, Producer | None] = {"events": None, "checkpoint": None}
        #: what is handed over and not yet taken by a lane (each writes one more meanwhile)
        self._batches: queue.Queue[Batch] = queue.Queue(maxsize=2)
        self._checkpoints: queue.Queue[Checkpoint] = queue.Queue(maxsize=1)
        self._events_done = 0
        self._done = threading.Condition()
        self._written: dict[TopicPartition, int] = {}
        self._lock = threading.Lock()
        self._abandon = threading.Event()
        for name, q, write in (("events", self._batches, self._write_batch),
                               ("checkpoint", self._checkpoints, self._write_checkpoint)):
            threading.Thread(target=self._lane, args=(name, q, write), name=f"correlate-{name}", daemon=True).start()

    def connect(self) -> None:
        """A producer for each lane (BusError when the bus is away)."""
        for lane in self.producers:
            self.producers[lane] = self.bus.producer()

    # -- handing over (from the consumer loop) ---------------------------------------------
    def behind(self) -> int:
        """Batches waiting for the events lane (not counting the one it writes)."""
        return self._batches.qsize()

    def put_batch(self, batch: Batch) -> None:
        """Blocks while the events lane is two batches behind."""
        self._batches.put(batch)

    def put_checkpoint(self, ck: Checkpoint) -> None:
        """Blocks while the checkpoint lane has one waiting."""
        self._checkpoints.put(ck)

    def idle(self) -> bool:
        return not self._batches.unfinished_tasks and not self._checkpoints.unfinished_tasks

    def wait(self, timeout: float | None = None) -> bool:
        """Until both lanes have written everything handed over (False on timeout)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while not self.idle():
            if deadline is not None and time.monotonic() > deadline:
                return False
            time.sleep(0.02)
        return True

    # -- written offsets -------------------------------------------------------------------
    def has_written(self) -> bool:
        return bool(self._written)

    def take_written(self, mine: set[TopicPartition]) -> dict[TopicPartition, int]:
        """Offsets written for the partitions this member holds; the others are forgotten
        (their new owner reads on from the committed offset)."""
        with self._lock:
            for tp in [tp for tp in self._written if tp not in mine]:
                del self._written[tp]
            return dict(self._written)

    def committed(self, offsets: dict[TopicPartition, int]) -> None:
        """These offsets are committed: forget them unless a later checkpoint moved them on."""
        with self._lock:
            for tp, o in offsets.items():
                if self._written.get(tp) == o:
                    del self._written[tp]

    def forget(self, partitions: set[TopicPartition]) -> None:
        with self._lock:
            for tp in partitions:
                self._written.pop(tp, None)

    def abandon(self) -> None:
        """Stop retrying (at exit): what is not written is read again on restart."""
        self._abandon.set()

    def close(self) -> None:
        for lane, p in self.producers.items():
            if p is not None:
                p.close()
            self.producers[lane] = None

    # -- the lanes -------------------------------------------------------------------------
    def _write_batch(self, b: Batch) -> None:
        if b.events:
            self.store.put_raw_events(b.events)
        if b.alerts:
            self.store.put_alerts(b.alerts)
        if b.records:
            self._producer("events").send_batch(b.records)
        with self._done:
            self._events_done = b.seq
            self._done.notify_all()
        self.stats["stores"] += 1
        self.stats["events_stored"] += len(b.events)
        self.stats["alerts_stored"] += len(b.alerts)
        log.debug("stored %d events, %d alerts, %.3f s after hand-over", len(b.events), len(b.alerts),
                  time.monotonic() - b.made)

    def _write_checkpoint(self, ck: Checkpoint) -> None:
        if ck.assets:
            self.store.put_assets(ck.assets)
        if ck.gone:
            self.store.delete_assets(ck.gone)
        if ck.records:
            self._producer("checkpoint").send_batch(ck.records)
        with self._done:
            while self._events_done < ck.after:
                if self._abandon.is_set():
                    return
                self._done.wait(0.5)
        with self._lock:
            self._written.update(ck.offsets)
        self.stats["checkpoints"] += 1
        self.stats["assets_stored"] += len(ck.assets)
        log.debug("checkpoint: %d assets stored, offsets writable %.3f s after the read-out", len(ck.assets),
                  time.monotonic() - ck.made)

    def _producer(self, lane: str) -> Producer:
        p = self.producers[lane]
        if p is None:  # lost and not back yet: the lane retries
            raise BusError("no producer")
        return p

    def _lane(self, name: str, q: queue.Queue[Any], write: Callable[[Any], None]) -> None:
        """Write what comes, in order; a failed write is retried (it is idempotent) until it
        succeeds or the correlator gives up at exit."""
        while True:
            item = q.get()
            delay = 0.5
            try:
                while True:
                    try:
                        write(item)
                        break
                    except (StoreError, BusError) as exc:
                        with self._lock:  # both lanes count here
                            self.stats["checkpoint_retries"] += 1
                        if isinstance(exc, BusError):
                            self._new_producer(name)
                        if self._abandon.is_set():
                            return
                        log.warning("%s failed (%s); retry in %.1f s",
                                    "checkpoint" if name == "checkpoint" else "storing events", exc, delay)
                        self._abandon.wait(delay)
                        delay = min(delay * 2, self.retry_max)
            finally:
                q.task_done()

    def _new_producer(self, lane: str) -> None:
        try:
            old = self.producers[lane]
            if old is not None:
                old.close()
            self.producers[lane] = None
            self.producers[lane] = self.bus.producer()
        except BusError as exc:
            log.debug("producer not back yet: %s", exc)
