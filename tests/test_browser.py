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
import shutil
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
    from rathaus.core.demo import DEMO_PASSWORD

    page.goto("/anmelden/")
    page.get_by_label("Benutzername").fill(username)
    page.get_by_label("Passwort").fill(DEMO_PASSWORD)
    with page.expect_navigation():
        page.get_by_label("Passwort").press("Enter")
    assert "/anmelden/" not in page.url, page.content()



# --- applicant ------------------------------------------------------------------------------------------

def _active(page) -> dict:
    return page.evaluate("""() => { const e = document.activeElement;
        return {id: e.id, tag: e.tagName.toLowerCase(), type: e.type || '', value: e.value || '',
                checked: !!e.checked}; }""")


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
        elif el["tag"] == "button" and el["type"] == "submit":
            return
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
