"""Federation: a city platform and the province platform, two `icssa serve` processes on loopback.

The city forwards what TLP allows to its API root at the province (TAXII inbox, with an API key
of a province account for the city). GREEN arrives, RED never does; with the province down
for a while the city keeps everything in its outbox and delivers it, once, when it is back.
"""

from __future__ import annotations

import os
import signal
import subprocess
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from apitest import ORGS_YAML, ROOT, TAXII, free_port, make_alert, serve_command, wait_ready

RED = "marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1"
CITY_ORGS = """
organizations:
  - id: nj
    name: Nanjing
    level: city
    children:
      - id: jiangning
        level: county
        children:
          - {id: wtp-jn, name: Jiangning water treatment, level: enterprise}
"""
ADMIN_PASSWORD = "federation admin password"


class Platform:
    def __init__(self, folder: Path, orgs: str, port: int, **env: str) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "orgs.yaml").write_text(orgs)
        self.folder, self.port = folder, port
        self.env = {
            **os.environ, "ICSSA_ENVIRONMENT": "test", "ICSSA_SECRET_KEY": "s" * 48, "ICSSA_FIRST_ADMIN": "admin",
            "ICSSA_FIRST_ADMIN_PASSWORD": ADMIN_PASSWORD, "ICSSA_ARGON2_TIME_COST": "1", "ICSSA_ARGON2_MEMORY_KIB": "64",
            "ICSSA_SYNC_INTERVAL": "0", **env,
        }
        self.proc: subprocess.Popen[bytes] | None = None
        self.token = ""

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, upstream: str | None = None) -> None:
        cmd = [*serve_command(), "--store", f"sqlite:///{self.folder / 'store.db'}",
               "--db", str(self.folder / "platform.db"), "--orgs", str(self.folder / "orgs.yaml"),
               "--host", "127.0.0.1", "--port", str(self.port), "--workspaces", str(self.folder / "ws")]
        if upstream:
            cmd += ["--upstream", upstream]
        log = open(self.folder / "serve.log", "ab")  # noqa: SIM115 - closed with the process
        self.proc = subprocess.Popen(cmd, cwd=ROOT, env=self.env, stdout=log, stderr=log)
        wait_ready(self.url + "/api/v1/health")
        r = httpx.post(self.url + "/api/v1/login/access-token", data={"username": "admin", "password": ADMIN_PASSWORD})
        self.token = r.json()["access_token"]

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(timeout=30)
            self.proc = None

    def call(self, method: str, path: str, **kw: Any) -> httpx.Response:
        headers = {"Authorization": f"Bearer {self.token}", **kw.pop("headers", {})}
        return httpx.request(method, self.url + path, headers=headers, timeout=10, **kw)

    def key_for(self, username: str, role: str, org: str) -> str:
        user = self.call("POST", "/api/v1/users", json={"username": username, "role": role, "org": org}).json()
        return str(self.call("POST", f"/api/v1/users/{user['id']}/api-keys", json={"name": "machine"}).json()["key"])

    def inbox(self, root: str, headers: dict[str, str]) -> str:
        cols = httpx.get(f"{self.url}/taxii2/{root}/collections/", headers={**headers, "Accept": TAXII}).json()
        return str(next(c["id"] for c in cols["collections"] if c["can_write"]))


def until(check: Callable[[], Any], what: str, attempts: int = 600) -> Any:
    """Poll ``check`` until it returns something truthy."""
    for _ in range(attempts):
        value = check()
        if value:
            return value
        threading.Event().wait(0.05)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture
def platforms(tmp_path: Path) -> Iterator[tuple[Platform, Platform]]:
    province = Platform(tmp_path / "province", ORGS_YAML, free_port())
    province.start()
    key = province.key_for("nanjing-platform", "sensor", "nj")
    upstream = f"{province.url}/taxii2/nj/collections/{province.inbox('nj', {'X-API-Key': key})}/"
    city = Platform(tmp_path / "city", CITY_ORGS, free_port(), ICSSA_UPSTREAM_API_KEY=key,
                    ICSSA_SYNC_INTERVAL="0.1", ICSSA_RETRY_BASE_SECONDS="0.1", ICSSA_RETRY_MAX_SECONDS="0.5")
    city.start(upstream=upstream)
    try:
        yield city, province
    finally:
        city.stop()
        province.stop()


def received(province: Platform) -> dict[str, list[dict[str, Any]]]:
    """alert id -> every version of its sighting at the province (inbox of the province root)."""
    h = {"Authorization": f"Bearer {province.token}"}
    cid = province.inbox("js", h)
    r = province.call("GET", f"/taxii2/js/collections/{cid}/objects/", headers={"Accept": TAXII},
                      params={"limit": 1000, "match[version]": "all"})
    found: dict[str, list[dict[str, Any]]] = {}
    for obj in r.json().get("objects", []):
        if obj["type"] == "sighting":
            found.setdefault(list(obj["extensions"].values())[0]["alert_id"], []).append(obj)
    return found


def all_objects(province: Platform) -> list[dict[str, Any]]:
    cid = province.inbox("js", {"Authorization": f"Bearer {province.token}"})
    r = province.call("GET", f"/taxii2/js/collections/{cid}/objects/", headers={"Accept": TAXII},
                      params={"limit": 1000, "match[version]": "all"})
    return list(r.json().get("objects", []))


def outbox(city: Platform) -> dict[str, Any]:
    return dict(city.call("GET", "/api/v1/sharing/outbox").json())


def test_green_goes_up_red_stays_and_an_outage_loses_nothing(platforms: tuple[Platform, Platform]) -> None:
    city, province = platforms
    sensor = {"X-API-Key": city.key_for("wtp-sensor", "sensor", "wtp-jn")}
    first = [make_alert("wtp-jn", 0, tlp="green"), make_alert("wtp-jn", 1, tlp="red")]
    assert city.call("POST", "/api/v1/alerts", json={"alerts": first}, headers=sensor).status_code == 201

    until(lambda: "al-wtp-jn-0" in received(province), "the GREEN alert at the province")
    until(lambda: outbox(city)["pending"] == 0, "the city outbox to drain")
    assert set(received(province)) == {"al-wtp-jn-0"}
    assert not [o for o in all_objects(province) if RED in (o.get("object_marking_refs") or [])]

    province.stop()
    later = [make_alert("wtp-jn", 2, tlp="green"), make_alert("wtp-jn", 3, tlp="clear"),
             make_alert("wtp-jn", 4, tlp="red")]
    assert city.call("POST", "/api/v1/alerts", json={"alerts": later}, headers=sensor).status_code == 201
    state = until(lambda: (s := outbox(city))["retrying"] and s, "the city to notice the province is down")
    assert state["pending"] > 0 and state["last_error"]

    province.start()
    until(lambda: {"al-wtp-jn-2", "al-wtp-jn-3"} <= set(received(province)), "the backlog at the province")
    until(lambda: outbox(city)["pending"] == 0, "the city outbox to drain after the outage")
    got = received(province)
    assert set(got) == {"al-wtp-jn-0", "al-wtp-jn-2", "al-wtp-jn-3"}
    assert all(len(versions) == 1 for versions in got.values())
