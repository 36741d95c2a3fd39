"""Tenancy: the organization tree and what each caller may see.

The tree is province > city > county > enterprise (a child is always at a deeper level than its
parent; an enterprise may hang directly under a city). Each node has an ``id`` (an
enterprise's id is the ``organization.id`` its sensors write), a ``code`` (its segment of the
region path, default: the id) and a ``path`` such as ``js/nj/jiangning``. A platform's tree
may be rooted at any level (a city platform's root is its city).

The tree is loaded from YAML at start-up (``load_yaml``: nested ``children`` or flat
``parent``), kept in the database and managed through the API; each process caches it and
reloads when ``meta.orgs_version`` changes.

Scope by role: admin sees everything; responder and enterprise security officer see their
node's subtree; an auditor sees only the enterprises assigned to them; a researcher sees no
tenant data (only replay workspaces); a sensor (machine) writes into its subtree and reads
nothing.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, Literal

import yaml

from api.db import Database, now_iso

LEVELS = ("province", "city", "county", "enterprise")
Level = Literal["province", "city", "county", "enterprise"]
ROLES = ("admin", "responder", "officer", "auditor", "researcher", "sensor")
Role = Literal["admin", "responder", "officer", "auditor", "researcher", "sensor"]
#: roles that read tenant data (assets, alerts, events, incidents, advisories)
READERS: tuple[Role, ...] = ("admin", "responder", "officer", "auditor")
ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


class TreeError(ValueError):
    """An organization file or change that would break the tree."""


@dataclass(frozen=True)
class Org:
    id: str
    name: str
    level: Level
    parent: str | None
    code: str
    path: str = ""


@dataclass
class OrgTree:
    nodes: dict[str, Org]
    children: dict[str, list[str]] = field(default_factory=dict)
    by_path: dict[str, str] = field(default_factory=dict)

    @classmethod
    def build(cls, items: Iterable[Mapping[str, Any]]) -> OrgTree:
        """A validated tree from flat records (id, name, level, parent, code)."""
        raw: dict[str, dict[str, Any]] = {}
        for item in items:
            oid = str(item.get("id", ""))
            if not ID_RE.match(oid):
                raise TreeError(f"organization id {oid!r}: letters, digits, '.', '_' or '-' (max 64)")
            if oid in raw:
                raise TreeError(f"organization {oid!r} defined twice")
            level = item.get("level")
            if level not in LEVELS:
                raise TreeError(f"organization {oid}: level {level!r} is not one of {', '.join(LEVELS)}")
            code = str(item.get("code") or oid)
            if not ID_RE.match(code):
                raise TreeError(f"organization {oid}: code {code!r} is not a path segment")
            parent = item.get("parent")
            raw[oid] = {"id": oid, "name": str(item.get("name") or oid), "level": level, "parent": parent, "code": code}
        children: dict[str, list[str]] = {oid: [] for oid in raw}
        for oid, r in raw.items():
            parent = r["parent"]
            if parent is None:
                continue
            if parent not in raw:
                raise TreeError(f"organization {oid}: parent {parent!r} does not exist")
            if LEVELS.index(r["level"]) <= LEVELS.index(raw[parent]["level"]):
                raise TreeError(f"organization {oid}: a {r['level']} cannot sit under the {raw[parent]['level']} {parent}")
            children[parent].append(oid)
        nodes: dict[str, Org] = {}
        by_path: dict[str, str] = {}
        stack = [(oid, "") for oid, r in raw.items() if r["parent"] is None]
        while stack:
            oid, prefix = stack.pop()
            r = raw[oid]
            path = f"{prefix}/{r['code']}" if prefix else r["code"]
            if path in by_path:
                raise TreeError(f"organizations {by_path[path]} and {oid} share the region path {path}")
            nodes[oid] = Org(oid, r["name"], r["level"], r["parent"], r["code"], path)
            by_path[path] = oid
            stack.extend((c, path) for c in children[oid])
        if len(nodes) != len(raw):  # only a cycle leaves nodes unreached from a root
            raise TreeError("organization parents form a cycle: " + ", ".join(sorted(set(raw) - set(nodes))))
        for kids in children.values():
            kids.sort()
        return cls(nodes, children, by_path)

    def __contains__(self, oid: object) -> bool:
        return oid in self.nodes

    @cached_property
    def _subtrees(self) -> dict[str, frozenset[str]]:
        out: dict[str, frozenset[str]] = {}

        def walk(oid: str) -> frozenset[str]:
            if oid not in out:
                found = {oid}
                for child in self.children.get(oid, ()):
                    found |= walk(child)
                out[oid] = frozenset(found)
            return out[oid]

        for oid in self.nodes:
            walk(oid)
        return out

    def subtree(self, oid: str) -> frozenset[str]:
        return self._subtrees.get(oid, frozenset())

    def ancestors(self, oid: str) -> list[str]:
        out: list[str] = []
        node = self.nodes.get(oid)
        while node is not None and node.parent is not None:
            out.append(node.parent)
            node = self.nodes.get(node.parent)
        return out

    def roots(self) -> list[str]:
        return sorted(o.id for o in self.nodes.values() if o.parent is None)

    def find(self, ref: str) -> Org | None:
        """A node by id or by region path."""
        node = self.nodes.get(ref)
        if node is None and ref in self.by_path:
            node = self.nodes[self.by_path[ref]]
        return node


def _flatten(items: Sequence[Any], parent: str | None, out: list[dict[str, Any]], source: str) -> None:
    for item in items:
        if not isinstance(item, Mapping):
            raise TreeError(f"{source}: each organization must be a mapping, not {type(item).__name__}")
        record = {k: item.get(k) for k in ("id", "name", "level", "code")}
        record["parent"] = item.get("parent", parent)
        out.append(record)
        kids = item.get("children") or []
        if not isinstance(kids, list):
            raise TreeError(f"{source}: children of {item.get('id')!r} must be a list")
        _flatten(kids, str(item.get("id")), out, source)


def load_yaml(path: str | Path) -> list[dict[str, Any]]:
    """Flat, validated organization records from a YAML file (``organizations:`` list)."""
    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise TreeError(f"{path}: cannot read organizations: {exc}") from exc
    if not isinstance(data, Mapping) or not isinstance(data.get("organizations"), list):
        raise TreeError(f"{path}: expected a mapping with an 'organizations' list")
    out: list[dict[str, Any]] = []
    _flatten(data["organizations"], None, out, str(path))
    try:
        OrgTree.build(out)
    except TreeError as exc:
        raise TreeError(f"{path}: {exc}") from exc
    return out


def save_orgs(db: Database, records: Iterable[Mapping[str, Any]]) -> None:
    """Upsert organizations into the database (validating the resulting tree)."""
    records = list(records)
    with db.tx() as conn:
        current = {r["id"]: dict(r) for r in conn.execute("SELECT id, name, level, parent, code FROM orgs")}
        for r in records:
            current[str(r["id"])] = {k: r.get(k) for k in ("id", "name", "level", "parent", "code")}
        OrgTree.build(current.values())
        now = now_iso()
        for r in records:
            conn.execute(
                "INSERT INTO orgs (id, name, level, parent, code, created) VALUES (?,?,?,?,?,?) "
                "ON CONFLICT(id) DO UPDATE SET name=excluded.name, level=excluded.level, "
                "parent=excluded.parent, code=excluded.code",
                (r["id"], r.get("name") or r["id"], r["level"], r.get("parent"), r.get("code") or r["id"], now),
            )
    db.bump("orgs_version")


def delete_org(db: Database, oid: str) -> None:
    with db.tx() as conn:
        if conn.execute("SELECT 1 FROM orgs WHERE parent = ?", (oid,)).fetchone():
            raise TreeError(f"organization {oid} has children: move or delete them first")
        if conn.execute("SELECT 1 FROM users WHERE org = ?", (oid,)).fetchone():
            raise TreeError(f"organization {oid} still has users")
        conn.execute("DELETE FROM orgs WHERE id = ?", (oid,))
    db.bump("orgs_version")


class Tenancy:
    """The cached tree of one process (reloaded when another process changes it)."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self._lock = threading.Lock()
        self._version: str | None = "unloaded"
        self._tree = OrgTree({})

    @property
    def tree(self) -> OrgTree:
        version = self.db.get_meta("orgs_version")
        if version != self._version:
            with self._lock:
                rows = self.db.query("SELECT id, name, level, parent, code FROM orgs")
                self._tree = OrgTree.build(dict(r) for r in rows)
                self._version = version
        return self._tree


@dataclass(frozen=True)
class Scope:
    """What one caller may read: ``orgs`` None means every organization (admin)."""

    role: Role
    home: str
    orgs: frozenset[str] | None
    #: nodes whose advisories reach the caller (its own nodes and their ancestors)
    upstream: frozenset[str] = frozenset()

    def allows(self, org: str | None) -> bool:
        return self.orgs is None or (org is not None and org in self.orgs)

    def narrow(self, tree: OrgTree, ref: str | None) -> frozenset[str] | None:
        """The scope limited to the subtree of ``ref`` (id or region path); None = no limit.

        Raises LookupError when ``ref`` is unknown or outside the scope (callers answer 404,
        which does not reveal whether a tenant exists).
        """
        if ref is None:
            return self.orgs
        node = tree.find(ref)
        if node is None:
            raise LookupError(ref)
        sub = tree.subtree(node.id)
        if self.orgs is None:
            return sub
        inside = sub & self.orgs
        if not inside:
            raise LookupError(ref)
        return inside

    def foreign(self, orgs: Iterable[str | None]) -> set[str]:
        """Organizations among ``orgs`` other than the caller's own (cross-tenant reads)."""
        return {o for o in orgs if o is not None and o != self.home}


def scope_for(tree: OrgTree, role: Role, org: str, assigned: Iterable[str] = ()) -> Scope:
    if role == "admin":
        return Scope(role, org, None)
    if role == "auditor":
        mine = frozenset(a for a in assigned if a in tree)
        up = frozenset(x for a in mine for x in [a, *tree.ancestors(a)])
        return Scope(role, org, mine, up)
    if role == "researcher":
        return Scope(role, org, frozenset())
    return Scope(role, org, tree.subtree(org), frozenset([org, *tree.ancestors(org)]))
