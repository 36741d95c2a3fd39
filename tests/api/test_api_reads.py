"""The hot read path: where a store read runs, reading document fields, the serving process's
garbage collector."""

from __future__ import annotations

import asyncio
import gc
import threading
from collections import OrderedDict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from apitest import test_settings
from fastapi.testclient import TestClient

from api.deps import store_read
from api.main import GC_YOUNG_THRESHOLD, create_app
from icssa.events import get
from icssa.store import open_store

# -- where a read runs ---------------------------------------------------------------------


class _Local:
    inline_reads = True


class _Remote:
    pass


def _threads(store: Any) -> tuple[int, int]:
    async def main() -> tuple[int, int]:
        return threading.get_ident(), await store_read(store, threading.get_ident)

    return asyncio.run(main())


def test_a_local_store_is_read_on_the_event_loop() -> None:
    loop, read = _threads(_Local())
    assert read == loop


def test_a_remote_store_is_read_in_another_thread() -> None:
    loop, read = _threads(_Remote())
    assert read != loop


def test_sqlite_says_its_reads_are_local(tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path / 's.db'}")
    try:
        assert getattr(store, "inline_reads", False) is True
    finally:
        store.close()


def test_store_read_passes_arguments_and_errors_through() -> None:
    def fail(x: int, *, y: int) -> int:
        raise ValueError(f"bad {x} {y}")

    for store in (_Local(), _Remote()):
        assert asyncio.run(store_read(store, lambda x, *, y: x + y, 2, y=3)) == 5  # type: ignore[arg-type]
        with pytest.raises(ValueError, match="bad 1 2"):
            asyncio.run(store_read(store, fail, 1, y=2))  # type: ignore[arg-type]


# -- reading fields (icssa.events.get, as the routes read documents) -----------------------
@pytest.mark.parametrize(
    ("doc", "path", "expected"),
    [
        ({}, "event.id", None),
        ({"event": None}, "event.id", None),
        ({"event": 3}, "event.id", None),
        ({"event": {}}, "event.id", None),
        ({"event": {"id": "x"}}, "event.id", "x"),
        ({"event.id": "flat", "event": {"id": "nested"}}, "event.id", "flat"),  # a dotted key comes first
        ({"event": OrderedDict(id="m")}, "event.id", "m"),  # any mapping, not only dict
        ({"threat": {"technique": {"id": ["T0855"]}}}, "threat.technique.id", ["T0855"]),
        ({"threat": {"technique.id": ["T0831"]}}, "threat.technique.id", ["T0831"]),
        ({"marking": {"tlp": "green"}}, "marking.tlp", "green"),
        ({"marking": {"other": 1}}, "marking.tlp", None),
    ],
)
def test_get_shapes(doc: dict[str, Any], path: str, expected: Any) -> None:
    assert get(doc, path) == expected


# -- the serving process's garbage collector ------------------------------------------------
@pytest.fixture
def gc_restored() -> Iterator[None]:
    threshold = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*threshold)


@pytest.mark.usefixtures("gc_restored")
def test_serving_freezes_the_start_up_heap_and_spaces_young_collections(tmp_path: Path) -> None:
    gc.unfreeze()
    app = create_app(test_settings(tmp_path), serving=True)
    with TestClient(app):  # runs the lifespan: start-up
        assert gc.get_freeze_count() > 10_000  # modules and app objects, out of the collector's sight
        assert gc.get_threshold()[0] == GC_YOUNG_THRESHOLD
    app.state.store.close()


@pytest.mark.usefixtures("gc_restored")
def test_an_app_that_is_not_the_whole_process_leaves_the_collector_alone(tmp_path: Path) -> None:
    gc.unfreeze()
    before = gc.get_threshold()
    app = create_app(test_settings(tmp_path))
    with TestClient(app):
        assert gc.get_freeze_count() == 0
        assert gc.get_threshold() == before
    app.state.store.close()
