"""Template filters of the Haushalt pages: German money format."""

from decimal import Decimal, InvalidOperation

from django import template

register = template.Library()


def format_euro(value, sign: bool = False) -> str:
    """1234.5 -> "1.234,50 €"; negative amounts with a real minus sign."""
    try:
        d = Decimal(value).quantize(Decimal("0.01"))
    except (InvalidOperation, TypeError, ValueError):
        return ""
    neg = d < 0
    whole, frac = f"{abs(d):.2f}".split(".")
    groups = []
    while whole:
        groups.insert(0, whole[-3:])
        whole = whole[:-3]
    text = f"{'.'.join(groups)},{frac}\u00a0€"
    if neg:
        return "−" + text
    return ("+" + text) if sign and d > 0 else text


@register.filter
def euro(value):
    return format_euro(value)


@register.filter
def euro_or_blank(value):
    """Zero amounts as an empty cell (Summen- und Saldenliste)."""
    try:
        if Decimal(value) == 0:
            return ""
    except (InvalidOperation, TypeError, ValueError):
        return ""
    return format_euro(value)
