"""The communication graph of one site (an enterprise), rebuilt from its events in the store.

The asset map folds the site's newest ``max_events`` events (in time order) into hosts and
(client, server, protocol) edges: networkx node-link form with an ``edges`` key, as
``icssa replay`` writes ``graph.json``. Sites are enterprises: two plants may use the same
private addresses, so a region has no single graph.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, status
from pydantic import BaseModel

from api.deps import ReaderUser, SessionDep, StoreDep, TreeDep, audit_read, not_found
from api.query import bad_query
from assetmap import AssetMap
from icssa.store import EventQuery

router = APIRouter(prefix="/graph", tags=["graph"])


class GraphOut(BaseModel):
    organization: str
    directed: bool
    multigraph: bool
    graph: dict[str, Any]
    nodes: list[dict[str, Any]]
    edges: list[dict[str, Any]]
    events: int
    truncated: bool


@router.get("/{organization}", response_model=GraphOut)
def site_graph(
    organization: str, user: ReaderUser, store: StoreDep, tree: TreeDep, db: SessionDep,
    start: str | None = None, end: str | None = None,
    max_events: Annotated[int, Query(ge=1, le=200_000)] = 20_000,
) -> GraphOut:
    node = tree.nodes.get(organization)
    if node is None or not user.scope.allows(organization):
        raise not_found(f"organization {organization}")
    if node.level != "enterprise":
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, "a graph is per site: give an enterprise")
    q = EventQuery(start=start, end=end, organizations=[organization])
    events: list[dict[str, Any]] = []
    cursor: str | None = None
    truncated = False
    try:
        while True:
            page = store.search_events(q, size=min(1000, max_events - len(events)), cursor=cursor)
            events.extend(page.items)
            cursor = page.cursor
            if cursor is None:
                break
            if len(events) >= max_events:
                truncated = True
                break
    except ValueError as exc:
        raise bad_query(exc) from None
    amap = AssetMap()
    for event in reversed(events):
        amap.observe(event)
    data = amap.graph_node_link()
    audit_read(db, user, "graph", [organization], {"events": len(events)}, resource_id=organization)
    return GraphOut(
        organization=organization, directed=data["directed"], multigraph=data["multigraph"], graph=data["graph"],
        nodes=data["nodes"], edges=data["edges"], events=len(events), truncated=truncated,
    )
