"""Incidents made from alerts, support teams, comments and each incident's audit trail.

Status: new -> acknowledged -> in_progress -> resolved | false_positive (false_positive also
from new and acknowledged); anything else is 409. Enterprise officers, responders and admins
handle incidents in their scope; only responders and admins assign a support team (a team of
the incident's organization or one above it).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Query, Request, status
from pydantic import BaseModel, Field

from api import stix
from api.db import Database, loads, now_iso
from api.deps import (
    HandlerUser,
    Principal,
    ReaderUser,
    ResponderUser,
    RowId,
    SessionDep,
    StoreDep,
    TreeDep,
    audit_read,
    not_found,
    scoped_orgs,
)
from api.query import org_of
from api.tenancy import OrgTree
from icssa.events import get

router = APIRouter(tags=["incidents"])
Status = Literal["new", "acknowledged", "in_progress", "resolved", "false_positive"]
TlpLevel = Literal["clear", "green", "amber", "amber+strict", "red"]
NEXT: dict[str, tuple[str, ...]] = {
    "new": ("acknowledged", "false_positive"),
    "acknowledged": ("in_progress", "false_positive"),
    "in_progress": ("resolved", "false_positive"),
    "resolved": (),
    "false_positive": (),
}


class TeamIn(BaseModel):
    name: str = Field(min_length=1, max_length=200)
    org: str
    contact: str | None = Field(default=None, max_length=500)


class TeamOut(BaseModel):
    id: int
    name: str
    org: str
    contact: str | None


class IncidentCreate(BaseModel):
    alert_ids: list[str] = Field(min_length=1, max_length=500)
    title: str | None = Field(default=None, min_length=1, max_length=300)
    description: str = Field(default="", max_length=20_000)
    severity: int | None = Field(default=None, ge=1, le=100)
    tlp: TlpLevel | None = None


class IncidentUpdate(BaseModel):
    status: Status | None = None
    team_id: int | None = Field(default=None, ge=1, le=2**62)
    title: str | None = Field(default=None, min_length=1, max_length=300)
    description: str | None = Field(default=None, max_length=20_000)
    severity: int | None = Field(default=None, ge=1, le=100)
    tlp: TlpLevel | None = None


class IncidentOut(BaseModel):
    id: int
    org: str
    title: str
    description: str
    severity: int
    status: Status
    tlp: TlpLevel
    team: TeamOut | None
    alert_ids: list[str]
    created_by: str
    created: str
    updated: str


class IncidentPage(BaseModel):
    items: list[IncidentOut]
    total: int
    cursor: str | None = None


class CommentIn(BaseModel):
    body: str = Field(min_length=1, max_length=20_000)


class CommentOut(BaseModel):
    id: int
    author: str
    body: str
    created: str


class AuditEntry(BaseModel):
    id: int
    ts: str
    actor: str
    action: str
    detail: dict[str, Any]


def _team(db: Database, team_id: int | None) -> TeamOut | None:
    row = db.one("SELECT * FROM teams WHERE id = ?", (team_id,)) if team_id is not None else None
    return TeamOut(id=row["id"], name=row["name"], org=row["org"], contact=row["contact"]) if row else None


def _out(db: Database, row: Any) -> IncidentOut:
    alerts = [r[0] for r in db.query("SELECT alert_id FROM incident_alerts WHERE incident_id = ? ORDER BY alert_id", (row["id"],))]
    return IncidentOut(
        id=row["id"], org=row["org"], title=row["title"], description=row["description"], severity=row["severity"],
        status=row["status"], tlp=row["tlp"], team=_team(db, row["team_id"]), alert_ids=alerts,
        created_by=row["created_by"], created=row["created"], updated=row["updated"],
    )


def _incident(db: Database, user: Principal, iid: int) -> Any:
    row = db.one("SELECT * FROM incidents WHERE id = ?", (iid,))
    if row is None or not user.scope.allows(row["org"]):
        raise not_found(f"incident {iid}")
    return row


def _publish(request: Request, db: Database, row: Any) -> None:
    out = _out(db, row)
    objects = stix.incident_objects(out.model_dump(), out.alert_ids, out.tlp, request.app.state.settings.platform_name)
    request.app.state.sharing.publish("incidents", objects, out.org, out.tlp)


def _teams_visible(tree: OrgTree, user: Principal, team_org: str) -> bool:
    return user.scope.allows(team_org) or team_org in user.scope.upstream or user.scope.orgs is None


@router.get("/teams", response_model=list[TeamOut])
def list_teams(user: ReaderUser, db: SessionDep, tree: TreeDep) -> list[TeamOut]:
    rows = db.query("SELECT * FROM teams ORDER BY id")
    return [TeamOut(id=r["id"], name=r["name"], org=r["org"], contact=r["contact"])
            for r in rows if _teams_visible(tree, user, r["org"])]


@router.post("/teams", response_model=TeamOut, status_code=201)
def create_team(body: TeamIn, user: ResponderUser, db: SessionDep, tree: TreeDep) -> TeamOut:
    if body.org not in tree or not user.scope.allows(body.org):
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, f"organization {body.org} is not in your scope")
    cur = db.execute("INSERT INTO teams (name, org, contact, created) VALUES (?,?,?,?)",
                     (body.name, body.org, body.contact, now_iso()))
    db.audit(user.actor, "create", "team", str(cur.lastrowid), actor_org=user.org, orgs=[body.org], detail=body.model_dump())
    team = _team(db, cur.lastrowid)
    assert team is not None
    return team


@router.post("/incidents", response_model=IncidentOut, status_code=201)
def create_incident(body: IncidentCreate, request: Request, user: HandlerUser, store: StoreDep, db: SessionDep) -> IncidentOut:
    alerts = []
    for aid in dict.fromkeys(body.alert_ids):
        doc = store.get("alerts", aid)
        if doc is None or not user.scope.allows(org_of(doc)):
            raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, f"alert {aid} not found")
        alerts.append(doc)
    orgs = {org_of(a) for a in alerts}
    if len(orgs) != 1:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, "an incident's alerts belong to one organization")
    org = orgs.pop() or ""
    sharing = request.app.state.sharing
    tlps = [sharing.alert_tlp(a) for a in alerts]
    tlp = body.tlp or max(tlps, key=stix.TLP_ORDER.index)
    sev = body.severity or max((s for a in alerts if isinstance(s := get(a, "event.severity"), int)), default=50)
    title = body.title or str(get(alerts[0], "rule.name") or get(alerts[0], "message") or "incident")
    now = now_iso()
    with db.tx() as conn:
        cur = conn.execute(
            "INSERT INTO incidents (org, title, description, severity, status, tlp, team_id, created_by, created, updated) "
            "VALUES (?,?,?,?, 'new', ?, NULL, ?, ?, ?)",
            (org, title[:300], body.description, max(1, min(100, sev)), tlp, user.actor, now, now),
        )
        iid = int(cur.lastrowid or 0)
        conn.executemany("INSERT INTO incident_alerts VALUES (?, ?)", [(iid, str(get(a, "event.id"))) for a in alerts])
        db.audit(user.actor, "create", "incident", str(iid), actor_org=user.org, orgs=[org],
                 detail={"alerts": [str(get(a, "event.id")) for a in alerts], "title": title, "tlp": tlp})
    row = _incident(db, user, iid)
    _publish(request, db, row)
    return _out(db, row)


@router.get("/incidents", response_model=IncidentPage)
def list_incidents(
    user: ReaderUser, db: SessionDep, tree: TreeDep, status_: Annotated[Status | None, Query(alias="status")] = None,
    organization: str | None = None, region: str | None = None,
    team_id: Annotated[int | None, Query(ge=1, le=2**62)] = None,
    size: Annotated[int, Query(ge=1, le=1000)] = 100, cursor: Annotated[str | None, Query(pattern=r"^\d{1,18}$")] = None,
) -> IncidentPage:
    orgs = scoped_orgs(user, tree, organization or region)
    where: list[str] = ["1"]
    args: list[Any] = []
    if orgs is not None:
        where.append(f"org IN ({','.join('?' * len(orgs))})" if orgs else "0")
        args += orgs
    for col, value in (("status", status_), ("team_id", team_id)):
        if value is not None:
            where.append(f"{col} = ?")
            args.append(value)
    cond = " AND ".join(where)
    total = int(db.scalar(f"SELECT COUNT(*) FROM incidents WHERE {cond}", args) or 0)
    if cursor is not None:
        cond += " AND id < ?"
        args.append(int(cursor))
    rows = db.query(f"SELECT * FROM incidents WHERE {cond} ORDER BY id DESC LIMIT ?", [*args, size + 1])
    more = len(rows) > size
    rows = rows[:size]
    audit_read(db, user, "incidents", {r["org"] for r in rows}, {"organization": organization, "region": region})
    return IncidentPage(items=[_out(db, r) for r in rows], total=total, cursor=str(rows[-1]["id"]) if more else None)


@router.get("/incidents/{iid}", response_model=IncidentOut)
def get_incident(iid: RowId, user: ReaderUser, db: SessionDep) -> IncidentOut:
    row = _incident(db, user, iid)
    audit_read(db, user, "incidents", [row["org"]], resource_id=str(iid))
    return _out(db, row)


@router.patch("/incidents/{iid}", response_model=IncidentOut)
def update_incident(iid: RowId, body: IncidentUpdate, request: Request, user: HandlerUser, db: SessionDep,
                    tree: TreeDep) -> IncidentOut:
    row = _incident(db, user, iid)
    changes = body.model_dump(exclude_unset=True)
    if not changes:
        return _out(db, row)
    if body.status is not None and body.status != row["status"] and body.status not in NEXT[row["status"]]:
        raise HTTPException(status.HTTP_409_CONFLICT, f"status {row['status']} cannot become {body.status}")
    if "team_id" in changes:
        if user.role not in ("admin", "responder"):
            raise HTTPException(status.HTTP_403_FORBIDDEN, "only responders assign support teams")
        team = _team(db, body.team_id)
        if body.team_id is not None and (team is None or team.org not in {row["org"], *tree.ancestors(row["org"])}):
            raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, "the team must belong to the incident's organization or above")
    fields = {k: v for k, v in changes.items() if k in ("status", "team_id", "title", "description", "severity", "tlp")}
    before = {k: row[k] for k in fields}
    with db.tx() as conn:
        sets = ", ".join(f"{k} = ?" for k in fields)
        conn.execute(f"UPDATE incidents SET {sets}, updated = ? WHERE id = ?", [*fields.values(), now_iso(), iid])
        db.audit(user.actor, "update", "incident", str(iid), actor_org=user.org, orgs=[row["org"]],
                 detail={"changes": fields, "before": before})
    row = _incident(db, user, iid)
    _publish(request, db, row)
    return _out(db, row)


@router.post("/incidents/{iid}/comments", response_model=CommentOut, status_code=201)
def add_comment(iid: RowId, body: CommentIn, user: HandlerUser, db: SessionDep) -> CommentOut:
    row = _incident(db, user, iid)
    now = now_iso()
    with db.tx() as conn:
        cur = conn.execute("INSERT INTO comments (incident_id, author, body, created) VALUES (?,?,?,?)",
                           (iid, user.actor, body.body, now))
        conn.execute("UPDATE incidents SET updated = ? WHERE id = ?", (now, iid))
        db.audit(user.actor, "comment", "incident", str(iid), actor_org=user.org, orgs=[row["org"]],
                 detail={"comment": cur.lastrowid})
    return CommentOut(id=int(cur.lastrowid or 0), author=user.actor, body=body.body, created=now)


@router.get("/incidents/{iid}/comments", response_model=list[CommentOut])
def list_comments(iid: RowId, user: ReaderUser, db: SessionDep) -> list[CommentOut]:
    row = _incident(db, user, iid)
    audit_read(db, user, "incidents/comments", [row["org"]], resource_id=str(iid))
    return [CommentOut(id=r["id"], author=r["author"], body=r["body"], created=r["created"])
            for r in db.query("SELECT * FROM comments WHERE incident_id = ? ORDER BY id", (iid,))]


@router.get("/incidents/{iid}/history", response_model=list[AuditEntry])
def history(iid: RowId, user: ReaderUser, db: SessionDep) -> list[AuditEntry]:
    _incident(db, user, iid)
    rows = db.query("SELECT * FROM audit WHERE resource = 'incident' AND resource_id = ? ORDER BY id", (str(iid),))
    return [AuditEntry(id=r["id"], ts=r["ts"], actor=r["actor"], action=r["action"], detail=loads(r["detail"]) or {})
            for r in rows]
