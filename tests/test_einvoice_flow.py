"""Inbound invoice approval: formal check -> sachlich -> rechnerisch -> Anordnung (four eyes, budget)
-> payable in the ledger -> payment run (pain.001)."""

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone

from rathaus.einvoice import services as einv
from rathaus.einvoice.models import EInvoice
from rathaus.finance.models import Payable
from rathaus.ledger.models import BudgetLine, JournalEntry


def _invoice(tenant, amount="119.00", number="R-2026-0815", terms="Zahlbar innerhalb von 30 Tagen."):
    from rathaus.tenants.models import OrgUnit

    inv = EInvoice.objects.create(
        tenant=tenant, sha256="1" * 64, received_at=timezone.now(), received_by="test", status="received",
        syntax="UBL", document_type="invoice", valid=True, invoice_number=number,
        issue_date=dt.date.today(), currency="EUR", seller_name="Bürobedarf Müller GmbH",
        seller_vat_id="DE123456789", seller_key="DE123456789", leitweg_id=tenant.leitweg_id,
        total_net=Decimal(amount) / Decimal("1.19"), total_tax=Decimal("0"), total_gross=Decimal(amount),
        payable_amount=Decimal(amount), payment_iban="DE89370400440532013000", payment_terms=terms,
        org_unit=OrgUnit.objects.get(tenant=tenant, slug="ordnungsamt"),
    )
    inv.case = einv._start_approval(inv, None, actor="test")
    inv.status = "in_review"
    inv.save()
    return inv


def _do(api, user, case_id, name, data, expect=200):
    client = api(user)
    tasks = [t for t in client.get("/api/v1/tasks", case=case_id).json() if t["name"] == name]
    assert tasks, (user, name, client.get("/api/v1/tasks", case=case_id).json())
    r = client.post(f"/api/v1/tasks/{tasks[0]['id']}/complete", {"data": data})
    assert r.status_code == expect, (user, name, r.content)
    return r


BOOKING = {"produkt": "02.2.01", "konto": "5431000", "finanzkonto": "7431000", "kostenstelle": "320"}


def test_invoice_runs_from_formal_check_to_payable_and_payment_run(seeded, api):
    t = seeded["musterstadt"]
    inv = _invoice(t, terms="Zahlbar innerhalb 30 Tagen.\n#SKONTO#TAGE=10#PROZENT=2.00#\n")
    case_id = inv.case_id
    assert inv.case.service_version.service.key == "eingangsrechnung"
    _do(api, "kasse", case_id, "formale_pruefung", {"decision": "approve"})
    # the sachlich-richtig task goes to the unit the Leitweg-ID routes to (Ordnungsamt)
    assert not api("tiefbau").get("/api/v1/tasks", case=case_id).json()
    _do(api, "sachbearbeitung", case_id, "sachlich_richtig", {"decision": "approve", "buchung": BOOKING})
    _do(api, "leitung", case_id, "rechnerisch_richtig", {"decision": "approve", "buchung": BOOKING})
    # four eyes: leitung (approver) did rechnerisch richtig and may not order the payment too
    tasks = api("leitung").get("/api/v1/tasks", case=case_id).json()
    assert not [x for x in tasks if x["name"] == "anordnung"]
    _do(api, "stellvertretung", case_id, "anordnung", {"decision": "approve", "buchung": BOOKING})
    inv.refresh_from_db()
    assert inv.status == "approved" and inv.payable_id
    p = inv.payable
    assert p.amount == Decimal("119.00") and p.discount_amount == Decimal("2.38")
    assert p.discount_until == dt.date.today() + dt.timedelta(days=10)
    entry = JournalEntry.objects.get(tenant=t, source_ref=f"payable:{p.pk}")
    assert {(ln.account.number, ln.debit, ln.credit) for ln in entry.lines.select_related("account")} == {
        ("5431000", Decimal("119.00"), Decimal("0")), ("3520000", Decimal("0"), Decimal("119.00"))}
    assert api("kasse").get(f"/api/v1/einvoices/{inv.pk}").json()["payable"] == p.number
    run = api("kasse").post("/api/v1/payment-runs", {})
    assert run.status_code == 201, run.content
    assert run.json()["total"] == "116.62" and run.json()["payables"] == [p.number]


def test_anordnung_refused_when_budget_is_exhausted_unless_overridden(seeded, api):
    t = seeded["musterstadt"]
    BudgetLine.objects.update_or_create(tenant=t, year=timezone.localdate().year, product="02.2.01",
                                        account="5431000", defaults={"amount": Decimal("100.00")})
    inv = _invoice(t, amount="119.00", number="R-BUDGET")
    _do(api, "kasse", inv.case_id, "formale_pruefung", {"decision": "approve"})
    _do(api, "sachbearbeitung", inv.case_id, "sachlich_richtig", {"decision": "approve", "buchung": BOOKING})
    _do(api, "leitung", inv.case_id, "rechnerisch_richtig", {"decision": "approve", "buchung": BOOKING})
    r = _do(api, "stellvertretung", inv.case_id, "anordnung", {"decision": "approve", "buchung": BOOKING},
            expect=422)
    assert "Haushaltsmittel" in r.json()["detail"]
    inv.refresh_from_db()
    assert inv.status == "in_review" and inv.payable_id is None
    assert not Payable.objects.filter(source_type="einvoice", source_id=str(inv.pk)).exists()
    # an override request without a reason is refused by the task schema; with a reason it goes to the
    # Kämmerei, which alone may consent to an überplanmäßige Auszahlung
    _do(api, "stellvertretung", inv.case_id, "anordnung",
        {"decision": "approve", "buchung": BOOKING, "ueberschreitung": True}, expect=422)
    _do(api, "stellvertretung", inv.case_id, "anordnung",
        {"decision": "approve", "buchung": BOOKING, "ueberschreitung": True,
         "ueberschreitung_begruendung": "Unabweisbare Ausgabe, Deckung aus 02.2.02 beantragt."})
    inv.refresh_from_db()
    assert inv.status == "in_review" and inv.payable_id is None
    assert not api("stellvertretung").get("/api/v1/tasks", case=inv.case_id).json()  # not the approver's
    _do(api, "kaemmerei", inv.case_id, "zustimmung_kaemmerei", {"decision": "approve", "deckung": "02.2.02"})
    inv.refresh_from_db()
    assert inv.status == "approved" and inv.payable_id


@pytest.mark.parametrize("step,user", [("formale_pruefung", "kasse"), ("sachlich_richtig", "sachbearbeitung")])
def test_rejection_writes_a_message_for_the_supplier(seeded, api, step, user):
    inv = _invoice(seeded["musterstadt"], number=f"R-REJ-{step}")
    if step == "sachlich_richtig":
        _do(api, "kasse", inv.case_id, "formale_pruefung", {"decision": "approve"})
    data = {"decision": "reject", "reason": "Die Leistung wurde nicht bestellt."}
    if step == "sachlich_richtig":
        data["buchung"] = BOOKING
    _do(api, user, inv.case_id, step, data)
    inv.refresh_from_db()
    assert inv.status == "rejected" and inv.payable_id is None
    assert "Die Leistung wurde nicht bestellt." in inv.rejection_message
    assert "R-REJ" in inv.rejection_message


def test_task_form_is_prefilled_with_the_booking_proposal(seeded, api):
    from rathaus.cases.models import Task
    from rathaus.cases.services import task_prefill

    inv = _invoice(seeded["musterstadt"], number="R-PREFILL")
    _do(api, "kasse", inv.case_id, "formale_pruefung", {"decision": "approve"})
    task = Task.objects.get(case_id=inv.case_id, name="sachlich_richtig")
    assert task_prefill(task)["buchung"]["konto"] == "5431000"
    changed = dict(BOOKING, kostenstelle="999")
    _do(api, "sachbearbeitung", inv.case_id, "sachlich_richtig", {"decision": "approve", "buchung": changed})
    task = Task.objects.get(case_id=inv.case_id, name="rechnerisch_richtig")
    assert task_prefill(task)["buchung"]["kostenstelle"] == "999"  # the last edit wins


def test_skonto_terms_parsed():
    terms = "#SKONTO#TAGE=14#PROZENT=2.00#\n#SKONTO#TAGE=30#PROZENT=1.00#BASISBETRAG=100.00#\n"
    assert einv.skonto_terms(terms) == [(14, Decimal("2.00"), None), (30, Decimal("1.00"), Decimal("100.00"))]
    assert einv.skonto_terms("Zahlbar sofort") == []


def test_kaemmerei_may_refuse_the_overrun(seeded, api):
    t = seeded["musterstadt"]
    BudgetLine.objects.update_or_create(tenant=t, year=timezone.localdate().year, product="02.2.01",
                                        account="5431000", defaults={"amount": Decimal("10.00")})
    inv = _invoice(t, number="R-NO-BUDGET")
    _do(api, "kasse", inv.case_id, "formale_pruefung", {"decision": "approve"})
    _do(api, "sachbearbeitung", inv.case_id, "sachlich_richtig", {"decision": "approve", "buchung": BOOKING})
    _do(api, "leitung", inv.case_id, "rechnerisch_richtig", {"decision": "approve", "buchung": BOOKING})
    _do(api, "stellvertretung", inv.case_id, "anordnung",
        {"decision": "approve", "buchung": BOOKING, "ueberschreitung": True,
         "ueberschreitung_begruendung": "Dringend benötigt für den Bürgerservice."})
    _do(api, "kaemmerei", inv.case_id, "zustimmung_kaemmerei",
        {"decision": "reject", "reason": "Keine Deckung im Haushalt vorhanden."})
    inv.refresh_from_db()
    assert inv.status == "rejected" and inv.payable_id is None
    assert "Keine Deckung" in inv.rejection_message
