"""Kämmerei API (bearer token): reports, journal, manual postings, reversals and posting periods.

Roles: `accounting` (Kämmerei) and `admin` may do everything; `treasury` (Stadtkasse) may read
(reports, accounts, journal) to reconcile its accounts, but not post, reverse or close periods.
Everything is scoped to the token's tenant; other tenants' entries answer 404.
"""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal
from typing import Annotated

from django.db.models import Exists, OuterRef, Prefetch
from ninja import Router, Schema, Status
from pydantic import Field

from rathaus.core.api import DbId
from rathaus.core.errors import Forbidden, Invalid, NotFound
from rathaus.core.web import clean_key
from rathaus.tenants.auth import TokenAuth

from . import positions, reports, services
from .models import Account, FiscalPeriod, JournalEntry, JournalLine, Product

router = Router(tags=["Kämmerei (Doppik)"], auth=TokenAuth())

READ_ROLES = {"accounting", "admin", "treasury"}
WRITE_ROLES = {"accounting", "admin"}

Year = Annotated[int, Field(ge=2000, le=2200, description="Haushaltsjahr")]
Month = Annotated[int, Field(ge=0, le=12, description="Monat 1-12, 0 = ganzes Haushaltsjahr")]
Money = Annotated[str, Field(pattern=r"^-?\d+\.\d{2}$", examples=["26.00"])]


def _member(request, write: bool = False):
    m = request.membership
    allowed = WRITE_ROLES if write else READ_ROLES
    if not allowed & set(m.roles):
        raise Forbidden("Diese Funktion ist der Kämmerei vorbehalten." if write
                        else "Das Haushaltswesen ist der Kämmerei und der Stadtkasse vorbehalten.")
    return m


def money(value) -> str:
    return f"{Decimal(value):.2f}"


def _render(value):
    """Decimals as strings with two decimals, recursively."""
    if isinstance(value, Decimal):
        return money(value)
    if isinstance(value, dict):
        return {k: _render(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_render(v) for v in value]
    return value


# --------------------------------------------------------------------------- schemas

class TrialBalanceRow(Schema):
    account: str
    name: str
    debit: Money
    credit: Money
    balance: Money


class Totals(Schema):
    debit: Money
    credit: Money
    balance: Money


class TrialBalanceOut(Schema):
    year: int
    rows: list[TrialBalanceRow]
    classes: list[dict]
    totals: Totals
    balanced: bool


class AccountOut(Schema):
    number: str
    name: str
    kind: str
    liquid: bool
    role: str
    position: int | None
    position_name: str
    active: bool


class ProductOut(Schema):
    number: str
    name: str
    active: bool
    input_vat_deductible: bool  # Betrieb gewerblicher Art: Vorsteuerabzug, Aufwand netto


class LineIn(Schema):
    account: str = Field(min_length=1, max_length=12)
    debit: Decimal = Decimal("0")
    credit: Decimal = Decimal("0")
    product: str = Field("", max_length=20)
    cost_centre: str = Field("", max_length=20)
    cash_account: str = Field("", max_length=12)
    text: str = Field("", max_length=300)


class EntryIn(Schema):
    date: dt.date
    text: str = Field(min_length=1, max_length=300)
    lines: list[LineIn] = Field(min_length=2, max_length=500)
    source_ref: str | None = Field(None, min_length=1, max_length=100,
                                   description="Idempotenzschlüssel; gespeichert als `manual:<source_ref>`")


class LineOut(Schema):
    account: str
    account_name: str
    product: str | None
    cost_centre: str | None
    cash_account: str | None
    debit: Money
    credit: Money
    text: str


class EntryOut(Schema):
    id: int
    year: int
    number: int
    reference: str
    date: dt.date
    text: str
    source_type: str
    source_ref: str
    total: Money
    reversal_of: int | None
    reversed_by: int | None
    created_at: dt.datetime
    created_by: str
    lines: list[LineOut]


class EntryPage(Schema):
    count: int
    limit: int
    offset: int
    items: list[EntryOut]


class ReverseIn(Schema):
    reason: str = Field("", max_length=200, description="Pflicht; geprüft nach dem Auffinden der Buchung")
    date: dt.date | None = None


class PeriodIn(Schema):
    year: Year
    month: Month = 0
    closed: bool = True


class PeriodOut(Schema):
    year: int
    month: int
    closed: bool
    changed_at: dt.datetime
    changed_by: str


def entry_out(e: JournalEntry) -> dict:
    reversed_by = getattr(e, "reversed_by", None)  # reverse one-to-one: AttributeError subclass if none
    return {
        "id": e.pk, "year": e.year, "number": e.number, "reference": f"{e.year}-{e.number:07d}", "date": e.date,
        "text": e.text, "source_type": e.source_type, "source_ref": e.source_ref, "total": money(e.total),
        "reversal_of": e.reversal_of_id, "reversed_by": reversed_by.pk if reversed_by else None,
        "created_at": e.created_at, "created_by": e.created_by,
        "lines": [
            {"account": ln.account.number, "account_name": ln.account.name,
             "product": ln.product.number if ln.product_id else None,
             "cost_centre": ln.cost_centre.code if ln.cost_centre_id else None,
             "cash_account": ln.cash_account.number if ln.cash_account_id else None,
             "debit": money(ln.debit), "credit": money(ln.credit), "text": ln.text}
            for ln in e.lines.all()
        ],
    }


def entries_qs(tenant_id):
    lines = JournalLine.objects.select_related("account", "product", "cost_centre", "cash_account").order_by("id")
    return (JournalEntry.objects.filter(tenant_id=tenant_id).select_related("reversed_by")
            .prefetch_related(Prefetch("lines", queryset=lines)))


def get_entry(tenant_id, entry_id: int) -> JournalEntry:
    e = entries_qs(tenant_id).filter(pk=entry_id).first()
    if e is None:
        raise NotFound("Buchung nicht gefunden.")
    return e


# --------------------------------------------------------------------------- reports

@router.get("/ledger/trial-balance", response=TrialBalanceOut, summary="Summen- und Saldenliste")
def trial_balance(request, year: Year):
    m = _member(request)
    return _render(reports.trial_balance(m.tenant, year))


@router.get("/ledger/results", response=dict, summary="Ergebnisrechnung (nach Positionen und Produkten)",
            description="Erträge (Klasse 4: Haben − Soll), Aufwendungen (Klasse 5: Soll − Haben) und Ergebnis; "
                        "`positions` nach § 2 KomHVO NRW, `areas` je Produktbereich mit seinen Produkten.")
def results(request, year: Year):
    m = _member(request)
    return _render(reports.results(m.tenant, year))


@router.get("/ledger/cash", response=dict, summary="Finanzrechnung",
            description="Ein- und Auszahlungen je Finanzrechnungskonto und Position (§ 3 KomHVO NRW); "
                        "`liquid.change` ist die Veränderung der liquiden Mittel, `check` ob sie dem Saldo "
                        "der Finanzrechnung entspricht.")
def cash(request, year: Year):
    m = _member(request)
    return _render(reports.cash(m.tenant, year))


# --------------------------------------------------------------------------- master data

@router.get("/ledger/accounts", response=list[AccountOut], summary="Kontenplan (Sachkonten)")
def accounts(request):
    m = _member(request)
    out = []
    for a in Account.objects.filter(tenant_id=m.tenant_id).order_by("number"):
        names = positions.ER_NAMES if a.kind == Account.Kind.RESULT else positions.FR_NAMES
        out.append({"number": a.number, "name": a.name, "kind": a.kind, "liquid": a.liquid, "role": a.role,
                    "position": a.position, "position_name": names.get(a.position, "") if a.position else "",
                    "active": a.active})
    return out


@router.get("/ledger/products", response=list[ProductOut], summary="Produktplan")
def products(request):
    m = _member(request)
    return list(Product.objects.filter(tenant_id=m.tenant_id).order_by("number")
                .values("number", "name", "active", "input_vat_deductible"))


# --------------------------------------------------------------------------- journal

@router.get("/ledger/entries", response=EntryPage, summary="Journal (Buchungen mit Zeilen)")
def list_entries(request, year: Year | None = None, account: str | None = None, source: str | None = None,
                 limit: Annotated[int, Field(ge=1, le=500)] = 50, offset: Annotated[int, Field(ge=0)] = 0):
    m = _member(request)
    qs = entries_qs(m.tenant_id)
    if year is not None:
        qs = qs.filter(year=year)
    if account is not None:
        if clean_key(account, 12) is None:
            return {"count": 0, "limit": limit, "offset": offset, "items": []}
        qs = qs.filter(Exists(JournalLine.objects.filter(entry=OuterRef("pk"), account__number=account)))
    if source is not None:
        if clean_key(source, 120) is None:
            return {"count": 0, "limit": limit, "offset": offset, "items": []}
        qs = qs.filter(source_ref__startswith=source)
    offset = min(offset, 10**9)
    count = qs.count()
    items = [entry_out(e) for e in qs.order_by("-year", "-number")[offset:offset + limit]]
    return {"count": count, "limit": limit, "offset": offset, "items": items}


@router.get("/ledger/entries/{entry_id}", response=EntryOut, summary="Eine Buchung")
def read_entry(request, entry_id: DbId):
    m = _member(request)
    return entry_out(get_entry(m.tenant_id, entry_id))


@router.post("/ledger/entries", response={201: EntryOut, 200: EntryOut}, summary="Manuelle Buchung",
             description="Bucht eine ausgeglichene Buchung (Soll = Haben). Mit `source_ref` idempotent: dieselbe "
                         "Buchung erneut gesendet ergibt 200 mit der vorhandenen Buchung, anderer Inhalt 409. "
                         "Fehler: 422 mit `errors[].pointer` (z. B. `/lines/1/account`), geschlossene Periode 409.")
def create_entry(request, payload: EntryIn):
    m = _member(request, write=True)
    ref = payload.source_ref or uuid.uuid4().hex
    source_ref = ref if ref.startswith("manual:") else f"manual:{ref}"
    existed = JournalEntry.objects.filter(tenant_id=m.tenant_id, source_ref=source_ref).exists()
    lines = [services.Line(account=ln.account, debit=ln.debit, credit=ln.credit, product=ln.product,
                           cost_centre=ln.cost_centre, cash_account=ln.cash_account, text=ln.text)
             for ln in payload.lines]
    entry = services.post_entry(m.tenant, date=payload.date, text=payload.text, source_ref=source_ref, lines=lines,
                                actor=request.user.get_username(), source_type="manual")
    return Status(200 if existed else 201, entry_out(get_entry(m.tenant_id, entry.pk)))


@router.post("/ledger/entries/{entry_id}/reverse", response={201: EntryOut}, summary="Buchung stornieren",
             description="Storno: eine neue Buchung mit vertauschtem Soll und Haben; die ursprüngliche Buchung "
                         "bleibt unverändert. Eine Buchung kann nur einmal storniert werden (409).")
def reverse(request, entry_id: DbId, payload: ReverseIn):
    m = _member(request, write=True)
    entry = JournalEntry.objects.filter(tenant_id=m.tenant_id, pk=entry_id).select_related("tenant").first()
    if entry is None:
        raise NotFound("Buchung nicht gefunden.")
    if not payload.reason.strip():
        raise Invalid("Für eine Stornobuchung ist ein Grund anzugeben.",
                      errors=[{"pointer": "/reason", "message": "Pflichtangabe fehlt."}])
    rev = services.reverse_entry(entry, actor=request.user.get_username(), reason=payload.reason, date=payload.date)
    return Status(201, entry_out(get_entry(m.tenant_id, rev.pk)))


# --------------------------------------------------------------------------- periods

@router.get("/ledger/periods", response=list[PeriodOut], summary="Abgeschlossene und wieder geöffnete Perioden")
def list_periods(request, year: Year | None = None):
    m = _member(request)
    qs = FiscalPeriod.objects.filter(tenant_id=m.tenant_id).order_by("year", "month")
    if year is not None:
        qs = qs.filter(year=year)
    return list(qs)


@router.post("/ledger/periods", response=PeriodOut, summary="Buchungsperiode schließen oder öffnen",
             description="`month` 1-12 schließt einen Monat, 0 das ganze Haushaltsjahr; `closed: false` öffnet "
                         "wieder. In geschlossenen Perioden wird jede Buchung mit 409 abgelehnt.")
def set_period(request, payload: PeriodIn):
    m = _member(request, write=True)
    return services.set_period_closed(m.tenant, payload.year, payload.month, closed=payload.closed,
                                      actor=request.user.get_username())
