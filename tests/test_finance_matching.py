"""What a payment means, without a database: the matching decisions (`finance.matching`) and the one place that
builds a payment's journal lines (`finance.postings`), which the statement import and the manual assignment of
a clearing item share."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from types import SimpleNamespace

import pytest

from rathaus.finance import kassenzeichen as kzlib
from rathaus.finance.matching import (
    MAX_SUGGESTIONS,
    allocate,
    apply_payment,
    name_words,
    names_overlap,
    rank_suggestions,
    references_in,
    status_for,
)
from rathaus.finance.postings import payment_lines, settle_line, sollstellung_lines, suspense_debit

D = Decimal
CHART = {"overpayments": "3792000", "suspense": "3791000", "suspense_cash_in": "6991000",
         "suspense_cash_out": "7991000"}


def rec(amount="100.00", paid="0.00", *, pk=1, debtor="Erika Mustermann", seq=None, due=None):
    amount, paid = D(amount), D(paid)
    kz = kzlib.make(2026, seq or pk)
    return SimpleNamespace(pk=pk, amount=amount, paid_amount=paid, open_amount=amount - paid,
                           status=status_for(amount, paid), debtor_name=debtor, kassenzeichen=kz,
                           kassenzeichen_display=kzlib.display(kz), receivable_account="1611000",
                           revenue_account="4311000", product="02.2.01", cost_centre="320", cash_account="6311000",
                           due_date=due or dt.date(2026, 12, 1))


class Chart:
    """The tenant's accounts by role, remembering which roles were asked for."""

    def __init__(self):
        self.asked: list[str] = []

    def __call__(self, role: str) -> str:
        self.asked.append(str(role))
        return CHART[role]


def credits(lines) -> D:
    return sum((ln.credit for ln in lines), D("0"))


# --------------------------------------------------------------------------- status and settlement

@pytest.mark.parametrize(("paid", "status"), [
    ("0.00", "open"), ("-5.00", "open"), ("0.01", "partially_paid"), ("99.99", "partially_paid"),
    ("100.00", "paid"), ("100.01", "overpaid"),
])
def test_status_follows_what_is_paid(paid, status):
    assert status_for(D("100.00"), D(paid)) == status


@pytest.mark.parametrize(("paid_before", "payment", "settled", "paid_after", "open_after", "status"), [
    ("0.00", "40.00", "40.00", "40.00", "60.00", "partially_paid"),
    ("40.00", "60.00", "60.00", "100.00", "0.00", "paid"),
    ("40.00", "70.00", "60.00", "110.00", "-10.00", "overpaid"),  # only the open 60.00 settle the Forderung
    ("110.00", "5.00", "0.00", "115.00", "-15.00", "overpaid"),  # already overpaid: nothing settles
])
def test_a_payment_settles_at_most_what_is_open(paid_before, payment, settled, paid_after, open_after, status):
    r = rec(paid=paid_before)
    assert apply_payment(r, D(payment)) == D(settled)
    assert (r.paid_amount, r.open_amount, r.status) == (D(paid_after), D(open_after), status)


# --------------------------------------------------------------------------- which receivables a payment pays

def test_one_kassenzeichen_takes_the_whole_amount_whoever_pays():
    r = rec("50.00", debtor="Erika Mustermann")
    assert allocate(D("80.00"), [r], payer="MUSTERMANN, ERIKA") == ([(r, D("80.00"))], "")
    allocs, note = allocate(D("20.00"), [r], payer="Max Schmidt")
    assert allocs == [(r, D("20.00"))]
    assert note == "Zahlung durch Dritte (Max Schmidt)"
    assert allocate(D("20.00"), [r], payer="") == ([(r, D("20.00"))], "")  # no name in the statement: no note


def test_several_kassenzeichen_are_settled_only_when_the_amount_explains_the_split():
    a, b, paid = rec("30.00", pk=1), rec("20.00", "5.00", pk=2), rec("10.00", "12.00", pk=3)
    # the open total (30 + 15; the overpaid one counts 0 and gets nothing)
    assert allocate(D("45.00"), [a, b, paid]) == ([(a, D("30.00")), (b, D("15.00"))], "")
    # exactly one open amount
    assert allocate(D("15.00"), [a, b]) == ([(b, D("15.00"))], "")
    # neither: clearing, with the reason
    assert allocate(D("16.00"), [a, b]) == (
        [], "Mehrere Kassenzeichen im Verwendungszweck; Betrag passt zu keiner Aufteilung.")
    # two with the same open amount: ambiguous
    c = rec("30.00", pk=4)
    assert allocate(D("30.00"), [a, c])[0] == []


@pytest.mark.parametrize(("kwargs", "note"), [
    ({"currency": "USD"}, "Fremdwährung: bitte manuell prüfen."),
    ({"credit": False}, ""),
    ({"reversal": True}, ""),
])
def test_foreign_currency_debits_and_reversals_go_to_the_clearing_list(kwargs, note):
    assert allocate(D("10.00"), [rec()], **kwargs) == ([], note)


def test_nothing_found_is_a_clearing_item_without_a_note():
    assert allocate(D("10.00"), [], currency="USD") == ([], "")
    assert allocate(D("0.00"), [rec()]) == ([], "")


def test_name_words_ignore_forms_of_address_and_company_forms():
    assert name_words("Herr Dr. Hans-Peter Müller und Frau Öztürk GmbH") == {"dr.", "hans", "peter", "müller",
                                                                           "öztürk"}
    assert names_overlap("MÜLLER, HANS", "Hans-Peter Müller")
    assert not names_overlap("Familie Schmidt GmbH & Co. KG", "Schmitt GmbH")
    assert not names_overlap("", "Müller")


# --------------------------------------------------------------------------- what the payer probably meant

def test_references_find_typos_swaps_and_missing_check_digits():
    kz = kzlib.make(2026, 123)
    typo = kz[:5] + str((int(kz[5]) + 1) % 10) + kz[6:]
    swap = kz[:10] + kz[11] + kz[10]
    assert references_in(f"Gebuehr {typo}", "", set()) == ({kz: "Tippfehler"}, set())
    assert references_in(f"KZ {swap}", "", set()) == ({kz: "Zahlendreher"}, set())
    assert references_in("Bescheid 2026-000123", "", set()) == ({kz: "ohne Prüfziffer"}, set())
    assert references_in(f"KZ {kz}", "", set()) == ({}, set())  # a valid Kassenzeichen is no near miss


def test_aktenzeichen_only_with_the_tenants_prefixes_and_never_read_as_a_kassenzeichen():
    near, refs = references_in("Gewerbe gew 2026 / 1, Hund HUND-2026-000042", "E2E-KZ-2026-000077", {"GEW", "HUND"})
    assert refs == {"GEW-2026-000001", "HUND-2026-000042"}
    # "2026 000042" and "2026000001" would complete to Kassenzeichen; inside an Aktenzeichen they are not one
    assert kzlib.make(2026, 42) not in near and kzlib.make(2026, 1) not in near
    assert kzlib.make(2026, 77) in near  # "KZ" is no prefix of the tenant: its digits may be a Kassenzeichen
    assert references_in("KZ 2026-000077", "", {"GEW"})[1] == set()


def test_suggestions_are_ranked_by_evidence_and_limited():
    by_kz = rec("50.00", pk=1, debtor="Anna Alt")
    by_ref = rec("50.00", pk=2, debtor="Bernd Bunt")
    by_name = rec("50.00", pk=3, debtor="Clara Müller")
    other_amount = rec("70.00", pk=4, debtor="Clara Müller")
    out = rank_suggestions(D("50.00"), "MÜLLER CLARA",
                           near_misses={by_kz.kassenzeichen: "Zahlendreher", "202699999999": "Tippfehler"},
                           references={"GEW-2026-000001"}, by_kassenzeichen={by_kz.kassenzeichen: by_kz},
                           by_reference={"GEW-2026-000001": [by_ref]}, named=[by_name, other_amount])
    assert [(s.receivable.pk, s.reason_codes, s.score) for s in out] == [
        (1, ["kz_swap", "amount"], 45), (2, ["aktenzeichen", "amount"], 35), (3, ["name_amount"], 20)]
    assert out[1].reasons[0] == ("aktenzeichen", "GEW-2026-000001")
    many = [rec("50.00", pk=i, debtor="Clara Müller", due=dt.date(2026, 12, 20 - i)) for i in range(1, 9)]
    top = rank_suggestions(D("50.00"), "Clara Müller", near_misses={}, references=(), by_kassenzeichen={},
                           by_reference={}, named=many)
    assert len(top) == MAX_SUGGESTIONS
    assert [s.receivable.pk for s in top] == [8, 7, 6, 5, 4]  # equal evidence: the earliest due first


# --------------------------------------------------------------------------- the journal lines of a payment

def test_an_exact_payment_credits_the_forderung_with_its_cash_account():
    r = rec("100.00")
    chart = Chart()
    (line,) = payment_lines(D("100.00"), [(r, D("100.00"))], chart)
    assert line == settle_line(r, D("100.00"))
    assert (line.account, line.credit, line.debit, line.product, line.cost_centre, line.cash_account, line.text) == (
        "1611000", D("100.00"), D("0"), "02.2.01", "320", "6311000", f"KZ {r.kassenzeichen_display}")
    assert chart.asked == []  # no chart role needed


def test_an_overpayment_is_a_liability_named_after_the_last_receivable():
    a, b = rec("30.00", pk=1), rec("20.00", "25.00", pk=2)  # b is overpaid already: settles nothing
    chart = Chart()
    lines = payment_lines(D("60.00"), [(a, D("30.00")), (b, D("0.00"))], chart)
    assert [(ln.account, ln.credit, ln.cash_account, ln.text) for ln in lines] == [
        ("1611000", D("30.00"), "6311000", f"KZ {a.kassenzeichen_display}"),
        ("3792000", D("30.00"), "6991000", f"Überzahlung KZ {b.kassenzeichen_display}")]
    assert chart.asked == ["overpayments", "suspense_cash_in"]
    assert credits(lines) == D("60.00")


def test_a_payment_for_no_receivable_is_parked_as_verwahrgeld():
    lines = payment_lines(D("12.34"), [], Chart())
    assert [(ln.account, ln.credit, ln.cash_account, ln.text) for ln in lines] == [
        ("3791000", D("12.34"), "6991000", "ungeklärter Eingang")]


@pytest.mark.parametrize(("amounts", "payment"), [
    (["10.00"], "10.00"), (["10.00"], "3.50"), (["10.00"], "10.01"), (["10.00", "5.00"], "15.00"),
    (["10.00", "5.00"], "5.00"), (["10.00", "5.00"], "20.00"),
])
def test_the_credit_lines_always_add_up_to_the_payment(amounts, payment):
    """Whatever `allocate` decides (the last case is a clearing item), the payment is credited in full."""
    receivables = [rec(a, pk=i) for i, a in enumerate(amounts, 1)]
    allocs, _ = allocate(D(payment), receivables)
    settlements = [(r, apply_payment(r, a)) for r, a in allocs]
    assert credits(payment_lines(D(payment), settlements, Chart())) == D(payment)


def test_a_clearing_item_assigned_by_hand_leaves_the_suspense_account():
    chart = Chart()
    line = suspense_debit(D("7.00"), chart)
    assert (line.account, line.debit, line.credit, line.cash_account, line.text) == (
        "3791000", D("7.00"), D("0"), "7991000", "")
    assert suspense_debit(D("7.00"), chart, text="Ausgang ungeklärt").text == "Ausgang ungeklärt"


def test_sollstellung_is_forderung_an_ertrag_per_fee_item():
    r = rec("30.00")
    items = [SimpleNamespace(title="Grundgebühr", amount=D("25.00")), SimpleNamespace(title="Auslagen", amount=D("5.00")),
             SimpleNamespace(title="Ermäßigung entfällt", amount=D("0.00"))]
    lines = sollstellung_lines(r, items)
    assert [(ln.account, ln.debit, ln.credit, ln.text) for ln in lines] == [
        ("1611000", D("30.00"), D("0"), f"KZ {r.kassenzeichen_display}"),
        ("4311000", D("0"), D("25.00"), "Grundgebühr"), ("4311000", D("0"), D("5.00"), "Auslagen")]
    assert {(ln.product, ln.cost_centre) for ln in lines} == {("02.2.01", "320")}
