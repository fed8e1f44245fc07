"""Tenant isolation on every endpoint.

A clerk of Beispielhausen sees nothing of Musterstadt: every object addressed by id, reference or key
answers 404 (not 403: its existence is not revealed), lists never contain the other tenant's objects and
public endpoints are scoped by `?tenant=` or the Host header.

`test_every_endpoint_is_covered` walks the OpenAPI document: a new endpoint fails it until a case is added
to ISOLATION (object endpoints) or SCOPED (lists and tenant-neutral endpoints) below.
"""

import json
import re
from dataclasses import dataclass

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from rathaus.cases.models import Case, Task
from rathaus.documents.models import Document

from .conftest import TESTDIENST_EXAMPLE

PROBLEM = "application/problem+json"
PDF = b"%PDF-1.4\n%isolation\n%%EOF\n"
DECISION = {"data": {"decision": "approve"}}


@dataclass
class World:
    api: object
    ms: dict  # a Musterstadt submission with an attachment
    ms_task: int
    ms_doc: int
    bh: dict  # a Beispielhausen submission
    bh_task: int


@pytest.fixture
def world(api, seeded) -> World:
    form = {"service": "testdienst", "data": json.dumps(TESTDIENST_EXAMPLE),
            "nachweis": SimpleUploadedFile("n.pdf", PDF, content_type="application/pdf")}
    r = api().client.post("/api/v1/submissions?tenant=musterstadt", form)
    assert r.status_code == 201, r.content
    ms = r.json()
    r = api(host="beispielhausen.localhost").post("/api/v1/submissions",
                                                 {"service": "testdienst", "data": TESTDIENST_EXAMPLE})
    assert r.status_code == 201, r.content
    bh = r.json()
    assert Case.objects.get(pk=ms["id"]).tenant.slug == "musterstadt"
    assert Case.objects.get(pk=bh["id"]).tenant.slug == "beispielhausen"
    return World(
        api=api, ms=ms, ms_task=Task.objects.get(case_id=ms["id"], state="open").pk,
        ms_doc=Document.objects.get(case_id=ms["id"]).pk, bh=bh,
        bh_task=Task.objects.get(case_id=bh["id"], state="open").pk,
    )


def assert_404(r):
    assert r.status_code == 404, (r.status_code, r.content[:300])
    assert r["Content-Type"] == PROBLEM
    body = r.json()
    assert "musterstadt" not in json.dumps(body).lower()


def assert_untouched(w: World):
    task = Task.objects.get(pk=w.ms_task)
    assert task.state == "open" and task.assignee_id is None and task.data is None


# --------------------------------------------------------------------------- object endpoints

def iso_get_case(w: World):
    assert w.api("sachbearbeitung").get(f"/api/v1/cases/{w.ms['id']}").status_code == 200  # control
    bh = w.api("bh-sachbearbeitung")
    assert_404(bh.get(f"/api/v1/cases/{w.ms['id']}"))
    assert_404(w.api("sachbearbeitung").get(f"/api/v1/cases/{w.bh['id']}"))  # and the other way round
    assert bh.get(f"/api/v1/cases/{w.bh['id']}").status_code == 200


def iso_claim(w: World):
    bh = w.api("bh-sachbearbeitung")
    assert_404(bh.post(f"/api/v1/tasks/{w.ms_task}/claim"))
    assert_untouched(w)
    assert bh.post(f"/api/v1/tasks/{w.bh_task}/claim").status_code == 200
    assert w.api("sachbearbeitung").post(f"/api/v1/tasks/{w.ms_task}/claim").status_code == 200


def iso_release(w: World):
    ms = w.api("sachbearbeitung")
    assert ms.post(f"/api/v1/tasks/{w.ms_task}/claim").status_code == 200
    assert_404(w.api("bh-sachbearbeitung").post(f"/api/v1/tasks/{w.ms_task}/release"))
    assert Task.objects.get(pk=w.ms_task).assignee.get_username() == "sachbearbeitung"
    assert ms.post(f"/api/v1/tasks/{w.ms_task}/release").status_code == 200


def iso_complete(w: World):
    bh = w.api("bh-sachbearbeitung")
    assert_404(bh.post(f"/api/v1/tasks/{w.ms_task}/complete", DECISION))
    assert_404(bh.post(f"/api/v1/tasks/{w.ms_task}/complete", {"data": {}}))  # no 422 leaks existence
    assert_untouched(w)
    assert Case.objects.get(pk=w.ms["id"]).status == "in_progress"
    assert bh.post(f"/api/v1/tasks/{w.bh_task}/complete", DECISION).status_code == 200


def iso_document(w: World):
    ok = w.api("sachbearbeitung").get(f"/api/v1/documents/{w.ms_doc}/content")
    assert ok.status_code == 200
    assert_404(w.api("bh-sachbearbeitung").get(f"/api/v1/documents/{w.ms_doc}/content"))


def iso_submission(w: World):
    ref, code = w.ms["reference"], w.ms["access_code"]
    public = w.api()
    assert public.get(f"/api/v1/submissions/{ref}", access_code=code, tenant="musterstadt").status_code == 200
    assert public.get(f"/api/v1/submissions/{ref}", access_code=code).status_code == 200  # default tenant
    assert_404(public.get(f"/api/v1/submissions/{ref}", access_code=code, tenant="beispielhausen"))
    assert_404(w.api(host="beispielhausen.localhost").get(f"/api/v1/submissions/{ref}", access_code=code))
    # the Beispielhausen case is found only under Beispielhausen
    bref, bcode = w.bh["reference"], w.bh["access_code"]
    assert_404(public.get(f"/api/v1/submissions/{bref}", access_code=bcode, tenant="musterstadt"))
    assert w.api(host="beispielhausen.localhost").get(
        f"/api/v1/submissions/{bref}", access_code=bcode).status_code == 200
    # a valid code of the other tenant does not open a case with the same reference here
    assert_404(public.get(f"/api/v1/submissions/{bref}", access_code=code, tenant="beispielhausen"))


def iso_service(w: World):
    from rathaus.catalog.models import Service

    Service.objects.filter(tenant__slug="beispielhausen", key="testdienst").update(active=False)
    public = w.api()
    assert public.get("/api/v1/services/testdienst", tenant="musterstadt").status_code == 200
    assert_404(public.get("/api/v1/services/testdienst", tenant="beispielhausen"))
    assert_404(w.api(host="beispielhausen.localhost").get("/api/v1/services/testdienst"))
    assert w.api(host="musterstadt.localhost").get("/api/v1/services/testdienst").status_code == 200
    r = public.post("/api/v1/submissions?tenant=beispielhausen", {"service": "testdienst", "data": TESTDIENST_EXAMPLE})
    assert_404(r)


ISOLATION = {
    ("get", "/api/v1/cases/{case_id}"): iso_get_case,
    ("post", "/api/v1/tasks/{task_id}/claim"): iso_claim,
    ("post", "/api/v1/tasks/{task_id}/release"): iso_release,
    ("post", "/api/v1/tasks/{task_id}/complete"): iso_complete,
    ("get", "/api/v1/documents/{doc_id}/content"): iso_document,
    ("get", "/api/v1/submissions/{reference}"): iso_submission,
    ("get", "/api/v1/services/{key}"): iso_service,
}


@pytest.mark.parametrize("endpoint", list(ISOLATION), ids=[f"{m.upper()} {p}" for m, p in ISOLATION])
def test_other_tenants_objects_are_404(world, endpoint):
    ISOLATION[endpoint](world)


# --------------------------------------------------------------------------- lists and scoped endpoints

def scoped_tasks(w: World):
    for user, own, other in (("bh-sachbearbeitung", w.bh, w.ms), ("leitung", w.ms, w.bh)):
        client = w.api(user)
        ids = {t["case"]["id"] for t in client.get("/api/v1/tasks").json()}
        assert own["id"] in ids and other["id"] not in ids
        assert client.get("/api/v1/tasks", case=other["id"]).json() == []
        all_tasks = Task.objects.filter(pk__in=[t["id"] for t in client.get("/api/v1/tasks").json()])
        assert {t.tenant.slug for t in all_tasks} == {"beispielhausen" if user.startswith("bh") else "musterstadt"}


def scoped_cases(w: World):
    bh = w.api("bh-sachbearbeitung")
    for params in ({}, {"service": "testdienst"}, {"status": "in_progress"}, {"limit": 500}):
        ids = {c["id"] for c in bh.get("/api/v1/cases", **params).json()}
        assert w.bh["id"] in ids and w.ms["id"] not in ids
        assert set(Case.objects.filter(pk__in=ids).values_list("tenant__slug", flat=True)) == {"beispielhausen"}
    # neither ?tenant= nor the Host header switch a token's tenant
    ids = {c["id"] for c in bh.get("/api/v1/cases", tenant="musterstadt").json()}
    assert w.ms["id"] not in ids
    on_ms_host = w.api("bh-sachbearbeitung", host="musterstadt.localhost")
    assert w.ms["id"] not in {c["id"] for c in on_ms_host.get("/api/v1/cases").json()}
    assert_404(on_ms_host.get(f"/api/v1/cases/{w.ms['id']}"))


def scoped_services(w: World):
    from rathaus.catalog.models import Service

    Service.objects.filter(tenant__slug="beispielhausen", key="hundesteuer").update(active=False)
    ms = {s["key"] for s in w.api().get("/api/v1/services", tenant="musterstadt").json()}
    bh = {s["key"] for s in w.api().get("/api/v1/services", tenant="beispielhausen").json()}
    by_host = {s["key"] for s in w.api(host="beispielhausen.localhost").get("/api/v1/services").json()}
    assert "hundesteuer" in ms and "hundesteuer" not in bh and bh == by_host
    assert_404(w.api().get("/api/v1/services", tenant="gibt-es-nicht"))


def scoped_submit(w: World):
    # the tenant of a new application comes from ?tenant= or the Host header
    r = w.api(host="beispielhausen.localhost").post("/api/v1/submissions",
                                                   {"service": "testdienst", "data": TESTDIENST_EXAMPLE})
    assert Case.objects.get(pk=r.json()["id"]).tenant.slug == "beispielhausen"
    r = w.api().post("/api/v1/submissions?tenant=musterstadt", {"service": "testdienst", "data": TESTDIENST_EXAMPLE})
    assert Case.objects.get(pk=r.json()["id"]).tenant.slug == "musterstadt"


def scoped_health(w: World):
    assert w.api().get("/api/v1/health").json() == {"status": "ok", "database": "ok"}  # no tenant data


EINVOICE = (b'<?xml version="1.0" encoding="UTF-8"?>'
            b'<Invoice xmlns="urn:oasis:names:specification:ubl:schema:xsd:Invoice-2" '
            b'xmlns:cbc="urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2">'
            b'<cbc:CustomizationID>urn:cen.eu:en16931:2017#compliant#urn:xeinkauf.de:kosit:xrechnung_3.0'
            b'</cbc:CustomizationID><cbc:ID>R-1</cbc:ID></Invoice>')


def scoped_einvoice_validate(w: World):
    # tenant-neutral: a pure function of the posted XML; it stores nothing and reads no tenant data, so
    # every tenant, host and token gets the same answer, and no tenant's name appears in it
    url = "/api/v1/einvoices/validate?levels=rules"
    answers = []
    for client, query in ((w.api(), "&tenant=musterstadt"), (w.api(), "&tenant=beispielhausen"),
                          (w.api(host="beispielhausen.localhost"), ""), (w.api("bh-sachbearbeitung"), ""),
                          (w.api("sachbearbeitung", host="musterstadt.localhost"), "")):
        r = client.post(url + query, raw=EINVOICE, content_type="application/xml")
        assert r.status_code == 200, r.content[:300]
        body = r.json()
        body.pop("timings")
        answers.append(body)
        text = json.dumps(body, ensure_ascii=False).lower()
        assert "musterstadt" not in text and "beispielhausen" not in text
    assert all(a == answers[0] for a in answers)
    assert answers[0]["valid"] is False and answers[0]["errors"]
    assert Case.objects.count() == Case.objects.filter(pk__in=[w.ms["id"], w.bh["id"]]).count()  # nothing stored


SCOPED = {
    ("get", "/api/v1/tasks"): scoped_tasks,
    ("get", "/api/v1/cases"): scoped_cases,
    ("get", "/api/v1/services"): scoped_services,
    ("post", "/api/v1/submissions"): scoped_submit,
    ("get", "/api/v1/health"): scoped_health,
    ("post", "/api/v1/einvoices/validate"): scoped_einvoice_validate,
}


@pytest.mark.parametrize("endpoint", list(SCOPED), ids=[f"{m.upper()} {p}" for m, p in SCOPED])
def test_lists_and_public_endpoints_are_scoped(world, endpoint):
    SCOPED[endpoint](world)


# --------------------------------------------------------------------------- completeness

def registered_operations() -> set[tuple[str, str]]:
    """(method, path) of every operation of the ninja API, read from the live router tree."""
    from rathaus.core.api import api

    ops = set()
    prefix = "/api/v1/"
    for url_prefix, router in api._routers:
        for path, path_view in router.path_operations.items():
            full = re.sub(r"/+", "/", f"{prefix}{url_prefix}/{path}")
            full = re.sub(r"\{(?:\w+:)?(\w+)\}", r"{\1}", full)  # {int:task_id} -> {task_id}
            for op in path_view.operations:
                for m in op.methods:
                    ops.add((m.lower(), full.rstrip("/") if full != "/" else full))
    return ops


def test_every_endpoint_is_covered(api):
    doc = api().get("/api/v1/openapi.json").json()
    documented = {(m, p) for p, ops in doc["paths"].items() for m in ops}
    assert documented, "OpenAPI lists no paths"
    registered = registered_operations()
    assert registered == documented, ("undocumented or unregistered operations", registered ^ documented)
    with_params = {(m, p) for m, p in documented if "{" in p}
    uncovered = sorted(with_params - set(ISOLATION))
    assert not uncovered, f"endpoints with an id/reference/key and no tenant isolation case: {uncovered}"
    rest = sorted(documented - set(ISOLATION) - set(SCOPED))
    assert not rest, f"endpoints without a tenant scoping case: {rest}"
    stale = sorted((set(ISOLATION) | set(SCOPED)) - documented)
    assert not stale, f"isolation cases for endpoints that no longer exist: {stale}"
