"""Need to know: clerks and approvers read the cases of their unit (and below) and cases with a task for them;
treasury, accounting and admin read all cases of their tenant."""

from __future__ import annotations

import importlib

import pytest

from rathaus.cases.models import Case
from rathaus.documents.models import Document

from .test_demo_services import _examples, _task_example

SUBMIT = "/api/v1/submissions?tenant=musterstadt"


def submit(api, service):
    r = api().post(SUBMIT, {"service": service, "data": _examples(service)[0]})
    assert r.status_code == 201, r.content
    return r.json()


def case_ids(api, user) -> set[int]:
    r = api(user).get("/api/v1/cases", limit=200)
    assert r.status_code == 200, r.content
    return {c["id"] for c in r.json()}


def test_a_case_belongs_to_its_services_unit(api):
    gew = submit(api, "gewerbeanmeldung")
    hst = submit(api, "hundesteuer")
    units = dict(Case.objects.filter(pk__in=[gew["id"], hst["id"]]).values_list("id", "org_unit__slug"))
    assert units == {gew["id"]: "ordnungsamt", hst["id"]: "steueramt"}


def test_clerk_of_another_unit_does_not_read_the_case(api, client):
    gew = submit(api, "gewerbeanmeldung")
    # Tiefbauamt (Fachbereich 3) – the Gewerbe case belongs to the Ordnungsamt (Fachbereich 1)
    assert api("tiefbau").get(f"/api/v1/cases/{gew['id']}").status_code == 404
    assert gew["id"] not in case_ids(api, "tiefbau")
    assert client.login(username="tiefbau", password="rathaus-demo")
    assert client.get(f"/sachbearbeitung/vorgaenge/{gew['id']}/").status_code == 404
    receipt = Document.objects.filter(case_id=gew["id"]).first() or _receipt(gew)
    r = api("tiefbau").get(f"/api/v1/documents/{receipt.pk}/content")
    assert r.status_code == 403, r.content
    # the unit above (Fachbereich 1) and finance read it
    for user in ("sachbearbeitung", "leitung", "kasse", "kaemmerei", "admin"):
        assert api(user).get(f"/api/v1/cases/{gew['id']}").status_code == 200, user
        assert gew["id"] in case_ids(api, user), user
    assert api("sachbearbeitung").get(f"/api/v1/documents/{receipt.pk}/content").status_code == 200
    # the staff web download applies the same check
    assert client.get(f"/sachbearbeitung/dokumente/{receipt.pk}/").status_code == 404
    assert client.login(username="sachbearbeitung", password="rathaus-demo")
    assert client.get(f"/sachbearbeitung/dokumente/{receipt.pk}/").status_code == 200


def _receipt(sub):
    from rathaus.notices.services import ensure_receipt

    return ensure_receipt(Case.objects.get(pk=sub["id"]))


def test_a_task_routed_to_another_unit_opens_the_case_to_it(api):
    sne = submit(api, "sondernutzung")  # Ordnungsamt; the Tiefbauamt gives its statement second
    assert api("tiefbau").get(f"/api/v1/cases/{sne['id']}").status_code == 404
    clerk = api("sachbearbeitung")
    [task] = clerk.get("/api/v1/tasks", case=sne["id"]).json()
    assert task["name"] == "pruefung"
    r = clerk.post(f"/api/v1/tasks/{task['id']}/complete", {"data": _task_example(task, "approve")})
    assert r.status_code == 200, r.content
    tiefbau = api("tiefbau")
    [task] = tiefbau.get("/api/v1/tasks", case=sne["id"]).json()
    assert task["name"] == "stellungnahme_tiefbau"
    case = tiefbau.get(f"/api/v1/cases/{sne['id']}")
    assert case.status_code == 200 and case.json()["reference"] == sne["reference"]
    assert sne["id"] in case_ids(api, "tiefbau")


def test_backfill_takes_the_service_unit_and_the_invoices_unit(api, seeded):
    from decimal import Decimal

    from django.apps import apps

    from rathaus.demo.einvoices import DemoLine, demo_invoice_for
    from rathaus.einvoice.services import receive_invoice

    gew = submit(api, "gewerbeanmeldung")
    ms = seeded["musterstadt"]
    inv = receive_invoice(ms, demo_invoice_for(ms, "VIS-1", lines=[DemoLine("Papier", Decimal("2"), Decimal("4.50"))]),
                          actor="kasse", channel="api")
    assert inv.case_id and inv.org_unit.slug == "ordnungsamt"  # routed by the Leitweg-ID (demo route)
    # the invoice's case belongs to the routed unit, not to the approval service's (Stadtkasse)
    assert Case.objects.get(pk=inv.case_id).org_unit_id == inv.org_unit_id
    Case.objects.filter(pk__in=[gew["id"], inv.case_id]).update(org_unit=None)
    importlib.import_module("rathaus.cases.migrations.0005_case_org_unit").backfill(apps, None)
    assert Case.objects.get(pk=gew["id"]).org_unit.slug == "ordnungsamt"
    assert Case.objects.get(pk=inv.case_id).org_unit_id == inv.org_unit_id


def test_tasks_inbox_and_case_list_agree(api):
    """Every case with a task in a member's inbox is readable by the member."""
    subs = [submit(api, service) for service in ("gewerbeanmeldung", "hundesteuer", "sondernutzung")]
    clerk = api("sachbearbeitung")
    [task] = clerk.get("/api/v1/tasks", case=subs[2]["id"]).json()
    assert clerk.post(f"/api/v1/tasks/{task['id']}/complete",
                      {"data": _task_example(task, "approve")}).status_code == 200
    for user, expected in (("sachbearbeitung", 2), ("tiefbau", 1)):
        tasks = api(user).get("/api/v1/tasks").json()
        assert len({t["case"]["id"] for t in tasks} & {s["id"] for s in subs}) == expected, user
        readable = case_ids(api, user)
        assert all(t["case"]["id"] in readable for t in tasks), user


def test_invoice_desk_shows_clerks_the_invoices_of_their_unit(api, client, seeded):
    from decimal import Decimal

    from rathaus.demo.einvoices import DemoLine, demo_invoice_for
    from rathaus.einvoice.services import receive_invoice

    ms = seeded["musterstadt"]
    inv = receive_invoice(ms, demo_invoice_for(ms, "VIS-2", lines=[DemoLine("Toner", Decimal("1"), Decimal("80"))]),
                          actor="kasse", channel="api")
    assert inv.org_unit.slug == "ordnungsamt"
    for user, sees in (("sachbearbeitung", True), ("stellvertretung", True), ("kasse", True), ("tiefbau", False)):
        listed = {i["id"] for i in api(user).get("/api/v1/einvoices").json()}
        assert (inv.pk in listed) is sees, user
        assert api(user).get(f"/api/v1/einvoices/{inv.pk}").status_code == (200 if sees else 404), user
        assert api(user).get(f"/api/v1/cases/{inv.case_id}").status_code == (200 if sees else 404), user
    assert client.login(username="tiefbau", password="rathaus-demo")
    assert client.get(f"/rechnungen/{inv.pk}/").status_code == 404
    assert f"/rechnungen/{inv.pk}/" not in client.get("/rechnungen/").content.decode()


@pytest.mark.parametrize("path,status", [("/api/v1/einvoices/-1", 404), ("/api/v1/einvoices/abc", 404),
                                         ("/api/v1/nichts-hier", 404), ("/api/v1/einvoices/0", 422),
                                         ("/api/v1/einvoices/100000000000000000000", 422)])
def test_odd_invoice_ids_and_unknown_api_addresses_are_problem_json(api, path, status):
    r = api("kasse").get(path)
    assert r.status_code == status and r["Content-Type"] == "application/problem+json", (path, r.status_code)
