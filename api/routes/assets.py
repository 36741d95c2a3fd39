"""Assets: the inventory of every enterprise in scope; machines write, readers filter."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel, Field

from api.deps import (
    ReaderUser,
    SensorUser,
    SessionDep,
    SettingsDep,
    StoreDep,
    TreeDep,
    audit_read,
    not_found,
    scoped_orgs,
)
from api.query import (
    DocJSON,
    DocPage,
    bad_query,
    claim_docs,
    exposure_test,
    filtered_assets,
    org_of,
    page_out,
)
from icssa.store import AssetQuery, asset_doc_id

router = APIRouter(prefix="/assets", tags=["assets"])
Size = Annotated[int, Query(ge=1, le=1000)]


class AssetBatch(BaseModel):
    assets: list[dict[str, Any]] = Field(max_length=10_000)


class Written(BaseModel):
    written: int


@router.get("", response_model=DocPage)
def list_assets(
    user: ReaderUser, store: StoreDep, tree: TreeDep, db: SessionDep, settings: SettingsDep,
    organization: str | None = None, region: str | None = None, zone: str | None = None,
    role: str | None = None, vendor: str | None = None, protocol: str | None = None, ip: str | None = None,
    exposure: Annotated[str | None, Query(description="'any' or a finding kind, e.g. s7_no_protection")] = None,
    size: Size = 100, cursor: str | None = None,
) -> Response:
    orgs = scoped_orgs(user, tree, organization or region)
    q = AssetQuery(organizations=orgs, ip=ip, role=role, protocol=protocol, zone=zone, vendor=vendor)
    try:
        if exposure:
            page = filtered_assets(store, q, exposure_test(exposure), size, cursor, settings.max_scan)
        else:
            page = store.search_assets(q, size=size, cursor=cursor)
    except ValueError as exc:
        raise bad_query(exc) from None
    audit_read(db, user, "assets", {org_of(a) for a in page.items}, {"organization": organization, "region": region})
    return page_out(page.items, None if exposure else page.total, page.cursor)


@router.get("/{organization}/{asset_id:path}", response_model=dict[str, Any])
def get_asset(organization: str, asset_id: str, user: ReaderUser, store: StoreDep, db: SessionDep) -> Response:
    if not user.scope.allows(organization):
        raise not_found("asset")
    doc = store.get("assets", f"{organization}/{asset_id}")
    if doc is None:
        raise not_found("asset")
    audit_read(db, user, "assets", [organization], resource_id=f"{organization}/{asset_id}")
    return DocJSON(doc)


@router.post("", response_model=Written, status_code=201)
def put_assets(body: AssetBatch, user: SensorUser, store: StoreDep, tree: TreeDep, db: SessionDep) -> Written:
    docs = claim_docs(body.assets, user, tree, "assets")
    for doc in docs:
        if not isinstance(doc.get("id"), str | int):
            raise bad_query(ValueError("each asset needs an id"))
    n = store.put_assets(docs)
    store.refresh()
    db.audit(user.actor, "ingest", "assets", None, actor_org=user.org, orgs={org_of(d) or "" for d in docs},
             detail={"count": n, "ids": [asset_doc_id(d) for d in docs[:20]]})
    return Written(written=n)
