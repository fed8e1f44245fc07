"""End-to-end through the API: submit, work the tasks, decision visible to the applicant."""

from rathaus.events.services import verify_chain


def test_submit_and_decide_with_four_eyes(api, submit, seeded):
    sub = submit()
    assert sub["reference"].startswith("TST-")
    assert sub["status"] == "in_progress"

    clerk = api("sachbearbeitung")
    tasks = clerk.get("/api/v1/tasks", case=sub["id"]).json()
    assert [t["name"] for t in tasks] == ["pruefung"]
    task = tasks[0]
    assert task["case"] == {"id": sub["id"], "reference": sub["reference"]}
    assert task["form_schema"]["properties"]["decision"]["enum"] == ["approve", "reject"]

    r = clerk.post(f"/api/v1/tasks/{task['id']}/claim")
    assert r.status_code == 200 and r.json()["assignee"] == "sachbearbeitung"
    r = clerk.post(f"/api/v1/tasks/{task['id']}/complete", {"data": {"decision": "approve"}})
    assert r.status_code == 200, r.content
    assert r.json()["state"] == "completed"

    # the clerk cannot take the approval (role), the head of unit can
    assert clerk.get("/api/v1/tasks", case=sub["id"]).json() == []
    boss = api("stellvertretung")
    tasks = boss.get("/api/v1/tasks", case=sub["id"]).json()
    assert [t["name"] for t in tasks] == ["freigabe"]
    r = boss.post(f"/api/v1/tasks/{tasks[0]['id']}/complete", {"data": {"decision": "approve"}})
    assert r.status_code == 200

    view = api().get(f"/api/v1/submissions/{sub['reference']}", access_code=sub["access_code"]).json()
    assert view["status"] == "approved"
    assert [h["status"] for h in view["history"]] == ["received", "in_progress", "approved"]

    case = api("sachbearbeitung").get(f"/api/v1/cases/{sub['id']}").json()
    assert case["status"] == "approved"
    assert [t["state"] for t in case["tasks"]] == ["completed", "completed"]
    assert verify_chain(seeded["musterstadt"]).ok


def test_four_eyes_refuses_same_person(api, submit):
    sub = submit()
    leitung = api("leitung")  # clerk + approver: could do both steps, but must not
    t1 = leitung.get("/api/v1/tasks", case=sub["id"]).json()[0]
    assert leitung.post(f"/api/v1/tasks/{t1['id']}/complete", {"data": {"decision": "approve"}}).status_code == 200
    assert leitung.get("/api/v1/tasks", case=sub["id"]).json() == []  # hidden from the inbox
    case = leitung.get(f"/api/v1/cases/{sub['id']}").json()
    t2 = [t for t in case["tasks"] if t["state"] == "open"][0]
    for action, body in (("claim", None), ("complete", {"data": {"decision": "approve"}})):
        r = leitung.post(f"/api/v1/tasks/{t2['id']}/{action}", body)
        assert r.status_code == 403, r.content
        assert r["Content-Type"] == "application/problem+json"
        assert "Vier-Augen" in r.json()["detail"]


def test_reference_numbers_keep_counting_past_six_digits(submit, seeded):
    """The Aktenzeichen is written by the database (PostgreSQL) and formatted in Python: both agree,
    also when the number outgrows its six zero-padded digits; the first case of a year creates the counter."""
    from django.utils import timezone

    from rathaus.cases.models import Case
    from rathaus.tenants.models import ReferenceCounter

    first = submit()
    year = timezone.localtime().year
    assert first["reference"].startswith(f"TST-{year}-")
    counter = ReferenceCounter.objects.get(prefix="TST", year=year, tenant__slug="musterstadt")
    ReferenceCounter.objects.filter(pk=counter.pk).update(value=999_998)
    refs = [submit()["reference"] for _ in range(3)]
    assert refs == [f"TST-{year}-999999", f"TST-{year}-1000000", f"TST-{year}-1000001"]
    assert sorted(Case.objects.filter(reference__in=refs).values_list("reference", flat=True)) == sorted(refs)
    assert not Case.objects.filter(reference__startswith="~").exists()  # no placeholder left behind
