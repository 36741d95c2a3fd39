"""The least recently touched of many objects, without reordering anything on a touch.

Objects carry a ``seq`` stamp that only grows (set from an event counter on every touch).
``Lru.oldest`` finds the object with the smallest stamp through a heap of (stamp when pushed,
object) entries: an entry whose object has been touched since is pushed again with the new
stamp, and the first entry that is still current is the exact least recently touched object
(a pushed stamp is never larger than the object's stamp). A touch costs one attribute store;
each later push pays for at least one touch. The heap is built on the first question (a store
that never fills never has one); entries of objects that left otherwise (``alive`` False) are
dropped when met, and the heap is rebuilt when they make up more than half of it.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterable
from itertools import count
from typing import Any


class Lru:
    __slots__ = ("_heap", "_alive", "_tie")

    def __init__(self, alive: Callable[[Any], bool]) -> None:
        self._heap: list[tuple[int, int, Any]] | None = None
        self._alive = alive
        self._tie = count()  # entries never compare their objects

    def added(self, item: Any, live: Callable[[], Iterable[Any]], size: int) -> None:
        """`item` joined the `size` objects that `live()` lists."""
        heap = self._heap
        if heap is None:
            return
        if len(heap) > 2 * size + 64:
            self._build(live())
        else:
            heapq.heappush(heap, (item.seq, next(self._tie), item))

    def oldest(self, live: Callable[[], Iterable[Any]]) -> Any:
        """Remove and return the object with the smallest stamp among those `live()` lists
        (not empty); the caller takes it out of its store."""
        heap = self._heap
        if heap is None:
            heap = self._build(live())
        alive, tie = self._alive, self._tie
        while True:
            seq, _, item = heap[0]
            if not alive(item):
                heapq.heappop(heap)
                continue
            current = item.seq
            if current != seq:
                heapq.heapreplace(heap, (current, next(tie), item))
            else:
                heapq.heappop(heap)
                return item

    def _build(self, items: Iterable[Any]) -> list[tuple[int, int, Any]]:
        tie = self._tie
        heap = self._heap = [(item.seq, next(tie), item) for item in items]
        heapq.heapify(heap)
        return heap
