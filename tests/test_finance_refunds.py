"""Erstattungen: an overpayment or an unassignable payment is paid back by a refund payable to the account the
money came from (never to a typed IBAN), through the normal payment run; the ledger stays balanced and the
Finanzrechnung shows the refund as haushaltsunwirksame Auszahlung."""

import datetime as dt
from decimal import Decimal

import pytest
from django.db.models import Sum
from django.test import Client

from rathaus.core.errors import Conflict, Invalid
from rathaus.demo.statements import demo_statement_for_run
from rathaus.finance import kassenzeichen as kz
from rathaus.finance.bank.importer import import_bank_statement
from rathaus.finance.bank.writer import WriterEntry
from rathaus.finance.models import BankTransaction, Payable, PaymentRun, Receivable
from rathaus.finance.payables import create_payment_run
from rathaus.finance.refunds import refund_clearing_item, refund_overpayment
from rathaus.ledger.models import JournalLine

from .test_finance_statements import balance, cash, pay, receivable, statement

PAYER_IBAN = "DE89370400440532013000"


def trial_balance_is_balanced(t) -> bool:
    agg = JournalLine.objects.filter(tenant=t).aggregate(d=Sum("debit"), c=Sum("credit"))
    return agg["d"] == agg["c"]


def overpaid(t, amount="30.00"):
    r = receivable(t)
    res = import_bank_statement(t, statement([pay(amount, f"KZ {kz.display(r.kassenzeichen)}", "O1")]), actor="kasse")
    assert res.matched == 1
    r.refresh_from_db()
    assert r.status == "overpaid" and r.open_amount == Decimal("26.00") - Decimal(amount)
    return r


def test_overpayment_refund_is_ordered_to_the_payers_account_and_paid_by_the_run(seeded):
    t = seeded["musterstadt"]
    r = overpaid(t)
    assert balance(t, "3792000") == Decimal("-4.00")  # Verbindlichkeit aus Überzahlung
    p = refund_overpayment(t, r.kassenzeichen, actor="kasse", note="Anruf der Zahlerin")
    assert (p.amount, p.creditor_iban, p.creditor_name, p.source_type) == (Decimal("4.00"), PAYER_IBAN,
                                                                           "Erika Mustermann", "refund")
    assert kz.display(r.kassenzeichen) in p.remittance and p.status == "open" and p.due_date == dt.date.today()
    r.refresh_from_db()
    assert (r.status, r.paid_amount, r.open_amount) == ("paid", Decimal("26.00"), Decimal("0.00"))
    assert balance(t, "3792000") == 0  # handed over to the refund payable
    assert trial_balance_is_balanced(t)
    # the next payment run pays it; the bank's debit books Verbindlichkeit an Bank, Auszahlung haushaltsunwirksam
    run = create_payment_run(t, execution_date=dt.date.today(), actor="kasse")
    assert run.payables.filter(pk=p.pk).exists()
    res = import_bank_statement(t, demo_statement_for_run(run), actor="kasse")
    assert res.matched == 1
    p.refresh_from_db()
    assert p.status == "paid"
    assert balance(t, "1810000") == Decimal("26.00")  # 30 in, 4 back
    assert cash(t, "7991000") == Decimal("-4.00") and cash(t, "6991000") == Decimal("4.00")
    assert cash(t, "6311000") == Decimal("26.00")  # the fee itself
    assert trial_balance_is_balanced(t)


def test_refund_only_of_a_real_overpayment_and_only_once(seeded):
    t = seeded["musterstadt"]
    r = overpaid(t)
    refund_overpayment(t, r.kassenzeichen, actor="kasse")
    with pytest.raises(Conflict, match="nicht überzahlt"):
        refund_overpayment(t, r.kassenzeichen, actor="kasse")
    assert Payable.objects.filter(tenant=t, source_type="refund").count() == 1
    paid_exactly = receivable(t)
    with pytest.raises(Conflict, match="nicht überzahlt"):
        refund_overpayment(t, paid_exactly.kassenzeichen, actor="kasse")


def test_overpayment_from_several_payments_is_not_refunded_blindly(seeded):
    t = seeded["musterstadt"]
    r = receivable(t)
    k = kz.display(r.kassenzeichen)
    import_bank_statement(t, statement([pay("20.00", f"KZ {k}", "M1"), pay("10.00", f"KZ {k}", "M2"),
                                        pay("10.00", f"KZ {k}", "M3")]), actor="kasse")
    r.refresh_from_db()
    assert r.open_amount == Decimal("-14.00")
    with pytest.raises(Conflict, match="mehreren Zahlungen"):
        refund_overpayment(t, r.kassenzeichen, actor="kasse")
    r.refresh_from_db()
    assert r.status == "overpaid" and not Payable.objects.filter(tenant=t).exists()


def test_clearing_item_is_paid_back_to_the_payer(seeded):
    t = seeded["musterstadt"]
    import_bank_statement(t, statement([pay("16.00", "für Frau\nNachbarin", "K1")]), actor="kasse")
    tx = BankTransaction.objects.get(tenant=t, state="clearing")
    assert balance(t, "3791000") == Decimal("-16.00")
    p = refund_clearing_item(t, tx.pk, actor="kasse")
    assert (p.amount, p.creditor_iban) == (Decimal("16.00"), PAYER_IBAN)
    assert "für Frau Nachbarin" in p.remittance and p.remittance.startswith("Rückzahlung Ihrer Zahlung vom")
    tx.refresh_from_db()
    assert (tx.state, tx.unallocated, tx.resolved_by) == ("refunded", Decimal("0.00"), "kasse")
    assert p.number in tx.note
    assert balance(t, "3791000") == 0  # Verwahrgeld handed over to the payable
    with pytest.raises(Conflict, match="kein offener Klärfall"):
        refund_clearing_item(t, tx.pk, actor="kasse")
    run = create_payment_run(t, execution_date=dt.date.today(), actor="kasse")
    import_bank_statement(t, demo_statement_for_run(run), actor="kasse")
    p.refresh_from_db()
    assert p.status == "paid" and balance(t, "1810000") == 0
    assert cash(t, "6991000") == Decimal("16.00") and cash(t, "7991000") == Decimal("-16.00")
    assert trial_balance_is_balanced(t)


def test_no_refund_without_the_payers_account_or_for_a_debit(seeded):
    t = seeded["musterstadt"]
    no_account = WriterEntry(amount=Decimal("16.00"), booking_date=dt.date.today(), remittance="bar eingezahlt",
                             account_servicer_ref="N1", debtor_name="Bareinzahlung")
    import_bank_statement(t, statement([no_account, pay("5.00", "Gebühr", "N2", credit=False)]), actor="kasse")
    no_iban = BankTransaction.objects.get(tenant=t, state="clearing", credit=True)
    with pytest.raises(Conflict, match="kein gültiges Konto des Einzahlers"):
        refund_clearing_item(t, no_iban.pk, actor="kasse")
    debit = BankTransaction.objects.get(tenant=t, state="clearing", credit=False)
    with pytest.raises(Invalid, match="Nur Zahlungseingänge"):
        refund_clearing_item(t, debit.pk, actor="kasse")
    assert not Payable.objects.filter(tenant=t).exists()


def test_refund_api_roles_and_answers(seeded, api):
    t = seeded["musterstadt"]
    r = overpaid(t)
    k = kz.display(r.kassenzeichen)
    assert api("kaemmerei").post(f"/api/v1/receivables/{k}/refund", {}).status_code == 403
    resp = api("kasse").post(f"/api/v1/receivables/{k}/refund", {"note": "telefonisch"})
    assert resp.status_code == 201, resp.content
    body = resp.json()
    assert body["amount"] == "4.00" and body["creditor_iban"] == PAYER_IBAN and body["source"].startswith("refund:")
    again = api("kasse").post(f"/api/v1/receivables/{k}/refund", {})
    assert again.status_code == 409 and again["content-type"].startswith("application/problem+json")
    detail = api("kasse").get(f"/api/v1/receivables/{k}").json()
    assert detail["status"] == "paid" and detail["refunds"] == [
        {"payable": body["number"], "amount": "4.00", "status": "open", "iban": PAYER_IBAN}]
    import_bank_statement(t, statement([pay("9.00", "unklar", "R9")], statement_id="S-R9"), actor="kasse")
    tx = api("kasse").get("/api/v1/clearing").json()[0]
    assert api("kaemmerei").post(f"/api/v1/clearing/{tx['id']}/refund", {}).status_code == 403
    ok = api("kasse").post(f"/api/v1/clearing/{tx['id']}/refund", {})
    assert ok.status_code == 201 and ok.json()["amount"] == "9.00"
    assert api("kasse").get("/api/v1/clearing").json() == []
    assert api("kasse").post("/api/v1/clearing/999999/refund", {}).status_code == 404
    assert api("kasse").post("/api/v1/receivables/2026-999999-99/refund", {}).status_code == 404


def test_refund_in_the_web_ui(seeded):
    t = seeded["musterstadt"]
    r = overpaid(t)
    kasse = Client()
    assert kasse.login(username="kasse", password="rathaus-demo")
    page = kasse.get(f"/kasse/forderungen/{r.kassenzeichen}/").content.decode()
    assert "Überzahlung erstatten" in page and "4,00 €" in page
    assert "3792000 Verbindlichkeiten aus Überzahlungen" in page  # the statement's overpayment line is listed
    resp = kasse.post(f"/kasse/forderungen/{r.kassenzeichen}/erstatten/", {"vermerk": ""}, follow=True)
    body = resp.content.decode()
    assert "Erstattung von 4,00 € an Erika Mustermann" in body and "angeordnet" in body
    assert "Erstattungen" in body and "angeordnet, wartet auf den Zahlungslauf" in body
    assert "Erstattung anordnen" not in body  # no second refund offered
    import_bank_statement(t, statement([pay("16.00", "unklar", "W1")], statement_id="S-W1"), actor="kasse")
    tx = BankTransaction.objects.get(tenant=t, state="clearing")
    clearing = kasse.get("/kasse/klaerfaelle/").content.decode()
    assert f"16,00 € an {PAYER_IBAN} zurücküberweisen" in clearing
    resp = kasse.post(f"/kasse/klaerfaelle/{tx.pk}/zurueckueberweisen/", {"vermerk": ""}, follow=True)
    assert "Rückzahlung von 16,00 €" in resp.content.decode()
    tx.refresh_from_db()
    assert tx.state == "refunded"
    km = Client()
    assert km.login(username="kaemmerei", password="rathaus-demo")
    r2 = overpaid(t, "27.00")
    assert "Erstattung anordnen" not in km.get(f"/kasse/forderungen/{r2.kassenzeichen}/").content.decode()
    assert km.post(f"/kasse/forderungen/{r2.kassenzeichen}/erstatten/").status_code == 403
    assert Receivable.objects.get(pk=r2.pk).status == "overpaid"
    assert not PaymentRun.objects.exists()


def test_a_payable_without_iban_does_not_block_the_payment_run(seeded):
    """An invoice collected by direct debit names no account: its payable stays out of the credit transfer file
    (it made the whole file invalid before, and every other payment waited) and is listed on its own."""
    from rathaus.finance.payables import ExpenseLine, create_payable

    t = seeded["musterstadt"]
    lastschrift = create_payable(t, creditor_name="Stadtwerke", creditor_iban="", remittance="Strom 11/2026",
                                 lines=[ExpenseLine("5431000", Decimal("80.00"), "7431000", "02.2.01")],
                                 due_date=dt.date.today(), actor="t")
    normal = create_payable(t, creditor_name="Müller GmbH", creditor_iban=PAYER_IBAN, remittance="R-1",
                            lines=[ExpenseLine("5431000", Decimal("50.00"), "7431000", "02.2.01")],
                            due_date=dt.date.today(), actor="t")
    run = create_payment_run(t, execution_date=dt.date.today(), actor="kasse")
    assert list(run.payables.values_list("pk", flat=True)) == [normal.pk]
    lastschrift.refresh_from_db()
    assert lastschrift.status == "open" and lastschrift.payment_run_id is None
    kasse = Client()
    assert kasse.login(username="kasse", password="rathaus-demo")
    page = kasse.get("/kasse/zahlungen/").content.decode()
    assert "Ohne Bankverbindung (nicht im Zahlungslauf)" in page and lastschrift.number in page



def test_a_returned_transfer_is_explained_in_the_clearing_list_and_not_sent_back_again(seeded, api):
    """A transfer of ours that the payee's bank returns (AC04: account closed) comes back as an incoming
    payment with a return reason: the clearing list names the payable and the reason, and offers no repayment
    to the account that refused it."""
    from rathaus.finance.payables import ExpenseLine, create_payable

    t = seeded["musterstadt"]
    p = create_payable(t, creditor_name="Müller GmbH", creditor_iban=PAYER_IBAN, remittance="R-1",
                       lines=[ExpenseLine("5431000", Decimal("50.00"), "7431000", "02.2.01")],
                       due_date=dt.date.today(), actor="t")
    run = create_payment_run(t, execution_date=dt.date.today(), actor="kasse")
    import_bank_statement(t, demo_statement_for_run(run), actor="kasse")
    item = run.items.get()
    back = WriterEntry(amount=Decimal("50.00"), booking_date=dt.date.today(), remittance="RUECKUEBERWEISUNG R-1",
                       end_to_end_id=item.end_to_end_id, return_reason="AC04", debtor_name="Müller GmbH",
                       debtor_iban=PAYER_IBAN, account_servicer_ref="RET-1")
    res = import_bank_statement(t, statement([back], statement_id="S-RET"), actor="kasse")
    assert res.unmatched == 1
    tx = BankTransaction.objects.get(tenant=t, state="clearing")
    assert tx.return_reason == "AC04"
    kasse = Client()
    assert kasse.login(username="kasse", password="rathaus-demo")
    page = kasse.get("/kasse/klaerfaelle/").content.decode()
    assert f"Unsere Überweisung {p.number} an Müller GmbH (Zahlungslauf {run.number}) ist zurückgekommen." in page
    assert "Grund AC04: Konto erloschen" in page
    assert "zurücküberweisen" not in page and "Ohne Zuordnung erledigen" in page
    with pytest.raises(Conflict, match="zurückgekommene Überweisung"):
        refund_clearing_item(t, tx.pk, actor="kasse")
    assert api("kasse").post(f"/api/v1/clearing/{tx.pk}/refund", {}).status_code == 409
