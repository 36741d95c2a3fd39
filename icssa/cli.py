"""The ``icssa`` command line.

Bad input (a missing file, a file that is not a capture, an unknown option) gets one line on
stderr and exit code 2, never a traceback.

Start-up imports only what every command needs (typer, the consoles); each command imports its
own machinery when it runs, so ``icssa sensor`` does not load the asset map or the API.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

if TYPE_CHECKING:
    from icssa.pipeline import Analytics, Summary

app = typer.Typer(
    name="icssa",
    help="Industrial information-security situational awareness: passive ICS protocol sensors "
    "(Modbus/TCP, S7comm, S7comm-plus, OPC UA), asset map, detection and sharing.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)
err = Console(stderr=True)
out = Console()


@app.callback()
def _root() -> None:
    """icssa: passive ICS sensors, asset map, detection and sharing. Start with 'icssa replay --help'."""


class BadInput(Exception):
    """Bad command-line input: reported as one line, exit code 2."""


@app.command("replay")
def replay_cmd(
    pcaps: Annotated[
        list[Path],
        typer.Argument(
            help="Capture files (pcap or pcapng) or folders of captures.", show_default=False, metavar="PCAP..."
        ),
    ],
    out_dir: Annotated[Path, typer.Option("--out", "-o", help="Folder for events.jsonl, alerts.jsonl, assets.json, graph.json.")],
    observer: Annotated[str, typer.Option(help="Sensor name written to observer.name.")] = "replay",
    organization: Annotated[str, typer.Option("--org", help="Tenant written to organization.id.")] = "default",
    bus: Annotated[str, typer.Option(help="Event bus: memory (offline replay).")] = "memory",
    site: Annotated[
        Path | None,
        typer.Option(help="Site file (YAML): CIDRs -> named zones and Purdue levels, for exposure findings."),
    ] = None,
    advisories: Annotated[
        list[Path] | None,
        typer.Option(help="Advisory files or folders (YAML) to match against the inventory; default: the bundled set."),
    ] = None,
    rules: Annotated[
        Path | None, typer.Option(help="Folder of detection rules (YAML); default: the bundled rules/.")
    ] = None,
    events_only: Annotated[
        bool, typer.Option("--events-only", help="Write events only: skip the asset map and correlation.")
    ] = False,
    engine: Annotated[
        str,
        typer.Option(
            help="auto: the native core (Rust) when installed and it covers the run, else Python; "
            "native: require it; python: the reference path. Both write the same bytes."
        ),
    ] = "auto",
    progress: Annotated[bool, typer.Option(help="Show a progress bar (default: on a terminal).")] = sys.stderr.isatty(),
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No summary.")] = False,
) -> None:
    """Replay captures offline through the whole pipeline (deterministic: same input, same output)."""
    from icssa.native import EngineUnavailable
    from icssa.pipeline import CAPTURE_SUFFIXES, expand

    if bus != "memory":
        raise BadInput(f"--bus {bus}: replay runs on the in-memory bus; use 'icssa sensor' to publish to Kafka")
    files = expand(pcaps)
    for p in pcaps:
        if not p.exists():
            raise BadInput(f"{p}: no such file or folder")
    if not files:
        raise BadInput(f"no captures ({', '.join(CAPTURE_SUFFIXES)}) in {' '.join(map(str, pcaps))}")
    if out_dir.exists() and not out_dir.is_dir():
        raise BadInput(f"--out {out_dir}: exists and is not a folder")
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    if rules is not None and not rules.is_dir():
        raise BadInput(f"--rules {rules}: not a folder")
    analytics = _analytics(site, advisories, not events_only)
    analytics.rules = rules
    try:
        summary = _replay(files, out_dir, observer, organization, analytics, engine, progress)
    except EngineUnavailable as exc:  # raised before anything is written
        raise BadInput(str(exc)) from exc
    if not quiet:
        _print_summary(summary, out_dir)
    if summary.errors:
        for line in summary.errors:
            err.print(f"icssa: error: {line}", highlight=False, soft_wrap=True)
        raise typer.Exit(2)


def _replay(
    files: list[Path], out_dir: Path, observer: str, organization: str, analytics: Analytics, engine: str,
    progress: bool,
) -> Summary:
    from icssa.pipeline import replay

    if progress:
        from rich.progress import (
            BarColumn,
            DownloadColumn,
            Progress,
            TextColumn,
            TimeRemainingColumn,
            TransferSpeedColumn,
        )

        with Progress(
            TextColumn("{task.description}"), BarColumn(), DownloadColumn(), TransferSpeedColumn(),
            TimeRemainingColumn(), console=err, transient=True,
        ) as bar:

            def factory(path: Path):  # type: ignore[no-untyped-def]
                task = bar.add_task(path.name, total=path.stat().st_size)
                return (lambda done: bar.update(task, completed=done)), (lambda: bar.remove_task(task))

            return replay(
                files, out_dir, observer=observer, organization=organization, analytics=analytics,
                progress_factory=factory, engine=engine,
            )
    return replay(files, out_dir, observer=observer, organization=organization, analytics=analytics, engine=engine)


def _print_alerts(out_dir: Path) -> None:
    from collections import Counter

    from rich.table import Table

    from icssa.events import get
    from icssa.sinks import read_jsonl

    alerts = read_jsonl(out_dir / "alerts.jsonl")
    table = Table(title="alerts by rule", show_edge=False)
    for col, kw in (("severity", {"justify": "right"}), ("rule", {}), ("ATT&CK for ICS", {}), ("alerts", {"justify": "right"})):
        table.add_column(col, **kw)  # type: ignore[arg-type]
    rows: Counter[tuple[int, str, str]] = Counter()
    for a in alerts:
        techniques = get(a, "threat.technique.id") or []
        rows[(int(get(a, "event.severity") or 0), str(get(a, "rule.name")), ", ".join(techniques))] += 1
    for (severity, name, techniques), n in sorted(rows.items(), key=lambda kv: (-kv[0][0], kv[0][1])):
        table.add_row(str(severity), name, techniques, str(n))
    out.print(table)


def _analytics(site: Path | None, advisories: list[Path] | None, enabled: bool) -> Analytics:
    """Load the optional data files; a bad file is one line and exit code 2."""
    from icssa.pipeline import Analytics

    if not site and not advisories:
        return Analytics(enabled=enabled)
    from assetmap import AdvisoryStore, Site

    try:
        return Analytics(
            site=Site.load(site) if site else None,
            advisories=AdvisoryStore.load(advisories) if advisories else None,
            enabled=enabled,
        )
    except (OSError, ValueError) as exc:
        raise BadInput(str(exc).splitlines()[0]) from exc


def _print_summary(s: Summary, out_dir: Path) -> None:
    from rich.table import Table

    out.print(
        f"[bold]{s.files}[/] capture(s): {s.packets:,} packets, {s.bytes:,} bytes, {s.flows:,} flows "
        f"in {s.seconds:.2f} s ({s.packets_per_second:,.0f} packets/s)"
    )
    table = Table(title="messages by protocol and operation", show_edge=False)
    table.add_column("protocol")
    table.add_column("operation")
    table.add_column("messages", justify="right")
    for (dataset, action), n in sorted(s.actions.items()):
        table.add_row(dataset, action, f"{n:,}")
    if s.actions:
        out.print(table)
    if s.alerts:
        _print_alerts(out_dir)
    for line in s.rule_errors:
        err.print(f"icssa: warning: rule not loaded: {line}", highlight=False, soft_wrap=True)
    if s.parse_errors:
        errors = Table(title="parse errors", show_edge=False)
        errors.add_column("protocol")
        errors.add_column("reason")
        errors.add_column("count", justify="right")
        for (dataset, reason), n in sorted(s.parse_errors.items()):
            errors.add_row(dataset, reason, f"{n:,}")
        out.print(errors)
    notable = {k: v for k, v in sorted(s.sensor.items()) if k.startswith(("tcp_", "ip_", "bad_", "frag")) and v}
    if notable:
        out.print("stream: " + ", ".join(f"{k} {v:,}" for k, v in notable.items()))
    out.print(
        f"{s.events:,} events, {s.alerts:,} alerts, {s.assets:,} assets -> {out_dir}/"
        "{events.jsonl, alerts.jsonl, assets.json, graph.json}",
        highlight=False,
    )


def _register_commands() -> None:
    """The distributed path (sensor, correlate) and the platform (serve) live in their packages."""
    from api.cli import register as register_serve
    from icssa.cli_stream import register as register_stream

    register_stream(app)
    register_serve(app)


_register_commands()


def main(argv: list[str] | None = None) -> None:
    """Console entry point: one line and exit code 2 for bad input, no tracebacks."""
    try:
        rc = app(args=argv, standalone_mode=False)
        if isinstance(rc, int) and rc:
            sys.exit(rc)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except typer.Abort:
        err.print("icssa: aborted")
        sys.exit(130)
    except typer.TyperException as exc:  # typer's (vendored) click usage errors
        msg = str(getattr(exc, "format_message", exc.__str__)()).replace("\n", " ")
        ctx = getattr(exc, "ctx", None)
        where = f"{ctx.command_path}: " if ctx is not None else "icssa: "
        err.print(f"{where}error: {msg} (see --help)", highlight=False, soft_wrap=True)
        sys.exit(2)
    except BadInput as exc:
        err.print(f"icssa: error: {exc}", highlight=False, soft_wrap=True)
        sys.exit(2)
    except KeyboardInterrupt:
        sys.exit(130)


if __name__ == "__main__":
    main()
