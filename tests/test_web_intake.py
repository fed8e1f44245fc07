"""Public web UI: start page, application form (no JavaScript), confirmation, status lookup."""

from __future__ import annotations

import json
import re

import pytest
from django.test import Client

from rathaus.cases.models import Case
from rathaus.catalog.services import DEMO_SERVICES_DIR
from rathaus.core import forms
from rathaus.documents.models import Document
from rathaus.intake.services import access_code_for, submit

from .conftest import TESTDIENST_EXAMPLE

PDF = b"%PDF-1.4\n% test\n"


@pytest.fixture
def web(seeded):
    return Client(HTTP_HOST="localhost")


def form_token(client, key="testdienst") -> str:
    r = client.get(f"/antrag/{key}/")
    assert r.status_code == 200
    return re.search(rb'name="_token" value="([^"]+)"', r.content).group(1).decode()


def td_fields(**overrides) -> dict:
    data = {"/vorname": "Erika", "/nachname": "Mustermann", "/email": "erika@example.org", "/menge": "2,5",
            "/tarif": "b", "/iban": ""}
    data.update(overrides)
    return data


def flatten(value, ptr="") -> dict:
    """Form fields for JSON data (what a browser would send)."""
    out = {}
    if isinstance(value, dict):
        for k, v in value.items():
            out.update(flatten(v, f"{ptr}/{k}"))
    elif isinstance(value, list):
        out[f"_rows:{ptr}"] = str(len(value))
        for i, v in enumerate(value):
            out.update(flatten(v, f"{ptr}/{i}"))
    elif value is True:
        out[ptr] = "on"
    elif value is False:
        pass
    else:
        out[ptr] = str(value)
    return out


def cases_count(seeded) -> int:
    return Case.objects.filter(tenant=seeded["musterstadt"]).count()


def test_start_page_lists_services(web):
    r = web.get("/")
    html = r.content.decode()
    assert r.status_code == 200
    assert '<html lang="de">' in html
    assert "Stadt Musterstadt" in html
    assert 'href="/antrag/testdienst/"' in html and "Testleistung" in html
    assert "Bearbeitungszeit: 10 Tage" in html
    assert 'href="/status/"' in html and 'href="/anmelden/"' in html
    assert 'class="skip-link" href="#inhalt"' in html and '<main id="inhalt"' in html


def test_form_renders_every_field_with_labels_and_required_markers(web):
    r = web.get("/antrag/testdienst/")
    html = r.content.decode()
    assert r.status_code == 200
    assert 'enctype="multipart/form-data"' in html
    for ptr, title in [("vorname", "Vorname"), ("nachname", "Nachname"), ("email", "E-Mail"), ("iban", "IBAN"),
                       ("menge", "Menge"), ("tarif", "Tarif")]:
        assert f'<label class="label" for="f-{ptr}">{title}' in html, ptr
        assert f'name="/{ptr}"' in html, ptr
    assert html.count("(Pflichtfeld)</span></label>") == 3  # vorname, nachname, email
    assert re.search(r'<input class="input" type="email" id="f-email" name="/email" required aria-required="true"', html)
    assert 'inputmode="decimal"' in html
    assert '<select class="input select" id="f-tarif" name="/tarif"' in html
    assert '<option value="b">b</option>' in html
    assert 'type="file" id="f-attachments-nachweis" name="/attachments/nachweis"' in html
    assert "Erlaubte Dateitypen: PDF, PNG; höchstens 1 MB." in html
    assert 'aria-describedby="f-attachments-nachweis-hint"' in html


def test_invalid_post_shows_error_summary_with_links_and_keeps_input(web, seeded):
    before = cases_count(seeded)
    r = web.post("/antrag/testdienst/", td_fields(**{"/nachname": "", "/email": "kaputt", "/menge": "viel"}))
    html = r.content.decode()
    assert r.status_code == 200
    assert "Es gibt Probleme mit Ihren Angaben" in html
    assert 'role="alert"' in html and "<title>Fehler: " in html
    assert 'href="#f-nachname">Nachname: Bitte füllen Sie dieses Feld aus.</a>' in html
    assert 'href="#f-email">E-Mail: Bitte geben Sie eine gültige E-Mail-Adresse an.</a>' in html
    assert 'href="#f-menge">Menge: Bitte geben Sie eine Zahl ein, z. B. 2,5.</a>' in html
    # input kept, errors tied to the fields
    assert 'value="Erika"' in html and 'value="kaputt"' in html and 'value="viel"' in html
    assert '<option value="b" selected>' in html
    assert re.search(r'id="f-email" name="/email"[^>]*aria-invalid="true" aria-describedby="f-email-error"', html)
    assert 'id="f-nachname-error"' in html
    assert cases_count(seeded) == before


def test_valid_post_creates_exactly_one_case_and_confirms(web, seeded):
    before = cases_count(seeded)
    token = form_token(web)
    body = {**td_fields(), "_token": token}
    r = web.post("/antrag/testdienst/", body)
    assert r.status_code == 302 and r["Location"] == "/antrag/testdienst/bestaetigung/"
    r2 = web.post("/antrag/testdienst/", body)  # double click: same form token
    assert r2.status_code == 302
    assert cases_count(seeded) == before + 1
    case = Case.objects.filter(tenant=seeded["musterstadt"]).latest("id")
    assert case.channel == "web"
    assert case.data == {"vorname": "Erika", "nachname": "Mustermann", "email": "erika@example.org", "menge": 2.5,
                         "tarif": "b"}
    page = web.get(r["Location"])
    html = page.content.decode()
    assert case.reference in html
    code = access_code_for(case)
    assert code in html and code not in r["Location"]
    assert "Bitte notieren Sie sich den Zugangscode" in html
    assert case.due_date.strftime("%d.%m.%Y") in html
    assert f'href="/status/{case.reference}/"' in html
    assert "no-store" in page.get("Cache-Control", "") or "max-age=0" in page.get("Cache-Control", "")
    # the confirmation links to the status page without asking for the code again
    status = web.get(f"/status/{case.reference}/")
    assert status.status_code == 200 and "Ihr Antrag wird bearbeitet." in status.content.decode()


def test_same_token_with_other_data_asks_to_resubmit(web, seeded):
    token = form_token(web)
    assert web.post("/antrag/testdienst/", {**td_fields(), "_token": token}).status_code == 302
    n = cases_count(seeded)
    r = web.post("/antrag/testdienst/", {**td_fields(**{"/vorname": "Max"}), "_token": token})
    assert r.status_code == 200
    assert "bereits mit anderen Angaben abgeschickt" in r.content.decode()
    assert token not in r.content.decode()  # a fresh token: sending again creates the new application
    assert cases_count(seeded) == n


def test_attachment_wrong_type_or_too_large_is_a_form_error(web, seeded):
    from django.core.files.uploadedfile import SimpleUploadedFile

    before = cases_count(seeded)
    fake = SimpleUploadedFile("antrag.pdf", b"MZ\x90\x00 this is not a pdf", content_type="application/pdf")
    r = web.post("/antrag/testdienst/", {**td_fields(), "/attachments/nachweis": fake})
    html = r.content.decode()
    assert r.status_code == 200
    assert 'href="#f-attachments-nachweis">Nachweis: Dateityp nicht erlaubt.' in html
    assert "erneut auswählen" in html

    big = SimpleUploadedFile("gross.pdf", PDF + b"0" * (1024 * 1024), content_type="application/pdf")
    r = web.post("/antrag/testdienst/", {**td_fields(**{"/email": ""}), "/attachments/nachweis": big})
    html = r.content.decode()
    assert "Die Datei ist zu groß (höchstens 1 MB)." in html
    assert 'href="#f-email"' in html  # field errors and file errors together
    assert cases_count(seeded) == before

    ok = SimpleUploadedFile("nachweis.pdf", PDF, content_type="application/pdf")
    r = web.post("/antrag/testdienst/", {**td_fields(), "/attachments/nachweis": ok})
    assert r.status_code == 302
    case = Case.objects.filter(tenant=seeded["musterstadt"]).latest("id")
    assert Document.objects.filter(case=case, filename="nachweis.pdf").count() == 1


def test_too_large_request_gets_friendly_413(web, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 2000
    r = web.post("/antrag/testdienst/", td_fields(**{"/vorname": "x" * 5000}))
    assert r.status_code == 413
    assert "zu groß" in r.content.decode()
    settings.RATHAUS_MAX_UPLOAD_BYTES = 1000
    r = web.post("/antrag/testdienst/", td_fields(**{"/vorname": "x" * 5000}))
    assert r.status_code == 413


def test_form_post_checks_csrf(seeded):
    client = Client(HTTP_HOST="localhost", enforce_csrf_checks=True)
    r = client.post("/antrag/testdienst/", td_fields())
    assert r.status_code == 403
    client.get("/antrag/testdienst/")
    token = client.cookies["csrftoken"].value
    r = client.post("/antrag/testdienst/", {**td_fields(), "csrfmiddlewaretoken": token})
    assert r.status_code == 302


def test_unknown_service_is_404(web):
    r = web.get("/antrag/gibt-es-nicht/")
    assert r.status_code == 404
    assert "Seite nicht gefunden" in r.content.decode()


# --------------------------------------------------------------------------- repeatable groups

def hundesteuer_example() -> dict:
    schema = json.loads((DEMO_SERVICES_DIR / "hundesteuer" / "form.schema.json").read_text(encoding="utf-8"))
    return schema["examples"][1]


def test_repeatable_group_add_and_remove_rows_without_js(web, seeded):
    if not (DEMO_SERVICES_DIR / "hundesteuer").is_dir():
        pytest.skip("Demo-Leistung hundesteuer fehlt")
    before = cases_count(seeded)
    page = web.get("/antrag/hundesteuer/").content.decode()
    assert 'name="/hunde/0/rasse"' in page and 'name="/hunde/1/rasse"' not in page
    assert 'name="_add:/hunde"' in page and "Weiteren Eintrag hinzufügen" in page
    assert 'value="Musterstadt"' in page  # schema default
    assert 'type="date" id="f-halter-geburtsdatum"' in page
    assert 'type="radio" id="f-hunde-0-geschlecht" name="/hunde/0/geschlecht" value="ruede"' in page
    assert '<label class="choice__label" for="f-hunde-0-geschlecht-2">Hündin</label>' in page

    fields = flatten(hundesteuer_example())
    r = web.post("/antrag/hundesteuer/", {**fields, "_add:/hunde": "1"})
    html = r.content.decode()
    assert r.status_code == 200 and cases_count(seeded) == before
    assert 'name="/hunde/1/rasse"' in html and 'name="/hunde/2/rasse"' not in html
    assert 'value="Border Collie"' in html and 'value="Max"' in html
    assert 'name="_rows:/hunde" value="2"' in html
    assert re.search(r'id="f-hunde-1-rasse" name="/hunde/1/rasse"[^>]*autofocus', html), re.findall(r"<[^>]*autofocus[^>]*>", html)
    assert "Es gibt Probleme" not in html

    # remove the first dog: the second one moves up
    fields2 = {**fields, "_rows:/hunde": "2", "/hunde/1/rasse": "Pudel", "_remove:/hunde/0": "1"}
    html = web.post("/antrag/hundesteuer/", fields2).content.decode()
    assert re.search(r'name="/hunde/0/rasse"[^>]*value="Pudel"', html)
    assert 'name="/hunde/1/rasse"' not in html

    # an empty extra row is dropped on submit
    r = web.post("/antrag/hundesteuer/", {**fields, "_rows:/hunde": "2", "/hunde/1/rasse": ""})
    assert r.status_code == 302, r.content.decode()[:2000]
    case = Case.objects.filter(tenant=seeded["musterstadt"]).latest("id")
    expected = {k: v for k, v in hundesteuer_example().items() if k != "sepa_mandat"}  # only "erteilt": false
    assert case.data == expected
    assert len(case.data["hunde"]) == 1 and case.data["bereits_angemeldete_hunde"] == 0


def test_error_in_second_row_links_to_that_row(web, seeded):
    if not (DEMO_SERVICES_DIR / "hundesteuer").is_dir():
        pytest.skip("Demo-Leistung hundesteuer fehlt")
    fields = flatten(hundesteuer_example())
    row = {k.replace("/hunde/0/", "/hunde/1/"): v for k, v in fields.items() if k.startswith("/hunde/0/")}
    row["/hunde/1/chipnummer"] = "123"
    html = web.post("/antrag/hundesteuer/", {**fields, **row, "_rows:/hunde": "2"}).content.decode()
    assert 'href="#f-hunde-1-chipnummer">Hund 2 – Chip-Nummer:' in html


# --------------------------------------------------------------------------- forms module

SMALL = {
    "type": "object",
    "required": ["name", "personen"],
    "properties": {
        "name": {"type": "string", "title": "Name"},
        "geboren": {"type": "string", "format": "date", "title": "Geboren"},
        "anzahl": {"type": "integer", "title": "Anzahl"},
        "betrag": {"type": "number", "title": "Betrag"},
        "zustimmung": {"type": "boolean", "title": "Zustimmung"},
        "optional": {"type": "object", "title": "Optional",
                     "properties": {"a": {"type": "string"}, "b": {"type": "boolean"}}},
        "personen": {"type": "array", "minItems": 1, "maxItems": 3, "title": "Personen",
                     "items": {"type": "object", "title": "Person",
                               "properties": {"vorname": {"type": "string", "title": "Vorname"}}}},
        "farben": {"type": "array", "title": "Farben",
                   "items": {"type": "string", "enum": ["rot", "gruen"], "x-enum-labels": ["Rot", "Grün"]}},
    },
}


class Post(dict):
    def getlist(self, key):
        v = self.get(key)
        return v if isinstance(v, list) else ([] if v is None else [v])


def test_parse_types_and_german_input():
    p = forms.parse(SMALL, Post({"/name": " Ada ", "/geboren": "12.08.1988", "/anzahl": "3", "/betrag": "1.234,5",
                                 "/optional/a": "", "_rows:/personen": "3", "/personen/0/vorname": "",
                                 "/personen/1/vorname": "Bea", "/personen/2/vorname": "", "/farben": ["gruen"]}))
    assert p.action is None
    assert p.data == {"name": "Ada", "geboren": "1988-08-12", "anzahl": 3, "betrag": 1234.5, "zustimmung": False,
                      "personen": [{"vorname": "Bea"}], "farben": ["gruen"]}
    assert p.state.values["/personen/0/vorname"] == "Bea"  # compacted for the re-render
    assert forms.parse(SMALL, Post({"/anzahl": "2,5", "/betrag": "2.5"})).data["anzahl"] == "2,5"
    assert forms.parse(SMALL, Post({"/betrag": "2,5"})).data["betrag"] == 2.5
    # English notation on the English form; mixed-up separators are no number (a message, not a wrong value)
    assert forms.parse(SMALL, Post({"/betrag": "1,234.5"})).data["betrag"] == 1234.5
    assert forms.parse(SMALL, Post({"/betrag": "1.234.567,25"})).data["betrag"] == 1234567.25
    assert forms.parse(SMALL, Post({"/betrag": "1,23.5"})).data["betrag"] == "1,23.5"
    assert forms.parse(SMALL, Post({"/betrag": "12.5,0"})).data["betrag"] == "12.5,0"


def test_add_row_and_render_with_errors():
    p = forms.parse(SMALL, Post({"/name": "Ada", "_rows:/personen": "1", "/personen/0/vorname": "",
                                 "_add:/personen": "1"}))
    assert p.action == "add" and p.state.rows["/personen"] == 2
    p.state.errors = forms.errors_by_pointer([{"pointer": "/data/personen/1/vorname", "message": "Zu kurz."},
                                              {"pointer": "/data", "message": "Allgemein."}])
    r = forms.FormRenderer(SMALL, p.state)
    html = r.render()
    assert 'name="/personen/1/vorname"' in html and 'name="_rows:/personen" value="2"' in html
    assert "Person 2 entfernen" in html
    assert r.summary() == [{"href": "#f-personen-1-vorname", "text": "Person 2 – Vorname: Zu kurz."},
                           {"href": "#f", "text": "Allgemein."}]
    assert '<label class="choice__label" for="f-farben-2">Grün</label>' in html


def test_render_data_uses_titles_and_german_formats():
    html = forms.render_data(SMALL, {"name": "Ada", "geboren": "1988-08-12", "betrag": 2.5, "zustimmung": True,
                                     "personen": [{"vorname": "Bea"}], "farben": ["rot", "gruen"]})
    assert "<dt>Geboren</dt><dd>12.08.1988</dd>" in html
    assert "<dt>Betrag</dt><dd>2,5</dd>" in html and "<dt>Zustimmung</dt><dd>Ja</dd>" in html
    assert "Person 1" in html and "<dd>Rot, Grün</dd>" in html


# --------------------------------------------------------------------------- status lookup

def test_status_lookup_wrong_code_and_right_code(web, seeded):
    result = submit(seeded["musterstadt"], "testdienst", dict(TESTDIENST_EXAMPLE), channel="web")
    ref = result.case.reference
    r = web.post("/status/", {"aktenzeichen": ref, "zugangscode": "AAAA-BBBB-CCCC"})
    html = r.content.decode()
    assert r.status_code == 200
    assert "Kein Antrag mit diesem Aktenzeichen und Zugangscode gefunden." in html
    assert "Es gibt Probleme mit Ihren Angaben" in html
    assert web.get(f"/status/{ref}/").status_code == 302  # not verified in this session

    r = web.post("/status/", {"aktenzeichen": "", "zugangscode": ""})
    assert 'href="#aktenzeichen">Aktenzeichen: Bitte geben Sie das Aktenzeichen ein.' in r.content.decode()

    code = result.access_code.replace("-", "").lower()
    r = web.post("/status/", {"aktenzeichen": ref.lower(), "zugangscode": code})
    assert r.status_code == 302 and r["Location"] == f"/status/{ref}/"
    html = web.get(r["Location"]).content.decode()
    assert "Ihr Antrag ist eingegangen." in html and "Ihr Antrag wird bearbeitet." in html
    assert "In Bearbeitung" in html and " Uhr" in html
    assert re.search(r"\d{2}\.\d{2}\.\d{4}, \d{2}:\d{2} Uhr", html)


def test_status_documents_only_with_verified_session(web, seeded):
    from rathaus.documents.services import store_document

    result = submit(seeded["musterstadt"], "testdienst", dict(TESTDIENST_EXAMPLE), channel="web")
    case = result.case
    released = store_document(tenant=case.tenant, case=case, kind="notice", title="Bescheid", filename="bescheid.pdf",
                              content_type="application/pdf", content=PDF, actor="test", released=True)
    internal = store_document(tenant=case.tenant, case=case, kind="other", title="Vermerk", filename="vermerk.pdf",
                              content_type="application/pdf", content=PDF, actor="test")
    url = f"/status/{case.reference}/dokumente/{released.pk}/"
    assert web.get(url).status_code == 404
    web.post("/status/", {"aktenzeichen": case.reference, "zugangscode": result.access_code})
    html = web.get(f"/status/{case.reference}/").content.decode()
    assert f'href="{url}"' in html and "Vermerk" not in html
    r = web.get(url)
    assert r.status_code == 200 and b"".join(r.streaming_content) == PDF
    assert web.get(f"/status/{case.reference}/dokumente/{internal.pk}/").status_code == 404


def test_status_lookup_after_too_many_failures_says_so(web, seeded, settings):
    settings.RATHAUS_STATUS_FAILURES_PER_CLIENT = 2
    result = submit(seeded["musterstadt"], "testdienst", dict(TESTDIENST_EXAMPLE), channel="web")
    ref = result.case.reference
    for _ in range(2):
        assert web.post("/status/", {"aktenzeichen": ref, "zugangscode": "AAAA-BBBB-CCCC"}).status_code == 200
    r = web.post("/status/", {"aktenzeichen": ref, "zugangscode": result.access_code})
    html = r.content.decode()
    assert r.status_code == 429
    assert "Zu viele erfolglose Versuche. Bitte versuchen Sie es in 15 Minuten erneut." in html
    assert "Kein Antrag mit diesem Aktenzeichen" not in html
    r = web.post("/status/", {"aktenzeichen": ref, "zugangscode": result.access_code},
                 HTTP_ACCEPT_LANGUAGE="en")
    assert "Too many unsuccessful attempts. Please try again in 15 minutes." in r.content.decode()


def test_status_lookup_with_nul_bytes_is_a_form_message(web, seeded):
    """A NUL byte cannot be stored or searched in PostgreSQL text: the lookup answers "not found", no 500."""
    r = web.post("/status/", {"aktenzeichen": "GEW-2026-\x00001", "zugangscode": "AAAA-\x00BBB-CCCC"})
    assert r.status_code == 200
    assert "Kein Antrag mit diesem Aktenzeichen und Zugangscode gefunden." in r.content.decode()
    assert "\x00" not in r.content.decode()
