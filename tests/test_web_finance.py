"""Stadtkasse web pages: open items, receivable, statement upload, clearing with manual assignment,
payment runs; roles; the demo helpers that produce bank statements."""

import datetime as dt
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from rathaus.demo.statements import demo_statement_for
from rathaus.finance import kassenzeichen as kz
from rathaus.finance.models import BankTransaction
from rathaus.finance.payables import ExpenseLine, create_payable
from rathaus.finance.receivables import ReceivableLineSpec, create_receivable


@pytest.fixture
def kasse(seeded):
    c = Client()
    assert c.login(username="kasse", password="rathaus-demo")
    return c


def _receivable(t, amount="26.00"):
    return create_receivable(t, debtor_name="Erika Mustermann", purpose="Gewerbeanmeldung GEW-2026-000009",
                             due_date=dt.date.today() - dt.timedelta(days=1),
                             lines=[ReceivableLineSpec("Verwaltungsgebühr", Decimal(amount), "Tarifstelle 3.1.1")],
                             product="02.2.01", revenue_account="4311000", cash_account="6311000", actor="t")


def test_open_items_and_receivable_page(seeded, kasse):
    r = _receivable(seeded["musterstadt"])
    page = kasse.get("/kasse/").content.decode()
    assert kz.display(r.kassenzeichen) in page and "26,00 €" in page and "überfällig" in page
    found = kasse.get("/kasse/", {"q": kz.display(r.kassenzeichen)}).content.decode()
    assert "Erika Mustermann" in found
    detail = kasse.get(f"/kasse/forderungen/{r.kassenzeichen}/")
    assert detail.status_code == 200
    body = detail.content.decode()
    assert "Tarifstelle 3.1.1" in body and "1611000" in body and "4311000" in body  # lines and postings


def test_statement_upload_pays_the_receivable(seeded, kasse):
    t = seeded["musterstadt"]
    r = _receivable(t)
    xml = demo_statement_for(r)
    resp = kasse.post("/kasse/kontoauszuege/", {"datei": SimpleUploadedFile("auszug.xml", xml, "text/xml")})
    assert resp.status_code == 302
    r.refresh_from_db()
    assert r.status == "paid"
    page = kasse.get("/kasse/kontoauszuege/").content.decode()
    assert "camt.053.001.08" in page
    bad = kasse.post("/kasse/kontoauszuege/", {"datei": SimpleUploadedFile("x.xml", b"<kaputt", "text/xml")})
    assert bad.status_code == 422 and "fehlerhaft" in bad.content.decode()


def test_clearing_page_assigns_and_resolves(seeded, kasse):
    t = seeded["musterstadt"]
    r = _receivable(t)
    other = _receivable(t, "26.00")
    xml = demo_statement_for(r).replace(r.kassenzeichen_display.encode(), b"ohne Nummer")
    kasse.post("/kasse/kontoauszuege/", {"datei": SimpleUploadedFile("a.xml", xml, "text/xml")})
    tx = BankTransaction.objects.get(tenant=t, state="clearing")
    page = kasse.get("/kasse/klaerfaelle/").content.decode()
    assert "ohne Nummer" in page
    resp = kasse.post(f"/kasse/klaerfaelle/{tx.pk}/zuordnen/", {"kassenzeichen": kz.display(other.kassenzeichen),
                                                               "betrag": "26,00", "vermerk": "telefonisch geklärt"})
    assert resp.status_code == 302
    other.refresh_from_db()
    assert other.status == "paid"
    tx.refresh_from_db()
    assert tx.state == "assigned"


def test_payment_run_page_and_demo_statement(seeded, kasse, settings):
    from rathaus.finance.bank.importer import import_bank_statement
    from rathaus.finance.models import PaymentRun

    settings.RATHAUS_SHOW_DEMO_LOGINS = True
    t = seeded["musterstadt"]
    p = create_payable(t, creditor_name="Müller GmbH", creditor_iban="DE89370400440532013000", remittance="R-1",
                       lines=[ExpenseLine("5431000", Decimal("50.00"), "7431000", "02.2.01")],
                       due_date=dt.date.today(), actor="t")
    page = kasse.get("/kasse/zahlungen/").content.decode()
    assert p.number in page and "50,00 €" in page
    resp = kasse.post("/kasse/zahlungen/", {"ausfuehrung": dt.date.today().isoformat()})
    assert resp.status_code == 302
    run = PaymentRun.objects.get(tenant=t)
    f = kasse.get(f"/kasse/zahlungen/laeufe/{run.pk}/datei/")
    assert f.status_code == 200 and b"pain.001.001.09" in b"".join(f.streaming_content)
    demo = kasse.get(f"/kasse/zahlungen/laeufe/{run.pk}/demo-kontoauszug/")
    res = import_bank_statement(t, demo.content, actor="kasse")
    assert res.matched == 1
    p.refresh_from_db()
    assert p.status == "paid"


def test_clerk_gets_403_and_demo_helpers_are_off_outside_the_demo(seeded, settings):
    c = Client()
    assert c.login(username="sachbearbeitung", password="rathaus-demo")
    for url in ("/kasse/", "/kasse/klaerfaelle/", "/kasse/kontoauszuege/", "/kasse/zahlungen/"):
        assert c.get(url).status_code == 403, url
    settings.RATHAUS_SHOW_DEMO_LOGINS = False
    k = Client()
    assert k.login(username="kasse", password="rathaus-demo")
    r = _receivable(seeded["musterstadt"])
    assert k.get(f"/kasse/forderungen/{r.kassenzeichen}/demo-kontoauszug/").status_code == 404


def test_cancel_from_the_receivable_page(seeded, kasse):
    r = _receivable(seeded["musterstadt"])
    page = kasse.get(f"/kasse/forderungen/{r.kassenzeichen}/").content.decode()
    assert "Forderung stornieren" in page
    resp = kasse.post(f"/kasse/forderungen/{r.kassenzeichen}/stornieren/", {"grund": "Bescheid aufgehoben"})
    assert resp.status_code == 302
    r.refresh_from_db()
    assert r.status == "cancelled"
    assert "Forderung stornieren" not in kasse.get(f"/kasse/forderungen/{r.kassenzeichen}/").content.decode()


def test_open_items_search_and_filter_take_any_input(seeded, kasse):
    """Search text is the clerk's: NUL bytes, quotes, very long text, an unknown status or page answer
    with the page (the search cleaned), never a 500."""
    r = _receivable(seeded["musterstadt"])
    for params in ({"q": "Muster\x00mann"}, {"q": "'\"<script>%_"}, {"q": "x" * 5000}, {"status": "bogus"},
                   {"status": "offen", "seite": "999"}, {"seite": "-1"}, {"status": "paid", "q": "\x00"}):
        resp = kasse.get("/kasse/", params)
        assert resp.status_code == 200, params
    assert "Erika Mustermann" in kasse.get("/kasse/", {"q": "Muster\x00mann"}).content.decode()
    assert kz.display(r.kassenzeichen) not in kasse.get("/kasse/", {"status": "paid"}).content.decode()
