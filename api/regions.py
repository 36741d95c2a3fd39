"""Region groups for aggregates: the children of a node, each with the caller's orgs below it.

The node is the one asked for (id or region path), else the caller's own, else the tree's
roots. An auditor's groups are its assigned enterprises; an enterprise is its own group.
"""

from __future__ import annotations

from fastapi import HTTPException, status
from pydantic import BaseModel

from api.deps import Principal
from api.tenancy import Level, Org, OrgTree


class Region(BaseModel):
    id: str
    name: str
    level: Level
    path: str


def region(node: Org) -> Region:
    return Region(id=node.id, name=node.name, level=node.level, path=node.path)


def region_groups(user: Principal, tree: OrgTree, ref: str | None) -> list[tuple[Region, list[str]]]:
    scope = user.scope
    if ref is not None:
        node = tree.find(ref)
        if node is None or not (scope.orgs is None or tree.subtree(node.id) & scope.orgs):
            raise HTTPException(status.HTTP_404_NOT_FOUND, f"organization {ref} not found")
        bases = [node.id]
    elif user.role == "auditor":
        return [(region(tree.nodes[o]), [o]) for o in sorted(scope.orgs or ())]
    elif user.org in tree:
        bases = [user.org]
    else:
        bases = tree.roots()
    groups: list[tuple[Region, list[str]]] = []
    for base in bases:
        kids = tree.children.get(base) or [base]
        for kid in kids:
            sub = tree.subtree(kid) if kid != base else frozenset([base])
            orgs = sub if scope.orgs is None else sub & scope.orgs
            if orgs:
                groups.append((region(tree.nodes[kid]), sorted(orgs)))
    return groups
