"""TAXII 2.1 server (OASIS TAXII 2.1 CS01), scoped by tenancy.

- ``GET /taxii2/``: discovery; one API root per organization node the caller may see at
  province, city or county level (plus an enterprise caller's own, an auditor's assigned ones).
- ``GET /taxii2/{root}/``: API root; ``/collections/``: ``alerts``, ``advisories``,
  ``incidents`` (read) and ``inbox`` (read; write for child platforms, sensors, responders).
- ``/collections/{id}/objects/`` (GET with ``added_after``, ``limit``, ``next``,
  ``match[id|type|version|spec_version]``; POST an envelope), ``/objects/{object_id}/``,
  ``/objects/{object_id}/versions/``, ``/manifest/``, ``/status/{status_id}/``.

Every response is ``application/taxii+json;version=2.1``; requests must accept it (406) and
POSTs must send it (415). Errors are TAXII error messages.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any

import orjson
import stix2
import stix2.exceptions
from fastapi import APIRouter, Depends, HTTPException, Query, Request, Response, status
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from api import taxii_query as tq
from api.db import dumps, loads, now_iso
from api.deps import CurrentUser, Principal, SessionDep, SettingsDep, TreeDep, audit_read
from api.stix import NS
from api.tenancy import OrgTree

TAXII = "application/taxii+json;version=2.1"
STIX = "application/stix+json;version=2.1"
MAX_CONTENT = 10 * 1024 * 1024
WRITERS = ("admin", "responder", "sensor")
TITLES = {
    "alerts": "Alerts: indicators, observed data and sightings",
    "advisories": "Advisories: vulnerabilities and courses of action",
    "incidents": "Incidents",
    "inbox": "Received from child platforms",
}


class TaxiiResponse(JSONResponse):
    media_type = TAXII

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)


router = APIRouter(prefix="/taxii2", tags=["taxii"], default_response_class=TaxiiResponse)


class Discovery(BaseModel):
    title: str
    description: str | None = None
    default: str | None = None
    api_roots: list[str] = Field(default_factory=list)


class ApiRoot(BaseModel):
    title: str
    description: str | None = None
    versions: list[str]
    max_content_length: int


class CollectionInfo(BaseModel):
    id: str
    title: str
    description: str | None = None
    can_read: bool
    can_write: bool
    media_types: list[str]


class Collections(BaseModel):
    collections: list[CollectionInfo] = Field(default_factory=list)


class Envelope(BaseModel):
    more: bool | None = None
    next: str | None = None
    objects: list[dict[str, Any]] | None = None


class ManifestRecord(BaseModel):
    id: str
    date_added: str
    version: str
    media_type: str


class Manifest(BaseModel):
    more: bool | None = None
    objects: list[ManifestRecord] | None = None


class Versions(BaseModel):
    more: bool | None = None
    versions: list[str] | None = None


class StatusDetail(BaseModel):
    id: str
    version: str
    message: str | None = None


class StatusResource(BaseModel):
    id: str
    status: str
    request_timestamp: str | None = None
    total_count: int
    success_count: int
    successes: list[StatusDetail] = Field(default_factory=list)
    failure_count: int
    failures: list[StatusDetail] = Field(default_factory=list)
    pending_count: int
    pendings: list[StatusDetail] = Field(default_factory=list)


def _accepts(request: Request) -> None:
    accept = request.headers.get("accept", "")
    ok = any(
        part.split(";")[0].strip() in ("application/taxii+json", "*/*", "application/*")
        and ("version=" not in part or "version=2.1" in part.replace(" ", ""))
        for part in accept.split(",")
    )
    if not ok:
        raise HTTPException(status.HTTP_406_NOT_ACCEPTABLE, f"accept {TAXII}")


def roots_for(tree: OrgTree, user: Principal) -> list[str]:
    """API roots a caller may use, its own first."""
    scope = user.scope
    if user.role == "researcher":
        return []
    if user.role == "sensor":
        return [user.org] if user.org in tree else []
    if user.role == "auditor":
        return sorted(scope.orgs or ())
    found = [oid for oid, node in tree.nodes.items() if node.level != "enterprise" and scope.allows(oid)]
    if user.org in tree and user.org not in found:
        found.append(user.org)
    return sorted(found, key=lambda o: (o != user.org, tree.nodes[o].path))


def _root(tree: OrgTree, user: Principal, root: str) -> str:
    if root not in roots_for(tree, user):
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"API root {root} not found")
    return root


def collection_id(root: str, kind: str) -> str:
    return str(uuid.uuid5(NS, f"collection:{root}:{kind}"))


def _collection(root: str, cid: str) -> str:
    for kind in tq.KINDS:
        if collection_id(root, kind) == cid:
            return kind
    raise HTTPException(status.HTTP_404_NOT_FOUND, f"collection {cid} not found")


def _info(root: str, kind: str, user: Principal) -> CollectionInfo:
    return CollectionInfo(
        id=collection_id(root, kind), title=TITLES[kind], description=f"{kind} of {root} and below",
        can_read=user.role != "sensor", can_write=kind == "inbox" and user.role in WRITERS, media_types=[STIX],
    )


def _readable(user: Principal) -> None:
    if user.role == "sensor":
        raise HTTPException(status.HTTP_403_FORBIDDEN, "sensors write, they do not read")


def _added_after(value: str | None) -> str | None:
    if value is None:
        return None
    try:
        dt = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, f"added_after {value!r} is not a timestamp") from None
    return now_iso(dt if dt.tzinfo else dt.replace(tzinfo=UTC))


def _split(value: str | None) -> list[str]:
    return [v.strip() for v in value.split(",") if v.strip()] if value else []


@router.get("/", response_model=Discovery)
def discovery(request: Request, user: CurrentUser, tree: TreeDep, settings: SettingsDep) -> Discovery:
    _accepts(request)
    roots = [f"/taxii2/{r}/" for r in roots_for(tree, user)]
    return Discovery(
        title=f"{settings.platform_name} TAXII 2.1", description="ICS security situational-awareness sharing",
        default=roots[0] if roots else None, api_roots=roots,
    )


@router.get("/{root}/", response_model=ApiRoot)
def api_root(root: str, request: Request, user: CurrentUser, tree: TreeDep) -> ApiRoot:
    _accepts(request)
    node = tree.nodes[_root(tree, user, root)]
    return ApiRoot(title=f"{node.name} ({node.path})", description=f"{node.level} {node.path}", versions=[TAXII],
                   max_content_length=MAX_CONTENT)


@router.get("/{root}/collections/", response_model=Collections)
def collections(root: str, request: Request, user: CurrentUser, tree: TreeDep) -> Collections:
    _accepts(request)
    _root(tree, user, root)
    return Collections(collections=[_info(root, k, user) for k in tq.KINDS])


@router.get("/{root}/collections/{cid}/", response_model=CollectionInfo)
def collection(root: str, cid: str, request: Request, user: CurrentUser, tree: TreeDep) -> CollectionInfo:
    _accepts(request)
    _root(tree, user, root)
    return _info(root, _collection(root, cid), user)


def _page(
    request: Request, user: Principal, tree: OrgTree, db: Any, root: str, cid: str, added_after: str | None,
    limit: int, next_: str | None, match_id: str | None, match_type: str | None, match_version: str | None,
    match_spec_version: str | None, ids: list[str] | None = None,
) -> tuple[list[Any], bool]:
    _accepts(request)
    _readable(user)
    kind = _collection(_root(tree, user, root), cid)
    after_seq = None
    if next_ is not None:
        if not next_.isdigit():
            raise HTTPException(status.HTTP_400_BAD_REQUEST, f"next {next_!r} is not ours")
        after_seq = int(next_)
    if match_spec_version is not None and "2.1" not in _split(match_spec_version):
        return [], False
    q = tq.Query(
        kind=kind, visible=tq.visible_orgs(tree, user.scope, root, kind), added_after=_added_after(added_after),
        after_seq=after_seq, ids=ids if ids is not None else _split(match_id), types=_split(match_type),
        versions=_split(match_version) or ["last"], limit=limit,
    )
    rows, more = tq.fetch(db, q)
    audit_read(db, user, f"taxii/{kind}", {r["org"] for r in rows if r["org"]}, {"root": root, "count": len(rows)})
    return rows, more


def _headers(response: Response, rows: list[Any]) -> None:
    if rows:
        response.headers["X-TAXII-Date-Added-First"] = rows[0]["added"]
        response.headers["X-TAXII-Date-Added-Last"] = rows[-1]["added"]


Limit = Annotated[int, Query(ge=1, le=1000)]
Match = Annotated[str | None, Query()]


@dataclass(frozen=True)
class ObjectFilter:
    """The paging and match[...] parameters shared by the objects and manifest endpoints."""

    added_after: str | None
    limit: int
    next: str | None
    match_id: str | None
    match_type: str | None
    match_version: str | None
    match_spec_version: str | None


def object_filter(
    added_after: str | None = None, limit: Limit = 100, next: str | None = None,
    match_id: Annotated[str | None, Query(alias="match[id]")] = None,
    match_type: Annotated[str | None, Query(alias="match[type]")] = None,
    match_version: Annotated[str | None, Query(alias="match[version]")] = None,
    match_spec_version: Annotated[str | None, Query(alias="match[spec_version]")] = None,
) -> ObjectFilter:
    return ObjectFilter(added_after, limit, next, match_id, match_type, match_version, match_spec_version)


FilterDep = Annotated[ObjectFilter, Depends(object_filter)]


@router.get("/{root}/collections/{cid}/objects/", response_model=Envelope, response_model_exclude_none=True)
def get_objects(
    root: str, cid: str, request: Request, response: Response, user: CurrentUser, tree: TreeDep, db: SessionDep,
    f: FilterDep,
) -> Envelope:
    rows, more = _page(request, user, tree, db, root, cid, f.added_after, f.limit, f.next, f.match_id,
                       f.match_type, f.match_version, f.match_spec_version)
    _headers(response, rows)
    if not rows:
        return Envelope()
    return Envelope(more=more, next=str(rows[-1]["seq"]) if more else None, objects=[loads(r["doc"]) for r in rows])


@router.get("/{root}/collections/{cid}/manifest/", response_model=Manifest, response_model_exclude_none=True)
def get_manifest(
    root: str, cid: str, request: Request, response: Response, user: CurrentUser, tree: TreeDep, db: SessionDep,
    f: FilterDep,
) -> Manifest:
    rows, more = _page(request, user, tree, db, root, cid, f.added_after, f.limit, f.next, f.match_id,
                       f.match_type, f.match_version, f.match_spec_version)
    _headers(response, rows)
    if not rows:
        return Manifest()
    return Manifest(more=more, objects=[
        ManifestRecord(id=r["id"], date_added=r["added"], version=r["version"] or r["added"], media_type=STIX)
        for r in rows
    ])


@router.get("/{root}/collections/{cid}/objects/{object_id}/", response_model=Envelope, response_model_exclude_none=True)
def get_object(
    root: str, cid: str, object_id: str, request: Request, response: Response, user: CurrentUser, tree: TreeDep,
    db: SessionDep, added_after: str | None = None, limit: Limit = 100, next: str | None = None,
    match_version: Annotated[str | None, Query(alias="match[version]")] = None,
    match_spec_version: Annotated[str | None, Query(alias="match[spec_version]")] = None,
) -> Envelope:
    rows, more = _page(request, user, tree, db, root, cid, added_after, limit, next, None, None,
                       match_version, match_spec_version, ids=[object_id])
    if not rows and next is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"object {object_id} not found")
    _headers(response, rows)
    return Envelope(more=more, next=str(rows[-1]["seq"]) if more else None, objects=[loads(r["doc"]) for r in rows])


@router.get("/{root}/collections/{cid}/objects/{object_id}/versions/", response_model=Versions,
            response_model_exclude_none=True)
def get_versions(
    root: str, cid: str, object_id: str, request: Request, response: Response, user: CurrentUser, tree: TreeDep,
    db: SessionDep, added_after: str | None = None, limit: Limit = 100, next: str | None = None,
) -> Versions:
    rows, more = _page(request, user, tree, db, root, cid, added_after, limit, next, None, None, "all", None,
                       ids=[object_id])
    if not rows and next is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"object {object_id} not found")
    _headers(response, rows)
    return Versions(more=more, versions=[r["version"] or r["added"] for r in rows])


@router.post("/{root}/collections/{cid}/objects/", response_model=StatusResource, status_code=202)
async def add_objects(root: str, cid: str, request: Request, user: CurrentUser, tree: TreeDep,
                      db: SessionDep) -> StatusResource:
    _accepts(request)
    kind = _collection(_root(tree, user, root), cid)
    if kind != "inbox" or user.role not in WRITERS:
        raise HTTPException(status.HTTP_403_FORBIDDEN, "this collection is read-only for you")
    if request.headers.get("content-type", "").split(";")[0].strip() != "application/taxii+json":
        raise HTTPException(status.HTTP_415_UNSUPPORTED_MEDIA_TYPE, f"send {TAXII}")
    body = await request.body()
    if len(body) > MAX_CONTENT:
        raise HTTPException(status.HTTP_413_CONTENT_TOO_LARGE, f"max_content_length is {MAX_CONTENT}")
    try:
        envelope = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, "the body is not JSON") from None
    objects = envelope.get("objects") if isinstance(envelope, dict) else None
    if not isinstance(objects, list):
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, "an envelope with an 'objects' list is required")
    good: list[dict[str, Any]] = []
    successes: list[StatusDetail] = []
    failures: list[StatusDetail] = []
    for obj in objects:
        oid = str(obj.get("id", "")) if isinstance(obj, dict) else ""
        version = str(obj.get("modified") or obj.get("created") or "") if isinstance(obj, dict) else ""
        try:
            stix2.parse(obj, allow_custom=True)
        except (stix2.exceptions.STIXError, ValueError, TypeError, AttributeError, KeyError) as exc:
            failures.append(StatusDetail(id=oid or "unknown", version=version or "unknown", message=str(exc)[:300]))
            continue
        good.append(obj)
        successes.append(StatusDetail(id=oid, version=version or now_iso()))
    sharing = request.app.state.sharing
    sharing.receive(good, user.org)
    sid = str(uuid.uuid4())
    res = StatusResource(
        id=sid, status="complete", request_timestamp=now_iso(), total_count=len(objects),
        success_count=len(successes), successes=successes, failure_count=len(failures), failures=failures,
        pending_count=0,
    )
    db.execute("INSERT INTO taxii_status VALUES (?,?,?,?,?)", (sid, root, user.org, dumps(res.model_dump()), now_iso()))
    db.audit(user.actor, "taxii_add", f"taxii/{kind}", sid, actor_org=user.org, orgs=[user.org],
             detail={"root": root, "received": len(successes), "rejected": len(failures)})
    return res


@router.get("/{root}/status/{status_id}/", response_model=StatusResource)
def get_status(root: str, status_id: str, request: Request, user: CurrentUser, tree: TreeDep,
               db: SessionDep) -> StatusResource:
    _accepts(request)
    _root(tree, user, root)
    row = db.one("SELECT doc, org FROM taxii_status WHERE id = ? AND root = ?", (status_id, root))
    if row is None or not (user.scope.allows(row["org"]) or row["org"] == user.org):
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"status {status_id} not found")
    return StatusResource(**loads(row["doc"]))
