"""Haushalt (Kämmerei) web pages: overview, Summen- und Saldenliste, Ergebnisrechnung, Finanzrechnung,
Journal and posting periods. Server-rendered, no JavaScript; only members with role `accounting` or
`admin` (others get the 403 page)."""

from __future__ import annotations

from functools import wraps
from urllib.parse import urlencode

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import Exists, OuterRef
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.dates import MONTHS as MONTH_NAMES
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_safe

from rathaus.core.errors import DomainError
from rathaus.core.web import clean_key, staff_view

from . import reports, services
from .api import entries_qs
from .models import Account, FiscalPeriod, JournalLine

ROLES = {"accounting", "admin"}
MONTHS = [MONTH_NAMES[i] for i in range(1, 13)]  # Django's month names, translated (German by default)
PAGE_SIZE = 25


def accounting_view(view):
    """Staff login and a membership with role accounting or admin (else the 403 page)."""

    @staff_view
    @wraps(view)
    def wrapper(request, membership, *args, **kwargs):
        if not ROLES & set(membership.roles):
            raise PermissionDenied("Das Haushaltswesen ist der Kämmerei vorbehalten.")
        return view(request, membership, *args, **kwargs)

    return wrapper


def _year(request) -> int:
    raw = request.GET.get("jahr") or request.POST.get("jahr") or ""
    try:
        year = int(raw)
    except ValueError:
        return timezone.localdate().year
    return year if 2000 <= year <= 2200 else timezone.localdate().year


def _years(tenant, year: int) -> list[int]:
    now = timezone.localdate().year
    return sorted(set(reports.journal_years(tenant)) | {now, now - 1, year}, reverse=True)


def _ctx(request, membership, year: int, **extra) -> dict:
    return {"year": year, "years": _years(membership.tenant, year), "tenant": membership.tenant, **extra}


@require_safe  # GET and HEAD
@accounting_view
def overview(request, membership):
    year = _year(request)
    tb = reports.trial_balance(membership.tenant, year)
    er = reports.results(membership.tenant, year)
    fr = reports.cash(membership.tenant, year)
    entries = JournalLine.objects.filter(tenant=membership.tenant, year=year).values("entry_id").distinct().count()
    return render(request, "ledger/overview.html", _ctx(
        request, membership, year, tb=tb, er=er, fr=fr, entries=entries))


@require_safe  # GET and HEAD
@accounting_view
def trial_balance(request, membership):
    year = _year(request)
    return render(request, "ledger/trial_balance.html",
                  _ctx(request, membership, year, tb=reports.trial_balance(membership.tenant, year)))


@require_safe  # GET and HEAD
@accounting_view
def results(request, membership):
    year = _year(request)
    return render(request, "ledger/results.html",
                  _ctx(request, membership, year, er=reports.results(membership.tenant, year)))


@require_safe  # GET and HEAD
@accounting_view
def cash(request, membership):
    year = _year(request)
    return render(request, "ledger/cash.html",
                  _ctx(request, membership, year, fr=reports.cash(membership.tenant, year)))


@require_safe  # GET and HEAD
@accounting_view
def journal(request, membership):
    year = _year(request)
    account = clean_key((request.GET.get("konto") or "").strip()[:12]) or ""
    qs = entries_qs(membership.tenant_id).filter(year=year)
    if account:
        qs = qs.filter(Exists(JournalLine.objects.filter(entry=OuterRef("pk"), account__number=account)))
    page = Paginator(qs.order_by("-number"), PAGE_SIZE).get_page(request.GET.get("seite"))
    accounts = Account.objects.filter(tenant=membership.tenant, lines__year=year).distinct().order_by("number")
    params = {k: v for k, v in {"jahr": str(year), "konto": account}.items() if v}
    return render(request, "ledger/journal.html", _ctx(
        request, membership, year, page=page, entries=page.object_list, accounts=accounts,
        filter_account=account, query=urlencode(params)))


@require_http_methods(["GET", "HEAD", "POST"])
@accounting_view
def periods(request, membership):
    year = _year(request)
    if request.method == "POST":
        return _set_period(request, membership, year)
    rows = {p.month: p for p in FiscalPeriod.objects.filter(tenant=membership.tenant, year=year)}
    year_row = rows.get(0)
    year_closed = bool(year_row and year_row.closed)
    months = [{"month": i, "name": MONTHS[i - 1], "period": rows.get(i),
               "closed": year_closed or bool(rows.get(i) and rows[i].closed),
               "own_closed": bool(rows.get(i) and rows[i].closed)} for i in range(1, 13)]
    return render(request, "ledger/periods.html", _ctx(
        request, membership, year, months=months, year_closed=year_closed, year_row=year_row))


def _set_period(request, membership, year: int):
    try:
        month = int(request.POST.get("monat", ""))
    except ValueError:
        month = -1
    action = request.POST.get("aktion")
    if action not in ("schliessen", "oeffnen") or not 0 <= month <= 12:
        messages.error(request, _("Ungültige Angabe zur Buchungsperiode."))
    else:
        closed = action == "schliessen"
        try:
            services.set_period_closed(membership.tenant, year, month, closed=closed,
                                       actor=request.user.get_username())
        except DomainError as e:
            messages.error(request, e.detail)
        else:
            if month == 0:
                text = (_("Das Haushaltsjahr %(year)s ist jetzt geschlossen.") if closed
                        else _("Das Haushaltsjahr %(year)s ist jetzt wieder geöffnet."))
            else:
                text = (_("Der Monat %(month)s %(year)s ist jetzt geschlossen.") if closed
                        else _("Der Monat %(month)s %(year)s ist jetzt wieder geöffnet."))
            messages.success(request, text % {"year": year, "month": MONTHS[month - 1] if month else ""})
    return redirect(reverse("ledger:periods") + f"?jahr={year}")

