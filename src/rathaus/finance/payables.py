"""Payables (Verbindlichkeiten) and payment runs (Zahlungsläufe, SEPA pain.001).

- `create_payable` (the Anordnung of an approved invoice): Aufwand an Verbindlichkeit, one line per
  Kontierung (expense account, product, cost centre); the Auszahlungskonto of each line is kept for
  the payment. For a Kontierung of a Betrieb gewerblicher Art (`apply_input_vat`, rules in `vat.py`) the
  expense is net and the VAT goes to Vorsteuer (and, for reverse charge, to Umsatzsteuer as well).
- `create_payment_run`: collects the open payables that are due by the execution date (or whose
  Skonto period is still running: then the amount less Skonto is paid), writes one SEPA credit
  transfer file (pain.001.001.09, the version of the German banks' DFÜ-Abkommen Anlage 3 / GBIC_4,
  by `sepaxml` with `clean=False` so umlauts are kept), validates it, stores it in the E-Akte.
- When the bank statement shows the debit (matched by end-to-end id in `bank.importer`),
  `book_run_item_payment` books Verbindlichkeit an Bank (Auszahlung on the lines' cash accounts) and,
  for Skonto, the reduction of the expense and of the Vorsteuer in it (§ 17 UStG).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from lxml import etree
from sepaxml import SepaTransfer

from rathaus.core.errors import Conflict, Invalid, NotFound
from rathaus.core.validators import validate_bic, validate_iban
from rathaus.documents.models import Document
from rathaus.documents.services import store_document
from rathaus.events.services import record_change
from rathaus.ledger import services as ledger
from rathaus.ledger.models import Account
from rathaus.tenants import numbering

from .models import Payable, PayableLine, PayableStatus, PaymentRun, PaymentRunItem
from .receivables import ensure_bank_account
from .vat import VatItem, skonto_correction, split_input_vat

ZERO = Decimal("0.00")
PAIN_SCHEMA = "pain.001.001.09"


@dataclass
class ExpenseLine:
    account: str
    amount: Decimal               # share of the liability (gross as invoiced)
    cash_account: str
    product: str = ""
    cost_centre: str = ""
    text: str = ""
    input_vat: Decimal = ZERO     # Vorsteuer contained in `amount` (Betrieb gewerblicher Art)
    reverse_charge_vat: Decimal = ZERO  # VAT owed as recipient (§ 13b / § 1a UStG), deducted as well
    input_vat_area: str = ""      # why the input VAT is deductible ("Produkt 08.1.02 ..."); "" = hoheitlich

    @property
    def expense(self) -> Decimal:
        return Decimal(self.amount) - Decimal(self.input_vat)


def apply_input_vat(tenant, lines: Sequence[ExpenseLine],
                    vat: Sequence[VatItem] | Callable[[], Sequence[VatItem]]) -> list[ExpenseLine]:
    """The Kontierung decides: lines whose product or cost centre belongs to a Betrieb gewerblicher Art
    get their share of the invoice's Vorsteuer (rules in `vat.py`); the others stay gross. `vat` may be a
    function, called only when a line deducts (reading the invoice is then not needed for the hoheitlicher
    Bereich)."""
    areas = ledger.input_vat_deduction(tenant, [(ln.product, ln.cost_centre) for ln in lines])
    if not any(areas):
        return [replace(ln, input_vat=ZERO, reverse_charge_vat=ZERO, input_vat_area="") for ln in lines]
    items = vat() if callable(vat) else vat
    shares = split_input_vat([Decimal(ln.amount) for ln in lines], [bool(a) for a in areas], items)
    return [replace(ln, input_vat=iv, reverse_charge_vat=rc, input_vat_area=area)
            for ln, area, (iv, rc) in zip(lines, areas, shares, strict=True)]


def _next_number(tenant, prefix: str, year: int) -> str:
    return numbering.format_reference(prefix, year, numbering.next_number(tenant.pk, prefix, year))


def create_payable(tenant, *, creditor_name: str, creditor_iban: str, creditor_bic: str = "", remittance: str,
                   lines: list[ExpenseLine], due_date: dt.date, discount_amount: Decimal = ZERO,
                   discount_until: dt.date | None = None, source_type: str = "", source_id: str = "",
                   actor: str, now: dt.datetime | None = None) -> Payable:
    """Anordnung: a payable with its Kontierung, posted Aufwand an Verbindlichkeit (idempotent by source)."""
    now = now or timezone.now()
    if source_id:
        existing = Payable.objects.filter(tenant=tenant, source_type=source_type, source_id=source_id).first()
        if existing is not None:
            return existing
    iban = (creditor_iban or "").replace(" ", "").upper()
    try:
        validate_iban(iban)
        if creditor_bic:
            validate_bic(creditor_bic)
    except ValidationError as e:
        raise Invalid(f"Bankverbindung des Zahlungsempfängers ungültig: {' '.join(e.messages)}",
                      errors=[{"pointer": "/creditor_iban", "message": " ".join(e.messages), "field": "IBAN"}]) from e
    if not lines:
        raise Invalid("Eine Verbindlichkeit braucht mindestens eine Kontierungszeile.")
    total = sum((Decimal(ln.amount) for ln in lines), ZERO)
    if total <= 0:
        raise Invalid("Der Betrag einer Verbindlichkeit muss größer als 0 sein.")
    discount_amount = Decimal(discount_amount or ZERO)  # "0.00" in the API, not "0"
    if discount_amount < 0 or discount_amount >= total:
        raise Invalid("Skonto muss zwischen 0 und dem Rechnungsbetrag liegen.")
    for ln in lines:
        if not (0 <= Decimal(ln.input_vat) <= Decimal(ln.amount)) or Decimal(ln.reverse_charge_vat) < 0:
            raise Invalid("Die Vorsteuer einer Kontierungszeile muss zwischen 0 und ihrem Betrag liegen.")
        if (ln.input_vat or ln.reverse_charge_vat) and not ln.input_vat_area:
            raise Invalid("Vorsteuer wird nur für einen Betrieb gewerblicher Art abgezogen (Produkt oder Kostenstelle "
                          "mit Vorsteuerabzug).")
    payable_account = ledger.account_for_role(tenant, Account.Role.PAYABLES).number
    input_vat_account = output_vat_account = ""
    try:
        if any(ln.input_vat or ln.reverse_charge_vat for ln in lines):
            input_vat_account = ledger.account_for_role(tenant, Account.Role.INPUT_VAT).number
        if any(ln.reverse_charge_vat for ln in lines):
            output_vat_account = ledger.account_for_role(tenant, Account.Role.OUTPUT_VAT).number
    except NotFound as e:  # a configuration gap, not a missing resource of the request
        raise Conflict(f"{e.detail} Für den Vorsteuerabzug eines Betriebs gewerblicher Art bitte den Kontenplan "
                       "ergänzen (rathaus ledger load-chart).") from e
    with transaction.atomic():
        year = timezone.localtime(now).year
        p = Payable.objects.create(
            tenant=tenant, number=_next_number(tenant, "AO", year), creditor_name=creditor_name[:140],
            creditor_iban=iban, creditor_bic=creditor_bic, remittance=remittance[:140], amount=total,
            discount_amount=discount_amount, discount_until=discount_until if discount_amount else None,
            due_date=due_date, payable_account=payable_account, source_type=source_type, source_id=source_id,
            created_at=now, created_by=actor, updated_at=now,
        )
        PayableLine.objects.bulk_create([
            PayableLine(payable=p, position=i, account=ln.account, product=ln.product, cost_centre=ln.cost_centre,
                        cash_account=ln.cash_account, amount=Decimal(ln.amount), text=ln.text[:200],
                        input_vat_area=ln.input_vat_area[:250], input_vat=Decimal(ln.input_vat),
                        reverse_charge_vat=Decimal(ln.reverse_charge_vat))
            for i, ln in enumerate(lines, start=1)
        ])
        # Aufwand (net for a Betrieb gewerblicher Art) + Vorsteuer [+ Vorsteuer an Umsatzsteuer, § 13b]
        # an Verbindlichkeit
        entry_lines = [ledger.Line(account=ln.account, debit=ln.expense, product=ln.product,
                                   cost_centre=ln.cost_centre, text=ln.text[:300]) for ln in lines if ln.expense > 0]
        for ln in lines:
            if ln.input_vat or ln.reverse_charge_vat:
                entry_lines.append(ledger.Line(
                    account=input_vat_account, debit=Decimal(ln.input_vat) + Decimal(ln.reverse_charge_vat),
                    product=ln.product, cost_centre=ln.cost_centre, text=f"Vorsteuer {ln.text}"[:300]))
            if ln.reverse_charge_vat:
                entry_lines.append(ledger.Line(
                    account=output_vat_account, credit=Decimal(ln.reverse_charge_vat), product=ln.product,
                    cost_centre=ln.cost_centre, text=f"Umsatzsteuer als Leistungsempfänger {ln.text}"[:300]))
        entry_lines.append(ledger.Line(account=payable_account, credit=total, text=creditor_name[:300]))
        ledger.post_entries(tenant, [ledger.EntrySpec(
            date=timezone.localtime(now).date(), text=f"Anordnung {p.number} {creditor_name} {remittance}"[:300],
            source_ref=f"payable:{p.pk}", source_type="payable", lines=entry_lines)], actor=actor, audit=False,
            now=now)
        record_change(tenant=tenant, actor=actor, action="payable.created", object_type="payable", object_id=p.pk,
                      data={"number": p.number, "amount": str(total), "creditor": creditor_name[:140],
                            "source": f"{source_type}:{source_id}"},
                      event_type="payable.created",
                      event_payload={"number": p.number, "amount": str(total), "due_date": due_date.isoformat()})
    return p


def amount_to_pay(p: Payable, execution_date: dt.date) -> tuple[Decimal, Decimal]:
    """(amount, discount) for a payment executed on execution_date: Skonto only within its period."""
    if p.discount_amount > 0 and p.discount_until and execution_date <= p.discount_until:
        return p.amount - p.discount_amount, p.discount_amount
    return p.amount, ZERO


def due_payables(tenant, execution_date: dt.date):
    """Open payables to pay on execution_date: due by then, or in their Skonto period. Without the creditor's
    IBAN (an invoice the supplier collects by direct debit, or one that names no account) a payable cannot be in
    a credit transfer file: it would make the whole file invalid and hold up every other payment."""
    return (Payable.objects.filter(tenant=tenant, status=PayableStatus.OPEN).exclude(creditor_iban="")
            .filter(Q(due_date__lte=execution_date) | Q(discount_until__gte=execution_date, discount_amount__gt=0))
            .order_by("due_date", "id"))


def create_payment_run(tenant, *, execution_date: dt.date | None = None, payable_ids: list[int] | None = None,
                       actor: str, now: dt.datetime | None = None) -> PaymentRun:
    """Collect the due payables into one pain.001 file, store it in the E-Akte, mark them scheduled."""
    now = now or timezone.now()
    today = timezone.localtime(now).date()
    execution_date = execution_date or today
    if execution_date < today:
        raise Invalid("Das Ausführungsdatum darf nicht in der Vergangenheit liegen.",
                      errors=[{"pointer": "/execution_date", "message": "liegt in der Vergangenheit",
                               "field": "Ausführungsdatum"}])
    if execution_date > today + dt.timedelta(days=60):
        raise Invalid("Das Ausführungsdatum liegt zu weit in der Zukunft (höchstens 60 Tage).")
    account = ensure_bank_account(tenant)
    if account is None:
        raise Conflict("Für diesen Mandanten ist kein Bankkonto hinterlegt.")
    with transaction.atomic():
        qs = due_payables(tenant, execution_date).select_for_update()
        if payable_ids is not None:
            qs = qs.filter(pk__in=payable_ids)
        payables = list(qs)
        if not payables:
            raise Conflict("Es gibt keine fälligen Verbindlichkeiten für diesen Zahlungslauf.")
        year = timezone.localtime(now).year
        number = _next_number(tenant, "ZL", year)
        sepa = SepaTransfer({"name": tenant.name[:70], "IBAN": account.iban, "BIC": account.bic or "NOTPROVIDED",
                             "batch": True, "currency": "EUR"}, schema=PAIN_SCHEMA, clean=False)
        items = []
        total = ZERO
        for p in payables:
            amount, discount = amount_to_pay(p, execution_date)
            e2e = f"{tenant.pk}-{p.number}"[:35]
            payment = {"name": p.creditor_name[:70], "IBAN": p.creditor_iban, "amount": int(amount * 100),
                       "execution_date": execution_date, "description": p.remittance[:140], "endtoend_id": e2e}
            if p.creditor_bic:
                payment["BIC"] = p.creditor_bic
            sepa.add_payment(payment)
            items.append((p, e2e, amount, discount))
            total += amount
        try:
            xml = sepa.export(validate=True, pretty_print=True)
        except Exception as e:  # noqa: BLE001 - sepaxml raises plain exceptions on invalid content
            raise Invalid(f"Die SEPA-Datei ist ungültig: {e}") from e
        msg_id = _message_id(xml)
        doc = store_document(tenant=tenant, case=None, kind=Document.Kind.OTHER, title=f"Zahlungslauf {number}",
                             filename=f"{number}-pain.001.xml", content_type="application/xml", content=xml,
                             actor=actor)
        run = PaymentRun.objects.create(
            tenant=tenant, bank_account=account, number=number, message_id=msg_id, execution_date=execution_date,
            count=len(items), total=total, schema=PAIN_SCHEMA, document=doc, created_at=now, created_by=actor)
        PaymentRunItem.objects.bulk_create([
            PaymentRunItem(run=run, payable=p, end_to_end_id=e2e, amount=amount, discount=discount)
            for p, e2e, amount, discount in items])
        Payable.objects.filter(pk__in=[p.pk for p in payables]).update(
            status=PayableStatus.SCHEDULED, payment_run=run, updated_at=now)
        record_change(tenant=tenant, actor=actor, action="payment_run.created", object_type="payment_run",
                      object_id=run.pk, data={"number": number, "count": len(items), "total": str(total),
                                              "execution_date": execution_date.isoformat(), "sha256": doc.sha256},
                      event_type="payment_run.created",
                      event_payload={"number": number, "count": len(items), "total": str(total)})
    return run


def _message_id(xml: bytes) -> str:
    root = etree.fromstring(xml, etree.XMLParser(resolve_entities=False, no_network=True))
    el = root.find(".//{*}GrpHdr/{*}MsgId")
    return (el.text or "")[:35] if el is not None else ""


def book_run_item_payment(item: PaymentRunItem, *, booking_date: dt.date, bank_ledger_account: str,
                          source_ref: str) -> ledger.EntrySpec:
    """The journal entry for a paid run item: Verbindlichkeit an Bank (+ Skonto as expense reduction).

    Marks the item and its payable paid (the caller saves them in its transaction)."""
    p = item.payable
    lines_in = list(p.lines.all())
    entry_lines = []
    paid = item.amount
    # the cash leaving the bank is split over the Kontierung lines in proportion (last line takes the rest)
    remaining = paid
    for i, ln in enumerate(lines_in):
        share = remaining if i == len(lines_in) - 1 else (paid * ln.amount / p.amount).quantize(Decimal("0.01"))
        remaining -= share
        if share > 0:
            entry_lines.append(ledger.Line(account=p.payable_account, debit=share, cash_account=ln.cash_account,
                                           text=f"{p.number} {ln.text}"[:300]))
    if item.discount > 0:
        # Skonto: the liability is settled in full; the discount reduces the expense (Aufwandsminderung) and,
        # for a Betrieb gewerblicher Art, the Vorsteuer in it (§ 17 Abs. 1 UStG: the tax base is reduced)
        remaining = item.discount
        roles: dict[str, str] = {}

        def role(r: str) -> str:
            if r not in roles:
                roles[r] = ledger.account_for_role(p.tenant, r).number
            return roles[r]

        for i, ln in enumerate(lines_in):
            share = remaining if i == len(lines_in) - 1 else (item.discount * ln.amount / p.amount).quantize(
                Decimal("0.01"))
            remaining -= share
            if share <= 0:
                continue
            iv, rc = skonto_correction(share, ln.amount, ln.input_vat, ln.reverse_charge_vat)
            text = f"Skonto {p.number}"
            entry_lines.append(ledger.Line(account=p.payable_account, debit=share, text=text))
            if share - iv > 0:
                entry_lines.append(ledger.Line(account=ln.account, credit=share - iv, product=ln.product,
                                               cost_centre=ln.cost_centre, text=text))
            if iv + rc > 0:
                entry_lines.append(ledger.Line(account=role(Account.Role.INPUT_VAT), credit=iv + rc,
                                               product=ln.product, cost_centre=ln.cost_centre,
                                               text=f"Vorsteuerberichtigung (§ 17 UStG) {text}"))
            if rc > 0:
                entry_lines.append(ledger.Line(account=role(Account.Role.OUTPUT_VAT), debit=rc, product=ln.product,
                                               cost_centre=ln.cost_centre,
                                               text=f"Umsatzsteuerberichtigung (§ 17 UStG) {text}"))
    entry_lines.append(ledger.Line(account=bank_ledger_account, credit=paid, text=p.creditor_name[:300]))
    item.paid = True
    p.status = PayableStatus.PAID
    p.paid_amount = paid
    p.updated_at = timezone.now()
    return ledger.EntrySpec(date=booking_date, text=f"Zahlung {p.number} {p.creditor_name}"[:300],
                            source_ref=source_ref, source_type="payment", lines=entry_lines)


def get_payment_run(tenant, run_id: int) -> PaymentRun:
    run = PaymentRun.objects.filter(tenant=tenant, pk=run_id).select_related("document").first()
    if run is None:
        raise NotFound("Diesen Zahlungslauf gibt es nicht.")
    return run
