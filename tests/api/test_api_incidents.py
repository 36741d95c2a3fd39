"""Incidents: made from alerts, status workflow, support teams, comments, audit trail."""

from __future__ import annotations

import pytest
from apitest import Env


def new_incident(env: Env, user: str = "wtp_officer", alerts: tuple[str, ...] = ("al-wtp-jn-0", "al-wtp-jn-1")) -> dict:
    r = env.post(user, "/api/v1/incidents", {"alert_ids": list(alerts), "description": "coil writes from the IT zone"})
    assert r.status_code == 201, r.text
    return dict(r.json())


def test_created_from_alerts_takes_their_organization_severity_and_title(env: Env) -> None:
    inc = new_incident(env)
    assert (inc["org"], inc["status"], inc["severity"], inc["title"]) == ("wtp-jn", "new", 75, "Modbus coil write")
    assert inc["alert_ids"] == ["al-wtp-jn-0", "al-wtp-jn-1"]
    assert inc["created_by"] == "wtp_officer"


def test_alerts_of_two_enterprises_make_no_incident(env: Env) -> None:
    r = env.post("nj_resp", "/api/v1/incidents", {"alert_ids": ["al-wtp-jn-0", "al-chem-pk-0"]})
    assert r.status_code == 422


def test_alert_outside_scope_is_not_found(env: Env) -> None:
    r = env.post("wtp_officer", "/api/v1/incidents", {"alert_ids": ["al-steel-jn-0"]})
    assert r.status_code == 422
    assert "not found" in r.json()["detail"]


@pytest.mark.parametrize(
    "path",
    [["acknowledged", "in_progress", "resolved"], ["acknowledged", "false_positive"], ["false_positive"],
     ["acknowledged", "in_progress", "false_positive"]],
)
def test_allowed_status_paths(env: Env, path: list[str]) -> None:
    iid = new_incident(env)["id"]
    for status in path:
        r = env.patch("wtp_officer", f"/api/v1/incidents/{iid}", {"status": status})
        assert r.status_code == 200
        assert r.json()["status"] == status


@pytest.mark.parametrize(
    ("before", "after"),
    [([], "in_progress"), ([], "resolved"), (["acknowledged"], "new"), (["acknowledged", "in_progress", "resolved"], "in_progress"),
     (["false_positive"], "acknowledged")],
)
def test_forbidden_transitions_are_409(env: Env, before: list[str], after: str) -> None:
    iid = new_incident(env)["id"]
    for status in before:
        assert env.patch("wtp_officer", f"/api/v1/incidents/{iid}", {"status": status}).status_code == 200
    r = env.patch("wtp_officer", f"/api/v1/incidents/{iid}", {"status": after})
    assert r.status_code == 409


def test_auditor_reads_but_cannot_handle(env: Env) -> None:
    iid = new_incident(env, "chem_officer", ("al-chem-pk-0",))["id"]
    assert env.get("auditor", f"/api/v1/incidents/{iid}").status_code == 200
    assert env.patch("auditor", f"/api/v1/incidents/{iid}", {"status": "acknowledged"}).status_code == 403


def test_responder_assigns_a_team_of_the_region(env: Env) -> None:
    team = env.post("nj_resp", "/api/v1/teams", {"name": "Nanjing ICS support", "org": "nj", "contact": "+86 25 0000"})
    assert team.status_code == 201
    iid = new_incident(env)["id"]
    r = env.patch("nj_resp", f"/api/v1/incidents/{iid}", {"team_id": team.json()["id"]})
    assert r.status_code == 200
    assert r.json()["team"]["name"] == "Nanjing ICS support"
    listed = env.get("nj_resp", "/api/v1/incidents", team_id=team.json()["id"]).json()["items"]
    assert [i["id"] for i in listed] == [iid]


def test_a_team_of_another_city_cannot_be_assigned(env: Env) -> None:
    team = env.post("sz_resp", "/api/v1/teams", {"name": "Suzhou support", "org": "sz"}).json()
    iid = new_incident(env)["id"]
    assert env.patch("prov", f"/api/v1/incidents/{iid}", {"team_id": team["id"]}).status_code == 422


def test_officers_do_not_assign_teams(env: Env) -> None:
    team = env.post("nj_resp", "/api/v1/teams", {"name": "t", "org": "nj"}).json()
    iid = new_incident(env)["id"]
    assert env.patch("wtp_officer", f"/api/v1/incidents/{iid}", {"team_id": team["id"]}).status_code == 403


def test_comments_in_order(env: Env) -> None:
    iid = new_incident(env)["id"]
    assert env.post("wtp_officer", f"/api/v1/incidents/{iid}/comments", {"body": "isolated the HMI"}).status_code == 201
    assert env.post("nj_resp", f"/api/v1/incidents/{iid}/comments", {"body": "team on the way"}).status_code == 201
    got = env.get("jn_resp", f"/api/v1/incidents/{iid}/comments").json()
    assert [(c["author"], c["body"]) for c in got] == [("wtp_officer", "isolated the HMI"), ("nj_resp", "team on the way")]


def test_history_is_the_full_audit_trail(env: Env) -> None:
    iid = new_incident(env)["id"]
    env.patch("wtp_officer", f"/api/v1/incidents/{iid}", {"status": "acknowledged"})
    env.post("nj_resp", f"/api/v1/incidents/{iid}/comments", {"body": "noted"})
    env.patch("nj_resp", f"/api/v1/incidents/{iid}", {"severity": 90, "tlp": "red"})
    trail = env.get("nj_resp", f"/api/v1/incidents/{iid}/history").json()
    assert [(t["actor"], t["action"]) for t in trail] == [
        ("wtp_officer", "create"), ("wtp_officer", "update"), ("nj_resp", "comment"), ("nj_resp", "update")]
    assert trail[1]["detail"] == {"changes": {"status": "acknowledged"}, "before": {"status": "new"}}
    assert trail[3]["detail"]["before"] == {"severity": 75, "tlp": "amber"}


def test_other_city_cannot_touch_it(env: Env) -> None:
    iid = new_incident(env)["id"]
    assert env.get("sz_resp", f"/api/v1/incidents/{iid}").status_code == 404
    assert env.patch("sz_resp", f"/api/v1/incidents/{iid}", {"status": "acknowledged"}).status_code == 404
    assert env.post("sz_resp", f"/api/v1/incidents/{iid}/comments", {"body": "x"}).status_code == 404
    assert env.get("sz_resp", f"/api/v1/incidents/{iid}/history").status_code == 404


def test_list_filters_by_status_and_pages(env: Env) -> None:
    ids = [new_incident(env, alerts=(f"al-wtp-jn-{i % 2}",))["id"] for i in range(3)]
    env.patch("wtp_officer", f"/api/v1/incidents/{ids[0]}", {"status": "acknowledged"})
    assert [i["id"] for i in env.get("jn_resp", "/api/v1/incidents", status="new").json()["items"]] == ids[:0:-1]
    first = env.get("jn_resp", "/api/v1/incidents", size=2).json()
    assert (first["total"], [i["id"] for i in first["items"]]) == (3, ids[:0:-1])
    rest = env.get("jn_resp", "/api/v1/incidents", size=2, cursor=first["cursor"]).json()
    assert ([i["id"] for i in rest["items"]], rest["cursor"]) == ([ids[0]], None)


def test_incident_is_shared_as_stix_with_its_tlp(env: Env) -> None:
    iid = new_incident(env)["id"]
    env.patch("nj_resp", f"/api/v1/incidents/{iid}", {"tlp": "green"})
    bundle = env.get("nj_resp", "/api/v1/stix/incidents").json()
    incident = next(o for o in bundle["objects"] if o["type"] == "incident")
    assert incident["object_marking_refs"] == ["marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb"]
    related = [o for o in bundle["objects"] if o["type"] == "relationship"]
    assert len(related) == 2 and {r["source_ref"] for r in related} == {incident["id"]}
