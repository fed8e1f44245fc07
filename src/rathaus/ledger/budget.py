"""A minimal budget (Haushaltsansatz per fiscal year, product and account: `models.BudgetLine`) and the availability check
used at the Anordnung of a payable. Full budget management (Obligo, Budgetübertragungen,
Deckungsringe) is a later step: it replaces `check_budget`, which is the one entry point.

Available = Ansatz − posted expenses (debit − credit of the account and product in the year).
Accounts without a budget line are not budget-controlled (`controlled=False`, always ok)."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from django.db.models import Sum

from .models import BudgetLine, JournalLine

ZERO = Decimal("0.00")


@dataclass
class BudgetCheck:
    ok: bool
    controlled: bool
    budget: Decimal
    spent: Decimal
    available: Decimal


def check_budget(tenant, *, year: int, product: str, account: str, amount: Decimal) -> BudgetCheck:
    line = BudgetLine.objects.filter(tenant=tenant, year=year, product=product, account=account).first()
    if line is None:
        return BudgetCheck(True, False, ZERO, ZERO, ZERO)
    agg = JournalLine.objects.filter(tenant=tenant, year=year, account__number=account,
                                     product__number=product).aggregate(d=Sum("debit"), c=Sum("credit"))
    spent = (agg["d"] or ZERO) - (agg["c"] or ZERO)
    available = line.amount - spent
    return BudgetCheck(available >= amount, True, line.amount, spent, available)
