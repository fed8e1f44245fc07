"""What the case page of an invoice approval shows besides the generic case data (`cases.facts`)."""

from rathaus.cases.facts import register_case_facts

from .services import APPROVAL_SERVICE


@register_case_facts(APPROVAL_SERVICE)
def _input_vat(case) -> list[tuple[str, str]]:
    from .models import EInvoice
    from .services import input_vat_summary

    inv = EInvoice.objects.filter(case=case).select_related("case", "payable").first()
    text = input_vat_summary(inv) if inv is not None else ""
    return [("Vorsteuerabzug", text)] if text else []
