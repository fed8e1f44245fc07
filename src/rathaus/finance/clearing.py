"""The clearing list (Klärfälle): payments the import could not assign, and what the treasury does with them.

- `clearing_list`: the open items; `returned_payments`: which of them are transfers of ours coming back, and
  why (`RETURN_REASONS`); `clearing_suggestions`: the open receivables their payers probably meant;
- `assign_transaction`: (part of) an item to a receivable, posted Verwahrgeld an Forderung / Überzahlung
  (`postings`); `resolve_transaction`: closed without a receivable, with a reason.

A repayment to the payer is a refund payable (`refunds.refund_clearing_item`).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from rathaus.cases.models import Case
from rathaus.catalog.models import ServiceVersion
from rathaus.core.bulk import any_of
from rathaus.core.errors import Conflict, Invalid, NotFound
from rathaus.events.services import record_change, record_events
from rathaus.ledger import services as ledger

from . import kassenzeichen as kzlib
from .matching import Suggestion, apply_payment, name_words, rank_suggestions, references_in
from .models import Allocation, BankTransaction, PaymentRunItem, Receivable, ReceivableStatus
from .postings import chart_accounts, payment_lines, suspense_debit
from .receivables import OPEN_STATES, receivable_event

__all__ = ["RETURN_REASONS", "Suggestion", "assign_transaction", "clearing_list", "clearing_suggestions",
           "resolve_transaction", "returned_payments"]


# --------------------------------------------------------------------------- clearing list

def clearing_list(tenant):
    return (BankTransaction.objects.filter(tenant=tenant, state=BankTransaction.State.CLEARING)
            .select_related("statement").order_by("booking_date", "id"))


# --------------------------------------------------------------------------- returned payments in the clearing list

# ISO 20022 ExternalReturnReason1Code: the codes German banks give for a returned credit transfer (RtrInf/Rsn)
RETURN_REASONS = {
    "AC01": "IBAN fehlerhaft", "AC03": "Konto des Empfängers ungültig", "AC04": "Konto erloschen",
    "AC06": "Konto gesperrt", "AC13": "Kontoart passt nicht (Verbraucherkonto)", "AG01": "Buchung auf dem Konto nicht zulässig",
    "AG02": "ungültiger Geschäftsvorfall", "AM05": "Doppelzahlung", "BE04": "Anschrift des Empfängers fehlt",
    "CUST": "vom Empfänger abgelehnt", "FOCR": "Rückgabe nach Rückrufanfrage", "MD07": "Kontoinhaber verstorben",
    "MS02": "vom Empfänger abgelehnt, ohne Angabe von Gründen", "MS03": "ohne Angabe von Gründen",
    "RC01": "BIC fehlerhaft", "RR01": "Konto oder Name des Auftraggebers fehlt (Regulatorik)",
    "RR02": "Name oder Anschrift des Auftraggebers fehlt", "RR03": "Name oder Anschrift des Empfängers fehlt",
    "RR04": "regulatorische Gründe", "SL01": "besondere Dienstleistung der Bank", "TM01": "nach Annahmeschluss",
}


def returned_payments(tenant, transactions) -> dict[int, dict]:
    """Incoming clearing items that are a credit transfer of ours coming back (a return reason in the
    statement): the reason in words and, where the end-to-end id is one of a payment run, the payable it paid.
    One query per page."""
    items = [t for t in transactions if t.credit and t.return_reason]
    if not items:
        return {}
    runs = {it.end_to_end_id: it for it in PaymentRunItem.objects.filter(
        run__tenant=tenant, end_to_end_id__in={t.end_to_end_id for t in items if t.end_to_end_id})
        .select_related("payable", "run")}
    out = {}
    for t in items:
        it = runs.get(t.end_to_end_id)
        out[t.pk] = {"code": t.return_reason, "reason": RETURN_REASONS.get(t.return_reason, ""),
                     "payable": it.payable.number if it else "", "creditor": it.payable.creditor_name if it else "",
                     "run": it.run.number if it else ""}
    return out


# --------------------------------------------------------------------------- suggestions

def clearing_suggestions(tenant, transactions) -> dict[int, list[Suggestion]]:
    """For the clearing items shown (one page): the open receivables their payers probably meant
    (`matching.rank_suggestions`, which says why).

    Reasons, strongest first: a Kassenzeichen with one typed digit or one swap of adjacent digits (which the
    check digits refuse), or without its check digits; the Aktenzeichen of the case in the remittance text;
    the debtor's name together with the exact open amount. Then whether the amount and the name fit. At most
    five queries per page, whatever its size (Kassenzeichen and Aktenzeichen by their unique indexes; name and
    amount over the tenant's open receivables, limited)."""
    items = [t for t in transactions if t.credit and t.unallocated > 0]
    if not items:
        return {}
    prefixes = set(ServiceVersion.objects.filter(service__tenant=tenant).values_list("reference_prefix", flat=True)
                   .distinct().order_by())
    found = {t.pk: references_in(t.remittance, t.end_to_end_id, prefixes) for t in items}
    all_kz = {k for near, _ in found.values() for k in near}
    all_refs = {r for _, refs in found.values() for r in refs}
    receivables: dict[str, Receivable] = {}
    if all_kz:
        for r in any_of(Receivable.objects.filter(tenant=tenant, status__in=OPEN_STATES), "kassenzeichen",
                        sorted(all_kz)):
            receivables[r.kassenzeichen] = r
    case_receivables: dict[str, list[Receivable]] = {}
    if all_refs:
        ids = dict(Case.objects.filter(tenant=tenant, reference__in=sorted(all_refs)).values_list("pk", "reference"))
        for r in (Receivable.objects.filter(tenant=tenant, case_id__in=list(ids), status__in=OPEN_STATES)
                  .order_by("id")):
            case_receivables.setdefault(ids[r.case_id], []).append(r)
    # name + exact open amount: only receivables whose open amount is one of the page's amounts and whose
    # debtor shares a word of a payer's name (SQL), the exact word check in Python
    words = {w for t in items for w in name_words(t.counterparty_name)}
    named: list[Receivable] = []
    if words:
        # SQLite's LIKE folds the case of ASCII letters only (PostgreSQL's ILIKE all): a word with other letters
        # is looked for as written in lower case, capitals and with a capital first letter (müller, MÜLLER,
        # Öztürk), the spellings names come in; the exact word check follows in Python
        cond = Q()
        for w in sorted(words)[:40]:
            for v in {w} if w.isascii() else {w, w.upper(), w.capitalize()}:
                cond |= Q(debtor_name__icontains=v)
        named = list(Receivable.objects.filter(tenant=tenant, status__in=OPEN_STATES,
                                               open_amount__in={t.unallocated for t in items})
                     .filter(cond).order_by("due_date", "id")[:500])
    return {t.pk: rank_suggestions(t.unallocated, t.counterparty_name, near_misses=found[t.pk][0],
                                   references=found[t.pk][1], by_kassenzeichen=receivables,
                                   by_reference=case_receivables, named=named)
            for t in items}


# --------------------------------------------------------------------------- assignment and resolution

def assign_transaction(tenant, tx_id: int, *, kassenzeichen: str, amount: Decimal | None = None, actor: str,
                       note: str = "", now: dt.datetime | None = None) -> Allocation:
    """Manual assignment of (part of) a clearing item to a receivable (Verwahrgeld an Forderung)."""
    now = now or timezone.now()
    with transaction.atomic():
        btx = BankTransaction.objects.select_for_update().filter(tenant=tenant, pk=tx_id).first()
        if btx is None:
            raise NotFound("Diesen Kontoumsatz gibt es nicht.")
        if btx.state not in (BankTransaction.State.CLEARING,) or btx.unallocated <= 0:
            raise Conflict("Dieser Kontoumsatz ist bereits vollständig zugeordnet oder erledigt.")
        if not btx.credit:
            raise Conflict("Abbuchungen können keiner Forderung zugeordnet werden.")
        kz = kzlib.normalise(kassenzeichen)
        if not kzlib.is_valid(kz):
            raise Invalid("Das Kassenzeichen ist ungültig (Prüfziffer stimmt nicht).",
                          errors=[{"pointer": "/kassenzeichen", "message": "Prüfziffer stimmt nicht",
                                   "field": "Kassenzeichen"}])
        r = Receivable.objects.select_for_update().filter(tenant=tenant, kassenzeichen=kz).first()
        if r is None:
            raise NotFound(f"Kein Kassenzeichen {kzlib.display(kz)}.")
        if r.status == ReceivableStatus.CANCELLED:
            raise Conflict("Die Forderung ist storniert.")
        amount = btx.unallocated if amount is None else Decimal(amount)
        if amount <= 0 or amount > btx.unallocated or amount != amount.quantize(Decimal("0.01")):
            raise Invalid(f"Betrag muss zwischen 0,01 und {btx.unallocated} liegen (centgenau).",
                          errors=[{"pointer": "/amount", "message": "Betrag außerhalb des Umsatzes", "field": "Betrag"}])
        old = r.status
        settled = apply_payment(r, amount)
        r.updated_at = now
        r.save(update_fields=["paid_amount", "open_amount", "status", "updated_at"])
        btx.unallocated -= amount
        if btx.unallocated == 0:
            btx.state = BankTransaction.State.ASSIGNED
            btx.resolved_at, btx.resolved_by = now, actor
        btx.note = (note or btx.note)[:300]
        btx.save(update_fields=["unallocated", "state", "resolved_at", "resolved_by", "note"])
        alloc = Allocation.objects.create(tenant=tenant, transaction=btx, receivable=r, amount=amount, manual=True,
                                          created_at=now, created_by=actor)
        account = chart_accounts(tenant)
        lines = [suspense_debit(amount, account), *payment_lines(amount, [(r, settled)], account)]
        ledger.post_entries(tenant, [ledger.EntrySpec(
            date=timezone.localtime(now).date(), text=f"Zuordnung Klärfall {btx.pk} an KZ {r.kassenzeichen_display}",
            source_ref=f"allocation:{alloc.pk}", source_type="allocation", lines=lines)], actor=actor, audit=False,
            now=now)
        record_change(tenant=tenant, actor=actor, action="bank_transaction.assigned", object_type="bank_transaction",
                      object_id=btx.pk, data={"kassenzeichen": kz, "amount": str(amount), "note": note[:300]},
                      event_type=None)
        if r.status != old:
            record_events([receivable_event(r, old)])
    return alloc


def resolve_transaction(tenant, tx_id: int, *, actor: str, note: str, now: dt.datetime | None = None
                        ) -> BankTransaction:
    """Close a clearing item without a receivable (e.g. refunded, booked elsewhere), with a reason."""
    if not note.strip():
        raise Invalid("Bitte einen Vermerk angeben, warum der Klärfall ohne Zuordnung erledigt ist.",
                      errors=[{"pointer": "/note", "message": "Vermerk fehlt", "field": "Vermerk"}])
    now = now or timezone.now()
    with transaction.atomic():
        btx = BankTransaction.objects.select_for_update().filter(tenant=tenant, pk=tx_id).first()
        if btx is None:
            raise NotFound("Diesen Kontoumsatz gibt es nicht.")
        if btx.state != BankTransaction.State.CLEARING:
            raise Conflict("Dieser Kontoumsatz ist kein offener Klärfall.")
        btx.state = BankTransaction.State.IGNORED
        btx.note = note[:300]
        btx.resolved_at, btx.resolved_by = now, actor
        btx.save(update_fields=["state", "note", "resolved_at", "resolved_by"])
        record_change(tenant=tenant, actor=actor, action="bank_transaction.resolved", object_type="bank_transaction",
                      object_id=btx.pk, data={"note": note[:300]}, event_type=None)
    return btx
