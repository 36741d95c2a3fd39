"""Users, auditor assignments and API keys.

Admins manage everyone. A responder manages users of its subtree and may not create or
promote admins, nor give a role above its own. Every user may read itself, change its own
password and manage its own API keys.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Response, status
from pydantic import BaseModel, Field, StringConstraints

from api.db import Database, now_iso
from api.deps import (
    CurrentUser,
    PasswordsDep,
    Principal,
    ResponderUser,
    RowId,
    SessionDep,
    TreeDep,
    not_found,
)
from api.security import new_api_key
from api.tenancy import OrgTree, Role

router = APIRouter(prefix="/users", tags=["users"])
Username = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$")]
Password = Annotated[str, StringConstraints(min_length=8, max_length=256)]


class UserOut(BaseModel):
    id: int
    username: str
    role: Role
    org: str
    full_name: str | None = None
    active: bool
    enterprises: list[str] = Field(default_factory=list)


class UserCreate(BaseModel):
    username: Username
    password: Password | None = None
    role: Role
    org: str
    full_name: str | None = Field(default=None, max_length=200)
    enterprises: list[str] = Field(default_factory=list, max_length=1000)


class UserUpdate(BaseModel):
    role: Role | None = None
    org: str | None = None
    full_name: str | None = Field(default=None, max_length=200)
    active: bool | None = None
    password: Password | None = None


class PasswordChange(BaseModel):
    current_password: str = Field(max_length=256)
    new_password: Password


class Enterprises(BaseModel):
    enterprises: list[str] = Field(max_length=1000)


class KeyCreate(BaseModel):
    name: str = Field(min_length=1, max_length=100)


class KeyOut(BaseModel):
    id: int
    name: str
    prefix: str
    created: str
    revoked: bool
    key: str | None = None  # only in the answer that created it


def user_out(db: Database, row: Any) -> UserOut:
    ents = [r[0] for r in db.query("SELECT org FROM user_enterprises WHERE user_id = ? ORDER BY org", (row["id"],))]
    return UserOut(id=row["id"], username=row["username"], role=row["role"], org=row["org"],
                   full_name=row["full_name"], active=bool(row["active"]), enterprises=ents)


def _manageable(db: Database, user: Principal, uid: int) -> Any:
    row = db.one("SELECT * FROM users WHERE id = ?", (uid,))
    if row is None or not (user.role == "admin" or (user.scope.allows(row["org"]) and row["role"] != "admin")):
        raise not_found(f"user {uid}")
    return row


def _check_assignment(tree: OrgTree, user: Principal, role: str, org: str, enterprises: list[str]) -> None:
    if org not in tree:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, f"organization {org} does not exist")
    if user.role != "admin":
        if role == "admin":
            raise HTTPException(status.HTTP_403_FORBIDDEN, "only an admin may make admins")
        if not user.scope.allows(org):
            raise HTTPException(status.HTTP_403_FORBIDDEN, f"organization {org} is outside your scope")
    if role == "officer" and tree.nodes[org].level != "enterprise":
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, "an enterprise security officer belongs to an enterprise")
    for ent in enterprises:
        node = tree.nodes.get(ent)
        if node is None or node.level != "enterprise" or not user.scope.allows(ent):
            raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, f"{ent} is not an enterprise in your scope")
    if enterprises and role != "auditor":
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, "only auditors are assigned enterprises")


@router.get("/me", response_model=UserOut)
def me(user: CurrentUser, db: SessionDep) -> UserOut:
    return user_out(db, db.one("SELECT * FROM users WHERE id = ?", (user.id,)))


@router.post("/me/password", status_code=204)
def change_password(body: PasswordChange, user: CurrentUser, db: SessionDep, passwords: PasswordsDep) -> Response:
    row = db.one("SELECT password_hash FROM users WHERE id = ?", (user.id,))
    if row is None or not passwords.verify(row["password_hash"], body.current_password):
        raise HTTPException(status.HTTP_400_BAD_REQUEST, "the current password is wrong")
    db.execute("UPDATE users SET password_hash = ? WHERE id = ?", (passwords.hash(body.new_password), user.id))
    db.audit(user.actor, "update", "user", str(user.id), actor_org=user.org, orgs=[user.org], detail={"password": True})
    return Response(status_code=204)


@router.get("", response_model=list[UserOut])
def list_users(user: ResponderUser, db: SessionDep) -> list[UserOut]:
    rows = db.query("SELECT * FROM users ORDER BY id")
    return [user_out(db, r) for r in rows if user.role == "admin" or user.scope.allows(r["org"])]


@router.post("", response_model=UserOut, status_code=201)
def create_user(body: UserCreate, user: ResponderUser, db: SessionDep, tree: TreeDep, passwords: PasswordsDep) -> UserOut:
    _check_assignment(tree, user, body.role, body.org, body.enterprises)
    if db.one("SELECT 1 FROM users WHERE username = ?", (body.username,)):
        raise HTTPException(status.HTTP_409_CONFLICT, f"user {body.username} exists")
    pw = passwords.hash(body.password) if body.password else None
    with db.tx() as conn:
        cur = conn.execute(
            "INSERT INTO users (username, password_hash, role, org, full_name, active, created) VALUES (?,?,?,?,?,1,?)",
            (body.username, pw, body.role, body.org, body.full_name, now_iso()),
        )
        uid = int(cur.lastrowid or 0)
        conn.executemany("INSERT INTO user_enterprises VALUES (?, ?)", [(uid, e) for e in set(body.enterprises)])
    db.audit(user.actor, "create", "user", str(uid), actor_org=user.org, orgs=[body.org, *body.enterprises],
             detail={"username": body.username, "role": body.role, "org": body.org, "enterprises": body.enterprises})
    return user_out(db, db.one("SELECT * FROM users WHERE id = ?", (uid,)))


@router.get("/{uid}", response_model=UserOut)
def get_user(uid: RowId, user: CurrentUser, db: SessionDep) -> UserOut:
    if uid != user.id and user.role not in ("admin", "responder"):
        raise not_found(f"user {uid}")
    row = db.one("SELECT * FROM users WHERE id = ?", (uid,)) if uid == user.id else _manageable(db, user, uid)
    return user_out(db, row)


@router.patch("/{uid}", response_model=UserOut)
def update_user(uid: RowId, body: UserUpdate, user: ResponderUser, db: SessionDep, tree: TreeDep,
                passwords: PasswordsDep) -> UserOut:
    row = _manageable(db, user, uid)
    role, org = body.role or row["role"], body.org or row["org"]
    _check_assignment(tree, user, role, org, [])
    changes = body.model_dump(exclude_unset=True, exclude={"password"})
    with db.tx() as conn:
        conn.execute(
            "UPDATE users SET role = ?, org = ?, full_name = ?, active = ? WHERE id = ?",
            (role, org, body.full_name if body.full_name is not None else row["full_name"],
             int(body.active) if body.active is not None else row["active"], uid),
        )
        if body.password:
            conn.execute("UPDATE users SET password_hash = ? WHERE id = ?", (passwords.hash(body.password), uid))
        if role != "auditor":
            conn.execute("DELETE FROM user_enterprises WHERE user_id = ?", (uid,))
    db.audit(user.actor, "update", "user", str(uid), actor_org=user.org, orgs=[row["org"], org],
             detail={**changes, "password": bool(body.password)})
    return user_out(db, db.one("SELECT * FROM users WHERE id = ?", (uid,)))


@router.put("/{uid}/enterprises", response_model=UserOut)
def assign_enterprises(uid: RowId, body: Enterprises, user: ResponderUser, db: SessionDep, tree: TreeDep) -> UserOut:
    row = _manageable(db, user, uid)
    _check_assignment(tree, user, row["role"], row["org"], body.enterprises)
    with db.tx() as conn:
        conn.execute("DELETE FROM user_enterprises WHERE user_id = ?", (uid,))
        conn.executemany("INSERT INTO user_enterprises VALUES (?, ?)", [(uid, e) for e in set(body.enterprises)])
    db.audit(user.actor, "assign", "user", str(uid), actor_org=user.org, orgs=body.enterprises,
             detail={"enterprises": sorted(set(body.enterprises))})
    return user_out(db, row)


@router.delete("/{uid}", status_code=204)
def delete_user(uid: RowId, user: ResponderUser, db: SessionDep) -> Response:
    row = _manageable(db, user, uid)
    if uid == user.id:
        raise HTTPException(status.HTTP_409_CONFLICT, "you cannot delete yourself")
    with db.tx() as conn:
        conn.execute("DELETE FROM user_enterprises WHERE user_id = ?", (uid,))
        conn.execute("UPDATE api_keys SET revoked = 1 WHERE user_id = ?", (uid,))
        conn.execute("DELETE FROM users WHERE id = ?", (uid,))
    db.audit(user.actor, "delete", "user", str(uid), actor_org=user.org, orgs=[row["org"]], detail={"username": row["username"]})
    return Response(status_code=204)


def _key_owner(db: Database, user: Principal, uid: int) -> Any:
    if uid == user.id:
        return db.one("SELECT * FROM users WHERE id = ?", (uid,))
    if user.role not in ("admin", "responder"):
        raise not_found(f"user {uid}")
    return _manageable(db, user, uid)


def _key_out(r: Any, key: str | None = None) -> KeyOut:
    return KeyOut(id=r["id"], name=r["name"], prefix=r["prefix"], created=r["created"], revoked=bool(r["revoked"]), key=key)


@router.post("/{uid}/api-keys", response_model=KeyOut, status_code=201)
def create_key(uid: RowId, body: KeyCreate, user: CurrentUser, db: SessionDep) -> KeyOut:
    owner = _key_owner(db, user, uid)
    key, prefix, digest = new_api_key()
    cur = db.execute(
        "INSERT INTO api_keys (user_id, name, prefix, key_hash, created) VALUES (?,?,?,?,?)",
        (uid, body.name, prefix, digest, now_iso()),
    )
    db.audit(user.actor, "create", "api_key", str(cur.lastrowid), actor_org=user.org, orgs=[owner["org"]],
             detail={"user": uid, "name": body.name, "prefix": prefix})
    return _key_out(db.one("SELECT * FROM api_keys WHERE id = ?", (cur.lastrowid,)), key)


@router.get("/{uid}/api-keys", response_model=list[KeyOut])
def list_keys(uid: RowId, user: CurrentUser, db: SessionDep) -> list[KeyOut]:
    _key_owner(db, user, uid)
    return [_key_out(r) for r in db.query("SELECT * FROM api_keys WHERE user_id = ? ORDER BY id", (uid,))]


@router.delete("/{uid}/api-keys/{key_id}", status_code=204)
def revoke_key(uid: RowId, key_id: RowId, user: CurrentUser, db: SessionDep) -> Response:
    owner = _key_owner(db, user, uid)
    cur = db.execute("UPDATE api_keys SET revoked = 1 WHERE id = ? AND user_id = ?", (key_id, uid))
    if not cur.rowcount:
        raise not_found(f"api key {key_id}")
    db.audit(user.actor, "revoke", "api_key", str(key_id), actor_org=user.org, orgs=[owner["org"]])
    return Response(status_code=204)
