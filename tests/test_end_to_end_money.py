"""Issue 3, "Done means": submit -> approve -> notice PDF with GiroCode on the status page -> a camt.053
with that Kassenzeichen uploaded -> receivable paid -> trial balance and Ergebnisrechnung show the fee.
Everything through the public interfaces (API and status page), nothing re-typed."""

import datetime as dt
import io
import json
from decimal import Decimal

from django.test import Client
from pypdf import PdfReader

from rathaus.catalog.services import DEMO_SERVICES_DIR


def test_from_the_online_form_to_a_balanced_ledger(seeded, api):
    example = json.loads((DEMO_SERVICES_DIR / "gewerbeanmeldung" / "form.schema.json").read_text(
        encoding="utf-8"))["examples"][0]
    sub = api().post("/api/v1/submissions?tenant=musterstadt", {"service": "gewerbeanmeldung", "data": example})
    assert sub.status_code == 201, sub.content
    sub = sub.json()

    clerk = api("sachbearbeitung")
    task = clerk.get("/api/v1/tasks", case=sub["id"]).json()[0]
    done = clerk.post(f"/api/v1/tasks/{task['id']}/complete", {"data": {"decision": "approve"}})
    assert done.status_code == 200, done.content

    # the case lists its receivable with the municipal account
    case = clerk.get(f"/api/v1/cases/{sub['id']}").json()
    assert case["status"] == "approved"
    (rec,) = case["receivables"]
    assert rec["status"] == "open" and rec["amount"] == "26.00"
    assert rec["pay_to"]["iban"] == "DE02120300000000202051"

    # the applicant's status page links the notice; it is a PDF with the Kassenzeichen and the amount
    applicant = api().get(f"/api/v1/submissions/{sub['reference']}", access_code=sub["access_code"],
                          tenant="musterstadt").json()
    notice = next(d for d in applicant["documents"] if d["kind"] == "notice")
    web = Client()
    page = web.post("/status/", {"aktenzeichen": sub["reference"], "zugangscode": sub["access_code"]}, follow=True)
    assert page.status_code == 200
    html = page.content.decode()
    # ... and what is to be paid, to which account, with which reference
    assert "Gebühren und Zahlung" in html and rec["kassenzeichen_display"] in html and "26,00 €" in html
    assert "offen" in html and "DE02120300000000202051" in html
    assert f"Verwendungszweck: Kassenzeichen {rec['kassenzeichen_display']}" in html
    (payment,) = applicant["payments"]
    assert (payment["kassenzeichen"], payment["amount"], payment["status"], payment["open_amount"]) == (
        rec["kassenzeichen_display"], "26.00", "open", "26.00")
    assert payment["pay_to"]["iban"] == "DE02120300000000202051" and payment["last_payment"] is None
    pdf = api().get(notice["api_url"], access_code=sub["access_code"], tenant="musterstadt")
    assert pdf.status_code == 200
    content = b"".join(pdf.streaming_content) if pdf.streaming else pdf.content
    text = "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(content)).pages)
    assert rec["kassenzeichen_display"] in text and "26,00" in text
    images_or_drawing = any("/XObject" in str(p.get("/Resources", {})) for p in PdfReader(io.BytesIO(content)).pages)
    assert images_or_drawing or "GiroCode" in text

    # the bank statement with that Kassenzeichen (as the payer typed it, split by the bank)
    from rathaus.finance.bank.writer import WriterEntry, write_camt053

    buf = io.BytesIO()
    k = rec["kassenzeichen"]
    write_camt053(buf, account_iban="DE02120300000000202051", statement_id="2026-E2E", message_id="E2E",
                  created_at=dt.datetime.now(dt.UTC), opening_balance=Decimal("0"),
                  entries=[WriterEntry(amount=Decimal("26.00"), booking_date=dt.date.today(),
                                       remittance=f"Gewerbe KZ {k[:8]}\n{k[8:]}", debtor_name="Erika Mustermann",
                                       account_servicer_ref="E2E-1")])
    imported = api("kasse").post("/api/v1/bank-statements", raw=buf.getvalue(), content_type="application/xml")
    assert imported.status_code == 201, imported.content
    assert imported.json()["matched"] == 1
    assert api("kasse").get(f"/api/v1/receivables/{k}").json()["status"] == "paid"
    # the applicant sees the payment arrive (web page and API), without bank details any more
    html = web.get(f"/status/{sub['reference']}/").content.decode()
    assert "bezahlt" in html and "Ihre Zahlung ist vollständig eingegangen" in html
    assert f"letzte Zahlung gebucht am {dt.date.today():%d.%m.%Y}" in html and "DE02120300000000202051" not in html
    (payment,) = api().get(f"/api/v1/submissions/{sub['reference']}", access_code=sub["access_code"],
                           tenant="musterstadt").json()["payments"]
    assert (payment["status"], payment["open_amount"], payment["pay_to"]) == ("paid", "0.00", None)
    assert payment["last_payment"] == dt.date.today().isoformat()

    # the accounting sees the fee: in the trial balance (balanced) and in the Ergebnisrechnung by product
    year = dt.date.today().year
    kaemmerei = api("kaemmerei")
    tb = kaemmerei.get("/api/v1/ledger/trial-balance", year=year).json()
    assert tb["balanced"] is True and tb["totals"]["debit"] == tb["totals"]["credit"]
    rows = {r["account"]: r for r in tb["rows"]}
    assert rows["4311000"]["credit"] == "26.00" and rows["1810000"]["debit"] == "26.00"
    assert rows["1611000"]["balance"] == "0.00"
    results = kaemmerei.get("/api/v1/ledger/results", year=year).json()
    assert "02.2.01" in json.dumps(results) and "26.00" in json.dumps(results)
    cash = kaemmerei.get("/api/v1/ledger/cash", year=year).json()
    assert "6311000" in json.dumps(cash) and cash.get("check", True) is True
