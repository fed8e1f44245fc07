"""Demo municipality "Musterstadt" (and "Beispielhausen"), idempotent."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

from django.contrib.auth import get_user_model
from django.db import transaction

from rathaus.cases.models import Case, Task, TaskState
from rathaus.cases.services import complete_task
from rathaus.catalog.services import demo_package_dirs, package_is_public, publish_package
from rathaus.einvoice.models import LeitwegRoute
from rathaus.finance.receivables import ensure_bank_account
from rathaus.intake.services import submit
from rathaus.ledger.chart import load_chart
from rathaus.ledger.models import BudgetLine, CostCentre
from rathaus.tenants.models import Membership, OrgUnit, Tenant
from rathaus.tenants.services import invalidate_org_cache
from rathaus.webhooks.models import Subscription
from rathaus.webhooks.security import allow_private
from rathaus.webhooks.services import create_subscription

from .einvoices import seed_demo_invoices
from .receivers import AGENCIES

DEMO_PASSWORD = "rathaus-demo"

TENANTS = [
    {
        "slug": "musterstadt", "name": "Stadt Musterstadt", "ags": "09999999", "street": "Marktplatz 1",
        "postal_code": "99999", "city": "Musterstadt", "email": "rathaus@musterstadt.example",
        "phone": "+49 9999 123-0", "website": "https://www.musterstadt.example",
        "leitweg_id": "09999999-DEMO-57", "bank_name": "Sparkasse Musterstadt",
        "iban": "DE02120300000000202051", "bic": "BYLADEM1001", "creditor_id": "DE98ZZZ09999999999",
        "hostnames": ["localhost", "127.0.0.1", "musterstadt.localhost"],
    },
    {
        "slug": "beispielhausen", "name": "Gemeinde Beispielhausen", "ags": "05999999", "street": "Rathausweg 2",
        "postal_code": "59999", "city": "Beispielhausen", "email": "info@beispielhausen.example",
        "leitweg_id": "05999999-BH-63", "bank_name": "Volksbank Beispielhausen",
        "iban": "DE89370400440532013000", "bic": "COBADEFFXXX", "creditor_id": "",
        "hostnames": ["beispielhausen.localhost"],
    },
]

# slug, name, parent
ORG_UNITS = [
    ("verwaltung", "Stadtverwaltung", None),
    ("buergerdienste", "Fachbereich 1 – Bürgerdienste, Ordnung und Steuern", "verwaltung"),
    ("ordnungsamt", "Ordnungsamt", "buergerdienste"),
    ("steueramt", "Steueramt", "buergerdienste"),
    ("finanzen", "Fachbereich 2 – Finanzen", "verwaltung"),
    ("kaemmerei", "Kämmerei", "finanzen"),
    ("stadtkasse", "Stadtkasse", "finanzen"),
    ("bauen", "Fachbereich 3 – Bauen und Umwelt", "verwaltung"),
    ("tiefbauamt", "Tiefbauamt", "bauen"),
]

# username, first, last, tenant, org unit, roles
USERS = [
    ("sachbearbeitung", "Sabine", "Sachbearbeiter", "musterstadt", "buergerdienste", ["clerk"]),
    ("leitung", "Lars", "Leiter", "musterstadt", "buergerdienste", ["clerk", "approver"]),
    ("stellvertretung", "Stefanie", "Stellvertreterin", "musterstadt", "buergerdienste", ["approver"]),
    ("tiefbau", "Tim", "Tiefbauer", "musterstadt", "tiefbauamt", ["clerk"]),
    ("kasse", "Karin", "Kassiererin", "musterstadt", "stadtkasse", ["treasury"]),
    ("kaemmerei", "Klaus", "Kämmerer", "musterstadt", "kaemmerei", ["accounting"]),
    ("admin", "Anna", "Administratorin", "musterstadt", None, ["admin"]),
    ("bh-sachbearbeitung", "Bernd", "Beispiel", "beispielhausen", "buergerdienste", ["clerk", "approver"]),
    ("bh-kasse", "Berta", "Beispiel", "beispielhausen", "finanzen", ["treasury", "accounting"]),
]


def decide_demo_case(tenant, idempotency_key: str, username: str) -> None:
    """Approve one demo case, so that the demo starts with a notice (PDF/A) and an open receivable."""
    case = Case.objects.filter(tenant=tenant, idempotency_key=idempotency_key).first()
    member = Membership.objects.filter(tenant=tenant, user__username=username).first()
    if case is None or member is None:
        return
    for task in Task.objects.filter(case=case, state=TaskState.OPEN).order_by("id"):
        complete_task(member, task.pk, {"decision": "approve"})


# Kostenstellen of the demo administration (code, name, org unit)
COST_CENTRES = [
    ("210", "Steueramt", "steueramt"),
    ("220", "Stadtkasse", "stadtkasse"),
    ("230", "Kämmerei", "kaemmerei"),
    ("320", "Ordnungsamt", "ordnungsamt"),
    ("660", "Tiefbauamt / Straßen", "tiefbauamt"),
]


def seed_finance(tenant) -> None:
    """Kontenplan (NKF NRW excerpt), Produkte, Kostenstellen and the Stadtkasse's bank account."""
    load_chart(tenant)
    for code, name, unit in COST_CENTRES:
        CostCentre.objects.update_or_create(
            tenant=tenant, code=code,
            defaults={"name": name, "org_unit": OrgUnit.objects.filter(tenant=tenant, slug=unit).first()})
    ensure_bank_account(tenant)
    seed_einvoice_routing(tenant)


# Budget 2026 (Haushaltsansatz) for the demo's expense lines: product, account, amount
BUDGET = [("02.2.01", "5431000", "5000.00"), ("12.1.01", "5221000", "250000.00")]


def seed_einvoice_routing(tenant) -> None:
    """Leitweg-IDs of the demo administration -> receiving org unit; a small budget for the expenses."""
    if tenant.leitweg_id:
        unit = OrgUnit.objects.filter(tenant=tenant, slug="ordnungsamt").first()
        if unit is not None:
            LeitwegRoute.objects.update_or_create(leitweg_id=tenant.leitweg_id,
                                                  defaults={"tenant": tenant, "org_unit": unit,
                                                            "note": "Hauptadresse (Demo): Ordnungsamt"})
    year = dt.date.today().year
    for product, account, amount in BUDGET:
        BudgetLine.objects.update_or_create(tenant=tenant, year=year, product=product, account=account,
                                            defaults={"amount": Decimal(amount)})


def seed_agency_webhooks(tenant) -> list[Subscription]:
    """§ 14 GewO: a Gewerbeanzeige goes to the Finanzamt, the IHK, the Statistisches Landesamt and the
    Gewerbeaufsicht – in the demo as one webhook each to a receiver on loopback (`rathaus demo_receivers`).
    Only where private addresses are allowed (RATHAUS_WEBHOOKS_ALLOW_PRIVATE=1, as `make demo` sets it)."""
    if not allow_private():
        return []
    subs = []
    for _key, name, port in AGENCIES:
        url = f"http://127.0.0.1:{port}/gewerbe"
        sub = Subscription.objects.filter(tenant=tenant, url=url).first()
        subs.append(sub or create_subscription(tenant, actor="seed-demo", url=url, name=name,
                                               events=["case.*", "notice.*"]))
    return subs


@transaction.atomic
def seed_demo(with_cases: bool = True, stdout=None) -> dict:
    User = get_user_model()
    tenants = {}
    for spec in TENANTS:
        t, _ = Tenant.objects.update_or_create(slug=spec["slug"], defaults=spec)
        t.full_clean()
        tenants[t.slug] = t
        units = {}
        for slug, name, parent in ORG_UNITS:
            u, _ = OrgUnit.objects.update_or_create(
                tenant=t, slug=slug, defaults={"name": name, "parent": units.get(parent)}
            )
            units[slug] = u
    invalidate_org_cache()
    for username, first, last, tslug, unit, roles in USERS:
        user, created = User.objects.get_or_create(
            username=username, defaults={"first_name": first, "last_name": last,
                                         "email": f"{username}@{tslug}.example"}
        )
        if created or not user.has_usable_password():
            user.set_password(DEMO_PASSWORD)
            user.save()
        tenant = tenants[tslug]
        org = OrgUnit.objects.get(tenant=tenant, slug=unit) if unit else None
        Membership.objects.update_or_create(user=user, tenant=tenant, defaults={"org_unit": org, "roles": roles})
        if username == "admin":
            user.is_staff = user.is_superuser = True
            user.save(update_fields=["is_staff", "is_superuser"])
    for t in tenants.values():
        seed_finance(t)
    seed_agency_webhooks(tenants["musterstadt"])
    published = []
    for t in tenants.values():
        for d in demo_package_dirs():
            sv, created = publish_package(d, tenant=t, actor="seed-demo")
            published.append((t.slug, sv.service.key, sv.version, created))
    cases = []
    if with_cases:
        for t in tenants.values():
            for d in demo_package_dirs():
                if not package_is_public(d):
                    continue  # started by rathaus itself (e.g. inbound invoices), not by applicants
                examples = json.loads((d / "form.schema.json").read_text(encoding="utf-8")).get("examples") or []
                for i, ex in enumerate(examples[:2]):
                    r = submit(t, d.name, ex, idempotency_key=f"demo-{d.name}-{i + 1}", channel="web")
                    cases.append((t.slug, r.case.reference, r.access_code, r.created))
    invoices = []
    if with_cases:
        decide_demo_case(tenants["musterstadt"], "demo-gewerbeanmeldung-1", "sachbearbeitung")
        invoices = seed_demo_invoices(tenants["musterstadt"])
    return {"tenants": list(tenants), "published": published, "cases": cases, "invoices": invoices}
