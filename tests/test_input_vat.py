"""Vorsteuer of a Betrieb gewerblicher Art (§ 2b UStG): inbound XRechnungen booked to a BgA product or cost
centre are posted net with the VAT as Vorsteuer (reverse charge: Vorsteuer and Umsatzsteuer), Skonto
corrects the Vorsteuer (§ 17 UStG); the hoheitlicher Bereich stays gross. Real XML from the demo builder
(and the official XRechnung test suite when present), real database (SQLite and PostgreSQL)."""

import datetime as dt
import io
from decimal import Decimal
from pathlib import Path

import pytest
from django.db import DatabaseError, connection, transaction
from django.utils import timezone

from rathaus.demo.einvoices import DemoLine, demo_cii_invoice_for, demo_invoice_for
from rathaus.einvoice.models import EInvoice
from rathaus.einvoice.services import input_vat_summary, receive_invoice
from rathaus.finance import vat
from rathaus.finance.bank.importer import import_bank_statement
from rathaus.finance.bank.writer import WriterEntry, write_camt053
from rathaus.finance.models import PayableLine
from rathaus.finance.payables import ExpenseLine, apply_input_vat, create_payable, create_payment_run
from rathaus.ledger import reports
from rathaus.ledger.chart import load_chart
from rathaus.ledger.models import Account, BudgetLine, CostCentre, JournalEntry, JournalLine, Product
from rathaus.ledger.services import input_vat_deduction

D = Decimal
CORPORA = Path(__file__).resolve().parent / "corpora"   # vendored public test data (corpora/SOURCES.md)
HOHEITLICH = {"produkt": "02.2.01", "konto": "5431000", "finanzkonto": "7431000", "kostenstelle": "320"}
BGA = {"produkt": "08.1.02", "konto": "5431000", "finanzkonto": "7431000", "kostenstelle": "320"}
VORSTEUER, UST, VERBINDLICHKEIT, AUFWAND, BANK = "1782000", "3711000", "3520000", "5431000", "1810000"
BUYER_VAT_ID = "DE811111111"


@pytest.fixture
def ms(seeded):
    return seeded["musterstadt"]


# --------------------------------------------------------------------------- helpers

def receive(t, number, lines, syntax="ubl", **kw) -> EInvoice:
    build = demo_invoice_for if syntax == "ubl" else demo_cii_invoice_for
    inv = receive_invoice(t, build(t, number, lines=lines, **kw), actor="kasse", channel="api")
    assert inv.status == "in_review", (inv.status, inv.errors)
    return inv


def approve(api, inv, booking):
    for user, name in (("kasse", "formale_pruefung"), ("sachbearbeitung", "sachlich_richtig"),
                       ("leitung", "rechnerisch_richtig"), ("stellvertretung", "anordnung")):
        client = api(user)
        task = [x for x in client.get("/api/v1/tasks", case=inv.case_id).json() if x["name"] == name][0]
        data = {"decision": "approve"} if name == "formale_pruefung" else {"decision": "approve", "buchung": booking}
        r = client.post(f"/api/v1/tasks/{task['id']}/complete", {"data": data})
        assert r.status_code == 200, r.content
    inv.refresh_from_db()
    assert inv.status == "approved" and inv.payable_id
    return inv.payable


def entry_of(payable) -> JournalEntry:
    return JournalEntry.objects.get(tenant=payable.tenant, source_ref=f"payable:{payable.pk}")


def sums(entry) -> dict[str, tuple[Decimal, Decimal]]:
    """{account: (debit, credit)} of an entry; asserts it is balanced."""
    out: dict[str, tuple[Decimal, Decimal]] = {}
    for ln in entry.lines.select_related("account"):
        d, c = out.get(ln.account.number, (D("0"), D("0")))
        out[ln.account.number] = (d + ln.debit, c + ln.credit)
    assert sum(d for d, _ in out.values()) == sum(c for _, c in out.values()) == entry.total
    return out


def balance(t, account: str) -> Decimal:
    """debit − credit of an account over the current year's trial balance."""
    tb = reports.trial_balance(t, timezone.localdate().year)
    assert tb["balanced"]
    return next((r["balance"] for r in tb["rows"] if r["account"] == account), D("0"))


def pay(t, payable, execution_date=None):
    """Payment run (with Skonto when in its period), then the debit on the bank statement."""
    run = create_payment_run(t, execution_date=execution_date, actor="kasse")
    item = run.items.get(payable=payable)
    buf = io.BytesIO()
    write_camt053(buf, account_iban="DE02120300000000202051", statement_id=f"S-{payable.pk}",
                  message_id=f"M-{payable.pk}", created_at=dt.datetime.now(dt.UTC), opening_balance=D("100000.00"),
                  entries=[WriterEntry(amount=item.amount, booking_date=dt.date.today(), credit=False,
                                       end_to_end_id=item.end_to_end_id, creditor_name=payable.creditor_name,
                                       creditor_iban=payable.creditor_iban, remittance=payable.remittance,
                                       account_servicer_ref=f"PAY-{payable.pk}")])
    before = set(JournalEntry.objects.filter(tenant=t).values_list("pk", flat=True))
    res = import_bank_statement(t, buf.getvalue(), actor="kasse")
    assert (res.matched, res.unmatched) == (1, 0)
    payable.refresh_from_db()
    assert payable.status == "paid"
    # the statement's (collective) entry: here it holds this one payment only
    return item, JournalEntry.objects.filter(tenant=t).exclude(pk__in=before).get()


# --------------------------------------------------------------------------- master data and migrations

def test_chart_has_vorsteuer_and_umsatzsteuer_accounts_and_a_bga_product(ms):
    vorsteuer = Account.objects.get(tenant=ms, role=Account.Role.INPUT_VAT)
    assert (vorsteuer.number, vorsteuer.kind) == (VORSTEUER, Account.Kind.BALANCE)
    assert vorsteuer.number[:3] == "178"  # sonstige Vermögensgegenstände
    assert Account.objects.get(tenant=ms, role=Account.Role.OUTPUT_VAT).number == UST
    assert Product.objects.get(tenant=ms, number="08.1.02").input_vat_deductible
    assert not Product.objects.get(tenant=ms, number="02.2.01").input_vat_deductible
    assert not CostCentre.objects.filter(tenant=ms, input_vat_deductible=True).exists()


def test_chart_loader_sets_the_flag_only_where_the_file_gives_it(ms, tmp_path):
    Product.objects.filter(tenant=ms, number="12.1.01").update(input_vat_deductible=True)  # set by hand
    load_chart(ms)  # the default file says nothing about 12.1.01
    assert Product.objects.get(tenant=ms, number="12.1.01").input_vat_deductible
    f = tmp_path / "chart.yaml"
    f.write_text('products:\n  - {number: "12.1.01", name: "Gemeindestraßen", input_vat_deductible: false}\n'
                 '  - {number: "12.1.09", name: "Parkhaus am Markt (BgA)", input_vat_deductible: true}\n'
                 'cost_centres:\n  - {code: "810", name: "Freibad", input_vat_deductible: true}\n', encoding="utf-8")
    load_chart(ms, f)
    flags = dict(Product.objects.filter(tenant=ms, number__startswith="12.1.0").values_list("number",
                                                                                          "input_vat_deductible"))
    assert flags == {"12.1.01": False, "12.1.02": False, "12.1.09": True}
    assert CostCentre.objects.get(tenant=ms, code="810").input_vat_deductible


def test_product_decides_first_then_the_cost_centre(ms):
    CostCentre.objects.create(tenant=ms, code="810", name="Freibad", input_vat_deductible=True)
    assert input_vat_deduction(ms, [("08.1.02", "320"), ("02.2.01", "810"), ("02.2.01", "320"), ("", "")]) == [
        "Produkt 08.1.02 Hallenbad (Betrieb gewerblicher Art)", "Kostenstelle 810 Freibad", "", ""]


def test_journal_immutability_triggers_survive_the_migrations(ms):
    """0007 (ledger) and 0005 (finance) rebuild tables on SQLite; the journal's triggers must stay."""
    tables = ("ledger_journalentry", "ledger_journalline")
    with connection.cursor() as cur:
        if connection.vendor == "sqlite":
            cur.execute("SELECT tbl_name, name FROM sqlite_master WHERE type = 'trigger' AND tbl_name IN (%s, %s)",
                        tables)
            assert sorted(cur.fetchall()) == sorted((t, f"{t}_no_{op}") for t in tables for op in ("delete", "update"))
        else:
            cur.execute("SELECT c.relname, t.tgname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid "
                        "WHERE NOT t.tgisinternal AND c.relname IN (%s, %s) AND t.tgname LIKE '%%immutable'", tables)
            assert sorted(cur.fetchall()) == sorted((t, f"{t}_immutable") for t in tables)
    p = create_payable(ms, creditor_name="Bäderbedarf GmbH", creditor_iban="DE89370400440532013000", remittance="R",
                       lines=[ExpenseLine(account=AUFWAND, amount=D("119.00"), cash_account="7431000",
                                          product="08.1.02", input_vat=D("19.00"), input_vat_area="Produkt 08.1.02")],
                       due_date=dt.date.today(), actor="test")
    line = entry_of(p).lines.get(account__number=VORSTEUER)
    with pytest.raises(DatabaseError), transaction.atomic():
        JournalLine.objects.filter(pk=line.pk).update(debit=D("1.00"))


# --------------------------------------------------------------------------- the tax rules (no database)

def test_categories_decide_what_is_vorsteuer():
    items = [vat.VatItem("S", D("100.00"), D("19.00"), D("19")), vat.VatItem("S", D("50.00"), D("3.50"), D("7")),
             vat.VatItem("AA", D("10.00"), D("0.70"), D("7")), vat.VatItem("Z", D("200.00")),
             vat.VatItem("E", D("30.00")), vat.VatItem("G", D("40.00")), vat.VatItem("O", D("5.00")),
             vat.VatItem("L", D("20.00"), D("1.40"), D("7")), vat.VatItem("AE", D("1000.00")),
             vat.VatItem("K", D("33.33"))]
    # invoiced: S + AA; owed by the recipient: 19 % of AE and K (6.3327 -> 6.33); Z/E/G/O and IGIC (L): none
    assert vat.invoice_input_vat(items, D("19")) == (D("23.20"), D("196.33"))
    assert vat.invoice_input_vat(items, D("7")) == (D("23.20"), D("72.33"))


def test_shares_are_cent_exact_and_only_deductible_lines_keep_theirs():
    amounts = [D("33.33"), D("33.33"), D("33.34")]
    assert vat.distribute(D("15.97"), amounts) == [D("5.32"), D("5.32"), D("5.33")]
    assert sum(vat.distribute(D("0.01"), amounts)) == D("0.01")
    shares = vat.split_input_vat(amounts, [True, False, True], [vat.VatItem("S", D("84.03"), D("15.97"))])
    assert shares == [(D("5.32"), D("0.00")), (D("0.00"), D("0.00")), (D("5.33"), D("0.00"))]
    assert all(isinstance(x, Decimal) for pair in shares for x in pair)


def test_skonto_correction_follows_the_tax_base():
    # 2 % Skonto on 119.00 gross (19 %): the Entgelt falls by 2.00, the Vorsteuer by 0.38
    assert vat.skonto_correction(D("2.38"), D("119.00"), D("19.00"), D("0.00")) == (D("0.38"), D("0.00"))
    # reverse charge: 2 % on 1000.00 net: the self-assessed 190.00 falls by 3.80
    assert vat.skonto_correction(D("20.00"), D("1000.00"), D("0.00"), D("190.00")) == (D("0.00"), D("3.80"))
    assert vat.skonto_correction(D("0.00"), D("119.00"), D("19.00"), D("0.00")) == (D("0.00"), D("0.00"))


def test_hoheitlich_kontierung_does_not_read_the_invoice(ms):
    def unreadable():
        raise AssertionError("the VAT breakdown is only needed for a Betrieb gewerblicher Art")

    lines = apply_input_vat(ms, [ExpenseLine(account=AUFWAND, amount=D("119.00"), cash_account="7431000",
                                             product="02.2.01", cost_centre="320")], unreadable)
    assert (lines[0].input_vat, lines[0].reverse_charge_vat, lines[0].expense) == (D("0"), D("0"), D("119.00"))


# --------------------------------------------------------------------------- Anordnung from a real XRechnung

def test_hoheitlich_invoice_stays_gross(ms, api):
    inv = receive(ms, "HO-1", [DemoLine("Kopierpapier", D("4"), D("21.50")), DemoLine("Ordner", D("20"), D("1.90"))])
    p = approve(api, inv, HOHEITLICH)
    assert p.amount == D("147.56")
    assert sums(entry_of(p)) == {AUFWAND: (D("147.56"), D("0")), VERBINDLICHKEIT: (D("0"), D("147.56"))}
    line = p.lines.get()
    assert (line.input_vat, line.reverse_charge_vat, line.input_vat_area) == (D("0"), D("0"), "")
    inv.refresh_from_db()
    assert input_vat_summary(inv) == "nein – hoheitlicher Bereich, Aufwand brutto 147,56 €"


def test_bga_standard_rate_books_net_expense_and_vorsteuer(ms, api, client):
    inv = receive(ms, "BGA-1", [DemoLine("Chlor für das Hallenbad", D("4"), D("21.50")),
                                DemoLine("Filterkartuschen", D("20"), D("1.90"))])
    assert client.login(username="stellvertretung", password="rathaus-demo")
    # before the Anordnung the case page tells what the Kontierung will do
    page = client.get(f"/sachbearbeitung/vorgaenge/{inv.case_id}/").content.decode()
    assert "Vorsteuerabzug" in page and "voraussichtlich nein – hoheitlicher Bereich" in page  # the proposal
    p = approve(api, inv, BGA)
    assert p.amount == D("147.56")  # the supplier is paid gross
    assert sums(entry_of(p)) == {AUFWAND: (D("124.00"), D("0")), VORSTEUER: (D("23.56"), D("0")),
                                 VERBINDLICHKEIT: (D("0"), D("147.56"))}
    expense = entry_of(p).lines.get(account__number=AUFWAND)
    assert (expense.product.number, expense.cost_centre.code) == ("08.1.02", "320")
    line = p.lines.get()
    assert (line.amount, line.input_vat, line.expense) == (D("147.56"), D("23.56"), D("124.00"))
    assert line.input_vat_area == "Produkt 08.1.02 Hallenbad (Betrieb gewerblicher Art)"
    assert balance(ms, VORSTEUER) == D("23.56")  # the claim against the tax office
    text = ("ja – Betrieb gewerblicher Art (Produkt 08.1.02 Hallenbad (Betrieb gewerblicher Art)): "
            "Vorsteuer 23,56 €, Aufwand netto 124,00 €")
    page = client.get(f"/sachbearbeitung/vorgaenge/{inv.case_id}/").content.decode()
    assert text in page  # case header and the booking event
    assert f"Vorsteuerabzug: {text}." in page
    client.logout()
    assert client.login(username="kasse", password="rathaus-demo")
    assert text in client.get(f"/rechnungen/{inv.pk}/").content.decode()
    # in English the pages say it in English; the case history, a record, stays German
    en = client.get(f"/rechnungen/{inv.pk}/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert ("yes – commercial operation (Betrieb gewerblicher Art, Produkt 08.1.02 Hallenbad (Betrieb gewerblicher "
            "Art)): input VAT €23.56, net expense €124.00") in en
    page = client.get(f"/sachbearbeitung/vorgaenge/{inv.case_id}/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert f"Vorsteuerabzug: {text}." in page


def test_trial_balance_page_lists_the_vorsteuer_account(ms, api, client):
    p = approve(api, receive(ms, "BGA-TB", [DemoLine("Schwimmnudeln", D("10"), D("10.00"))]), BGA)
    assert sums(entry_of(p))[VORSTEUER] == (D("19.00"), D("0"))
    assert client.login(username="kaemmerei", password="rathaus-demo")
    page = client.get("/haushalt/summen-salden/", {"jahr": timezone.localdate().year})
    assert page.status_code == 200
    body = page.content.decode()
    assert VORSTEUER in body and "Vorsteuer (Betriebe gewerblicher Art)" in body and "19,00" in body


@pytest.mark.parametrize("syntax", ["ubl", "cii"])
def test_mixed_rates_zero_rate_and_reverse_charge_in_one_invoice(ms, api, syntax):
    inv = receive(ms, f"MIX-{syntax}", [
        DemoLine("Reinigungsmittel", D("1"), D("100.00")),                       # S 19 %: 19.00
        DemoLine("Fachbuch Badeaufsicht", D("1"), D("50.00"), D("7")),           # S 7 %: 3.50
        DemoLine("Photovoltaikmodul", D("1"), D("200.00"), vat_category="Z"),    # 0 % (§ 12 Abs. 3 UStG)
        DemoLine("Fliesenarbeiten Becken", D("1"), D("1000.00"), vat_category="AE"),  # § 13b: 190.00 owed
    ], syntax=syntax, buyer_vat_id=BUYER_VAT_ID)
    assert inv.payable_amount == D("1372.50")
    p = approve(api, inv, BGA)
    assert sums(entry_of(p)) == {
        AUFWAND: (D("1350.00"), D("0")),            # everything net
        VORSTEUER: (D("212.50"), D("0")),           # 19.00 + 3.50 invoiced + 190.00 self-assessed
        UST: (D("0"), D("190.00")),                 # owed as the recipient
        VERBINDLICHKEIT: (D("0"), D("1372.50")),    # what the supplier gets
    }
    line = p.lines.get()
    assert (line.input_vat, line.reverse_charge_vat) == (D("22.50"), D("190.00"))


def test_zero_rated_invoice_has_no_vorsteuer(ms, api):
    inv = receive(ms, "ZERO-1", [DemoLine("Photovoltaikanlage Dach Hallenbad", D("1"), D("5000.00"),
                                          vat_category="Z")])
    p = approve(api, inv, BGA)
    assert sums(entry_of(p)) == {AUFWAND: (D("5000.00"), D("0")), VERBINDLICHKEIT: (D("0"), D("5000.00"))}
    inv.refresh_from_db()
    assert "enthält keine abziehbare Umsatzsteuer" in input_vat_summary(inv)


@pytest.mark.parametrize("category", ["E", "K"])
def test_exempt_and_intra_community_invoices(ms, api, category):
    inv = receive(ms, f"CAT-{category}", [DemoLine("Leistung", D("1"), D("400.00"), vat_category=category)],
                  buyer_vat_id=BUYER_VAT_ID)
    p = approve(api, inv, BGA)
    if category == "E":  # exempt: nothing to deduct
        assert sums(entry_of(p)) == {AUFWAND: (D("400.00"), D("0")), VERBINDLICHKEIT: (D("0"), D("400.00"))}
    else:  # innergemeinschaftlicher Erwerb (§ 1a UStG): Erwerbsteuer owed and deducted
        assert sums(entry_of(p)) == {AUFWAND: (D("400.00"), D("0")), VORSTEUER: (D("76.00"), D("0")),
                                     UST: (D("0"), D("76.00")), VERBINDLICHKEIT: (D("0"), D("400.00"))}


def test_reverse_charge_rate_is_a_setting(ms, api, settings):
    settings.RATHAUS_REVERSE_CHARGE_VAT_RATE = "7"
    inv = receive(ms, "RC-7", [DemoLine("Fachbücher (EU-Verlag)", D("1"), D("300.00"), vat_category="AE")],
                  buyer_vat_id=BUYER_VAT_ID)
    assert sums(entry_of(approve(api, inv, BGA)))[UST] == (D("0"), D("21.00"))


def test_bga_anordnung_without_vorsteuer_account_is_refused_with_the_reason(ms, api):
    Account.objects.filter(tenant=ms, role=Account.Role.INPUT_VAT).update(role="")
    inv = receive(ms, "BGA-NOACC", [DemoLine("Wasseranalyse", D("1"), D("100.00"))])
    client = api("stellvertretung")
    for user, name in (("kasse", "formale_pruefung"), ("sachbearbeitung", "sachlich_richtig"),
                       ("leitung", "rechnerisch_richtig")):
        task = [x for x in api(user).get("/api/v1/tasks", case=inv.case_id).json() if x["name"] == name][0]
        data = {"decision": "approve"} if name == "formale_pruefung" else {"decision": "approve", "buchung": BGA}
        assert api(user).post(f"/api/v1/tasks/{task['id']}/complete", {"data": data}).status_code == 200
    task = [x for x in client.get("/api/v1/tasks", case=inv.case_id).json() if x["name"] == "anordnung"][0]
    r = client.post(f"/api/v1/tasks/{task['id']}/complete", {"data": {"decision": "approve", "buchung": BGA}})
    assert r.status_code == 409 and "Vorsteuer" in r.json()["detail"]
    inv.refresh_from_db()
    assert inv.status == "in_review" and inv.payable_id is None


def test_schlussrechnung_after_a_prepayment_deducts_the_vat_of_the_rest(ms, api):
    """BT-113: half of 119.00 was paid on an Abschlagsrechnung (and its Vorsteuer deducted there)."""
    body = demo_invoice_for(ms, "BGA-SCHLUSS", lines=[DemoLine("Sanierung Umkleiden", D("1"), D("100.00"))])
    body = body.replace(b'<cbc:PayableAmount currencyID="EUR">119.00</cbc:PayableAmount>',
                        b'<cbc:PrepaidAmount currencyID="EUR">59.50</cbc:PrepaidAmount>'
                        b'<cbc:PayableAmount currencyID="EUR">59.50</cbc:PayableAmount>')
    inv = receive_invoice(ms, body, actor="kasse")
    assert inv.status == "in_review", inv.errors
    p = approve(api, inv, BGA)
    assert sums(entry_of(p)) == {AUFWAND: (D("50.00"), D("0")), VORSTEUER: (D("9.50"), D("0")),
                                 VERBINDLICHKEIT: (D("0"), D("59.50"))}


def test_budget_of_a_bga_is_charged_net(ms, api):
    BudgetLine.objects.create(tenant=ms, year=timezone.localdate().year, product="08.1.02", account=AUFWAND,
                              amount=D("110.00"))
    inv = receive(ms, "BGA-BUDGET", [DemoLine("Wasseranalyse", D("1"), D("100.00"))])  # 119.00 gross
    p = approve(api, inv, BGA)  # 100.00 net fits the 110.00 budget (119.00 would not)
    assert sums(entry_of(p))[AUFWAND] == (D("100.00"), D("0"))


def test_official_reverse_charge_test_invoice(ms, api):
    """KoSIT's business case 01.21a (reverse charge, a document-level charge), re-addressed to Musterstadt."""
    import re

    src = (CORPORA / "xrechnung-testsuite" / "business-cases" / "standard" / "01.21a-INVOICE_ubl.xml").read_bytes()
    body = re.sub(rb"<cbc:BuyerReference>[^<]*</cbc:BuyerReference>",
                  f"<cbc:BuyerReference>{ms.leitweg_id}</cbc:BuyerReference>".encode(), src, count=1)
    inv = receive_invoice(ms, body, actor="kasse")
    assert inv.status == "in_review", inv.errors
    p = approve(api, inv, BGA)
    # 233.00 net (with the charge), 19 % owed by the municipality: 44.27
    assert sums(entry_of(p)) == {AUFWAND: (D("233.00"), D("0")), VORSTEUER: (D("44.27"), D("0")),
                                 UST: (D("0"), D("44.27")), VERBINDLICHKEIT: (D("0"), D("233.00"))}


# --------------------------------------------------------------------------- split Kontierung

def test_split_kontierung_deducts_only_the_bga_share(ms):
    lines = apply_input_vat(ms, [
        ExpenseLine(account=AUFWAND, amount=D("71.40"), cash_account="7431000", product="08.1.02", text="Bad"),
        ExpenseLine(account=AUFWAND, amount=D("47.60"), cash_account="7431000", product="02.2.01", text="Amt"),
    ], [vat.VatItem("S", D("100.00"), D("19.00"), D("19"))])
    assert [(ln.input_vat, ln.expense) for ln in lines] == [(D("11.40"), D("60.00")), (D("0"), D("47.60"))]
    p = create_payable(ms, creditor_name="Gebäudedienst GmbH", creditor_iban="DE89370400440532013000",
                       remittance="R-SPLIT", lines=lines, due_date=dt.date.today(), discount_amount=D("2.38"),
                       discount_until=dt.date.today() + dt.timedelta(days=10), actor="test")
    entry = entry_of(p)
    assert sums(entry) == {AUFWAND: (D("107.60"), D("0")), VORSTEUER: (D("11.40"), D("0")),
                           VERBINDLICHKEIT: (D("0"), D("119.00"))}
    assert {(ln.product.number, ln.debit) for ln in entry.lines.filter(account__number=AUFWAND)} == {
        ("08.1.02", D("60.00")), ("02.2.01", D("47.60"))}
    # Skonto 2.38: 1.43 on the BgA line (0.23 of it Vorsteuer), 0.95 on the hoheitlich line
    item, payment = pay(ms, p)
    assert item.discount == D("2.38")
    assert sums(payment) == {VERBINDLICHKEIT: (D("119.00"), D("0")), AUFWAND: (D("0"), D("2.15")),
                             VORSTEUER: (D("0"), D("0.23")), BANK: (D("0"), D("116.62"))}
    assert balance(ms, VORSTEUER) == D("11.17") and balance(ms, VERBINDLICHKEIT) == D("0")


# --------------------------------------------------------------------------- Skonto (§ 17 UStG)

def test_skonto_payment_corrects_the_vorsteuer(ms, api):
    inv = receive(ms, "SKONTO-1", [DemoLine("Rutschenwartung", D("1"), D("100.00"))],
                  payment_terms="Zahlbar innerhalb 30 Tagen.\n#SKONTO#TAGE=14#PROZENT=2.00#\n")
    p = approve(api, inv, BGA)
    assert (p.amount, p.discount_amount) == (D("119.00"), D("2.38"))
    item, payment = pay(ms, p)
    assert (item.amount, item.discount) == (D("116.62"), D("2.38"))
    assert sums(payment) == {
        VERBINDLICHKEIT: (D("119.00"), D("0")),   # settled in full
        AUFWAND: (D("0"), D("2.00")),             # the net discount reduces the expense
        VORSTEUER: (D("0"), D("0.38")),           # and the Vorsteuer in it goes back
        BANK: (D("0"), D("116.62")),
    }
    # what remains is exactly 19 % of the reduced Entgelt (98.00)
    assert balance(ms, VORSTEUER) == D("18.62") == (D("98.00") * D("0.19")).quantize(D("0.01"))
    assert balance(ms, VERBINDLICHKEIT) == D("0")
    cash = payment.lines.get(account__number=VERBINDLICHKEIT, cash_account__isnull=False)
    assert (cash.debit, cash.cash_account.number) == (D("116.62"), "7431000")


def test_skonto_on_reverse_charge_corrects_both_sides(ms, api):
    inv = receive(ms, "SKONTO-RC", [DemoLine("Beckensanierung", D("1"), D("1000.00"), vat_category="AE")],
                  buyer_vat_id=BUYER_VAT_ID, payment_terms="#SKONTO#TAGE=10#PROZENT=2.00#\n")
    p = approve(api, inv, BGA)
    _, payment = pay(ms, p)
    assert sums(payment) == {VERBINDLICHKEIT: (D("1000.00"), D("0")), AUFWAND: (D("0"), D("20.00")),
                             VORSTEUER: (D("0"), D("3.80")), UST: (D("3.80"), D("0")), BANK: (D("0"), D("980.00"))}
    assert balance(ms, VORSTEUER) == D("186.20") and balance(ms, UST) == D("-186.20")


def test_hoheitlich_skonto_is_unchanged(ms, api):
    inv = receive(ms, "SKONTO-HO", [DemoLine("Toner", D("1"), D("100.00"))],
                  payment_terms="#SKONTO#TAGE=14#PROZENT=2.00#\n")
    _, payment = pay(ms, approve(api, inv, HOHEITLICH))
    assert sums(payment) == {VERBINDLICHKEIT: (D("119.00"), D("0")), AUFWAND: (D("0"), D("2.38")),
                             BANK: (D("0"), D("116.62"))}
    assert not PayableLine.objects.filter(payable__tenant=ms, input_vat__gt=0).exists()
