"""Number formats of the staff pages in the language of the page: {{ amount|eur }} -> "1.234,56 €" (German),
"€1,234.56" (English)."""

from decimal import Decimal, InvalidOperation

from django import template
from django.utils.translation import get_language

register = template.Library()


def english() -> bool:
    return (get_language() or "").startswith("en")


def group(d: Decimal, places: int = 2, en: bool = False) -> str:
    """|d| with thousands separators and `places` decimals: 1.234,56 (German) or 1,234.56 (English)."""
    whole, _, frac = f"{abs(d):.{places}f}".partition(".")
    groups = []
    while whole:
        groups.insert(0, whole[-3:])
        whole = whole[:-3]
    sep, point = (",", ".") if en else (".", ",")
    return sep.join(groups) + (point + frac if frac else "")


def format_eur(value, symbol: bool = True) -> str:
    if value is None or value == "":
        return ""
    try:
        d = Decimal(value).quantize(Decimal("0.01"))
    except (InvalidOperation, TypeError, ValueError):
        return str(value)
    sign = "−" if d < 0 else ""
    en = english()
    text = group(d, 2, en)
    if not symbol:
        return f"{sign}{text}"
    return f"{sign}€{text}" if en else f"{sign}{text} €"


@register.filter
def eur(value, symbol: bool = True) -> str:
    return format_eur(value, symbol)
