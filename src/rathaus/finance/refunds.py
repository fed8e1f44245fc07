"""Erstattungen (refunds): paying back an overpayment or a payment that belongs to no receivable.

Both become an ordinary payable (`payables.create_payable`, source type "refund") that the next payment run
(SEPA pain.001) pays, so a refund goes through the same file, validation and bank matching as every other
payment; nothing is transferred by this module itself.

- **Überzahlung** of a receivable: Verbindlichkeit aus Überzahlung an Verbindlichkeit (payable); paid: the
  payable an Bank, Auszahlung haushaltsunwirksam (7991). The receivable's paid amount drops by the refund, its
  status becomes "bezahlt".
- **Klärfall** that cannot be assigned (a payment meant for someone else, twice paid, …): Verwahrgeld an
  Verbindlichkeit (payable); the clearing item is closed as "zurücküberwiesen".

Separation of duties (Trennung von Anordnung und Zahlung, e.g. § 30 GemKVO): the money goes back **only to the
account it came from** – the payer's IBAN in the bank statement. No one types an IBAN here, so a refund cannot
redirect money; a payment without the payer's IBAN in the statement cannot be refunded this way, and the amount
is bounded by what was overpaid or left unassigned.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from rathaus.core.errors import Conflict, Invalid, NotFound
from rathaus.core.validators import validate_iban
from rathaus.events.services import record_change, record_events
from rathaus.ledger import services as ledger
from rathaus.ledger.models import Account

from . import kassenzeichen as kzlib
from .models import Allocation, BankTransaction, Payable, Receivable, ReceivableStatus
from .payables import ExpenseLine, create_payable
from .receivables import receivable_event

ZERO = Decimal("0.00")
SOURCE_TYPE = "refund"


def _payer(tx: BankTransaction) -> tuple[str, str]:
    """(name, IBAN) of the payer of an incoming payment, as the bank reported them; Conflict without an IBAN."""
    iban = (tx.counterparty_iban or "").replace(" ", "").upper()
    try:
        if not iban:
            raise ValidationError("keine IBAN")
        validate_iban(iban)
    except ValidationError:
        raise Conflict("Der Kontoauszug nennt kein gültiges Konto des Einzahlers; eine Erstattung muss außerhalb "
                       "von rathaus angeordnet werden.") from None
    return (tx.counterparty_name or "Einzahler")[:140], iban


def refunds_of(receivable: Receivable):
    """The refund payables ordered for a receivable (oldest first)."""
    return Payable.objects.filter(tenant_id=receivable.tenant_id, source_type=SOURCE_TYPE,
                                  source_id__startswith=f"receivable:{receivable.pk}:").order_by("id")


def refund_overpayment(tenant, kassenzeichen: str, *, actor: str, note: str = "",
                       now: dt.datetime | None = None) -> Payable:
    """Order the refund of a receivable's overpayment to the account of the payment that overpaid it."""
    now = now or timezone.now()
    kz = kzlib.normalise(kassenzeichen)
    with transaction.atomic():
        r = Receivable.objects.select_for_update().filter(tenant=tenant, kassenzeichen=kz).first()
        if r is None:
            raise NotFound(f"Kein Kassenzeichen {kassenzeichen[:40]!r} bei {tenant.name}.")
        amount = -r.open_amount
        if r.status != ReceivableStatus.OVERPAID or amount <= 0:
            raise Conflict(f"Die Forderung {r.kassenzeichen_display} ist nicht überzahlt; es gibt nichts zu erstatten.")
        last = (Allocation.objects.filter(receivable=r).select_related("transaction")
                .order_by("-created_at", "-id").first())
        if last is None or not last.transaction.credit:
            raise Conflict("Zu dieser Überzahlung gibt es keinen Zahlungseingang im Kontoauszug.")
        if amount > last.amount:
            raise Conflict(f"Die Überzahlung ({amount} €) ist größer als die letzte Zahlung ({last.amount} €), sie "
                           "stammt aus mehreren Zahlungen: bitte außerhalb von rathaus klären und anordnen.")
        name, iban = _payer(last.transaction)
        count = refunds_of(r).count()
        payable = create_payable(
            tenant, creditor_name=name, creditor_iban=iban,
            remittance=f"Erstattung Überzahlung Kassenzeichen {r.kassenzeichen_display}",
            lines=[ExpenseLine(account=ledger.account_for_role(tenant, Account.Role.OVERPAYMENTS).number,
                               amount=amount,
                               cash_account=ledger.account_for_role(tenant, Account.Role.SUSPENSE_CASH_OUT).number,
                               text=f"Erstattung Überzahlung KZ {r.kassenzeichen_display}")],
            due_date=timezone.localtime(now).date(), source_type=SOURCE_TYPE,
            source_id=f"receivable:{r.pk}:{count + 1}", actor=actor, now=now)
        old = r.status
        r.paid_amount -= amount
        r.open_amount = r.amount - r.paid_amount
        r.status = ReceivableStatus.PAID
        r.updated_at = now
        r.save(update_fields=["paid_amount", "open_amount", "status", "updated_at"])
        record_events([receivable_event(r, old)])
        record_change(tenant=tenant, actor=actor, action="receivable.refund_ordered", object_type="receivable",
                      object_id=r.kassenzeichen, data={"amount": str(amount), "payable": payable.number,
                                                       "iban": iban, "note": note[:300]},
                      event_type=None)  # last: the audit head stays locked only until COMMIT
    return payable


def refund_clearing_item(tenant, tx_id: int, *, actor: str, note: str = "",
                         now: dt.datetime | None = None) -> Payable:
    """Order the refund of a clearing item's unassigned amount to the payer's account; close the item."""
    now = now or timezone.now()
    with transaction.atomic():
        btx = BankTransaction.objects.select_for_update().filter(tenant=tenant, pk=tx_id).first()
        if btx is None:
            raise NotFound("Diesen Kontoumsatz gibt es nicht.")
        if btx.state != BankTransaction.State.CLEARING or btx.unallocated <= 0:
            raise Conflict("Dieser Kontoumsatz ist kein offener Klärfall.")
        if not btx.credit:
            raise Invalid("Nur Zahlungseingänge können zurücküberwiesen werden.")
        if btx.return_reason:  # the account it came from is the one that refused our transfer
            raise Conflict(f"Dieser Eingang ist eine zurückgekommene Überweisung (Grund {btx.return_reason}); "
                           "sie an dasselbe Konto zurückzuüberweisen ginge wieder fehl.")
        name, iban = _payer(btx)
        amount = btx.unallocated
        payable = create_payable(
            tenant, creditor_name=name, creditor_iban=iban,
            # one line: the payer's text may span several remittance lines, a transfer's text is one
            remittance=f"Rückzahlung Ihrer Zahlung vom {btx.booking_date:%d.%m.%Y}"
                       + (f": {' '.join(btx.remittance.split())}" if btx.remittance.strip() else ""),
            lines=[ExpenseLine(account=ledger.account_for_role(tenant, Account.Role.SUSPENSE).number, amount=amount,
                               cash_account=ledger.account_for_role(tenant, Account.Role.SUSPENSE_CASH_OUT).number,
                               text=f"Rückzahlung Klärfall {btx.pk}")],
            due_date=timezone.localtime(now).date(), source_type=SOURCE_TYPE, source_id=f"banktx:{btx.pk}",
            actor=actor, now=now)
        btx.unallocated = ZERO
        btx.state = BankTransaction.State.REFUNDED
        btx.note = (note.strip() or f"Rückzahlung angeordnet ({payable.number})")[:300]
        btx.resolved_at, btx.resolved_by = now, actor
        btx.save(update_fields=["unallocated", "state", "note", "resolved_at", "resolved_by"])
        record_change(tenant=tenant, actor=actor, action="bank_transaction.refund_ordered",
                      object_type="bank_transaction", object_id=btx.pk,
                      data={"amount": str(amount), "payable": payable.number, "iban": iban, "note": note[:300]},
                      event_type=None)
    return payable
