"""Stadtkasse web pages: open items, receivable, clearing list with manual assignment, bank statements."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from functools import wraps
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import Prefetch, Q
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from rathaus.core.errors import Conflict, Invalid, NotFound
from rathaus.core.i18n import choice_label, choice_options
from rathaus.core.templatetags.rathaus_format import format_eur
from rathaus.core.web import document_response, staff_view
from rathaus.ledger.models import JournalEntry, JournalLine

from .bank.importer import import_bank_statement
from .clearing import (
    assign_transaction,
    clearing_list,
    clearing_suggestions,
    resolve_transaction,
    returned_payments,
)
from .models import BankStatement, Payable, PayableStatus, PaymentRun, ReceivableStatus
from .payables import amount_to_pay, create_payment_run, due_payables, get_payment_run
from .receivables import cancel_receivable, get_receivable, pay_to, receivables_for
from .refunds import refund_clearing_item, refund_overpayment, refunds_of

PAGE_SIZE = 50
READ_ROLES = ("treasury", "accounting", "admin")


def treasury_view(write: bool = False):
    def deco(view):
        @staff_view
        @wraps(view)
        def wrapper(request, membership, *args, **kwargs):
            roles = ("treasury",) if write else READ_ROLES
            if not any(membership.has_role(r) for r in roles):
                raise PermissionDenied("Diese Seite ist der Stadtkasse vorbehalten.")
            return view(request, membership, *args, **kwargs)

        return wrapper

    return deco


AMOUNT_RE = re.compile(r"(\d+|\d{1,3}(?:([.,])\d{3})+)(?:([.,])(\d{1,2}))?")


def parse_amount(raw: str) -> Decimal | None:
    """An amount typed in German or English notation: "12,50", "12.50", "1.234,50", "1,234.50", "1.234"
    (None if empty). A separator followed by one or two digits is the decimal one, groups of three digits
    are thousands; anything else is refused rather than guessed (an English "12.50" must not become 1.250 €)."""
    text = raw.strip().replace(" ", "").replace("\u00a0", "").removesuffix("€").removeprefix("€")
    if not text:
        return None
    m = AMOUNT_RE.fullmatch(text)
    if m is None or (m[2] and m[3] == m[2]):
        raise Invalid(_("Der Betrag ist keine Zahl (Beispiel: 12,50)."))
    return Decimal(f"{re.sub(r'[.,]', '', m[1])}.{m[4] or '0'}")


@treasury_view()
def open_items(request, membership):
    status = request.GET.get("status", "offen")
    q = (request.GET.get("q") or "").strip()[:100]
    if status not in ReceivableStatus.values and status != "offen":
        status = ""
    qs = receivables_for(membership.tenant, open_only=status == "offen",
                         status=status if status in ReceivableStatus.values else None, search=q)
    page = Paginator(qs, PAGE_SIZE).get_page(request.GET.get("seite"))
    today = timezone.localdate()
    params = {k: v for k, v in {"status": status, "q": q}.items() if v}
    return render(request, "finance/open_items.html", {
        "page": page, "rows": [{"r": r, "overdue": r.open_amount > 0 and r.due_date < today,
                                "label": choice_label(ReceivableStatus, r.status)} for r in page.object_list],
        "statuses": [("offen", _("offen und teilweise bezahlt")), *choice_options(ReceivableStatus)],
        "filter_status": status, "q": q, "query": urlencode(params),
        "clearing_count": clearing_list(membership.tenant).count(),
    })


@treasury_view()
def receivable(request, membership, kassenzeichen: str):
    try:
        r = get_receivable(membership.tenant, kassenzeichen)
    except NotFound as e:
        raise Http404(str(e)) from e
    allocations = list(r.allocations.select_related("transaction"))
    refunds = list(refunds_of(r))
    refs = ([f"receivable:{r.pk}"] + [f"allocation:{a.pk}" for a in allocations]
            + [f"payable:{p.pk}" for p in refunds])
    # payments are lines of the statement's collective entry, marked with the Kassenzeichen
    entries = (JournalEntry.objects.filter(Q(source_ref__in=refs) | Q(
        source_type="bank_statement", lines__text__contains=f"KZ {r.kassenzeichen_display}"),
        tenant=membership.tenant).distinct().order_by("date", "id")
               .prefetch_related(Prefetch("lines", queryset=JournalLine.objects.filter(
                   Q(text__contains=f"KZ {r.kassenzeichen_display}") | ~Q(entry__source_type="bank_statement"))
                   .select_related("account", "cash_account", "product"))))
    return render(request, "finance/receivable.html", {
        "r": r, "label": choice_label(ReceivableStatus, r.status), "lines": r.lines.all(),
        "allocations": allocations, "refunds": refunds,
        "may_refund": membership.has_role("treasury") and r.status == ReceivableStatus.OVERPAID,
        "overpaid": -r.open_amount,
        "entries": entries, "pay_to": pay_to(membership.tenant),
        "demo": getattr(settings, "RATHAUS_SHOW_DEMO_LOGINS", False),
        "may_cancel": membership.has_role("treasury") and r.paid_amount == 0 and r.status != "cancelled",
    })


@require_POST
@treasury_view(write=True)
def cancel(request, membership, kassenzeichen: str):
    try:
        r = cancel_receivable(membership.tenant, kassenzeichen, reason=request.POST.get("grund", ""),
                              actor=request.user.get_username())
        messages.success(request, _("Forderung %(kz)s storniert; die Sollstellung ist zurückgebucht.")
                         % {"kz": r.kassenzeichen_display})
    except NotFound as e:
        raise Http404(str(e)) from e
    except (Invalid, Conflict) as e:
        messages.error(request, e.detail)
    return redirect(reverse("finance:receivable", args=[kassenzeichen]))


@require_POST
@treasury_view(write=True)
def refund(request, membership, kassenzeichen: str):
    """Überzahlung erstatten: a refund payable to the account the overpayment came from (refunds.py)."""
    try:
        p = refund_overpayment(membership.tenant, kassenzeichen, note=request.POST.get("vermerk", ""),
                               actor=request.user.get_username())
        messages.success(request, _("Erstattung von %(amount)s an %(name)s (%(iban)s) angeordnet: %(number)s. Sie "
                                    "wird mit dem nächsten Zahlungslauf überwiesen.") % {
            "amount": format_eur(p.amount), "name": p.creditor_name, "iban": p.creditor_iban, "number": p.number})
    except NotFound as e:
        raise Http404(str(e)) from e
    except (Invalid, Conflict) as e:
        messages.error(request, e.detail)
    return redirect(reverse("finance:receivable", args=[kassenzeichen]))


@treasury_view()
def clearing(request, membership):
    items = clearing_list(membership.tenant)
    page = Paginator(items, PAGE_SIZE).get_page(request.GET.get("seite"))
    suggestions = clearing_suggestions(membership.tenant, page.object_list)
    returned = returned_payments(membership.tenant, page.object_list)
    for t in page.object_list:
        t.suggestions = suggestions.get(t.pk, [])
        t.returned = returned.get(t.pk)
    return render(request, "finance/clearing.html", {
        "page": page, "items": page.object_list, "may_write": membership.has_role("treasury"),
        "form_errors": {}, "form_data": {},
    })


@require_POST
@treasury_view(write=True)
def clearing_action(request, membership, tx_id: int, action: str):
    actor = request.user.get_username()
    note = (request.POST.get("vermerk") or "").strip()
    try:
        if action == "zuordnen":
            amount = parse_amount(request.POST.get("betrag") or "")
            alloc = assign_transaction(membership.tenant, tx_id, kassenzeichen=request.POST.get("kassenzeichen", ""),
                                       amount=amount, actor=actor, note=note)
            messages.success(request, _("%(amount)s dem Kassenzeichen %(kz)s zugeordnet.") % {
                "amount": format_eur(alloc.amount), "kz": alloc.receivable.kassenzeichen_display})
        elif action == "zurueckueberweisen":
            p = refund_clearing_item(membership.tenant, tx_id, note=note, actor=actor)
            messages.success(request, _("Rückzahlung von %(amount)s an %(name)s (%(iban)s) angeordnet: %(number)s. "
                                        "Sie wird mit dem nächsten Zahlungslauf überwiesen.") % {
                "amount": format_eur(p.amount), "name": p.creditor_name, "iban": p.creditor_iban,
                "number": p.number})
        elif action == "erledigen":
            resolve_transaction(membership.tenant, tx_id, actor=actor, note=note)
            messages.success(request, _("Klärfall ohne Zuordnung erledigt."))
        else:
            raise Http404("Unbekannte Aktion")
    except NotFound as e:
        messages.error(request, e.detail)
    except (Invalid, Conflict) as e:
        messages.error(request, e.detail)
    return redirect(reverse("finance:clearing"))


@treasury_view()
def statements(request, membership):
    if request.method == "POST":
        if not membership.has_role("treasury"):
            raise PermissionDenied("Kontoauszüge liest nur die Stadtkasse ein.")
        upload = request.FILES.get("datei")
        error = None
        if upload is None:
            error = _("Bitte eine camt.053-Datei auswählen.")
        elif upload.size > settings.RATHAUS_MAX_STATEMENT_BYTES:
            error = _("Die Datei ist zu groß.")
        else:
            try:
                with upload.open("rb") as fh:
                    res = import_bank_statement(membership.tenant, fh, actor=request.user.get_username(),
                                                filename=upload.name)
                messages.success(request, _(
                    "Kontoauszug eingelesen. Umsätze: %(entries)s, davon zugeordnet: %(matched)s, "
                    "Klärfälle: %(unmatched)s, bereits eingelesen: %(duplicates)s, "
                    "vorgemerkt (nicht gebucht): %(skipped)s.") % {
                    "entries": res.entries, "matched": res.matched, "unmatched": res.unmatched,
                    "duplicates": res.duplicates, "skipped": res.skipped})
                return redirect(reverse("finance:statements"))
            except (Invalid, Conflict, NotFound) as e:
                error = e.detail
        messages.error(request, error)
        status = 422
    else:
        status = 200
    qs = BankStatement.objects.filter(tenant=membership.tenant).select_related("bank_account").order_by("-imported_at")
    page = Paginator(qs, PAGE_SIZE).get_page(request.GET.get("seite"))
    return render(request, "finance/statements.html", {
        "page": page, "may_write": membership.has_role("treasury"),
        "max_mb": settings.RATHAUS_MAX_STATEMENT_BYTES // (1024 * 1024),
    }, status=status)


@treasury_view()
def payments(request, membership):
    """Verbindlichkeiten and Zahlungsläufe: create a SEPA credit transfer file for the due payables."""
    tenant = membership.tenant
    today = timezone.localdate()
    status = 200
    execution_date = today
    if request.method == "POST":
        if not membership.has_role("treasury"):
            raise PermissionDenied("Zahlungsläufe erstellt nur die Stadtkasse.")
        try:
            raw = request.POST.get("ausfuehrung") or today.isoformat()
            try:
                execution_date = dt.date.fromisoformat(raw)
            except ValueError as e:
                raise Invalid(_("Ausführungsdatum im Format JJJJ-MM-TT angeben.")) from e
            run = create_payment_run(tenant, execution_date=execution_date, actor=request.user.get_username())
            messages.success(request, _("Zahlungslauf %(number)s erstellt: %(count)s Überweisungen, "
                                        "%(total)s. Die Datei liegt zum Abruf bereit.") % {
                "number": run.number, "count": run.count, "total": format_eur(run.total)})
            return redirect(reverse("finance:payments"))
        except (Invalid, Conflict) as e:
            messages.error(request, e.detail)
            status = 422
    due = [{"p": p, "pay": amount_to_pay(p, execution_date)} for p in due_payables(tenant, execution_date)]
    open_later = Payable.objects.filter(tenant=tenant, status=PayableStatus.OPEN).exclude(creditor_iban="").exclude(
        pk__in=[d["p"].pk for d in due]).order_by("due_date")[:200]
    no_account = Payable.objects.filter(tenant=tenant, status=PayableStatus.OPEN, creditor_iban="").order_by(
        "due_date")[:200]
    runs = PaymentRun.objects.filter(tenant=tenant).order_by("-created_at")[:50]
    scheduled = Payable.objects.filter(tenant=tenant, status=PayableStatus.SCHEDULED).select_related(
        "payment_run").order_by("due_date")[:200]
    return render(request, "finance/payments.html", {
        "due": due, "open_later": open_later, "no_account": no_account, "runs": runs, "scheduled": scheduled,
        "execution_date": execution_date, "may_write": membership.has_role("treasury"),
        "demo": getattr(settings, "RATHAUS_SHOW_DEMO_LOGINS", False),
    }, status=status)


@treasury_view()
def payment_run_file(request, membership, run_id: int):
    try:
        run = get_payment_run(membership.tenant, run_id)
    except NotFound as e:
        raise Http404(str(e)) from e
    return document_response(run.document, inline=False)
