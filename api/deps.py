"""Typed dependencies: settings, database, store, tenancy, the caller and role checks.

Authorization lives here, never in handlers: routes declare ``ReaderUser``, ``ResponderUser``
and so on, and read ``user.scope`` to filter every query.

The dependencies are ``async``: FastAPI runs a plain ``def`` dependency in the thread pool, one
thread hand-off each, which cost more than their work (attribute reads, a JWT check, indexed
SQLite lookups of a few microseconds). The one slow step, an argon2 password check, still goes
to the thread pool. ``get_principal`` reads the app's objects (database, tree, settings) from
``request.app.state`` instead of through sub-dependencies: FastAPI spends tens of microseconds
resolving each one.

The hot reads (alerts: list, one by id, aggregates) are ``async`` routes too, and call the store
through ``store_read``; the other routes stay ``def`` and run in the thread pool.

Credentials accepted, in order: ``Authorization: Bearer <access token>`` (OAuth2 password
flow), ``Authorization: Bearer|Token <API key>`` or ``X-API-Key: <API key>`` (sensors,
machines, peer platforms; taxii2-client's ``TokenAuth`` sends ``Token``), and HTTP Basic with a
username and password or an API key as the password (TAXII clients).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Annotated, Any, TypeVar

from fastapi import Depends, HTTPException, Path, Request, status
from fastapi.security import APIKeyHeader, HTTPBasic, HTTPBasicCredentials, OAuth2PasswordBearer
from starlette.concurrency import run_in_threadpool

from api.db import Database
from api.security import Passwords, decode_access_token, hash_api_key, looks_like_api_key
from api.settings import Settings
from api.tenancy import READERS, OrgTree, Role, Scope, Tenancy, scope_for
from icssa.store import Store

TOKEN_URL = "/api/v1/login/access-token"
oauth2_scheme = OAuth2PasswordBearer(tokenUrl=TOKEN_URL, auto_error=False)
api_key_scheme = APIKeyHeader(name="X-API-Key", auto_error=False)
basic_scheme = HTTPBasic(auto_error=False)
T = TypeVar("T")


async def get_settings(request: Request) -> Settings:
    return request.app.state.settings  # type: ignore[no-any-return]


async def get_db(request: Request) -> Database:
    return request.app.state.db  # type: ignore[no-any-return]


async def get_store(request: Request) -> Store:
    return request.app.state.store  # type: ignore[no-any-return]


async def get_tree(request: Request) -> OrgTree:
    tenancy: Tenancy = request.app.state.tenancy
    return tenancy.tree


async def get_tenancy(request: Request) -> Tenancy:
    return request.app.state.tenancy  # type: ignore[no-any-return]


async def get_passwords(request: Request) -> Passwords:
    return request.app.state.passwords  # type: ignore[no-any-return]


#: a database row id in a path (SQLite integers are 64-bit signed)
RowId = Annotated[int, Path(ge=1, le=2**62)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
SessionDep = Annotated[Database, Depends(get_db)]
StoreDep = Annotated[Store, Depends(get_store)]
TreeDep = Annotated[OrgTree, Depends(get_tree)]
TenancyDep = Annotated[Tenancy, Depends(get_tenancy)]
PasswordsDep = Annotated[Passwords, Depends(get_passwords)]


@dataclass(frozen=True)
class Principal:
    """The authenticated caller: a user, or a machine acting through one of a user's API keys."""

    id: int
    username: str
    role: Role
    org: str
    scope: Scope
    via: str  # "token", "api_key" or "basic"

    @property
    def actor(self) -> str:
        return f"{self.username} (api key)" if self.via == "api_key" else self.username


def _unauthorized(detail: str = "not authenticated") -> HTTPException:
    return HTTPException(
        status.HTTP_401_UNAUTHORIZED, detail, headers={"WWW-Authenticate": 'Bearer, Basic realm="icssa"'}
    )


def _principal(db: Database, tree: OrgTree, row: Any, via: str) -> Principal:
    if row is None or not row["active"]:
        raise _unauthorized("unknown or inactive credentials")
    assigned: list[str] = []
    if row["role"] == "auditor":
        assigned = [r[0] for r in db.query("SELECT org FROM user_enterprises WHERE user_id = ?", (row["id"],))]
    scope = scope_for(tree, row["role"], row["org"], assigned)
    return Principal(row["id"], row["username"], row["role"], row["org"], scope, via)


_USER_COLS = "users.id, users.username, users.role, users.org, users.active, users.password_hash"


def _by_key(db: Database, key: str) -> Any:
    return db.one(
        f"SELECT {_USER_COLS} FROM api_keys JOIN users ON users.id = api_keys.user_id "
        "WHERE api_keys.key_hash = ? AND api_keys.revoked = 0",
        (hash_api_key(key),),
    )


async def get_principal(
    request: Request,
    token: Annotated[str | None, Depends(oauth2_scheme)],
    api_key: Annotated[str | None, Depends(api_key_scheme)],
    basic: Annotated[HTTPBasicCredentials | None, Depends(basic_scheme)],
) -> Principal:
    # the app's objects read directly: each dependency FastAPI resolves costs more than the read
    state = request.app.state
    db: Database = state.db
    tree = state.tenancy.tree
    settings: Settings = state.settings
    passwords: Passwords = state.passwords
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "token" and value:
        api_key = value.strip()
    if token and looks_like_api_key(token):
        api_key, token = token, None
    if api_key:
        return _principal(db, tree, _by_key(db, api_key), "api_key")
    if token:
        uid = decode_access_token(settings, token)
        if uid is None:
            raise _unauthorized("invalid or expired token")
        return _principal(db, tree, db.one(f"SELECT {_USER_COLS} FROM users WHERE id = ?", (uid,)), "token")
    if basic is not None:
        if looks_like_api_key(basic.password):
            row = _by_key(db, basic.password)
            if row is not None and row["username"] == basic.username:
                return _principal(db, tree, row, "api_key")
            raise _unauthorized("unknown or inactive credentials")
        row = db.one(f"SELECT {_USER_COLS} FROM users WHERE username = ?", (basic.username,))
        stored = row["password_hash"] if row is not None else None
        if not await run_in_threadpool(passwords.verify, stored, basic.password):  # argon2: milliseconds
            raise _unauthorized("unknown or inactive credentials")
        return _principal(db, tree, row, "basic")
    raise _unauthorized()


CurrentUser = Annotated[Principal, Depends(get_principal)]


def require(*roles: Role) -> Callable[[Principal], Awaitable[Principal]]:
    """A dependency admitting only callers with one of ``roles``."""

    async def check(user: CurrentUser) -> Principal:
        if user.role not in roles:
            raise HTTPException(status.HTTP_403_FORBIDDEN, f"role {user.role} may not do this")
        return user

    return check


ReaderUser = Annotated[Principal, Depends(require(*READERS))]
ResponderUser = Annotated[Principal, Depends(require("admin", "responder"))]
HandlerUser = Annotated[Principal, Depends(require("admin", "responder", "officer"))]
AdminUser = Annotated[Principal, Depends(require("admin"))]
SensorUser = Annotated[Principal, Depends(require("admin", "sensor"))]
ResearcherUser = Annotated[Principal, Depends(require("admin", "researcher"))]


async def store_read(store: Store, call: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
    """``call(*args, **kwargs)``, a read of ``store``, from an ``async`` route.

    A store that says its reads are local and short (``inline_reads``: SQLite, whose queries
    here are index range scans of a page, or read the rollup table) is called on the event
    loop. In the thread pool, every SQLite step gives the GIL up and takes it back, and with
    ten requests at once those hand-offs convoy: 3.8-4.3 ms of server CPU per request against
    1.6-1.9 ms on the loop (``bench/bench_api.py``). Other stores (Elasticsearch: a network
    round trip) are called in the thread pool, so the loop serves other requests while one
    waits (on the loop, p99 was twice as long). A long aggregate on SQLite holds the loop for
    its duration: the routes given here read a page or the rollup table.
    """
    if getattr(store, "inline_reads", False):
        return call(*args, **kwargs)
    return await run_in_threadpool(call, *args, **kwargs)


def scoped_orgs(user: Principal, tree: OrgTree, ref: str | None) -> list[str] | None:
    """The organizations a read is limited to (None: all); 404 when ``ref`` is out of scope."""
    try:
        orgs = user.scope.narrow(tree, ref)
    except LookupError:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"organization {ref} not found") from None
    return None if orgs is None else sorted(orgs)


def audit_read(
    db: Database, user: Principal, resource: str, orgs: Iterable[str | None], detail: Any = None,
    resource_id: str | None = None,
) -> None:
    """Log a read that returned data of other tenants than the caller's own organization."""
    foreign = user.scope.foreign(orgs)
    if foreign:
        db.audit(user.actor, "read", resource, resource_id, actor_org=user.org, orgs=foreign, detail=detail)


def not_found(what: str) -> HTTPException:
    return HTTPException(status.HTTP_404_NOT_FOUND, f"{what} not found")
