"""The FastAPI application: ``create_app(settings)``.

REST under ``/api/v1`` (OpenAPI at ``/api/v1/openapi.json``, docs at ``/docs``), TAXII 2.1 under
``/taxii2``. The app opens the store and the platform database when made (so a test client
works without a running lifespan); serving starts the background sharing worker and closes
everything at shutdown.
"""

from __future__ import annotations

import gc
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from api.db import Database, now_iso
from api.forwarder import Forwarder, Worker
from api.routes import (
    advisories,
    alerts,
    assets,
    audit,
    events,
    graph,
    incidents,
    login,
    orgs,
    overview,
    sharing,
    taxii,
    users,
    workspaces,
)
from api.security import Passwords
from api.settings import Settings
from api.sharing import Sharing
from api.tenancy import Tenancy, load_yaml, save_orgs
from icssa.store import Store, open_store

log = logging.getLogger(__name__)
API = "/api/v1"


def _bootstrap_admin(db: Database, tenancy: Tenancy, settings: Settings, passwords: Passwords) -> None:
    if not settings.first_admin or db.one("SELECT 1 FROM users WHERE username = ?", (settings.first_admin,)):
        return
    roots = tenancy.tree.roots()
    org = roots[0] if roots else settings.platform_name
    cur = db.execute(  # OR IGNORE: several worker processes may start at once
        "INSERT OR IGNORE INTO users (username, password_hash, role, org, full_name, active, created) "
        "VALUES (?,?,'admin',?,?,1,?)",
        (settings.first_admin, passwords.hash(settings.first_admin_password or ""), org, "first admin", now_iso()),
    )
    if cur.rowcount:
        db.audit("system", "create", "user", settings.first_admin, detail={"role": "admin", "org": org})


def _taxii_error(request: Request, code: int, detail: Any, headers: dict[str, str] | None = None) -> JSONResponse:
    if request.url.path.startswith("/taxii2"):
        body = {"title": str(detail) if not isinstance(detail, list) else "invalid request",
                "http_status": str(code), "description": str(detail)}
        return JSONResponse(body, status_code=code, media_type=taxii.TAXII, headers=headers)
    return JSONResponse({"detail": detail}, status_code=code, headers=headers)


#: allocations between young collections in a serving process (CPython's default: 700)
GC_YOUNG_THRESHOLD = 10_000


def tune_gc() -> None:
    """Settle the garbage collector of a long-running server process, once it has started.

    Everything alive then (modules, the app, the tree: over 100,000 objects) is moved out of
    the collector's sight (``gc.freeze``): a full collection otherwise walks all of it, 60 ms
    during which every request waits, about once a second under load (much of the p99). Young
    collections are made rarer: each one promotes whatever the requests in flight hold, and
    those promotions are what bring the full collections on.
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(GC_YOUNG_THRESHOLD, *gc.get_threshold()[1:])


def create_app(settings: Settings | None = None, store: Store | None = None, *, serving: bool = False) -> FastAPI:
    """The platform app; ``store`` overrides ``settings.store_url`` (tests, benchmarks).
    ``serving``: the app is this process's whole life (``icssa serve``), so its start-up
    tunes the process's garbage collector (``tune_gc``)."""
    settings = settings or Settings()
    db = Database(settings.db_path)
    tenancy = Tenancy(db)
    if settings.orgs_file is not None:
        save_orgs(db, load_yaml(settings.orgs_file))
    passwords = Passwords(settings)
    if store is None:
        # an SQLite store reads through a pool of connections (in parallel, WAL); Elasticsearch
        # through one client with its own connection pool
        options = {"readers": settings.store_connections} if settings.store_url.startswith("sqlite:") else {}
        store = open_store(settings.store_url, **options)
    share = Sharing(db, store, tenancy, settings)
    share.publish_common()
    forwarder = Forwarder(db, settings)
    _bootstrap_admin(db, tenancy, settings, passwords)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if serving:
            tune_gc()
        worker = None
        if settings.sync_interval > 0:
            worker = Worker(settings.sync_interval, [share.sync_alerts, forwarder.flush])
            worker.start()
        yield
        if worker is not None:
            worker.stop()
        db.close()  # connections reopen on demand: the app may be started again (tests)

    app = FastAPI(
        title=f"{settings.platform_name} platform",
        description="ICS security situational awareness: tenancy, assets, alerts, incidents, advisories, sharing.",
        version="0.1.0", openapi_url=f"{API}/openapi.json", lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.db = db
    app.state.store = store
    app.state.tenancy = tenancy
    app.state.passwords = passwords
    app.state.sharing = share
    app.state.forwarder = forwarder

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return _taxii_error(request, exc.status_code, exc.detail, getattr(exc, "headers", None))

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        return _taxii_error(request, 422, jsonable_encoder(exc.errors()))

    for module in (login, users, orgs, assets, alerts, events, graph, overview, incidents, advisories, audit,
                   workspaces, sharing):
        app.include_router(module.router, prefix=API)
    app.include_router(taxii.router)

    @app.get(f"{API}/health", tags=["health"])
    def health() -> dict[str, str]:
        return {"status": "ok"}

    return app
