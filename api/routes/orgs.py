"""The organization tree: read within scope; managed by admins and, below their node, responders."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Response, status
from pydantic import BaseModel, Field, StringConstraints

from api.deps import CurrentUser, Principal, ResponderUser, SessionDep, TenancyDep, TreeDep, not_found
from api.tenancy import ID_RE, Level, Org, OrgTree, TreeError, delete_org, save_orgs

router = APIRouter(prefix="/orgs", tags=["organizations"])
OrgId = Annotated[str, StringConstraints(pattern=ID_RE.pattern)]


class OrgOut(BaseModel):
    id: str
    name: str
    level: Level
    parent: str | None
    code: str
    path: str
    children: list[str] = Field(default_factory=list)


class OrgCreate(BaseModel):
    id: OrgId
    name: str = Field(min_length=1, max_length=200)
    level: Level
    parent: OrgId
    code: OrgId | None = None


class OrgUpdate(BaseModel):
    name: str | None = Field(default=None, min_length=1, max_length=200)
    parent: OrgId | None = None
    code: OrgId | None = None


def org_out(tree: OrgTree, node: Org) -> OrgOut:
    return OrgOut(id=node.id, name=node.name, level=node.level, parent=node.parent, code=node.code,
                  path=node.path, children=list(tree.children.get(node.id, ())))


def _visible(tree: OrgTree, user: Principal, ref: str) -> Org:
    node = tree.find(ref)
    if node is None or not (user.scope.allows(node.id) or node.id == user.org):
        raise not_found(f"organization {ref}")
    return node


def _editable(tree: OrgTree, user: Principal, oid: str) -> Org:
    node = tree.nodes.get(oid)
    if node is None or not user.scope.allows(oid):
        raise not_found(f"organization {oid}")
    if user.role != "admin" and oid == user.org:
        raise HTTPException(status.HTTP_403_FORBIDDEN, "a responder manages the nodes below its own")
    return node


@router.get("", response_model=list[OrgOut])
def list_orgs(user: CurrentUser, tree: TreeDep) -> list[OrgOut]:
    nodes = [n for n in tree.nodes.values() if user.scope.allows(n.id) or n.id == user.org]
    return [org_out(tree, n) for n in sorted(nodes, key=lambda n: n.path)]


@router.get("/{ref:path}", response_model=OrgOut)
def get_org(ref: str, user: CurrentUser, tree: TreeDep) -> OrgOut:
    return org_out(tree, _visible(tree, user, ref))


@router.post("", response_model=OrgOut, status_code=201)
def create_org(body: OrgCreate, user: ResponderUser, db: SessionDep, tree: TreeDep, tenancy: TenancyDep) -> OrgOut:
    if body.id in tree:
        raise HTTPException(status.HTTP_409_CONFLICT, f"organization {body.id} exists")
    if body.parent not in tree or not user.scope.allows(body.parent):
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, f"parent {body.parent} is not in your scope")
    try:
        save_orgs(db, [body.model_dump()])
    except TreeError as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(exc)) from None
    db.audit(user.actor, "create", "org", body.id, actor_org=user.org, orgs=[body.id, body.parent], detail=body.model_dump())
    tree = tenancy.tree
    return org_out(tree, tree.nodes[body.id])


@router.patch("/{oid}", response_model=OrgOut)
def update_org(
    oid: str, body: OrgUpdate, user: ResponderUser, db: SessionDep, tree: TreeDep, tenancy: TenancyDep
) -> OrgOut:
    node = _editable(tree, user, oid)
    parent = body.parent or node.parent
    if body.parent is not None and (body.parent not in tree or not user.scope.allows(body.parent)):
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, f"parent {body.parent} is not in your scope")
    record = {"id": oid, "name": body.name or node.name, "level": node.level, "parent": parent,
              "code": body.code or node.code}
    try:
        save_orgs(db, [record])
    except TreeError as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(exc)) from None
    db.audit(user.actor, "update", "org", oid, actor_org=user.org, orgs=[oid],
             detail=body.model_dump(exclude_unset=True))
    tree = tenancy.tree
    return org_out(tree, tree.nodes[oid])


@router.delete("/{oid}", status_code=204)
def remove_org(oid: str, user: ResponderUser, db: SessionDep, tree: TreeDep) -> Response:
    _editable(tree, user, oid)
    try:
        delete_org(db, oid)
    except TreeError as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from None
    db.audit(user.actor, "delete", "org", oid, actor_org=user.org, orgs=[oid])
    return Response(status_code=204)
