"""The upstream forwarder: pushes the outbox to the parent platform's TAXII 2.1 collection.

The outbox (a table in the platform database, filled by ``api.sharing`` under the TLP policy)
survives restarts; a row leaves it only when the parent acknowledged it in a TAXII status
(success, or a failure the parent will never accept, which is kept with its message).

Each ``flush`` leases up to ``batch`` due rows (so several API processes never send the same
row at once), posts them as one envelope with ``taxii2client`` and on a transport or server
error puts them back with exponential backoff (``retry_base_seconds * 2**attempts``, at most
``retry_max_seconds``, with jitter). A parent that is down for a while therefore gets
everything once it is back, in order, without duplicates (the parent keeps one row per object
version).
"""

from __future__ import annotations

import functools
import logging
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import requests
from taxii2client.common import TokenAuth
from taxii2client.exceptions import TAXIIServiceException
from taxii2client.v21 import Collection

from api.db import Database, loads, now_iso
from api.settings import Settings

log = logging.getLogger(__name__)
LEASE_SECONDS = 60.0
HTTP_TIMEOUT = 15.0


@dataclass
class FlushResult:
    sent: int = 0
    rejected: int = 0
    failed: int = 0
    error: str | None = None


class Forwarder:
    def __init__(
        self, db: Database, settings: Settings, clock: Callable[[], float] = time.time,
        rng: random.Random | None = None,
    ) -> None:
        self.db = db
        self.settings = settings
        self.clock = clock
        self.rng = rng or random.Random()
        self._collection: Collection | None = None
        self._lock = threading.Lock()

    def _target(self) -> Collection:
        if self._collection is None:
            s = self.settings
            assert s.upstream_url is not None
            auth = TokenAuth(s.upstream_api_key) if s.upstream_api_key else None
            collection = Collection(s.upstream_url, user=s.upstream_user, password=s.upstream_password, auth=auth)
            # taxii2client sets no timeout: a parent that hangs must not hang the forwarder
            session = collection._conn.session
            session.request = functools.partial(session.request, timeout=HTTP_TIMEOUT)  # type: ignore[method-assign]
            self._collection = collection
        return self._collection

    def backoff(self, attempts: int, jitter: float | None = None) -> float:
        """Seconds before retry number ``attempts`` (1 = the first failure), jittered by half."""
        s = self.settings
        delay = min(s.retry_max_seconds, s.retry_base_seconds * (2 ** min(attempts - 1, 30)))
        return delay * (0.5 + 0.5 * (self.rng.random() if jitter is None else jitter))

    def _claim(self, batch: int) -> list[Any]:
        now = self.clock()
        with self.db.tx() as conn:
            rows = conn.execute(
                "SELECT seq, doc, attempts FROM outbox WHERE sent IS NULL AND next_try <= ? AND lease <= ? "
                "ORDER BY seq LIMIT ?",
                (now, now, batch),
            ).fetchall()
            if rows:
                seqs = [r["seq"] for r in rows]
                conn.execute(
                    f"UPDATE outbox SET lease = ? WHERE seq IN ({','.join('?' * len(seqs))})",
                    [now + LEASE_SECONDS, *seqs],
                )
        return rows

    def flush(self, batch: int = 200, max_batches: int = 50) -> FlushResult:
        """Send what is due; stop at the first failure (the parent is likely down)."""
        result = FlushResult()
        if not self.settings.upstream_url:
            return result
        with self._lock:
            for _ in range(max_batches):
                rows = self._claim(batch)
                if not rows:
                    break
                if not self._send(rows, result):
                    break
        return result

    def _send(self, rows: list[Any], result: FlushResult) -> bool:
        objects = [loads(r["doc"]) for r in rows]
        try:
            status = self._target().add_objects({"objects": objects}, wait_for_completion=False)
            failures = {f.get("id"): f.get("message", "rejected") for f in (status.failures or [])}
        except (requests.RequestException, TAXIIServiceException, ValueError, KeyError) as exc:
            self._collection = None  # rebuild the connection next time
            error = f"{type(exc).__name__}: {exc}"[:500]
            now = self.clock()
            jitter = self.rng.random()  # one per batch: the batch is retried together
            with self.db.tx() as conn:
                for r in rows:
                    attempts = r["attempts"] + 1
                    conn.execute(
                        "UPDATE outbox SET attempts = ?, next_try = ?, lease = 0, last_error = ? WHERE seq = ?",
                        (attempts, now + self.backoff(attempts, jitter), error, r["seq"]),
                    )
            result.failed += len(rows)
            result.error = error
            log.warning("upstream %s: %s (%d objects kept for retry)", self.settings.upstream_url, error, len(rows))
            return False
        stamp = now_iso()
        with self.db.tx() as conn:
            for r, obj in zip(rows, objects, strict=True):
                message = failures.get(obj.get("id"))
                conn.execute(
                    "UPDATE outbox SET sent = ?, lease = 0, last_error = ? WHERE seq = ?",
                    (stamp, f"rejected by upstream: {message}" if message else None, r["seq"]),
                )
                if message:
                    result.rejected += 1
                else:
                    result.sent += 1
        return True


class Worker(threading.Thread):
    """Periodic sharing pass: store alerts -> STIX (``sync``), outbox -> parent (``flush``)."""

    def __init__(self, interval: float, passes: list[Callable[[], Any]]) -> None:
        super().__init__(name="icssa-sharing", daemon=True)
        self.interval = interval
        self.passes = passes
        self.stopping = threading.Event()

    def run(self) -> None:
        while not self.stopping.is_set():
            for step in self.passes:
                try:
                    step()
                except Exception:  # a failed pass is logged and retried on the next tick
                    log.exception("sharing pass %s failed", getattr(step, "__name__", step))
            self.stopping.wait(self.interval)

    def stop(self) -> None:
        self.stopping.set()
        self.join(timeout=30)
