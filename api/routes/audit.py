"""The audit log: every change, and every read of other tenants' data.

Admins read all of it; a responder reads the entries that touch organizations in its scope or
were made by callers of its scope.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel

from api.db import loads
from api.deps import ResponderUser, SessionDep

router = APIRouter(prefix="/audit", tags=["audit"])


class AuditOut(BaseModel):
    id: int
    ts: str
    actor: str
    actor_org: str | None
    action: str
    resource: str
    resource_id: str | None
    orgs: list[str]
    detail: dict[str, Any]


class AuditPage(BaseModel):
    items: list[AuditOut]
    cursor: str | None = None


@router.get("", response_model=AuditPage)
def audit_log(
    user: ResponderUser, db: SessionDep, action: str | None = None, resource: str | None = None,
    resource_id: str | None = None, actor: str | None = None, since: str | None = None,
    size: Annotated[int, Query(ge=1, le=1000)] = 100, cursor: Annotated[str | None, Query(pattern=r"^\d{1,18}$")] = None,
) -> AuditPage:
    where: list[str] = ["1"]
    args: list[Any] = []
    for col, value in (("action", action), ("resource", resource), ("resource_id", resource_id), ("actor", actor)):
        if value is not None:
            where.append(f"{col} = ?")
            args.append(value)
    if since is not None:
        where.append("ts >= ?")
        args.append(since)
    if cursor is not None:
        where.append("id < ?")
        args.append(int(cursor))
    orgs = user.scope.orgs
    if orgs is not None:
        marks = ",".join("?" * len(orgs))
        where.append(f"(actor_org IN ({marks}) OR EXISTS (SELECT 1 FROM json_each(audit.orgs) j WHERE j.value IN ({marks})))")
        args += [*orgs, *orgs]
    rows = db.query(f"SELECT * FROM audit WHERE {' AND '.join(where)} ORDER BY id DESC LIMIT ?", [*args, size + 1])
    more = len(rows) > size
    rows = rows[:size]
    return AuditPage(
        items=[AuditOut(id=r["id"], ts=r["ts"], actor=r["actor"], actor_org=r["actor_org"], action=r["action"],
                        resource=r["resource"], resource_id=r["resource_id"], orgs=loads(r["orgs"]) or [],
                        detail=loads(r["detail"]) or {}) for r in rows],
        cursor=str(rows[-1]["id"]) if more else None,
    )
