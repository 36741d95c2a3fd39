"""The region overview per county."""

from __future__ import annotations

from apitest import Env


def test_overview_rows_per_county(env: Env) -> None:
    rows = env.get("nj_resp", "/api/v1/overview").json()["rows"]
    assert [(r["region"]["id"], r["assets"], r["exposed_assets"], r["alerts"], r["alerts_by_severity"]["high"]) for r in rows] == [
        ("jiangning", 4, 2, 4, 2), ("pukou", 2, 1, 2, 1)]
