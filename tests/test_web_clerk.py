"""Staff web UI: login, inbox, case list, case page, claim / complete, four eyes, tenant isolation."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from rathaus.cases.models import Case, CaseStatus, Task, TaskState
from rathaus.cases.services import submit_application
from rathaus.demo.seed import DEMO_PASSWORD

from .conftest import TESTDIENST_EXAMPLE


@pytest.fixture
def case(seeded) -> Case:
    return submit_application(seeded["musterstadt"], "testdienst", dict(TESTDIENST_EXAMPLE), channel="web").case


def staff(username: str) -> Client:
    c = Client(HTTP_HOST="localhost")
    assert c.login(username=username, password=DEMO_PASSWORD)
    return c


def open_task(case: Case, name: str) -> Task:
    return Task.objects.get(case=case, name=name, state=TaskState.OPEN)


def test_login_page_and_login(seeded, settings):
    c = Client(HTTP_HOST="localhost")
    settings.RATHAUS_SHOW_DEMO_LOGINS = False
    html = c.get("/anmelden/").content.decode()
    assert '<label class="label" for="id_username">Benutzername' in html and 'autocomplete="current-password"' in html
    assert "Demo-Zugänge" not in html
    settings.RATHAUS_SHOW_DEMO_LOGINS = True
    html = c.get("/anmelden/").content.decode()
    assert "Demo-Zugänge" in html and "<code>sachbearbeitung</code>" in html and "bh-sachbearbeitung" not in html

    r = c.post("/anmelden/", {"username": "sachbearbeitung", "password": "falsch"})
    assert r.status_code == 200 and "Die Anmeldung hat nicht geklappt" in r.content.decode()
    r = c.post("/anmelden/", {"username": "sachbearbeitung", "password": DEMO_PASSWORD})
    assert r.status_code == 302 and r["Location"] == "/sachbearbeitung/"
    html = c.get("/").content.decode()
    assert "Sabine Sachbearbeiter" in html and 'action="/abmelden/"' in html
    assert c.get("/abmelden/").status_code == 405  # logout only by POST
    assert c.post("/abmelden/").status_code == 302
    assert c.get("/sachbearbeitung/").status_code == 302


def test_inbox_requires_login_and_membership(seeded):
    r = Client(HTTP_HOST="localhost").get("/sachbearbeitung/")
    assert r.status_code == 302 and r["Location"].startswith("/anmelden/?next=")
    get_user_model().objects.create_user("niemand", password="geheim-geheim")
    c = Client(HTTP_HOST="localhost")
    c.login(username="niemand", password="geheim-geheim")
    r = c.get("/sachbearbeitung/")
    assert r.status_code == 403 and "Kein Zugriff" in r.content.decode()


def test_inbox_shows_task_with_filters(seeded, case):
    c = staff("sachbearbeitung")
    html = c.get("/sachbearbeitung/").content.decode()
    assert "Meine Aufgaben" in html and "Offene Aufgaben" in html
    assert case.reference in html and "Antrag prüfen" in html and "Testleistung" in html
    assert "Erika Mustermann" in html
    assert f'href="/sachbearbeitung/vorgaenge/{case.pk}/#aufgabe-' in html
    assert case.reference not in c.get("/sachbearbeitung/?leistung=hundesteuer").content.decode()
    assert case.reference in c.get("/sachbearbeitung/?leistung=testdienst").content.decode()
    assert case.reference not in c.get("/sachbearbeitung/?ueberfaellig=1").content.decode()
    Task.objects.filter(case=case).update(due_at=case.created_at.replace(year=2020))
    html = c.get("/sachbearbeitung/?ueberfaellig=1").content.decode()
    assert case.reference in html and "überfällig" in html


def test_case_list_with_filters(seeded, case):
    c = staff("sachbearbeitung")
    html = c.get("/sachbearbeitung/vorgaenge/").content.decode()
    assert case.reference in html and "In Bearbeitung" in html
    assert case.reference not in c.get("/sachbearbeitung/vorgaenge/?status=approved").content.decode()
    assert case.reference in c.get("/sachbearbeitung/vorgaenge/?status=in_progress&leistung=testdienst").content.decode()
    assert c.get("/sachbearbeitung/vorgaenge/?seite=99").status_code == 200


def test_other_tenant_gets_404(seeded, case):
    c = staff("bh-sachbearbeitung")
    assert c.get(f"/sachbearbeitung/vorgaenge/{case.pk}/").status_code == 404
    task = open_task(case, "pruefung")
    r = c.post(f"/sachbearbeitung/vorgaenge/{case.pk}/aufgaben/{task.pk}/uebernehmen/")
    assert r.status_code == 404
    task.refresh_from_db()
    assert task.assignee_id is None
    assert case.reference not in c.get("/sachbearbeitung/").content.decode()


def test_case_page_shows_data_history_and_task_form(seeded, case):
    c = staff("sachbearbeitung")
    html = c.get(f"/sachbearbeitung/vorgaenge/{case.pk}/").content.decode()
    assert f"Vorgang {case.reference}" in html and "Testleistung (Version 1.0.0)" in html
    assert "<dt>Vorname</dt><dd>Erika</dd>" in html and "<dt>Menge</dt><dd>2,5</dd>" in html
    assert "Ihr Antrag ist eingegangen." in html and "öffentlich" in html
    task = open_task(case, "pruefung")
    assert 'name="/decision" value="approve"' in html
    assert "Bewilligen" in html and "Ablehnen" in html
    assert f'<textarea class="input textarea" rows="5" id="t{task.pk}-reason"' in html
    assert "Aufgabe übernehmen" in html


def test_claim_complete_and_four_eyes(seeded, case):
    c = staff("leitung")
    task = open_task(case, "pruefung")
    base = f"/sachbearbeitung/vorgaenge/{case.pk}/aufgaben/{task.pk}"
    assert c.get(f"{base}/uebernehmen/").status_code == 405
    r = c.post(f"{base}/uebernehmen/", follow=True)
    html = r.content.decode()
    assert "Sie bearbeiten jetzt die Aufgabe" in html and "Aufgabe zurückgeben" in html
    task.refresh_from_db()
    assert task.assignee.username == "leitung"

    # another clerk cannot take it over
    other = staff("sachbearbeitung")
    r = other.post(f"{base}/uebernehmen/", follow=True)
    assert "bereits von leitung bearbeitet" in r.content.decode()

    # reject without reason: form error, nothing completed
    r = c.post(f"{base}/erledigen/", {"/decision": "reject", "/reason": ""})
    html = r.content.decode()
    assert r.status_code == 200 and "Es gibt Probleme mit Ihren Angaben" in html
    assert f'href="#t{task.pk}-reason"' in html
    assert f'id="t{task.pk}-decision-2" name="/decision" value="reject" checked' in html
    task.refresh_from_db()
    assert task.state == TaskState.OPEN

    r = c.post(f"{base}/erledigen/", {"/decision": "approve"}, follow=True)
    assert "ist erledigt" in r.content.decode()
    task.refresh_from_db()
    assert task.state == TaskState.COMPLETED and task.data == {"decision": "approve"}

    # four eyes: the same person may not release the decision
    freigabe = open_task(case, "freigabe")
    r = c.post(f"/sachbearbeitung/vorgaenge/{case.pk}/aufgaben/{freigabe.pk}/erledigen/",
               {"/decision": "approve"}, follow=True)
    html = r.content.decode()
    assert "Vier-Augen-Prinzip" in html and 'role="alert"' in html
    assert "Sie können diese Aufgabe nicht bearbeiten" in html
    freigabe.refresh_from_db()
    assert freigabe.state == TaskState.OPEN

    s = staff("stellvertretung")
    assert case.reference in s.get("/sachbearbeitung/").content.decode()
    r = s.post(f"/sachbearbeitung/vorgaenge/{case.pk}/aufgaben/{freigabe.pk}/erledigen/",
               {"/decision": "reject", "/reason": "Unvollständig."}, follow=True)
    html = r.content.decode()
    assert "ist erledigt" in html and "Abgelehnt" in html
    case.refresh_from_db()
    assert case.status == CaseStatus.REJECTED
    assert "<dt>Begründung</dt><dd>Unvollständig.</dd>" in html


def test_release_task(seeded, case):
    c = staff("sachbearbeitung")
    task = open_task(case, "pruefung")
    base = f"/sachbearbeitung/vorgaenge/{case.pk}/aufgaben/{task.pk}"
    c.post(f"{base}/uebernehmen/")
    html = c.get("/sachbearbeitung/").content.decode()
    assert html.index(case.reference) < html.index("Offene Aufgaben")  # now under "Meine Aufgaben"
    r = c.post(f"{base}/zurueckgeben/", follow=True)
    assert "wieder für alle offen" in r.content.decode()
    task.refresh_from_db()
    assert task.assignee_id is None


def test_staff_document_download_is_tenant_checked(seeded, case):
    from rathaus.documents.services import store_document

    doc = store_document(tenant=case.tenant, case=case, kind="other", title="Vermerk", filename="vermerk.pdf",
                         content_type="application/pdf", content=b"%PDF-1.4\n", actor="test")
    c = staff("sachbearbeitung")
    html = c.get(f"/sachbearbeitung/vorgaenge/{case.pk}/").content.decode()
    assert f'href="/sachbearbeitung/dokumente/{doc.pk}/"' in html
    r = c.get(f"/sachbearbeitung/dokumente/{doc.pk}/")
    assert r.status_code == 200 and r["Content-Type"] == "application/pdf"
    assert staff("bh-sachbearbeitung").get(f"/sachbearbeitung/dokumente/{doc.pk}/").status_code == 404


def test_a_refused_page_is_a_log_line_not_a_traceback(seeded, client, caplog):
    """issue 15: every 403 of the web UI logged a full stack trace (an answer, not a fault)."""
    import logging

    assert client.login(username="sachbearbeitung", password=DEMO_PASSWORD)
    with caplog.at_level(logging.WARNING, logger="django.request"):
        assert client.get("/haushalt/").status_code == 403  # a clerk is not the Kämmerei
    [record] = [r for r in caplog.records if r.name == "django.request"]
    assert "Forbidden" in record.getMessage() and not record.exc_info and "Traceback" not in caplog.text
