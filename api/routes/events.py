"""Events: search of protocol events in scope, counts by dataset and action, ingest."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel, Field

from api.deps import ReaderUser, SensorUser, SessionDep, StoreDep, TreeDep, audit_read, not_found, scoped_orgs
from api.query import DocJSON, DocPage, bad_query, claim_docs, org_of, page_out
from icssa.store import EventQuery

router = APIRouter(prefix="/events", tags=["events"])
Size = Annotated[int, Query(ge=1, le=1000)]


class EventBatch(BaseModel):
    events: list[dict[str, Any]] = Field(max_length=50_000)


class Written(BaseModel):
    written: int


class EventStatsOut(BaseModel):
    total: int
    by_dataset: dict[str, int]
    by_action: dict[str, int]


@router.get("", response_model=DocPage)
def search_events(
    user: ReaderUser, store: StoreDep, tree: TreeDep, db: SessionDep,
    start: str | None = None, end: str | None = None, organization: str | None = None, region: str | None = None,
    dataset: str | None = None, action: str | None = None, ip: str | None = None, observer: str | None = None,
    community_id: str | None = None, size: Size = 100, cursor: str | None = None,
) -> Response:
    q = EventQuery(start=start, end=end, organizations=scoped_orgs(user, tree, organization or region),
                   dataset=dataset, action=action, ip=ip, observer=observer, community_id=community_id)
    try:
        page = store.search_events(q, size=size, cursor=cursor)
    except ValueError as exc:
        raise bad_query(exc) from None
    audit_read(db, user, "events", {org_of(e) for e in page.items}, {"organization": organization, "region": region})
    return page_out(page.items, page.total, page.cursor)


@router.get("/stats", response_model=EventStatsOut)
def event_stats(
    user: ReaderUser, store: StoreDep, tree: TreeDep, db: SessionDep,
    start: str | None = None, end: str | None = None, organization: str | None = None, region: str | None = None,
    dataset: str | None = None, top: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> EventStatsOut:
    q = EventQuery(start=start, end=end, organizations=scoped_orgs(user, tree, organization or region), dataset=dataset)
    try:
        stats = store.event_stats(q, top=top)
    except ValueError as exc:
        raise bad_query(exc) from None
    audit_read(db, user, "events/stats", q.organizations if q.organizations is not None else ["*"],
               {"organization": organization, "region": region})
    return EventStatsOut(total=stats.total, by_dataset=stats.by_dataset, by_action=stats.by_action)


@router.get("/{event_id}", response_model=dict[str, Any])
def get_event(event_id: str, user: ReaderUser, store: StoreDep, db: SessionDep) -> Response:
    doc = store.get("events", event_id)
    if doc is None or not user.scope.allows(org_of(doc)):
        raise not_found(f"event {event_id}")
    audit_read(db, user, "events", [org_of(doc)], resource_id=event_id)
    return DocJSON(doc)


@router.post("", response_model=Written, status_code=201)
def put_events(body: EventBatch, user: SensorUser, store: StoreDep, tree: TreeDep, db: SessionDep) -> Written:
    docs = claim_docs(body.events, user, tree, "events")
    try:
        n = store.put_events(docs)
    except ValueError as exc:
        raise bad_query(exc) from None
    store.refresh()
    db.audit(user.actor, "ingest", "events", None, actor_org=user.org, orgs={org_of(d) or "" for d in docs},
             detail={"count": n})
    return Written(written=n)
