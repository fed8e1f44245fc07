"""BPMN service tasks of the invoice approval process (`eingangsrechnung`).

The operators only record effects; the effect handlers run inside the transaction of the task
completion, so a refused Anordnung (budget) rolls the completion back and the approver sees why."""

from django.utils import translation

from rathaus.cases.effects import register_effect
from rathaus.cases.models import CaseEvent
from rathaus.workflow.engine import emit_effect
from rathaus.workflow.registry import service_operators


def _book_operator(buchung=None, ueberschreitung=False, begruendung=""):
    emit_effect("einvoice_book", buchung=dict(buchung or {}), override=bool(ueberschreitung),
                reason=str(begruendung or ""))
    return {"booked": True}


def _reject_operator():
    emit_effect("einvoice_reject")
    return {"rejected": True}


service_operators.register("einvoice_book", _book_operator)
service_operators.register("einvoice_reject", _reject_operator)


@register_effect("einvoice_book")
def _book(case, eff, events, now):
    from .models import EInvoice
    from .services import book_approved_invoice, input_vat_summary

    book_approved_invoice(case, buchung=eff.kwargs["buchung"], override=eff.kwargs.get("override", False),
                          reason=eff.kwargs.get("reason", ""), actor="Prozess", now=now)
    inv = EInvoice.objects.filter(case=case).select_related("payable").first()
    with translation.override("de"):  # the case history is a record: German, whoever clicked
        vat = input_vat_summary(inv) if inv is not None and inv.payable_id else ""
    events.append(CaseEvent(case=case, at=now, kind="payable", public=False, actor="Prozess",
                            message="Auszahlung angeordnet: Verbindlichkeit gebucht, Zahlung im nächsten Zahlungslauf."
                            + (f" Vorsteuerabzug: {vat}." if vat else "")))


@register_effect("einvoice_reject")
def _reject(case, eff, events, now):
    from .services import reject_invoice_from_case

    reject_invoice_from_case(case, actor="Prozess")
    events.append(CaseEvent(case=case, at=now, kind="rejection", public=False, actor="Prozess",
                            message="Rechnung zurückgewiesen; Zurückweisungsschreiben für den Rechnungssteller erstellt."))
