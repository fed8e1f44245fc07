"""Bank statement import (camt.053): matching, partial/over-payments, clearing, duplicates, hostile XML,
all supported versions, the public corpora (tests/corpora), and (PostgreSQL) concurrent imports of the same payment."""

import datetime as dt
import io
import threading
from decimal import Decimal
from pathlib import Path

import pytest
from django.db import connection
from django.db.models import Sum

from rathaus.core.errors import Invalid
from rathaus.finance import kassenzeichen as kz
from rathaus.finance.bank.importer import import_bank_statement
from rathaus.finance.bank.writer import WriterEntry, WriterTransaction, write_camt053
from rathaus.finance.models import BankAccount, BankTransaction, Receivable
from rathaus.finance.receivables import ReceivableLineSpec, create_receivable
from rathaus.ledger.models import JournalLine

IBAN = "DE02120300000000202051"
CORPORA = Path(__file__).resolve().parent / "corpora"   # vendored public test data (corpora/SOURCES.md)
TODAY = dt.date.today()


def receivable(tenant, amount="26.00", debtor="Erika Mustermann"):
    return create_receivable(tenant, debtor_name=debtor, purpose="Gewerbeanmeldung GEW-2026-000001",
                             due_date=TODAY + dt.timedelta(days=30),
                             lines=[ReceivableLineSpec("Verwaltungsgebühr", Decimal(amount), "Tarifstelle 3.1.1")],
                             product="02.2.01", revenue_account="4311000", cash_account="6311000",
                             cost_centre="320", actor="test")


def statement(entries, *, version="camt.053.001.08", statement_id="2026-11-27-001", iban=IBAN) -> bytes:
    out = io.BytesIO()
    write_camt053(out, version=version, account_iban=iban, account_owner="Stadt Musterstadt",
                  servicer_bic="BYLADEM1001", statement_id=statement_id, message_id=f"MSG-{statement_id}",
                  created_at=dt.datetime(2026, 11, 28, 6, 0, tzinfo=dt.UTC),
                  opening_balance=Decimal("1000.00"), entries=entries)
    return out.getvalue()


def pay(amount, remittance, ref, **kw):
    return WriterEntry(amount=Decimal(amount), booking_date=TODAY, remittance=remittance, account_servicer_ref=ref,
                       debtor_name=kw.pop("debtor_name", "Erika Mustermann"), debtor_iban="DE89370400440532013000",
                       **kw)


def balance(tenant, account) -> Decimal:
    agg = JournalLine.objects.filter(tenant=tenant, account__number=account).aggregate(d=Sum("debit"), c=Sum("credit"))
    return (agg["d"] or 0) - (agg["c"] or 0)


def cash(tenant, account) -> Decimal:
    agg = JournalLine.objects.filter(tenant=tenant, cash_account__number=account).aggregate(
        d=Sum("debit"), c=Sum("credit"))
    return (agg["c"] or 0) - (agg["d"] or 0)


def test_exact_payment_settles_and_books_bank_an_forderung(seeded):
    t = seeded["musterstadt"]
    r = receivable(t)
    res = import_bank_statement(t, statement([pay("26.00", f"Kassenzeichen {kz.display(r.kassenzeichen)}", "A1")]),
                                actor="kasse")
    assert (res.entries, res.matched, res.unmatched, res.duplicates) == (1, 1, 0, 0)
    r.refresh_from_db()
    assert r.status == "paid" and r.open_amount == 0 and r.paid_amount == Decimal("26.00")
    assert balance(t, "1611000") == 0  # Forderung settled
    assert balance(t, "1810000") == Decimal("26.00")  # money in the bank
    assert balance(t, "4311000") == Decimal("-26.00")  # Ertrag (credit)
    assert cash(t, "6311000") == Decimal("26.00")  # Einzahlung in the Finanzrechnung


@pytest.mark.parametrize("text", [
    "KZ {k}", "{d}", "Gebühr {k1}\n{k2} Danke", "Kassenzeichen: {spaced}", "RE {d} Gewerbe", "{d}/Mustermann",
])
def test_kassenzeichen_found_however_written(seeded, text):
    t = seeded["musterstadt"]
    r = receivable(t)
    k = r.kassenzeichen
    remittance = text.format(k=k, d=kz.display(k), k1=k[:6], k2=k[6:], spaced=" ".join([k[:4], k[4:8], k[8:]]))
    res = import_bank_statement(t, statement([pay("26.00", remittance, "T1")]), actor="kasse")
    assert res.matched == 1, remittance
    r.refresh_from_db()
    assert r.status == "paid"


def test_partial_then_rest(seeded):
    t = seeded["musterstadt"]
    r = receivable(t, "100.00")
    import_bank_statement(t, statement([pay("40.00", f"KZ {r.kassenzeichen}", "P1")], statement_id="S1"),
                          actor="kasse")
    r.refresh_from_db()
    assert r.status == "partially_paid" and r.open_amount == Decimal("60.00")
    import_bank_statement(t, statement([pay("60.00", f"KZ {r.kassenzeichen}", "P2")], statement_id="S2"),
                          actor="kasse")
    r.refresh_from_db()
    assert r.status == "paid" and r.open_amount == 0
    assert balance(t, "1611000") == 0


def test_overpayment_is_a_liability(seeded):
    t = seeded["musterstadt"]
    r = receivable(t, "26.00")
    import_bank_statement(t, statement([pay("30.00", f"KZ {r.kassenzeichen}", "O1")]), actor="kasse")
    r.refresh_from_db()
    assert r.status == "overpaid" and r.open_amount == Decimal("-4.00")
    assert balance(t, "1611000") == 0
    assert balance(t, "3792000") == Decimal("-4.00")  # Verbindlichkeit aus Überzahlung
    assert cash(t, "6311000") == Decimal("26.00") and cash(t, "6991000") == Decimal("4.00")


def test_unmatched_goes_to_clearing_and_can_be_assigned(seeded, api):
    t = seeded["musterstadt"]
    r = receivable(t)
    res = import_bank_statement(t, statement([pay("26.00", "Gewerbeanmeldung Mustermann", "U1")]), actor="kasse")
    assert (res.matched, res.unmatched) == (0, 1)
    assert balance(t, "3791000") == Decimal("-26.00")  # Verwahrgeld
    items = api("kasse").get("/api/v1/clearing").json()
    assert len(items) == 1 and items[0]["remittance"] == "Gewerbeanmeldung Mustermann"
    # a mistyped Kassenzeichen is refused by its check digits
    bad = r.kassenzeichen[:-1] + str((int(r.kassenzeichen[-1]) + 1) % 10)
    assert api("kasse").post(f"/api/v1/clearing/{items[0]['id']}/assign", {"kassenzeichen": bad}).status_code == 422
    ok = api("kasse").post(f"/api/v1/clearing/{items[0]['id']}/assign", {"kassenzeichen": kz.display(r.kassenzeichen)})
    assert ok.status_code == 200, ok.content
    r.refresh_from_db()
    assert r.status == "paid"
    assert balance(t, "3791000") == 0 and balance(t, "1611000") == 0
    assert cash(t, "6311000") == Decimal("26.00")
    assert cash(t, "6991000") == Decimal("26.00") and cash(t, "7991000") == Decimal("-26.00")
    assert api("kasse").get("/api/v1/clearing").json() == []
    # assigning again is a conflict
    assert api("kasse").post(f"/api/v1/clearing/{items[0]['id']}/assign",
                             {"kassenzeichen": r.kassenzeichen}).status_code == 409


def test_resolve_needs_a_note(seeded, api):
    t = seeded["musterstadt"]
    import_bank_statement(t, statement([pay("5.00", "Irrläufer", "R1")]), actor="kasse")
    tx = BankTransaction.objects.get(tenant=t)
    assert api("kasse").post(f"/api/v1/clearing/{tx.pk}/resolve", {"note": ""}).status_code == 422
    assert api("kasse").post(f"/api/v1/clearing/{tx.pk}/resolve", {"note": "zurücküberwiesen"}).status_code == 200
    tx.refresh_from_db()
    assert tx.state == "ignored" and tx.resolved_by == "kasse"


def test_same_statement_or_entry_twice_books_nothing_twice(seeded, api):
    t = seeded["musterstadt"]
    r = receivable(t, "100.00")
    entries = [pay("40.00", f"KZ {r.kassenzeichen}", "D1"), pay("7.00", "ohne KZ", "D2")]
    first = import_bank_statement(t, statement(entries), actor="kasse")
    assert (first.entries, first.matched, first.unmatched, first.duplicates) == (2, 1, 1, 0)
    lines_before = JournalLine.objects.filter(tenant=t).count()
    # the same file again, through the API
    body = statement(entries)
    again = api("kasse").post("/api/v1/bank-statements", raw=body, content_type="application/xml")
    assert again.status_code == 201, again.content
    assert again.json() | {"statements": []} == {"entries": 2, "matched": 0, "unmatched": 0, "duplicates": 2,
                                                 "skipped": 0, "statements": []}
    # the same entry inside another (monthly) statement with a new one
    monthly = statement([entries[0], pay("60.00", f"KZ {r.kassenzeichen}", "D3")], statement_id="2026-11")
    third = import_bank_statement(t, monthly, actor="kasse")
    assert (third.matched, third.duplicates) == (1, 1)
    r.refresh_from_db()
    assert r.paid_amount == Decimal("100.00") and r.status == "paid"
    assert JournalLine.objects.filter(tenant=t).count() == lines_before + 2


def test_batch_booking_pending_and_debits(seeded):
    t = seeded["musterstadt"]
    r1, r2 = receivable(t, "10.00"), receivable(t, "20.00")
    batch = WriterEntry(amount=Decimal("45.00"), booking_date=TODAY, account_servicer_ref="B1", transactions=[
        WriterTransaction(amount=Decimal("10.00"), remittance=f"KZ {r1.kassenzeichen}", debtor_name="A"),
        WriterTransaction(amount=Decimal("20.00"), remittance=f"KZ {r2.kassenzeichen}", debtor_name="B"),
        WriterTransaction(amount=Decimal("15.00"), remittance="Spende Tierheim", debtor_name="C"),
    ])
    pending = pay("99.00", "vorgemerkt", "PD1", status="PDNG")
    fee = WriterEntry(amount=Decimal("3.50"), booking_date=TODAY, credit=False, remittance="Kontoführung",
                      account_servicer_ref="F1", creditor_name="Bank")
    res = import_bank_statement(t, statement([batch, pending, fee]), actor="kasse")
    assert (res.entries, res.matched, res.unmatched, res.skipped) == (4, 2, 2, 1)
    r1.refresh_from_db()
    r2.refresh_from_db()
    assert r1.status == r2.status == "paid"
    assert balance(t, "1810000") == Decimal("45.00") - Decimal("3.50")
    assert balance(t, "3791000") == Decimal("-15.00") + Decimal("3.50")


@pytest.mark.parametrize("version", [f"camt.053.001.0{n}" for n in range(2, 9)])
def test_every_supported_version(seeded, version):
    t = seeded["musterstadt"]
    r = receivable(t)
    res = import_bank_statement(t, statement([pay("26.00", f"KZ {r.kassenzeichen}", "V1")], version=version),
                                actor="kasse")
    assert res.matched == 1, version


def test_statement_of_another_account_refused(seeded):
    with pytest.raises(Invalid) as e:
        import_bank_statement(seeded["musterstadt"], statement([pay("1.00", "x", "X1")], iban="DE89370400440532013000"),
                              actor="kasse")
    assert "DE89370400440532013000" in e.value.detail
    assert not BankTransaction.objects.exists()


HOSTILE = {
    "xxe": b'<?xml version="1.0"?><!DOCTYPE d [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
           b'<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.08">&x;</Document>',
    "billion_laughs": b'<?xml version="1.0"?><!DOCTYPE l [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;">'
                      b'<!ENTITY c "&b;&b;&b;&b;&b;&b;&b;">]><Document>&c;</Document>',
    "not_xml": b"Buchungstag;Betrag\n27.11.2026;26,00\n",
    "truncated": None,
    "camt052": b'<?xml version="1.0"?><Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.052.001.08">'
               b'<BkToCstmrAcctRpt/></Document>',
    "empty_root": b'<?xml version="1.0"?><Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.08"/>',
}


@pytest.mark.parametrize("name", list(HOSTILE))
def test_malformed_and_hostile_xml_is_4xx_and_books_nothing(seeded, api, name):
    t = seeded["musterstadt"]
    r = receivable(t)
    body = HOSTILE[name]
    if body is None:  # a real statement cut off in the middle: the first entries must not be booked
        full = statement([pay("26.00", f"KZ {r.kassenzeichen}", f"H{i}") for i in range(50)])
        body = full[: len(full) * 2 // 3]
    resp = api("kasse").post("/api/v1/bank-statements", raw=body, content_type="application/xml")
    assert 400 <= resp.status_code < 500, (name, resp.status_code, resp.content[:300])
    assert resp["Content-Type"] == "application/problem+json"
    assert not BankTransaction.objects.exists()
    r.refresh_from_db()
    assert r.status == "open"


def test_wrong_content_type_and_size(seeded, api, settings):
    kasse = api("kasse")
    assert kasse.post("/api/v1/bank-statements", raw=b"{}", content_type="application/json").status_code == 415
    settings.RATHAUS_MAX_STATEMENT_BYTES = 1000
    big = statement([pay("1.00", "x" * 100, f"Z{i}") for i in range(30)])
    assert kasse.post("/api/v1/bank-statements", raw=big, content_type="application/xml").status_code == 413


def test_import_camt_command(seeded, tmp_path):
    from django.core.management import call_command

    t = seeded["musterstadt"]
    r = receivable(t)
    f = tmp_path / "auszug.xml"
    f.write_bytes(statement([pay("26.00", f"KZ {r.kassenzeichen}", "C1")]))
    out = io.StringIO()
    call_command("import_camt", str(f), "--tenant", "musterstadt", stdout=out)
    assert "Umsätze: 1, zugeordnet: 1," in out.getvalue()
    r.refresh_from_db()
    assert r.status == "paid"


def _corpus_camt053():
    base = CORPORA / "camt"
    return sorted(p for p in base.rglob("*.xml") if "camt053" in p.name or "camt53" in p.name)


@pytest.mark.parametrize("path", _corpus_camt053(), ids=lambda p: p.name)
def test_corpus_statements_import_or_are_refused_cleanly(seeded, path):
    """Every corpus camt.053 file: valid ones import completely (after registering their accounts),
    the deliberately broken one is refused with a 4xx error; nothing ever raises anything else."""
    from rathaus.finance.bank.camt import parse_camt053, read_statement_infos
    from rathaus.finance.bank.camt_model import CamtError

    t = seeded["musterstadt"]
    content = path.read_bytes()
    try:
        infos = read_statement_infos(content)
        expected = sum(1 for e in parse_camt053(content) if e.status == "BOOK" for tx in e.transactions
                       if tx.amount > 0)
    except CamtError:
        with pytest.raises(Invalid):
            import_bank_statement(t, content, actor="kasse")
        return
    for info in infos:
        iban = (info.account_iban or info.account_other).replace(" ", "")
        BankAccount.objects.get_or_create(tenant=t, iban=iban.upper(), defaults={"name": "Korpus",
                                                                                 "ledger_account": "1810000"})
    res = import_bank_statement(t, content, actor="kasse")
    assert res.entries == expected
    assert res.matched + res.unmatched + res.duplicates == res.entries
    assert JournalLine.objects.filter(tenant=t).aggregate(d=Sum("debit"))["d"] == \
        JournalLine.objects.filter(tenant=t).aggregate(c=Sum("credit"))["c"]


@pytest.mark.skipif(connection.vendor != "postgresql", reason="needs PostgreSQL row locks")
@pytest.mark.django_db(transaction=True)
def test_concurrent_imports_of_the_same_payment_book_it_once(seeded_tx):
    t = seeded_tx["musterstadt"]
    r = receivable(t)
    same = pay("26.00", f"KZ {r.kassenzeichen}", "SAME-REF")
    files = [statement([same], statement_id="daily"), statement([same, pay("1.00", "x", "OTHER")], statement_id="m")]
    errors = []

    def run(body):
        try:
            import_bank_statement(t, body, actor="kasse")
        except Exception as e:  # noqa: BLE001
            errors.append(e)
        finally:
            connection.close()  # this thread's own connection

    threads = [threading.Thread(target=run, args=(f,)) for f in files * 3]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert not errors, errors
    r.refresh_from_db()
    assert r.paid_amount == Decimal("26.00") and r.status == "paid"
    assert BankTransaction.objects.filter(tenant=t, amount=Decimal("26.00")).count() == 1
    assert Receivable.objects.get(pk=r.pk).allocations.count() == 1


def test_two_identical_payments_without_bank_reference_are_two(seeded):
    """Same payer, amount, text and day, no AcctSvcrRef: two real payments, booked twice; the same
    statement delivered again is still recognised."""
    t = seeded["musterstadt"]
    r = receivable(t, "52.00")
    twin = pay("26.00", f"KZ {r.kassenzeichen}", "")
    body = statement([twin, twin])
    first = import_bank_statement(t, body, actor="kasse")
    assert (first.entries, first.matched, first.duplicates) == (2, 2, 0)
    r.refresh_from_db()
    assert r.status == "paid"
    again = import_bank_statement(t, body, actor="kasse")
    assert (again.entries, again.matched, again.duplicates) == (2, 0, 2)


def test_batch_without_amounts_per_transaction_goes_to_clearing(seeded):
    t = seeded["musterstadt"]
    import re

    body = statement([WriterEntry(amount=Decimal("30.00"), booking_date=TODAY, account_servicer_ref="NB1",
                                  transactions=[WriterTransaction(amount=Decimal("10.00"), remittance="Teil A"),
                                                WriterTransaction(amount=Decimal("20.00"), remittance="Teil B")])])
    # banks may leave the amounts out of the details of a batch booking
    body = re.sub(rb"(<TxDtls>.*?)</TxDtls>", lambda m: re.sub(rb"<AmtDtls>.*?</AmtDtls>|<Amt Ccy=\"EUR\">[^<]*</Amt>",
                                                                b"", m.group(1), flags=re.S) + b"</TxDtls>",
                  body, flags=re.S)
    assert b"10.00" not in body
    res = import_bank_statement(t, body, actor="kasse")
    assert (res.entries, res.unmatched) == (1, 1)
    tx = BankTransaction.objects.get(tenant=t)
    assert tx.amount == Decimal("30.00") and "Teil A" in tx.remittance and "Teil B" in tx.remittance


def test_cancel_only_unpaid_and_reversed_in_the_ledger(seeded, api):
    t = seeded["musterstadt"]
    r = receivable(t)
    kasse = api("kasse")
    assert kasse.post(f"/api/v1/receivables/{r.kassenzeichen}/cancel", {"reason": ""}).status_code == 422
    assert api("sachbearbeitung").post(f"/api/v1/receivables/{r.kassenzeichen}/cancel",
                                       {"reason": "x"}).status_code == 403
    ok = kasse.post(f"/api/v1/receivables/{r.kassenzeichen}/cancel", {"reason": "Bescheid aufgehoben"})
    assert ok.status_code == 200 and ok.json()["status"] == "cancelled"
    assert balance(t, "1611000") == 0 and balance(t, "4311000") == 0  # Sollstellung reversed
    assert kasse.post(f"/api/v1/receivables/{r.kassenzeichen}/cancel", {"reason": "nochmal"}).status_code == 409
    # a payment for a cancelled receivable is not allocated to it: clearing
    res = import_bank_statement(t, statement([pay("26.00", f"KZ {r.kassenzeichen}", "CX1")]), actor="kasse")
    assert (res.matched, res.unmatched) == (0, 1)
    paid = receivable(t)
    import_bank_statement(t, statement([pay("26.00", f"KZ {paid.kassenzeichen}", "CX2")], statement_id="S2"),
                          actor="kasse")
    assert kasse.post(f"/api/v1/receivables/{paid.kassenzeichen}/cancel", {"reason": "x"}).status_code == 409


def test_gc_freeze_during_import_is_undone_and_respects_an_existing_freeze():
    import gc

    from rathaus.finance.bank.importer import _old_objects_frozen

    assert gc.get_freeze_count() == 0
    threshold = gc.get_threshold()
    with _old_objects_frozen():
        assert gc.get_freeze_count() > 0
        assert gc.get_threshold()[0] >= 50_000
        survivor = [object()]  # made during the import: collectable as usual
        assert gc.is_tracked(survivor)
        with _old_objects_frozen():  # a second import meanwhile changes nothing
            assert gc.get_threshold()[0] >= 50_000
        assert gc.get_freeze_count() > 0
    assert gc.get_freeze_count() == 0
    assert gc.get_threshold() == threshold
    gc.freeze()  # e.g. a pre-forking server froze its objects: the import leaves them frozen
    try:
        before = gc.get_freeze_count()
        with _old_objects_frozen():
            pass
        assert gc.get_freeze_count() == before
    finally:
        gc.unfreeze()
