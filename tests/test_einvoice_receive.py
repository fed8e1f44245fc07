"""Receiving e-invoices: stored first, validated, routed, duplicates flagged, approved, paid and booked."""

import datetime as dt
import hashlib
import io
from decimal import Decimal
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from rathaus.demo.einvoices import demo_invoice_for
from rathaus.documents.models import Document
from rathaus.einvoice.models import EInvoice
from rathaus.finance.bank.importer import import_bank_statement
from rathaus.finance.bank.writer import WriterEntry, write_camt053
from rathaus.ledger.models import JournalLine

CORPORA = Path(__file__).resolve().parent / "corpora"   # vendored public test data (corpora/SOURCES.md)
BOOKING = {"produkt": "02.2.01", "konto": "5431000", "finanzkonto": "7431000", "kostenstelle": "320"}


def post_xml(client, body: bytes):
    return client.post("/api/v1/einvoices", raw=body, content_type="application/xml")


def test_valid_invoice_is_stored_unchanged_and_starts_the_approval(seeded, api):
    t = seeded["musterstadt"]
    body = demo_invoice_for(t, "R-2026-0001")
    r = post_xml(api("kasse"), body)
    assert r.status_code == 201, r.content
    out = r.json()
    assert out["valid"] is True and out["syntax"] == "UBL" and out["document_type"] == "invoice"
    assert out["status"] == "in_review" and out["case"]["reference"].startswith("RE-")
    assert out["invoice_number"] == "R-2026-0001" and out["seller"] == "Bürobedarf Müller GmbH"
    assert out["sha256"] == hashlib.sha256(body).hexdigest()
    inv = EInvoice.objects.get(pk=out["id"])
    assert inv.document.file.open("rb").read() == body  # unchanged in the E-Akte
    assert inv.document.kind == Document.Kind.INVOICE and inv.org_unit.slug == "ordnungsamt"
    # the formal check waits in the treasury's inbox
    tasks = api("kasse").get("/api/v1/tasks", case=inv.case_id).json()
    assert [x["name"] for x in tasks] == ["formale_pruefung"]


def test_invalid_invoice_is_kept_and_rejected_with_the_failed_rules(seeded, api):
    t = seeded["musterstadt"]
    body = demo_invoice_for(t, "R-2026-0002")
    # break BR-DE-15 (Leitweg-ID missing) and BR-CO-15 (totals do not add up)
    body = body.replace(b"<cbc:BuyerReference>09999999-DEMO-57</cbc:BuyerReference>", b"")
    body = body.replace(b'<cbc:TaxInclusiveAmount currencyID="EUR">', b'<cbc:TaxInclusiveAmount currencyID="EUR">1', 1)
    r = post_xml(api("kasse"), body)
    assert r.status_code == 201, r.content
    out = r.json()
    assert out["valid"] is False and out["status"] == "invalid" and out["case"] is None
    rules = {e["rule"] for e in out["errors"]}
    assert {"BR-DE-15", "BR-CO-15"} <= rules, rules
    inv = EInvoice.objects.get(pk=out["id"])
    assert "BR-DE-15" in inv.rejection_message and "BR-CO-15" in inv.rejection_message
    assert inv.document.file.open("rb").read() == body


@pytest.mark.parametrize("body", [
    b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><Invoice>&e;</Invoice>',
    b"das ist kein XML",
    b'<?xml version="1.0"?><Rechnung/>',
])
def test_hostile_or_non_xml_is_4xx_but_still_logged(seeded, api, body):
    r = post_xml(api("kasse"), body)
    assert 400 <= r.status_code < 500, (r.status_code, r.content)
    assert r["Content-Type"] == "application/problem+json"
    inv = EInvoice.objects.get(sha256=hashlib.sha256(body).hexdigest())
    assert inv.status == "refused" and inv.document.file.open("rb").read() == body


def test_duplicate_is_flagged_not_booked_twice(seeded, api):
    t = seeded["musterstadt"]
    first = post_xml(api("kasse"), demo_invoice_for(t, "R-DUP")).json()
    again = post_xml(api("kasse"), demo_invoice_for(t, "R-DUP", payment_terms="Zahlbar sofort.")).json()
    assert first["status"] == "in_review"
    assert again["status"] == "duplicate" and again["duplicate_of"] == first["id"] and again["case"] is None


def test_wrong_leitweg_id_is_misrouted(seeded, api):
    from rathaus.demo.einvoices import DemoLine, build_ubl

    body = build_ubl(number="R-X", leitweg_id="04011000-12345-03", buyer_name="Andere Stadt", buyer_street="Weg 1",
                     buyer_postal_code="12345", buyer_city="Anderswo",
                     lines=[DemoLine("Papier", Decimal("1"), Decimal("10.00"))])
    out = post_xml(api("kasse"), body).json()
    assert out["valid"] is True and out["status"] == "misrouted"
    assert "04011000-12345-03" in EInvoice.objects.get(pk=out["id"]).rejection_message


def test_multipart_upload_and_web_upload(seeded, api, client):
    t = seeded["musterstadt"]
    k = api("kasse")
    r = k.client.post("/api/v1/einvoices", {"file": SimpleUploadedFile("r.xml", demo_invoice_for(t, "R-MP"),
                                                                        content_type="application/xml")},
                      **k.headers)
    assert r.status_code == 201, r.content
    assert r.json()["status"] == "in_review"
    assert client.login(username="kasse", password="rathaus-demo")
    resp = client.post("/rechnungen/", {"datei": SimpleUploadedFile("web.xml", demo_invoice_for(t, "R-WEB"),
                                                                    content_type="text/xml")})
    assert resp.status_code == 302
    page = client.get(resp["Location"])
    assert page.status_code == 200 and "R-WEB" in page.content.decode()


@pytest.mark.parametrize("body,content_type,status", [
    (b"abc", "multipart/form-data", 422),  # no boundary (as the submissions endpoint answers)
    (b"--xyz\r\nnonsense", "multipart/form-data; boundary=xyz", 422),  # cut short: no file in it
    ("".join(f'--xyz\r\nContent-Disposition: form-data; name="f{i}"\r\n\r\n1\r\n' for i in range(2100)).encode()
     + b"--xyz--\r\n", "multipart/form-data; boundary=xyz", 413),  # more fields than Django reads
])
def test_broken_or_oversized_multipart_is_4xx_not_500(seeded, api, body, content_type, status):
    """issue 15: POST /einvoices answered 500 to multipart without a boundary and to > 2,000 form fields."""
    k = api("kasse")
    r = k.client.post("/api/v1/einvoices", data=body, content_type=content_type, **k.headers)
    assert r.status_code == status, r.content
    assert r["Content-Type"] == "application/problem+json" and r.json()["status"] == status
    assert not EInvoice.objects.exists()


def test_clerk_may_read_but_not_deliver(seeded, api):
    t = seeded["musterstadt"]
    assert post_xml(api("sachbearbeitung"), demo_invoice_for(t, "R-CLERK")).status_code == 403
    assert api("sachbearbeitung").get("/api/v1/einvoices").status_code == 200


def _work(api, case_id, user, name, data):
    client = api(user)
    task = [x for x in client.get("/api/v1/tasks", case=case_id).json() if x["name"] == name][0]
    r = client.post(f"/api/v1/tasks/{task['id']}/complete", {"data": data})
    assert r.status_code == 200, r.content


def test_from_upload_to_paid_and_booked(seeded, api):
    """The whole path: XRechnung -> approval (four eyes) -> payable -> payment run (pain.001) -> the debit
    on the bank statement -> paid; the ledger shows Aufwand, Verbindlichkeit and the Auszahlung."""
    t = seeded["musterstadt"]
    out = post_xml(api("kasse"), demo_invoice_for(t, "R-FULL")).json()
    case_id = out["case"]["id"]
    _work(api, case_id, "kasse", "formale_pruefung", {"decision": "approve"})
    _work(api, case_id, "sachbearbeitung", "sachlich_richtig", {"decision": "approve", "buchung": BOOKING})
    _work(api, case_id, "leitung", "rechnerisch_richtig", {"decision": "approve", "buchung": BOOKING})
    _work(api, case_id, "stellvertretung", "anordnung", {"decision": "approve", "buchung": BOOKING})
    inv = EInvoice.objects.get(pk=out["id"])
    assert inv.status == "approved" and inv.payable.amount == inv.payable_amount
    # paid on its due date (the invoice gives 30 days, no Skonto)
    run = api("kasse").post("/api/v1/payment-runs", {"execution_date": inv.payable.due_date.isoformat()}).json()
    item = inv.payable.run_items.get()
    # the bank executes the transfer: the debit comes back on the statement with our end-to-end id
    buf = io.BytesIO()
    write_camt053(buf, account_iban="DE02120300000000202051", statement_id="S-PAY", message_id="M-PAY",
                  created_at=dt.datetime.now(dt.UTC), opening_balance=Decimal("1000.00"),
                  entries=[WriterEntry(amount=item.amount, booking_date=dt.date.today(), credit=False,
                                       end_to_end_id=item.end_to_end_id, creditor_name="Bürobedarf Müller GmbH",
                                       creditor_iban="DE89370400440532013000", remittance=f"Rechnung {inv.invoice_number}",
                                       account_servicer_ref="PAY-1")])
    res = import_bank_statement(t, buf.getvalue(), actor="kasse")
    assert (res.matched, res.unmatched) == (1, 0)
    inv.refresh_from_db()
    assert inv.payable.status == "paid"
    assert api("kasse").get(f"/api/v1/einvoices/{inv.pk}").json()["status"] == "paid"
    lines = JournalLine.objects.filter(tenant=t)
    assert sum(ln.debit for ln in lines.filter(account__number="5431000")) == inv.payable_amount
    payable_balance = sum(ln.debit - ln.credit for ln in lines.filter(account__number="3520000"))
    assert payable_balance == 0
    auszahlung = sum(ln.credit - ln.debit for ln in lines.filter(cash_account__number="7431000"))
    assert auszahlung == -inv.payable_amount
    assert run["count"] == 1


def test_official_test_invoice_is_valid_but_not_ours(seeded, api):
    f = sorted((CORPORA / "xrechnung-testsuite" / "business-cases" / "standard").glob("*_ubl.xml"))[0]
    out = post_xml(api("kasse"), f.read_bytes()).json()
    assert out["valid"] is True and out["status"] == "misrouted"


def test_embedded_attachments_and_pdf_view_go_into_the_case_file(seeded, api):
    """An official test invoice with an embedded PDF (BG-24), re-addressed to Musterstadt's Leitweg-ID."""
    import re

    t = seeded["musterstadt"]
    candidates = sorted((CORPORA / "xrechnung-testsuite").rglob("*_ubl.xml"))
    src = next((f.read_bytes() for f in candidates if b"EmbeddedDocumentBinaryObject" in f.read_bytes()), None)
    assert src is not None, "no UBL test invoice with an embedded attachment in the corpus"
    body = re.sub(rb"<cbc:BuyerReference>[^<]*</cbc:BuyerReference>",
                  f"<cbc:BuyerReference>{t.leitweg_id}</cbc:BuyerReference>".encode(), src, count=1)
    out = post_xml(api("kasse"), body).json()
    assert out["status"] == "in_review", out
    docs = Document.objects.filter(case_id=out["case"]["id"])
    kinds = sorted(d.kind for d in docs)
    assert kinds.count("invoice") == 1 and "attachment" in kinds  # the XML and the attachment(s)
    # the readable PDF view is rendered on first request (or at the Anordnung) and filed once
    from django.test import Client

    web = Client()
    assert web.login(username="kasse", password="rathaus-demo")
    first = web.get(f"/rechnungen/{out['id']}/ansicht.pdf")
    assert first.status_code == 200 and b"".join(first.streaming_content).startswith(b"%PDF-")
    web.get(f"/rechnungen/{out['id']}/ansicht.pdf")
    pdfs = Document.objects.filter(case_id=out["case"]["id"], kind="invoice", content_type="application/pdf")
    assert pdfs.count() == 1


def test_batch_import_command(seeded, tmp_path):
    from django.core.management import call_command
    from django.core.management.base import CommandError

    t = seeded["musterstadt"]
    good = tmp_path / "a.xml"
    good.write_bytes(demo_invoice_for(t, "R-CLI-1"))
    bad = tmp_path / "b.xml"
    bad.write_bytes(b"kein xml")
    out, err = io.StringIO(), io.StringIO()
    with pytest.raises(CommandError):
        call_command("einvoice", "import", str(good), str(bad), "--tenant", "musterstadt", stdout=out, stderr=err)
    assert "in Prüfung" in out.getvalue() and "abgewiesen" in err.getvalue()
    assert set(EInvoice.objects.values_list("status", flat=True)) == {"in_review", "refused"}


def test_booking_proposal_defaults_to_the_units_cost_centre_then_follows_the_sellers_last_booking(seeded, api):
    """The proposal read on receipt (route, duplicate check and proposal in one query) is the same as
    `booking_proposal` on its own: first the unit's default cost centre, after a booking the last line."""
    from rathaus.cases.models import Case
    from rathaus.einvoice import services
    from rathaus.ledger.models import CostCentre

    t = seeded["musterstadt"]
    first = post_xml(api("kasse"), demo_invoice_for(t, "R-PROP-1")).json()
    inv = EInvoice.objects.get(pk=first["id"])
    cc = CostCentre.objects.filter(tenant=t, org_unit=inv.org_unit).order_by("code").first()
    default = {"produkt": "02.2.01", "konto": "5431000", "finanzkonto": "7431000",
               **({"kostenstelle": cc.code} if cc else {})}
    assert Case.objects.get(pk=first["case"]["id"]).data["buchung"] == default
    assert services.booking_proposal(inv) == default
    other = CostCentre.objects.filter(tenant=t).exclude(code=cc.code if cc else "").order_by("code").first()
    booked = dict(BOOKING, kostenstelle=other.code)
    case_id = first["case"]["id"]
    _work(api, case_id, "kasse", "formale_pruefung", {"decision": "approve"})
    _work(api, case_id, "sachbearbeitung", "sachlich_richtig", {"decision": "approve", "buchung": booked})
    _work(api, case_id, "leitung", "rechnerisch_richtig", {"decision": "approve", "buchung": booked})
    _work(api, case_id, "stellvertretung", "anordnung", {"decision": "approve", "buchung": booked})
    inv.refresh_from_db()
    assert inv.payable_id
    second = post_xml(api("kasse"), demo_invoice_for(t, "R-PROP-2")).json()
    assert second["status"] == "in_review"
    assert Case.objects.get(pk=second["case"]["id"]).data["buchung"] == booked
    assert services.booking_proposal(EInvoice.objects.get(pk=second["id"])) == booked
    # a duplicate of the booked invoice is found by the same query
    again = post_xml(api("kasse"), demo_invoice_for(t, "R-PROP-1")).json()
    assert again["status"] == "duplicate" and again["duplicate_of"] == first["id"]


def test_receive_token_needs_active_user_membership_and_unrevoked_token(seeded, api):
    """The API token is checked in one query (tenants.auth.token_login), with the same rules as before."""
    from django.contrib.auth import get_user_model
    from django.utils import timezone

    from rathaus.tenants.auth import token_login
    from rathaus.tenants.models import ApiToken, Membership
    from rathaus.tenants.services import authenticate_token

    t = seeded["musterstadt"]
    client = api("kasse")
    raw = client.headers["HTTP_AUTHORIZATION"].split()[1]
    user, m = token_login(raw)
    ref_user, ref_m = authenticate_token(raw)
    assert (user.pk, m.pk, m.tenant.pk, m.roles, m.org_unit_id) == (ref_user.pk, ref_m.pk, t.pk, ref_m.roles,
                                                                    ref_m.org_unit_id)
    assert isinstance(m.roles, list) and m.tenant.hostnames == t.hostnames and user.is_active is True
    assert m.tenant.created_at == t.created_at and user.get_username() == "kasse"
    assert token_login(raw[:-1] + ("a" if raw[-1] != "a" else "b")) is None and token_login("") is None
    assert post_xml(client, demo_invoice_for(t, "R-TOK-1")).status_code == 201
    # no membership in the token's tenant any more
    saved = list(Membership.objects.filter(user=user, tenant=t).values())
    Membership.objects.filter(user=user, tenant=t).delete()
    assert token_login(raw) is None and post_xml(client, demo_invoice_for(t, "R-TOK-2")).status_code == 401
    Membership.objects.create(**saved[0])
    assert post_xml(client, demo_invoice_for(t, "R-TOK-3")).status_code == 201
    # user deactivated
    get_user_model().objects.filter(pk=user.pk).update(is_active=False)
    assert token_login(raw) is None and post_xml(client, demo_invoice_for(t, "R-TOK-4")).status_code == 401
    get_user_model().objects.filter(pk=user.pk).update(is_active=True)
    # token revoked
    ApiToken.objects.filter(user=user).update(revoked_at=timezone.now())
    assert token_login(raw) is None and post_xml(client, demo_invoice_for(t, "R-TOK-5")).status_code == 401
