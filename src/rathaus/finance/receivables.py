"""Receivables (Sollstellung) with their Kassenzeichen, and the municipal account they are paid to.

- `create_receivable` / `create_receivable_for_case`: a receivable with a new Kassenzeichen, posted
  Forderung an Ertrag (`postings.sollstellung_lines`); for a case from the fee rules of its service version;
- `cancel_receivable`: Storno while nothing has been paid (the Sollstellung is reversed, never deleted);
- `receivables_for`, `get_receivable`; `case_fees`: the fees of a case as its pages show them;
- `ensure_bank_account`, `pay_to`: the tenant's main account, printed on notices.

Rounding: fee amounts are rounded per fee item to full cents, half up (catalog/fees.py `round_cents`); the
receivable's amount is the sum of its rounded lines; nothing is rounded later. Payments on receivables are
booked by the bank statement import (`bank.importer`) and the clearing list (`clearing`), both deciding
with `matching` and posting with `postings`.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from django.db import connections, router, transaction
from django.db.models import Max, Q
from django.utils import timezone

from rathaus.catalog.fees import compute_fees
from rathaus.core.errors import Conflict, Invalid, NotFound
from rathaus.core.i18n import choice_label
from rathaus.core.jsonpointer import resolve as resolve_pointer
from rathaus.events.services import event_row, record_change
from rathaus.ledger import services as ledger
from rathaus.ledger.models import Account, JournalEntry
from rathaus.tenants import numbering

from . import kassenzeichen as kzlib
from .models import BankAccount, Receivable, ReceivableLine, ReceivableStatus
from .postings import sollstellung_lines

ZERO = Decimal("0.00")
DEFAULT_DUE_DAYS = 30
OPEN_STATES = (ReceivableStatus.OPEN, ReceivableStatus.PARTIALLY_PAID)


# --------------------------------------------------------------------------- bank accounts

def ensure_bank_account(tenant) -> BankAccount | None:
    """The tenant's main account (from its master data) as a BankAccount, created on first use."""
    acc = BankAccount.objects.filter(tenant=tenant, active=True).order_by("id").first()
    if acc is not None or not tenant.iban:
        return acc
    bank = Account.objects.filter(tenant=tenant, role=Account.Role.BANK).first()
    acc, _ = BankAccount.objects.get_or_create(
        tenant=tenant, iban=tenant.iban.replace(" ", "").upper(),
        defaults={"bic": tenant.bic, "name": tenant.bank_name or "Girokonto Stadtkasse",
                  "ledger_account": bank.number if bank else "1810000"},
    )
    return acc


def _main_account(tenant_id: int) -> tuple[str, str] | None:
    """(IBAN, BIC) of the tenant's main account, the one `ensure_bank_account` returns: plain SQL, as it is
    read for every notice and the ORM's query building cost several times the query."""
    table = BankAccount._meta.db_table
    with connections[router.db_for_read(BankAccount)].cursor() as cur:
        cur.execute(f"SELECT iban, bic FROM {table} WHERE tenant_id = %s AND active = %s ORDER BY id LIMIT 1",
                    [tenant_id, True])
        return cur.fetchone()


def case_fees(case) -> list[dict]:
    """The fees of a case as the applicant's status page and the clerk's case page show them: per receivable
    (not cancelled) the Kassenzeichen, amount, due date, status, what is still open and the day the last payment
    was booked. One query; the municipal account is added only when something is still to be paid."""
    rows = list(Receivable.objects.filter(case=case).exclude(status=ReceivableStatus.CANCELLED)
                .annotate(last_payment=Max("allocations__transaction__booking_date")).order_by("id"))
    account = pay_to(case.tenant) if any(r.open_amount > 0 for r in rows) else None
    return [{"kassenzeichen": r.kassenzeichen_display, "purpose": r.purpose, "amount": r.amount,
             "due_date": r.due_date, "status": r.status, "status_label": choice_label(ReceivableStatus, r.status),
             "open_amount": max(r.open_amount, ZERO),
             "last_payment": r.last_payment, "overdue": r.open_amount > 0 and r.due_date < timezone.localdate(),
             "pay_to": account if r.open_amount > 0 else None} for r in rows]


def pay_to(tenant) -> dict:
    """The municipal account printed on notices and in the GiroCode."""
    row = _main_account(tenant.pk)
    if row is None:
        acc = ensure_bank_account(tenant)  # created from the master data on first use
        row = (acc.iban, acc.bic) if acc else (tenant.iban, tenant.bic)
    return {
        "name": tenant.name,  # the account holder is the municipality itself
        "iban": row[0],
        "bic": row[1] or "",
        "bank_name": tenant.bank_name,
    }


# --------------------------------------------------------------------------- receivables

def receivable_event(r: Receivable, old_status: str | None = None, at: dt.datetime | None = None) -> dict:
    """The outbox event of a receivable whose status changed by a payment or refund (`record_events`); `at`:
    now if not given (a batch passes one time for all its events)."""
    return event_row(r.tenant_id, f"receivable.{r.status}", aggregate_type="receivable",
                     aggregate_id=r.kassenzeichen, at=at,
                     payload={"kassenzeichen": r.kassenzeichen, "case": r.case_id, "status": str(r.status),
                              "previous_status": old_status, "amount": str(r.amount),
                              "open_amount": str(r.open_amount)})


@dataclass
class ReceivableLineSpec:
    title: str
    amount: Decimal
    legal_basis: str = ""
    fee_id: str = ""


def create_receivable(
    tenant, *, debtor_name: str, purpose: str, lines: list[ReceivableLineSpec], due_date: dt.date,
    product: str, revenue_account: str, cash_account: str, cost_centre: str = "",
    receivable_account: str = "", case=None, debtor_address: dict | None = None, debtor_email: str = "",
    debtor_iban: str = "", actor: str, now: dt.datetime | None = None,
) -> Receivable:
    """Sollstellung: a receivable with a new Kassenzeichen, posted Forderung an Ertrag."""

    now = now or timezone.now()
    total = sum((Decimal(ln.amount) for ln in lines), ZERO)
    if total <= 0:
        raise Invalid("Eine Forderung braucht einen Betrag größer als 0.")
    if not receivable_account:
        role = Account.Role.RECEIVABLES_TAXES if revenue_account.startswith("40") else Account.Role.RECEIVABLES_FEES
        receivable_account = ledger.account_for_role(tenant, role).number
    with transaction.atomic():
        year = timezone.localtime(now).year
        kz = kzlib.make(year, numbering.next_number(tenant.pk, "KZ", year))
        r = Receivable.objects.create(
            tenant=tenant, kassenzeichen=kz, case=case, debtor_name=debtor_name[:200] or "unbekannt",
            debtor_address=debtor_address or {}, debtor_email=debtor_email, debtor_iban=debtor_iban,
            purpose=purpose[:200], amount=total, paid_amount=ZERO, open_amount=total,
            status=ReceivableStatus.OPEN, due_date=due_date, product=product, revenue_account=revenue_account,
            receivable_account=receivable_account, cash_account=cash_account, cost_centre=cost_centre,
            created_at=now, created_by=actor, updated_at=now,
        )
        ReceivableLine.objects.bulk_create([
            ReceivableLine(receivable=r, position=i, fee_id=ln.fee_id, title=ln.title[:300],
                           legal_basis=ln.legal_basis[:300], amount=Decimal(ln.amount))
            for i, ln in enumerate(lines, start=1)
        ])
        ledger.post_entries(tenant, [ledger.EntrySpec(
            date=timezone.localtime(now).date(), text=f"Sollstellung {r.kassenzeichen_display} {purpose}"[:300],
            source_ref=f"receivable:{r.pk}", source_type="receivable", lines=sollstellung_lines(r, lines))],
            actor=actor, audit=False, now=now)
        record_change(
            tenant=tenant, actor=actor, action="receivable.created", object_type="receivable", object_id=r.pk,
            data={"kassenzeichen": kz, "amount": str(total), "case": case.pk if case else None,
                  "due_date": due_date.isoformat()},
            event_type="receivable.created",
            event_payload={"kassenzeichen": kz, "case": case.pk if case else None, "amount": str(total),
                           "due_date": due_date.isoformat(), "status": r.status},
        )
    return r


def create_receivable_for_case(case, *, actor: str, now: dt.datetime | None = None) -> Receivable | None:
    """Compute the fees of the case's service version and create its receivable (Sollstellung).

    Returns None when the service has no fees or they total 0; idempotent per case."""
    existing = Receivable.objects.filter(case=case).first()
    if existing is not None:
        return existing
    sv = case.service_version
    definition = sv.definition or {}
    fees = definition.get("fees") or {}
    now = now or timezone.now()
    today = timezone.localtime(now).date()
    fee_lines = compute_fees(fees, case.data, today=today)
    if not fee_lines or sum((f.amount for f in fee_lines), ZERO) <= 0:
        return None
    acc = definition.get("accounting") or {}
    missing = [k for k in ("product", "revenue_account", "cash_account") if not acc.get(k)]
    if missing:
        raise Invalid(f"Leistung {sv.service.key}: accounting.{', '.join(missing)} fehlt in service.yaml.")
    hints = sv.form_schema.get("x-applicant") or {}
    address = {k: str(resolve_pointer(case.data, p) or "") for k, p in (hints.get("address") or {}).items()}
    iban_ptr = hints.get("iban")
    due_days = int(fees.get("due_days") or DEFAULT_DUE_DAYS)
    return create_receivable(
        case.tenant, case=case, debtor_name=case.applicant_name, debtor_address=address,
        debtor_email=case.applicant_email, debtor_iban=str(resolve_pointer(case.data, iban_ptr) or "") if iban_ptr else "",
        purpose=f"{sv.name} {case.reference}",
        lines=[ReceivableLineSpec(title=f.title, amount=f.amount, legal_basis=f.legal_basis or
                                  fees.get("legal_basis", ""), fee_id=f.id) for f in fee_lines],
        due_date=today + dt.timedelta(days=due_days), product=str(acc["product"]),
        revenue_account=str(acc["revenue_account"]), cash_account=str(acc["cash_account"]),
        cost_centre=str(acc.get("cost_centre") or ""), receivable_account=str(acc.get("receivable_account") or ""),
        actor=actor, now=now,
    )


def cancel_receivable(tenant, kassenzeichen: str, *, reason: str, actor: str,
                      now: dt.datetime | None = None) -> Receivable:
    """Storno of a Sollstellung (e.g. the notice was withdrawn): only while nothing has been paid on it
    (money received must be refunded or re-assigned first); the posting is reversed, never deleted."""
    if not (reason or "").strip():
        raise Invalid("Für die Stornierung ist ein Grund anzugeben.",
                      errors=[{"pointer": "/reason", "message": "Grund fehlt", "field": "Grund"}])
    now = now or timezone.now()
    with transaction.atomic():
        r = (Receivable.objects.select_for_update().filter(tenant=tenant, kassenzeichen=kzlib.normalise(kassenzeichen))
             .first())
        if r is None:
            raise NotFound(f"Kein Kassenzeichen {kassenzeichen!r} bei {tenant.name}.")
        if r.status == ReceivableStatus.CANCELLED:
            raise Conflict("Die Forderung ist bereits storniert.")
        if r.paid_amount != 0:
            raise Conflict("Auf die Forderung ist bereits gezahlt worden; die Zahlung muss zuerst erstattet oder "
                           "umgebucht werden.")
        entry = JournalEntry.objects.filter(tenant=tenant, source_ref=f"receivable:{r.pk}").first()
        if entry is not None:
            ledger.reverse_entry(entry, actor=actor, reason=f"Storno Sollstellung {r.kassenzeichen_display}: "
                                                            f"{reason}"[:250], date=timezone.localtime(now).date())
        old = r.status
        r.status = ReceivableStatus.CANCELLED
        r.open_amount = ZERO
        r.updated_at = now
        r.save(update_fields=["status", "open_amount", "updated_at"])
        record_change(tenant=tenant, actor=actor, action="receivable.cancelled", object_type="receivable",
                      object_id=r.pk, data={"kassenzeichen": r.kassenzeichen, "reason": reason[:500]},
                      event_type="receivable.cancelled",
                      event_payload={"kassenzeichen": r.kassenzeichen, "case": r.case_id, "status": r.status,
                                     "previous_status": old})
    return r


def receivables_for(tenant, *, status: str | None = None, case_id: int | None = None, open_only: bool = False,
                    search: str = ""):
    """The tenant's receivables, newest first; `open_only`: open and partially paid (Offene Posten, by due
    date); `search`: Kassenzeichen (any notation, prefix), debtor or purpose."""
    qs = Receivable.objects.filter(tenant=tenant).select_related("case")
    if status:
        if status not in ReceivableStatus.values:
            raise Invalid(f"Unbekannter Status {status!r}; erlaubt: {', '.join(ReceivableStatus.values)}.")
        qs = qs.filter(status=status)
    if open_only:
        qs = qs.filter(status__in=OPEN_STATES)
    if case_id is not None:
        qs = qs.filter(case_id=case_id)
    search = search.replace("\x00", "")  # typed or pasted; no database column can hold a NUL
    if search:
        cond = Q(debtor_name__icontains=search) | Q(purpose__icontains=search)
        if digits := kzlib.normalise(search):
            cond |= Q(kassenzeichen__startswith=digits)
        qs = qs.filter(cond)
    return qs.order_by("due_date", "id") if open_only else qs.order_by("-created_at", "-id")


def get_receivable(tenant, kassenzeichen: str) -> Receivable:
    kz = kzlib.normalise(kassenzeichen)
    r = Receivable.objects.filter(tenant=tenant, kassenzeichen=kz).select_related("case").first()
    if r is None:
        raise NotFound(f"Kein Kassenzeichen {kassenzeichen!r} bei {tenant.name}.")
    return r
