"""Load a Kontenrahmen and Produktrahmen (data files under ledger/data/) into a tenant.

Idempotent: existing accounts/products are updated by number, nothing is deleted (accounts with
postings must stay). The account kind follows the NKF class of the number: 0-3 balance sheet,
4/5 Ergebnisrechnung, 6/7 Finanzrechnung, 8 closing accounts.
"""

from __future__ import annotations

from pathlib import Path

import yaml
from django.db import transaction

from .models import Account, CostCentre, Product

DATA_DIR = Path(__file__).resolve().parent / "data"
DEFAULT_CHART = DATA_DIR / "nkf-nrw.yaml"


def kind_for(number: str) -> str:
    c = number[0]
    if c in "0123":
        return Account.Kind.BALANCE
    if c in "45":
        return Account.Kind.RESULT
    if c in "67":
        return Account.Kind.CASH
    return Account.Kind.CLOSING


def load_chart(tenant, path: Path = DEFAULT_CHART) -> dict:
    data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    counts = {"accounts": 0, "products": 0, "cost_centres": 0}
    with transaction.atomic():
        for a in data.get("accounts", []):
            number = str(a["number"])
            Account.objects.update_or_create(
                tenant=tenant, number=number,
                defaults={"name": a["name"], "kind": a.get("kind") or kind_for(number),
                          "liquid": bool(a.get("liquid", False)), "role": a.get("role", "")},
            )
            counts["accounts"] += 1
        for p in data.get("products", []):
            Product.objects.update_or_create(tenant=tenant, number=str(p["number"]), defaults={"name": p["name"]})
            counts["products"] += 1
        for c in data.get("cost_centres", []):
            from rathaus.tenants.models import OrgUnit

            unit = OrgUnit.objects.filter(tenant=tenant, slug=c["org_unit"]).first() if c.get("org_unit") else None
            CostCentre.objects.update_or_create(tenant=tenant, code=str(c["code"]),
                                                defaults={"name": c["name"], "org_unit": unit})
            counts["cost_centres"] += 1
    return counts
