"""Advisories (通报预警): published by a regional responder, matched against every enterprise
inventory in the publisher's subtree; the affected enterprises and assets; acknowledgement and
remediation status per enterprise.

An advisory is visible to its publisher's subtree and above (readers whose scope includes the
publisher, and the enterprises and regions below it). Affected-enterprise rows are shown only
for enterprises in the reader's scope.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Query, Request, status
from pydantic import BaseModel, Field, StringConstraints

from api import stix
from api.db import Database, dumps, loads, now_iso
from api.deps import (
    HandlerUser,
    Principal,
    ReaderUser,
    ResponderUser,
    RowId,
    SessionDep,
    SettingsDep,
    StoreDep,
    TreeDep,
    audit_read,
    not_found,
)
from api.matching import MatchError, match_inventory, matcher
from api.tenancy import OrgTree

router = APIRouter(prefix="/advisories", tags=["advisories"])
TlpLevel = Literal["clear", "green", "amber", "amber+strict", "red"]
Remediation = Literal["open", "in_progress", "remediated", "mitigated", "not_affected", "accepted_risk"]
Bound = Literal["eq", "ge", "gt", "le", "lt"]
Cve = Annotated[str, StringConstraints(pattern=r"^CVE-\d{4}-\d{4,}$")]
Cnvd = Annotated[str, StringConstraints(pattern=r"^CNVD-\d{4}-\d{4,}$")]
Text = Annotated[str, StringConstraints(min_length=1, max_length=200)]


class AffectedIn(BaseModel):
    vendor: Text
    products: list[Text] = Field(default_factory=list, max_length=100, description="product names, matched whole")
    product_patterns: list[Text] = Field(default_factory=list, max_length=100, description="regular expressions")
    versions: list[dict[Bound, Text]] = Field(default_factory=list, max_length=50)


class AdvisoryIn(BaseModel):
    title: str = Field(min_length=1, max_length=300)
    description: str = Field(default="", max_length=20_000)
    cve: list[Cve] = Field(default_factory=list, max_length=100)
    cnvd: list[Cnvd] = Field(default_factory=list, max_length=100)
    severity: Literal["none", "low", "medium", "high", "critical"] = "high"
    remediation: str = Field(default="", max_length=20_000)
    references: list[Annotated[str, StringConstraints(max_length=2000)]] = Field(default_factory=list, max_length=50)
    tlp: TlpLevel = "amber"
    org: str | None = Field(default=None, description="publishing node (default: yours); its subtree is matched")
    affected: list[AffectedIn] = Field(min_length=1, max_length=50)


class AdvisoryOut(BaseModel):
    id: int
    ref: str
    org: str
    title: str
    description: str
    cve: list[str]
    cnvd: list[str]
    severity: str
    remediation: str
    references: list[str]
    tlp: TlpLevel
    affected: list[AffectedIn]
    published_by: str
    created: str
    matched: str | None
    affected_enterprises: int
    affected_assets: int


class AffectedEnterprise(BaseModel):
    org: str
    name: str
    path: str
    assets: list[dict[str, Any]]
    acknowledged: bool
    remediation: Remediation
    note: str | None
    updated_by: str | None
    updated: str | None


class TargetUpdate(BaseModel):
    acknowledged: bool | None = None
    remediation: Remediation | None = None
    note: str | None = Field(default=None, max_length=5000)


def ref_of(aid: int) -> str:
    return f"ICSSA-ADV-{aid:06d}"


def _visible(user: Principal, org: str) -> bool:
    return user.scope.allows(org) or org in user.scope.upstream


def _row(db: Database, user: Principal, aid: int) -> Any:
    row = db.one("SELECT * FROM advisories WHERE id = ?", (aid,))
    if row is None or not _visible(user, row["org"]):
        raise not_found(f"advisory {aid}")
    return row


def _targets(db: Database, user: Principal, aid: int) -> list[Any]:
    rows = db.query("SELECT * FROM advisory_targets WHERE advisory_id = ? ORDER BY org", (aid,))
    return [r for r in rows if user.scope.allows(r["org"])]


def _out(db: Database, user: Principal, row: Any) -> AdvisoryOut:
    doc = loads(row["doc"])
    targets = _targets(db, user, row["id"])
    return AdvisoryOut(
        id=row["id"], ref=ref_of(row["id"]), org=row["org"], title=row["title"], tlp=row["tlp"],
        published_by=row["published_by"], created=row["created"], matched=row["matched"],
        affected_enterprises=len(targets), affected_assets=sum(len(loads(t["assets"])) for t in targets), **doc,
    )


def _match(request: Request, db: Database, store: Any, tree: OrgTree, row: Any, max_scan: int) -> dict[str, int]:
    doc = loads(row["doc"])
    try:
        adv = matcher(ref_of(row["id"]), row["title"], doc["affected"])
    except MatchError as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(exc)) from None
    found, _ = match_inventory(store, adv, sorted(tree.subtree(row["org"])), max_scan)
    now = now_iso()
    with db.tx() as conn:
        for org, assets in found.items():
            conn.execute(
                "INSERT INTO advisory_targets (advisory_id, org, assets) VALUES (?,?,?) "
                "ON CONFLICT(advisory_id, org) DO UPDATE SET assets = excluded.assets",
                (row["id"], org, dumps(assets)),
            )
        stale = [r["org"] for r in conn.execute("SELECT org, acknowledged FROM advisory_targets WHERE advisory_id = ?",
                                                 (row["id"],)) if r["org"] not in found]
        for org in stale:  # no longer matching: forget it unless someone already answered
            conn.execute("UPDATE advisory_targets SET assets = '[]' WHERE advisory_id = ? AND org = ?", (row["id"], org))
            conn.execute("DELETE FROM advisory_targets WHERE advisory_id = ? AND org = ? AND acknowledged = 0 "
                         "AND remediation = 'open'", (row["id"], org))
        conn.execute("UPDATE advisories SET matched = ? WHERE id = ?", (now, row["id"]))
    counts = {org: len(assets) for org, assets in found.items()}
    record = {**doc, "id": row["id"], "ref": ref_of(row["id"]), "title": row["title"], "org": row["org"],
              "created": row["created"], "updated": now}
    settings = request.app.state.settings
    objects = stix.advisory_objects(record, row["tlp"], counts, settings.platform_name)
    request.app.state.sharing.publish("advisories", objects, row["org"], row["tlp"])
    return counts


@router.post("", response_model=AdvisoryOut, status_code=201)
def publish(body: AdvisoryIn, request: Request, user: ResponderUser, db: SessionDep, store: StoreDep, tree: TreeDep,
            settings: SettingsDep) -> AdvisoryOut:
    org = body.org or user.org
    if org not in tree or not user.scope.allows(org):
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, f"organization {org} is not in your scope")
    try:
        matcher("check", body.title, [a.model_dump() for a in body.affected])
    except MatchError as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(exc)) from None
    doc = body.model_dump(exclude={"title", "tlp", "org"})
    cur = db.execute(
        "INSERT INTO advisories (org, title, tlp, doc, published_by, created) VALUES (?,?,?,?,?,?)",
        (org, body.title, body.tlp, dumps(doc), user.actor, now_iso()),
    )
    aid = int(cur.lastrowid or 0)
    row = _row(db, user, aid)
    counts = _match(request, db, store, tree, row, settings.max_scan)
    db.audit(user.actor, "publish", "advisory", str(aid), actor_org=user.org, orgs=[org, *counts],
             detail={"title": body.title, "affected": counts})
    return _out(db, user, _row(db, user, aid))


@router.get("", response_model=list[AdvisoryOut])
def list_advisories(user: ReaderUser, db: SessionDep, limit: Annotated[int, Query(ge=1, le=1000)] = 100) -> list[AdvisoryOut]:
    rows = db.query("SELECT * FROM advisories ORDER BY id DESC")
    return [_out(db, user, r) for r in rows if _visible(user, r["org"])][:limit]


@router.get("/{aid}", response_model=AdvisoryOut)
def get_advisory(aid: RowId, user: ReaderUser, db: SessionDep) -> AdvisoryOut:
    return _out(db, user, _row(db, user, aid))


@router.get("/{aid}/affected", response_model=list[AffectedEnterprise])
def affected(aid: RowId, user: ReaderUser, db: SessionDep, tree: TreeDep) -> list[AffectedEnterprise]:
    _row(db, user, aid)
    out = []
    for t in _targets(db, user, aid):
        node = tree.nodes.get(t["org"])
        out.append(AffectedEnterprise(
            org=t["org"], name=node.name if node else t["org"], path=node.path if node else "", assets=loads(t["assets"]),
            acknowledged=bool(t["acknowledged"]), remediation=t["remediation"], note=t["note"],
            updated_by=t["updated_by"], updated=t["updated"],
        ))
    audit_read(db, user, "advisories/affected", [a.org for a in out], resource_id=str(aid))
    return out


@router.post("/{aid}/match", response_model=AdvisoryOut)
def rematch(aid: RowId, request: Request, user: ResponderUser, db: SessionDep, store: StoreDep, tree: TreeDep,
            settings: SettingsDep) -> AdvisoryOut:
    row = _row(db, user, aid)
    if not user.scope.allows(row["org"]):
        raise HTTPException(status.HTTP_403_FORBIDDEN, "only the publisher's region rematches an advisory")
    counts = _match(request, db, store, tree, row, settings.max_scan)
    db.audit(user.actor, "match", "advisory", str(aid), actor_org=user.org, orgs=[row["org"], *counts], detail={"affected": counts})
    return _out(db, user, _row(db, user, aid))


@router.put("/{aid}/enterprises/{org}", response_model=AffectedEnterprise)
def update_target(aid: RowId, org: str, body: TargetUpdate, user: HandlerUser, db: SessionDep, tree: TreeDep) -> AffectedEnterprise:
    _row(db, user, aid)
    if not user.scope.allows(org):
        raise not_found(f"enterprise {org}")
    t = db.one("SELECT * FROM advisory_targets WHERE advisory_id = ? AND org = ?", (aid, org))
    if t is None:
        raise not_found(f"enterprise {org} among the advisory's affected")
    ack = int(body.acknowledged) if body.acknowledged is not None else t["acknowledged"]
    rem = body.remediation or t["remediation"]
    note = body.note if body.note is not None else t["note"]
    now = now_iso()
    db.execute("UPDATE advisory_targets SET acknowledged = ?, remediation = ?, note = ?, updated_by = ?, updated = ? "
               "WHERE advisory_id = ? AND org = ?", (ack, rem, note, user.actor, now, aid, org))
    db.audit(user.actor, "update", "advisory_target", f"{aid}/{org}", actor_org=user.org, orgs=[org],
             detail=body.model_dump(exclude_unset=True))
    node = tree.nodes.get(org)
    return AffectedEnterprise(org=org, name=node.name if node else org, path=node.path if node else "",
                              assets=loads(t["assets"]), acknowledged=bool(ack), remediation=rem, note=note,
                              updated_by=user.actor, updated=now)
