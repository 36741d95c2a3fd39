"""``icssa sensor`` and ``icssa correlate``: the distributed path's commands.

``register(app)`` adds both to the main typer app (icssa/cli.py calls it). Bad options get
one line and exit code 2 through ``icssa.cli.BadInput``; SIGTERM and SIGINT stop either
command cleanly (the sensor flushes its flows and its batch; the correlator stores what it
has and commits).
"""

from __future__ import annotations

import gc
import logging
import os
import signal
import socket
import threading
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

err = Console(stderr=True)


def _bad(message: str) -> Exception:
    from icssa.cli import BadInput

    return BadInput(message)


def _stop_on_signals() -> threading.Event:
    stop = threading.Event()

    def handler(signum: int, _frame: object) -> None:
        if stop.is_set() and signum == signal.SIGINT:
            raise KeyboardInterrupt
        stop.set()

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)
    return stop


def _logging(verbose: bool) -> None:
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("elastic_transport").setLevel(logging.WARNING)  # a line per request otherwise


def _open_bus(url: str):  # type: ignore[no-untyped-def]
    from icssa.bus import BusError, open_bus

    try:
        return open_bus(url)
    except (BusError, ValueError) as exc:
        raise _bad(f"--bus {url}: {exc}") from exc


def register(app: typer.Typer) -> None:
    @app.command("sensor")
    def sensor_cmd(
        bus: Annotated[str, typer.Option(help="Where events go: kafka://HOST:PORT[?prefix=NAME].")],
        pcap: Annotated[list[Path] | None, typer.Option(metavar="PCAP", help="Capture file or folder (repeatable) instead of an interface.")] = None,
        interface: Annotated[str | None, typer.Option("--interface", "-i", metavar="IFACE", help="Capture live on this interface.")] = None,
        bpf: Annotated[str | None, typer.Option(help="BPF filter for live capture, e.g. 'tcp port 502'.")] = None,
        observer: Annotated[str, typer.Option(help="Sensor name written to observer.name.")] = socket.gethostname(),
        organization: Annotated[str, typer.Option("--org", help="Tenant written to organization.id.")] = "default",
        spool: Annotated[Path | None, typer.Option(help="Spool folder for when the broker is away [~/.cache/icssa/spool/OBSERVER].")] = None,
        spool_mb: Annotated[int, typer.Option(help="Spool size bound in MiB (beyond it events are dropped and counted).")] = 1024,
        batch_size: Annotated[int, typer.Option(help="Events per batch sent to the broker.")] = 2000,
        linger: Annotated[float, typer.Option(help="Longest wait (s) before a partial batch is sent.")] = 0.1,
        drain_timeout: Annotated[float, typer.Option(help="At exit, how long (s) to try to empty the spool.")] = 10.0,
        stats_interval: Annotated[float, typer.Option(help="Live capture: log counters every N seconds (0: never).")] = 30.0,
        verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log progress.")] = False,
    ) -> None:
        """Capture (live or from files) and publish events to the bus; spools while the broker is away."""
        from icssa.bus import MemoryBus
        from icssa.pipeline import CAPTURE_SUFFIXES, expand
        from icssa.publisher import Publisher
        from icssa.spool import Spool
        from icssa.stream import sensor_live, sensor_pcap

        if bool(pcap) == bool(interface):
            raise _bad("give either --pcap FILE or --interface IFACE")
        if bpf and not interface:
            raise _bad("--bpf applies to live capture (--interface)")
        if batch_size < 1 or linger < 0 or spool_mb < 1:
            raise _bad("--batch-size and --spool-mb must be positive, --linger not negative")
        if pcap:
            for p in pcap:
                if not p.exists():
                    raise _bad(f"{p}: no such file or folder")
            if not expand(pcap):
                raise _bad(f"no captures ({', '.join(CAPTURE_SUFFIXES)}) in {' '.join(map(str, pcap))}")
        elif interface and not Path(f"/sys/class/net/{interface}").exists():
            raise _bad(f"--interface {interface}: no such network interface")
        the_bus = _open_bus(bus)
        if isinstance(the_bus, MemoryBus):
            raise _bad("--bus memory lives inside one process: the sensor publishes to kafka://HOST:PORT")
        _logging(verbose)
        folder = spool or Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "icssa" / "spool" / observer
        try:
            the_spool = Spool(folder, max_bytes=spool_mb << 20)
        except OSError as exc:
            raise _bad(f"--spool {folder}: {exc.strerror or exc}") from exc
        publisher = Publisher(the_bus, the_spool, batch_size=batch_size, linger=linger)
        stop = _stop_on_signals()
        try:
            if pcap:
                report = sensor_pcap(pcap, publisher, observer=observer, organization=organization, stop=stop)
            else:
                assert interface is not None
                try:
                    report = sensor_live(interface, bpf, publisher, observer=observer, organization=organization,
                                         stop=stop, stats_every=stats_interval,
                                         ready=lambda: err.print(f"icssa sensor: capturing on {interface}", highlight=False))
                except (OSError, ValueError) as exc:  # no permission, a filter tcpdump rejects
                    raise _bad(f"--interface {interface}: {exc}") from exc
        finally:
            publisher.close(drain_timeout=drain_timeout)
        s = publisher.stats
        err.print(
            f"icssa sensor: {report.packets:,} packets, {report.events:,} events, published {s['published'] + s['drained']:,}"
            f" (through the spool {s['drained']:,}), left in the spool {publisher.spool_depth:,} messages,"
            f" dropped (spool full) {s['spool_dropped']:,}, drops kernel {report.kernel_drops:,} own {report.own_drops:,}",
            highlight=False, soft_wrap=True,
        )
        for line in report.errors:
            err.print(f"icssa: error: {line}", highlight=False, soft_wrap=True)
        if report.errors:
            raise typer.Exit(2)

    @app.command("correlate")
    def correlate_cmd(
        bus: Annotated[str, typer.Option(help="Event source: kafka://HOST:PORT[?prefix=NAME].")],
        store: Annotated[str, typer.Option(help="Where results go: http://HOST:9200[?prefix=NAME] or sqlite:///PATH.")],
        group: Annotated[str, typer.Option(help="Kafka consumer group.")] = "icssa-correlate",
        checkpoint_every: Annotated[float, typer.Option(help="Seconds between checkpoints (assets stored, then offsets committed).")] = 5.0,
        store_every: Annotated[float, typer.Option(help="Longest wait (s) before consumed events and alerts go to the store.")] = 0.1,
        idle_flush: Annotated[float, typer.Option(help="Close correlation windows after this many idle seconds.")] = 5.0,
        exit_when_idle: Annotated[float | None, typer.Option(help="Exit after this many idle seconds (batch runs, tests).")] = None,
        verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log progress.")] = False,
    ) -> None:
        """Consume events as a group member: correlation and asset map per tenant, results to the store."""
        from icssa.bus import MemoryBus
        from icssa.correlator import Correlator
        from icssa.store import StoreError, open_store

        if checkpoint_every <= 0 or idle_flush <= 0 or store_every <= 0:
            raise _bad("--checkpoint-every, --store-every and --idle-flush must be positive")
        if exit_when_idle is not None and exit_when_idle <= idle_flush:
            raise _bad("--exit-when-idle must be longer than --idle-flush")
        the_bus = _open_bus(bus)
        if isinstance(the_bus, MemoryBus):
            raise _bad("--bus memory has no other process to read from: use kafka://HOST:PORT")
        _logging(verbose)
        try:
            the_store = open_store(store)
        except StoreError as exc:
            raise _bad(f"--store {store}: {exc}") from exc
        stop = _stop_on_signals()
        # Collections of the young generation every 10,000 net allocations, not 700: each
        # event decodes into a few dozen containers that die young (refcounting frees them),
        # and with the default a fraction of every batch survives into the old generation,
        # bringing on full collections of a heap that the asset maps keep large (measured:
        # a fifth of the consumer's CPU time with the default, 5% with this).
        gc.set_threshold(10_000, 20, 10)
        c = Correlator(the_bus, the_store, group=group, checkpoint_every=checkpoint_every, store_every=store_every,
                       idle_flush=idle_flush)
        try:
            c.run(stop, exit_when_idle=exit_when_idle)
        finally:
            the_store.close()
        s = c.stats
        err.print(
            f"icssa correlate: {s['consumed']:,} events consumed, stored {s['events_stored']:,} events, "
            f"{s['alerts_stored']:,} alerts, {s['assets_stored']:,} asset updates; {s['stores']:,} stores, {s['checkpoints']:,} checkpoints, "
            f"{s['checkpoint_retries']:,} retries, {s['rebalances']:,} rebalances, {s['undecodable']:,} undecodable",
            highlight=False, soft_wrap=True,
        )


def main() -> None:
    """``python -m icssa.cli_stream sensor|correlate ...``: the main CLI with these commands
    registered (whether or not icssa/cli.py registers them itself)."""
    from icssa.cli import app
    from icssa.cli import main as cli_main

    names = {c.name for c in app.registered_commands}
    if not {"sensor", "correlate"} <= names:
        register(app)
    cli_main()


if __name__ == "__main__":
    main()
