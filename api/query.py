"""Scoped reads composed over the store interface, and what the store cannot filter yet.

``icssa.store`` filters by organization list, time, ip, rule, technique, role, zone, vendor and
protocol. Two things the API needs are not in it and are done here by scanning store pages:

- assets by exposure (``exposure=any`` or a finding kind such as ``s7_no_protection``): a page
  may come back with fewer items than asked (a *sparse* page) while its cursor runs on, and
  ``total`` is None; at most ``max_scan`` assets are read per request;
- counting exposed assets for the overview.

Both would be one indexed condition in the store (``AssetQuery.exposure``); see the report.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

import orjson
from fastapi import HTTPException, Response, status
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from api.deps import Principal
from api.tenancy import OrgTree
from icssa.events import get
from icssa.store import AssetQuery, Page, Store

#: ECS event.severity (1..100) bands used by aggregates and the overview
SEVERITY_BANDS: tuple[tuple[str, int], ...] = (("critical", 90), ("high", 70), ("medium", 40), ("low", 0))


class DocPage(BaseModel):
    """A page of store documents; pass ``cursor`` back for the next page (None: last page)."""

    items: list[dict[str, Any]]
    total: int | None
    cursor: str | None = None


class DocJSON(JSONResponse):
    """JSON written by orjson and returned as is. FastAPI neither validates nor re-encodes a
    ``Response`` (for a ``def`` route it would validate in the thread pool, one more thread
    hand-off), so routes answering with store documents build this from values they made
    (the route still names its ``response_model`` for the OpenAPI document)."""

    def render(self, content: Any) -> bytes:
        try:
            return orjson.dumps(content)
        except (TypeError, orjson.JSONEncodeError):  # e.g. an integer beyond 64 bits
            return super().render(content)


def page_out(items: list[dict[str, Any]], total: int | None, cursor: str | None) -> DocJSON:
    """A ``DocPage``."""
    return DocJSON({"items": items, "total": total, "cursor": cursor})


def model_out(model: BaseModel) -> Response:
    """A response model's JSON (pydantic's encoder, no second validation)."""
    return Response(model.model_dump_json(), media_type="application/json")


def org_of(doc: Mapping[str, Any]) -> str | None:
    value = get(doc, "organization.id")
    return value if isinstance(value, str) else None


def band(severity: int) -> str:
    for name, floor in SEVERITY_BANDS:
        if severity >= floor:
            return name
    return "low"


def bands(by_severity: Mapping[int, int]) -> dict[str, int]:
    out = {name: 0 for name, _ in SEVERITY_BANDS}
    for sev, n in by_severity.items():
        out[band(int(sev))] += n
    return out


def exposure_test(exposure: str) -> Callable[[Mapping[str, Any]], bool]:
    def test(asset: Mapping[str, Any]) -> bool:
        found = asset.get("exposure") or []
        if not isinstance(found, list) or not found:
            return False
        if exposure == "any":
            return True
        return any(isinstance(f, Mapping) and f.get("kind") == exposure for f in found)

    return test


def filtered_assets(
    store: Store, q: AssetQuery, keep: Callable[[Mapping[str, Any]], bool], size: int, cursor: str | None,
    max_scan: int,
) -> Page:
    """A sparse page of assets passing ``keep`` (see the module docstring)."""
    items: list[dict[str, Any]] = []
    scanned = 0
    while True:
        page = store.search_assets(q, size=size, cursor=cursor)
        scanned += len(page.items)
        items.extend(a for a in page.items if keep(a))
        cursor = page.cursor
        if items or cursor is None or scanned >= max_scan:
            return Page(items, -1, cursor)


def count_exposed(store: Store, orgs: list[str] | None, max_scan: int) -> int:
    test = exposure_test("any")
    n = scanned = 0
    cursor: str | None = None
    while scanned < max_scan:
        page = store.search_assets(AssetQuery(organizations=orgs), size=1000, cursor=cursor)
        scanned += len(page.items)
        n += sum(1 for a in page.items if test(a))
        cursor = page.cursor
        if cursor is None:
            break
    return n


def claim_docs(docs: Iterable[dict[str, Any]], user: Principal, tree: OrgTree, kind: str) -> list[dict[str, Any]]:
    """Documents a machine may write: each inside the caller's subtree (an enterprise caller's
    documents without ``organization.id`` get its id); 403 on the first outside."""
    out = []
    for doc in docs:
        org = org_of(doc)
        if org is None and user.org in tree and tree.nodes[user.org].level == "enterprise":
            doc = {**doc, "organization": {**(doc.get("organization") or {}), "id": user.org}}
            org = user.org
        if org is None or org not in tree or not user.scope.allows(org):
            raise HTTPException(status.HTTP_403_FORBIDDEN, f"{kind}: organization {org} is outside your scope")
        out.append(doc)
    return out


def bad_query(exc: ValueError) -> HTTPException:
    return HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(exc))
