"""German number formats for the staff pages: {{ amount|eur }} -> "1.234,56 €"."""

from decimal import Decimal, InvalidOperation

from django import template

register = template.Library()


@register.filter
def eur(value, symbol: bool = True) -> str:
    if value is None or value == "":
        return ""
    try:
        d = Decimal(value).quantize(Decimal("0.01"))
    except (InvalidOperation, TypeError, ValueError):
        return str(value)
    sign = "−" if d < 0 else ""
    whole, frac = f"{abs(d):.2f}".split(".")
    groups = []
    while whole:
        groups.insert(0, whole[-3:])
        whole = whole[:-3]
    text = f"{sign}{'.'.join(groups)},{frac}"
    return f"{text} €" if symbol else text
