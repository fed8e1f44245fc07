"""Reports of the Doppik ledger for one fiscal year: Summen- und Saldenliste (trial balance),
Ergebnisrechnung (by product and by ER position) and Finanzrechnung (by FR account and position).

Every report aggregates in the database (GROUP BY over the journal lines of the year); Python only
combines the grouped rows, whose number is bounded by the chart of accounts and the products, not by
the number of postings. So each report costs a constant number of queries (SQLite and PostgreSQL).
Amounts are Decimal; the API renders them as strings with two decimals.
"""

from __future__ import annotations

from decimal import Decimal

from django.db.models import DecimalField, Sum, Value
from django.db.models.functions import Coalesce

from . import positions
from .models import Account, ChartGroup, JournalLine, Product

ZERO = Decimal("0.00")
_MONEY = DecimalField(max_digits=17, decimal_places=2)


def _sum(expr):
    return Coalesce(Sum(expr, output_field=_MONEY), Value(ZERO, output_field=_MONEY), output_field=_MONEY)


def _d(value) -> Decimal:
    return Decimal(value or 0).quantize(Decimal("0.01"))


def _lines(tenant, year: int):
    return JournalLine.objects.filter(tenant=tenant, year=year)


def _group_names(tenant, kind: str) -> dict[str, str]:
    return dict(ChartGroup.objects.filter(tenant=tenant, kind=kind).values_list("number", "name"))


# --------------------------------------------------------------------------- Summen- und Saldenliste

def trial_balance(tenant, year: int) -> dict:
    """Per account with postings in the year: debit, credit, balance (= debit − credit); subtotals per
    Kontenklasse; totals (debits equal credits, the balances sum to zero)."""
    rows = (
        _lines(tenant, year)
        .values("account_id", "account__number", "account__name")
        .annotate(debit=_sum("debit"), credit=_sum("credit"))
        .order_by("account__number")
    )
    out, classes = [], {}
    total_d = total_c = ZERO
    for r in rows:
        d, c = _d(r["debit"]), _d(r["credit"])
        number = r["account__number"]
        out.append({"account": number, "name": r["account__name"], "debit": d, "credit": c, "balance": d - c})
        cls = classes.setdefault(number[0], {"debit": ZERO, "credit": ZERO})
        cls["debit"] += d
        cls["credit"] += c
        total_d += d
        total_c += c
    names = _group_names(tenant, ChartGroup.Kind.ACCOUNT)
    return {
        "year": year,
        "rows": out,
        "classes": [{"class": k, "name": names.get(k, ""), "debit": v["debit"], "credit": v["credit"],
                     "balance": v["debit"] - v["credit"]} for k, v in sorted(classes.items())],
        "totals": {"debit": total_d, "credit": total_c, "balance": total_d - total_c},
        "balanced": total_d == total_c,
    }


# --------------------------------------------------------------------------- Ergebnisrechnung

def _er_amount(account_class: str, debit: Decimal, credit: Decimal) -> tuple[Decimal, Decimal]:
    """(Ertrag, Aufwand) of a grouped row: class 4 credit − debit, class 5 debit − credit."""
    if account_class == "4":
        return credit - debit, ZERO
    return ZERO, debit - credit


def results(tenant, year: int) -> dict:
    """Ergebnisrechnung of the year: by ER position (§ 2 KomHVO NRW scheme with totals) and by
    Produktbereich → Produkt (Erträge, Aufwendungen, Ergebnis, and their ER positions)."""
    grouped = (
        _lines(tenant, year)
        .filter(account__kind=Account.Kind.RESULT)
        .values("product_id", "account__number", "account__position")
        .annotate(debit=_sum("debit"), credit=_sum("credit"))
        .order_by()
    )
    items: dict[int, Decimal] = {}
    unassigned = ZERO  # result accounts without a position (a chart without groups): Ergebnis only
    by_product: dict[int | None, dict] = {}
    total_in = total_out = ZERO
    for r in grouped:
        number, pos = r["account__number"], r["account__position"]
        income, expense = _er_amount(number[0], _d(r["debit"]), _d(r["credit"]))
        total_in += income
        total_out += expense
        if pos is None:
            unassigned += income - expense
        else:
            items[pos] = items.get(pos, ZERO) + income + expense
        p = by_product.setdefault(r["product_id"], {"income": ZERO, "expense": ZERO, "positions": {}})
        p["income"] += income
        p["expense"] += expense
        if pos is not None:
            p["positions"][pos] = p["positions"].get(pos, ZERO) + income + expense
    products = {p.pk: p for p in Product.objects.filter(tenant=tenant, pk__in=[k for k in by_product if k])}
    area_names = _group_names(tenant, ChartGroup.Kind.PRODUCT)
    areas: dict[str, dict] = {}
    for pid, agg in by_product.items():
        prod = products.get(pid)
        number = prod.number if prod else "–"
        area_no = number.split(".")[0] if prod else "–"
        area = areas.setdefault(area_no, {"area": area_no, "name": area_names.get(area_no, ""),
                                          "income": ZERO, "expense": ZERO, "products": []})
        area["income"] += agg["income"]
        area["expense"] += agg["expense"]
        area["products"].append({
            "product": number, "name": prod.name if prod else "ohne Produkt",
            "income": agg["income"], "expense": agg["expense"], "result": agg["income"] - agg["expense"],
            "positions": [{"position": k, "name": positions.ER_NAMES.get(k, ""), "amount": v}
                          for k, v in sorted(agg["positions"].items())],
        })
    area_list = []
    for key in sorted(areas):
        a = areas[key]
        a["result"] = a["income"] - a["expense"]
        a["products"].sort(key=lambda x: x["product"])
        area_list.append(a)
    return {
        "year": year,
        "positions": positions.evaluate(positions.ER, items),
        "areas": area_list,
        "totals": {"income": total_in, "expense": total_out, "result": total_in - total_out},
        "unassigned": unassigned,
    }


# --------------------------------------------------------------------------- Finanzrechnung

def cash(tenant, year: int) -> dict:
    """Finanzrechnung of the year from the Finanzrechnungskonto on the counter-lines of movements of
    liquid funds (flow = credit − debit: positive Einzahlung, negative Auszahlung), by account and by
    FR position (§ 3 KomHVO NRW scheme); next to it the change of the liquid accounts (debit − credit),
    which must equal the Finanzrechnung total."""
    flows = (
        _lines(tenant, year)
        .filter(cash_account__isnull=False)
        .values("cash_account__number", "cash_account__name", "cash_account__position")
        .annotate(inflow=_sum("credit"), outflow=_sum("debit"))
        .order_by("cash_account__number")
    )
    accounts, items = [], {}
    total_in = total_out = ZERO
    for r in flows:
        inflow, outflow = _d(r["inflow"]), _d(r["outflow"])
        flow = inflow - outflow
        pos = r["cash_account__position"]
        accounts.append({"account": r["cash_account__number"], "name": r["cash_account__name"], "position": pos,
                         "receipts": inflow, "payments": outflow, "flow": flow})
        total_in += inflow
        total_out += outflow
        if pos is not None:
            amount = -flow if pos in positions.FR_OUT else flow
            items[pos] = items.get(pos, ZERO) + amount
    liquid = (
        _lines(tenant, year)
        .filter(account__liquid=True)
        .values("account__number", "account__name")
        .annotate(debit=_sum("debit"), credit=_sum("credit"))
        .order_by("account__number")
    )
    liquid_rows, liquid_change = [], ZERO
    for r in liquid:
        change = _d(r["debit"]) - _d(r["credit"])
        liquid_rows.append({"account": r["account__number"], "name": r["account__name"],
                            "debit": _d(r["debit"]), "credit": _d(r["credit"]), "change": change})
        liquid_change += change
    saldo = total_in - total_out
    return {
        "year": year,
        "accounts": accounts,
        "positions": positions.evaluate(positions.FR, items),
        "totals": {"receipts": total_in, "payments": total_out, "saldo": saldo},
        "liquid": {"accounts": liquid_rows, "change": liquid_change},
        "check": saldo == liquid_change,
    }


def journal_years(tenant) -> list[int]:
    years = set(JournalLine.objects.filter(tenant=tenant).values_list("year", flat=True).distinct())
    return sorted(years)

