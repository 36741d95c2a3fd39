"""Helpers for the platform API tests: an organization tree, users of every role, synthetic
tenant data (hand-written documents, distinct per enterprise) and an in-process client."""

from __future__ import annotations

import functools
import socket
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from fastapi import FastAPI
from fastapi.testclient import TestClient

from api.db import Database, now_iso
from api.main import create_app
from api.security import Passwords, create_access_token, new_api_key
from api.settings import Settings
from icssa.store import Store

ROOT = Path(__file__).resolve().parents[2]
PCAPS = ROOT / "pcaps"
TAXII = "application/taxii+json;version=2.1"

ORGS_YAML = """
organizations:
  - id: js
    name: Jiangsu
    level: province
    children:
      - id: nj
        name: Nanjing
        level: city
        children:
          - id: jiangning
            name: Jiangning
            level: county
            children:
              - {id: wtp-jn, name: Jiangning water treatment, level: enterprise}
              - {id: steel-jn, name: Jiangning steel, level: enterprise}
          - id: pukou
            name: Pukou
            level: county
            children:
              - {id: chem-pk, name: Pukou chemicals, level: enterprise}
      - id: sz
        name: Suzhou
        level: city
        children:
          - id: kunshan
            name: Kunshan
            level: county
            children:
              - {id: elec-ks, name: Kunshan electronics, level: enterprise}
          - {id: pharma-sz, name: Suzhou pharma, level: enterprise}
"""
#: enterprise -> (city, county or None), and a distinct /24 per enterprise
ENTERPRISES = {
    "wtp-jn": ("nj", "jiangning", 1),
    "steel-jn": ("nj", "jiangning", 2),
    "chem-pk": ("nj", "pukou", 3),
    "elec-ks": ("sz", "kunshan", 4),
    "pharma-sz": ("sz", None, 5),
}
ALL = frozenset(ENTERPRISES)
NJ = frozenset({"wtp-jn", "steel-jn", "chem-pk"})
SZ = frozenset({"elec-ks", "pharma-sz"})
#: user -> (role, org, assigned enterprises)
USERS: dict[str, tuple[str, str, tuple[str, ...]]] = {
    "admin": ("admin", "js", ()),
    "prov": ("responder", "js", ()),
    "nj_resp": ("responder", "nj", ()),
    "sz_resp": ("responder", "sz", ()),
    "jn_resp": ("responder", "jiangning", ()),
    "wtp_officer": ("officer", "wtp-jn", ()),
    "chem_officer": ("officer", "chem-pk", ()),
    "auditor": ("auditor", "js", ("chem-pk", "elec-ks")),
    "researcher": ("researcher", "js", ()),
    "sensor_wtp": ("sensor", "wtp-jn", ()),
}
#: what each reader must see (and nothing else)
SEES = {
    "admin": ALL,
    "prov": ALL,
    "nj_resp": NJ,
    "sz_resp": SZ,
    "jn_resp": frozenset({"wtp-jn", "steel-jn"}),
    "wtp_officer": frozenset({"wtp-jn"}),
    "chem_officer": frozenset({"chem-pk"}),
    "auditor": frozenset({"chem-pk", "elec-ks"}),
}
PASSWORD = "correct horse battery"


def serve_command() -> list[str]:
    """`icssa serve` once the main CLI registers it (api.cli.register), else `python -m api.cli serve`."""
    from icssa.cli import app

    registered = any(c.name == "serve" for c in app.registered_commands)
    return [sys.executable, "-m", "icssa.cli" if registered else "api.cli", "serve"]


def net(org: str) -> str:
    return f"10.0.{ENTERPRISES[org][2]}"


def make_event(org: str, i: int) -> dict[str, Any]:
    return {
        "@timestamp": f"2026-05-0{i + 1}T10:00:0{ENTERPRISES[org][2]}.000000Z",
        "event": {"id": f"ev-{org}-{i}", "kind": "event", "dataset": "modbus",
                  "action": "write_single_coil" if i == 0 else "read_holding_registers"},
        "source": {"ip": f"{net(org)}.20", "port": 50000 + i},
        "destination": {"ip": f"{net(org)}.10", "port": 502},
        "network": {"transport": "tcp", "community_id": f"1:{org}-{i}"},
        "observer": {"name": f"sensor-{org}"},
        "organization": {"id": org},
        "modbus": {"transaction_id": i, "unit_id": 1, "function_code": 5 if i == 0 else 3, "is_response": False},
    }


def make_alert(org: str, i: int, tlp: str | None = None) -> dict[str, Any]:
    ts = f"2026-05-0{i + 1}T10:00:0{ENTERPRISES[org][2]}.000000Z"
    doc: dict[str, Any] = {
        "@timestamp": ts,
        "message": f"Modbus write at {org}",
        "event": {"id": f"al-{org}-{i}", "kind": "alert", "dataset": "icssa.alert", "severity": 75 if i else 30,
                  "start": ts, "end": ts, "count": 2},
        "rule": {"id": "modbus-coil-write" if i == 0 else "s7-plc-stop", "name": "Modbus coil write" if i == 0 else "S7 PLC stop"},
        "threat": {"technique": {"id": ["T0855"] if i == 0 else ["T0858", "T0816"]},
                   "tactic": {"name": ["Impair Process Control"] if i == 0 else ["Execution"]}},
        "source": {"ip": f"{net(org)}.20", "port": 50000},
        "destination": {"ip": f"{net(org)}.10", "port": 502},
        "related": {"events": [f"ev-{org}-{i}"]},
        "organization": {"id": org},
    }
    if tlp is not None:
        doc["marking"] = {"tlp": tlp}
    return doc


def make_assets(org: str) -> list[dict[str, Any]]:
    return [
        {"id": f"ip:{net(org)}.10", "ip": f"{net(org)}.10", "ips": [f"{net(org)}.10"], "roles": ["plc"],
         "protocols": ["modbus"], "services": ["modbus/502"], "vendor": "Schneider Electric", "zone": "control",
         "exposure": [{"id": f"x-{org}", "kind": "modbus_write_from_it", "severity": "high"}],
         "organization": {"id": org}},
        {"id": f"ip:{net(org)}.20", "ip": f"{net(org)}.20", "ips": [f"{net(org)}.20"], "roles": ["hmi"],
         "protocols": ["modbus"], "services": [], "vendor": None, "zone": "supervisory", "exposure": [],
         "organization": {"id": org}},
    ]


def ids(response: httpx.Response) -> list[str]:
    """Document ids of a page of store documents (event.id, or an asset's id)."""
    return [i.get("event", {}).get("id") or i["id"] for i in response.json()["items"]]


def seed(store: Store) -> None:
    store.put_events(make_event(o, i) for o in ENTERPRISES for i in range(2))
    store.put_alerts(make_alert(o, i) for o in ENTERPRISES for i in range(2))
    store.put_assets(a for o in ENTERPRISES for a in make_assets(o))
    store.refresh()


def test_settings(tmp_path: Path, **kw: Any) -> Settings:
    tmp_path.mkdir(parents=True, exist_ok=True)
    orgs = tmp_path / "orgs.yaml"
    if not orgs.exists():
        orgs.write_text(ORGS_YAML)
    base: dict[str, Any] = dict(
        environment="test", secret_key="t" * 40, db_path=tmp_path / "platform.db",
        store_url=f"sqlite:///{tmp_path / 'store.db'}", orgs_file=orgs, workspace_dir=tmp_path / "ws",
        argon2_time_cost=1, argon2_memory_kib=64, sync_interval=0, platform_name="icssa-test",
    )
    base.update(kw)
    return Settings(**base)


test_settings.__test__ = False  # type: ignore[attr-defined]


@functools.cache
def password_hash(passwords: Passwords) -> str:
    """PASSWORD hashed once per hasher (argon2 costs the same for every user)."""
    return passwords.hash(PASSWORD)


def add_user(db: Database, app: FastAPI, username: str, role: str, org: str, assigned: tuple[str, ...] = ()) -> int:
    cur = db.execute(
        "INSERT INTO users (username, password_hash, role, org, active, created) VALUES (?,?,?,?,1,?)",
        (username, password_hash(app.state.passwords), role, org, now_iso()),
    )
    uid = int(cur.lastrowid or 0)
    for e in assigned:
        db.execute("INSERT INTO user_enterprises VALUES (?, ?)", (uid, e))
    return uid


@dataclass
class Env:
    app: FastAPI
    client: TestClient
    settings: Settings
    ids: dict[str, int] = field(default_factory=dict)
    tokens: dict[str, str] = field(default_factory=dict)

    @property
    def db(self) -> Database:
        return self.app.state.db  # type: ignore[no-any-return]

    @property
    def store(self) -> Store:
        return self.app.state.store  # type: ignore[no-any-return]

    def auth(self, user: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[user]}"}

    def get(self, user: str, path: str, **params: Any) -> httpx.Response:
        return self.client.get(path, params=params, headers=self.auth(user))

    def post(self, user: str, path: str, body: Any = None, **kw: Any) -> httpx.Response:
        return self.client.post(path, json=body, headers=self.auth(user), **kw)

    def patch(self, user: str, path: str, body: Any) -> httpx.Response:
        return self.client.patch(path, json=body, headers=self.auth(user))

    def put(self, user: str, path: str, body: Any) -> httpx.Response:
        return self.client.put(path, json=body, headers=self.auth(user))

    def delete(self, user: str, path: str) -> httpx.Response:
        return self.client.delete(path, headers=self.auth(user))

    def api_key(self, user: str) -> str:
        key, prefix, digest = new_api_key()
        self.db.execute("INSERT INTO api_keys (user_id, name, prefix, key_hash, created) VALUES (?,?,?,?,?)",
                        (self.ids[user], "test", prefix, digest, now_iso()))
        return key


def build_env(tmp_path: Path, data: bool = True, **kw: Any) -> Env:
    settings = test_settings(tmp_path, **kw)
    app = create_app(settings)
    env = Env(app, TestClient(app), settings)
    for name, (role, org, assigned) in USERS.items():
        env.ids[name] = add_user(env.db, app, name, role, org, assigned)
        env.tokens[name] = create_access_token(settings, env.ids[name])
    if data:
        seed(env.store)
    return env


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class ServerThread:
    """uvicorn serving an app on 127.0.0.1 in a thread; ready when it answers /health."""

    def __init__(self, app: FastAPI) -> None:
        self.port = free_port()
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning",
                                                    lifespan="off"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> ServerThread:
        self.thread.start()
        wait_ready(self.url + "/api/v1/health")
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


def wait_ready(url: str, attempts: int = 400) -> None:
    """Poll until the URL answers 200 (connection refused means not yet)."""
    last: Exception | None = None
    for _ in range(attempts):
        try:
            if httpx.get(url, timeout=1.0).status_code == 200:
                return
        except httpx.TransportError as exc:
            last = exc
        threading.Event().wait(0.05)
    raise AssertionError(f"{url} never became ready: {last}")
