"""Matching a payment to receivables: the decisions, as pure functions (no database).

The bank statement import (`bank.importer`) and the clearing list (`clearing`: manual assignment, suggestions)
read the receivables and write the results; what a payment means is decided here:

- `allocate`: which of the receivables whose Kassenzeichen a payment names it pays, and how much of it each;
- `apply_payment`: what a payment does to a receivable (paid and open amount, status) and how much of it
  settles the Forderung (the rest is overpaid);
- `status_for`: a receivable's status from its amount and what has been paid;
- `references_in`: Kassenzeichen the payer probably meant (a typo, a swap, no check digits) and Aktenzeichen
  in a remittance text;
- `name_words`, `names_overlap`: whether a payer's name fits a debtor's;
- `rank_suggestions`: which open receivables the clearing list suggests for an item, and why.

Receivables are any objects with the model's attribute names (`amount`, `paid_amount`, `open_amount`,
`status`, `debtor_name`, `due_date`, `pk`): the import works on plain records, the clearing list on models.
Where a Kassenzeichen is found in a text is `kassenzeichen.candidates_in` (the parser process uses it too).
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal

from rathaus.tenants.numbering import format_reference

from . import kassenzeichen as kzlib
from .models import ReceivableStatus

ZERO = Decimal("0.00")
MAX_SUGGESTIONS = 5


# --------------------------------------------------------------------------- a payment on receivables

def status_for(amount: Decimal, paid: Decimal) -> str:
    """The status of a receivable of `amount` on which `paid` has been paid."""
    if paid <= 0:
        return ReceivableStatus.OPEN
    if paid < amount:
        return ReceivableStatus.PARTIALLY_PAID
    if paid == amount:
        return ReceivableStatus.PAID
    return ReceivableStatus.OVERPAID


def apply_payment(r, amount: Decimal) -> Decimal:
    """Book `amount` on receivable `r` (in memory: paid and open amount, status) and return the part of it that
    settles the Forderung; the rest (`amount` minus that) is an overpayment."""
    settled = min(amount, max(r.open_amount, ZERO))
    r.paid_amount += amount
    r.open_amount = r.amount - r.paid_amount
    r.status = status_for(r.amount, r.paid_amount)
    return settled


def allocate(amount: Decimal, found: list, *, credit: bool = True, reversal: bool = False, currency: str = "EUR",
             payer: str = "") -> tuple[list[tuple[object, Decimal]], str]:
    """How a payment of `amount` settles the receivables `found` by the Kassenzeichen in its text:
    ([(receivable, amount allocated)], note for the bank transaction; "" = none).

    - one Kassenzeichen: the whole amount goes to it (partial payment, exact or overpayment); a payer whose name
      does not fit the debtor's is noted, not refused (third parties may pay another's debt);
    - several: when the amount equals their open total, each is settled; when it equals the open amount of
      exactly one of them, that one; otherwise the payment goes to the clearing list;
    - currency other than EUR, reversals, debits and nothing found: clearing list.
    """
    if not found or not credit or reversal or currency != "EUR" or amount <= 0:
        return [], "Fremdwährung: bitte manuell prüfen." if found and currency != "EUR" else ""
    if len(found) == 1:
        r = found[0]
        note = ""
        if payer and r.debtor_name and not names_overlap(payer, r.debtor_name):
            note = f"Zahlung durch Dritte ({payer[:80]})"[:300]
        return [(r, amount)], note
    open_total = sum((max(r.open_amount, ZERO) for r in found), ZERO)
    if open_total == amount:
        return [(r, max(r.open_amount, ZERO)) for r in found if r.open_amount > 0], ""
    exact = [r for r in found if r.open_amount == amount]
    if len(exact) == 1:
        return [(exact[0], amount)], ""
    return [], "Mehrere Kassenzeichen im Verwendungszweck; Betrag passt zu keiner Aufteilung."


# --------------------------------------------------------------------------- names

_NOT_A_NAME = frozenset({"und", "gmbh", "mbh", "e.k.", "herr", "frau", "familie", "fam", "co.", "kg", "ohg", "bank",
                         "sparkasse"})
_NAME_SEPARATORS = re.compile(r"[\s,;/&+\-]+")


def name_words(name: str) -> set[str]:
    """The words of a name that identify a person (not "und", "GmbH", initials): lower case, ≥ 3 letters."""
    return {w for w in _NAME_SEPARATORS.split((name or "").lower()) if len(w) > 2 and w not in _NOT_A_NAME}


def names_overlap(a: str, b: str) -> bool:
    return bool(name_words(a) & name_words(b))


# --------------------------------------------------------------------------- suggestions for the clearing list

_AKTENZEICHEN = re.compile(r"\b([A-Z]{2,6})[\s\-/.]*(20\d\d)[\s\-/.]*(\d{1,6})\b")
_NEAR_MISS_REASONS = {"Tippfehler": "kz_typo", "Zahlendreher": "kz_swap"}  # else: kz_no_check


def references_in(remittance: str, end_to_end_id: str, prefixes: Collection[str]
                  ) -> tuple[dict[str, str], set[str]]:
    """What a payer probably meant in an item's texts: ({Kassenzeichen: how}, {Aktenzeichen}).

    Kassenzeichen are the near misses (`kassenzeichen.near_misses`: one typed digit, one swap of adjacent digits,
    no check digits); Aktenzeichen are references with one of the tenant's `prefixes` ("KZ 2026-000123-45" is no
    Aktenzeichen, "GEW 2026 123" is), in their printed form; the digits of an Aktenzeichen (GEW-2026-000001) are
    not taken for a Kassenzeichen without its check digits."""
    text = f"{remittance}\n{end_to_end_id}".upper()
    refs = [m for m in _AKTENZEICHEN.finditer(text) if m.group(1) in prefixes]
    found = {format_reference(m.group(1), int(m.group(2)), int(m.group(3))) for m in refs}
    for m in reversed(refs):
        text = text[:m.start()] + "\n" + text[m.end():]
    return kzlib.near_misses(text), found


@dataclass
class Suggestion:
    """An open receivable the payer probably meant, and why (shown to the treasury, never booked alone)."""

    receivable: object
    # (code, detail): kz_typo, kz_swap, kz_no_check (a Kassenzeichen the check digits refused, or without
    # them), aktenzeichen (detail: the reference), name_amount, amount (the open amount equals the payment)
    reasons: list[tuple[str, str]] = field(default_factory=list)
    score: int = 0

    @property
    def reason_codes(self) -> list[str]:
        return [code for code, _ in self.reasons]


def rank_suggestions(amount: Decimal, payer: str, *, near_misses: Mapping[str, str], references: Iterable[str],
                     by_kassenzeichen: Mapping[str, object], by_reference: Mapping[str, list],
                     named: Iterable) -> list[Suggestion]:
    """The open receivables suggested for a clearing item of `amount` paid by `payer`, strongest first (at most
    MAX_SUGGESTIONS): a near-miss Kassenzeichen (40), the Aktenzeichen of the receivable's case (30), a word
    of the payer's name in the debtor's together with the exact open amount (20); then +5 when the open
    amount equals the payment. `by_kassenzeichen`, `by_reference` and `named` are the open receivables read
    for the page (by Kassenzeichen, by Aktenzeichen, and those whose debtor may share a word of a payer's
    name)."""
    found: dict[int, Suggestion] = {}

    def add(r, reason: str, score: int, detail: str = "") -> None:
        s = found.setdefault(r.pk, Suggestion(r))
        if all(code != reason for code, _ in s.reasons):
            s.reasons.append((reason, detail))
            s.score += score

    for kz, how in near_misses.items():
        if kz in by_kassenzeichen:
            add(by_kassenzeichen[kz], _NEAR_MISS_REASONS.get(how, "kz_no_check"), 40)
    for ref in sorted(references):
        for r in by_reference.get(ref, []):
            add(r, "aktenzeichen", 30, ref)
    words = name_words(payer)
    for r in named:
        if r.open_amount == amount and words & name_words(r.debtor_name):
            add(r, "name_amount", 20)
    for s in found.values():
        if s.receivable.open_amount == amount and "name_amount" not in s.reason_codes:
            add(s.receivable, "amount", 5)
    return sorted(found.values(), key=lambda s: (-s.score, s.receivable.due_date, s.receivable.pk))[:MAX_SUGGESTIONS]
