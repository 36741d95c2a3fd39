"""Researchers' replay workspaces: upload a capture, read the pipeline's results."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from apitest import PCAPS, Env

MANIFEST = json.loads((PCAPS / "manifest.json").read_text())["captures"]


def upload(env: Env, user: str, path: Path, name: str | None = None) -> object:
    with open(path, "rb") as fh:
        return env.client.post("/api/v1/workspaces", files={"file": (path.name, fh, "application/vnd.tcpdump.pcap")},
                               data={"name": name or path.stem}, headers=env.auth(user))


def test_researcher_replays_a_capture(env: Env) -> None:
    r = upload(env, "researcher", PCAPS / "modbus_coil_flood.pcap")
    assert r.status_code == 202  # type: ignore[attr-defined]
    wid = r.json()["id"]  # type: ignore[attr-defined]
    ws = env.get("researcher", f"/api/v1/workspaces/{wid}").json()
    assert ws["status"] == "done"
    assert set(ws["results"]) == {"events.jsonl", "alerts.jsonl", "assets.json", "graph.json"}
    events = env.get("researcher", f"/api/v1/workspaces/{wid}/results/events.jsonl")
    lines = [json.loads(x) for x in events.text.splitlines()]
    assert len(lines) == ws["summary"]["events"] > 0
    writes = [e for e in lines if e["event"]["action"] == "write_single_coil" and not e["modbus"]["is_response"]]
    assert len(writes) == 120  # the manifest: 120 single-coil writes
    assert {e["destination"]["ip"] for e in writes} == {MANIFEST["modbus_coil_flood"]["server"]["ip"]}


def test_workspaces_are_private(env: Env) -> None:
    wid = upload(env, "researcher", PCAPS / "modbus_coil_flood.pcap").json()["id"]  # type: ignore[attr-defined]
    env.post("admin", "/api/v1/users", {"username": "researcher2", "password": "long enough", "role": "researcher", "org": "js"})
    token = env.client.post("/api/v1/login/access-token", data={"username": "researcher2", "password": "long enough"}).json()
    other = {"Authorization": f"Bearer {token['access_token']}"}
    assert env.client.get(f"/api/v1/workspaces/{wid}", headers=other).status_code == 404
    assert env.client.get("/api/v1/workspaces", headers=other).json() == []
    assert env.get("nj_resp", "/api/v1/workspaces").status_code == 403


@pytest.mark.parametrize("content", [b"", b"GET / HTTP/1.1\r\n", b"\x00" * 100])
def test_non_captures_are_refused(env: Env, tmp_path: Path, content: bytes) -> None:
    bad = tmp_path / "x.pcap"
    bad.write_bytes(content)
    assert upload(env, "researcher", bad).status_code == 422  # type: ignore[attr-defined]


def test_truncated_capture_keeps_what_was_read(env: Env, tmp_path: Path) -> None:
    data = (PCAPS / "modbus_coil_flood.pcap").read_bytes()
    cut = tmp_path / "cut.pcap"
    cut.write_bytes(data[: len(data) // 2 + 7])
    ws = upload(env, "researcher", cut).json()  # type: ignore[attr-defined]
    got = env.get("researcher", f"/api/v1/workspaces/{ws['id']}").json()
    assert got["status"] == "done" and got["summary"]["events"] > 0 and got["error"]


def test_upload_size_is_bounded(tmp_path: Path) -> None:
    from apitest import build_env

    small = build_env(tmp_path, data=False, max_upload_bytes=1024)
    assert upload(small, "researcher", PCAPS / "modbus_coil_flood.pcap").status_code == 413  # type: ignore[attr-defined]
    assert not any((tmp_path / "ws").iterdir())


def test_deleting_removes_the_folder(env: Env) -> None:
    wid = upload(env, "researcher", PCAPS / "s7_connect_szl.pcap").json()["id"]  # type: ignore[attr-defined]
    assert env.delete("researcher", f"/api/v1/workspaces/{wid}").status_code == 204
    assert not (env.settings.workspace_dir / wid).exists()
    assert env.get("researcher", f"/api/v1/workspaces/{wid}").status_code == 404
