"""A minimal budget (Haushaltsansatz per fiscal year, product and account) and the availability check
used at the Anordnung of a payable. Full budget management (Obligo, Budgetübertragungen,
Deckungsringe) is a later step: it replaces `check_budget`, which is the one entry point.

Available = Ansatz − posted expenses (debit − credit of the account and product in the year).
Accounts without a budget line are not budget-controlled (`controlled=False`, always ok)."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from django.db import models
from django.db.models import Sum

from rathaus.tenants.models import Tenant

ZERO = Decimal("0.00")


class BudgetLine(models.Model):
    tenant = models.ForeignKey(Tenant, on_delete=models.PROTECT, related_name="budget_lines")
    year = models.PositiveIntegerField("Haushaltsjahr")
    product = models.CharField("Produkt", max_length=20)
    account = models.CharField("Konto", max_length=12)
    amount = models.DecimalField("Ansatz", max_digits=15, decimal_places=2)

    class Meta:
        app_label = "ledger"
        verbose_name = "Haushaltsansatz"
        verbose_name_plural = "Haushaltsansätze"
        constraints = [models.UniqueConstraint(fields=["tenant", "year", "product", "account"],
                                               name="budget_unique_line")]

    def __str__(self):
        return f"{self.year} {self.product} {self.account}: {self.amount}"


@dataclass
class BudgetCheck:
    ok: bool
    controlled: bool
    budget: Decimal
    spent: Decimal
    available: Decimal


def check_budget(tenant, *, year: int, product: str, account: str, amount: Decimal) -> BudgetCheck:
    from .models import JournalLine

    line = BudgetLine.objects.filter(tenant=tenant, year=year, product=product, account=account).first()
    if line is None:
        return BudgetCheck(True, False, ZERO, ZERO, ZERO)
    agg = JournalLine.objects.filter(tenant=tenant, year=year, account__number=account,
                                     product__number=product).aggregate(d=Sum("debit"), c=Sum("credit"))
    spent = (agg["d"] or ZERO) - (agg["c"] or ZERO)
    available = line.amount - spent
    return BudgetCheck(available >= amount, True, line.amount, spent, available)
