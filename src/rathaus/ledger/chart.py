"""Load a Kontenrahmen and Produktrahmen (data files under ledger/data/) into a tenant.

Idempotent: existing accounts/products are updated by number, nothing is deleted (accounts with
postings must stay). The account kind follows the NKF class of the number: 0-3 balance sheet,
4/5 Ergebnisrechnung, 6/7 Finanzrechnung, 8 closing accounts. Kontengruppen/-arten (`groups`) and
Produktbereiche/-gruppen (`product_groups`) are stored as `ChartGroup`; an account's Ergebnis-/
Finanzrechnung position is its own `position` or that of its longest group prefix.

`input_vat_deductible: true` on a product or cost centre marks a Betrieb gewerblicher Art (Vorsteuerabzug,
see ledger/models.py). The flag is only written when the file gives it, so a flag set by hand survives a
reload of a file that does not mention it.
"""

from __future__ import annotations

from pathlib import Path

import yaml
from django.db import transaction

from rathaus.tenants.models import OrgUnit

from .models import Account, ChartGroup, CostCentre, Product

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


def _position_for(number: str, groups: dict[str, int | None]) -> int | None:
    """The position of the longest Kontengruppe/-art prefix of an account number that has one."""
    for length in range(min(len(number), 4), 0, -1):
        pos = groups.get(number[:length])
        if pos is not None:
            return pos
    return None


def read_chart(path: Path = DEFAULT_CHART) -> dict:
    data = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    if not isinstance(data, dict):
        raise ValueError(f"{path}: erwartet wird ein YAML-Dokument mit accounts/products")
    return data


def _sync(model, tenant, key: str, rows: dict[str, dict], scope: dict | None = None) -> int:
    """Create or update `rows` ({key value: field values}) in bulk: three queries per table."""
    scope = scope or {}
    existing = {getattr(o, key): o for o in model.objects.filter(tenant=tenant, **scope)}
    new, changed, fields = [], [], set()
    for k, values in rows.items():
        obj = existing.get(k)
        if obj is None:
            new.append(model(tenant=tenant, **scope, **{key: k}, **values))
            continue
        diff = [f for f, v in values.items() if getattr(obj, f) != v]
        if diff:
            for f in diff:
                setattr(obj, f, values[f])
            changed.append(obj)
            fields.update(diff)
    if new:
        model.objects.bulk_create(new, batch_size=500)
    if changed:
        model.objects.bulk_update(changed, sorted(fields), batch_size=500)
    return len(rows)


def _vat_flag(row: dict) -> dict:
    return {"input_vat_deductible": bool(row["input_vat_deductible"])} if "input_vat_deductible" in row else {}


def load_chart(tenant, path: Path = DEFAULT_CHART) -> dict:
    """Load (or update) the tenant's chart from a YAML file; returns counts. Idempotent."""
    data = read_chart(path)
    groups = {str(g["number"]): {"name": g["name"], "position": g.get("position")} for g in data.get("groups", [])}
    group_positions = {n: g["position"] for n, g in groups.items()}
    accounts = {}
    for a in data.get("accounts", []):
        number = str(a["number"])
        kind = a.get("kind") or kind_for(number)
        position = a["position"] if "position" in a else (
            _position_for(number, group_positions) if kind in (Account.Kind.RESULT, Account.Kind.CASH) else None)
        accounts[number] = {"name": a["name"], "kind": kind, "position": position,
                            "liquid": bool(a.get("liquid", False)), "role": a.get("role", "")}
    product_groups = {str(g["number"]): {"name": g["name"], "position": None} for g in data.get("product_groups", [])}
    products = {str(p["number"]): {"name": p["name"], **_vat_flag(p)} for p in data.get("products", [])}
    with transaction.atomic():
        counts = {
            "groups": _sync(ChartGroup, tenant, "number", groups, {"kind": ChartGroup.Kind.ACCOUNT}),
            "accounts": 0,
            "product_groups": _sync(ChartGroup, tenant, "number", product_groups, {"kind": ChartGroup.Kind.PRODUCT}),
            "products": _sync(Product, tenant, "number", products),
            "cost_centres": 0,
        }
        # roles are unique per tenant: clear roles that move to another account before assigning them
        moving = {v["role"]: k for k, v in accounts.items() if v["role"]}
        if moving:
            stale = Account.objects.filter(tenant=tenant, role__in=list(moving)).exclude(number__in=list(moving.values()))
            stale.update(role="")
        counts["accounts"] = _sync(Account, tenant, "number", accounts)
        for c in data.get("cost_centres", []):
            unit = OrgUnit.objects.filter(tenant=tenant, slug=c["org_unit"]).first() if c.get("org_unit") else None
            CostCentre.objects.update_or_create(tenant=tenant, code=str(c["code"]),
                                                defaults={"name": c["name"], "org_unit": unit, **_vat_flag(c)})
            counts["cost_centres"] += 1
    return counts
