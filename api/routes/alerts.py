"""Alerts: filtered search, aggregates (region, technique, severity, time), TLP marking, ingest.

Each alert is answered with its effective TLP in ``marking.tlp``: the override set here, else
the alert's own ``marking.tlp``, else the platform default.
"""

from __future__ import annotations

import asyncio
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel, Field

from api.db import Database, now_iso
from api.deps import (
    HandlerUser,
    Principal,
    ReaderUser,
    SensorUser,
    SessionDep,
    StoreDep,
    TreeDep,
    audit_read,
    not_found,
    scoped_orgs,
    store_read,
)
from api.query import DocJSON, DocPage, bad_query, bands, claim_docs, model_out, org_of, page_out
from api.regions import Region, region_groups
from api.sharing import Sharing
from api.tenancy import OrgTree
from icssa.events import get
from icssa.store import AlertQuery, Store

router = APIRouter(prefix="/alerts", tags=["alerts"])
Size = Annotated[int, Query(ge=1, le=1000)]
TlpLevel = Literal["clear", "green", "amber", "amber+strict", "red"]


class AlertBatch(BaseModel):
    alerts: list[dict[str, Any]] = Field(max_length=10_000)


class Written(BaseModel):
    written: int


class RegionCount(BaseModel):
    region: Region
    count: int


class TimeBucket(BaseModel):
    start: str
    count: int


class AlertStatsOut(BaseModel):
    total: int
    by_region: list[RegionCount]
    by_technique: dict[str, int]
    by_severity: dict[str, int]
    by_severity_value: dict[str, int]
    by_rule: dict[str, int]
    over_time: list[TimeBucket]


class Marking(BaseModel):
    tlp: TlpLevel


class AlertMarking(BaseModel):
    alert_id: str
    tlp: TlpLevel


def _sharing(request: Request) -> Sharing:
    return request.app.state.sharing  # type: ignore[no-any-return]


def with_tlp(db: Database, sharing: Sharing, alerts: list[dict[str, Any]]) -> list[dict[str, Any]]:
    ids = [str(get(a, "event.id")) for a in alerts]
    overrides: dict[str, str] = {}
    if ids:
        rows = db.query(f"SELECT alert_id, tlp FROM alert_tlp WHERE alert_id IN ({','.join('?' * len(ids))})", ids)
        overrides = {r[0]: r[1] for r in rows}
    out = []
    for a, aid in zip(alerts, ids, strict=True):
        marking = dict(a.get("marking") or {})
        marking["tlp"] = sharing.alert_tlp(a, overrides.get(aid, ""))
        out.append({**a, "marking": marking})
    return out


def _region_counts(store: Store, user: Principal, tree: OrgTree, ref: str | None,
                   kw: dict[str, Any]) -> list[tuple[Region, int]]:
    """Alerts per region group: one count per organization (one query), summed by group."""
    groups = region_groups(user, tree, ref)
    every = sorted({o for _, orgs in groups for o in orgs})
    counts = store.count_alerts_by_org(AlertQuery(organizations=every, **kw)) if every else {}
    return [(reg, sum(counts.get(o, 0) for o in orgs)) for reg, orgs in groups]


def _query(user: Principal, tree: Any, organization: str | None, region: str | None, **kw: Any) -> AlertQuery:
    return AlertQuery(organizations=scoped_orgs(user, tree, organization or region), **kw)


@router.get("", response_model=DocPage)
async def list_alerts(
    request: Request, user: ReaderUser, store: StoreDep, tree: TreeDep, db: SessionDep,
    start: str | None = None, end: str | None = None, organization: str | None = None, region: str | None = None,
    rule_id: str | None = None, technique: str | None = None, min_severity: Annotated[int | None, Query(ge=0, le=100)] = None,
    ip: str | None = None, size: Size = 100, cursor: str | None = None,
) -> Response:
    q = _query(user, tree, organization, region, start=start, end=end, rule_id=rule_id, technique=technique,
               min_severity=min_severity, ip=ip)
    try:
        page = await store_read(store, store.search_alerts, q, size=size, cursor=cursor)
    except ValueError as exc:
        raise bad_query(exc) from None
    audit_read(db, user, "alerts", {org_of(a) for a in page.items}, {"organization": organization, "region": region})
    return page_out(with_tlp(db, _sharing(request), page.items), page.total, page.cursor)


@router.get("/stats", response_model=AlertStatsOut)
async def alert_stats(
    user: ReaderUser, store: StoreDep, tree: TreeDep, db: SessionDep,
    start: str | None = None, end: str | None = None, organization: str | None = None, region: str | None = None,
    rule_id: str | None = None, technique: str | None = None, min_severity: Annotated[int | None, Query(ge=0, le=100)] = None,
    interval: Annotated[int, Query(ge=60, le=31 * 86400)] = 3600, top: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> Response:
    ref = organization or region
    kw: dict[str, Any] = {"start": start, "end": end, "rule_id": rule_id, "technique": technique, "min_severity": min_severity}
    q = _query(user, tree, organization, region, **kw)
    try:
        stats, regions = await asyncio.gather(  # two Elasticsearch requests at once
            store_read(store, store.alert_stats, q, interval_seconds=interval, top=top),
            store_read(store, _region_counts, store, user, tree, ref, kw),
        )
    except ValueError as exc:
        raise bad_query(exc) from None
    by_region = [RegionCount(region=reg, count=n) for reg, n in regions]
    audit_read(db, user, "alerts/stats", q.organizations if q.organizations is not None else ["*"], {"region": ref})
    return model_out(AlertStatsOut(
        total=stats.total, by_region=by_region, by_technique=stats.by_technique, by_severity=bands(stats.by_severity),
        by_severity_value={str(k): v for k, v in stats.by_severity.items()}, by_rule=stats.by_rule,
        over_time=[TimeBucket(start=s, count=n) for s, n in stats.over_time],
    ))


@router.get("/{alert_id}", response_model=dict[str, Any])
async def get_alert(alert_id: str, request: Request, user: ReaderUser, store: StoreDep, db: SessionDep) -> Response:
    doc = await store_read(store, store.get, "alerts", alert_id)
    if doc is None or not user.scope.allows(org_of(doc)):
        raise not_found(f"alert {alert_id}")
    audit_read(db, user, "alerts", [org_of(doc)], resource_id=alert_id)
    return DocJSON(with_tlp(db, _sharing(request), [doc])[0])


@router.put("/{alert_id}/tlp", response_model=AlertMarking)
def set_tlp(alert_id: str, body: Marking, request: Request, user: HandlerUser, store: StoreDep,
            db: SessionDep) -> AlertMarking:
    doc = store.get("alerts", alert_id)
    if doc is None or not user.scope.allows(org_of(doc)):
        raise not_found(f"alert {alert_id}")
    before = _sharing(request).alert_tlp(doc)
    db.execute("INSERT OR REPLACE INTO alert_tlp VALUES (?,?,?,?)", (alert_id, body.tlp, user.actor, now_iso()))
    db.audit(user.actor, "mark", "alert", alert_id, actor_org=user.org, orgs=[org_of(doc) or ""],
             detail={"tlp": body.tlp, "was": before})
    _sharing(request).republish_alert(alert_id, body.tlp)
    return AlertMarking(alert_id=alert_id, tlp=body.tlp)


@router.post("", response_model=Written, status_code=201)
def put_alerts(body: AlertBatch, request: Request, user: SensorUser, store: StoreDep, tree: TreeDep,
               db: SessionDep) -> Written:
    docs = claim_docs(body.alerts, user, tree, "alerts")
    try:
        n = store.put_alerts(docs)
    except ValueError as exc:
        raise bad_query(exc) from None
    store.refresh()
    _sharing(request).publish_alerts(docs)
    db.audit(user.actor, "ingest", "alerts", None, actor_org=user.org, orgs={org_of(d) or "" for d in docs},
             detail={"count": n, "ids": [str(get(d, "event.id")) for d in docs[:20]]})
    return Written(written=n)
