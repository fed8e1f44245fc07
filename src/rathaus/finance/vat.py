"""Vorsteuer of incoming invoices for a Betrieb gewerblicher Art (BgA) or the unternehmerischer Bereich
(§ 2b UStG): which part of an invoice's VAT the municipality deducts, and how a Skonto corrects it.

A municipality acting as public authority (hoheitlicher Bereich) cannot deduct input VAT: the invoice is
an expense at its gross amount and nothing here applies. Where the Kontierung belongs to a BgA (a product
or cost centre marked `input_vat_deductible`), the VAT breakdown of the invoice (EN 16931 BG-23) decides,
by VAT category code (UNTDID 5305, BT-118):

- S (standard and reduced rates), AA (lower rate): the invoiced VAT (BT-117) is Vorsteuer, § 15 Abs. 1
  Satz 1 Nr. 1 UStG; the expense is net.
- AE (reverse charge, § 13b UStG) and K (intra-community supply; for the German recipient an
  innergemeinschaftlicher Erwerb, § 1a UStG, or a service under § 13b Abs. 1): the invoice carries no
  VAT; the municipality owes it itself (Umsatzsteuer) and deducts it at once (§ 15 Abs. 1 Satz 1 Nr. 3
  and 4 UStG). Its rate is not on the invoice (BT-119 is 0 by BR-AE-05/BR-IC-05), so the rate of
  `settings.RATHAUS_REVERSE_CHARGE_VAT_RATE` (default 19, § 12 Abs. 1 UStG) applies to BT-116.
- Z (zero rate, e.g. § 12 Abs. 3 UStG), E (exempt), G (export), O (not subject to VAT) and the
  foreign taxes L (IGIC), M (IPSI), B (Italian split payment): no German Vorsteuer.

All amounts are Decimal and cent-exact; shares of several Kontierung lines are proportional to their
amounts, the last line takes the rounding rest, so the sums are exact.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from django.conf import settings

from rathaus.core.errors import Invalid

CENT = Decimal("0.01")
ZERO = Decimal("0.00")
INVOICED = frozenset({"S", "AA"})       # VAT on the invoice, deductible as Vorsteuer
SELF_ASSESSED = frozenset({"AE", "K"})  # VAT owed by the recipient (§ 13b / § 1a UStG), deductible
CATEGORY_LABELS = {"S": "Regelsatz/ermäßigter Satz", "AA": "ermäßigter Satz", "AE": "Reverse Charge (§ 13b UStG)",
                   "K": "innergemeinschaftlich (§ 1a UStG)", "Z": "Nullsatz", "E": "steuerfrei",
                   "G": "Ausfuhr (steuerfrei)", "O": "nicht steuerbar"}


@dataclass(frozen=True)
class VatItem:
    """One line of an invoice's VAT breakdown (EN 16931 BG-23)."""

    category: str                 # BT-118
    taxable: Decimal              # BT-116
    tax: Decimal = ZERO           # BT-117
    rate: Decimal | None = None   # BT-119


def reverse_charge_rate() -> Decimal:
    return Decimal(str(getattr(settings, "RATHAUS_REVERSE_CHARGE_VAT_RATE", "19")))


def _cents(x: Decimal) -> Decimal:
    return x.quantize(CENT, ROUND_HALF_UP)


def invoice_input_vat(vat: Sequence[VatItem], rate: Decimal | None = None) -> tuple[Decimal, Decimal]:
    """(invoiced Vorsteuer, self-assessed VAT) of an invoice's VAT breakdown, for a deductible Kontierung."""
    rate = reverse_charge_rate() if rate is None else rate
    invoiced = sum((Decimal(v.tax or 0) for v in vat if (v.category or "").upper() in INVOICED), ZERO)
    owed = sum((_cents(Decimal(v.taxable or 0) * rate / 100) for v in vat
                if (v.category or "").upper() in SELF_ASSESSED), ZERO)
    if invoiced < 0 or owed < 0:
        raise Invalid("Die Umsatzsteuer der Rechnung ist negativ; die Vorsteuer bitte manuell buchen.")
    return _cents(invoiced), owed


def distribute(total: Decimal, amounts: Sequence[Decimal]) -> list[Decimal]:
    """`total` split over `amounts` in proportion (cents; the last share takes the rest)."""
    whole = sum(amounts, ZERO)
    if not amounts or whole <= 0:
        return [ZERO for _ in amounts]
    out, rest = [], total
    for i, a in enumerate(amounts):
        share = rest if i == len(amounts) - 1 else _cents(total * a / whole)
        out.append(share)
        rest -= share
    return out


def split_input_vat(amounts: Sequence[Decimal], deductible: Sequence[bool], vat: Sequence[VatItem],
                    rate: Decimal | None = None) -> list[tuple[Decimal, Decimal]]:
    """Per Kontierung line (its share of the liability, whether its area deducts input VAT): (Vorsteuer
    contained in the amount, self-assessed VAT). The invoice's VAT is spread over all lines in proportion
    to their amounts; only the deductible lines keep their share, the others book it as expense."""
    invoiced, owed = invoice_input_vat(vat, rate)
    out = []
    for amount, ok, iv, rc in zip(amounts, deductible, distribute(invoiced, amounts), distribute(owed, amounts),
                                  strict=True):
        if not ok:
            out.append((ZERO, ZERO))
            continue
        if iv > amount:
            raise Invalid(f"Die Vorsteuer ({iv} €) ist größer als der Betrag der Kontierungszeile ({amount} €).")
        out.append((iv, rc))
    return out


def skonto_correction(discount: Decimal, amount: Decimal, input_vat: Decimal,
                      reverse_charge_vat: Decimal) -> tuple[Decimal, Decimal]:
    """§ 17 Abs. 1 UStG: a Skonto reduces the tax base, so the Vorsteuer in it goes back. For a line of
    `amount` (with `input_vat` in it and `reverse_charge_vat` owed on it) paid `discount` less:
    (Vorsteuer correction of the invoiced VAT, correction of the self-assessed VAT). The discount is
    taken from all rates of the line in proportion (the usual reading of a Skonto on the gross total)."""
    if discount <= 0 or amount <= 0:
        return ZERO, ZERO
    return _cents(discount * input_vat / amount), _cents(discount * reverse_charge_vat / amount)
