"""The organization tree: loading and validation, scopes, and management through the API."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
from apitest import ORGS_YAML, Env

from api.tenancy import OrgTree, TreeError, load_yaml, scope_for


def load_yaml_text(text: str) -> list[dict]:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "orgs.yaml"
        path.write_text(text)
        return load_yaml(path)


def tree() -> OrgTree:
    return OrgTree.build(load_yaml_text(ORGS_YAML))


def test_paths_follow_the_codes() -> None:
    t = tree()
    assert t.nodes["chem-pk"].path == "js/nj/pukou/chem-pk"
    assert t.nodes["pharma-sz"].path == "js/sz/pharma-sz"
    assert t.find("js/nj/pukou").id == "pukou"


def test_subtree_and_ancestors() -> None:
    t = tree()
    assert t.subtree("nj") == {"nj", "jiangning", "pukou", "wtp-jn", "steel-jn", "chem-pk"}
    assert t.ancestors("wtp-jn") == ["jiangning", "nj", "js"]


@pytest.mark.parametrize(
    ("role", "org", "assigned", "orgs"),
    [("admin", "js", (), None), ("researcher", "js", (), set()), ("auditor", "js", ("chem-pk", "ghost"), {"chem-pk"}),
     ("officer", "wtp-jn", (), {"wtp-jn"}), ("responder", "pukou", (), {"pukou", "chem-pk"})],
)
def test_scope_per_role(role: str, org: str, assigned: tuple[str, ...], orgs: set[str] | None) -> None:
    scope = scope_for(tree(), role, org, assigned)  # type: ignore[arg-type]
    assert (None if scope.orgs is None else set(scope.orgs)) == orgs


@pytest.mark.parametrize(
    ("text", "message"),
    [("organizations: [{id: a, level: city}, {id: a, level: county, parent: a}]", "defined twice"),
     ("organizations: [{id: a, level: county, children: [{id: b, level: city}]}]", "cannot sit under"),
     ("organizations: [{id: a, level: city, parent: nowhere}]", "does not exist"),
     ("organizations: [{id: 'bad id', level: city}]", "organization id"),
     ("organizations: [{id: a, level: town}]", "level"),
     ("organizations: {a: 1}", "organizations' list"),
     ("organizations: [{id: a, level: city, children: [{id: b, level: county, code: x}, {id: c, level: county, code: x}]}]",
      "share the region path")],
)
def test_bad_trees_are_refused_with_a_reason(text: str, message: str) -> None:
    with pytest.raises(TreeError, match=message):
        load_yaml_text(text)


def test_flat_form_with_parent_is_accepted() -> None:
    records = load_yaml_text("organizations: [{id: p, level: province}, {id: c, level: city, parent: p}]")
    assert OrgTree.build(records).nodes["c"].path == "p/c"


def test_responder_creates_an_enterprise_below_its_node(env: Env) -> None:
    r = env.post("nj_resp", "/api/v1/orgs", {"id": "gas-pk", "name": "Pukou gas", "level": "enterprise", "parent": "pukou"})
    assert r.status_code == 201
    assert r.json()["path"] == "js/nj/pukou/gas-pk"
    assert "gas-pk" in {o["id"] for o in env.get("nj_resp", "/api/v1/orgs").json()}
    assert "gas-pk" not in {o["id"] for o in env.get("sz_resp", "/api/v1/orgs").json()}


@pytest.mark.parametrize(
    ("user", "body", "code"),
    [("nj_resp", {"id": "x1", "name": "x", "level": "enterprise", "parent": "kunshan"}, 422),
     ("wtp_officer", {"id": "x2", "name": "x", "level": "enterprise", "parent": "wtp-jn"}, 403),
     ("nj_resp", {"id": "x3", "name": "x", "level": "city", "parent": "pukou"}, 422),
     ("admin", {"id": "nj", "name": "x", "level": "city", "parent": "js"}, 409)],
)
def test_tree_changes_that_are_refused(env: Env, user: str, body: dict, code: int) -> None:
    assert env.post(user, "/api/v1/orgs", body).status_code == code


def test_moving_and_deleting(env: Env) -> None:
    assert env.patch("nj_resp", "/api/v1/orgs/steel-jn", {"parent": "pukou"}).json()["path"] == "js/nj/pukou/steel-jn"
    assert env.delete("nj_resp", "/api/v1/orgs/pukou").status_code == 409  # has children
    assert env.delete("nj_resp", "/api/v1/orgs/nj").status_code == 403  # its own node
    env.post("admin", "/api/v1/orgs", {"id": "empty", "name": "e", "level": "county", "parent": "nj"})
    assert env.delete("nj_resp", "/api/v1/orgs/empty").status_code == 204
    assert env.get("nj_resp", "/api/v1/orgs/empty").status_code == 404


def test_tree_change_reaches_scopes_at_once(env: Env) -> None:
    env.patch("admin", "/api/v1/orgs/chem-pk", {"parent": "kunshan"})
    assert {a["organization"]["id"] for a in env.get("sz_resp", "/api/v1/alerts").json()["items"]} == {
        "elec-ks", "pharma-sz", "chem-pk"}
