"""Every demo service runs end to end through the API: each form example is accepted, every task is
worked by a demo user whose role and unit fit, and the case ends approved (or rejected)."""

import json
from pathlib import Path

import pytest

from rathaus.catalog.services import DEMO_SERVICES_DIR, demo_package_dirs, package_is_public

SERVICES = sorted(p.name for p in demo_package_dirs() if package_is_public(p))
INTERNAL = sorted(p.name for p in demo_package_dirs() if not package_is_public(p))
STAFF = ["sachbearbeitung", "tiefbau", "leitung", "stellvertretung"]


def _examples(service):
    return json.loads((DEMO_SERVICES_DIR / service / "form.schema.json").read_text(encoding="utf-8"))["examples"]


def _task_example(task, decision):
    examples = task["form_schema"].get("examples") or [{}]
    if "decision" not in task["form_schema"].get("properties", {}):
        return examples[0]
    for ex in examples:
        if ex.get("decision") == decision:
            return ex
    ex = dict(examples[0], decision=decision)
    if decision == "reject":
        ex["reason"] = "Die Voraussetzungen liegen nicht vor."
    return ex


def _work_case(api, case_id, decision):
    clients = {u: api(u) for u in STAFF}
    worked = []
    for _ in range(10):
        progressed = False
        for user, client in clients.items():
            tasks = client.get("/api/v1/tasks", case=case_id).json()
            if not tasks:
                continue
            task = tasks[0]
            r = client.post(f"/api/v1/tasks/{task['id']}/complete", {"data": _task_example(task, decision)})
            assert r.status_code == 200, (user, task["name"], r.content)
            worked.append((task["name"], user))
            progressed = True
            break
        if not progressed:
            break
    return worked


@pytest.mark.parametrize("service", SERVICES)
def test_examples_are_accepted(api, service):
    for ex in _examples(service):
        r = api().post("/api/v1/submissions?tenant=musterstadt", {"service": service, "data": ex})
        assert r.status_code == 201, r.content


@pytest.mark.parametrize("service", SERVICES)
@pytest.mark.parametrize("decision,final", [("approve", "approved"), ("reject", "rejected")])
def test_service_runs_to_decision(api, service, decision, final):
    r = api().post("/api/v1/submissions?tenant=musterstadt", {"service": service, "data": _examples(service)[0]})
    assert r.status_code == 201, r.content
    sub = r.json()
    worked = _work_case(api, sub["id"], decision)
    assert worked, "no demo user could work the first task"
    view = api().get(f"/api/v1/submissions/{sub['reference']}", access_code=sub["access_code"]).json()
    assert view["status"] == final, worked
    # four eyes: tasks sharing a marker were done by different people
    case = api("leitung").get(f"/api/v1/cases/{sub['id']}").json()
    assert all(t["state"] != "open" for t in case["tasks"])


def test_sondernutzung_needs_roads_office_and_second_person(api):
    ex = _examples("sondernutzung")[0]
    sub = api().post("/api/v1/submissions?tenant=musterstadt", {"service": "sondernutzung", "data": ex}).json()
    worked = _work_case(api, sub["id"], "approve")
    names = dict(worked)
    assert names.get("stellungnahme_tiefbau") == "tiefbau"
    assert names["pruefung"] != names["freigabe"]


def test_demo_packages_exist():
    assert {"gewerbeanmeldung", "hundesteuer", "sondernutzung"} <= set(SERVICES)
    for s in SERVICES:
        assert (Path(DEMO_SERVICES_DIR) / s / "notice.typ").exists()


@pytest.mark.parametrize("service", INTERNAL)
def test_internal_services_are_not_offered_to_applicants(api, service):
    """Internal services (the invoice approval) are started by rathaus, never by an applicant."""
    from django.test import Client

    assert service not in {s["key"] for s in api().get("/api/v1/services", tenant="musterstadt").json()}
    assert api().get(f"/api/v1/services/{service}", tenant="musterstadt").status_code == 404
    r = api().post("/api/v1/submissions?tenant=musterstadt", {"service": service, "data": _examples(service)[0]})
    assert r.status_code == 404
    assert Client().get(f"/antrag/{service}/").status_code == 404
    assert f"/antrag/{service}/" not in Client().get("/").content.decode()
