"""Replay workspaces for researchers: upload a capture, get the offline pipeline's results.

A workspace is a folder under ``settings.workspace_dir`` (``input/`` the upload, ``out/`` what
``icssa.pipeline.replay`` writes: events.jsonl, alerts.jsonl, assets.json, graph.json) and a row
in the database (owner, status queued -> running -> done | failed, summary). Only the owner
(and admins) see a workspace; researchers see nothing else of the platform.
"""

from __future__ import annotations

import re
import shutil
import uuid
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import APIRouter, BackgroundTasks, File, Form, HTTPException, Response, UploadFile, status
from fastapi.responses import FileResponse
from pydantic import BaseModel

from api.db import Database, dumps, loads, now_iso
from api.deps import Principal, ResearcherUser, SessionDep, SettingsDep, not_found
from icssa.pipeline import replay

router = APIRouter(prefix="/workspaces", tags=["workspaces"])
RESULTS = ("events.jsonl", "alerts.jsonl", "assets.json", "graph.json")
ResultName = Literal["events.jsonl", "alerts.jsonl", "assets.json", "graph.json"]
#: pcap (both byte orders, micro and nano seconds) and pcapng section header
MAGICS = (b"\xd4\xc3\xb2\xa1", b"\xa1\xb2\xc3\xd4", b"\x4d\x3c\xb2\xa1", b"\xa1\xb2\x3c\x4d", b"\x0a\x0d\x0d\x0a")
CHUNK = 1 << 20


class WorkspaceOut(BaseModel):
    id: str
    name: str
    owner: str
    status: Literal["queued", "running", "done", "failed"]
    created: str
    finished: str | None
    summary: dict[str, Any] | None
    error: str | None
    results: list[str]


def _out(row: Any, folder: Path) -> WorkspaceOut:
    done = row["status"] == "done"
    return WorkspaceOut(
        id=row["id"], name=row["name"], owner=row["owner"], status=row["status"], created=row["created"],
        finished=row["finished"], summary=loads(row["summary"]), error=row["error"],
        results=[n for n in RESULTS if done and (folder / row["id"] / "out" / n).is_file()],
    )


def _mine(db: Database, user: Principal, wid: str) -> Any:
    row = db.one("SELECT * FROM workspaces WHERE id = ?", (wid,))
    if row is None or (user.role != "admin" and row["owner"] != user.username):
        raise not_found(f"workspace {wid}")
    return row


def run_workspace(db: Database, folder: Path, wid: str) -> None:
    """Replay the workspace's capture (runs after the upload answered)."""
    db.execute("UPDATE workspaces SET status = 'running' WHERE id = ?", (wid,))
    captures = sorted((folder / wid / "input").iterdir())
    try:
        summary = replay(captures, folder / wid / "out", observer="workspace", organization=f"workspace-{wid}")
    except (OSError, ValueError) as exc:
        db.execute("UPDATE workspaces SET status = 'failed', finished = ?, error = ? WHERE id = ?",
                   (now_iso(), f"{type(exc).__name__}: {exc}"[:1000], wid))
        return
    info = {k: getattr(summary, k) for k in ("files", "packets", "bytes", "flows", "events", "alerts", "assets")}
    info["seconds"] = round(summary.seconds, 3)
    info["parse_errors"] = {f"{d}/{r}": n for (d, r), n in summary.parse_errors.items()}
    state = "failed" if summary.errors and not summary.events else "done"
    db.execute("UPDATE workspaces SET status = ?, finished = ?, summary = ?, error = ? WHERE id = ?",
               (state, now_iso(), dumps(info), "; ".join(summary.errors)[:1000] or None, wid))


@router.post("", response_model=WorkspaceOut, status_code=202)
async def create_workspace(
    user: ResearcherUser, db: SessionDep, settings: SettingsDep, tasks: BackgroundTasks,
    file: Annotated[UploadFile, File(description="a pcap or pcapng capture")],
    name: Annotated[str | None, Form(max_length=200)] = None,
) -> WorkspaceOut:
    wid = uuid.uuid4().hex
    folder = settings.workspace_dir
    dest_dir = folder / wid / "input"
    dest_dir.mkdir(parents=True)
    safe = re.sub(r"[^A-Za-z0-9._-]", "_", Path(file.filename or "capture.pcap").name)[:100] or "capture.pcap"
    if not safe.lower().endswith((".pcap", ".pcapng", ".cap")):
        safe += ".pcap"
    size = 0
    head = b""
    with open(dest_dir / safe, "wb") as out:
        while chunk := await file.read(CHUNK):
            size += len(chunk)
            if size > settings.max_upload_bytes:
                out.close()
                shutil.rmtree(folder / wid, ignore_errors=True)
                raise HTTPException(status.HTTP_413_CONTENT_TOO_LARGE, f"captures up to {settings.max_upload_bytes} bytes")
            if len(head) < 4:
                head += chunk[: 4 - len(head)]
            out.write(chunk)
    if head not in MAGICS:
        shutil.rmtree(folder / wid, ignore_errors=True)
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, "not a pcap or pcapng capture")
    db.execute("INSERT INTO workspaces (id, owner, name, status, created) VALUES (?,?,?, 'queued', ?)",
               (wid, user.username, name or safe, now_iso()))
    db.audit(user.actor, "create", "workspace", wid, actor_org=user.org, detail={"file": safe, "bytes": size})
    tasks.add_task(run_workspace, db, folder, wid)
    return _out(_mine(db, user, wid), folder)


@router.get("", response_model=list[WorkspaceOut])
def list_workspaces(user: ResearcherUser, db: SessionDep, settings: SettingsDep) -> list[WorkspaceOut]:
    rows = db.query("SELECT * FROM workspaces ORDER BY created DESC")
    return [_out(r, settings.workspace_dir) for r in rows if user.role == "admin" or r["owner"] == user.username]


@router.get("/{wid}", response_model=WorkspaceOut)
def get_workspace(wid: str, user: ResearcherUser, db: SessionDep, settings: SettingsDep) -> WorkspaceOut:
    return _out(_mine(db, user, wid), settings.workspace_dir)


@router.get("/{wid}/results/{name}", response_class=FileResponse)
def get_result(wid: str, name: ResultName, user: ResearcherUser, db: SessionDep, settings: SettingsDep) -> FileResponse:
    row = _mine(db, user, wid)
    path = settings.workspace_dir / wid / "out" / name
    if row["status"] != "done" or not path.is_file():
        raise not_found(f"{name} of workspace {wid}")
    media = "application/x-ndjson" if name.endswith(".jsonl") else "application/json"
    return FileResponse(path, media_type=media, filename=name)


@router.delete("/{wid}", status_code=204)
def delete_workspace(wid: str, user: ResearcherUser, db: SessionDep, settings: SettingsDep) -> Response:
    _mine(db, user, wid)
    shutil.rmtree(settings.workspace_dir / wid, ignore_errors=True)
    db.execute("DELETE FROM workspaces WHERE id = ?", (wid,))
    db.audit(user.actor, "delete", "workspace", wid, actor_org=user.org)
    return Response(status_code=204)
