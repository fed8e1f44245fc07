"""Invoice desk (Rechnungseingang) web pages: upload, list, one invoice with findings and its view."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _

from rathaus.core.errors import DomainError, NotFound
from rathaus.core.i18n import choice_label, choice_options
from rathaus.core.web import document_response, staff_view

from . import services
from .models import InvoiceStatus

RECEIVE_ROLES = ("treasury", "accounting", "admin")
READ_ROLES = ("treasury", "accounting", "admin", "clerk", "approver")


def _may(membership, roles) -> bool:
    return any(membership.has_role(r) for r in roles)


def _readable_invoice(membership, invoice_id: int):
    """The invoice of the caller's tenant, for roles that may read the invoice desk (else 403/404)."""
    if not _may(membership, READ_ROLES):
        raise PermissionDenied("Kein Zugriff auf den Rechnungseingang.")
    try:
        return services.get_invoice(membership.tenant, invoice_id, membership=membership)
    except NotFound as e:
        raise Http404(str(e)) from e


@staff_view
def inbox(request, membership):
    if not _may(membership, READ_ROLES):
        raise PermissionDenied("Kein Zugriff auf den Rechnungseingang.")
    status = 200
    if request.method == "POST":
        if not _may(membership, RECEIVE_ROLES):
            raise PermissionDenied("Rechnungen liefert nur der Rechnungseingang ein.")
        upload = request.FILES.get("datei")
        if upload is None:
            messages.error(request, _("Bitte eine XRechnung (XML-Datei) auswählen."))
            status = 422
        elif upload.size > services.max_bytes():
            messages.error(request, _("Die Datei ist zu groß."))
            status = 413
        else:
            try:
                inv = services.receive_invoice(membership.tenant, upload.read(), actor=request.user.get_username(),
                                               channel="upload", filename=upload.name)
                messages.success(request, _("Rechnung eingegangen: %(status)s.")
                                 % {"status": choice_label(InvoiceStatus, inv.status)})
                return redirect(reverse("einvoice:invoice", args=[inv.pk]))
            except DomainError as e:
                messages.error(request, _("Die Datei wurde abgewiesen (und protokolliert): %(detail)s")
                               % {"detail": e.detail})
                status = 422
    filt = request.GET.get("status", "")
    if filt not in InvoiceStatus.values:
        filt = ""
    qs = services.invoices_for(membership.tenant, filt or None, membership=membership)
    page = Paginator(qs, 50).get_page(request.GET.get("seite"))
    rows = [{"inv": i, "status": services.invoice_status(i)} for i in page.object_list]
    for r in rows:
        r["label"] = choice_label(InvoiceStatus, r["status"])
    return render(request, "einvoice/inbox.html", {
        "rows": rows, "page": page, "statuses": choice_options(InvoiceStatus), "filter_status": filt,
        "may_receive": _may(membership, RECEIVE_ROLES),
    }, status=status)


@staff_view
def invoice(request, membership, invoice_id: int):
    inv = _readable_invoice(membership, invoice_id)
    view_html = None
    try:
        from .parse import parse_invoice
        from .render import invoice_html_context

        with inv.document.file.open("rb") as fh:
            model = parse_invoice(fh.read(), inv.syntax)
        from django.template.loader import render_to_string
        from django.utils.safestring import mark_safe

        # our own template's output, autoescaped when rendered: safe to embed (a fragment, not a second page)
        context = {"inv": invoice_html_context(model)}
        view_html = mark_safe(render_to_string("einvoice/_invoice.html", context, request=request))  # noqa: S308
    except Exception:  # noqa: BLE001 - an invalid invoice may not be presentable; the findings are shown
        view_html = None
    status = services.invoice_status(inv)
    return render(request, "einvoice/invoice.html", {
        "inv": inv, "status": status, "label": choice_label(InvoiceStatus, status), "view_html": view_html,
        "input_vat": services.input_vat_summary(inv) if inv.case_id else "",
    })


@staff_view
def rejection(request, membership, invoice_id: int):
    inv = _readable_invoice(membership, invoice_id)
    if not inv.rejection_message:
        raise Http404("Für diese Rechnung gibt es kein Zurückweisungsschreiben.")
    resp = HttpResponse(inv.rejection_message, content_type="text/plain; charset=utf-8")
    resp["Content-Disposition"] = f'attachment; filename="zurueckweisung-{inv.pk}.txt"'
    return resp


@staff_view
def pdf_view(request, membership, invoice_id: int):
    """The readable PDF view (rendered and filed once)."""
    inv = _readable_invoice(membership, invoice_id)
    if inv.status in ("refused", "invalid") or not inv.case_id:
        raise Http404("Für diese Rechnung gibt es keine Sichtansicht.")
    doc = services.ensure_pdf_view(inv, actor=request.user.get_username())
    if doc is None:
        raise Http404("Die Originaldatei fehlt.")
    return document_response(doc)


@staff_view
def original(request, membership, invoice_id: int):
    inv = _readable_invoice(membership, invoice_id)
    if inv.document is None:
        raise Http404("Datei nicht gespeichert")
    return document_response(inv.document, inline=False)
