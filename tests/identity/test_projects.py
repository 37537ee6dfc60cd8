"""Projects: hierarchy (Keystone shows the domain as a top-level project's parent), tags and
their filters, enable/disable rules, delete of leaves only, `parents`/`subtree` views, the
projects of a user, and `openstack project create --parent --tag`."""

from __future__ import annotations

import openstack.exceptions as osexc
import pytest

from tests.helpers.server import Server
from tests.identity import people
from tests.identity.people import api, error


@pytest.fixture(scope="module")
def tok(server: Server) -> str:
    return people.admin_token(server)


def _patch(server: Server, tok: str, project_id: str, **body: object) -> object:
    return api(server, "PATCH", f"/v3/projects/{project_id}", tok, json={"project": body})


def test_project_shape_and_hierarchy(server: Server, tok: str) -> None:
    top = people.create(server, tok, "project", name=people.uid("p"), description="top", team="a")
    assert top["parent_id"] == "default" and top["domain_id"] == "default"
    assert top["is_domain"] is False and top["tags"] == [] and top["team"] == "a"
    assert top["links"]["self"] == f"{server.url}/v3/projects/{top['id']}"
    child = people.create(server, tok, "project", name=people.uid("c"), parent_id=top["id"])
    grandchild = people.create(server, tok, "project", name=people.uid("g"), parent_id=child["id"])
    assert child["parent_id"] == top["id"] and child["domain_id"] == "default"
    listed = api(server, "GET", f"/v3/projects?parent_id={top['id']}", tok).json()["projects"]
    assert [p["id"] for p in listed] == [child["id"]]
    tops = api(server, "GET", "/v3/projects?parent_id=default", tok).json()["projects"]
    assert top["id"] in {p["id"] for p in tops} and child["id"] not in {p["id"] for p in tops}
    shown = api(server, "GET", f"/v3/projects/{child['id']}?parents_as_list&subtree_as_list", tok)
    body = shown.json()["project"]
    assert [p["project"]["id"] for p in body["parents"]] == [top["id"]]
    assert [p["project"]["id"] for p in body["subtree"]] == [grandchild["id"]]
    ids = api(server, "GET", f"/v3/projects/{top['id']}?subtree_as_ids&parents_as_ids", tok)
    assert ids.json()["project"]["subtree"] == {child["id"]: {grandchild["id"]: None}}
    assert ids.json()["project"]["parents"] == {"default": None}
    error(_patch(server, tok, child["id"], parent_id=grandchild["id"]), 403, "parent_id")
    error(_patch(server, tok, child["id"], enabled=False), 403, "subtree")
    error(api(server, "DELETE", f"/v3/projects/{child['id']}", tok), 403, "not a leaf")
    assert _patch(server, tok, grandchild["id"], enabled=False).status_code == 200
    assert _patch(server, tok, child["id"], enabled=False).status_code == 200
    error(_patch(server, tok, grandchild["id"], enabled=True), 403, "disabled parents")
    r = api(
        server,
        "POST",
        "/v3/projects",
        tok,
        json={"project": {"name": people.uid("x"), "parent_id": child["id"]}},
    )
    error(r, 403, "disabled")
    for project in (grandchild, child, top):
        assert api(server, "DELETE", f"/v3/projects/{project['id']}", tok).status_code == 204


def test_depth_limit(server: Server, tok: str) -> None:
    parent = None
    made = []
    for _ in range(5):
        body = {"name": people.uid("deep")}
        if parent:
            body["parent_id"] = parent
        parent = people.create(server, tok, "project", **body)["id"]
        made.append(parent)
    r = api(
        server,
        "POST",
        "/v3/projects",
        tok,
        json={"project": {"name": "too-deep", "parent_id": parent}},
    )
    error(r, 403, "depth")
    for project_id in reversed(made):
        api(server, "DELETE", f"/v3/projects/{project_id}", tok)


def test_tags_and_filters(server: Server, tok: str) -> None:
    mark = people.uid("tag")
    a = people.create(server, tok, "project", name=people.uid("a"), tags=[mark, "red"])
    b = people.create(server, tok, "project", name=people.uid("b"), tags=[mark, "blue"])

    def names(query: str) -> set[str]:
        found = api(server, "GET", f"/v3/projects?{query}", tok).json()["projects"]
        return {p["id"] for p in found} & {a["id"], b["id"]}

    assert names(f"tags={mark},red") == {a["id"]}
    assert names("tags-any=red,blue") == {a["id"], b["id"]}
    assert names(f"tags={mark}&not-tags={mark},red") == {b["id"]}
    assert names(f"tags={mark}&not-tags-any=blue") == {a["id"]}
    base = f"/v3/projects/{a['id']}/tags"
    assert api(server, "GET", base, tok).json()["tags"] == [mark, "red"]
    assert api(server, "PUT", f"{base}/green", tok).status_code == 201
    assert api(server, "HEAD", f"{base}/green", tok).status_code == 204
    error(api(server, "GET", f"{base}/nope", tok), 404)
    assert api(server, "DELETE", f"{base}/green", tok).status_code == 204
    assert api(server, "PUT", base, tok, json={"tags": ["one", "two"]}).json() == {
        "tags": ["one", "two"]
    }
    error(api(server, "PUT", base, tok, json={"tags": ["bad/tag"]}), 400)
    error(api(server, "PUT", base, tok, json={"tags": [str(i) for i in range(81)]}), 400)
    r = _patch(server, tok, a["id"], tags=["x" * 256])
    error(r, 400)
    assert api(server, "DELETE", base, tok).status_code == 204
    assert api(server, "GET", f"/v3/projects/{a['id']}", tok).json()["project"]["tags"] == []
    for project in (a, b):
        api(server, "DELETE", f"/v3/projects/{project['id']}", tok)


def test_filters_and_limit(server: Server, tok: str) -> None:
    stem = people.uid("flt")
    made = [
        people.create(server, tok, "project", name=f"{stem}-{i}", enabled=i != 2) for i in range(3)
    ]
    found = api(server, "GET", f"/v3/projects?name__startswith={stem}", tok).json()["projects"]
    assert [p["name"] for p in found] == [f"{stem}-0", f"{stem}-1", f"{stem}-2"]
    off = api(server, "GET", f"/v3/projects?name__startswith={stem}&enabled=false", tok).json()
    assert [p["name"] for p in off["projects"]] == [f"{stem}-2"]
    paged = api(server, "GET", f"/v3/projects?name__startswith={stem}&limit=2", tok).json()
    assert len(paged["projects"]) == 2 and paged["truncated"] is True
    rest = api(server, "GET", paged["links"]["next"].removeprefix(server.url), tok).json()
    assert [p["name"] for p in rest["projects"]] == [f"{stem}-2"] and "truncated" not in rest
    exact = api(server, "GET", f"/v3/projects?name={stem}-1&domain_id=default", tok).json()
    assert [p["id"] for p in exact["projects"]] == [made[1]["id"]]
    domains = api(server, "GET", "/v3/projects?is_domain=true", tok).json()["projects"]
    assert {"id": "default", "is_domain": True}.items() <= next(
        p for p in domains if p["id"] == "default"
    ).items()
    for project in made:
        api(server, "DELETE", f"/v3/projects/{project['id']}", tok)


def test_disable_and_delete_end_tokens(server: Server, tok: str) -> None:
    m = people.member(server, tok)
    assert people.valid(server, m["token"])
    _patch(server, tok, m["project"]["id"], enabled=False)
    assert not people.valid(server, m["token"])
    _patch(server, tok, m["project"]["id"], enabled=True)
    assert not people.valid(server, m["token"])
    fresh = people.login(server, m["user"]["name"], m["password"], m["project"]["name"])
    token = fresh.headers["X-Subject-Token"]
    own = api(server, "GET", f"/v3/users/{m['user']['id']}/projects", token).json()["projects"]
    assert [p["id"] for p in own] == [m["project"]["id"]]
    assert api(server, "DELETE", f"/v3/projects/{m['project']['id']}", tok).status_code == 204
    assert not people.valid(server, token)
    assert (
        api(server, "GET", f"/v3/role_assignments?user.id={m['user']['id']}", tok).json()[
            "role_assignments"
        ]
        == []
    )


def test_cli_project_create_with_parent_and_tags(server: Server) -> None:
    parent, child = people.uid("cli"), people.uid("cli")
    people.create(server, people.admin_token(server), "project", name=parent)
    made = server.cli_json(
        "project", "create", "--parent", parent, "--tag", "a", "--tag", "b", child
    )
    assert sorted(made["tags"]) == ["a", "b"] and made["parent_id"] != "default"
    tok = people.admin_token(server)
    listed = api(server, "GET", f"/v3/projects?parent_id={made['parent_id']}", tok).json()
    assert [p["name"] for p in listed["projects"]] == [child]


def test_project_acting_as_domain(server: Server) -> None:
    """`is_domain` projects are domains, reached through the project API by id as Keystone
    keeps them; they stay domains and refuse a domain or parent of their own."""
    conn = server.connect("overcast")
    made = conn.identity.create_project(name=people.uid("d"), is_domain=True, description="x")
    assert made.is_domain is True and made.domain_id is None and made.parent_id is None
    domain = conn.identity.get_domain(made.id)
    assert (domain.name, domain.description) == (made.name, "x")
    assert made.id in [p.id for p in conn.identity.projects(is_domain=True)]
    assert made.id not in [p.id for p in conn.identity.projects()]
    shown = conn.identity.get_project(made.id)
    assert (shown.name, shown.is_domain) == (made.name, True)
    inside = conn.identity.create_project(name=people.uid("p"), domain_id=made.id)
    assert inside.domain_id == made.id and inside.parent_id == made.id
    with pytest.raises(osexc.BadRequestException):
        conn.identity.update_project(made.id, parent_id="default")
    with pytest.raises(osexc.BadRequestException):
        conn.identity.create_project(name=people.uid("d"), is_domain=True, domain_id=made.id)
    with pytest.raises(osexc.ForbiddenException):  # enabled: as DELETE /v3/domains refuses
        conn.identity.delete_project(made.id)
    assert conn.identity.update_project(made.id, enabled=False).is_enabled is False
    assert conn.identity.get_domain(made.id).is_enabled is False
    conn.identity.delete_project(made.id)
    with pytest.raises(osexc.NotFoundException):
        conn.identity.get_domain(made.id)
    with pytest.raises(osexc.NotFoundException):
        conn.identity.get_project(inside.id)


def test_only_admins_make_domain_projects(server: Server, tok: str) -> None:
    member = people.member(server, tok)
    r = api(
        server,
        "POST",
        "/v3/projects",
        member["token"],
        json={"project": {"name": people.uid("d"), "is_domain": True}},
    )
    error(r, 403)
