"""TAXII 2.1 reads over ``stix_objects``: visibility, version matching, pagination.

A collection is (API root = organization node, kind). Its objects are the rows of that kind
owned by a visible organization (``visible_orgs``) or by nobody (``''``: TLP definitions, our
identity). The same object may be stored once per owning organization (an IP address seen at
two enterprises); a reader who sees both gets it once. ``match[version]`` keeps the newest
(``last``, the default), the oldest (``first``), ``all``, or given versions; pages run in
``seq`` order, which is also ``added`` order.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from api.db import Database
from api.tenancy import OrgTree, Scope

KINDS = ("alerts", "advisories", "incidents", "inbox")


def visible_orgs(tree: OrgTree, scope: Scope, root: str, kind: str) -> list[str]:
    """Owners whose objects the caller may read in root's collection of this kind."""
    sub = tree.subtree(root)
    mine = set(sub) if scope.orgs is None else set(sub & scope.orgs)
    if kind == "advisories":  # advisories flow down: those of the root's ancestors reach it
        above = {root, *tree.ancestors(root)}
        mine |= above if scope.orgs is None else above & (scope.upstream | scope.orgs)
    return sorted(mine)


@dataclass
class Query:
    kind: str
    visible: Sequence[str]
    added_after: str | None = None
    after_seq: int | None = None
    ids: Sequence[str] = ()
    types: Sequence[str] = ()
    versions: Sequence[str] = ("last",)
    limit: int = 100


def _visible(alias: str, n: int) -> str:
    return f"({alias}.org = ''" + (f" OR {alias}.org IN ({','.join('?' * n)})" if n else "") + ")"


def fetch(db: Database, q: Query) -> tuple[list[Any], bool]:
    """(rows of seq, id, version, added, org, doc) of one page, more-after-this-page)."""
    n = len(q.visible)
    where = ["s.kind = ?", _visible("s", n)]
    args: list[Any] = [q.kind, *q.visible]
    if q.added_after is not None:
        where.append("s.added > ?")
        args.append(q.added_after)
    if q.after_seq is not None:
        where.append("s.seq > ?")
        args.append(q.after_seq)
    if q.ids:
        where.append(f"s.id IN ({','.join('?' * len(q.ids))})")
        args.extend(q.ids)
    if q.types:
        where.append(f"s.type IN ({','.join('?' * len(q.types))})")
        args.extend(q.types)
    other = f"n.kind = s.kind AND n.id = s.id AND {_visible('n', n)}"
    dup = f"NOT EXISTS (SELECT 1 FROM stix_objects n WHERE {other} AND n.version = s.version AND n.seq < s.seq)"
    where.append(dup)
    args.extend(q.visible)
    choices: list[str] = []
    for v in q.versions:
        if v == "all":
            choices = ["1"]
            break
        if v in ("last", "first"):
            op = ">" if v == "last" else "<"
            choices.append(f"NOT EXISTS (SELECT 1 FROM stix_objects n WHERE {other} AND n.version {op} s.version)")
            args.extend(q.visible)
        else:
            choices.append("s.version = ?")
            args.append(v)
    if choices:
        where.append("(" + " OR ".join(choices) + ")")
    sql = (
        "SELECT s.seq, s.id, s.version, s.added, s.org, s.doc FROM stix_objects s WHERE "
        + " AND ".join(where) + " ORDER BY s.seq LIMIT ?"
    )
    rows = db.query(sql, [*args, q.limit + 1])
    return rows[: q.limit], len(rows) > q.limit
