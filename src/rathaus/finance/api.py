"""Stadtkasse API (bearer token): receivables, bank statement import (camt.053), clearing list."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from django.conf import settings
from ninja import Router, Schema, Status
from pydantic import Field

from rathaus.core.api import DbId
from rathaus.core.errors import Forbidden, Invalid, UnsupportedMediaType
from rathaus.core.web import clean_key, read_limited_body
from rathaus.tenants.auth import TokenAuth

from . import clearing, receivables
from .bank.importer import import_bank_statement
from .models import BankTransaction, Payable, PayableStatus, PaymentRun, ReceivableStatus
from .payables import create_payment_run
from .refunds import refund_clearing_item, refund_overpayment, refunds_of

router = Router(tags=["Stadtkasse"], auth=TokenAuth())

READ_ROLES = ("treasury", "accounting", "admin")
WRITE_ROLES = ("treasury",)


def require_role(membership, roles, action: str) -> None:
    if not any(membership.has_role(r) for r in roles):
        raise Forbidden(f"{action} ist der Stadtkasse vorbehalten (Rolle: {', '.join(roles)}).")


class PayTo(Schema):
    name: str
    iban: str
    bic: str


class CaseRef(Schema):
    id: int
    reference: str


class ReceivableLineOut(Schema):
    title: str
    legal_basis: str
    amount: str


class AllocationOut(Schema):
    amount: str
    booking_date: str
    counterparty: str
    manual: bool


class ReceivableOut(Schema):
    kassenzeichen: str
    kassenzeichen_display: str
    amount: str
    paid_amount: str
    open_amount: str
    due_date: str
    status: str
    status_label: str
    purpose: str
    debtor: str
    case: CaseRef | None
    pay_to: PayTo
    product: str
    revenue_account: str
    created_at: str


class RefundRef(Schema):
    payable: str = Field(description="Anordnungsnummer of the refund payable (paid by the next payment run)")
    amount: str
    status: str
    iban: str


class ReceivableDetail(ReceivableOut):
    lines: list[ReceivableLineOut]
    payments: list[AllocationOut]
    refunds: list[RefundRef] = []


def receivable_out(r, pay_to: dict | None = None) -> dict:
    p = pay_to or receivables.pay_to(r.tenant)
    return {
        "kassenzeichen": r.kassenzeichen, "kassenzeichen_display": r.kassenzeichen_display,
        "amount": str(r.amount), "paid_amount": str(r.paid_amount), "open_amount": str(r.open_amount),
        "due_date": r.due_date.isoformat(), "status": r.status, "status_label": ReceivableStatus(r.status).label,
        "purpose": r.purpose, "debtor": r.debtor_name,
        "case": {"id": r.case_id, "reference": r.case.reference} if r.case_id else None,
        "pay_to": {"name": p["name"], "iban": p["iban"], "bic": p["bic"]},
        "product": r.product, "revenue_account": r.revenue_account, "created_at": r.created_at.isoformat(),
    }


def receivable_detail(r) -> dict:
    out = receivable_out(r)
    out["lines"] = [{"title": ln.title, "legal_basis": ln.legal_basis, "amount": str(ln.amount)}
                    for ln in r.lines.all()]
    out["payments"] = [
        {"amount": str(a.amount), "booking_date": a.transaction.booking_date.isoformat(),
         "counterparty": a.transaction.counterparty_name, "manual": a.manual}
        for a in r.allocations.select_related("transaction")
    ]
    out["refunds"] = [{"payable": p.number, "amount": str(p.amount), "status": p.status, "iban": p.creditor_iban}
                      for p in refunds_of(r)]
    return out


@router.get("/receivables", response=list[ReceivableOut], summary="Forderungen (Sollstellungen)")
def list_receivables(request, status: str | None = None, case: DbId | None = None, limit: int = 100,
                     offset: int = 0):
    require_role(request.membership, READ_ROLES + ("clerk", "approver"), "Die Forderungsübersicht")
    if status is not None and clean_key(status, 30) is None:
        raise Invalid("Ungültiger Status.")
    limit = max(1, min(limit, 1000))
    offset = max(0, min(offset, 10**9))
    tenant = request.membership.tenant
    p = receivables.pay_to(tenant)
    qs = receivables.receivables_for(tenant, status=status, case_id=case)[offset:offset + limit]
    return [receivable_out(r, p) for r in qs]


@router.get("/receivables/{kassenzeichen}", response=ReceivableDetail, summary="Eine Forderung")
def get_receivable(request, kassenzeichen: str):
    require_role(request.membership, READ_ROLES + ("clerk", "approver"), "Die Forderungsübersicht")
    if clean_key(kassenzeichen, 40) is None:
        raise Invalid("Ungültiges Kassenzeichen.")
    return receivable_detail(receivables.get_receivable(request.membership.tenant, kassenzeichen))


class CancelIn(Schema):
    reason: str = Field(min_length=1, max_length=500)


@router.post("/receivables/{kassenzeichen}/cancel", response=ReceivableDetail,
             summary="Forderung stornieren (solange nichts gezahlt ist)")
def cancel(request, kassenzeichen: str, payload: CancelIn):
    require_role(request.membership, ("treasury", "accounting"), "Das Stornieren von Forderungen")
    if clean_key(kassenzeichen, 40) is None:
        raise Invalid("Ungültiges Kassenzeichen.")
    r = receivables.cancel_receivable(request.membership.tenant, kassenzeichen, reason=payload.reason,
                                      actor=request.user.get_username())
    return receivable_detail(r)


class ImportOut(Schema):
    entries: int
    matched: int
    unmatched: int
    duplicates: int
    skipped: int
    statements: list[int]


XML_TYPES = ("application/xml", "text/xml")


@router.post("/bank-statements", response={201: ImportOut}, summary="Kontoauszug (camt.053) einlesen",
             openapi_extra={"requestBody": {"required": True, "content": {
                 "application/xml": {"schema": {"type": "string", "format": "binary"}}}}})
def import_statement(request):
    require_role(request.membership, WRITE_ROLES, "Das Einlesen von Kontoauszügen")
    ctype = (request.content_type or "").split(";")[0].strip().lower()
    if ctype not in XML_TYPES:
        raise UnsupportedMediaType("Erwartet wird ein Kontoauszug im Format camt.053 als application/xml.")
    body, size = read_limited_body(request, settings.RATHAUS_MAX_STATEMENT_BYTES)
    if size == 0:
        raise Invalid("Der Kontoauszug ist leer.")
    with body:
        result = import_bank_statement(request.membership.tenant, body, actor=request.user.get_username())
    return Status(201, result.as_dict())


class SuggestionOut(Schema):
    kassenzeichen: str
    debtor_name: str
    purpose: str
    open_amount: str
    reasons: list[str] = Field(description="kz_typo, kz_swap, kz_no_check, aktenzeichen, name_amount, amount")


class ClearingOut(Schema):
    id: int
    booking_date: str
    amount: str
    unallocated: str
    credit: bool
    counterparty_name: str
    counterparty_iban: str
    remittance: str
    note: str
    statement: int
    suggestions: list[SuggestionOut] = Field(
        default=[], description="open receivables the payer probably meant (only in the list), strongest first")


def clearing_out(t: BankTransaction, suggestions=()) -> dict:
    return {"id": t.pk, "booking_date": t.booking_date.isoformat(), "amount": str(t.amount),
            "unallocated": str(t.unallocated), "credit": t.credit, "counterparty_name": t.counterparty_name,
            "counterparty_iban": t.counterparty_iban, "remittance": t.remittance, "note": t.note,
            "statement": t.statement_id,
            "suggestions": [{"kassenzeichen": s.receivable.kassenzeichen_display, "debtor_name": s.receivable.debtor_name,
                             "purpose": s.receivable.purpose, "open_amount": str(s.receivable.open_amount),
                             "reasons": s.reason_codes} for s in suggestions]}


@router.get("/clearing", response=list[ClearingOut], summary="Klärfälle (nicht zugeordnete Zahlungen)")
def list_clearing(request, limit: int = 100, offset: int = 0):
    require_role(request.membership, READ_ROLES, "Die Klärfallliste")
    limit = max(1, min(limit, 1000))
    offset = max(0, min(offset, 10**9))
    tenant = request.membership.tenant
    items = list(clearing.clearing_list(tenant)[offset:offset + limit])
    suggestions = clearing.clearing_suggestions(tenant, items)
    return [clearing_out(t, suggestions.get(t.pk, ())) for t in items]


class AssignIn(Schema):
    kassenzeichen: str = Field(max_length=40)
    amount: Decimal | None = Field(default=None, gt=0, max_digits=13, decimal_places=2)
    note: str = Field(default="", max_length=300)


class ResolveIn(Schema):
    note: str = Field(max_length=300)


@router.post("/clearing/{tx_id}/assign", response=ClearingOut, summary="Klärfall einer Forderung zuordnen")
def assign(request, tx_id: DbId, payload: AssignIn):
    require_role(request.membership, WRITE_ROLES, "Das Zuordnen von Zahlungen")
    alloc = clearing.assign_transaction(request.membership.tenant, tx_id, kassenzeichen=payload.kassenzeichen,
                                        amount=payload.amount, note=payload.note,
                                        actor=request.user.get_username())
    return clearing_out(alloc.transaction)


@router.post("/clearing/{tx_id}/resolve", response=ClearingOut, summary="Klärfall ohne Zuordnung erledigen")
def resolve(request, tx_id: DbId, payload: ResolveIn):
    require_role(request.membership, WRITE_ROLES, "Das Erledigen von Klärfällen")
    t = clearing.resolve_transaction(request.membership.tenant, tx_id, note=payload.note,
                                     actor=request.user.get_username())
    return clearing_out(t)


# --------------------------------------------------------------------------- payables & payment runs

class PayableOut(Schema):
    id: int
    number: str
    creditor_name: str
    creditor_iban: str
    remittance: str
    amount: str
    discount_amount: str
    discount_until: str | None
    due_date: str
    status: str
    payment_run: int | None
    source: str


def payable_out(p) -> dict:
    return {"id": p.pk, "number": p.number, "creditor_name": p.creditor_name, "creditor_iban": p.creditor_iban,
            "remittance": p.remittance, "amount": str(p.amount), "discount_amount": str(p.discount_amount),
            "discount_until": p.discount_until.isoformat() if p.discount_until else None,
            "due_date": p.due_date.isoformat(), "status": p.status, "payment_run": p.payment_run_id,
            "source": f"{p.source_type}:{p.source_id}" if p.source_id else ""}


@router.get("/payables", response=list[PayableOut], summary="Verbindlichkeiten (angeordnete Auszahlungen)")
def list_payables(request, status: str | None = None, limit: int = 100, offset: int = 0):
    require_role(request.membership, READ_ROLES, "Die Übersicht der Verbindlichkeiten")
    qs = Payable.objects.filter(tenant=request.membership.tenant)
    if status is not None:
        if status not in PayableStatus.values:
            raise Invalid(f"Unbekannter Status; erlaubt: {', '.join(PayableStatus.values)}.")
        qs = qs.filter(status=status)
    limit = max(1, min(limit, 1000))
    offset = max(0, min(offset, 10**9))
    return [payable_out(p) for p in qs.order_by("due_date", "id")[offset:offset + limit]]


class RefundIn(Schema):
    note: str = Field(default="", max_length=300)


@router.post("/receivables/{kassenzeichen}/refund", response={201: PayableOut},
             summary="Überzahlung erstatten (Auszahlung an das Konto der überzahlenden Zahlung anordnen)")
def refund_receivable(request, kassenzeichen: str, payload: RefundIn):
    require_role(request.membership, WRITE_ROLES, "Das Anordnen von Erstattungen")
    if clean_key(kassenzeichen, 40) is None:
        raise Invalid("Ungültiges Kassenzeichen.")
    p = refund_overpayment(request.membership.tenant, kassenzeichen, note=payload.note,
                           actor=request.user.get_username())
    return Status(201, payable_out(p))


@router.post("/clearing/{tx_id}/refund", response={201: PayableOut},
             summary="Klärfall zurücküberweisen (Auszahlung an das Konto des Einzahlers anordnen)")
def refund_clearing(request, tx_id: DbId, payload: RefundIn):
    require_role(request.membership, WRITE_ROLES, "Das Anordnen von Rückzahlungen")
    p = refund_clearing_item(request.membership.tenant, tx_id, note=payload.note, actor=request.user.get_username())
    return Status(201, payable_out(p))


class PaymentRunIn(Schema):
    execution_date: date | None = None
    payables: list[DbId] | None = Field(default=None, max_length=10000)


class PaymentRunOut(Schema):
    id: int
    number: str
    execution_date: str
    count: int
    total: str
    format: str  # the SEPA message version, e.g. pain.001.001.09
    message_id: str
    file: str
    payables: list[str]


def run_out(run) -> dict:
    return {"id": run.pk, "number": run.number, "execution_date": run.execution_date.isoformat(),
            "count": run.count, "total": str(run.total), "format": run.schema, "message_id": run.message_id,
            "file": f"/api/v1/documents/{run.document_id}/content" if run.document_id else "",
            "payables": [p.number for p in run.payables.order_by("id")]}


@router.post("/payment-runs", response={201: PaymentRunOut}, summary="Zahlungslauf (SEPA pain.001) erzeugen")
def create_run(request, payload: PaymentRunIn):
    require_role(request.membership, WRITE_ROLES, "Ein Zahlungslauf")
    run = create_payment_run(request.membership.tenant, execution_date=payload.execution_date,
                             payable_ids=payload.payables, actor=request.user.get_username())
    return Status(201, run_out(run))


@router.get("/payment-runs", response=list[PaymentRunOut], summary="Zahlungsläufe")
def list_runs(request, limit: int = 50, offset: int = 0):
    require_role(request.membership, READ_ROLES, "Die Übersicht der Zahlungsläufe")
    limit = max(1, min(limit, 500))
    offset = max(0, min(offset, 10**9))
    qs = PaymentRun.objects.filter(tenant=request.membership.tenant).prefetch_related("payables")
    return [run_out(r) for r in qs.order_by("-created_at", "-id")[offset:offset + limit]]
