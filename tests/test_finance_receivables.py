"""Receivables (Sollstellung), Kassenzeichen, payables and payment runs (pain.001)."""

import datetime as dt
from decimal import Decimal
from pathlib import Path

import pytest
from lxml import etree

from rathaus.core.errors import Conflict, Invalid
from rathaus.finance import kassenzeichen as kz
from rathaus.finance.models import Payable, PayableStatus, Receivable
from rathaus.finance.payables import ExpenseLine, create_payable, create_payment_run
from rathaus.finance.receivables import create_receivable, create_receivable_for_case, pay_to
from rathaus.ledger.models import JournalEntry, JournalLine

CORPORA = Path(__file__).resolve().parent / "corpora"   # vendored public test data (corpora/SOURCES.md)
GBIC_XSD = CORPORA / "schemas" / "iso20022" / "sephpa-gbic" / "pain.001.001.09_GBIC_4.xsd"


# --------------------------------------------------------------------------- Kassenzeichen

def test_kassenzeichen_check_digits_catch_typos():
    k = kz.make(2026, 123)
    assert len(k) == 12 and k.startswith("2026000123") and kz.is_valid(k)
    assert kz.display(k) == f"2026-000123-{k[10:]}"
    for i in range(12):  # every single wrong digit is caught
        for d in "0123456789":
            if d != k[i]:
                assert not kz.is_valid(k[:i] + d + k[i + 1:])
    for i in range(11):  # every swap of neighbouring different digits is caught
        if k[i] != k[i + 1]:
            assert not kz.is_valid(k[:i] + k[i + 1] + k[i] + k[i + 2:])


@pytest.mark.parametrize("text", [
    "Kassenzeichen {d}", "KZ {k} Hundesteuer", "kz:{k}", "{d_spaces}", "Hund Bello\n{k_broken}", "Gebühr {d}.",
    "Rechnung 4711 und {k}", "2{k}",
])
def test_kassenzeichen_found_in_remittance_text(text):
    k = kz.make(2026, 4711)
    t = text.format(k=k, d=kz.display(k), d_spaces=f"{k[:4]} {k[4:10]} {k[10:]}", k_broken=f"{k[:7]}\n{k[7:]}")
    assert k in kz.candidates_in(t)


def test_kassenzeichen_candidates_as_when_the_text_as_written_was_searched_too():
    """`candidates_in` searches only the text without separators; the earlier version also searched the text
    as written (after the stripped one). Same result, same order, on texts built to mix both."""
    import random
    import re

    def reference(*texts):
        found = []
        for text in texts:
            if not text:
                continue
            for variant in (re.sub(r"[\s\-./_]+", "", text), text):
                for m in re.finditer(r"\d{12,}", variant):
                    run = m.group()
                    for i in range(len(run) - 11):
                        w = run[i:i + 12]
                        if w not in found and w.isascii() and 2000 <= int(w[:4]) <= 2099 and int(w) % 97 == 1:
                            found.append(w)
        return found

    rnd = random.Random(7)
    kzs = [kz.make(rnd.randrange(2000, 2100), rnd.randrange(1, 999_999)) for _ in range(40)]
    pieces = ["", " ", "-", ".", "/", "_", "\n", "\t", "\u00a0", "x", "KZ", "٣", "7", "12", "2026", "/-"]
    texts = []
    for _ in range(3000):
        parts = []
        for _ in range(rnd.randrange(1, 6)):
            k = rnd.choice(kzs)
            cut = sorted(rnd.sample(range(1, 12), rnd.randrange(0, 3)))
            chunks = [k[a:b] for a, b in zip([0, *cut], [*cut, 12], strict=True)]
            parts.append(rnd.choice(pieces).join(chunks) if rnd.random() < 0.7 else k)
            parts.append("".join(rnd.choice(pieces) for _ in range(rnd.randrange(0, 4))))
        texts.append("".join(parts))
    hits = 0
    for i in range(0, len(texts), 3):
        group = texts[i:i + 3]
        assert kz.candidates_in(*group) == reference(*group), group
        hits += bool(reference(*group))
    assert hits > 500


def test_kassenzeichen_not_invented():
    k = kz.make(2026, 4711)
    wrong = k[:-1] + str((int(k[-1]) + 1) % 10)
    assert kz.candidates_in(f"KZ {wrong}") == []
    assert kz.candidates_in("Miete November 2026 Wohnung 12") == []


# --------------------------------------------------------------------------- Sollstellung

def _approve_case(seeded, service="gewerbeanmeldung"):
    import json

    from rathaus.cases.services import submit_application
    from rathaus.catalog.services import DEMO_SERVICES_DIR

    ex = json.loads((DEMO_SERVICES_DIR / service / "form.schema.json").read_text(encoding="utf-8"))["examples"][0]
    return submit_application(seeded["musterstadt"], service, ex).case


def test_receivable_for_case_posts_forderung_an_ertrag(seeded):
    case = _approve_case(seeded)
    r = create_receivable_for_case(case, actor="test")
    assert r is not None and kz.is_valid(r.kassenzeichen)
    assert r.status == "open" and r.open_amount == r.amount > 0 and r.paid_amount == 0
    assert r.product == "02.2.01" and r.revenue_account == "4311000" and r.receivable_account == "1611000"
    assert r.due_date == dt.date.today() + dt.timedelta(days=30)
    assert sum(ln.amount for ln in r.lines.all()) == r.amount
    entry = JournalEntry.objects.get(tenant=case.tenant, source_ref=f"receivable:{r.pk}")
    lines = {(ln.account.number, ln.debit, ln.credit, ln.product.number) for ln in entry.lines.select_related(
        "account", "product")}
    assert ("1611000", r.amount, Decimal("0"), "02.2.01") in lines
    assert ("4311000", Decimal("0"), r.amount, "02.2.01") in lines
    # idempotent per case: no second receivable, no second posting
    assert create_receivable_for_case(case, actor="test").pk == r.pk
    assert Receivable.objects.filter(case=case).count() == 1
    assert JournalEntry.objects.filter(tenant=case.tenant, source_ref__startswith="receivable:").count() == 1
    assert pay_to(case.tenant)["iban"] == "DE02120300000000202051"


def test_taxes_go_to_the_tax_receivables_account(seeded):
    case = _approve_case(seeded, "hundesteuer")
    r = create_receivable_for_case(case, actor="test")
    assert r.receivable_account == "1631000" and r.revenue_account == "4032000"


def test_kassenzeichen_are_unique_and_sequential_per_tenant(seeded):
    t = seeded["musterstadt"]
    from rathaus.finance.receivables import ReceivableLineSpec

    rs = [create_receivable(t, debtor_name="Erika Mustermann", purpose=f"Test {i}", due_date=dt.date.today(),
                            lines=[ReceivableLineSpec("Gebühr", Decimal("10.00"))], product="02.2.01",
                            revenue_account="4311000", cash_account="6311000", actor="t") for i in range(3)]
    seq = [int(r.kassenzeichen[4:10]) for r in rs]
    assert seq == [seq[0], seq[0] + 1, seq[0] + 2]
    other = create_receivable(seeded["beispielhausen"], debtor_name="X", purpose="T", due_date=dt.date.today(),
                              lines=[ReceivableLineSpec("Gebühr", Decimal("1.00"))], product="02.2.01",
                              revenue_account="4311000", cash_account="6311000", actor="t")
    assert other.tenant.slug == "beispielhausen"


def test_zero_or_negative_receivable_refused(seeded):
    from rathaus.finance.receivables import ReceivableLineSpec

    with pytest.raises(Invalid):
        create_receivable(seeded["musterstadt"], debtor_name="X", purpose="T", due_date=dt.date.today(),
                          lines=[ReceivableLineSpec("Gebühr", Decimal("0.00"))], product="02.2.01",
                          revenue_account="4311000", cash_account="6311000", actor="t")


# --------------------------------------------------------------------------- payables & pain.001

def _payable(tenant, amount="119.00", **kw):
    defaults = dict(creditor_name="Bürobedarf Müller GmbH", creditor_iban="DE89 3704 0044 0532 0130 00",
                    creditor_bic="COBADEFFXXX", remittance="Rechnung R-2026-17",
                    lines=[ExpenseLine(account="4311000", amount=Decimal(amount), cash_account="6311000",
                                       product="02.2.01")],
                    due_date=dt.date.today(), actor="kasse")
    defaults.update(kw)
    return create_payable(tenant, **defaults)


def test_payable_posts_and_payment_run_writes_valid_gbic_pain001(seeded):
    from rathaus.ledger.models import Account

    t = seeded["musterstadt"]
    Account.objects.get_or_create(tenant=t, number="5431000", defaults={"name": "Geschäftsaufwendungen",
                                                                         "kind": "result"})
    Account.objects.get_or_create(tenant=t, number="7431000", defaults={"name": "Auszahlungen Geschäftsaufw.",
                                                                         "kind": "cash"})
    lines = [ExpenseLine(account="5431000", amount=Decimal("119.00"), cash_account="7431000", product="02.2.01",
                         cost_centre="320", text="Papier")]
    p = _payable(t, lines=lines, discount_amount=Decimal("2.38"), discount_until=dt.date.today() + dt.timedelta(days=5),
                 source_type="test", source_id="inv-1")
    assert p.number.startswith("AO-") and p.status == PayableStatus.OPEN
    assert _payable(t, lines=lines, source_type="test", source_id="inv-1").pk == p.pk  # idempotent by source
    entry = JournalEntry.objects.get(tenant=t, source_ref=f"payable:{p.pk}")
    assert {(ln.account.number, ln.debit, ln.credit) for ln in entry.lines.select_related("account")} == {
        ("5431000", Decimal("119.00"), Decimal("0")), ("3520000", Decimal("0"), Decimal("119.00"))}
    run = create_payment_run(t, actor="kasse")
    assert run.count == 1 and run.total == Decimal("116.62")  # Skonto within its period
    p.refresh_from_db()
    assert p.status == PayableStatus.SCHEDULED and p.payment_run_id == run.pk
    xml = run.document.file.open("rb").read()
    assert "Bürobedarf Müller GmbH".encode() in xml  # umlauts kept
    schema = etree.XMLSchema(etree.parse(str(GBIC_XSD)))
    doc = etree.fromstring(xml)
    assert schema.validate(doc), schema.error_log
    ns = {"p": "urn:iso:std:iso:20022:tech:xsd:pain.001.001.09"}
    assert doc.findtext(".//p:CdtTrfTxInf/p:Amt/p:InstdAmt", namespaces=ns) == "116.62"
    assert doc.findtext(".//p:EndToEndId", namespaces=ns) == run.items.get().end_to_end_id
    with pytest.raises(Conflict):  # nothing left to pay
        create_payment_run(t, actor="kasse")


def test_payable_with_bad_iban_refused(seeded):
    with pytest.raises(Invalid):
        _payable(seeded["musterstadt"], creditor_iban="DE00123456780000000000")
    assert not Payable.objects.filter(creditor_iban="DE00123456780000000000").exists()


def test_payment_run_in_the_past_refused(seeded):
    _payable(seeded["musterstadt"])
    with pytest.raises(Invalid):
        create_payment_run(seeded["musterstadt"], execution_date=dt.date.today() - dt.timedelta(days=1), actor="k")


# --------------------------------------------------------------------------- API

def test_receivables_api(seeded, api):
    case = _approve_case(seeded)
    r = create_receivable_for_case(case, actor="test")
    kasse = api("kasse")
    body = kasse.get(f"/api/v1/receivables/{kz.display(r.kassenzeichen)}").json()
    assert body["kassenzeichen"] == r.kassenzeichen and body["amount"] == str(r.amount)
    assert body["status"] == "open" and body["case"] == {"id": case.pk, "reference": case.reference}
    assert body["pay_to"] == {"iban": "DE02120300000000202051", "bic": "BYLADEM1001", "name": case.tenant.name}
    assert [x["kassenzeichen"] for x in kasse.get("/api/v1/receivables", status="open", case=case.pk).json()] == [
        r.kassenzeichen]
    assert kasse.get("/api/v1/receivables", status="paid", case=case.pk).json() == []
    assert kasse.get("/api/v1/receivables", status="kaputt").status_code == 422
    assert kasse.get("/api/v1/receivables/2026-000000-00").status_code == 404
    case_body = api("sachbearbeitung").get(f"/api/v1/cases/{case.pk}").json()
    assert [x["kassenzeichen"] for x in case_body["receivables"]] == [r.kassenzeichen]
    assert JournalLine.objects.filter(entry__source_ref=f"receivable:{r.pk}").count() >= 2


def test_treasury_write_endpoints_need_treasury_role(seeded, api):
    clerk = api("sachbearbeitung")
    r = clerk.post("/api/v1/bank-statements", raw=b"<x/>", content_type="application/xml")
    assert r.status_code == 403
    assert clerk.post("/api/v1/payment-runs", {}).status_code == 403
    assert clerk.get("/api/v1/clearing").status_code == 403
    assert api("kaemmerei").get("/api/v1/clearing").status_code == 200


def test_payment_file_is_for_finance_roles_only(seeded, api):
    _payable(seeded["musterstadt"])
    run = api("kasse").post("/api/v1/payment-runs", {})
    assert run.status_code == 201, run.content
    url = run.json()["file"]
    assert api("kasse").get(url).status_code == 200
    assert api("kaemmerei").get(url).status_code == 200
    r = api("sachbearbeitung").get(url)
    assert r.status_code == 403 and r["Content-Type"] == "application/problem+json"
    assert api("bh-kasse").get(url).status_code == 404


def test_json_bodies_must_be_objects(seeded, api):
    _payable(seeded["musterstadt"])
    r = api("kasse").post("/api/v1/payment-runs", [1])
    assert r.status_code in (400, 422) and r["Content-Type"] == "application/problem+json"
    assert not Payable.objects.filter(status=PayableStatus.SCHEDULED).exists()  # nothing was paid
    ok = api("kasse").post("/api/v1/payment-runs", {})
    assert ok.status_code == 201 and ok.json()["format"] == "pain.001.001.09"
