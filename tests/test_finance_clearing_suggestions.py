"""Klärfälle: suggestions of the receivable a payer probably meant (mistyped or incomplete Kassenzeichen,
Aktenzeichen in the remittance text, name and exact open amount), in the web page and the API; accepting one
assigns the payment. Suggestions never book anything by themselves."""

import re

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from rathaus.finance import kassenzeichen as kz
from rathaus.finance.bank.importer import import_bank_statement
from rathaus.finance.clearing import clearing_suggestions
from rathaus.finance.models import BankTransaction, Receivable

from .test_finance_statements import pay, receivable, statement


def clearing_of(t, entries, statement_id="S-1"):
    res = import_bank_statement(t, statement(entries, statement_id=statement_id), actor="kasse")
    assert res.matched == 0 and res.unmatched == len(entries)
    return list(BankTransaction.objects.filter(tenant=t, state="clearing").order_by("id"))


def one_digit_off(k: str, pos: int) -> str:
    """k with the digit at pos changed so that the check fails (any change of one digit does)."""
    return k[:pos] + str((int(k[pos]) + 3) % 10) + k[pos + 1:]


def test_mistyped_kassenzeichen_suggests_the_receivable(seeded):
    t = seeded["musterstadt"]
    r = receivable(t)
    others = [receivable(t) for _ in range(3)]
    typo = one_digit_off(r.kassenzeichen, 8)
    assert not kz.is_valid(typo)
    swapped = next(r2.kassenzeichen for r2 in others if r2.kassenzeichen[8] != r2.kassenzeichen[9])
    swapped = swapped[:8] + swapped[9] + swapped[8] + swapped[10:]
    no_check = others[1].kassenzeichen[:10]
    payer = {"debtor_name": "Konto Dritter"}  # not the debtors' name: only the Kassenzeichen speaks
    items = clearing_of(t, [pay("26.00", f"KZ {kz.display(typo)}", "T1", **payer),
                            pay("26.00", f"Gewerbe {swapped[:4]} {swapped[4:10]} {swapped[10:]}", "T2", **payer),
                            pay("26.00", f"Kassenzeichen {no_check[:4]}-{no_check[4:]}", "T3", **payer)])
    s = clearing_suggestions(t, items)
    assert [x.receivable.pk for x in s[items[0].pk]] == [r.pk]
    assert s[items[0].pk][0].reason_codes == ["kz_typo", "amount"]
    swap = [x for x in s[items[1].pk] if "kz_swap" in x.reason_codes]
    assert len(swap) == 1 and swap[0].receivable.kassenzeichen[:8] == swapped[:8]
    assert [x.receivable.pk for x in s[items[2].pk]] == [others[1].pk]
    assert s[items[2].pk][0].reason_codes[0] == "kz_no_check"


def test_aktenzeichen_and_name_with_amount_suggest_the_receivable(seeded, submit):
    from rathaus.cases.models import Case

    t = seeded["musterstadt"]
    case = Case.objects.get(pk=submit()["id"])
    by_case = receivable(t, "31.50")
    Receivable.objects.filter(pk=by_case.pk).update(case=case)
    by_name = receivable(t, "17.25", debtor="Familie Özdemir-Weber")
    by_name_caps = receivable(t, "18.40", debtor="MÜLLER, JÜRGEN")
    by_name_title = receivable(t, "19.10", debtor="Ayşe Öztürk")
    receivable(t, "17.25", debtor="Hans Schulz")  # same amount, other name: not suggested
    receivable(t, "99.00", debtor="Aylin Özdemir-Weber")  # same name, other amount: not suggested
    ref = case.reference
    items = clearing_of(t, [pay("31.50", f"Bescheid {ref.replace('-', ' ').lower()} danke", "A1",
                                debtor_name="Irgendwer"),
                            pay("17.25", "Hundesteuer", "A2", debtor_name="ÖZDEMIR-WEBER, AYLIN"),
                            pay("18.40", "Steuer", "A3", debtor_name="Jürgen Müller"),
                            pay("19.10", "Gebühr", "A4", debtor_name="ÖZTÜRK AYSE")])
    s = clearing_suggestions(t, items)
    assert [(x.receivable.pk, x.reason_codes) for x in s[items[0].pk]] == [(by_case.pk, ["aktenzeichen", "amount"])]
    assert s[items[0].pk][0].reasons[0] == ("aktenzeichen", ref)
    assert [(x.receivable.pk, x.reason_codes) for x in s[items[1].pk]] == [(by_name.pk, ["name_amount"])]
    assert [x.receivable.pk for x in s[items[2].pk]] == [by_name_caps.pk]  # umlauts in any case, on SQLite too
    assert [x.receivable.pk for x in s[items[3].pk]] == [by_name_title.pk]


def test_paid_and_cancelled_receivables_and_debits_get_no_suggestions(seeded):
    from rathaus.finance.receivables import cancel_receivable

    t = seeded["musterstadt"]
    r = receivable(t)
    cancel_receivable(t, r.kassenzeichen, reason="Test", actor="kasse")
    items = clearing_of(t, [pay("26.00", f"KZ {kz.display(one_digit_off(r.kassenzeichen, 6))}", "C1")])
    assert clearing_suggestions(t, items) == {items[0].pk: []}
    assert clearing_suggestions(t, []) == {}


def test_other_tenants_receivables_are_never_suggested(seeded):
    t, other = seeded["musterstadt"], seeded["beispielhausen"]
    theirs = receivable(other)
    items = clearing_of(t, [pay("26.00", f"KZ {kz.display(one_digit_off(theirs.kassenzeichen, 9))}", "O1",
                                debtor_name="Erika Mustermann")])
    assert clearing_suggestions(t, items)[items[0].pk] == []


def test_suggestions_cost_a_fixed_number_of_queries(seeded):
    t = seeded["musterstadt"]
    rs = [receivable(t) for _ in range(6)]
    items = clearing_of(t, [pay("26.00", f"KZ {kz.display(one_digit_off(r.kassenzeichen, 7))} GEW-2026-{i:06d}",
                                f"Q{i}", debtor_name=f"Erika Mustermann {i}") for i, r in enumerate(rs)])
    with CaptureQueriesContext(connection) as ctx:
        s = clearing_suggestions(t, items)
    assert len(ctx.captured_queries) <= 5
    assert all(s[i.pk] for i in items)


@pytest.fixture
def kasse(seeded):
    c = Client()
    assert c.login(username="kasse", password="rathaus-demo")
    return c


def test_clearing_page_shows_suggestions_and_one_click_assigns(seeded, kasse, api):
    t = seeded["musterstadt"]
    r = receivable(t)
    tx = clearing_of(t, [pay("26.00", f"KZ {kz.display(one_digit_off(r.kassenzeichen, 5))}", "W1",
                             debtor_name="Konto Dritter")])[0]
    page = kasse.get("/kasse/klaerfaelle/").content.decode()
    assert "Vorschläge" in page and kz.display(r.kassenzeichen) in page
    assert "Kassenzeichen mit einer falschen Ziffer im Verwendungszweck; Betrag passt" in page
    assert re.search(r'name="kassenzeichen" value="' + re.escape(kz.display(r.kassenzeichen)) + '"', page)
    listed = api("kasse").get("/api/v1/clearing").json()
    assert listed[0]["suggestions"] == [{"kassenzeichen": kz.display(r.kassenzeichen), "debtor_name": r.debtor_name,
                                         "purpose": r.purpose, "open_amount": "26.00",
                                         "reasons": ["kz_typo", "amount"]}]
    en = Client(headers={"accept-language": "en"})
    assert en.login(username="kasse", password="rathaus-demo")
    assert "Kassenzeichen with one wrong digit in the remittance text" in en.get("/kasse/klaerfaelle/").content.decode()
    resp = kasse.post(f"/kasse/klaerfaelle/{tx.pk}/zuordnen/", {"kassenzeichen": kz.display(r.kassenzeichen),
                                                               "vermerk": "Vorschlag übernommen"})
    assert resp.status_code == 302
    r.refresh_from_db()
    tx.refresh_from_db()
    assert r.status == "paid" and tx.state == "assigned" and tx.note == "Vorschlag übernommen"
    # read-only roles see the suggestions, not the buttons
    km = Client()
    assert km.login(username="kaemmerei", password="rathaus-demo")
    tx2 = clearing_of(t, [pay("26.00", f"KZ {kz.display(one_digit_off(receivable(t).kassenzeichen, 5))}", "W2")],
                      statement_id="S-2")[0]
    page = km.get("/kasse/klaerfaelle/").content.decode()
    assert "Vorschläge" in page and f"/kasse/klaerfaelle/{tx2.pk}/zuordnen/" not in page
