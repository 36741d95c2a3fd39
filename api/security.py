"""Credentials: argon2id password hashes, signed access tokens (JWT, HS256), API keys.

- Passwords: argon2id (argon2-cffi), cost from settings; a successful check of the same
  (hash, password) pair is remembered for a few minutes so HTTP Basic clients (TAXII) do not pay
  the argon2 cost on every request.
- Access tokens: JWT with ``sub`` (user id), ``iat``, ``exp``, ``typ=access``; the user is
  re-read on every request, so deactivation and role changes apply at once. A token that
  passed its check is remembered (bounded) until it expires: the signature is not checked again.
- API keys (sensors, machines, peer platforms): ``icssa_<prefix>_<secret>``, 256 random bits;
  only the SHA-256 of the key is stored (a random key needs no slow hash).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from collections import OrderedDict
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from api.settings import Settings

ALGORITHM = "HS256"
KEY_PREFIX = "icssa_"


class Passwords:
    def __init__(self, settings: Settings) -> None:
        self.hasher = PasswordHasher(time_cost=settings.argon2_time_cost, memory_cost=settings.argon2_memory_kib)
        self._ok: OrderedDict[bytes, float] = OrderedDict()
        self._lock = threading.Lock()
        self._ttl = 300.0
        self._max = 4096

    def hash(self, password: str) -> str:
        return self.hasher.hash(password)

    def verify(self, stored: str | None, password: str) -> bool:
        if not stored:
            # spend the same time as a real check so unknown users are not told apart
            self.hasher.hash(password)
            return False
        key = hashlib.sha256(stored.encode() + b"\0" + password.encode()).digest()
        now = time.monotonic()
        with self._lock:
            seen = self._ok.get(key)
            if seen is not None and now - seen < self._ttl:
                return True
        try:
            self.hasher.verify(stored, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False
        with self._lock:
            self._ok[key] = now
            self._ok.move_to_end(key)
            while len(self._ok) > self._max:
                self._ok.popitem(last=False)
        return True


def create_access_token(settings: Settings, user_id: int, minutes: int | None = None) -> str:
    now = datetime.now(UTC)
    payload = {
        "sub": str(user_id),
        "iat": now,
        "exp": now + timedelta(minutes=minutes or settings.access_token_minutes),
        "typ": "access",
        "jti": secrets.token_hex(8),
    }
    return jwt.encode(payload, settings.secret_key, algorithm=ALGORITHM)


class _Verified:
    """Access tokens whose signature and claims were checked: (secret, token) -> (user id,
    expiry). A client sends the same token with every request; checking it again (PyJWT: 8%
    of a request's CPU under cProfile) would only repeat the answer until it expires, which
    is still checked at every use. Bounded: the oldest entry goes first."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._items: dict[tuple[str, str], tuple[int, float]] = {}
        self._lock = threading.Lock()

    def get(self, key: tuple[str, str]) -> tuple[int, float] | None:
        """(user id, expiry) of a token checked before; None when it was not."""
        return self._items.get(key)

    def forget(self, key: tuple[str, str]) -> None:
        with self._lock:
            self._items.pop(key, None)

    def put(self, key: tuple[str, str], uid: int, exp: float) -> None:
        with self._lock:
            while len(self._items) >= self.size:
                del self._items[next(iter(self._items))]
            self._items[key] = (uid, exp)


_verified = _Verified(4096)


def decode_access_token(settings: Settings, token: str) -> int | None:
    """The user id of a valid, unexpired access token; None otherwise."""
    key = (settings.secret_key, token)
    hit = _verified.get(key)
    if hit is not None:
        if time.time() < hit[1]:
            return hit[0]
        _verified.forget(key)  # expired: it stays refused
        return None
    try:
        payload: dict[str, Any] = jwt.decode(
            token, settings.secret_key, algorithms=[ALGORITHM], options={"require": ["exp", "sub"]}
        )
    except jwt.PyJWTError:
        return None
    if payload.get("typ") != "access":
        return None
    try:
        uid = int(payload["sub"])
    except (TypeError, ValueError):
        return None
    if isinstance(payload["exp"], int | float):  # PyJWT checked it is a number when decoding
        _verified.put(key, uid, float(payload["exp"]))
    return uid


def new_api_key() -> tuple[str, str, str]:
    """(key shown once, display prefix, stored hash)."""
    prefix = secrets.token_hex(4)
    key = f"{KEY_PREFIX}{prefix}_{secrets.token_urlsafe(32)}"
    return key, prefix, hash_api_key(key)


def hash_api_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def looks_like_api_key(value: str) -> bool:
    return value.startswith(KEY_PREFIX) and value.count("_") >= 2


def same(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())
