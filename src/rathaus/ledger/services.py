"""Posting to the Doppik journal: the only way entries get into the ledger.

`post_entries` enforces the invariants (balanced, accounts/products/cost centres known and
active, Finanzrechnung accounts only of class 6/7, a product on every Ergebnis line, period
open, cents-exact positive amounts) and is idempotent by `source_ref`: posting the same
source again returns the existing entry and books nothing. Entries are immutable; corrections
are reversals (`reverse_entry`). Bulk posting (bank statement imports) validates against
per-call caches and inserts with bulk_create, so thousands of entries cost a few queries.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from rathaus.core.bulk import bulk_insert, custom_plans, insert_rows
from rathaus.core.errors import Conflict, Invalid, NotFound
from rathaus.events.services import record_change
from rathaus.tenants import numbering

from .models import Account, CostCentre, FiscalPeriod, JournalEntry, JournalLine, Product

CENT = Decimal("0.01")
ZERO = Decimal("0")


@dataclass
class Line:
    account: str                  # account number, e.g. "4311000"
    debit: Decimal = ZERO
    credit: Decimal = ZERO
    product: str = ""             # product number, e.g. "02.2.01" (required on result accounts)
    cost_centre: str = ""
    cash_account: str = ""        # Finanzrechnungskonto on the counter-line of a liquid-funds movement
    text: str = ""


@dataclass
class EntrySpec:
    date: dt.date
    text: str
    source_ref: str               # unique per tenant: "receivable:17", "bank-tx:4711", ...
    lines: list[Line]
    source_type: str = ""
    reversal_of: JournalEntry | None = None
    extra: dict = field(default_factory=dict)


class _Lookup:
    """Per-call caches of the tenant's master data (one query per table)."""

    def __init__(self, tenant):
        self.tenant = tenant
        self._accounts = None
        self._products = None
        self._cost_centres = None
        self._closed = None
        self.kontierungen: dict[tuple, tuple] = {}  # checked (account, product, cost centre, cash account)

    @property
    def accounts(self) -> dict[str, Account]:
        if self._accounts is None:
            self._accounts = {a.number: a for a in Account.objects.filter(tenant=self.tenant)}
        return self._accounts

    @property
    def products(self) -> dict[str, Product]:
        if self._products is None:
            self._products = {p.number: p for p in Product.objects.filter(tenant=self.tenant)}
        return self._products

    @property
    def cost_centres(self) -> dict[str, CostCentre]:
        if self._cost_centres is None:
            self._cost_centres = {c.code: c for c in CostCentre.objects.filter(tenant=self.tenant)}
        return self._cost_centres

    def closed(self, year: int, month: int) -> bool:
        if self._closed is None:
            self._closed = set(
                FiscalPeriod.objects.filter(tenant=self.tenant, closed=True).values_list("year", "month")
            )
        return (year, 0) in self._closed or (year, month) in self._closed


def _invalid(message: str, pointer: str | None = None) -> Invalid:
    """Invalid with a JSON pointer into the posting request (`/lines/0/account`, `/text`, ...)."""
    return Invalid(message, errors=[{"pointer": pointer, "message": message}] if pointer is not None else None)


def _plain_cents(value) -> bool:
    """The common case (bulk postings have ten thousands of lines): a finite, non-negative Decimal in cents
    of at most 13 digits before the point, which `_money` returns as it is."""
    return (type(value) is Decimal and value.is_finite() and value >= 0 and value.as_tuple().exponent == -2
            and value.adjusted() <= 12)


def _money(value, where: str, pointer: str | None = None) -> Decimal:
    if _plain_cents(value):
        return value
    try:
        d = Decimal(value)
    except Exception as e:  # noqa: BLE001 - any conversion problem is the caller's input error
        raise _invalid(f"{where}: kein gültiger Betrag ({value!r}).", pointer) from e
    if not d.is_finite() or d < 0:
        raise _invalid(f"{where}: Beträge müssen positiv sein.", pointer)
    if d.adjusted() > 12:
        raise _invalid(f"{where}: Betrag zu groß.", pointer)
    if d != d.quantize(CENT):
        raise _invalid(f"{where}: Beträge sind centgenau anzugeben ({value}).", pointer)
    return d.quantize(CENT)


def _kontierung(ln: Line, lk: _Lookup, where: str, ptr: str) -> tuple:
    """Check a line's account, product, cost centre and cash account against the chart; returns
    (account id, product id, cost centre id, cash account id, account is liquid, has a cash account)."""
    account = lk.accounts.get(ln.account)
    if account is None or not account.active:
        raise _invalid(f"{where}: Sachkonto {ln.account!r} ist nicht (mehr) im Kontenplan.", f"{ptr}/account")
    if account.kind == Account.Kind.CASH:
        raise _invalid(f"{where}: Finanzrechnungskonto {ln.account} ist nur als Finanzkonto einer Zeile "
                       "zulässig, nicht als Buchungskonto.", f"{ptr}/account")
    product = None
    if ln.product:
        product = lk.products.get(ln.product)
        if product is None or not product.active:
            raise _invalid(f"{where}: Produkt {ln.product!r} ist nicht im Produktplan.", f"{ptr}/product")
    elif account.kind == Account.Kind.RESULT:
        raise _invalid(f"{where}: Ertrags- und Aufwandskonten brauchen ein Produkt ({account.number}).",
                       f"{ptr}/product")
    cost_centre = None
    if ln.cost_centre:
        cost_centre = lk.cost_centres.get(ln.cost_centre)
        if cost_centre is None or not cost_centre.active:
            raise _invalid(f"{where}: Kostenstelle {ln.cost_centre!r} ist unbekannt.", f"{ptr}/cost_centre")
    cash_account = None
    if ln.cash_account:
        cash_account = lk.accounts.get(ln.cash_account)
        if cash_account is None or cash_account.kind != Account.Kind.CASH or not cash_account.active:
            raise _invalid(f"{where}: {ln.cash_account!r} ist kein Finanzrechnungskonto (Klasse 6/7).",
                           f"{ptr}/cash_account")
        if account.liquid:
            raise _invalid(f"{where}: das Finanzrechnungskonto gehört an die Gegenbuchung, nicht an das "
                           "Konto der liquiden Mittel.", f"{ptr}/cash_account")
    return (account.pk, product.pk if product else None, cost_centre.pk if cost_centre else None,
            cash_account.pk if cash_account else None, account.liquid, cash_account is not None)


def _check_entry(spec: EntrySpec, lk: _Lookup) -> tuple[list[JournalLine], Decimal]:
    if not spec.source_ref or len(spec.source_ref) > 120:
        raise _invalid("Jede Buchung braucht eine Quellreferenz (höchstens 120 Zeichen).", "/source_ref")
    if not spec.text.strip():
        raise _invalid("Der Buchungstext fehlt.", "/text")
    if len(spec.lines) < 2:
        raise _invalid("Eine Buchung hat mindestens zwei Zeilen (Soll und Haben).", "/lines")
    if lk.closed(spec.date.year, spec.date.month):
        raise Conflict(f"Die Buchungsperiode {spec.date.month:02d}/{spec.date.year} ist abgeschlossen; "
                       "bitte im offenen Zeitraum buchen.")
    lines, debit_sum, credit_sum = [], ZERO, ZERO
    liquid_net, cash_flow = ZERO, ZERO
    # a checked Kontierung (account, product, cost centre, cash account) is valid for every line that has it:
    # collective entries of bank statements have thousands of lines with a handful of Kontierungen
    checked = lk.kontierungen
    tenant_id, year = lk.tenant.pk, spec.date.year
    for i, ln in enumerate(spec.lines, start=1):
        debit, credit = ln.debit, ln.credit
        if not (_plain_cents(debit) and _plain_cents(credit)):  # the messages name the line only when needed
            where, ptr = f"Zeile {i}", f"/lines/{i - 1}"
            debit, credit = _money(debit, where, f"{ptr}/debit"), _money(credit, where, f"{ptr}/credit")
        if (debit > 0) == (credit > 0):
            raise _invalid(f"Zeile {i}: genau einer von Soll oder Haben muss größer als 0 sein.",
                           f"/lines/{i - 1}/debit")
        key = (ln.account, ln.product, ln.cost_centre, ln.cash_account)
        k = checked.get(key)
        if k is None:
            k = checked[key] = _kontierung(ln, lk, f"Zeile {i}", f"/lines/{i - 1}")
        account_id, product_id, cost_centre_id, cash_account_id, liquid, has_cash = k
        if has_cash:
            cash_flow += credit - debit
        if liquid:
            liquid_net += debit - credit
        debit_sum += debit
        credit_sum += credit
        # plain rows (no model instances): collective entries of bank statements have thousands of lines
        lines.append({
            "tenant_id": tenant_id, "year": year, "account_id": account_id, "product_id": product_id,
            "cost_centre_id": cost_centre_id, "cash_account_id": cash_account_id, "debit": debit, "credit": credit,
            "text": (ln.text or "")[:300],
        })
    if debit_sum != credit_sum:
        raise _invalid(f"Die Buchung ist nicht ausgeglichen: Soll {debit_sum} ≠ Haben {credit_sum}.", "/lines")
    if liquid_net != cash_flow:
        raise _invalid("Jede Bewegung liquider Mittel braucht ein Finanzrechnungskonto an der Gegenbuchung "
                       f"(Zahlungsbewegung {liquid_net}, Finanzrechnung {cash_flow}).", "/lines")
    return lines, debit_sum


def post_entries(tenant, specs: Sequence[EntrySpec], *, actor: str, audit: bool = True,
                 now: dt.datetime | None = None) -> list[JournalEntry]:
    """Post several entries in one transaction. Specs whose source_ref was posted already are
    not posted again; their existing entry is returned in its place (idempotency)."""
    if not specs:
        return []
    lk = _Lookup(tenant)
    now = now or timezone.now()
    refs = [s.source_ref for s in specs]
    if len(set(refs)) != len(refs):
        raise Invalid("Eine Quellreferenz kommt in derselben Buchungsanforderung mehrfach vor.")
    with transaction.atomic():
        if len(specs) >= 100:  # a batch: plans for its large IN lists, not cached generic ones

            custom_plans()
        existing = {e.source_ref: e for e in JournalEntry.objects.filter(tenant=tenant, source_ref__in=refs)}
        checked = []
        for spec in specs:
            if spec.source_ref in existing:
                continue
            checked.append((spec, *_check_entry(spec, lk)))
        by_year: dict[int, list] = {}
        for item in checked:
            by_year.setdefault(item[0].date.year, []).append(item)
        new_entries: list[JournalEntry] = []
        entry_lines: list[tuple[JournalEntry, list[dict]]] = []
        for year, items in sorted(by_year.items()):
            first = numbering.next_number(tenant.pk, "JOURNAL", year, count=len(items))
            for offset, (spec, lines, total) in enumerate(items):
                entry = JournalEntry(
                    tenant=tenant, year=year, number=first + offset, date=spec.date, text=spec.text[:300],
                    source_type=spec.source_type, source_ref=spec.source_ref, reversal_of=spec.reversal_of,
                    total=total, created_at=now, created_by=actor,
                )
                new_entries.append(entry)
                entry_lines.append((entry, lines))
        bulk_insert(new_entries)
        rows = []
        for entry, lines in entry_lines:
            for ln in lines:
                ln["entry_id"] = entry.pk
                rows.append(ln)
        insert_rows(JournalLine, rows, returning=False)
        if audit and new_entries:
            record_change(
                tenant=tenant, actor=actor, action="ledger.posted", object_type="journal",
                object_id=new_entries[0].pk,
                data={"entries": len(new_entries),
                      "numbers": [f"{e.year}-{e.number}" for e in new_entries[:20]],
                      "total": str(sum((e.total for e in new_entries), ZERO))},
                event_type="ledger.posted",
                event_payload={"entries": [e.pk for e in new_entries[:1000]], "count": len(new_entries)},
            )
        fresh = {e.source_ref: e for e in new_entries}
        return [existing.get(r) or fresh[r] for r in refs]


def post_entry(tenant, *, date: dt.date, text: str, source_ref: str, lines: list[Line], actor: str,
               source_type: str = "") -> JournalEntry:
    """Post one entry (idempotent by source_ref; a different entry under a used source_ref is 409)."""
    spec = EntrySpec(date=date, text=text, source_ref=source_ref, lines=lines, source_type=source_type)
    existing = JournalEntry.objects.filter(tenant=tenant, source_ref=source_ref).first()
    if existing is not None:
        if _fingerprint(existing) != sorted(
            (ln.account, _money(ln.debit, "Soll"), _money(ln.credit, "Haben"), ln.product or "",
             ln.cost_centre or "", ln.cash_account or "") for ln in lines
        ) or existing.date != date:
            raise Conflict(f"Unter der Quellreferenz {source_ref!r} ist bereits eine andere Buchung erfasst.")
        return existing
    return post_entries(tenant, [spec], actor=actor)[0]


def _fingerprint(entry: JournalEntry) -> list[tuple]:
    """The content of a posted entry's lines, comparable with a new request (idempotent retries)."""
    rows = entry.lines.values_list("account__number", "debit", "credit", "product__number", "cost_centre__code",
                                   "cash_account__number")
    return sorted((a, d, c, p or "", cc or "", ca or "") for a, d, c, p, cc, ca in rows)


def reverse_entry(entry: JournalEntry, *, actor: str, reason: str, date: dt.date | None = None) -> JournalEntry:
    """Storno: a new entry with debit and credit swapped; the original stays untouched."""
    if entry.reversal_of_id is not None:
        raise Conflict("Eine Stornobuchung kann nicht erneut storniert werden; bitte neu buchen.")
    if JournalEntry.objects.filter(reversal_of=entry).exists():
        raise Conflict(f"Die Buchung {entry.year}-{entry.number} ist bereits storniert.")
    if not reason.strip():
        raise Invalid("Für eine Stornobuchung ist ein Grund anzugeben.")
    date = date or timezone.localdate()
    lines = [
        Line(account=ln.account.number, debit=ln.credit, credit=ln.debit,
             product=ln.product.number if ln.product else "",
             cost_centre=ln.cost_centre.code if ln.cost_centre else "",
             cash_account=ln.cash_account.number if ln.cash_account else "", text=ln.text)
        for ln in entry.lines.select_related("account", "product", "cost_centre", "cash_account")
    ]
    spec = EntrySpec(date=date, text=f"Storno {entry.year}-{entry.number}: {reason}"[:300],
                     source_ref=f"reversal:{entry.pk}", lines=lines, source_type="reversal", reversal_of=entry)
    return post_entries(entry.tenant, [spec], actor=actor)[0]


def account_for_role(tenant, role: str) -> Account:
    acc = Account.objects.filter(tenant=tenant, role=role, active=True).first()
    if acc is None:
        raise NotFound(f"Im Kontenplan ist kein Konto für „{Account.Role(role).label}“ festgelegt.")
    return acc


def input_vat_deduction(tenant, kontierungen: Sequence[tuple[str, str]]) -> list[str]:
    """For each Kontierung (product number, cost centre code): why its input VAT is deductible, e.g.
    "Produkt 08.1.02 Hallenbad (Betrieb gewerblicher Art)" or "Kostenstelle 810 Freibad", else "" (the
    hoheitlicher Bereich, where the VAT is part of the expense). The product decides first, then the cost
    centre. Two queries for any number of Kontierungen."""
    numbers = {p for p, _ in kontierungen if p}
    codes = {c for _, c in kontierungen if c}
    products = {p.number: p for p in Product.objects.filter(tenant=tenant, number__in=numbers,
                                                            input_vat_deductible=True)} if numbers else {}
    centres = {c.code: c for c in CostCentre.objects.filter(tenant=tenant, code__in=codes,
                                                            input_vat_deductible=True)} if codes else {}
    out = []
    for product, cost_centre in kontierungen:
        if product in products:
            out.append(f"Produkt {products[product]}")
        elif cost_centre in centres:
            out.append(f"Kostenstelle {centres[cost_centre]}")
        else:
            out.append("")
    return out


def set_period_closed(tenant, year: int, month: int, *, closed: bool, actor: str) -> FiscalPeriod:
    """Close (or re-open) a posting period; month 0 = the whole year."""
    if not (0 <= month <= 12) or not (2000 <= year <= 2200):
        raise Invalid("Ungültige Buchungsperiode.")
    with transaction.atomic():
        period, _ = FiscalPeriod.objects.update_or_create(
            tenant=tenant, year=year, month=month, defaults={"closed": closed, "changed_by": actor})
        record_change(tenant=tenant, actor=actor, action="ledger.period_closed" if closed else "ledger.period_opened",
                      object_type="fiscal_period", object_id=period.pk, data={"year": year, "month": month},
                      event_type="ledger.period_changed")
    return period
