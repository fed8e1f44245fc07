"""The UI speaks German first, English second: German by default (no or an unsupported Accept-Language),
English for Accept-Language en or after the language switch; the API stays German; the catalog is complete
and its compiled .mo matches the .po."""

from __future__ import annotations

import ast
import datetime as dt
import gettext
import re
import shutil
import subprocess
from decimal import Decimal
from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client
from django.utils import translation

from rathaus.cases.models import CaseStatus, Task, TaskState
from rathaus.cases.services import submit_application
from rathaus.demo.seed import DEMO_PASSWORD
from rathaus.documents.models import Document
from rathaus.einvoice.models import InvoiceStatus
from rathaus.finance.models import PayableStatus, ReceivableStatus
from rathaus.finance.receivables import ReceivableLineSpec, create_receivable
from rathaus.intake.services import submit
from rathaus.ledger.services import Line, post_entry

from .conftest import TESTDIENST_EXAMPLE

LOCALE = Path(settings.LOCALE_PATHS[0])
PO = LOCALE / "en" / "LC_MESSAGES" / "django.po"
MO = LOCALE / "en" / "LC_MESSAGES" / "django.mo"
EN = {"HTTP_ACCEPT_LANGUAGE": "en"}


@pytest.fixture(autouse=True)
def _german_afterwards():
    """A request activates its language in this thread; later tests expect the default again."""
    yield
    translation.activate(settings.LANGUAGE_CODE)


@pytest.fixture
def web(seeded):
    return Client(HTTP_HOST="localhost")


def staff(username: str, **headers) -> Client:
    c = Client(HTTP_HOST="localhost", **headers)
    assert c.login(username=username, password=DEMO_PASSWORD)
    return c


def html_lang(html: str) -> str:
    return re.search(r'<html lang="([^"]+)">', html).group(1)


# --------------------------------------------------------------------------- language choice

@pytest.mark.parametrize("accept", [None, "de", "de-DE,de;q=0.9", "fr", "fr-FR,es;q=0.8", "*"])
def test_german_is_the_default(web, accept):
    headers = {"HTTP_ACCEPT_LANGUAGE": accept} if accept else {}
    r = web.get("/", **headers)
    html = r.content.decode()
    assert r.status_code == 200 and html_lang(html) == "de" and r["Content-Language"] == "de"
    assert "Zum Inhalt springen" in html and "<h2>Leistungen</h2>" in html and "Bearbeitungszeit:" in html
    assert "Skip to main content" not in html


@pytest.mark.parametrize("accept", ["en", "en-GB,en;q=0.9,de;q=0.5", "fr-FR,en;q=0.8"])
def test_start_page_in_english(web, accept):
    r = web.get("/", HTTP_ACCEPT_LANGUAGE=accept)
    html = r.content.decode()
    assert r.status_code == 200 and html_lang(html) == "en" and r["Content-Language"] == "en"
    assert "Skip to main content" in html and "<h2>Services</h2>" in html and "Processing time:" in html
    assert "Check application status" in html and "Accessibility statement" in html
    assert "Zum Inhalt springen" not in html and "Bearbeitungszeit" not in html
    assert "Testdienst" in html or "Test" in html  # the service's own name is municipal content (German)


def test_language_switch_is_a_form_in_the_header(web):
    html = web.get("/status/").content.decode()
    switch = re.search(r'<form class="lang-switch".*?</form>', html, re.S).group(0)
    assert 'method="post" action="/i18n/setlang/"' in switch and 'name="csrfmiddlewaretoken"' in switch
    assert '<input type="hidden" name="next" value="/status/">' in switch
    assert '<span class="lang-switch__current" lang="de" aria-current="true">Deutsch</span>' in switch
    assert 'name="language" value="en" lang="en">English</button>' in switch
    html = web.get("/status/", **EN).content.decode()
    switch = re.search(r'<form class="lang-switch".*?</form>', html, re.S).group(0)
    assert 'name="language" value="de" lang="de">Deutsch</button>' in switch and "Language" in switch


def test_language_switch_sets_the_cookie_and_the_next_page_is_english(web):
    r = web.post("/i18n/setlang/", {"language": "en", "next": "/status/"})
    assert r.status_code == 302 and r["Location"] == "/status/"
    cookie = r.cookies[settings.LANGUAGE_COOKIE_NAME]
    assert cookie.value == "en" and cookie["max-age"] == settings.LANGUAGE_COOKIE_AGE
    assert cookie["httponly"] and cookie["samesite"] == "Lax"
    html = web.get("/status/").content.decode()  # no Accept-Language: the cookie decides
    assert html_lang(html) == "en" and "<h1>Check application status</h1>" in html
    # the choice wins over the browser's language, and can be undone
    html = web.get("/", HTTP_ACCEPT_LANGUAGE="de").content.decode()
    assert html_lang(html) == "en"
    web.post("/i18n/setlang/", {"language": "de", "next": "/"})
    html = web.get("/", **EN).content.decode()
    assert html_lang(html) == "de" and "Online-Dienste" in html


def test_language_switch_refuses_foreign_targets_and_languages(web):
    r = web.post("/i18n/setlang/", {"language": "en", "next": "https://evil.example/"})
    assert r.status_code == 302 and r["Location"] == "/"
    web.post("/i18n/setlang/", {"language": "fr", "next": "/"})  # Django knows French, rathaus does not
    assert html_lang(web.get("/").content.decode()) == "de"
    assert web.get("/i18n/setlang/").status_code in (302, 405)  # a GET changes nothing


# --------------------------------------------------------------------------- citizen pages

def test_form_page_chrome_in_english_content_stays_german(web):
    html = web.get("/antrag/testdienst/", **EN).content.decode()
    assert "Submit application" in html and "(required)" in html and "Required fields are marked" in html
    assert "Please choose" in html and "Your details are used only" in html
    assert "Vorname" in html  # field titles come from the service package (municipal content)
    assert "Pflichtfeld" not in html and "Antrag absenden" not in html


def test_form_errors_in_english(web, seeded):
    r = web.post("/antrag/testdienst/", {"/vorname": "Erika", "/nachname": "", "/email": "kaputt", "/menge": "viel",
                                         "/tarif": "b"}, **EN)
    html = r.content.decode()
    assert r.status_code == 200 and "There is a problem with your details" in html and "<title>Error: " in html
    assert 'href="#f-nachname">Nachname: Please fill in this field.</a>' in html
    assert 'href="#f-email">E-Mail: Please enter a valid email address.</a>' in html
    assert 'href="#f-menge">Menge: Please enter a number, e.g. 2.5.</a>' in html
    assert "Bitte" not in html


def test_parameterised_validation_message_in_english(web):
    from rathaus.core.forms import translate_message

    with translation.override("en"):
        assert translate_message("Höchstens 100 Zeichen.") == "At most 100 characters."
        assert translate_message("Die Datei ist zu groß (höchstens 5 MB).") == "The file is too large (at most 5 MB)."
        assert translate_message("Unbekanntes Feld: x") == "Unknown field: x"
        assert translate_message("Etwas ganz anderes.") == "Etwas ganz anderes."
    with translation.override("de"):
        assert translate_message("Höchstens 100 Zeichen.") == "Höchstens 100 Zeichen."


def test_status_lookup_and_status_page_in_english(web, seeded):
    html = web.get("/status/", **EN).content.decode()
    assert "<h1>Check application status</h1>" in html and "Aktenzeichen (file reference)" in html
    assert "Access code" in html and "Show status" in html
    r = web.post("/status/", {"aktenzeichen": "", "zugangscode": ""}, **EN)
    assert 'href="#aktenzeichen">Aktenzeichen (file reference): Please enter the Aktenzeichen' in r.content.decode()

    result = submit(seeded["musterstadt"], "testdienst", dict(TESTDIENST_EXAMPLE), channel="web")
    ref = result.case.reference
    r = web.post("/status/", {"aktenzeichen": ref, "zugangscode": "AAAA-BBBB-CCCC"}, **EN)
    assert "No application found with this Aktenzeichen (file reference) and access code." in r.content.decode()
    r = web.post("/status/", {"aktenzeichen": ref, "zugangscode": result.access_code}, **EN)
    html = web.get(r["Location"], **EN).content.decode()
    assert "<h1>Status of your application</h1>" in html and "History" in html and "Documents" in html
    assert "Your application has been received." in html  # the German record, shown translated
    assert "In progress" in html  # the status label
    assert not re.search(r"\d{2}:\d{2} Uhr", html)
    # the record itself stays German
    assert result.case.events.filter(message="Ihr Antrag ist eingegangen.").exists()
    html = web.get(r["Location"]).content.decode()
    assert "Ihr Antrag ist eingegangen." in html and "In Bearbeitung" in html and " Uhr" in html


def test_error_pages_in_english(web):
    r = web.get("/gibt-es-nicht/", **EN)
    html = r.content.decode()
    assert r.status_code == 404 and html_lang(html) == "en" and "Page not found" in html
    assert "Seite nicht gefunden" in web.get("/gibt-es-nicht/").content.decode()


# --------------------------------------------------------------------------- staff pages

def test_staff_login_in_english(web):
    html = web.get("/anmelden/", **EN).content.decode()
    assert "<h1>Staff sign-in</h1>" in html and 'for="id_username">Username' in html and "Password" in html
    r = web.post("/anmelden/", {"username": "sachbearbeitung", "password": "falsch"}, **EN)
    assert "Signing in did not work" in r.content.decode()


def test_inbox_and_case_page_in_english(seeded):
    case = submit_application(seeded["musterstadt"], "testdienst", dict(TESTDIENST_EXAMPLE), channel="web").case
    c = staff("sachbearbeitung", **EN)
    html = c.get("/sachbearbeitung/").content.decode()
    assert "<h1>Inbox</h1>" in html and "Open tasks" in html and "My tasks" in html
    for header in ("Aktenzeichen (file reference)", "Service", "Task", "Applicant", "Deadline", "Assigned to"):
        assert f'<th scope="col">{header}</th>' in html, header
    assert "Signed in: " in html and "Sign out" in html
    html = c.get("/sachbearbeitung/vorgaenge/").content.decode()
    assert "<h1>Cases</h1>" in html and re.search(r"\d+ cases?<", html) and "Received" in html

    task = Task.objects.get(case=case, state=TaskState.OPEN)
    r = c.post(f"/sachbearbeitung/vorgaenge/{case.pk}/aufgaben/{task.pk}/uebernehmen/")
    assert r.status_code == 302
    html = c.get(r["Location"].split("#")[0]).content.decode()
    assert f"<h1>Case {case.reference}</h1>" in html and "You are now working on the task" in html
    assert "Application data" in html and "Complete task" in html and "Hand back task" in html
    assert "Your application has been received." in html and "public" in html


def test_treasury_pages_in_english(seeded):
    t = seeded["musterstadt"]
    r = create_receivable(t, debtor_name="Erika Mustermann", purpose="Gewerbeanmeldung",
                          due_date=dt.date.today() - dt.timedelta(days=1),
                          lines=[ReceivableLineSpec("Verwaltungsgebühr", Decimal("1234.50"), "Tarifstelle 3.1.1")],
                          product="02.2.01", revenue_account="4311000", cash_account="6311000", actor="t")
    c = staff("kasse", **EN)
    html = c.get("/kasse/").content.decode()
    assert "<h1>Treasury: receivables</h1>" in html and "Outstanding" in html and "overdue" in html
    assert "€1,234.50" in html and "1 receivable" in html and "open" in html
    html = c.get(f"/kasse/forderungen/{r.kassenzeichen}/").content.decode()
    assert "Kassenzeichen (payment reference)" in html and "Account assignment" in html and "Debit" in html
    assert "Tarifstelle 3.1.1" in html  # the legal basis is data
    html = staff("kasse").get("/kasse/").content.decode()
    assert "1.234,50 €" in html and "Stadtkasse: Forderungen" in html


def test_ledger_pages_in_english(seeded):
    year = 2031
    post_entry(seeded["musterstadt"], date=dt.date(year, 3, 15), text="Gebühr", source_ref="i18n:fee", actor="test",
               lines=[Line(account="1611000", debit=Decimal("1234.56"), product="02.2.01"),
                      Line(account="4311000", credit=Decimal("1234.56"), product="02.2.01")])
    c = staff("kaemmerei", **EN)
    html = c.get("/haushalt/", {"jahr": year}).content.decode()
    assert f"<h1>Budget and accounts {year}</h1>" in html and "Trial balance" in html and "€1,234.56" in html
    html = c.get("/haushalt/summen-salden/", {"jahr": year}).content.decode()
    assert f"Trial balance {year}" in html and "Debit and credit agree." in html
    html = c.get("/haushalt/journal/", {"jahr": year, "konto": "4311000"}).content.decode()
    assert "1 entry with account 4311000" in html
    html = c.get("/haushalt/perioden/", {"jahr": year}).content.decode()
    assert "Posting periods" in html and "March" in html and "Close the financial year" in html
    assert "März" in staff("kaemmerei").get("/haushalt/perioden/", {"jahr": year}).content.decode()


def test_einvoice_desk_in_english(seeded):
    from rathaus.demo.einvoices import demo_invoice_for
    from rathaus.einvoice.services import receive_invoice

    inv = receive_invoice(seeded["musterstadt"], demo_invoice_for(seeded["musterstadt"], "R-I18N-1"), actor="t",
                          channel="upload", filename="r.xml")
    c = staff("kasse", **EN)
    html = c.get("/rechnungen/").content.decode()
    assert "<h1>Incoming invoices (e-invoices)</h1>" in html and "under review" in html
    html = c.get(f"/rechnungen/{inv.pk}/").content.decode()
    assert "Invoice R-I18N-1" in html and "Invoice (readable view)" in html
    assert "Invoice number" in html and "Amount due for payment" in html and "Buyer" in html
    assert html.count("<html") == 1


# --------------------------------------------------------------------------- what stays German

def test_api_answers_in_german_whatever_the_client_asks(api):
    r = api().post("/api/v1/submissions?tenant=musterstadt",
                   {"service": "testdienst", "data": {"vorname": "Erika", "email": "kaputt"}}, **EN)
    assert r.status_code == 422 and r["Content-Language"] == "de"
    messages = [e["message"] for e in r.json()["errors"]]
    assert "Bitte geben Sie eine gültige E-Mail-Adresse an." in messages, messages
    assert "Vary" not in r or "Accept-Language" not in r["Vary"]


def test_choice_labels_stay_german_in_the_models_and_are_translated_for_pages():
    from rathaus.core.i18n import choice_label

    for choices in (CaseStatus, TaskState, Document.Kind, InvoiceStatus, ReceivableStatus, PayableStatus):
        for member in choices:
            assert isinstance(member.label, str)
            with translation.override("en"):
                english = choice_label(choices, member.value)
            assert english and english != member.label, (choices.__name__, member.label)
            with translation.override("de"):
                assert choice_label(choices, member.value) == member.label


# --------------------------------------------------------------------------- the catalog

def read_po(path: Path) -> dict:
    """{(context, msgid, msgid_plural): [msgstr, ...]} of a .po file (enough of the format for our catalog)."""
    entries, cur, field = {}, None, None

    def close():
        if cur and cur.get("msgid") is not None:
            entries[(cur.get("msgctxt"), cur["msgid"], cur.get("msgid_plural"))] = [
                v for k, v in sorted(cur.items()) if k.startswith("msgstr")]

    for line in path.read_text(encoding="utf-8").splitlines() + [""]:
        if not line.strip():
            close()
            cur, field = None, None
            continue
        if line.startswith("#"):
            continue
        cur = cur if cur is not None else {}
        m = re.match(r"(msgctxt|msgid_plural|msgid|msgstr(?:\[\d+\])?) (\".*\")$", line)
        if m:
            field, value = m.group(1), ast.literal_eval(m.group(2))
            cur[field] = value
        else:
            cur[field] += ast.literal_eval(line)
    return entries


def test_every_msgid_has_an_english_msgstr():
    entries = read_po(PO)
    assert len(entries) > 500
    empty = [k for k, v in entries.items() if k[1] and (not v or not all(v))]
    assert empty == [], empty
    # placeholders survive translation
    for (_ctx, msgid, plural), strs in entries.items():
        wanted = set(re.findall(r"%\(\w+\)s", msgid + (plural or "")))
        for s in strs:
            assert set(re.findall(r"%\(\w+\)s", s)) == wanted, (msgid, s)


def _catalog(mo: Path) -> dict:
    with mo.open("rb") as fh:
        return dict(gettext.GNUTranslations(fh)._catalog)


def test_compiled_catalog_is_up_to_date(tmp_path):
    committed = _catalog(MO)
    msgfmt = shutil.which("msgfmt")
    if msgfmt:
        fresh = tmp_path / "django.mo"
        subprocess.run([msgfmt, "--check-format", "-o", str(fresh), str(PO)], check=True)
        assert _catalog(fresh) == committed, "django.mo is stale: run `rathaus compilemessages`"
    # without gettext tools (or as well): the .po's translations, as Python's gettext reads the .mo
    for (ctx, msgid, plural), strs in read_po(PO).items():
        if not msgid:
            continue
        key = f"{ctx}\x04{msgid}" if ctx else msgid
        if plural is None:
            assert committed.get(key) == strs[0], (msgid, committed.get(key), strs[0])
        else:
            assert [committed.get((key, i)) for i in range(len(strs))] == strs, msgid


def test_english_catalog_is_found_through_the_settings():
    with translation.override("en"):
        assert translation.gettext("Zum Inhalt springen") == "Skip to main content"
        assert translation.pgettext("staff area", "Sachbearbeitung") == "Case work"
    with translation.override("de"):
        assert translation.gettext("Zum Inhalt springen") == "Zum Inhalt springen"
