"""Haushalt (Kämmerei) web pages: access, reports with German amounts, journal filter, periods."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.test import Client

from rathaus.demo.seed import DEMO_PASSWORD
from rathaus.ledger.models import FiscalPeriod
from rathaus.ledger.services import Line, post_entry
from rathaus.ledger.templatetags.ledger_tags import format_euro

YEAR = 2031
PAGES = ["/haushalt/", "/haushalt/summen-salden/", "/haushalt/ergebnisrechnung/", "/haushalt/finanzrechnung/",
         "/haushalt/journal/", "/haushalt/perioden/"]


def staff(username: str) -> Client:
    c = Client(HTTP_HOST="localhost")
    assert c.login(username=username, password=DEMO_PASSWORD)
    return c


@pytest.fixture
def booked(seeded):
    t = seeded["musterstadt"]
    day = dt.date(YEAR, 3, 15)
    post_entry(t, date=day, text="Gebühr Gewerbeanmeldung", source_ref="w:fee", actor="test", lines=[
        Line(account="1611000", debit=Decimal("1234.56"), product="02.2.01"),
        Line(account="4311000", credit=Decimal("1234.56"), product="02.2.01")])
    post_entry(t, date=day, text="Zahlung Gewerbeanmeldung", source_ref="w:pay", actor="test", lines=[
        Line(account="1810000", debit=Decimal("1000.00")),
        Line(account="1611000", credit=Decimal("1000.00"), product="02.2.01", cash_account="6311000")])
    return t


def test_euro_format():
    assert format_euro(Decimal("1234.56")) == "1.234,56\u00a0€"
    assert format_euro(Decimal("-1234567.5")) == "−1.234.567,50\u00a0€"
    assert format_euro(Decimal("0")) == "0,00\u00a0€"
    assert format_euro("x") == ""


def test_pages_need_login_and_accounting_role(seeded):
    anon = Client(HTTP_HOST="localhost")
    for url in PAGES:
        r = anon.get(url)
        assert r.status_code == 302 and r["Location"].startswith("/anmelden/?next=")
    for user in ("sachbearbeitung", "kasse"):
        c = staff(user)
        for url in PAGES:
            assert c.get(url).status_code == 403, (user, url)
        assert "/haushalt/" not in c.get("/sachbearbeitung/").content.decode()  # no nav link
    for user in ("kaemmerei", "admin"):
        c = staff(user)
        for url in PAGES:
            assert c.get(url, {"jahr": YEAR}).status_code == 200, (user, url)
    html = staff("kaemmerei").get("/haushalt/").content.decode()
    assert 'href="/haushalt/" aria-current="page">Haushalt</a>' in html


def test_reports_show_the_fee_in_german_format(booked):
    c = staff("kaemmerei")
    html = c.get("/haushalt/summen-salden/", {"jahr": YEAR}).content.decode()
    assert "<caption>Summen- und Saldenliste 2031" in html and '<th scope="col"' in html
    assert "4311000" in html and "Verwaltungsgebühren" in html
    assert "1.234,56\u00a0€" in html and "−1.234,56\u00a0€" in html and "2.234,56\u00a0€" in html
    assert "Soll und Haben stimmen überein." in html
    html = c.get("/haushalt/ergebnisrechnung/", {"jahr": YEAR}).content.decode()
    assert "02.2.01" in html and "Gewerbeangelegenheiten" in html and "Sicherheit und Ordnung" in html
    assert "Öffentlich-rechtliche Leistungsentgelte" in html and "1.234,56\u00a0€" in html
    html = c.get("/haushalt/finanzrechnung/", {"jahr": YEAR}).content.decode()
    assert "6311000" in html and "1.000,00\u00a0€" in html and "Beide stimmen überein." in html
    html = c.get("/haushalt/", {"jahr": YEAR}).content.decode()
    assert "Haushalt 2031" in html and "1.234,56\u00a0€" in html
    # another year is empty; a nonsense year falls back to the current year
    assert "noch nichts gebucht" in c.get("/haushalt/summen-salden/", {"jahr": YEAR + 3}).content.decode()
    assert c.get("/haushalt/summen-salden/", {"jahr": "abc"}).status_code == 200


def test_journal_with_account_filter(booked):
    c = staff("kaemmerei")
    html = c.get("/haushalt/journal/", {"jahr": YEAR}).content.decode()
    assert "2 Buchungen" in html and "Gebühr Gewerbeanmeldung" in html and "Zahlung Gewerbeanmeldung" in html
    html = c.get("/haushalt/journal/", {"jahr": YEAR, "konto": "4311000"}).content.decode()
    assert "1 Buchung mit Konto 4311000" in html and "Zahlung Gewerbeanmeldung" not in html


def test_close_and_open_periods(booked):
    c = staff("kaemmerei")
    html = c.get("/haushalt/perioden/", {"jahr": YEAR}).content.decode()
    assert "csrfmiddlewaretoken" in html and "März schließen" in html
    r = c.post("/haushalt/perioden/", {"jahr": YEAR, "monat": 3, "aktion": "schliessen"})
    assert r.status_code == 302 and r["Location"] == f"/haushalt/perioden/?jahr={YEAR}"
    assert FiscalPeriod.objects.get(tenant=booked, year=YEAR, month=3).closed
    html = c.get(r["Location"]).content.decode()
    assert "Der Monat März 2031 ist jetzt geschlossen." in html and "März öffnen" in html
    c.post("/haushalt/perioden/", {"jahr": YEAR, "monat": 0, "aktion": "schliessen"})
    html = c.get(f"/haushalt/perioden/?jahr={YEAR}").content.decode()
    assert "(mit dem Jahr)" in html and "Haushaltsjahr 2031 wieder öffnen" in html
    c.post("/haushalt/perioden/", {"jahr": YEAR, "monat": 0, "aktion": "oeffnen"})
    assert not FiscalPeriod.objects.get(tenant=booked, year=YEAR, month=0).closed
    r = c.post("/haushalt/perioden/", {"jahr": YEAR, "monat": 13, "aktion": "schliessen"}, follow=True)
    assert "Ungültige Angabe" in r.content.decode()


def test_periods_post_needs_csrf_and_role(booked):
    c = Client(HTTP_HOST="localhost", enforce_csrf_checks=True)
    c.login(username="kaemmerei", password=DEMO_PASSWORD)
    assert c.post("/haushalt/perioden/", {"jahr": YEAR, "monat": 3, "aktion": "schliessen"}).status_code == 403
    assert staff("kasse").post("/haushalt/perioden/", {"jahr": YEAR, "monat": 3, "aktion": "schliessen"}
                               ).status_code == 403
    assert not FiscalPeriod.objects.exists()
