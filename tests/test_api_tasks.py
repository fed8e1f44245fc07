"""Task rules over the API: roles, org units, four eyes, claims, completion and its data."""

import pytest

from rathaus.cases.models import Case, Task

PROBLEM = "application/problem+json"
APPROVE = {"data": {"decision": "approve"}}


def problem_of(r, status):
    assert r.status_code == status, (r.status_code, r.content[:400])
    assert r["Content-Type"] == PROBLEM
    body = r.json()
    assert body["status"] == status and body["detail"]
    return body


@pytest.fixture
def case(submit):
    return submit()


def open_task(case_id, name=None) -> int:
    qs = Task.objects.filter(case_id=case_id, state="open")
    if name:
        qs = qs.filter(name=name)
    return qs.get().pk


def test_four_eyes_refuses_claim_and_complete(api, case):
    leitung = api("leitung")
    assert leitung.post(f"/api/v1/tasks/{open_task(case['id'])}/complete", APPROVE).status_code == 200
    second = open_task(case["id"], "freigabe")
    for action, body in (("claim", None), ("complete", APPROVE)):
        p = problem_of(leitung.post(f"/api/v1/tasks/{second}/{action}", body), 403)
        assert p["type"].endswith("vier-augen-prinzip")
    assert Task.objects.get(pk=second).assignee_id is None
    assert api("stellvertretung").post(f"/api/v1/tasks/{second}/complete", APPROVE).status_code == 200
    assert Case.objects.get(pk=case["id"]).status == "approved"


def test_role_mismatch_is_403(api, case, submit):
    clerk = api("sachbearbeitung")
    assert clerk.post(f"/api/v1/tasks/{open_task(case['id'])}/complete", APPROVE).status_code == 200
    approval = open_task(case["id"], "freigabe")
    for action, body in (("claim", None), ("complete", APPROVE)):
        p = problem_of(clerk.post(f"/api/v1/tasks/{approval}/{action}", body), 403)
        assert "approver" in p["detail"]
    # kasse has neither the role nor the org unit of the first task
    other = api("kasse")
    fresh = submit()
    problem_of(other.post(f"/api/v1/tasks/{open_task(fresh['id'])}/claim"), 403)


def test_org_unit_mismatch_is_403(api, case):
    # tiefbau is a clerk, but in the Tiefbauamt; the task belongs to the Ordnungsamt
    tiefbau = api("tiefbau")
    task = open_task(case["id"])
    assert tiefbau.get("/api/v1/tasks", case=case["id"]).json() == []
    p = problem_of(tiefbau.post(f"/api/v1/tasks/{task}/claim"), 403)
    assert "Organisationseinheit" in p["detail"]
    problem_of(tiefbau.post(f"/api/v1/tasks/{task}/complete", APPROVE), 403)


def test_claim_of_a_task_claimed_by_someone_else_is_409(api, case):
    task = open_task(case["id"])
    assert api("sachbearbeitung").post(f"/api/v1/tasks/{task}/claim").status_code == 200
    assert api("sachbearbeitung").post(f"/api/v1/tasks/{task}/claim").status_code == 200  # idempotent for me
    p = problem_of(api("leitung").post(f"/api/v1/tasks/{task}/claim"), 409)
    assert "sachbearbeitung" in p["detail"]
    problem_of(api("leitung").post(f"/api/v1/tasks/{task}/complete", APPROVE), 409)
    assert api("leitung").get("/api/v1/tasks", case=case["id"]).json() == []  # not in the other's inbox
    assert Task.objects.get(pk=task).assignee.get_username() == "sachbearbeitung"


def test_completing_twice_is_409(api, case):
    task = open_task(case["id"])
    clerk = api("sachbearbeitung")
    first = clerk.post(f"/api/v1/tasks/{task}/complete", APPROVE)
    assert first.status_code == 200 and first.json()["state"] == "completed"
    problem_of(clerk.post(f"/api/v1/tasks/{task}/complete", APPROVE), 409)
    problem_of(clerk.post(f"/api/v1/tasks/{task}/claim"), 409)
    problem_of(clerk.post(f"/api/v1/tasks/{task}/release"), 409)
    assert Task.objects.filter(case_id=case["id"], name="freigabe").count() == 1  # process moved on once


@pytest.mark.parametrize("data,pointer", [
    ({"decision": "reject"}, "/data/reason"),
    ({"decision": "reject", "reason": ""}, "/data/reason"),
    ({}, "/data/decision"),
    ({"decision": "vielleicht"}, "/data/decision"),
    ({"decision": 1}, "/data/decision"),
])
def test_invalid_task_data_is_422(api, case, data, pointer):
    task = open_task(case["id"])
    clerk = api("sachbearbeitung")
    p = problem_of(clerk.post(f"/api/v1/tasks/{task}/complete", {"data": data}), 422)
    assert pointer in {e["pointer"] for e in p["errors"]}, p
    t = Task.objects.get(pk=task)
    assert t.state == "open" and t.data is None
    assert Case.objects.get(pk=case["id"]).status == "in_progress"


def test_reject_with_reason_reaches_the_applicant(api, case):
    clerk = api("sachbearbeitung")
    data = {"data": {"decision": "reject", "reason": "Unterlagen fehlen."}}
    assert clerk.post(f"/api/v1/tasks/{open_task(case['id'])}/complete", data).status_code == 200
    assert api("stellvertretung").post(f"/api/v1/tasks/{open_task(case['id'])}/complete", data).status_code == 200
    view = api().get(f"/api/v1/submissions/{case['reference']}", access_code=case["access_code"]).json()
    assert view["status"] == "rejected"
    assert "Unterlagen fehlen." in view["history"][-1]["message"]


def test_release_by_non_assignee_is_409(api, case):
    task = open_task(case["id"])
    assert api("sachbearbeitung").post(f"/api/v1/tasks/{task}/claim").status_code == 200
    # leitung has the approver role and may take a task back from a colleague (documented exception);
    # stellvertretung lacks the task's role entirely; a plain clerk of the same unit must get 409
    from django.contrib.auth import get_user_model

    from rathaus.tenants.models import Membership, OrgUnit

    user = get_user_model().objects.create(username="kollegin")
    Membership.objects.create(user=user, tenant=Case.objects.get(pk=case["id"]).tenant, roles=["clerk"],
                              org_unit=OrgUnit.objects.get(tenant__slug="musterstadt", slug="buergerdienste"))
    problem_of(api("kollegin").post(f"/api/v1/tasks/{task}/release"), 409)
    assert Task.objects.get(pk=task).assignee.get_username() == "sachbearbeitung"


def test_release_of_an_unassigned_task_is_409(api, case):
    problem_of(api("sachbearbeitung").post(f"/api/v1/tasks/{open_task(case['id'])}/release"), 409)


def test_claim_release_claim(api, case):
    task = open_task(case["id"])
    a, b = api("sachbearbeitung"), api("leitung")
    assert a.post(f"/api/v1/tasks/{task}/claim").json()["assignee"] == "sachbearbeitung"
    r = a.post(f"/api/v1/tasks/{task}/release")
    assert r.status_code == 200 and r.json()["assignee"] is None
    assert b.post(f"/api/v1/tasks/{task}/claim").json()["assignee"] == "leitung"
    assert b.post(f"/api/v1/tasks/{task}/complete", APPROVE).json()["assignee"] == "leitung"


def test_task_list_shows_only_workable_tasks(api, case):
    assert [t["name"] for t in api("sachbearbeitung").get("/api/v1/tasks", case=case["id"]).json()] == ["pruefung"]
    assert api("stellvertretung").get("/api/v1/tasks", case=case["id"]).json() == []  # role approver only
    assert api("kasse").get("/api/v1/tasks", case=case["id"]).json() == []


def test_case_list_pagination_and_filters(api, submit):
    subs = [submit() for _ in range(3)]
    clerk = api("sachbearbeitung")
    page = clerk.get("/api/v1/cases", service="testdienst", limit=2).json()
    assert [c["id"] for c in page] == [subs[2]["id"], subs[1]["id"]]
    nxt = clerk.get("/api/v1/cases", service="testdienst", limit=2, offset=2).json()
    assert nxt[0]["id"] == subs[0]["id"]
    assert clerk.get("/api/v1/cases", status="approved", service="testdienst").json() == []
    assert clerk.get("/api/v1/cases", limit=0).status_code == 200
    assert clerk.get("/api/v1/cases", offset=-5).status_code == 200
    assert clerk.get("/api/v1/cases", offset=10**12).json() == []
    for bad in ("/api/v1/cases?limit=viele", "/api/v1/tasks?case=abc"):
        r = clerk.client.get(bad, **clerk.headers)
        assert r.status_code == 422 and r["Content-Type"] == PROBLEM, (bad, r.status_code)
