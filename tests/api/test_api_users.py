"""Users: who may manage whom, auditor assignments, and every change audited."""

from __future__ import annotations

import json

from apitest import Env


def test_responder_creates_users_in_scope_only(env: Env) -> None:
    ok = env.post("nj_resp", "/api/v1/users", {"username": "pk_officer", "password": "longenough", "role": "officer", "org": "chem-pk"})
    assert ok.status_code == 201
    assert env.post("nj_resp", "/api/v1/users", {"username": "u2", "role": "officer", "org": "elec-ks"}).status_code == 403
    assert env.post("nj_resp", "/api/v1/users", {"username": "u3", "role": "admin", "org": "nj"}).status_code == 403
    assert env.post("nj_resp", "/api/v1/users", {"username": "u4", "role": "officer", "org": "nj"}).status_code == 422
    assert env.post("nj_resp", "/api/v1/users", {"username": "pk_officer", "role": "officer", "org": "chem-pk"}).status_code == 409


def test_auditor_assignment_limits_what_it_sees(env: Env) -> None:
    uid = env.post("nj_resp", "/api/v1/users", {"username": "aud2", "role": "auditor", "org": "nj",
                                                "enterprises": ["steel-jn"]}).json()["id"]
    key = env.post("nj_resp", f"/api/v1/users/{uid}/api-keys", {"name": "k"}).json()["key"]
    got = env.client.get("/api/v1/assets", headers={"X-API-Key": key}).json()["items"]
    assert {a["organization"]["id"] for a in got} == {"steel-jn"}
    assert env.put("nj_resp", f"/api/v1/users/{uid}/enterprises", {"enterprises": ["elec-ks"]}).status_code == 422
    env.put("nj_resp", f"/api/v1/users/{uid}/enterprises", {"enterprises": ["chem-pk"]})
    got = env.client.get("/api/v1/assets", headers={"X-API-Key": key}).json()["items"]
    assert {a["organization"]["id"] for a in got} == {"chem-pk"}


def test_users_list_is_scoped(env: Env) -> None:
    names = {u["username"] for u in env.get("sz_resp", "/api/v1/users").json()}
    assert names == {"sz_resp"}
    assert env.get("sz_resp", f"/api/v1/users/{env.ids['nj_resp']}").status_code == 404
    assert env.get("wtp_officer", "/api/v1/users").status_code == 403


def test_own_password_change(env: Env) -> None:
    r = env.post("wtp_officer", "/api/v1/users/me/password", {"current_password": "correct horse battery",
                                                              "new_password": "a new passphrase"})
    assert r.status_code == 204
    login = env.client.post("/api/v1/login/access-token", data={"username": "wtp_officer", "password": "a new passphrase"})
    assert login.status_code == 200


def test_changes_are_audited(env: Env) -> None:
    env.post("nj_resp", "/api/v1/orgs", {"id": "gas-pk", "name": "Pukou gas", "level": "enterprise", "parent": "pukou"})
    env.post("nj_resp", "/api/v1/users", {"username": "gas_officer", "role": "officer", "org": "gas-pk"})
    rows = env.get("nj_resp", "/api/v1/audit", action="create").json()["items"]
    assert [(r["resource"], r["actor"]) for r in rows[:2]] == [("user", "nj_resp"), ("org", "nj_resp")]
    assert rows[0]["detail"]["org"] == "gas-pk"
    assert "gas-pk" not in json.dumps(env.get("sz_resp", "/api/v1/audit").json())
