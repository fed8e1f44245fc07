"""Doppik ledger: posting invariants, periods, idempotency, immutability, reversal, chart and reports
(SQLite and PostgreSQL)."""

import datetime as dt
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.db import DatabaseError, connection, transaction

from rathaus.core.errors import Conflict, Invalid
from rathaus.ledger import reports
from rathaus.ledger.chart import DEFAULT_CHART, load_chart, read_chart
from rathaus.ledger.models import Account, ChartGroup, JournalEntry, JournalLine, Product
from rathaus.ledger.services import (
    EntrySpec,
    Line,
    post_entries,
    post_entry,
    reverse_entry,
    set_period_closed,
)

YEAR = 2031
DAY = dt.date(YEAR, 3, 15)
D = Decimal


@pytest.fixture
def ms(seeded):
    return seeded["musterstadt"]


def fee(tenant, ref="t:fee", amount="26.00", date=DAY, product="02.2.01"):
    """Sollstellung of a fee: Forderung an Verwaltungsgebühren."""
    return post_entry(tenant, date=date, text="Gebühr Gewerbeanmeldung", source_ref=ref, actor="test", lines=[
        Line(account="1611000", debit=D(amount), product=product, cost_centre="320"),
        Line(account="4311000", credit=D(amount), product=product, cost_centre="320"),
    ])


def payment(tenant, ref="t:pay", amount="26.00", date=DAY):
    """Zahlung: Bank an Forderung, Finanzrechnung 6311000 on the counter-line."""
    return post_entry(tenant, date=date, text="Zahlung", source_ref=ref, actor="test", lines=[
        Line(account="1810000", debit=D(amount)),
        Line(account="1611000", credit=D(amount), product="02.2.01", cash_account="6311000"),
    ])


# --------------------------------------------------------------------------- chart

def test_chart_is_loaded_with_the_lead_accounts_and_roles(ms):
    roles = dict(Account.objects.filter(tenant=ms).exclude(role="").values_list("number", "role"))
    assert roles == {
        "1611000": "receivables_fees", "1631000": "receivables_taxes", "1782000": "input_vat", "1810000": "bank",
        "3520000": "payables", "3711000": "output_vat", "3791000": "suspense", "3792000": "overpayments",
        "6991000": "suspense_cash_in", "7991000": "suspense_cash_out",
    }
    for n in ("4032000", "4311000", "4321000", "6032000", "6311000", "6321000"):
        assert Account.objects.filter(tenant=ms, number=n).exists()
    assert Account.objects.filter(tenant=ms).count() >= 150
    assert {p for p in ("02.2.01", "12.1.01", "16.1.01")} <= set(
        Product.objects.filter(tenant=ms).values_list("number", flat=True))
    areas = ChartGroup.objects.filter(tenant=ms, kind="product", number__regex=r"^\d\d$")
    assert sorted(areas.values_list("number", flat=True)) == [f"{i:02d}" for i in range(1, 18)]


def test_positions_roll_up_from_groups(ms):
    pos = dict(Account.objects.filter(tenant=ms).values_list("number", "position"))
    assert pos["4311000"] == 4 and pos["4032000"] == 1 and pos["4481000"] == 6
    assert pos["5012000"] == 11 and pos["5711000"] == 14 and pos["5511000"] == 20
    assert pos["6311000"] == 4 and pos["7011000"] == 10 and pos["6991000"] == 39 and pos["7851000"] == 25
    assert pos["1810000"] is None
    # every result and cash account has a position
    assert not Account.objects.filter(tenant=ms, kind__in=["result", "cash"], position__isnull=True).exists()
    # every account number sits below a Kontenart of the file
    data = read_chart(DEFAULT_CHART)
    kontenarten = {str(g["number"]) for g in data["groups"] if len(str(g["number"])) == 3}
    assert all(str(a["number"])[:3] in kontenarten for a in data["accounts"])


def test_load_chart_is_idempotent(ms):
    before = Account.objects.filter(tenant=ms).count(), ChartGroup.objects.filter(tenant=ms).count()
    counts = load_chart(ms)
    assert counts["accounts"] == before[0]
    assert (Account.objects.filter(tenant=ms).count(), ChartGroup.objects.filter(tenant=ms).count()) == before


def test_cli_load_chart_and_trial_balance(ms, capsys):
    call_command("ledger", "load-chart", "--tenant", "musterstadt")
    fee(ms)
    call_command("ledger", "trial-balance", "--tenant", "musterstadt", str(YEAR))
    out = capsys.readouterr().out
    assert "Sachkonten" in out and "4311000" in out and "26,00\u00a0€" in out
    call_command("ledger", "close-period", "--tenant", "musterstadt", str(YEAR), "3")
    with pytest.raises(Conflict):
        fee(ms, ref="t:later")
    call_command("ledger", "open-period", "--tenant", "musterstadt", str(YEAR), "3")
    fee(ms, ref="t:later")


# --------------------------------------------------------------------------- posting invariants

def test_balanced_posting(ms):
    e = fee(ms)
    assert e.total == D("26.00") and e.year == YEAR
    assert [(ln.account.number, ln.debit, ln.credit) for ln in e.lines.order_by("id")] == [
        ("1611000", D("26.00"), D("0.00")), ("4311000", D("0.00"), D("26.00"))]


def test_unbalanced_posting_is_refused(ms):
    with pytest.raises(Invalid) as exc:
        post_entry(ms, date=DAY, text="x", source_ref="t:unbalanced", actor="test", lines=[
            Line(account="1611000", debit=D("26.00"), product="02.2.01"),
            Line(account="4311000", credit=D("25.00"), product="02.2.01")])
    assert "nicht ausgeglichen" in exc.value.detail
    assert not JournalEntry.objects.filter(tenant=ms, source_ref="t:unbalanced").exists()


@pytest.mark.parametrize("lines, pointer", [
    ([Line(account="9999999", debit=D(1)), Line(account="4311000", credit=D(1), product="02.2.01")],
     "/lines/0/account"),
    ([Line(account="1611000", debit=D(1)), Line(account="4311000", credit=D(1), product="99.9.99")],
     "/lines/1/product"),
    ([Line(account="1611000", debit=D(1)), Line(account="4311000", credit=D(1))], "/lines/1/product"),
    ([Line(account="1810000", debit=D(1), cash_account="6311000"), Line(account="1611000", credit=D(1))],
     "/lines/0/cash_account"),
    ([Line(account="1810000", debit=D(1)), Line(account="1611000", credit=D(1))], "/lines"),
    ([Line(account="1611000", debit=D("1.001")), Line(account="4311000", credit=D("1.001"), product="02.2.01")],
     "/lines/0/debit"),
    ([Line(account="6311000", debit=D(1)), Line(account="1611000", credit=D(1))], "/lines/0/account"),
    ([Line(account="1611000", debit=D(1), credit=D(1)), Line(account="4311000", credit=D(1), product="02.2.01")],
     "/lines/0/debit"),
    ([Line(account="1611000", debit=D(1), cost_centre="999"), Line(account="4311000", credit=D(1), product="02.2.01")],
     "/lines/0/cost_centre"),
    ([Line(account="1611000", debit=D(1))], "/lines"),
])
def test_invalid_postings_name_the_field(ms, lines, pointer):
    with pytest.raises(Invalid) as exc:
        post_entry(ms, date=DAY, text="x", source_ref="t:bad", actor="test", lines=lines)
    assert exc.value.errors[0]["pointer"] == pointer
    assert not JournalEntry.objects.filter(tenant=ms, source_ref="t:bad").exists()


def test_closed_month_and_closed_year(ms):
    set_period_closed(ms, YEAR, 3, closed=True, actor="test")
    with pytest.raises(Conflict):
        fee(ms, ref="t:march")
    fee(ms, ref="t:april", date=dt.date(YEAR, 4, 1))  # other months stay open
    set_period_closed(ms, YEAR, 3, closed=False, actor="test")
    fee(ms, ref="t:march")
    set_period_closed(ms, YEAR, 0, closed=True, actor="test")
    for month in (1, 3, 12):
        with pytest.raises(Conflict):
            fee(ms, ref=f"t:y{month}", date=dt.date(YEAR, month, 1))
    # re-opening a month does not open it while the year is closed
    set_period_closed(ms, YEAR, 5, closed=False, actor="test")
    with pytest.raises(Conflict):
        fee(ms, ref="t:may", date=dt.date(YEAR, 5, 2))
    fee(ms, ref="t:next", date=dt.date(YEAR + 1, 1, 2))
    with pytest.raises(Invalid):
        set_period_closed(ms, YEAR, 13, closed=True, actor="test")


def test_bulk_posting_into_closed_period_books_nothing(ms):
    set_period_closed(ms, YEAR, 6, closed=True, actor="test")
    specs = [EntrySpec(date=dt.date(YEAR, m, 1), text="x", source_ref=f"t:bulk{m}", lines=[
        Line(account="1611000", debit=D(1), product="02.2.01"),
        Line(account="4311000", credit=D(1), product="02.2.01")]) for m in (5, 6)]
    with pytest.raises(Conflict):
        post_entries(ms, specs, actor="test")
    assert not JournalEntry.objects.filter(tenant=ms, source_ref__startswith="t:bulk").exists()


# --------------------------------------------------------------------------- idempotency

def test_same_source_ref_books_once(ms):
    a = fee(ms, ref="t:idem")
    b = fee(ms, ref="t:idem")
    assert a.pk == b.pk
    assert JournalEntry.objects.filter(tenant=ms, source_ref="t:idem").count() == 1
    assert JournalLine.objects.filter(entry=a).count() == 2
    spec = EntrySpec(date=DAY, text="x", source_ref="t:idem", lines=[])
    assert post_entries(ms, [spec], actor="test")[0].pk == a.pk  # bulk: returns the posted entry


def test_same_source_ref_with_other_content_is_a_conflict(ms):
    fee(ms, ref="t:idem2")
    with pytest.raises(Conflict):
        fee(ms, ref="t:idem2", amount="27.00")
    with pytest.raises(Conflict):  # same total, other product
        fee(ms, ref="t:idem2", product="12.1.01")
    with pytest.raises(Invalid):
        post_entries(ms, [EntrySpec(date=DAY, text="x", source_ref="t:dup", lines=[])] * 2, actor="test")


def test_source_refs_are_per_tenant(seeded):
    a = fee(seeded["musterstadt"], ref="t:shared")
    b = fee(seeded["beispielhausen"], ref="t:shared")
    assert a.pk != b.pk and a.tenant_id != b.tenant_id


# --------------------------------------------------------------------------- immutability

@pytest.mark.parametrize("sql", [
    "UPDATE ledger_journalentry SET text = 'geändert' WHERE id = %(entry)s",
    "DELETE FROM ledger_journalentry WHERE id = %(entry)s",
    "UPDATE ledger_journalline SET debit = 1000 WHERE entry_id = %(entry)s AND debit > 0",
    "DELETE FROM ledger_journalline WHERE entry_id = %(entry)s",
])
def test_posted_rows_cannot_be_changed_in_the_database(ms, sql):
    e = fee(ms)
    with pytest.raises(DatabaseError), transaction.atomic(), connection.cursor() as cur:
        cur.execute(sql % {"entry": int(e.pk)})
    e.refresh_from_db()
    assert e.text == "Gebühr Gewerbeanmeldung"
    assert sorted(JournalLine.objects.filter(entry=e).values_list("debit", flat=True)) == [D("0"), D("26.00")]


def test_orm_update_is_refused_too(ms):
    e = fee(ms)
    with pytest.raises(DatabaseError), transaction.atomic():
        JournalEntry.objects.filter(pk=e.pk).update(text="x")


# --------------------------------------------------------------------------- reversal

def test_reversal_swaps_lines_and_zeroes_the_trial_balance(ms):
    e = fee(ms)
    rev = reverse_entry(e, actor="test", reason="falscher Betrag", date=DAY)
    assert rev.reversal_of_id == e.pk and rev.source_ref == f"reversal:{e.pk}"
    orig = {(ln.account.number, ln.debit, ln.credit, ln.product_id) for ln in e.lines.all()}
    swapped = {(ln.account.number, ln.credit, ln.debit, ln.product_id) for ln in rev.lines.all()}
    assert orig == swapped
    with pytest.raises(Conflict):
        reverse_entry(e, actor="test", reason="nochmal", date=DAY)
    with pytest.raises(Conflict):
        reverse_entry(rev, actor="test", reason="Storno vom Storno", date=DAY)
    tb = reports.trial_balance(ms, YEAR)
    assert all(r["balance"] == 0 for r in tb["rows"])
    assert tb["totals"]["debit"] == tb["totals"]["credit"] == D("52.00")
    assert reports.results(ms, YEAR)["totals"]["result"] == 0


def test_reversal_needs_a_reason_and_an_open_period(ms):
    e = fee(ms)
    with pytest.raises(Invalid):
        reverse_entry(e, actor="test", reason="  ", date=DAY)
    set_period_closed(ms, YEAR, 0, closed=True, actor="test")
    with pytest.raises(Conflict):
        reverse_entry(e, actor="test", reason="zu spät", date=DAY)
    rev = reverse_entry(e, actor="test", reason="im Folgejahr", date=dt.date(YEAR + 1, 1, 5))
    assert rev.year == YEAR + 1


# --------------------------------------------------------------------------- reports

def test_trial_balance_totals(ms):
    fee(ms)
    payment(ms)
    fee(ms, ref="t:fee2", amount="10.50", product="12.1.01")
    tb = reports.trial_balance(ms, YEAR)
    rows = {r["account"]: r for r in tb["rows"]}
    assert rows["1611000"]["debit"] == D("36.50") and rows["1611000"]["credit"] == D("26.00")
    assert rows["1611000"]["balance"] == D("10.50")
    assert rows["1810000"]["balance"] == D("26.00")
    assert rows["4311000"]["balance"] == D("-36.50")
    assert tb["totals"]["debit"] == tb["totals"]["credit"] == D("62.50")
    assert tb["balanced"] and tb["totals"]["balance"] == 0
    assert [c["class"] for c in tb["classes"]] == ["1", "4"]
    assert reports.trial_balance(ms, YEAR + 5)["rows"] == []


def test_results_by_product_show_the_fee(ms):
    fee(ms)
    post_entry(ms, date=DAY, text="Büromaterial", source_ref="t:exp", actor="test", lines=[
        Line(account="5431000", debit=D("10.00"), product="02.2.01"),
        Line(account="3520000", credit=D("10.00")),
    ])
    er = reports.results(ms, YEAR)
    area = next(a for a in er["areas"] if a["area"] == "02")
    assert area["name"] == "Sicherheit und Ordnung"
    prod = next(p for p in area["products"] if p["product"] == "02.2.01")
    assert prod["income"] == D("26.00") and prod["expense"] == D("10.00") and prod["result"] == D("16.00")
    assert {p["position"]: p["amount"] for p in prod["positions"]} == {4: D("26.00"), 16: D("10.00")}
    pos = {p["position"]: p["amount"] for p in er["positions"]}
    assert pos[4] == D("26.00") and pos[10] == D("26.00") and pos[16] == D("10.00") and pos[17] == D("10.00")
    assert pos[18] == pos[26] == D("16.00")
    assert er["totals"] == {"income": D("26.00"), "expense": D("10.00"), "result": D("16.00")}


def test_cash_report_equals_liquid_change(ms):
    fee(ms)
    payment(ms)
    # an unclear payment (Verwahrgeld, haushaltsunwirksam) and a payment out for material
    post_entry(ms, date=DAY, text="Eingang ungeklärt", source_ref="t:susp", actor="test", lines=[
        Line(account="1810000", debit=D("5.00")),
        Line(account="3791000", credit=D("5.00"), cash_account="6991000")])
    post_entry(ms, date=DAY, text="Büromaterial bar", source_ref="t:out", actor="test", lines=[
        Line(account="5431000", debit=D("3.20"), product="01.1.01", cash_account="7431000"),
        Line(account="1821000", credit=D("3.20"))])
    fr = reports.cash(ms, YEAR)
    flows = {a["account"]: a["flow"] for a in fr["accounts"]}
    assert flows == {"6311000": D("26.00"), "6991000": D("5.00"), "7431000": D("-3.20")}
    assert fr["totals"]["saldo"] == D("27.80") == fr["liquid"]["change"]
    assert fr["check"] is True
    pos = {p["position"]: p["amount"] for p in fr["positions"]}
    assert pos[4] == D("26.00") and pos[15] == D("3.20") and pos[17] == D("22.80") and pos[39] == D("5.00")
    assert pos[40] == D("27.80")


def test_real_sollstellung_appears_in_the_reports(ms):
    from rathaus.finance.receivables import ReceivableLineSpec, create_receivable

    r = create_receivable(
        ms, debtor_name="Erika Mustermann", purpose="Gewerbeanmeldung", due_date=dt.date.today(),
        lines=[ReceivableLineSpec(title="Gebühr Gewerbeanmeldung", amount=D("26.00"))],
        product="02.2.01", revenue_account="4311000", cash_account="6311000", cost_centre="320", actor="test")
    year = JournalEntry.objects.get(tenant=ms, source_ref=f"receivable:{r.pk}").year
    tb = {row["account"]: row for row in reports.trial_balance(ms, year)["rows"]}
    assert tb["1611000"]["debit"] == D("26.00") and tb["4311000"]["credit"] == D("26.00")
    er = reports.results(ms, year)
    prod = next(p for a in er["areas"] for p in a["products"] if p["product"] == "02.2.01")
    assert prod["income"] == D("26.00") and prod["result"] == D("26.00")
