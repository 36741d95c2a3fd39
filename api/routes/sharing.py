"""STIX 2.1 export bundles and the state of the upstream outbox."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel

from api import stix
from api.db import loads
from api.deps import AdminUser, ReaderUser, ResponderUser, SessionDep, TreeDep, audit_read, scoped_orgs
from api.forwarder import Forwarder

router = APIRouter(tags=["sharing"])


class Bundle(BaseModel):
    type: Literal["bundle"]
    id: str
    objects: list[dict[str, Any]]


class OutboxStatus(BaseModel):
    upstream: str | None
    total: int
    sent: int
    pending: int
    retrying: int
    max_attempts: int
    last_error: str | None


class SyncResult(BaseModel):
    published: int
    sent: int
    rejected: int
    failed: int
    error: str | None


@router.get("/stix/{kind}", response_model=Bundle)
def export(
    kind: Literal["alerts", "advisories", "incidents", "inbox"], user: ReaderUser, db: SessionDep, tree: TreeDep,
    organization: str | None = None, region: str | None = None, added_after: str | None = None,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 1000,
) -> Bundle:
    """The newest version of each shared object of a kind in scope (as a STIX 2.1 bundle)."""
    orgs = scoped_orgs(user, tree, organization or region)
    where: list[str] = ["kind = ?"]
    args: list[Any] = [kind]
    if orgs is not None:
        visible = set(orgs)
        if kind == "advisories":
            visible |= user.scope.upstream
        where.append(f"(org = '' OR org IN ({','.join('?' * len(visible))}))" if visible else "org = ''")
        args += sorted(visible)
    if added_after:
        where.append("added > ?")
        args.append(added_after)
    rows = db.query(f"SELECT org, doc FROM stix_objects WHERE {' AND '.join(where)} ORDER BY seq LIMIT ?", [*args, limit])
    latest: dict[str, dict[str, Any]] = {}
    for r in rows:
        obj = loads(r["doc"])
        prior = latest.get(obj["id"])
        if prior is None or stix.version_of(obj) >= stix.version_of(prior):
            latest[obj["id"]] = obj
    audit_read(db, user, f"stix/{kind}", {r["org"] for r in rows if r["org"]}, {"count": len(latest)})
    b = stix.bundle(latest.values())
    return Bundle(type="bundle", id=b["id"], objects=b["objects"])


@router.get("/sharing/outbox", response_model=OutboxStatus)
def outbox(request: Request, user: ResponderUser) -> OutboxStatus:
    return OutboxStatus(**request.app.state.sharing.outbox_status())


@router.post("/sharing/sync", response_model=SyncResult)
def sync_now(request: Request, user: AdminUser) -> SyncResult:
    """Run one sharing pass now: store alerts -> STIX objects, outbox -> parent platform."""
    published = request.app.state.sharing.sync_alerts()
    forwarder: Forwarder = request.app.state.forwarder
    res = forwarder.flush()
    return SyncResult(published=published, sent=res.sent, rejected=res.rejected, failed=res.failed, error=res.error)
