"""Template filters of the Haushalt pages: money in the language of the page (German by default)."""

from decimal import Decimal, InvalidOperation

from django import template

from rathaus.core.templatetags.rathaus_format import english, group

register = template.Library()


def format_euro(value, sign: bool = False, en: bool = False) -> str:
    """1234.5 -> "1.234,50 €" (en: "€1,234.50"); negative amounts with a real minus sign."""
    try:
        d = Decimal(value).quantize(Decimal("0.01"))
    except (InvalidOperation, TypeError, ValueError):
        return ""
    text = f"€{group(d, 2, True)}" if en else f"{group(d)}\u00a0€"
    if d < 0:
        return "−" + text
    return ("+" + text) if sign and d > 0 else text


@register.filter
def euro(value):
    return format_euro(value, en=english())


@register.filter
def euro_or_blank(value):
    """Zero amounts as an empty cell (Summen- und Saldenliste)."""
    try:
        if Decimal(value) == 0:
            return ""
    except (InvalidOperation, TypeError, ValueError):
        return ""
    return format_euro(value, en=english())
