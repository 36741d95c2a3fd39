"""The upstream forwarder: durable outbox, TLP policy, retries with backoff, delivery once."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from apitest import TAXII, Env, ServerThread, build_env, free_port, make_alert

from api.forwarder import Forwarder

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def queued(env: Env) -> list[tuple[str, str | None]]:
    return [(r["object_id"].split("--")[0], r["tlp"]) for r in env.db.query("SELECT object_id, tlp FROM outbox ORDER BY seq")]


def test_outbox_takes_only_what_the_marking_allows(tmp_path: Path) -> None:
    env = build_env(tmp_path, data=False, upstream_url="http://127.0.0.1:9/taxii2/x/collections/y/")
    env.db.execute("DELETE FROM outbox")  # the definitions queued at start
    sharing = env.app.state.sharing
    for i, tlp in enumerate(["clear", "green", "amber", "amber+strict", "red"]):
        sharing.publish_alert(make_alert("wtp-jn", i, tlp=tlp))
    sighted = {tlp for kind, tlp in queued(env) if kind == "sighting"}
    assert sighted == {"clear", "green", "amber"}
    assert not [q for q in queued(env) if q[1] in ("red", "amber+strict")]


def test_down_upstream_keeps_rows_and_backs_off(tmp_path: Path) -> None:
    env = build_env(tmp_path, data=False, upstream_url=f"http://127.0.0.1:{free_port()}/taxii2/nj/collections/x/",
                    retry_base_seconds=10, retry_max_seconds=40)
    now = [1000.0]
    fw = Forwarder(env.db, env.settings, clock=lambda: now[0], rng=random.Random(7))
    env.app.state.sharing.publish_alert(make_alert("wtp-jn", 0, tlp="green"))
    pending = env.db.scalar("SELECT COUNT(*) FROM outbox WHERE sent IS NULL")
    res = fw.flush(batch=1000)
    assert (res.sent, res.failed) == (0, pending) and "ConnectionError" in (res.error or "")
    assert fw.flush().failed == 0  # nothing is due before the backoff ends
    delays = []
    for _ in range(4):
        next_try = env.db.scalar("SELECT MIN(next_try) FROM outbox")
        delays.append(next_try - now[0])
        now[0] = next_try + 0.001
        fw.flush(batch=1000)
    assert 5 <= delays[0] <= 10 and 10 <= delays[1] <= 20 and 20 <= delays[2] <= 40 and 20 <= delays[3] <= 40
    assert env.db.scalar("SELECT COUNT(DISTINCT next_try) FROM outbox") == 1  # the batch retries together
    assert env.db.scalar("SELECT MIN(attempts) FROM outbox") == 5
    assert env.db.scalar("SELECT COUNT(*) FROM outbox WHERE sent IS NULL") == pending


def test_backoff_doubles_up_to_the_cap(tmp_path: Path) -> None:
    s = build_env(tmp_path, data=False, retry_base_seconds=1, retry_max_seconds=8).settings

    class Top(random.Random):
        def random(self) -> float:
            return 1.0

    fw = Forwarder(None, s, rng=Top())  # type: ignore[arg-type]
    assert [fw.backoff(n) for n in range(1, 7)] == [1, 2, 4, 8, 8, 8]


def test_delivers_once_to_a_parent_platform(tmp_path: Path) -> None:
    parent = build_env(tmp_path / "parent", data=False)
    key = parent.api_key("sensor_wtp")
    with ServerThread(parent.app) as srv:
        cols = parent.client.get("/taxii2/wtp-jn/collections/", headers={"X-API-Key": key, "Accept": TAXII}).json()
        inbox = next(c["id"] for c in cols["collections"] if c["can_write"])
        child = build_env(tmp_path / "child", data=False, upstream_url=f"{srv.url}/taxii2/wtp-jn/collections/{inbox}/",
                          upstream_api_key=key)
        child.app.state.sharing.publish_alert(make_alert("wtp-jn", 0, tlp="green"))
        fw = Forwarder(child.db, child.settings)
        first = fw.flush()
        again = fw.flush()
    total = child.db.scalar("SELECT COUNT(*) FROM outbox")
    assert (first.sent, first.failed, again.sent) == (total, 0, 0)
    got = parent.db.query("SELECT type, org FROM stix_objects WHERE kind = 'inbox' AND org != ''")
    assert sorted(r["type"] for r in got).count("sighting") == 1
    assert {r["org"] for r in got} == {"wtp-jn"}
