"""Pipeline wiring for offline replay: captures -> sensor -> events -> asset map, correlation.

``replay`` writes the four outputs of DESIGN.md's CLI contract; ``replay_events`` yields the
events of captures for tests and tools.
"""

from __future__ import annotations

import gc
import hashlib
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from icssa.events import Event
from icssa.sinks import JsonLines, write_json
from sensors.capture import CaptureError, open_capture
from sensors.engine import Sensor

if TYPE_CHECKING:  # loaded when the analytics run: ``--events-only`` and ``icssa sensor`` do without
    from assetmap import AdvisoryStore, AssetMap, Site
    from correlation import Engine

CAPTURE_SUFFIXES = (".pcap", ".pcapng", ".cap", ".dmp")


def capture_id(path: Path) -> str:
    """A short deterministic id of a capture's content (its first MiB and size)."""
    h = hashlib.blake2b(digest_size=6)
    with open(path, "rb") as fh:
        h.update(fh.read(1 << 20))
    h.update(str(path.stat().st_size).encode())
    return h.hexdigest()


def expand(paths: Sequence[Path]) -> list[Path]:
    """Files as given; directories become the captures inside them, sorted."""
    out: list[Path] = []
    for p in paths:
        if p.is_dir():
            out.extend(sorted(q for q in p.iterdir() if q.suffix.lower() in CAPTURE_SUFFIXES))
        else:
            out.append(p)
    return out


@dataclass
class Summary:
    files: int = 0
    packets: int = 0
    bytes: int = 0
    flows: int = 0
    events: int = 0
    alerts: int = 0
    assets: int = 0
    seconds: float = 0.0
    messages: Counter[str] = field(default_factory=Counter)
    actions: Counter[tuple[str, str]] = field(default_factory=Counter)
    parse_errors: Counter[tuple[str, str]] = field(default_factory=Counter)
    sensor: Counter[str] = field(default_factory=Counter)
    errors: list[str] = field(default_factory=list)
    rule_errors: list[str] = field(default_factory=list)

    def add(self, sensor: Sensor) -> None:
        self.packets += sensor.stats["packets"]
        self.bytes += sensor.stats["bytes"]
        self.flows += sensor.stats["flows"]
        self.messages.update(sensor.messages)
        self.actions.update(sensor.actions)
        self.parse_errors.update(sensor.parse_errors)
        self.sensor.update(sensor.stats)

    @property
    def packets_per_second(self) -> float:
        return self.packets / self.seconds if self.seconds > 0 else 0.0


Progress = Callable[[int], None]


def run_capture(
    path: Path,
    emit: Callable[[Event], None],
    *,
    observer: str,
    organization: str,
    progress: Progress | None = None,
) -> tuple[Sensor, str | None]:
    """Stream one capture through a fresh sensor: (sensor, error line or None).

    Everything before a bad or truncated record has been emitted when an error is returned.
    """
    try:
        cid = capture_id(path)
    except OSError as exc:
        return Sensor(emit), f"{path}: cannot read: {exc.strerror or exc}"
    sensor = Sensor(emit, observer=observer, organization=organization, capture_id=cid)
    handle = sensor.packet
    try:
        if progress is None:
            for ts_ns, linktype, data in open_capture(path):
                handle(ts_ns, linktype, data)
        else:
            n = 0
            for ts_ns, linktype, data in open_capture(path):
                handle(ts_ns, linktype, data)
                n += 1
                if not n & 0x3FF:
                    progress(sensor.bytes + 16 * n)
    except CaptureError as exc:
        return sensor, str(exc)
    finally:
        sensor.finish()
    return sensor, None


def replay_events(
    paths: Sequence[Path], *, observer: str = "replay", organization: str = "default"
) -> Iterator[Event]:
    """All events of the captures, in order (a truncated capture ends its events early)."""
    for path in expand(paths):
        events: list[Event] = []
        run_capture(path, events.append, observer=observer, organization=organization)
        yield from events


@dataclass
class Analytics:
    """What runs on the event stream besides writing it: the asset map (and correlation)."""

    site: Site | None = None
    advisories: AdvisoryStore | None = None
    rules: Path | None = None  # a rules folder; None = the bundled rules/
    enabled: bool = True

    def asset_map(self) -> AssetMap | None:
        if not self.enabled:
            return None
        from assetmap import AdvisoryStore, AssetMap

        advisories = self.advisories if self.advisories is not None else AdvisoryStore.bundled()
        return AssetMap(site=self.site, advisories=advisories)

    def engine(self, asset_map: AssetMap | None) -> Engine | None:
        if not self.enabled:
            return None
        from correlation import Engine

        return Engine.from_directory(self.rules, context=asset_map)


EMPTY_GRAPH = {"directed": True, "multigraph": False, "graph": {}, "nodes": [], "edges": []}


def write_empty_analytics(out_dir: Path) -> None:
    """The analytics' files of a run without them (``--events-only``)."""
    (out_dir / "alerts.jsonl").write_bytes(b"")
    write_json(out_dir / "assets.json", {"assets": []})
    write_json(out_dir / "graph.json", EMPTY_GRAPH)


def replay(
    paths: Sequence[Path],
    out_dir: Path,
    *,
    observer: str = "replay",
    organization: str = "default",
    analytics: Analytics | None = None,
    progress_factory: Callable[[Path], tuple[Progress, Callable[[], None]]] | None = None,
    engine: str = "auto",
) -> Summary:
    """Run the whole offline pipeline and write events, alerts, assets and graph to out_dir.

    ``engine`` picks the native core or the Python path (see ``icssa.native``); both write the
    same bytes. ``native.EngineUnavailable`` when ``engine="native"`` cannot be honoured.
    """
    from icssa import native as native_core

    started = time.perf_counter()  # either engine: loading the analytics' data included
    analytics = analytics or Analytics()
    native = native_core.choose(engine, analytics)
    out_dir.mkdir(parents=True, exist_ok=True)
    if native is not None:
        summary = native_core.replay(native, expand(paths), out_dir, observer, organization, progress_factory)
        if native.documents is None:
            write_empty_analytics(out_dir)
    else:
        # events are short-lived acyclic dicts: collect cycles rarely (the analytics' state is
        # long-lived, so frequent full passes over it would cost more than they ever free)
        thresholds = gc.get_threshold()
        gc.set_threshold(50_000, 20, 100)
        try:
            summary = _replay(paths, out_dir, observer, organization, analytics, progress_factory)
        finally:
            gc.set_threshold(*thresholds)
    summary.seconds = time.perf_counter() - started
    return summary


def _replay(
    paths: Sequence[Path],
    out_dir: Path,
    observer: str,
    organization: str,
    analytics: Analytics,
    progress_factory: Callable[[Path], tuple[Progress, Callable[[], None]]] | None,
) -> Summary:
    summary = Summary()
    amap = analytics.asset_map()
    engine = analytics.engine(amap)
    if engine is not None:
        summary.rule_errors = [str(e) for e in engine.load_errors]
    with JsonLines(out_dir / "events.jsonl") as events_out, JsonLines(out_dir / "alerts.jsonl") as alerts_out:
        emit: Callable[[Event], None]
        if amap is None or engine is None:
            emit = events_out.write
        else:
            write, observe, process, write_alert = events_out.write, amap.observe, engine.process, alerts_out.write

            def emit_all(event: Event) -> None:
                write(event)
                observe(event)
                for alert in process(event):
                    write_alert(alert)

            emit = emit_all

        for path in expand(paths):
            summary.files += 1
            progress, done = progress_factory(path) if progress_factory else (None, lambda: None)
            try:
                sensor, error = run_capture(
                    path, emit, observer=observer, organization=organization, progress=progress
                )
            finally:
                done()
            if error:
                summary.errors.append(error)
            summary.add(sensor)
        if engine is not None:
            for alert in engine.flush():
                alerts_out.write(alert)
        summary.events = events_out.count
        summary.alerts = alerts_out.count
    assets = amap.assets() if amap is not None else []
    summary.assets = len(assets)
    write_json(out_dir / "assets.json", {"assets": assets})
    write_json(out_dir / "graph.json", amap.graph_node_link() if amap is not None else EMPTY_GRAPH)
    return summary
