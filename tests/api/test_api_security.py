"""Settings, password hashing, tokens, API keys and the ways a caller authenticates."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta
from pathlib import Path

import jwt
import pytest
from apitest import PASSWORD, Env, test_settings
from pydantic import ValidationError

from api import security
from api.security import Passwords, create_access_token, decode_access_token, hash_api_key, new_api_key
from api.settings import DEFAULT_SECRET, Settings


@pytest.mark.parametrize("environment", ["production", "test"])
def test_default_secret_refused_outside_development(environment: str) -> None:
    with pytest.raises(ValidationError, match="ICSSA_SECRET_KEY"):
        Settings(environment=environment, secret_key=DEFAULT_SECRET)


def test_short_secret_refused_in_production() -> None:
    with pytest.raises(ValidationError, match="32"):
        Settings(environment="production", secret_key="x" * 31)


def test_default_secret_accepted_in_development() -> None:
    assert Settings(environment="development").secret_key == DEFAULT_SECRET


def test_bootstrap_admin_needs_a_password_outside_development() -> None:
    with pytest.raises(ValidationError, match="FIRST_ADMIN_PASSWORD"):
        Settings(environment="production", secret_key="k" * 40, first_admin="admin")


def test_settings_are_read_from_the_environment_when_made(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ICSSA_ENVIRONMENT", "production")
    monkeypatch.setenv("ICSSA_SECRET_KEY", "e" * 40)
    monkeypatch.setenv("ICSSA_DEFAULT_TLP", "green")
    assert Settings().default_tlp == "green"


def test_argon2id_hash_verifies_and_rejects(tmp_path: Path) -> None:
    pw = Passwords(test_settings(tmp_path))
    stored = pw.hash("s3cret-pass")
    assert stored.startswith("$argon2id$")
    assert pw.verify(stored, "s3cret-pass")
    assert not pw.verify(stored, "s3cret-pasS")
    assert not pw.verify(None, "anything")
    assert not pw.verify("not a hash", "anything")


def test_token_round_trip_and_rejections(tmp_path: Path) -> None:
    s = test_settings(tmp_path)
    assert decode_access_token(s, create_access_token(s, 42)) == 42
    other = test_settings(tmp_path, secret_key="o" * 40)
    assert decode_access_token(other, create_access_token(s, 42)) is None
    expired = jwt.encode({"sub": "42", "typ": "access", "exp": datetime.now(UTC) - timedelta(seconds=5)},
                         s.secret_key, algorithm="HS256")
    assert decode_access_token(s, expired) is None
    unsigned = jwt.encode({"sub": "42", "typ": "access", "exp": datetime.now(UTC) + timedelta(hours=1)}, "", algorithm="none")
    assert decode_access_token(s, unsigned) is None
    refresh = jwt.encode({"sub": "42", "typ": "refresh", "exp": datetime.now(UTC) + timedelta(hours=1)},
                         s.secret_key, algorithm="HS256")
    assert decode_access_token(s, refresh) is None


def test_a_remembered_token_is_refused_once_it_expires(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    s = test_settings(tmp_path)
    token = create_access_token(s, 42, minutes=5)
    assert decode_access_token(s, token) == 42  # checked, then remembered
    assert decode_access_token(s, token) == 42  # from memory
    exp = jwt.decode(token, options={"verify_signature": False})["exp"]
    monkeypatch.setattr(security.time, "time", lambda: exp + 1.0)  # the clock the memory reads
    assert decode_access_token(s, token) is None


def test_a_remembered_token_is_tied_to_its_secret_and_its_bytes(tmp_path: Path) -> None:
    s = test_settings(tmp_path)
    token = create_access_token(s, 7)
    assert decode_access_token(s, token) == 7
    assert decode_access_token(test_settings(tmp_path, secret_key="o" * 40), token) is None
    head, sig = token.rsplit(".", 1)
    tampered = f"{head}.{sig[:10]}{'B' if sig[10] != 'B' else 'C'}{sig[11:]}"  # one signature byte changed
    assert decode_access_token(s, tampered) is None


def test_remembered_tokens_are_bounded_oldest_first() -> None:
    memory = security._Verified(3)
    for i in range(5):
        memory.put(("secret", f"token-{i}"), i, 4e9)
    assert [memory.get(("secret", f"token-{i}")) for i in range(5)] == [None, None, (2, 4e9), (3, 4e9), (4, 4e9)]


def test_api_keys_are_random_and_stored_hashed() -> None:
    key, prefix, digest = new_api_key()
    key2, _, _ = new_api_key()
    assert key != key2 and key.startswith(f"icssa_{prefix}_") and len(key) > 40
    assert digest == hash_api_key(key) and key not in digest


def test_login_gives_a_working_bearer_token(env: Env) -> None:
    r = env.client.post("/api/v1/login/access-token", data={"username": "nj_resp", "password": PASSWORD})
    assert r.status_code == 200
    token = r.json()["access_token"]
    me = env.client.get("/api/v1/users/me", headers={"Authorization": f"Bearer {token}"})
    assert (me.status_code, me.json()["username"], me.json()["role"]) == (200, "nj_resp", "responder")


@pytest.mark.parametrize(("username", "password"), [("nj_resp", "wrong password"), ("nobody", PASSWORD)])
def test_login_refuses_bad_credentials_alike(env: Env, username: str, password: str) -> None:
    r = env.client.post("/api/v1/login/access-token", data={"username": username, "password": password})
    assert (r.status_code, r.json()["detail"]) == (400, "incorrect username or password")


def test_deactivated_user_is_locked_out_at_once(env: Env) -> None:
    token_headers = env.auth("wtp_officer")
    assert env.patch("admin", f"/api/v1/users/{env.ids['wtp_officer']}", {"active": False}).status_code == 200
    assert env.client.get("/api/v1/alerts", headers=token_headers).status_code == 401


@pytest.mark.parametrize("scheme", ["x-api-key", "bearer", "token", "basic"])
def test_api_key_in_every_accepted_place(env: Env, scheme: str) -> None:
    key = env.api_key("jn_resp")
    headers = {
        "x-api-key": {"X-API-Key": key},
        "bearer": {"Authorization": f"Bearer {key}"},
        "token": {"Authorization": f"Token {key}"},
        "basic": {"Authorization": "Basic " + base64.b64encode(f"jn_resp:{key}".encode()).decode()},
    }[scheme]
    r = env.client.get("/api/v1/alerts", headers=headers)
    assert r.status_code == 200
    assert {a["organization"]["id"] for a in r.json()["items"]} == {"wtp-jn", "steel-jn"}


def test_basic_with_password(env: Env) -> None:
    auth = base64.b64encode(f"sz_resp:{PASSWORD}".encode()).decode()
    assert env.client.get("/api/v1/users/me", headers={"Authorization": f"Basic {auth}"}).json()["username"] == "sz_resp"


@pytest.mark.parametrize(
    "header",
    [{"Authorization": "Bearer not-a-token"}, {"X-API-Key": "icssa_0000_nope"}, {"Authorization": "Token icssa_1_x"},
     {"Authorization": "Basic " + base64.b64encode(b"sz_resp:wrong").decode()},
     {"Authorization": "Basic " + base64.b64encode(b"nj_resp:icssa_0_bad").decode()}],
)
def test_bad_credentials_are_401(env: Env, header: dict[str, str]) -> None:
    r = env.client.get("/api/v1/alerts", headers=header)
    assert r.status_code == 401
    assert "WWW-Authenticate" in r.headers


def test_revoked_key_stops_working(env: Env) -> None:
    created = env.post("jn_resp", f"/api/v1/users/{env.ids['jn_resp']}/api-keys", {"name": "script"}).json()
    assert env.client.get("/api/v1/alerts", headers={"X-API-Key": created["key"]}).status_code == 200
    assert env.delete("jn_resp", f"/api/v1/users/{env.ids['jn_resp']}/api-keys/{created['id']}").status_code == 204
    assert env.client.get("/api/v1/alerts", headers={"X-API-Key": created["key"]}).status_code == 401
    listed = env.get("jn_resp", f"/api/v1/users/{env.ids['jn_resp']}/api-keys").json()
    assert [(k["name"], k["revoked"], k["key"]) for k in listed] == [("script", True, None)]
