"""The region overview: per city or county (the children of the node asked for), assets, exposed
assets, open incidents and alerts by severity band (critical >= 90, high >= 70, medium >= 40)."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel

from api.db import Database
from api.deps import ReaderUser, SessionDep, SettingsDep, StoreDep, TreeDep, audit_read
from api.query import bad_query, bands, count_exposed
from api.regions import Region, region_groups
from icssa.store import AlertQuery, AssetQuery, Store

router = APIRouter(prefix="/overview", tags=["overview"])
OPEN = ("new", "acknowledged", "in_progress")


class OverviewRow(BaseModel):
    region: Region | None
    assets: int
    exposed_assets: int
    open_incidents: int
    alerts: int
    alerts_by_severity: dict[str, int]


class OverviewOut(BaseModel):
    rows: list[OverviewRow]
    total: OverviewRow


def _open_incidents(db: Database, orgs: list[str]) -> int:
    if not orgs:
        return 0
    marks = ",".join("?" * len(orgs))
    return int(db.scalar(
        f"SELECT COUNT(*) FROM incidents WHERE org IN ({marks}) AND status IN (?,?,?)", [*orgs, *OPEN]
    ) or 0)


def _row(store: Store, db: Database, reg: Region | None, orgs: list[str], start: str | None, end: str | None,
         max_scan: int) -> OverviewRow:
    stats = store.alert_stats(AlertQuery(organizations=orgs, start=start, end=end), top=1000)
    return OverviewRow(
        region=reg, assets=store.count_assets(AssetQuery(organizations=orgs)),
        exposed_assets=count_exposed(store, orgs, max_scan), open_incidents=_open_incidents(db, orgs),
        alerts=stats.total, alerts_by_severity=bands(stats.by_severity),
    )


@router.get("", response_model=OverviewOut)
def overview(
    user: ReaderUser, store: StoreDep, tree: TreeDep, db: SessionDep, settings: SettingsDep,
    region: str | None = None, start: str | None = None, end: str | None = None,
) -> OverviewOut:
    groups = region_groups(user, tree, region)
    try:
        rows = [_row(store, db, reg, orgs, start, end, settings.max_scan) for reg, orgs in groups]
        everything = sorted({o for _, orgs in groups for o in orgs})
        total = _row(store, db, None, everything, start, end, settings.max_scan)
    except ValueError as exc:
        raise bad_query(exc) from None
    audit_read(db, user, "overview", everything, {"region": region})
    return OverviewOut(rows=rows, total=total)
