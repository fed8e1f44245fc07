"""Real browser tests: Playwright drives Debian's Chromium (/usr/bin/chromium, never a downloaded browser)
against a live server.

The live server is our own small one instead of pytest-django's `live_server` (which needs a
transactional database: its flush fails on SQLite's append-only triggers of the audit log and the
journal, and it would wipe the session-seeded demo data). Here the server thread shares the test's
database connection, so it sees the test's transaction (the same trick Django's LiveServerTestCase uses
for in-memory SQLite), and everything is rolled back like any `db` test, on SQLite and PostgreSQL alike.
The server is single-threaded, so requests never use the shared connection at the same time; the test
thread only touches the database once the browser has finished loading a page.
"""

from __future__ import annotations

import os
import re
import tempfile
import threading
from pathlib import Path

import pytest
from django.contrib.staticfiles.handlers import StaticFilesHandler
from django.core.handlers.wsgi import WSGIHandler
from django.core.servers.basehttp import WSGIRequestHandler, WSGIServer
from django.core.signals import request_finished, request_started
from django.db import close_old_connections, connections

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"]

sync_api = pytest.importorskip("playwright.sync_api", reason="playwright fehlt (pip install -e '.[dev]')")
pytestmark = pytest.mark.skipif(not os.access(CHROMIUM, os.X_OK),
                                reason=f"{CHROMIUM} fehlt (apt-get install chromium; `make test` tut das)")

SCREENSHOTS = Path(os.environ.get("RATHAUS_SCREENSHOTS") or tempfile.gettempdir()) / "rathaus-screenshots"


# --- the live server ------------------------------------------------------------------------------------

class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format, *args):  # noqa: A002 - signature of the base class
        pass


class _Server(threading.Thread):
    """Serves the Django app on localhost with the test thread's database connections."""

    def __init__(self):
        super().__init__(daemon=True)
        self.conns = {alias: connections[alias] for alias in connections}
        self.ready = threading.Event()
        self.error: BaseException | None = None

    def run(self):
        for alias, conn in self.conns.items():
            connections[alias] = conn
        try:
            self.httpd = WSGIServer(("127.0.0.1", 0), _QuietHandler, ipv6=False, allow_reuse_address=False)
            self.httpd.set_app(StaticFilesHandler(WSGIHandler()))
            self.port = self.httpd.server_address[1]
        except BaseException as e:  # noqa: BLE001 - reported to the test thread
            self.error = e
            self.ready.set()
            return
        self.ready.set()
        self.httpd.serve_forever(poll_interval=0.05)

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()
        self.join(5)


@pytest.fixture
def server(seeded):
    """Base URL of a live server inside the test's transaction (rolled back afterwards)."""
    # the connection must survive requests: no closing at request start/end, and shared with the server thread
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    for conn in connections.all():
        conn.inc_thread_sharing()
    srv = _Server()
    srv.start()
    srv.ready.wait(10)
    try:
        if srv.error:
            raise srv.error
        yield f"http://localhost:{srv.port}"
    finally:
        if not srv.error:
            srv.stop()
        for conn in connections.all():
            conn.dec_thread_sharing()
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


@pytest.fixture(scope="module")
def browser():
    # Playwright's sync API keeps an event loop in this thread; Django's ORM, used synchronously here,
    # would otherwise refuse to run (the approach Playwright's own docs give for Django)
    old = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_api.sync_playwright() as pw:
            b = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            yield b
            # While Playwright's loop runs in this thread, asgiref keeps Django's connections in a separate
            # (context-local) store: the tests' connections live there. Close them before the loop goes, or
            # PostgreSQL's test database could not be dropped at the end ("accessed by other users").
            connections.close_all()
            b.close()
    finally:
        if old is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = old


@pytest.fixture
def page(browser, server):
    ctx = browser.new_context(base_url=server, locale="de-DE", viewport={"width": 1200, "height": 900},
                              accept_downloads=True)
    ctx.set_default_timeout(10_000)
    p = ctx.new_page()
    yield p
    ctx.close()


def shot(page, name: str):
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def login(page, username: str):
    from rathaus.demo.seed import DEMO_PASSWORD

    page.goto("/anmelden/")
    page.locator("#id_username").fill(username)  # by id: the labels depend on the language
    page.locator("#id_password").fill(DEMO_PASSWORD)
    with page.expect_navigation():
        page.locator("#id_password").press("Enter")
    assert "/anmelden/" not in page.url, page.content()



# --- applicant ------------------------------------------------------------------------------------------

def _active(page) -> dict:
    return page.evaluate("""() => { const e = document.activeElement;
        return {id: e.id, tag: e.tagName.toLowerCase(), type: e.type || '', value: e.value || '',
                checked: !!e.checked, form: e.form ? e.form.id : ''}; }""")


# what a person types into the Gewerbeanmeldung, field by field (the schema's first example, required fields)
TYPING = {
    "f-person-nachname": "Musterfrau", "f-person-vorname": "Erika", "f-person-geburtsort": "München",
    "f-person-staatsangehoerigkeit": "deutsch", "f-person-anschrift-strasse": "Heidestraße",
    "f-person-anschrift-hausnummer": "17", "f-person-anschrift-plz": "51147", "f-person-anschrift-ort": "Musterstadt",
    "f-person-email": "erika.musterfrau@example.org", "f-betrieb-geschaeftsbezeichnung": "Erikas Strickwerk",
    "f-betrieb-betriebsstaette-strasse": "Heidestraße", "f-betrieb-betriebsstaette-hausnummer": "17",
    "f-betrieb-betriebsstaette-plz": "51147",
    "f-betrieb-taetigkeit": "Online-Einzelhandel mit handgefertigten Strickwaren und Wolle",
    "f-betrieb-beschaeftigte-vollzeit": "0", "f-betrieb-beschaeftigte-teilzeit": "0",
}
DATES = {"f-person-geburtsdatum": "1988-08-12", "f-betrieb-beginn": "2026-03-01"}
RADIOS = {"/person/geschlecht": "weiblich", "/betrieb/niederlassung": "hauptniederlassung",
          "/betrieb/art": "handel", "/betrieb/anmeldegrund": "neuerrichtung"}
CHECKBOXES = {"f-erklaerung-richtigkeit"}
SELECTS = {"f-betriebsinhaber-rechtsform": "einzelunternehmen"}


def _fill_with_keyboard(page):
    """Tab through the whole form from the top of the page, typing, arrowing and pressing space only."""
    kb = page.keyboard
    done: set[str] = set()
    for _ in range(200):
        kb.press("Tab")
        el = _active(page)
        key = el["id"]
        if key and key in done:
            continue
        if key in TYPING:
            kb.press("Control+A")
            kb.type(TYPING[key])
        elif key in DATES:
            y, m, d = DATES[key].split("-")
            kb.type(f"{d}{m}{y}")  # German order of the date segments
            if _active(page)["value"] != DATES[key]:  # Chromium without German locale data: month first
                kb.press("Shift+Tab")
                kb.press("Shift+Tab")
                kb.type(f"{m}{d}{y}")
            assert _active(page)["value"] == DATES[key], (key, _active(page))
        elif key in SELECTS:
            for _ in range(20):
                if _active(page)["value"] == SELECTS[key]:
                    break
                kb.press("ArrowDown")
            assert _active(page)["value"] == SELECTS[key]
        elif key in CHECKBOXES:
            kb.press("Space")
            assert _active(page)["checked"]
        elif el["type"] == "radio":
            name = page.evaluate("() => document.activeElement.name")
            want = RADIOS.get(name)
            if want:
                if el["value"] != want or not el["checked"]:
                    kb.press("Space")  # selects the first one; arrows move on and select
                    for _ in range(10):
                        if _active(page)["value"] == want:
                            break
                        kb.press("ArrowDown")
                assert _active(page)["value"] == want and _active(page)["checked"]
                done.add(name)
        elif el["tag"] == "button" and el["type"] == "submit" and el["form"] == "f":
            return  # the application form's submit button (the header's language switch is passed by)
        done.add(key)
    raise AssertionError("never reached the submit button by tabbing")


def test_keyboard_only_application_and_status_lookup(page, seeded):
    from rathaus.cases.models import Case

    page.goto("/antrag/gewerbeanmeldung/")
    assert page.locator("h1").count() == 1
    _fill_with_keyboard(page)
    shot(page, "antrag-ausgefuellt")
    with page.expect_navigation():
        page.keyboard.press("Enter")  # on the submit button
    assert page.locator("h1").inner_text() == "Ihr Antrag ist eingegangen", page.content()
    shot(page, "bestaetigung")
    reference = page.locator(".panel .big").inner_text().strip()
    code = page.locator(".code").inner_text().strip()
    assert re.fullmatch(r"\S+", reference) and len(code) >= 8

    case = Case.objects.get(reference=reference)
    assert case.data["person"]["nachname"] == "Musterfrau"
    assert case.data["person"]["geburtsdatum"] == "1988-08-12"
    assert case.data["betrieb"]["art"] == "handel" and case.data["erklaerung"]["richtigkeit"] is True

    # the status lookup, by keyboard too
    page.goto("/status/")
    page.get_by_label("Aktenzeichen").fill(reference)
    page.get_by_label("Zugangscode").fill(code)
    with page.expect_navigation():
        page.get_by_label("Zugangscode").press("Enter")
    body = page.locator("main").inner_text()
    assert reference in body and "Gewerbeanmeldung" in body, body
    shot(page, "status")


def test_error_summary_links_move_focus_to_the_fields(page):
    page.goto("/antrag/gewerbeanmeldung/")
    with page.expect_navigation():
        page.get_by_role("button", name=re.compile("senden|Absenden|Antrag", re.I)).click()
    summary = page.locator(".error-summary")
    assert summary.is_visible()
    # the summary comes first and takes the focus, so a screen reader reads it out
    assert page.evaluate("() => document.activeElement.classList.contains('error-summary')")
    links = summary.locator("a")
    assert links.count() >= 10
    invalid = page.locator("[aria-invalid=true]")
    assert invalid.count() >= 10
    shot(page, "fehler")
    for i in (0, 3):
        link = links.nth(i)
        target = link.get_attribute("href").lstrip("#")
        link.click()
        focused = page.evaluate("() => document.activeElement.id")
        assert focused == target, (target, focused)
        assert page.locator(f"#{target}").get_attribute("aria-invalid") == "true" or \
            page.locator(f"[name='{page.locator('#' + target).get_attribute('name')}']").count() > 1


# --- staff ----------------------------------------------------------------------------------------------

def _gewerbe_example() -> dict:
    import json

    from rathaus.catalog.services import DEMO_SERVICES_DIR

    return json.loads((DEMO_SERVICES_DIR / "gewerbeanmeldung" / "form.schema.json").read_text(
        encoding="utf-8"))["examples"][0]


@pytest.fixture
def application(seeded):
    from rathaus.intake.services import submit

    return submit(seeded["musterstadt"], "gewerbeanmeldung", _gewerbe_example(), channel="web")


def test_clerk_approves_and_applicant_downloads_the_notice(page, application):
    reference = application.case.reference
    login(page, "sachbearbeitung")
    page.goto("/sachbearbeitung/")
    shot(page, "posteingang")
    with page.expect_navigation():
        page.get_by_role("link", name=reference).first.click()
    assert page.locator("h1").count() == 1 and reference in page.locator("h1").inner_text()
    with page.expect_navigation():
        page.get_by_role("button", name="Aufgabe übernehmen").click()
    page.locator("input[name='/decision'][value='approve']").check()
    shot(page, "vorgang")
    with page.expect_navigation():
        page.get_by_role("button", name="Aufgabe abschließen").click()
    assert "Erledigt" in page.locator(".messages").inner_text(), page.locator("main").inner_text()

    application.case.refresh_from_db()
    assert application.case.status == "approved"

    # the applicant, in a browser of their own: the notice is on the status page and downloads as a PDF
    applicant = page.context.browser.new_context(base_url=page.url.split("/sachbearbeitung")[0],
                                                 locale="de-DE")
    applicant.set_default_timeout(10_000)
    try:
        ap = applicant.new_page()
        ap.goto("/status/")
        ap.get_by_label("Aktenzeichen").fill(reference)
        ap.get_by_label("Zugangscode").fill(application.access_code)
        with ap.expect_navigation():
            ap.get_by_role("button", name="Status anzeigen").click()
        shot(ap, "status-bescheid")
        notice = ap.get_by_role("link", name=re.compile("Bescheid"))
        assert notice.count() >= 1, ap.locator("main").inner_text()
        # fetched with the applicant's session cookie (Chromium would show an inline PDF, not download it)
        resp = ap.request.get(notice.first.get_attribute("href"))
        assert resp.status == 200 and resp.headers["content-type"] == "application/pdf", resp.headers
        assert resp.body().startswith(b"%PDF"), resp.body()[:40]
        # without that session (another browser) the document is not handed out
        other = page.context.browser.new_context(base_url=ap.url.split("/status")[0])
        try:
            assert not other.request.get(notice.first.get_attribute("href")).body().startswith(b"%PDF")
        finally:
            other.close()
    finally:
        applicant.close()


def test_treasury_sees_the_receivable_and_the_invoices(page, application):
    from rathaus.cases.models import Task, TaskState
    from rathaus.cases.services import complete_task
    from rathaus.demo.einvoices import seed_demo_invoices
    from rathaus.finance.models import Receivable
    from rathaus.tenants.models import Membership

    # the decision through the service layer (the web path is tested above), then the demo invoices
    case = application.case
    clerk = Membership.objects.get(user__username="sachbearbeitung", tenant=case.tenant)
    task = Task.objects.get(case=case, state=TaskState.OPEN)
    complete_task(clerk, task.pk, {"decision": "approve"})
    rec = Receivable.objects.get(case=case)
    seed_demo_invoices(application.case.tenant)

    login(page, "kasse")
    page.goto("/kasse/")
    assert page.locator("h1").inner_text() == "Stadtkasse: Forderungen"
    row = page.locator("tbody tr", has_text=rec.kassenzeichen_display)
    assert row.count() == 1, page.locator("main").inner_text()
    assert "26,00" in row.inner_text()
    shot(page, "kasse")

    page.goto("/rechnungen/")
    assert page.locator("h1").inner_text() == "Rechnungseingang (E-Rechnungen)"
    assert page.locator("tbody tr").count() >= 4, page.locator("main").inner_text()
    shot(page, "rechnungen")


# --- basic accessibility (axe-core is not available offline) ------------------------------------------

UNLABELLED = """() => [...document.querySelectorAll('input, select, textarea')]
    .filter(e => e.type !== 'hidden' && e.type !== 'submit' && e.type !== 'button')
    .filter(e => !(e.id && document.querySelector(`label[for="${CSS.escape(e.id)}"]`))
                 && !e.getAttribute('aria-label') && !e.getAttribute('aria-labelledby') && !e.closest('label'))
    .map(e => e.name || e.id || e.outerHTML)"""


SKIP_LINK = {"de": "Zum Inhalt springen", "en": "Skip to main content"}


def _check_page(page, path: str, lang: str = "de"):
    page.goto(path)
    assert page.locator("html").get_attribute("lang") == lang, path
    assert page.locator("h1").count() == 1, (path, page.locator("h1").all_inner_texts())
    assert page.evaluate(UNLABELLED) == [], path
    ids = page.evaluate("() => [...document.querySelectorAll('[id]')].map(e => e.id)")
    assert len(ids) == len(set(ids)), (path, sorted({i for i in ids if ids.count(i) > 1}))
    # the skip link is the first stop of the keyboard and lands on the main content
    page.keyboard.press("Tab")
    assert page.evaluate("() => document.activeElement.textContent.trim()") == SKIP_LINK[lang], path
    assert page.evaluate("() => document.activeElement.getBoundingClientRect().height") > 0, path
    page.keyboard.press("Enter")
    assert page.evaluate("() => document.activeElement.id") == "inhalt", path


@pytest.mark.parametrize("who,paths", [
    (None, ["/", "/antrag/gewerbeanmeldung/", "/antrag/hundesteuer/", "/status/", "/anmelden/"]),
    ("sachbearbeitung", ["/sachbearbeitung/", "/sachbearbeitung/vorgaenge/"]),
    ("kasse", ["/kasse/", "/rechnungen/"]),
], ids=["public", "clerk", "treasury"])
def test_basic_accessibility(page, application, who, paths):
    if who:
        login(page, who)
        paths = [*paths, f"/sachbearbeitung/vorgaenge/{application.case.pk}/"] if who == "sachbearbeitung" else paths
    for path in paths:
        _check_page(page, path)


# --- languages: German first, English second ------------------------------------------------------------

def test_language_switch_by_keyboard(page):
    page.goto("/status/")
    for _ in range(40):  # tab to the switch's English button, as someone without a mouse would
        page.keyboard.press("Tab")
        if page.evaluate("() => document.activeElement.getAttribute('lang')") == "en":
            break
    else:
        raise AssertionError("the language switch is not reachable by keyboard")
    assert page.evaluate("() => document.activeElement.tagName") == "BUTTON"
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert page.url.endswith("/status/") and page.locator("html").get_attribute("lang") == "en"
    assert page.locator("h1").inner_text() == "Check application status"
    shot(page, "status-englisch")
    page.goto("/")  # the choice is kept
    assert page.locator("html").get_attribute("lang") == "en"
    with page.expect_navigation():
        page.get_by_role("button", name="Deutsch").click()
    assert page.locator("html").get_attribute("lang") == "de" and page.locator("h1").inner_text().startswith("Online")


def test_english_browser_gets_english_pages(browser, server, application):
    ctx = browser.new_context(base_url=server, locale="en-GB", viewport={"width": 1200, "height": 900})
    ctx.set_default_timeout(10_000)
    try:
        p = ctx.new_page()
        for path in ["/", "/antrag/gewerbeanmeldung/", "/status/", "/anmelden/"]:
            _check_page(p, path, lang="en")
        login(p, "sachbearbeitung")
        for path in ["/sachbearbeitung/", f"/sachbearbeitung/vorgaenge/{application.case.pk}/"]:
            _check_page(p, path, lang="en")
        assert p.locator("h1").inner_text().startswith("Case ")
        shot(p, "vorgang-englisch")
    finally:
        ctx.close()
