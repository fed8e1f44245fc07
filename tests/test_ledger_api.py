"""Kämmerei API: reports, journal, manual postings, reversal, periods; roles, problem+json, tenant
isolation and constant query counts of the reports."""

import datetime as dt
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from rathaus.ledger.models import FiscalPeriod, JournalEntry
from rathaus.ledger.services import EntrySpec, Line, post_entries

PROBLEM = "application/problem+json"
YEAR = 2031
FEE = {
    "date": f"{YEAR}-03-15", "text": "Gebühr Gewerbeanmeldung",
    "lines": [
        {"account": "1611000", "debit": "26.00", "product": "02.2.01", "cost_centre": "320"},
        {"account": "4311000", "credit": "26.00", "product": "02.2.01", "cost_centre": "320"},
    ],
}


@pytest.fixture
def kaemmerei(api):
    return api("kaemmerei")


def bh_accounting(seeded):
    """An accounting member of Beispielhausen (the demo has none)."""
    from django.contrib.auth import get_user_model

    from rathaus.tenants.models import Membership

    user, _ = get_user_model().objects.get_or_create(username="bh-kaemmerei")
    Membership.objects.get_or_create(user=user, tenant=seeded["beispielhausen"], defaults={"roles": ["accounting"]})
    return "bh-kaemmerei"


def post(client, body=None, **changes):
    return client.post("/api/v1/ledger/entries", {**(body or FEE), **changes})


def test_manual_posting_and_reports(kaemmerei):
    r = post(kaemmerei)
    assert r.status_code == 201, r.content
    e = r.json()
    assert e["total"] == "26.00" and e["source_ref"].startswith("manual:") and e["source_type"] == "manual"
    assert e["lines"][0] == {"account": "1611000", "account_name": "Öffentlich-rechtliche Forderungen aus Gebühren",
                             "product": "02.2.01", "cost_centre": "320", "cash_account": None, "debit": "26.00",
                             "credit": "0.00", "text": ""}
    assert e["created_by"] == "kaemmerei" and e["reference"] == f"{YEAR}-{e['number']:07d}"

    tb = kaemmerei.get("/api/v1/ledger/trial-balance", year=YEAR).json()
    assert tb["rows"] == [
        {"account": "1611000", "name": "Öffentlich-rechtliche Forderungen aus Gebühren", "debit": "26.00",
         "credit": "0.00", "balance": "26.00"},
        {"account": "4311000", "name": "Verwaltungsgebühren", "debit": "0.00", "credit": "26.00", "balance": "-26.00"},
    ]
    assert tb["totals"] == {"debit": "26.00", "credit": "26.00", "balance": "0.00"} and tb["balanced"] is True

    er = kaemmerei.get("/api/v1/ledger/results", year=YEAR).json()
    prod = er["areas"][0]["products"][0]
    assert er["areas"][0]["area"] == "02" and prod["product"] == "02.2.01"
    assert (prod["income"], prod["expense"], prod["result"]) == ("26.00", "0.00", "26.00")
    assert {p["position"]: p["amount"] for p in er["positions"]}[4] == "26.00"
    assert er["totals"]["result"] == "26.00"

    cash = kaemmerei.get("/api/v1/ledger/cash", year=YEAR).json()
    assert cash["totals"]["saldo"] == "0.00" and cash["check"] is True


def test_payment_shows_in_cash_report(kaemmerei):
    post(kaemmerei)
    r = post(kaemmerei, text="Zahlung", lines=[
        {"account": "1810000", "debit": 26},
        {"account": "1611000", "credit": "26.00", "product": "02.2.01", "cash_account": "6311000"},
    ])
    assert r.status_code == 201, r.content
    cash = kaemmerei.get("/api/v1/ledger/cash", year=YEAR).json()
    assert cash["accounts"] == [{"account": "6311000", "name": "Einzahlungen aus Verwaltungsgebühren", "position": 4,
                                 "receipts": "26.00", "payments": "0.00", "flow": "26.00"}]
    assert cash["liquid"]["change"] == cash["totals"]["saldo"] == "26.00" and cash["check"] is True


@pytest.mark.parametrize("lines, pointer", [
    ([{"account": "1611000", "debit": "26.00", "product": "02.2.01"},
      {"account": "4311000", "credit": "25.00", "product": "02.2.01"}], "/lines"),
    ([{"account": "1611000", "debit": "1"}, {"account": "4311000", "credit": "1"}], "/lines/1/product"),
    ([{"account": "1611000", "debit": "1"}, {"account": "4999999", "credit": "1", "product": "02.2.01"}],
     "/lines/1/account"),
    ([{"account": "1611000", "debit": "1"}, {"account": "4311000", "credit": "1", "product": "99.1.01"}],
     "/lines/1/product"),
    ([{"account": "1810000", "debit": "1", "cash_account": "6311000"}, {"account": "1611000", "credit": "1"}],
     "/lines/0/cash_account"),
    ([{"account": "1810000", "debit": "1"}, {"account": "1611000", "credit": "1"}], "/lines"),
    ([{"account": "1611000", "debit": "0.001"}, {"account": "4311000", "credit": "0.001", "product": "02.2.01"}],
     "/lines/0/debit"),
    ([{"account": "1611000", "debit": "-5"}, {"account": "4311000", "credit": "-5", "product": "02.2.01"}],
     "/lines/0/debit"),
    ([{"account": "1611000", "debit": "abc"}, {"account": "4311000", "credit": "1", "product": "02.2.01"}],
     "/lines/0/debit"),
    ([{"account": "1611000", "debit": "1"}], "/lines"),
])
def test_invalid_postings_are_422_with_pointer(kaemmerei, lines, pointer):
    r = post(kaemmerei, lines=lines)
    assert r.status_code == 422, r.content
    assert r["Content-Type"] == PROBLEM
    assert pointer in [e["pointer"] for e in r.json()["errors"]]
    assert not JournalEntry.objects.filter(tenant__slug="musterstadt", source_type="manual").exists()


@pytest.mark.parametrize("changes, pointer", [
    ({"date": "2031-02-30"}, "/date"), ({"text": ""}, "/text"), ({"date": None}, "/date"),
    ({"lines": "x"}, "/lines"), ({"source_ref": "x" * 101}, "/source_ref"),
])
def test_malformed_requests_are_422(kaemmerei, changes, pointer):
    r = post(kaemmerei, **changes)
    assert r.status_code == 422 and r["Content-Type"] == PROBLEM
    assert pointer in [e["pointer"] for e in r.json()["errors"]]


def test_closed_period_is_409(kaemmerei):
    r = kaemmerei.post("/api/v1/ledger/periods", {"year": YEAR, "month": 3})
    assert r.status_code == 200 and r.json()["closed"] is True and r.json()["changed_by"] == "kaemmerei"
    r = post(kaemmerei)
    assert r.status_code == 409 and r["Content-Type"] == PROBLEM
    assert "abgeschlossen" in r.json()["detail"]
    assert post(kaemmerei, date=f"{YEAR}-04-01").status_code == 201
    kaemmerei.post("/api/v1/ledger/periods", {"year": YEAR, "month": 3, "closed": False})
    assert post(kaemmerei).status_code == 201
    kaemmerei.post("/api/v1/ledger/periods", {"year": YEAR})  # the whole year
    assert post(kaemmerei, date=f"{YEAR}-12-31").status_code == 409
    periods = kaemmerei.get("/api/v1/ledger/periods", year=YEAR).json()
    assert [(p["month"], p["closed"]) for p in periods] == [(0, True), (3, False)]


@pytest.mark.parametrize("body", [{"year": 1999}, {"year": YEAR, "month": 13}, {"month": 1}])
def test_bad_periods_are_422(kaemmerei, body):
    r = kaemmerei.post("/api/v1/ledger/periods", body)
    assert r.status_code == 422 and r["Content-Type"] == PROBLEM
    assert not FiscalPeriod.objects.exists()


def test_idempotency_by_source_ref(kaemmerei):
    r1 = post(kaemmerei, source_ref="beleg-4711")
    r2 = post(kaemmerei, source_ref="beleg-4711")
    assert (r1.status_code, r2.status_code) == (201, 200)
    assert r1.json()["id"] == r2.json()["id"] and r1.json()["source_ref"] == "manual:beleg-4711"
    assert JournalEntry.objects.filter(source_ref="manual:beleg-4711").count() == 1
    other = [{**FEE["lines"][0], "debit": "27.00"}, {**FEE["lines"][1], "credit": "27.00"}]
    r3 = post(kaemmerei, source_ref="beleg-4711", lines=other)
    assert r3.status_code == 409 and r3["Content-Type"] == PROBLEM


def test_manual_source_refs_cannot_take_system_refs(kaemmerei):
    r = post(kaemmerei, source_ref="receivable:1")
    assert r.status_code == 201 and r.json()["source_ref"] == "manual:receivable:1"


def test_reverse(kaemmerei):
    e = post(kaemmerei).json()
    r = kaemmerei.post(f"/api/v1/ledger/entries/{e['id']}/reverse", {"reason": "Tippfehler", "date": f"{YEAR}-03-16"})
    assert r.status_code == 201, r.content
    rev = r.json()
    assert rev["reversal_of"] == e["id"] and rev["text"].startswith("Storno")
    assert [(ln["account"], ln["debit"], ln["credit"]) for ln in rev["lines"]] == [
        ("1611000", "0.00", "26.00"), ("4311000", "26.00", "0.00")]
    assert kaemmerei.get(f"/api/v1/ledger/entries/{e['id']}").json()["reversed_by"] == rev["id"]
    again = kaemmerei.post(f"/api/v1/ledger/entries/{e['id']}/reverse", {"reason": "nochmal", "date": f"{YEAR}-03-16"})
    assert again.status_code == 409
    assert kaemmerei.post(f"/api/v1/ledger/entries/{e['id']}/reverse", {"reason": ""}).status_code == 422
    tb = kaemmerei.get("/api/v1/ledger/trial-balance", year=YEAR).json()
    assert {row["balance"] for row in tb["rows"]} == {"0.00"}


def test_entries_list_filters_and_pages(kaemmerei):
    for i in range(3):
        post(kaemmerei, source_ref=f"a{i}")
    post(kaemmerei, source_ref="b", lines=[
        {"account": "1611000", "debit": "5.00", "product": "12.1.01"},
        {"account": "4321000", "credit": "5.00", "product": "12.1.01"}])
    page = kaemmerei.get("/api/v1/ledger/entries", year=YEAR, limit=2).json()
    assert page["count"] == 4 and len(page["items"]) == 2 and page["items"][0]["source_ref"] == "manual:b"
    assert kaemmerei.get("/api/v1/ledger/entries", year=YEAR, offset=2, limit=2).json()["items"][1]["source_ref"] \
        == "manual:a0"
    assert kaemmerei.get("/api/v1/ledger/entries", account="4321000").json()["count"] == 1
    assert kaemmerei.get("/api/v1/ledger/entries", source="manual:a").json()["count"] == 3
    assert kaemmerei.get("/api/v1/ledger/entries", year=YEAR + 1).json()["count"] == 0
    assert kaemmerei.get("/api/v1/ledger/entries", account="x\x00").json()["count"] == 0
    assert kaemmerei.get("/api/v1/ledger/entries", limit=0).status_code == 422


def test_accounts_and_products(kaemmerei):
    accounts = {a["number"]: a for a in kaemmerei.get("/api/v1/ledger/accounts").json()}
    assert accounts["4311000"]["position"] == 4
    assert accounts["4311000"]["position_name"] == "Öffentlich-rechtliche Leistungsentgelte"
    assert accounts["1810000"]["liquid"] is True and accounts["1810000"]["role"] == "bank"
    assert accounts["6311000"]["kind"] == "cash"
    products = {p["number"] for p in kaemmerei.get("/api/v1/ledger/products").json()}
    assert {"02.2.01", "12.1.01", "16.1.01"} <= products


@pytest.mark.parametrize("year", ["1999", "2201", "abc"])
def test_year_out_of_range_is_422(kaemmerei, year):
    for path in ("trial-balance", "results", "cash"):
        r = kaemmerei.get(f"/api/v1/ledger/{path}", year=year)
        assert r.status_code == 422 and r["Content-Type"] == PROBLEM
        assert r.json()["errors"][0]["pointer"] == "/year"
    assert kaemmerei.get("/api/v1/ledger/trial-balance").status_code == 422  # year is required


# --------------------------------------------------------------------------- roles and tenants

def test_roles(api):
    clerk, kasse, admin = api("sachbearbeitung"), api("kasse"), api("admin")
    for path in ("trial-balance?year=2031", "results?year=2031", "cash?year=2031", "accounts", "entries"):
        r = clerk.get(f"/api/v1/ledger/{path}")
        assert r.status_code == 403 and r["Content-Type"] == PROBLEM
        assert kasse.get(f"/api/v1/ledger/{path}").status_code == 200  # Stadtkasse reads
        assert admin.get(f"/api/v1/ledger/{path}").status_code == 200
    assert post(clerk).status_code == 403
    assert post(kasse).status_code == 403
    assert kasse.post("/api/v1/ledger/periods", {"year": YEAR}).status_code == 403
    assert post(admin).status_code == 201
    assert api().get("/api/v1/ledger/trial-balance", year=YEAR).status_code == 401
    assert not FiscalPeriod.objects.exists()


def test_tenant_isolation(api, seeded):
    ms = api("kaemmerei")
    bh = api(bh_accounting(seeded))
    e = post(ms).json()
    b = post(bh).json()
    for path in (f"/api/v1/ledger/entries/{e['id']}",):
        r = bh.get(path)
        assert r.status_code == 404 and r["Content-Type"] == PROBLEM
    assert bh.post(f"/api/v1/ledger/entries/{e['id']}/reverse", {"reason": "x"}).status_code == 404
    assert ms.get(f"/api/v1/ledger/entries/{b['id']}").status_code == 404
    assert [i["id"] for i in bh.get("/api/v1/ledger/entries").json()["items"]] == [b["id"]]
    tb = bh.get("/api/v1/ledger/trial-balance", year=YEAR).json()
    assert tb["totals"]["debit"] == "26.00"  # only its own posting
    bh.post("/api/v1/ledger/periods", {"year": YEAR})
    assert post(ms, source_ref="after-bh-closed").status_code == 201  # Musterstadt's year stays open


# --------------------------------------------------------------------------- query counts

def _bulk(tenant, n, start=0):
    post_entries(tenant, [EntrySpec(date=dt.date(YEAR, 1 + i % 12, 1), text="x", source_ref=f"q:{start + i}", lines=[
        Line(account="1611000", debit=Decimal("1.00"), product="02.2.01"),
        Line(account="4311000", credit=Decimal("1.00"), product="02.2.01" if i % 2 else "12.1.01"),
    ]) for i in range(n)], actor="test")


def _count(client, path, **params):
    client.get(path, **params)  # warm up (token lookup cache etc.)
    with CaptureQueriesContext(connection) as ctx:
        r = client.get(path, **params)
    assert r.status_code == 200
    return len(ctx.captured_queries)


@pytest.mark.parametrize("path, params", [
    ("/api/v1/ledger/trial-balance", {"year": YEAR}), ("/api/v1/ledger/results", {"year": YEAR}),
    ("/api/v1/ledger/cash", {"year": YEAR}), ("/api/v1/ledger/entries", {"year": YEAR}),
])
def test_report_query_counts_do_not_grow(api, seeded, path, params):
    client = api("kaemmerei")
    _bulk(seeded["musterstadt"], 5)
    few = _count(client, path, **params)
    _bulk(seeded["musterstadt"], 45, start=5)
    many = _count(client, path, **params)
    assert few == many
    assert few <= 8
