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


def iso_submission_document(w: World):
    from rathaus.notices.services import ensure_receipt

    ref, code = w.ms["reference"], w.ms["access_code"]
    receipt = ensure_receipt(Case.objects.get(pk=w.ms["id"]))  # released to the applicant
    url = f"/api/v1/submissions/{ref}/documents/{receipt.pk}/content"
    public = w.api()
    assert public.get(url, access_code=code, tenant="musterstadt").status_code == 200
    assert_404(public.get(url, access_code=code, tenant="beispielhausen"))
    assert_404(w.api(host="beispielhausen.localhost").get(url, access_code=code))
    # the attachment is not released: 404 even with the right code
    assert_404(public.get(f"/api/v1/submissions/{ref}/documents/{w.ms_doc}/content", access_code=code))
    # another case's code (other tenant) does not open it
    assert_404(public.get(url, access_code=w.bh["access_code"], tenant="musterstadt"))


def iso_service(w: World):
    from rathaus.catalog.models import Service

    bh_service = Service.objects.get(tenant__slug="beispielhausen", key="testdienst")
    bh_service.active = False
    bh_service.save(update_fields=["active"])  # as the admin does it (forgets the cached current version)
    public = w.api()
    assert public.get("/api/v1/services/testdienst", tenant="musterstadt").status_code == 200
    assert_404(public.get("/api/v1/services/testdienst", tenant="beispielhausen"))
    assert_404(w.api(host="beispielhausen.localhost").get("/api/v1/services/testdienst"))
    assert w.api(host="musterstadt.localhost").get("/api/v1/services/testdienst").status_code == 200
    r = public.post("/api/v1/submissions?tenant=beispielhausen", {"service": "testdienst", "data": TESTDIENST_EXAMPLE})
    assert_404(r)


# --------------------------------------------------------------------------- Stadtkasse

def _receivable(tenant_slug: str, purpose: str = "Test"):
    import datetime as dt
    from decimal import Decimal

    from rathaus.finance.receivables import ReceivableLineSpec, create_receivable
    from rathaus.tenants.models import Tenant

    return create_receivable(Tenant.objects.get(slug=tenant_slug), debtor_name="Erika Mustermann", purpose=purpose,
                             due_date=dt.date.today(), lines=[ReceivableLineSpec("Gebühr", Decimal("12.00"))],
                             product="02.2.01", revenue_account="4311000", cash_account="6311000", actor="test")


def _clearing_item(tenant_slug: str):
    """An unmatched incoming payment of the tenant (as a statement import leaves it)."""
    import datetime as dt
    from decimal import Decimal

    from django.utils import timezone

    from rathaus.finance.models import BankStatement, BankTransaction
    from rathaus.finance.receivables import ensure_bank_account
    from rathaus.tenants.models import Tenant

    t = Tenant.objects.get(slug=tenant_slug)
    acc = ensure_bank_account(t)
    st = BankStatement.objects.create(tenant=t, bank_account=acc, version="camt.053.001.08", sha256="0" * 64,
                                      imported_at=timezone.now(), imported_by="test")
    return BankTransaction.objects.create(
        tenant=t, statement=st, bank_account=acc, fingerprint=f"fp-{tenant_slug}", booking_date=dt.date.today(),
        amount=Decimal("12.00"), credit=True, remittance="ohne Kassenzeichen", state="clearing",
        unallocated=Decimal("12.00"))


def iso_receivable(w: World):
    # Kassenzeichen are numbered per tenant, so the same number can exist in both: it always resolves
    # within the caller's tenant
    ms1, ms2 = _receivable("musterstadt", "MS eins"), _receivable("musterstadt", "MS zwei")
    bh1 = _receivable("beispielhausen", "BH eins")
    assert w.api("kasse").get(f"/api/v1/receivables/{ms2.kassenzeichen}").json()["purpose"] == "MS zwei"
    assert_404(w.api("bh-kasse").get(f"/api/v1/receivables/{ms2.kassenzeichen}"))
    assert bh1.kassenzeichen == ms1.kassenzeichen
    assert w.api("bh-kasse").get(f"/api/v1/receivables/{bh1.kassenzeichen}").json()["purpose"] == "BH eins"
    assert w.api("kasse").get(f"/api/v1/receivables/{bh1.kassenzeichen}").json()["purpose"] == "MS eins"


def iso_cancel(w: World):
    ms1, ms2 = _receivable("musterstadt", "MS eins"), _receivable("musterstadt", "MS zwei")
    bh1 = _receivable("beispielhausen", "BH eins")
    assert_404(w.api("bh-kasse").post(f"/api/v1/receivables/{ms2.kassenzeichen}/cancel", {"reason": "x"}))
    ms2.refresh_from_db()
    assert ms2.status == "open"
    # the same number in the other tenant cancels only that tenant's receivable
    r = w.api("bh-kasse").post(f"/api/v1/receivables/{bh1.kassenzeichen}/cancel", {"reason": "Bescheid aufgehoben"})
    assert r.status_code == 200 and r.json()["purpose"] == "BH eins"
    ms1.refresh_from_db()
    assert ms1.status == "open"


def iso_assign(w: World):
    ms_tx, ms_r = _clearing_item("musterstadt"), _receivable("musterstadt")
    _receivable("beispielhausen")
    bh_r = _receivable("beispielhausen")  # its number does not exist in Musterstadt
    bh = w.api("bh-kasse")
    assert_404(bh.post(f"/api/v1/clearing/{ms_tx.pk}/assign", {"kassenzeichen": bh_r.kassenzeichen}))
    ms_tx.refresh_from_db()
    assert ms_tx.state == "clearing" and ms_tx.unallocated == 12
    # nor can Musterstadt's treasury assign its payment to Beispielhausen's receivable
    assert_404(w.api("kasse").post(f"/api/v1/clearing/{ms_tx.pk}/assign", {"kassenzeichen": bh_r.kassenzeichen}))
    r = w.api("kasse").post(f"/api/v1/clearing/{ms_tx.pk}/assign", {"kassenzeichen": ms_r.kassenzeichen})
    assert r.status_code == 200, r.content


def iso_resolve(w: World):
    ms_tx = _clearing_item("musterstadt")
    assert_404(w.api("bh-kasse").post(f"/api/v1/clearing/{ms_tx.pk}/resolve", {"note": "erledigt"}))
    ms_tx.refresh_from_db()
    assert ms_tx.state == "clearing"
    assert w.api("kasse").post(f"/api/v1/clearing/{ms_tx.pk}/resolve", {"note": "erledigt"}).status_code == 200


def iso_refund_clearing(w: World):
    from rathaus.finance.models import BankTransaction

    ms_tx = _clearing_item("musterstadt")
    BankTransaction.objects.filter(pk=ms_tx.pk).update(counterparty_iban="DE89370400440532013000")
    assert_404(w.api("bh-kasse").post(f"/api/v1/clearing/{ms_tx.pk}/refund", {}))
    ms_tx.refresh_from_db()
    assert ms_tx.state == "clearing"
    assert w.api("kasse").post(f"/api/v1/clearing/{ms_tx.pk}/refund", {}).status_code == 201


def iso_refund_receivable(w: World):
    from rathaus.finance.bank.importer import import_bank_statement
    from rathaus.finance.models import Payable

    from .test_finance_statements import pay, statement

    ms = _receivable("musterstadt")
    import_bank_statement(ms.tenant, statement([pay("20.00", f"KZ {ms.kassenzeichen}", "ISO-1")]), actor="test")
    ms.refresh_from_db()
    assert ms.status == "overpaid"
    assert_404(w.api("bh-kasse").post(f"/api/v1/receivables/{ms.kassenzeichen}/refund", {}))
    assert not Payable.objects.exists()
    assert w.api("kasse").post(f"/api/v1/receivables/{ms.kassenzeichen}/refund", {}).status_code == 201


def scoped_receivables(w: World):
    ms, bh = _receivable("musterstadt"), _receivable("beispielhausen")
    seen = w.api("bh-kasse").get("/api/v1/receivables", limit=1000).json()
    from rathaus.finance.models import Receivable

    # lists are of the caller's tenant only (Kassenzeichen may repeat across tenants: compare the rows)
    assert Receivable.objects.filter(tenant__slug="beispielhausen").count() == len(seen)
    assert bh.kassenzeichen in {r["kassenzeichen"] for r in seen}
    assert {r["pay_to"]["iban"] for r in seen} == {bh.tenant.iban}
    assert ms.tenant.iban not in {r["pay_to"]["iban"] for r in seen}
    assert w.api("bh-kasse").get("/api/v1/receivables", case=w.ms["id"]).json() == []


def scoped_clearing(w: World):
    ms, bh = _clearing_item("musterstadt"), _clearing_item("beispielhausen")
    ids = {t["id"] for t in w.api("bh-kasse").get("/api/v1/clearing").json()}
    assert bh.pk in ids and ms.pk not in ids


def scoped_bank_statements(w: World):
    # a statement of Musterstadt's account is refused by Beispielhausen's treasury (not its account)
    from rathaus.finance.models import BankTransaction

    camt = (b'<?xml version="1.0"?><Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.02">'
            b'<BkToCstmrStmt><GrpHdr><MsgId>M</MsgId><CreDtTm>2026-11-28T06:00:00</CreDtTm></GrpHdr><Stmt>'
            b'<Id>S1</Id><CreDtTm>2026-11-28T06:00:00</CreDtTm><Acct><Id><IBAN>DE02120300000000202051</IBAN></Id>'
            b'</Acct><Bal><Tp><CdOrPrtry><Cd>OPBD</Cd></CdOrPrtry></Tp><Amt Ccy="EUR">0.00</Amt>'
            b'<CdtDbtInd>CRDT</CdtDbtInd><Dt><Dt>2026-11-27</Dt></Dt></Bal><Ntry><Amt Ccy="EUR">1.00</Amt>'
            b'<CdtDbtInd>CRDT</CdtDbtInd><Sts>BOOK</Sts><BookgDt><Dt>2026-11-27</Dt></BookgDt><ValDt><Dt>2026-11-27'
            b'</Dt></ValDt><BkTxCd/></Ntry></Stmt></BkToCstmrStmt></Document>')
    r = w.api("bh-kasse").post("/api/v1/bank-statements", raw=camt, content_type="application/xml")
    assert r.status_code == 422, r.content
    assert "DE02120300000000202051" in r.json()["detail"] and not BankTransaction.objects.exists()


def scoped_payables(w: World):
    import datetime as dt
    from decimal import Decimal

    from rathaus.finance.payables import ExpenseLine, create_payable
    from rathaus.tenants.models import Tenant

    def make(slug):
        return create_payable(Tenant.objects.get(slug=slug), creditor_name="Lieferant", creditor_iban="DE89370400440532013000",
                              remittance="R-1", lines=[ExpenseLine("4311000", Decimal("5.00"), "6311000", "02.2.01")],
                              due_date=dt.date.today(), actor="t")

    ms, bh = make("musterstadt"), make("beispielhausen")
    nums = {p["id"] for p in w.api("bh-kasse").get("/api/v1/payables").json()}
    assert bh.pk in nums and ms.pk not in nums
    run = w.api("bh-kasse").post("/api/v1/payment-runs", {})
    assert run.status_code == 201, run.content
    assert run.json()["payables"] == [bh.number]
    ms.refresh_from_db()
    assert ms.status == "open"
    runs = w.api("kasse").get("/api/v1/payment-runs").json()
    assert run.json()["id"] not in {r["id"] for r in runs}
    # Musterstadt's own run pays only Musterstadt's payable
    assert w.api("kasse").post("/api/v1/payment-runs", {"payables": [bh.pk]}).status_code == 409


# --------------------------------------------------------------------------- E-Rechnung

def _einvoice(tenant_slug: str):
    from django.utils import timezone

    from rathaus.einvoice.models import EInvoice
    from rathaus.tenants.models import Tenant

    return EInvoice.objects.create(tenant=Tenant.objects.get(slug=tenant_slug), sha256="0" * 64,
                                   received_at=timezone.now(), received_by="test", status="invalid",
                                   invoice_number=f"R-{tenant_slug}")


def iso_einvoice(w: World):
    ms, bh = _einvoice("musterstadt"), _einvoice("beispielhausen")
    assert w.api("kasse").get(f"/api/v1/einvoices/{ms.pk}").status_code == 200  # control
    assert_404(w.api("bh-kasse").get(f"/api/v1/einvoices/{ms.pk}"))
    assert_404(w.api("kasse").get(f"/api/v1/einvoices/{bh.pk}"))


def scoped_einvoices(w: World):
    ms, bh = _einvoice("musterstadt"), _einvoice("beispielhausen")
    ids = {i["id"] for i in w.api("bh-kasse").get("/api/v1/einvoices").json()}
    assert bh.pk in ids and ms.pk not in ids


def scoped_einvoice_receive(w: World):
    # the receiving tenant is the token's; the invoice's Leitweg-ID must belong to it (else "misrouted")
    from rathaus.einvoice.models import EInvoice

    r = w.api("bh-kasse").post("/api/v1/einvoices", raw=b"kein XML", content_type="application/xml")
    assert r.status_code in (400, 422), r.content
    assert set(EInvoice.objects.values_list("tenant__slug", flat=True)) == {"beispielhausen"}


# --------------------------------------------------------------------------- ledger (Kämmerei)

LEDGER_FEE = {"date": "2031-03-15", "text": "Gebühr", "lines": [
    {"account": "1611000", "debit": "26.00", "product": "02.2.01"},
    {"account": "4311000", "credit": "26.00", "product": "02.2.01"}]}


def ledger_clients(w: World):
    """Accounting clients of both tenants (the demo has no Beispielhausen Kämmerei) and one entry each."""
    from django.contrib.auth import get_user_model

    from rathaus.tenants.models import Membership, Tenant

    user, _ = get_user_model().objects.get_or_create(username="bh-kaemmerei")
    Membership.objects.get_or_create(user=user, tenant=Tenant.objects.get(slug="beispielhausen"),
                                     defaults={"roles": ["accounting"]})
    ms, bh = w.api("kaemmerei"), w.api("bh-kaemmerei")
    ms_entry = ms.post("/api/v1/ledger/entries", LEDGER_FEE).json()
    bh_entry = bh.post("/api/v1/ledger/entries", {**LEDGER_FEE, "text": "BH"}).json()
    return ms, bh, ms_entry, bh_entry


def iso_ledger_entry(w: World):
    ms, bh, ms_entry, bh_entry = ledger_clients(w)
    assert ms.get(f"/api/v1/ledger/entries/{ms_entry['id']}").status_code == 200
    assert_404(bh.get(f"/api/v1/ledger/entries/{ms_entry['id']}"))
    assert_404(ms.get(f"/api/v1/ledger/entries/{bh_entry['id']}"))


def iso_ledger_reverse(w: World):
    from rathaus.ledger.models import JournalEntry

    ms, bh, ms_entry, bh_entry = ledger_clients(w)
    assert_404(bh.post(f"/api/v1/ledger/entries/{ms_entry['id']}/reverse", {"reason": "x", "date": "2031-03-16"}))
    assert_404(bh.post(f"/api/v1/ledger/entries/{ms_entry['id']}/reverse", {"reason": ""}))  # no 422 leak
    assert not JournalEntry.objects.filter(reversal_of_id=ms_entry["id"]).exists()
    r = bh.post(f"/api/v1/ledger/entries/{bh_entry['id']}/reverse", {"reason": "x", "date": "2031-03-16"})
    assert r.status_code == 201


def webhook_clients(w: World):
    """Admin clients of both tenants (the demo has no Beispielhausen admin) and one subscription each."""
    from django.contrib.auth import get_user_model
    from django.test.utils import override_settings

    from rathaus.tenants.models import Membership, Tenant
    from rathaus.webhooks.services import create_subscription

    user, _ = get_user_model().objects.get_or_create(username="bh-admin")
    bh_tenant = Tenant.objects.get(slug="beispielhausen")
    Membership.objects.get_or_create(user=user, tenant=bh_tenant, defaults={"roles": ["admin"]})
    with override_settings(RATHAUS_WEBHOOKS_ALLOW_PRIVATE=True):
        ms_sub = create_subscription(Tenant.objects.get(slug="musterstadt"), actor="t", url="http://127.0.0.1:9/m")
        bh_sub = create_subscription(bh_tenant, actor="t", url="http://127.0.0.1:9/b")
    return w.api("admin"), w.api("bh-admin"), ms_sub, bh_sub


def iso_webhook(w: World):
    ms, bh, ms_sub, bh_sub = webhook_clients(w)
    assert ms.get(f"/api/v1/webhooks/{ms_sub.pk}").status_code == 200
    assert_404(bh.get(f"/api/v1/webhooks/{ms_sub.pk}"))
    assert_404(ms.get(f"/api/v1/webhooks/{bh_sub.pk}"))


def iso_webhook_patch(w: World):
    ms, bh, ms_sub, _ = webhook_clients(w)
    assert_404(bh.client.patch(f"/api/v1/webhooks/{ms_sub.pk}", data={"active": False},
                               content_type="application/json", **bh.headers))
    assert_404(bh.client.patch(f"/api/v1/webhooks/{ms_sub.pk}", data={"url": "ftp://x"},
                               content_type="application/json", **bh.headers))  # no 422 leak
    ms_sub.refresh_from_db()
    assert ms_sub.active and ms_sub.url.endswith("/m")


def iso_webhook_delete(w: World):
    from rathaus.webhooks.models import Subscription

    _ms, bh, ms_sub, _ = webhook_clients(w)
    assert_404(bh.client.delete(f"/api/v1/webhooks/{ms_sub.pk}", **bh.headers))
    assert Subscription.objects.filter(pk=ms_sub.pk).exists()


def iso_webhook_deliveries(w: World):
    _ms, bh, ms_sub, bh_sub = webhook_clients(w)
    assert_404(bh.get(f"/api/v1/webhooks/{ms_sub.pk}/deliveries"))
    assert bh.get(f"/api/v1/webhooks/{bh_sub.pk}/deliveries").status_code == 200


def iso_webhook_redeliver(w: World):
    _ms, bh, ms_sub, _ = webhook_clients(w)
    assert_404(bh.post(f"/api/v1/webhooks/{ms_sub.pk}/redeliver", {"failed": True}))
    assert_404(bh.post(f"/api/v1/webhooks/{ms_sub.pk}/redeliver", {}))  # no 422 leak


ISOLATION = {
    ("get", "/api/v1/webhooks/{sid}"): iso_webhook,
    ("patch", "/api/v1/webhooks/{sid}"): iso_webhook_patch,
    ("delete", "/api/v1/webhooks/{sid}"): iso_webhook_delete,
    ("get", "/api/v1/webhooks/{sid}/deliveries"): iso_webhook_deliveries,
    ("post", "/api/v1/webhooks/{sid}/redeliver"): iso_webhook_redeliver,
    ("get", "/api/v1/ledger/entries/{entry_id}"): iso_ledger_entry,
    ("post", "/api/v1/ledger/entries/{entry_id}/reverse"): iso_ledger_reverse,
    ("get", "/api/v1/cases/{case_id}"): iso_get_case,
    ("post", "/api/v1/tasks/{task_id}/claim"): iso_claim,
    ("post", "/api/v1/tasks/{task_id}/release"): iso_release,
    ("post", "/api/v1/tasks/{task_id}/complete"): iso_complete,
    ("get", "/api/v1/documents/{doc_id}/content"): iso_document,
    ("get", "/api/v1/submissions/{reference}"): iso_submission,
    ("get", "/api/v1/submissions/{reference}/documents/{doc_id}/content"): iso_submission_document,
    ("get", "/api/v1/services/{key}"): iso_service,
    ("get", "/api/v1/receivables/{kassenzeichen}"): iso_receivable,
    ("post", "/api/v1/clearing/{tx_id}/assign"): iso_assign,
    ("post", "/api/v1/receivables/{kassenzeichen}/cancel"): iso_cancel,
    ("post", "/api/v1/clearing/{tx_id}/resolve"): iso_resolve,
    ("post", "/api/v1/clearing/{tx_id}/refund"): iso_refund_clearing,
    ("post", "/api/v1/receivables/{kassenzeichen}/refund"): iso_refund_receivable,
    ("get", "/api/v1/einvoices/{invoice_id}"): iso_einvoice,
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


def scoped_ledger_reports(w: World):
    ms, bh, ms_entry, bh_entry = ledger_clients(w)
    for path in ("trial-balance", "results", "cash"):
        own = bh.get(f"/api/v1/ledger/{path}", year=2031).json()
        assert "manual:" not in str(own)
    assert bh.get("/api/v1/ledger/trial-balance", year=2031).json()["totals"]["debit"] == "26.00"
    assert bh.get("/api/v1/ledger/results", year=2031).json()["totals"]["income"] == "26.00"
    assert ms.get("/api/v1/ledger/trial-balance", year=2031, tenant="beispielhausen").json()["totals"]["debit"] \
        == "26.00"


def scoped_ledger_entries(w: World):
    ms, bh, ms_entry, bh_entry = ledger_clients(w)
    assert [e["id"] for e in bh.get("/api/v1/ledger/entries").json()["items"]] == [bh_entry["id"]]
    assert [e["id"] for e in ms.get("/api/v1/ledger/entries", tenant="beispielhausen").json()["items"]] == [
        ms_entry["id"]]
    # the same source_ref in both tenants is two entries
    a = ms.post("/api/v1/ledger/entries", {**LEDGER_FEE, "source_ref": "same"}).json()
    b = bh.post("/api/v1/ledger/entries", {**LEDGER_FEE, "source_ref": "same"}).json()
    assert a["id"] != b["id"]


def scoped_ledger_master_data(w: World):
    from rathaus.ledger.models import Account

    ms, bh, _, _ = ledger_clients(w)
    Account.objects.filter(tenant__slug="beispielhausen", number="4311000").update(name="Gebühren BH")
    names = {a["number"]: a["name"] for a in ms.get("/api/v1/ledger/accounts").json()}
    assert names["4311000"] == "Verwaltungsgebühren"
    assert {a["number"]: a["name"] for a in bh.get("/api/v1/ledger/accounts").json()}["4311000"] == "Gebühren BH"
    assert ms.get("/api/v1/ledger/products").json() == bh.get("/api/v1/ledger/products").json()  # same demo plan


def scoped_ledger_periods(w: World):
    from rathaus.ledger.models import FiscalPeriod

    ms, bh, _, _ = ledger_clients(w)
    assert bh.post("/api/v1/ledger/periods", {"year": 2031}).status_code == 200
    assert FiscalPeriod.objects.get().tenant.slug == "beispielhausen"
    assert ms.get("/api/v1/ledger/periods").json() == []
    assert len(bh.get("/api/v1/ledger/periods").json()) == 1
    assert ms.post("/api/v1/ledger/entries", LEDGER_FEE).status_code == 201  # Musterstadt stays open
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


def scoped_webhooks(w: World):
    ms, bh, ms_sub, bh_sub = webhook_clients(w)
    assert [s["id"] for s in bh.get("/api/v1/webhooks").json()] == [bh_sub.pk]
    assert ms_sub.pk in [s["id"] for s in ms.get("/api/v1/webhooks").json()]
    r = bh.post("/api/v1/webhooks", {"url": "https://169.254.169.254/"})
    assert r.status_code == 422 and "musterstadt" not in r.content.decode().lower()


def scoped_events(w: World):
    from rathaus.tenants.models import Membership, Tenant

    m = Membership.objects.get(user__username="bh-kasse")
    m.roles = [*m.roles, "treasury"]
    m.save()
    from rathaus.events.models import OutboxEvent
    from rathaus.webhooks.services import source_of

    for user, slug in (("bh-kasse", "beispielhausen"), ("kasse", "musterstadt")):
        tenant = Tenant.objects.get(slug=slug)
        events, after = [], 0
        while page := w.api(user).get("/api/v1/events", after=after, limit=1000).json()["events"]:
            events += page
            after = page[-1]["id"]
        assert {e["source"] for e in events} == {source_of(tenant)}
        assert [int(e["id"]) for e in events] == list(
            OutboxEvent.objects.filter(tenant=tenant).order_by("id").values_list("id", flat=True))


SCOPED = {
    ("get", "/api/v1/webhooks"): scoped_webhooks,
    ("post", "/api/v1/webhooks"): scoped_webhooks,
    ("get", "/api/v1/events"): scoped_events,
    ("get", "/api/v1/ledger/trial-balance"): scoped_ledger_reports,
    ("get", "/api/v1/ledger/results"): scoped_ledger_reports,
    ("get", "/api/v1/ledger/cash"): scoped_ledger_reports,
    ("get", "/api/v1/ledger/entries"): scoped_ledger_entries,
    ("post", "/api/v1/ledger/entries"): scoped_ledger_entries,
    ("get", "/api/v1/ledger/accounts"): scoped_ledger_master_data,
    ("get", "/api/v1/ledger/products"): scoped_ledger_master_data,
    ("get", "/api/v1/ledger/periods"): scoped_ledger_periods,
    ("post", "/api/v1/ledger/periods"): scoped_ledger_periods,
    ("get", "/api/v1/tasks"): scoped_tasks,
    ("get", "/api/v1/cases"): scoped_cases,
    ("get", "/api/v1/services"): scoped_services,
    ("post", "/api/v1/submissions"): scoped_submit,
    ("get", "/api/v1/health"): scoped_health, ("head", "/api/v1/health"): scoped_health,
    ("get", "/api/v1/receivables"): scoped_receivables,
    ("get", "/api/v1/clearing"): scoped_clearing,
    ("post", "/api/v1/bank-statements"): scoped_bank_statements,
    ("get", "/api/v1/payables"): scoped_payables,
    ("post", "/api/v1/payment-runs"): scoped_payables,
    ("get", "/api/v1/payment-runs"): scoped_payables,
    ("get", "/api/v1/einvoices"): scoped_einvoices,
    ("post", "/api/v1/einvoices"): scoped_einvoice_receive,
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
