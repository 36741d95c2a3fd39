"""``icssa serve``: the platform API (REST + TAXII 2.1) under uvicorn.

Registered on the main CLI by ``icssa.cli`` (``api.cli.register(app)``); also runnable alone as
``python -m api.cli serve``. Options override the ``ICSSA_*`` environment (secrets such as
``ICSSA_SECRET_KEY``, ``ICSSA_FIRST_ADMIN_PASSWORD`` and ``ICSSA_UPSTREAM_API_KEY`` come only
from the environment, never from the command line where other users could read them).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated, Any

import typer


def _settings(**options: Any) -> Any:
    from pydantic import ValidationError

    from api.settings import Settings

    try:
        return Settings(**{k: v for k, v in options.items() if v is not None})
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ())) or "settings"
        raise typer.BadParameter(f"{where}: {first.get('msg')}") from None


def register(app: typer.Typer) -> None:
    @app.command("serve")
    def serve(
        store: Annotated[str | None, typer.Option(help="Store: sqlite:///PATH or http://HOST:9200.")] = None,
        db: Annotated[Path | None, typer.Option(help="Platform database (SQLite file).")] = None,
        orgs: Annotated[Path | None, typer.Option(help="Organization tree (YAML) loaded at start-up.")] = None,
        host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
        port: Annotated[int, typer.Option(help="Port to listen on.", min=1, max=65535)] = 8000,
        upstream: Annotated[str | None, typer.Option(help="Parent platform's TAXII collection URL.")] = None,
        workspaces: Annotated[Path | None, typer.Option(help="Folder for researchers' replay workspaces.")] = None,
        sync_interval: Annotated[float | None, typer.Option(help="Seconds between sharing passes (0: off).")] = None,
        log_level: Annotated[str, typer.Option(help="uvicorn log level.")] = "warning",
        workers: Annotated[int, typer.Option(help="Worker processes (stateless: they share store and db).",
                                             min=1, max=64)] = 1,
    ) -> None:
        """Serve the platform: REST under /api/v1 (OpenAPI, docs at /docs) and TAXII 2.1 under /taxii2."""
        import uvicorn

        from api.main import create_app
        from api.tenancy import TreeError
        from icssa.store import StoreError

        if orgs is not None and not orgs.is_file():
            raise typer.BadParameter(f"--orgs {orgs}: no such file")
        options = {"store_url": store, "db_path": db, "orgs_file": orgs, "upstream_url": upstream,
                   "workspace_dir": workspaces, "sync_interval": sync_interval}
        settings = _settings(**options)
        try:
            application = create_app(settings, serving=True)
        except (TreeError, StoreError) as exc:
            raise typer.BadParameter(str(exc)) from None
        if workers > 1:
            # each worker process builds its own app from the environment: pass the options there
            application.state.store.close()
            for key, value in options.items():
                if value is not None:
                    os.environ[f"ICSSA_{key.upper()}"] = str(value)
            uvicorn.run("api.cli:worker_app", factory=True, host=host, port=port, log_level=log_level,
                        workers=workers)
            return
        try:
            uvicorn.run(application, host=host, port=port, log_level=log_level)
        finally:
            application.state.store.close()


def worker_app() -> Any:
    """The app of one worker process of ``icssa serve --workers N`` (settings from the environment)."""
    from api.main import create_app

    return create_app(serving=True)


def main(argv: list[str] | None = None) -> None:
    """``python -m api.cli``: bad input gets one line on stderr and exit code 2, like ``icssa``."""
    cli = typer.Typer(add_completion=False, pretty_exceptions_enable=False, no_args_is_help=True)

    @cli.callback()
    def _root() -> None:
        """icssa platform API."""

    register(cli)
    try:
        cli(args=argv, standalone_mode=False)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except typer.TyperException as exc:  # click usage errors (BadParameter, missing options)
        message = str(getattr(exc, "format_message", exc.__str__)()).replace("\n", " ")
        sys.stderr.write(f"icssa serve: error: {message}\n")
        sys.exit(2)


if __name__ == "__main__":
    main()
